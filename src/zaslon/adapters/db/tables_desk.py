"""The police desk: its people, their sessions, what they did (audit), and the incident queue's working state."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

desk_users = Table(
    "desk_users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("org_id", String(64), ForeignKey("orgs.org_id"), nullable=False, index=True),
    Column("role", String(24), nullable=False),  # analyst / supervisor / district_officer / admin
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UtcDateTime(), nullable=True),
    Column("disabled_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("district", String(64), nullable=True),  # a district officer's district (0012)
)

# A session is found by the sha256 of its cookie's token: a stolen database holds no usable session.
desk_sessions = Table(
    "desk_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("desk_users.user_id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("language", String(2), nullable=False, server_default="ru"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
)

desk_audit = Table(
    "desk_audit",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("actor", String(64), nullable=True),  # the desk user; null: someone who did not sign in
    Column("org_id", String(64), nullable=True),
    Column("action", String(48), nullable=False),
    Column("target", String(128), nullable=True),
    Column("detail", Text, nullable=True),
)

# One row per incident once the desk has seen it: who works it, until when it sleeps, how it was closed.
desk_queue = Table(
    "desk_queue",
    metadata,
    Column("incident_id", String(64), ForeignKey("incidents.incident_id"), primary_key=True),
    Column("priority", Integer, nullable=False),  # higher first
    Column("reported_at", UtcDateTime(), nullable=False),
    Column("assigned_to", String(64), ForeignKey("desk_users.user_id"), nullable=True),
    Column("assigned_at", UtcDateTime(), nullable=True),
    Column("snoozed_until", UtcDateTime(), nullable=True),
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("close_reason", String(24), nullable=True),  # confirmed_fraud / false_report / duplicate
    Column("closed_by", String(64), nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
)
Index("ix_desk_queue_open", desk_queue.c.closed_at, desk_queue.c.assigned_to, desk_queue.c.priority,
      desk_queue.c.reported_at)

# The statistics count courier steps (``courier.detained``, ``courier.patrol``) in a period.
Index("ix_desk_audit_action_at", desk_audit.c.action, desk_audit.c.at)

DESK_TABLES = (desk_users, desk_sessions, desk_audit, desk_queue)
