"""District outreach: what the exchange saw happen to elderly people living alone (the district officers' list),
the at-door courier risks it raised, and the officers' outreach tasks."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

# One row per thing that put a person on their district's list: a flagged call, a held transfer, an incident,
# a courier risk. ``person`` is the bank's customer id (else the account): one entry per person on the list.
district_signals = Table(
    "district_signals",
    metadata,
    Column("signal_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("district", String(64), nullable=False),
    Column("person", String(64), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("reason", String(24), nullable=False),  # flagged_call / held_transfer / incident / courier_risk
    Column("at", UtcDateTime(), nullable=False),  # when it happened (event time)
    Column("detail", Text, nullable=False, server_default=""),  # the caller, the transfer, the incident
    Column("recorded_at", UtcDateTime(), nullable=False),
)
Index("ix_district_signals_district_at", district_signals.c.district, district_signals.c.at)

outreach_tasks = Table(
    "outreach_tasks",
    metadata,
    Column("task_id", String(32), primary_key=True),
    Column("district", String(64), nullable=False, index=True),
    Column("person", String(64), nullable=False),
    Column("kind", String(24), nullable=False),  # visit / advise / call_blocking
    Column("note", Text, nullable=False, server_default=""),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(64), nullable=False),  # desk login
    Column("outcome", String(24), nullable=True),
    Column("outcome_note", Text, nullable=False, server_default=""),
    Column("done_at", UtcDateTime(), nullable=True),
    Column("done_by", String(64), nullable=True),
)
