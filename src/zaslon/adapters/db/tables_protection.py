"""Protection profiles (a trusted person confirms chosen operations) and the confirmations asked of them."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, String, Table, Text, UniqueConstraint

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

protection_profiles = Table(
    "protection_profiles",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("bank_id", String(11), nullable=False, index=True),  # the registering bank: only it reads or changes it
    Column("org_id", String(64), nullable=False),
    Column("customer_id", String(64), nullable=True),
    Column("age_band", String(16), nullable=False),
    Column("birth_date", Date, nullable=True),
    Column("lives_alone", Boolean, nullable=False, server_default="0"),
    Column("phones", Text, nullable=False, server_default=""),  # E.164, space-separated
    # The trusted person in force (all null: none).
    Column("trusted_name", String(200), nullable=True),
    Column("trusted_phone", String(32), nullable=True),
    Column("trusted_relation", String(64), nullable=True),
    Column("trusted_customer_id", String(64), nullable=True),
    # A removal or replacement waiting out its cooling-off (next_* all null with change_pending: a removal).
    Column("change_pending", Boolean, nullable=False, server_default="0"),
    Column("next_name", String(200), nullable=True),
    Column("next_phone", String(32), nullable=True),
    Column("next_relation", String(64), nullable=True),
    Column("next_customer_id", String(64), nullable=True),
    Column("change_at", UtcDateTime(), nullable=True),
    # Which operations need the trusted person.
    Column("confirm_new_payee", Boolean, nullable=False, server_default="0"),
    Column("confirm_amount_above", BigInteger, nullable=True),
    Column("confirm_currency", String(3), nullable=False, server_default="BYN"),
    Column("confirm_cash_withdrawal", Boolean, nullable=False, server_default="0"),
    Column("confirm_during_call", Boolean, nullable=False, server_default="0"),
    Column("consent_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

trusted_confirmations = Table(
    "trusted_confirmations",
    metadata,
    # One per held transfer: asked of the trusted person through the bank, answered once (or expired).
    Column("confirmation_id", String(32), primary_key=True),
    Column("org_id", String(64), nullable=False),  # the transfer's submitter (ids are each submitter's own)
    Column("transfer_id", String(64), nullable=False),
    Column("bank_id", String(11), nullable=False),  # the bank whose protection profile matched
    Column("account_id", String(64), nullable=False),
    Column("payee", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("transfer_ts", UtcDateTime(), nullable=False),
    Column("triggers", Text, nullable=False),  # space-separated: new_payee amount_above cash_withdrawal during_call
    Column("trusted_name", String(200), nullable=False),
    Column("trusted_phone", String(32), nullable=False),
    Column("trusted_relation", String(64), nullable=True),
    Column("deadline", UtcDateTime(), nullable=False),
    Column("status", String(12), nullable=False),  # pending / confirmed / declined / expired
    Column("answered_at", UtcDateTime(), nullable=True),
    Column("answered_by", String(200), nullable=True),  # the relaying organisation (and key / person), or "exchange"
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("org_id", "transfer_id", name="uq_trusted_confirmations_org_transfer"),
)
Index("ix_trusted_confirmations_due", trusted_confirmations.c.status, trusted_confirmations.c.deadline)
