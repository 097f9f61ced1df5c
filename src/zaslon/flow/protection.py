"""Protection profiles and the trusted person's confirmations: the shell around ``zaslon.core.protection``.

* ``register``: a bank registers (or changes) a customer's protection profile with the customer's consent; it is
  validated whole (phones E.164, the trusted person someone other than the customer) and stored with the customer
  profile scoring reads in one transaction, or nothing is written.
* ``Matcher``: what scoring asks per transfer: does it need the trusted person's confirmation, and why.
* ``Confirmations``: a held transfer's request (pushed to the bank's webhook), the answer the bank relays
  (once), and the decline of those unanswered by their deadline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from zaslon.adapters.db.stores.protection import SqlProtectionStore
from zaslon.core import protection as core
from zaslon.core.banks import held_at
from zaslon.core.features import FEATURE_INDEX, TransferColumns
from zaslon.core.indicators import normalise_phone
from zaslon.core.money import check_currency, minor_exponent
from zaslon.core.protection import Confirm, Operation, Profile, TrustedPerson
from zaslon.core.types import Decision, Transfer, require_utc
from zaslon.errors import Conflict, Forbidden, InvalidInput, NotFound
from zaslon.flow.orgs import Principal
from zaslon.flow.ports.customers import Customer
from zaslon.flow.ports.protection import Confirmation, ProtectionStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from zaslon.flow.webhooks import Webhooks

MAX_FUTURE = timedelta(minutes=5)  # consent dated a little ahead of the server clock (clock skew), never more
REQUESTED = "trusted_person.confirmation_requested"
RESOLVED = "trusted_person.confirmation_resolved"


@dataclass(frozen=True, slots=True)
class ProtectionRequest:
    """What a bank sends (phones as written; validated by ``register``)."""

    account_id: str
    consent_at: datetime
    age_band: str | None = None
    birth_date: date | None = None
    lives_alone: bool = False
    phones: tuple[str, ...] = ()
    trusted: TrustedPerson | None = None
    confirm: Confirm = field(default_factory=Confirm)
    customer_id: str | None = None


def _own_account(principal: Principal, account: str) -> str:
    if principal.bank_id is None:
        raise Forbidden("only a bank registers its customers' protection profiles")
    if held_at(account, principal.bank_id) is False:  # another bank's IBAN: as unknown as a missing account
        raise NotFound(f"no customer account {account!r} at your bank", field="account")
    return principal.bank_id


def _phone(raw: str, field: str) -> str:
    e164 = normalise_phone(raw)
    if e164 is None:
        raise InvalidInput(f"{raw!r} is not a valid phone number", field=field)
    return e164


def validated(req: ProtectionRequest, *, known_phones: tuple[str, ...], now: datetime) -> ProtectionRequest:
    """``req`` with phones in E.164, its age band settled and every rule checked (the first problem is a precise
    ``InvalidInput``). Without phones in the request the customer's registered ones count."""
    consent = require_utc(req.consent_at, "consent_at")
    if consent > now + MAX_FUTURE:
        raise InvalidInput("consent_at lies in the future", field="consent_at")
    if req.age_band is not None and req.age_band not in core.BAND_NAMES:
        raise InvalidInput(f"age_band must be one of {list(core.BAND_NAMES)}", field="age_band")
    band = req.age_band
    if req.birth_date is not None:
        if req.birth_date > now.date():
            raise InvalidInput("birth_date lies in the future", field="birth_date")
        by_date = core.band_of(req.birth_date, now.date())
        if band is not None and band != by_date:
            raise InvalidInput(f"age_band {band!r} contradicts birth_date (age band {by_date!r})", field="age_band")
        band = by_date
    if band is None:
        raise InvalidInput("give age_band or birth_date", field="age_band")
    phones = tuple(dict.fromkeys(_phone(p, f"phones.{i}") for i, p in enumerate(req.phones))) or known_phones
    c = req.confirm
    check_currency(c.currency, "confirm.currency")
    if c.amount_above is not None and c.amount_above < 0:
        raise InvalidInput("amount_above must not be negative", field="confirm.amount_above")
    trusted = req.trusted
    if trusted is not None:
        if not trusted.name.strip():
            raise InvalidInput("the trusted person needs a name", field="trusted_person.name")
        trusted = TrustedPerson(trusted.name.strip(), _phone(trusted.phone, "trusted_person.phone"),
                                trusted.relation, trusted.customer_id)
        if core.is_the_customer(trusted, phones, req.customer_id):
            raise InvalidInput("the trusted person must be someone other than the customer (the same phone number "
                               "or customer id)", field="trusted_person")
    return ProtectionRequest(req.account_id, consent, band, req.birth_date, req.lives_alone, phones, trusted, c,
                             req.customer_id)


def register(engine: Engine, principal: Principal, req: ProtectionRequest, *, current: Profile | None,
             known_phones: tuple[str, ...], known_birth: date | None, now: datetime) -> tuple[Profile, Customer]:
    """Validate and store ``req`` as the bank's customer's profile (a trusted person's removal or replacement
    waits out the cooling-off); returns the profile and the customer profile as stored."""
    bank = _own_account(principal, req.account_id)
    if current is not None and current.bank_id != bank:
        raise NotFound(f"no customer account {req.account_id!r} at your bank", field="account")
    clean = validated(req, known_phones=known_phones, now=now)
    band = clean.age_band or core.BAND_NAMES[0]
    # What scoring's elderly features read: the birth date given, else the registered one if it agrees with the
    # band, else the band's latest one (an estimate kept out of the protection profile itself).
    scoring_birth = clean.birth_date
    if scoring_birth is None:
        agrees = known_birth is not None and core.band_of(known_birth, now.date()) == band
        scoring_birth = known_birth if agrees else core.birth_date_for_band(band, now.date())
    trusted, pending, nxt, change_at = core.with_trusted(current, clean.trusted, now)
    profile = Profile(
        account_id=clean.account_id, bank_id=bank, age_band=band, lives_alone=clean.lives_alone,
        phones=clean.phones, confirm=clean.confirm, trusted=trusted, consent_at=clean.consent_at, updated_at=now,
        birth_date=clean.birth_date, customer_id=clean.customer_id or (current.customer_id if current else None),
        change_pending=pending, next_trusted=nxt, change_at=change_at)
    store: ProtectionStore = SqlProtectionStore(engine)
    customer = store.put(profile, principal.org_id, now, scoring_birth=scoring_birth)
    return profile, customer


def load(engine: Engine) -> list[Profile]:
    store: ProtectionStore = SqlProtectionStore(engine)
    return store.load()


def _person_json(p: TrustedPerson | None) -> dict[str, Any] | None:
    return None if p is None else {"name": p.name, "phone": p.phone, "relation": p.relation,
                                   "customer_id": p.customer_id}


def profile_json(p: Profile, now: datetime) -> dict[str, Any]:
    """The profile as its bank reads it at ``now`` (a change whose cooling-off has passed is in force)."""
    s = p.settled(now)
    c = s.confirm
    change = None
    if s.change_pending and s.change_at is not None:
        change = {"kind": "removal" if s.next_trusted is None else "replacement",
                  "trusted_person": _person_json(s.next_trusted), "takes_effect_at": s.change_at.isoformat()}
    return {
        "account_id": s.account_id, "customer_id": s.customer_id, "age_band": s.age_band,
        "birth_date": None if s.birth_date is None else s.birth_date.isoformat(), "lives_alone": s.lives_alone,
        "phones": list(s.phones), "trusted_person": _person_json(s.trusted), "pending_change": change,
        "confirm": {"new_payee": c.new_payee, "amount_above": c.amount_above, "currency": c.currency,
                    "cash_withdrawal": c.cash_withdrawal, "during_call": c.during_call},
        "consent_at": s.consent_at.isoformat(), "updated_at": s.updated_at.isoformat(),
    }


_I_FIRST = FEATURE_INDEX["first_time_payee"]
_I_CASH = FEATURE_INDEX["payee_is_cash"]
_I_CALL = FEATURE_INDEX["on_flagged_call"]


class Matcher:
    """Scoring's question, per batch: which transfers need the trusted person, and why (``core.protection``).
    Reads the exchange's live profiles; a payer without one costs a dict look-up."""

    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self.profiles = profiles

    def __call__(self, cols: TransferColumns, x: npt.NDArray[np.float32]) -> dict[int, tuple[str, ...]]:
        if not self.profiles:
            return {}
        out: dict[int, tuple[str, ...]] = {}
        for i, payer in enumerate(cols.payer):
            p = self.profiles.get(payer)
            if p is None:
                continue
            cur = cols.currency[i]
            op = Operation(amount=round(float(cols.amount[i]) * 10 ** minor_exponent(cur)), currency=cur,
                           at=datetime.fromtimestamp(int(cols.ts[i]), UTC), new_payee=bool(x[i, _I_FIRST] != 0),
                           cash=bool(x[i, _I_CASH] != 0), on_call=bool(x[i, _I_CALL] != 0))
            why = core.triggers(p, op)
            if why:
                out[i] = why
        return out


def confirmation_id(org_id: str, transfer_id: str) -> str:
    return "tpc-" + hashlib.sha256(f"{org_id}/{transfer_id}".encode()).hexdigest()[:16]


def confirmation_json(c: Confirmation, *, contact: bool = True) -> dict[str, Any]:
    return {
        "confirmation_id": c.confirmation_id, "transfer_id": c.transfer_id, "account_id": c.account_id,
        "payee": c.payee, "amount": c.amount, "currency": c.currency, "transfer_ts": c.transfer_ts.isoformat(),
        "triggers": list(c.triggers),
        "trusted_person": ({"name": c.trusted_name, "phone": c.trusted_phone, "relation": c.trusted_relation}
                           if contact else None),
        "deadline": c.deadline.isoformat(), "status": c.status,
        "answered_at": None if c.answered_at is None else c.answered_at.isoformat(), "answered_by": c.answered_by,
    }


class Confirmations:
    """Requests to trusted persons, relayed by the banks; each answered once, or declined at its deadline."""

    def __init__(self, engine: Engine, webhooks: Webhooks) -> None:
        self.store: ProtectionStore = SqlProtectionStore(engine)
        self.webhooks = webhooks

    def request(self, items: Sequence[tuple[str, str | None, Transfer, Decision]], profiles: Mapping[str, Profile],
                *, now: datetime) -> list[Confirmation]:
        """For each ``(submitter org, submitter's BIC, transfer, decision)`` held awaiting the trusted person: store
        the request and push it to the submitting bank's webhook (the trusted person's contact only when that bank
        holds the profile). A transfer asked about before keeps its first request."""
        rows: list[Confirmation] = []
        for org, _, t, d in items:
            why = next((r for r in d.reasons if r.code == core.AWAITING), None)
            p = profiles.get(t.payer)
            if why is None or p is None:
                continue
            trusted = p.trusted_at(t.ts)
            if trusted is None:
                continue
            rows.append(Confirmation(
                confirmation_id(org, t.transfer_id), org, t.transfer_id, p.bank_id, t.payer, t.payee, t.amount,
                t.currency, t.ts, tuple(why.detail.split(",")), trusted.name, trusted.phone, trusted.relation,
                core.deadline(t.ts), core.PENDING, now))
        if not rows:
            return []
        stored = self.store.add_confirmations(rows)
        bic = {(org, t.transfer_id): b for org, b, t, _ in items}
        self._push([(bic.get((c.org_id, c.transfer_id)), c, REQUESTED) for c in stored], now)
        return stored

    def _push(self, events: Sequence[tuple[str | None, Confirmation, str]], now: datetime) -> None:
        ids = self.webhooks.enqueue(
            [(b, c.confirmation_id, {"type": kind, "confirmation": confirmation_json(c, contact=b == c.bank_id)})
             for b, c, kind in events if b is not None], now=now)
        if ids:
            self.webhooks.deliver_due(now, ids=ids)

    def get(self, org_id: str, transfer_id: str) -> Confirmation:
        found = self.store.confirmation(org_id, transfer_id)
        if found is None:
            raise NotFound(f"no trusted-person confirmation for transfer {transfer_id!r}", field="transfer_id")
        return found

    def answer(self, principal: Principal, transfer_id: str, confirm: bool, *, at: datetime) -> Confirmation:
        """The trusted person's answer, relayed by the bank that submitted the transfer; 409 for a second answer
        or one after the deadline (which declines it)."""
        c = self.get(principal.org_id, transfer_id)
        if c.status != core.PENDING:
            raise Conflict(f"the trusted person's confirmation of {transfer_id!r} is already {c.status}",
                           field="transfer_id")
        if at > c.deadline:
            self.store.settle(c.confirmation_id, core.EXPIRED, c.deadline, "exchange")
            raise Conflict(f"the deadline {c.deadline.isoformat()} passed: the transfer is declined (expired)",
                           field="transfer_id")
        by = principal.org_id + (f" ({principal.person})" if principal.person else
                                 f" (key {principal.key_id})" if principal.key_id else "")
        if not self.store.settle(c.confirmation_id, core.CONFIRMED if confirm else core.DECLINED, at, by):
            raise Conflict(f"the trusted person's confirmation of {transfer_id!r} was answered meanwhile",
                           field="transfer_id")
        return self.get(principal.org_id, transfer_id)

    def expire_due(self, now: datetime, bic_of: Any) -> list[Confirmation]:
        """Decline the requests unanswered by their deadline (``zaslon serve``'s housekeeping runs this); each bank
        is told through its webhook."""
        done = []
        for c in self.store.due(now):
            if self.store.settle(c.confirmation_id, core.EXPIRED, c.deadline, "exchange"):
                done.append(self.get(c.org_id, c.transfer_id))
        self._push([(bic_of(c.org_id), c, RESOLVED) for c in done], now)
        return done
