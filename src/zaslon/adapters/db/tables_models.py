"""Fraud-model versions: each trained model stored with its metrics and cut-off, one promoted live.

A model is immutable once stored (its id is a hash of its training data and parameters). ``model_slots``
holds the live one (at most one row, "live"); every promotion or rollback bumps ``generation``, which
running engines poll to swap models without a restart, and is recorded in ``model_events`` (who, when,
from which version to which), which is also what a rollback reads to find the version before.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

models = Table(
    "models",
    metadata,
    Column("model_id", String(64), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("cutoff", UtcDateTime(), nullable=False),
    Column("source", String(16), nullable=False),  # store / log / files: where the training rows came from
    Column("metrics", Text, nullable=False),  # JSON: rows, positives, AUC on a time-ordered holdout, ...
    Column("meta", Text, nullable=False),  # JSON: parameters, features
    Column("booster", Text, nullable=False),  # LightGBM's text model
)

model_slots = Table(
    "model_slots",
    metadata,
    Column("slot", String(16), primary_key=True),  # live
    Column("model_id", String(64), ForeignKey("models.model_id"), nullable=False),
    Column("generation", BigInteger, nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("changed_by", String(64), nullable=False),
)

model_events = Table(
    "model_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # store / promote / rollback
    Column("model_id", String(64), nullable=True),  # the version stored, or live after the change
    Column("previous", String(64), nullable=True),  # live before the change
)
