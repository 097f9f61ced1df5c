"""Customer profiles: what a bank tells the exchange about its customers, with their consent.

A profile carries the owner's birth date and whether they live alone (scoring takes extra care of the elderly
living alone), the account's kind (a merchant or company that many people pay is not listed on one report's
word, ``core.corroborate``), when it was opened, and the customer's phone numbers (a call to one of them from a
flagged number marks the customer's transfers as made "on a call"). The first bank to register an account owns
its profile; another bank changing it is refused, and nothing of the batch is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Engine, delete, insert, select
from stdnum import luhn

from zaslon.adapters.db.tables_customers import customers
from zaslon.core.features import AccountProfile
from zaslon.core.indicators import card_hash, normalise_phone
from zaslon.core.types import require_utc
from zaslon.errors import Forbidden, InvalidInput
from zaslon.flow.orgs import Principal

KINDS = frozenset({"personal", "business", "merchant", "crypto_exchange"})
MAX_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class Customer:
    account_id: str
    kind: str | None = None
    customer_id: str | None = None
    opened_at: datetime | None = None
    birth_date: date | None = None
    lives_alone: bool = False
    phones: tuple[str, ...] = ()
    cards: tuple[str, ...] = ()  # card numbers as given; stored only as keyed hashes (``card_hashes``)
    card_hashes: tuple[str, ...] = ()

    def profile(self) -> AccountProfile:
        return AccountProfile(opened_at=self.opened_at, birth_date=self.birth_date, lives_alone=self.lives_alone,
                              kind=self.kind)


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
        out.append(Customer(c.account_id, c.kind, c.customer_id, opened, c.birth_date, c.lives_alone,
                            tuple(dict.fromkeys(phones)), (), tuple(dict.fromkeys(hashes))))
    return out


def store_customers(engine: Engine, principal: Principal, batch: Sequence[Customer], *, card_pepper: bytes,
                    now: datetime | None = None) -> list[Customer]:
    """Insert or replace the principal bank's customers' profiles in one transaction."""
    if principal.bank_id is None:
        raise Forbidden("only a bank registers its customers' profiles")
    now = now or datetime.now(UTC)
    clean = normalise(batch, card_pepper)
    ids = [c.account_id for c in clean]
    with engine.begin() as conn:
        owners: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            owners.update(conn.execute(select(customers.c.account_id, customers.c.bank_id)
                                       .where(customers.c.account_id.in_(ids[start:start + 500]))).all())
        theirs = [a for a, bank in owners.items() if bank != principal.bank_id]
        if theirs:
            raise Forbidden(f"accounts registered by another bank: {sorted(theirs)[:10]}")
        for start in range(0, len(ids), 500):
            conn.execute(delete(customers).where(customers.c.account_id.in_(ids[start:start + 500])))
        conn.execute(insert(customers), [
            {"account_id": c.account_id, "bank_id": principal.bank_id, "org_id": principal.org_id, "kind": c.kind,
             "customer_id": c.customer_id,
             "opened_at": c.opened_at, "birth_date": c.birth_date, "lives_alone": c.lives_alone,
             "phones": " ".join(c.phones), "card_hashes": " ".join(c.card_hashes), "updated_at": now}
            for c in clean])
    return clean


def load_customers(engine: Engine) -> list[Customer]:
    with engine.connect() as conn:
        rows = conn.execute(select(customers)).all()
    return [Customer(r.account_id, r.kind, r.customer_id, r.opened_at,
                     r.birth_date, bool(r.lives_alone), tuple(r.phones.split()), (), tuple(r.card_hashes.split()))
            for r in rows]
