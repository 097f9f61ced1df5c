"""Organisations, their API keys, and the transfers banks submit.

A transfer id is the submitting organisation's own: two banks may use the same one, so a transfer is keyed by
``(transfer_id, org_id)`` (in that order, so a look-up by id alone still uses the primary key's index).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

orgs = Table(
    "orgs",
    metadata,
    Column("org_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # bank / telecom / police / partner
    Column("bank_id", String(11), nullable=True),  # a bank's BIC: orders and signals for it are addressed here
    Column("country", String(2), nullable=False, server_default="BY"),
    Column("webhook_url", Text, nullable=True),
    Column("webhook_secret", Text, nullable=True),  # HMAC key the exchange signs this bank's webhooks with
    Column("created_at", UtcDateTime(), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("org_id", String(64), ForeignKey("orgs.org_id"), nullable=False, index=True),
    Column("secret_hash", Text, nullable=False),  # argon2id; the clear key is shown once and never stored
    Column("scopes", Text, nullable=False),  # space-separated
    Column("person", String(200), nullable=True),  # the person the key was issued to: named in the audit log
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
)

transfers = Table(
    "transfers",
    metadata,
    Column("transfer_id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("orgs.org_id"), primary_key=True),  # the submitting organisation
    Column("ts", UtcDateTime(), nullable=False),
    Column("payer", String(64), nullable=False),
    Column("payee", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("device", String(128), nullable=True),
    Column("ip", String(45), nullable=True),
    Column("payer_bank", String(11), nullable=True),
    Column("payee_bank", String(11), nullable=True),
    Column("payee_country", String(2), nullable=True),
    Column("atm_id", String(64), nullable=True),
    Column("atm_lat", String(32), nullable=True),
    Column("atm_lon", String(32), nullable=True),
    Column("atm_city", String(100), nullable=True),
    Column("body_hash", String(64), nullable=False),  # sha256 of the canonical body: replay vs conflict
    Column("received_at", UtcDateTime(), nullable=False),
)
Index("ix_transfers_payer_ts", transfers.c.payer, transfers.c.ts)
Index("ix_transfers_payee_ts", transfers.c.payee, transfers.c.ts)
Index("ix_transfers_ts", transfers.c.ts, transfers.c.transfer_id)
