"""Zaslon: an open-source national anti-fraud exchange."""

__version__ = "0.1.0"
