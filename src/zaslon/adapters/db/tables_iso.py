"""What ISO 20022 recalls and returns must quote: the banks' payment ids and each order's original payments."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, ForeignKey, String, Table

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

# The ids a pacs.008 carried for each transaction: a bank finds a payment by them, never by ours.
payment_refs = Table(
    "payment_refs",
    metadata,
    Column("transfer_id", String(64), primary_key=True),
    Column("org_id", String(64), primary_key=True),  # the submitting bank
    Column("msg_id", String(35), nullable=True),
    Column("instr_id", String(35), nullable=True),
    Column("end_to_end_id", String(35), nullable=False),
    Column("tx_id", String(35), nullable=True),
    Column("uetr", String(36), nullable=True),
    Column("settlement_date", Date, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Per order: the payment into the account under it (role "recalled") and the victim's own (role "victim"),
# copied when the order is issued so the recall and the return never depend on what is read later.
order_payments = Table(
    "order_payments",
    metadata,
    Column("order_id", String(32), ForeignKey("freeze_orders.order_id"), primary_key=True),
    Column("role", String(8), primary_key=True),
    Column("transfer_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("ts", UtcDateTime(), nullable=False),
    Column("payer", String(64), nullable=False),
    Column("payee", String(64), nullable=False),
    Column("payer_bank", String(11), nullable=True),
    Column("payee_bank", String(11), nullable=True),
    Column("end_to_end_id", String(64), nullable=False),
    Column("tx_id", String(64), nullable=True),
    Column("uetr", String(36), nullable=True),
    Column("instr_id", String(35), nullable=True),
    Column("msg_id", String(35), nullable=True),
    Column("settlement_date", Date, nullable=False),
)
