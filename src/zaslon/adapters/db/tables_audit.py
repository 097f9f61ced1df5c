"""The audit log of people: who (API key, person, organisation) changed what, hash-chained against tampering."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("org_id", String(64), nullable=True),  # null: the exchange itself or an operator at the CLI
    Column("actor", String(64), nullable=False),  # "key:<key id>", "cli:<os user>" or "system"
    Column("person", String(200), nullable=True),  # the person the key was issued to, when it names one
    Column("action", String(120), nullable=False),
    Column("subject", String(200), nullable=True),
    Column("detail", Text, nullable=False),  # canonical JSON
    # Each entry holds the hash of the one before; UNIQUE makes two writers racing for the same place fail
    # (one retries) instead of forking the chain.
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False),
)
