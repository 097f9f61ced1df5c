"""Cases: incidents linked into cases, the history of every merge and split, and the link log.

``case_link_log`` is the source of truth for the linker: replaying it (incidents with their keys, analysts'
merges and splits, in order) rebuilds the in-memory union-find exactly. ``cases`` and ``case_incidents`` are
its materialised view, with a ``version`` per case for optimistic concurrency.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(32), primary_key=True),  # "case-<n>", n the linker's case number
    Column("status", String(16), nullable=False),  # open / confirmed / closed / merged
    Column("version", Integer, nullable=False),  # bumped on every change; a stale version gets 409
    Column("merged_into", String(32), nullable=True),
    Column("title", String(200), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("confirmed_by", String(64), nullable=True),
)

case_incidents = Table(
    "case_incidents",
    metadata,
    Column("incident_id", String(64), primary_key=True),  # an incident is in exactly one case
    Column("case_id", String(32), nullable=False, index=True),
    Column("added_at", UtcDateTime(), nullable=False),
)

case_events = Table(
    "case_events",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("case_id", String(32), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # create / join / merge / split / manual_merge / manual_split / confirm
    Column("other_case_id", String(32), nullable=True),
    Column("incident_id", String(64), nullable=True),
    Column("reason", Text, nullable=False),  # the shared identifier, the hub, or the analyst's words
    Column("actor", String(64), nullable=True),  # null: the linker; else the analyst's organisation
    Column("at", UtcDateTime(), nullable=False),
)

case_link_log = Table(
    "case_link_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("op", String(8), nullable=False),  # add / split / merge
    Column("payload", Text, nullable=False),  # JSON: {incident, keys} / {incidents} / {cases}
    Column("at", UtcDateTime(), nullable=False),
)
Index("ix_case_events_incident", case_events.c.incident_id)


suspected_drops = Table(
    "suspected_drops",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("bank_id", String(11), nullable=True, index=True),  # a bank sees only rows with its own BIC
    Column("score", Float, nullable=False),
    Column("rank", Integer, nullable=False),
    Column("reasons", Text, nullable=False),  # JSON list of {code, detail, weight}
    Column("ranked_at", UtcDateTime(), nullable=False),
)

CASE_TABLES = (cases, case_incidents, case_events, case_link_log, suspected_drops)
