"""Customer profiles: what a bank tells the exchange about its customers, with their consent.

A profile carries the owner's birth date and whether they live alone (scoring takes extra care of the elderly
living alone), the account's kind (a merchant or company that many people pay is not listed on one report's
word, ``core.corroborate``), when it was opened, and the customer's phone numbers (a call to one of them from a
flagged number marks the customer's transfers as made "on a call"). The first bank to register an account owns
its profile; another bank changing it is refused, and nothing of the batch is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from stdnum import luhn

from zaslon.adapters.db.stores.customers import SqlCustomerStore
from zaslon.core.banks import held_at
from zaslon.core.indicators import card_hash, normalise_phone
from zaslon.core.types import require_utc
from zaslon.errors import Forbidden, InvalidInput
from zaslon.flow.orgs import Principal
from zaslon.flow.ports.customers import Customer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from zaslon.flow.ports.customers import CustomerStore

__all__ = ["KINDS", "MAX_BATCH", "Customer", "load_customers", "normalise", "store_customers"]

KINDS = frozenset({"personal", "business", "merchant", "crypto_exchange"})
MAX_BATCH = 10_000


def normalise(batch: Sequence[Customer], card_pepper: bytes = b"") -> list[Customer]:
    """Validated copies (phones as E.164, cards as keyed hashes); the first problem is a precise ``InvalidInput``."""
    if not batch:
        raise InvalidInput("no customers given", field="customers")
    if len(batch) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} customers per request", field="customers")
    ids = [c.account_id for c in batch]
    if len(set(ids)) != len(ids):
        raise InvalidInput("an account appears twice in one request", field="customers.account_id")
    out = []
    for i, c in enumerate(batch):
        if c.kind is not None and c.kind not in KINDS:
            raise InvalidInput(f"kind must be one of {sorted(KINDS)}", field=f"customers.{i}.kind")
        phones = []
        for p in c.phones:
            e164 = normalise_phone(p)
            if e164 is None:
                raise InvalidInput(f"{p!r} is not a valid phone number", field=f"customers.{i}.phones")
            phones.append(e164)
        opened = None if c.opened_at is None else require_utc(c.opened_at, f"customers.{i}.opened_at")
        hashes = list(c.card_hashes)
        for pan in c.cards:
            digits = "".join(ch for ch in pan if ch.isdigit())
            if not 12 <= len(digits) <= 19 or not luhn.is_valid(digits):
                raise InvalidInput("not a card number (length or check digit)", field=f"customers.{i}.cards")
            hashes.append(card_hash(digits, card_pepper))
        region, district, address = (_place(v) for v in (c.region, c.district, c.address))
        out.append(Customer(c.account_id, c.kind, c.customer_id, opened, c.birth_date, c.lives_alone,
                            tuple(dict.fromkeys(phones)), (), tuple(dict.fromkeys(hashes)), region, district,
                            address))
    return out


def _place(value: str | None) -> str | None:
    """A region, district or address as one line of text with single spaces; blank is none."""
    if value is None:
        return None
    return " ".join(value.split()) or None


def store_customers(engine: Engine, principal: Principal, batch: Sequence[Customer], *, card_pepper: bytes,
                    now: datetime | None = None) -> list[Customer]:
    """Insert or replace the principal bank's customers' profiles in one transaction."""
    if principal.bank_id is None:
        raise Forbidden("only a bank registers its customers' profiles")
    now = now or datetime.now(UTC)
    clean = normalise(batch, card_pepper)
    for i, c in enumerate(clean):  # a bank registers only its own customers: an IBAN says whose they are
        if held_at(c.account_id, principal.bank_id) is False:
            raise InvalidInput(f"account {c.account_id!r} is not held at {principal.bank_id} (its IBAN's bank "
                               "code is another bank's)", field=f"customers.{i}.account_id")
    store: CustomerStore = SqlCustomerStore(engine)
    store.replace(principal.bank_id, principal.org_id, clean, now)
    return clean


def load_customers(engine: Engine) -> list[Customer]:
    store: CustomerStore = SqlCustomerStore(engine)
    return store.load()
