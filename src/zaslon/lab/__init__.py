"""Measurement only: the demo's simulated banks, baselines, outcome scoring, benchmarks, evaluations and the
load generator. They drive the same ``Exchange`` the API serves, as its clients would. No production module
imports this package (import-linter enforces it); only the CLI registers its commands."""
