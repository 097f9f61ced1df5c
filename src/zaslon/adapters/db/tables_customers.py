"""Customer profiles banks register with their customer's consent: what scoring knows of an account's owner."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, String, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

customers = Table(
    "customers",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("bank_id", String(11), nullable=False, index=True),  # the registering bank: only it may change it
    Column("org_id", String(64), nullable=False),
    Column("customer_id", String(64), nullable=True),  # the bank's own id of the owner: links their accounts
    Column("kind", String(16), nullable=True),  # personal / business / merchant / crypto_exchange
    Column("opened_at", UtcDateTime(), nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("lives_alone", Boolean, nullable=False, server_default="0"),
    Column("phones", Text, nullable=False, server_default=""),  # E.164 numbers, space-separated
    # The account's cards as keyed hashes (the exchange's pepper; never the number): a report naming a card
    # number finds the account.
    Column("card_hashes", Text, nullable=False, server_default=""),
    # Where the customer lives, as the bank holds it: the district officer of that district sees them (0012).
    Column("region", String(64), nullable=True),
    Column("district", String(64), nullable=True, index=True),
    Column("address", Text, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)
