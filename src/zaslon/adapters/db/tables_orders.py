"""Freeze orders, their audit trail, and cash-out alerts on traced accounts."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

freeze_orders = Table(
    "freeze_orders",
    metadata,
    # Derived from incident + bank + account, so a re-trace can never insert the same order twice.
    Column("order_id", String(32), primary_key=True),
    Column("incident_id", String(64), nullable=False, index=True),
    Column("bank_id", String(11), nullable=False),  # the BIC the order is addressed to
    Column("account_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("legal_reference", Text, nullable=False),
    Column("status", String(24), nullable=False),
    Column("order_type", String(24), nullable=False, server_default="freeze"),
    Column("frozen_amount", BigInteger, nullable=False, server_default="0"),
    Column("returned_amount", BigInteger, nullable=False, server_default="0"),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("deadline", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
Index("ix_freeze_orders_bank_status", freeze_orders.c.bank_id, freeze_orders.c.status)

order_events = Table(
    "order_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(32), ForeignKey("freeze_orders.order_id"), nullable=False, index=True),
    Column("status", String(24), nullable=False),  # what happened: issued, frozen (or a top-up), returned ...
    Column("amount", BigInteger, nullable=True),
    Column("by_org", String(64), nullable=True),  # null: the exchange itself (issue, expiry, webhook)
    Column("detail", Text, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
)
# The statistics find each order's first acknowledgement and freeze.
Index("ix_order_events_order_status_at", order_events.c.order_id, order_events.c.status, order_events.c.at)

cashout_alerts = Table(
    "cashout_alerts",
    metadata,
    Column("transfer_id", String(64), primary_key=True),  # one alert per outgoing transfer
    Column("account_id", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # cash_out / abroad / crypto
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("ts", UtcDateTime(), nullable=False),
    Column("atm_id", String(64), nullable=True),
    Column("payee", String(64), nullable=True),
    Column("payee_bank", String(11), nullable=True),
    Column("country", String(2), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    # What the exchange answered (hold, block: an attempt) or "executed" (a bank reported it done), and the
    # order and case behind the account, so the desk can send a patrol to the ATM with the case at hand.
    Column("outcome", String(16), nullable=True),
    Column("order_id", String(32), nullable=True),
    Column("case_id", String(64), nullable=True),
    Column("atm_lat", Float, nullable=True),
    Column("atm_lon", Float, nullable=True),
    Column("atm_city", String(64), nullable=True),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    # One row per order notification to a bank's webhook; retried with backoff until delivered or given up.
    Column("delivery_id", Integer, primary_key=True, autoincrement=True),
    Column("bank_id", String(11), nullable=False, index=True),
    Column("order_id", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", UtcDateTime(), nullable=False),
    Column("state", String(12), nullable=False),  # pending / delivered / failed
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)
Index("ix_webhook_deliveries_due", webhook_deliveries.c.state, webhook_deliveries.c.next_at)
