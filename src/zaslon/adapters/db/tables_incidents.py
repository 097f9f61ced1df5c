"""Incidents and their indicators, telecom fraud numbers and calls, and appeals against listings.

Card numbers never reach these tables: an indicator of kind ``card`` holds an HMAC and a mask, and the
incident text is stored with every card masked.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", String(64), primary_key=True),
    Column("reporter_org", String(64), ForeignKey("orgs.org_id"), nullable=False, index=True),
    Column("reporter_kind", String(16), nullable=False),
    Column("scheme", String(32), nullable=False),
    Column("victim_party", String(64), nullable=True, index=True),
    Column("victim_name", String(200), nullable=True),
    Column("victim_phone", String(20), nullable=True),  # E.164
    Column("victim_age", Integer, nullable=True),
    Column("victim_lives_alone", Boolean, nullable=True),
    Column("text", Text, nullable=False, server_default=""),  # cards masked
    Column("language", String(2), nullable=True),
    Column("reported_at", UtcDateTime(), nullable=False, index=True),
    Column("received_at", UtcDateTime(), nullable=False),
    # sha256 of victim + sorted disputed transfers: the same victim disputing the same transfers again is
    # the same incident. NULL when there is no victim or no transfer (NULLs never collide).
    Column("dedup_key", String(64), nullable=True, unique=True),
    # Where the victim lives, as the report or the victim's bank told it (statistics by region and district).
    Column("victim_region", String(64), nullable=True),
    Column("victim_district", String(64), nullable=True),
)

# Every accepted report, the first and each repeat, so a repeat is linked and never double-counted.
incident_reports = Table(
    "incident_reports",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("incident_id", String(64), ForeignKey("incidents.incident_id"), nullable=False, index=True),
    Column("reporter_org", String(64), ForeignKey("orgs.org_id"), nullable=False),
    Column("external_ref", String(128), nullable=True),
    Column("body_hash", String(64), nullable=False),
    Column("duplicate", Boolean, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    UniqueConstraint("reporter_org", "external_ref", name="uq_incident_reports_reporter_ref"),
)

indicators = Table(
    "indicators",
    metadata,
    Column("indicator_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("value", String(512), nullable=False),  # normalised; a card's is its HMAC
    Column("display", String(64), nullable=True),  # a card's mask
    Column("first_seen_at", UtcDateTime(), nullable=False),
    UniqueConstraint("kind", "value", name="uq_indicators_kind_value"),
)

incident_indicators = Table(
    "incident_indicators",
    metadata,
    Column("incident_id", String(64), ForeignKey("incidents.incident_id"), primary_key=True),
    Column("indicator_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("indicators.indicator_id"),
           primary_key=True),
)
Index("ix_incident_indicators_indicator", incident_indicators.c.indicator_id)

# A disputed transfer is named by its id and the organisation that submitted it (ids are that organisation's own).
incident_transfers = Table(
    "incident_transfers",
    metadata,
    Column("incident_id", String(64), ForeignKey("incidents.incident_id"), primary_key=True),
    Column("transfer_id", String(64), primary_key=True),
    Column("transfer_org", String(64), primary_key=True),
    ForeignKeyConstraint(["transfer_id", "transfer_org"], ["transfers.transfer_id", "transfers.org_id"],
                         name="fk_incident_transfers_transfer_transfers"),
)
Index("ix_incident_transfers_transfer", incident_transfers.c.transfer_id, incident_transfers.c.transfer_org)

fraud_numbers = Table(
    "fraud_numbers",
    metadata,
    Column("phone", String(20), primary_key=True),  # E.164
    Column("reporter_org", String(64), ForeignKey("orgs.org_id"), primary_key=True),
    Column("source", String(16), nullable=False),  # telecom / incident
    Column("note", Text, nullable=True),
    Column("reported_at", UtcDateTime(), nullable=False),
)

telecom_calls = Table(
    "telecom_calls",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("orgs.org_id"), nullable=False),
    Column("ts", UtcDateTime(), nullable=False),
    Column("caller", String(20), nullable=False),
    Column("callee", String(20), nullable=False),
    Column("callee_party", String(64), nullable=True),
    Column("duration_s", Integer, nullable=True),
    Column("body_hash", String(64), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)
Index("ix_telecom_calls_callee_ts", telecom_calls.c.callee, telecom_calls.c.ts)

appeals = Table(
    "appeals",
    metadata,
    Column("appeal_id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("contact", String(200), nullable=False),
    Column("filed_by", String(64), ForeignKey("orgs.org_id"), nullable=False),
    Column("filed_at", UtcDateTime(), nullable=False),
    Column("flags_at_filing", Integer, nullable=False),  # AccountFlag bits when the appeal came in
    Column("status", String(16), nullable=False),  # pending / upheld / rejected
    Column("decided_by", String(64), ForeignKey("orgs.org_id"), nullable=True),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("decision_note", Text, nullable=True),
    Column("previous_flags", Integer, nullable=True),  # AccountFlag bits removed by an upheld appeal
)

# Incidents registered before the exchange ran (a register's past years, or a simulated one): counted by the
# statistics only. They name no transfer and no indicator, so they never reach the desk queue, tracing,
# linking or scoring. ``label`` says where they came from ("simulated" for the simulator's history).
incident_history = Table(
    "incident_history",
    metadata,
    Column("history_id", String(64), primary_key=True),
    Column("scheme", String(32), nullable=False),
    Column("reported_at", UtcDateTime(), nullable=False),
    Column("victim_region", String(64), nullable=True),
    Column("victim_district", String(64), nullable=True),
    Column("victim_age", Integer, nullable=True),
    Column("victim_lives_alone", Boolean, nullable=True),
    Column("stolen", BigInteger, nullable=True),  # BYN minor units the victim reported lost
    Column("label", String(16), nullable=False),
    Column("imported_by", String(64), ForeignKey("orgs.org_id"), nullable=False),
    Column("imported_at", UtcDateTime(), nullable=False),
)
# Covering the statistics' GROUP BYs: a period's counts read the index alone, never the table.
Index("ix_incident_history_reported_at", incident_history.c.reported_at, incident_history.c.label,
      incident_history.c.scheme, incident_history.c.victim_region, incident_history.c.victim_district,
      incident_history.c.victim_age, incident_history.c.victim_lives_alone, incident_history.c.stolen)
Index("ix_incidents_region_reported", incidents.c.victim_region, incidents.c.reported_at)

INCIDENT_TABLES = (
    incidents, incident_history, incident_reports, indicators, incident_indicators, incident_transfers,
    fraud_numbers, telecom_calls, appeals,
)
