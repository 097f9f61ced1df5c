"""SQL protection store (``zaslon.flow.ports.protection``) on ``protection_profiles`` and ``trusted_confirmations``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.tables_customers import customers
from zaslon.adapters.db.tables_protection import protection_profiles, trusted_confirmations
from zaslon.core.protection import Confirm, Profile, TrustedPerson
from zaslon.errors import NotFound
from zaslon.flow.ports.customers import Customer
from zaslon.flow.ports.protection import Confirmation

_P = protection_profiles.c
_C = trusted_confirmations.c


def _person(name: str | None, phone: str | None, relation: str | None, customer_id: str | None) -> TrustedPerson | None:
    return None if name is None or phone is None else TrustedPerson(name, phone, relation, customer_id)


def _profile(r: Any) -> Profile:
    return Profile(
        account_id=r.account_id, bank_id=r.bank_id, age_band=r.age_band, lives_alone=bool(r.lives_alone),
        phones=tuple(r.phones.split()),
        confirm=Confirm(bool(r.confirm_new_payee), r.confirm_amount_above, r.confirm_currency,
                        bool(r.confirm_cash_withdrawal), bool(r.confirm_during_call)),
        trusted=_person(r.trusted_name, r.trusted_phone, r.trusted_relation, r.trusted_customer_id),
        consent_at=r.consent_at, updated_at=r.updated_at, birth_date=r.birth_date, customer_id=r.customer_id,
        change_pending=bool(r.change_pending),
        next_trusted=_person(r.next_name, r.next_phone, r.next_relation, r.next_customer_id), change_at=r.change_at)


def _row(p: Profile, org_id: str, now: datetime) -> dict[str, Any]:
    t, n, c = p.trusted, p.next_trusted, p.confirm
    return {
        "account_id": p.account_id, "bank_id": p.bank_id, "org_id": org_id, "customer_id": p.customer_id,
        "age_band": p.age_band, "birth_date": p.birth_date, "lives_alone": p.lives_alone, "phones": " ".join(p.phones),
        "trusted_name": t and t.name, "trusted_phone": t and t.phone, "trusted_relation": t and t.relation,
        "trusted_customer_id": t and t.customer_id, "change_pending": p.change_pending,
        "next_name": n and n.name, "next_phone": n and n.phone, "next_relation": n and n.relation,
        "next_customer_id": n and n.customer_id, "change_at": p.change_at,
        "confirm_new_payee": c.new_payee, "confirm_amount_above": c.amount_above, "confirm_currency": c.currency,
        "confirm_cash_withdrawal": c.cash_withdrawal, "confirm_during_call": c.during_call,
        "consent_at": p.consent_at, "updated_at": now,
    }


def _confirmation(r: Any) -> Confirmation:
    return Confirmation(r.confirmation_id, r.org_id, r.transfer_id, r.bank_id, r.account_id, r.payee, int(r.amount),
                        r.currency, r.transfer_ts, tuple(r.triggers.split()), r.trusted_name, r.trusted_phone,
                        r.trusted_relation, r.deadline, r.status, r.created_at, r.answered_at, r.answered_by)


class SqlProtectionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, profile: Profile, org_id: str, now: datetime, *, scoring_birth: date | None) -> Customer:
        acc, bank = profile.account_id, profile.bank_id
        with self.engine.begin() as conn:
            cust = conn.execute(select(customers).where(customers.c.account_id == acc)).first()
            held = conn.execute(select(_P.bank_id, _P.created_at).where(_P.account_id == acc)).first()
            if (cust is not None and cust.bank_id != bank) or (held is not None and held.bank_id != bank):
                # Another bank's customer: answered exactly as an account the exchange never heard of.
                raise NotFound(f"no customer account {acc!r} at your bank", field="account")
            row = _row(profile, org_id, now)
            if held is None:
                conn.execute(insert(protection_profiles).values(**row, created_at=now))
            else:
                conn.execute(update(protection_profiles).where(_P.account_id == acc).values(**row))
            # Scoring's elderly features read the customer profile: it says what the protection profile says.
            same = {"birth_date": scoring_birth, "lives_alone": profile.lives_alone,
                    "phones": " ".join(profile.phones), "updated_at": now}
            if profile.customer_id is not None:
                same["customer_id"] = profile.customer_id
            if cust is None:
                conn.execute(insert(customers).values(account_id=acc, bank_id=bank, org_id=org_id, kind="personal",
                                                      card_hashes="", **{"customer_id": profile.customer_id, **same}))
            else:
                conn.execute(update(customers).where(customers.c.account_id == acc).values(**same))
            r = conn.execute(select(customers).where(customers.c.account_id == acc)).one()
        return Customer(r.account_id, r.kind, r.customer_id, r.opened_at, r.birth_date, bool(r.lives_alone),
                        tuple(r.phones.split()), (), tuple(r.card_hashes.split()), r.region, r.district, r.address)

    def get(self, account_id: str) -> Profile | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(protection_profiles).where(_P.account_id == account_id)).first()
        return None if r is None else _profile(r)

    def load(self) -> list[Profile]:
        with self.engine.connect() as conn:
            return [_profile(r) for r in conn.execute(select(protection_profiles))]

    def add_confirmations(self, rows: Sequence[Confirmation]) -> list[Confirmation]:
        stored = []
        for c in rows:  # few (held transfers of protected customers); each on its own so a replay skips only itself
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(trusted_confirmations).values(
                        confirmation_id=c.confirmation_id, org_id=c.org_id, transfer_id=c.transfer_id,
                        bank_id=c.bank_id, account_id=c.account_id, payee=c.payee, amount=c.amount,
                        currency=c.currency, transfer_ts=c.transfer_ts, triggers=" ".join(c.triggers),
                        trusted_name=c.trusted_name, trusted_phone=c.trusted_phone,
                        trusted_relation=c.trusted_relation, deadline=c.deadline, status=c.status,
                        created_at=c.created_at))
                stored.append(c)
            except IntegrityError:  # asked already (the same transfer decided again): the first request stands
                continue
        return stored

    def confirmation(self, org_id: str, transfer_id: str) -> Confirmation | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(trusted_confirmations).where(_C.org_id == org_id,
                                                                 _C.transfer_id == transfer_id)).first()
        return None if r is None else _confirmation(r)

    def settle(self, confirmation_id: str, status: str, at: datetime, by: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(update(trusted_confirmations)
                                .where(_C.confirmation_id == confirmation_id, _C.status == "pending")
                                .values(status=status, answered_at=at, answered_by=by[:200]))
        return bool(done.rowcount)

    def due(self, now: datetime, limit: int = 500) -> list[Confirmation]:
        with self.engine.connect() as conn:
            return [_confirmation(r) for r in conn.execute(
                select(trusted_confirmations).where(_C.status == "pending", _C.deadline <= now)
                .order_by(_C.deadline).limit(limit))]
