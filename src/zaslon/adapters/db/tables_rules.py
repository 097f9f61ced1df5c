"""Rule-set versions, which one is live and which is in shadow, and the audit trail of changes.

A version is a draft (editable) until it is published; a published version never changes (its rules and
their hash are fixed). ``rule_slots`` holds at most one row per slot ("live", "shadow"): the primary key
is what makes "exactly one live version" true in the database and not just in code. Every change of a
slot bumps ``generation``, which running engines poll to swap rules without a restart.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

rule_sets = Table(
    "rule_sets",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("status", String(16), nullable=False),  # draft / published
    Column("description", Text, nullable=False, server_default=""),
    Column("rules_json", Text, nullable=False),  # canonical JSON list of rule objects
    Column("content_hash", String(64), nullable=False),  # sha256 of rules_json
    Column("parent_version", String(64), nullable=True),  # the version a draft was copied from
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(64), nullable=False),  # org id, or "cli"
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime(), nullable=True),
    Column("published_by", String(64), nullable=True),
)

rule_slots = Table(
    "rule_slots",
    metadata,
    Column("slot", String(16), primary_key=True),  # live / shadow
    Column("version", String(64), ForeignKey("rule_sets.version"), nullable=False),
    Column("generation", BigInteger, nullable=False),  # increases on every change of any slot
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("changed_by", String(64), nullable=False),
)

rule_events = Table(
    "rule_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # draft / update / publish / activate / shadow / unshadow
    Column("version", String(64), nullable=True),
    Column("detail", Text, nullable=False, server_default=""),
)
