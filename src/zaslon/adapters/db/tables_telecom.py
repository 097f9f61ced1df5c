"""Telecom signals: operators' number ranges, call events, the block list's change log and number appeals.

``block_list_changes`` is append-only: each row lists or de-lists one number, and its ``seq`` is the cursor
operators page with (``GET /v1/telecom/block-list?since=``). A number's state is its latest row.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

number_ranges = Table(
    "telecom_number_ranges",
    metadata,
    Column("prefix", String(20), primary_key=True),  # E.164 prefix: "+37529", or a whole (ported) number
    Column("org_id", String(64), ForeignKey("orgs.org_id"), nullable=False, index=True),
    Column("added_at", UtcDateTime(), nullable=False),
)

call_events = Table(
    "telecom_call_events",
    metadata,
    Column("org_id", String(64), ForeignKey("orgs.org_id"), primary_key=True),
    Column("call_id", String(64), primary_key=True),
    Column("event", String(8), primary_key=True),  # start / end
    Column("ts", UtcDateTime(), nullable=False),
    Column("caller", String(20), nullable=False),
    Column("callee", String(20), nullable=False),
    Column("callee_party", String(64), nullable=True),
    Column("duration_s", Integer, nullable=True),  # on the end event
    Column("caller_verified", Boolean, nullable=True),  # Number Verification; false: spoofed
    Column("caller_in_registry", Boolean, nullable=False),
    Column("forwarding_active", Boolean, nullable=True),  # Call Forwarding Signal on the callee's line
    Column("latest_sim_change", UtcDateTime(), nullable=True),  # SIM Swap of the callee's line
    Column("body_hash", String(64), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)
Index("ix_telecom_call_events_callee_ts", call_events.c.callee, call_events.c.ts)

block_list_changes = Table(
    "block_list_changes",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("phone", String(20), nullable=False, index=True),
    Column("action", String(8), nullable=False),  # added / removed
    Column("reason", String(32), nullable=False),  # police / corroborated / appeal_upheld
    Column("at", UtcDateTime(), nullable=False),
)

number_appeals = Table(
    "number_appeals",
    metadata,
    Column("appeal_id", String(64), primary_key=True),
    Column("phone", String(20), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("contact", String(200), nullable=False),
    Column("filed_by", String(64), ForeignKey("orgs.org_id"), nullable=False),
    Column("filed_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # pending / upheld / rejected
    Column("decided_by", String(64), ForeignKey("orgs.org_id"), nullable=True),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("decision_note", Text, nullable=True),
)

TELECOM_TABLES = (number_ranges, call_events, block_list_changes, number_appeals)
