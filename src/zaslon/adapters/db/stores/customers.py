"""SQL customer store (``zaslon.flow.ports.customers``) on the ``customers`` table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select

from zaslon.adapters.db.tables_customers import customers
from zaslon.errors import InvalidInput
from zaslon.flow.ports.customers import Customer

_CHUNK = 500


class SqlCustomerStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def replace(self, bank_id: str, org_id: str, batch: Sequence[Customer], now: datetime) -> None:
        ids = [c.account_id for c in batch]
        with self.engine.begin() as conn:
            owners: dict[str, str] = {}
            for start in range(0, len(ids), _CHUNK):
                owners.update(conn.execute(select(customers.c.account_id, customers.c.bank_id)
                                           .where(customers.c.account_id.in_(ids[start:start + _CHUNK]))).all())
            theirs = [a for a, bank in owners.items() if bank != bank_id]
            if theirs:  # the body names another bank's customer: refused like an IBAN of another bank's code
                raise InvalidInput(f"accounts not held at your bank (registered by another bank): "
                                   f"{sorted(theirs)[:10]}", field="customers.account_id")
            for start in range(0, len(ids), _CHUNK):
                conn.execute(delete(customers).where(customers.c.account_id.in_(ids[start:start + _CHUNK])))
            conn.execute(insert(customers), [
                {"account_id": c.account_id, "bank_id": bank_id, "org_id": org_id, "kind": c.kind,
                 "customer_id": c.customer_id,
                 "opened_at": c.opened_at, "birth_date": c.birth_date, "lives_alone": c.lives_alone,
                 "phones": " ".join(c.phones), "card_hashes": " ".join(c.card_hashes), "updated_at": now,
                 "region": c.region, "district": c.district, "address": c.address}
                for c in batch])

    def load(self) -> list[Customer]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(customers)).all()
        return [Customer(r.account_id, r.kind, r.customer_id, r.opened_at, r.birth_date, bool(r.lives_alone),
                         tuple(r.phones.split()), (), tuple(r.card_hashes.split()), r.region, r.district, r.address)
                for r in rows]
