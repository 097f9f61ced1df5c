"""District officers' list and the at-door courier risk (``zaslon.core.outreach``), fed by the Exchange.

The Exchange tells the watch what it learns, as it learns it: customers' profiles (age, living alone, phones,
district, address, as their bank registered them), calls telecoms report, the decisions on transfers, reported
incidents. The watch keeps the people who are 65 or older and live alone, and writes down each time one of them
is targeted: a call from a flagged number, a held or blocked transfer, an incident naming them. Each district
officer's list is those people of their district, with the reasons and the contact details.

A flagged call of at least ``MIN_TALK_S`` to anyone aged 65 or more (living alone or not: the courier knocks all
the same) starts a courier watch; ``raise_due(now)`` turns every watch with no transfer after the call for
``COURIER_WINDOW`` into an at-door courier risk on the list (and the desk's couriers page). The exchange's
housekeeping calls it with the clock; the demo and tests with their event time. Only what the exchange was told
is used: never the simulator's truth.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import threading
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from zaslon.adapters.db.stores.district import SqlDistrictStore
from zaslon.core.indicators import normalise_phone
from zaslon.core.outreach import (
    COURIER_WINDOW,
    MIN_TALK_S,
    RECENT,
    CourierWatch,
    Reason,
    TaskKind,
    TaskOutcome,
    age_on,
    elderly,
    elderly_alone,
)
from zaslon.core.types import Transfer, require_utc
from zaslon.errors import Forbidden, InvalidInput, NotFound
from zaslon.flow.ports.customers import Customer
from zaslon.flow.ports.district import DistrictStore, Signal, Task

if TYPE_CHECKING:
    from sqlalchemy import Engine

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Calls to elderly people living alone are kept this long: a number flagged later (a victim's report names it)
# still marks the calls it made before, as long as a courier could still be on the way (1-4 h after the call).
LOOK_BACK = timedelta(hours=6)
_STOPPED = frozenset({"hold", "block"})


@dataclass(frozen=True, slots=True)
class Resident:
    account_id: str
    person: str
    district: str
    region: str | None
    birth_date: date | None
    lives_alone: bool
    phones: tuple[str, ...]
    address: str | None


@dataclass
class Entry:
    """One person on a district officer's list."""

    person: str
    district: str
    accounts: list[str]
    region: str | None = None
    age: int | None = None
    lives_alone: bool | None = None
    phones: tuple[str, ...] = ()
    address: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)  # reason -> how many times
    last_at: datetime | None = None
    courier_risk_at: datetime | None = None
    signals: list[Signal] = field(default_factory=list)  # newest first
    tasks: list[Task] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"person": self.person, "district": self.district, "region": self.region, "age": self.age,
                "lives_alone": self.lives_alone, "accounts": self.accounts, "phones": list(self.phones),
                "address": self.address, "reasons": self.reasons, "last_at": _iso(self.last_at),
                "courier_risk_at": _iso(self.courier_risk_at),
                "signals": [{"reason": s.reason, "at": _iso(s.at), "account_id": s.account_id, "detail": s.detail}
                            for s in self.signals],
                "tasks": [task_json(t) for t in self.tasks]}


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def task_json(t: Task) -> dict[str, Any]:
    return {"task_id": t.task_id, "person": t.person, "district": t.district, "kind": t.kind, "note": t.note,
            "created_at": _iso(t.created_at), "created_by": t.created_by, "outcome": t.outcome,
            "outcome_note": t.outcome_note, "done_at": _iso(t.done_at), "done_by": t.done_by}


def _e164(raw: str) -> str | None:
    return raw if _E164.match(raw) else normalise_phone(raw)


class DistrictWatch:
    def __init__(self, db: Engine, *, window: timedelta = COURIER_WINDOW) -> None:
        self.store: DistrictStore = SqlDistrictStore(db)
        self.residents: dict[str, Resident] = {}  # account -> its owner, for accounts with a district
        self.by_phone: dict[str, set[str]] = {}  # E.164 -> accounts
        self.by_person: dict[str, set[str]] = {}  # customer id -> accounts
        self.courier = CourierWatch(window)
        self._seen_calls: set[tuple[str, str, datetime]] = set()  # a call reported twice is one signal
        self._calls: list[tuple[datetime, str, str, int | None]] = []  # (at, caller, account, duration), by time
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ what the exchange learns
    def learn(self, batch: Iterable[Customer]) -> None:
        """Customers' profiles, registered or restored: only those with a district can be on a list."""
        with self._lock:
            for c in batch:
                old = self.residents.pop(c.account_id, None)
                if old is not None:
                    for p in old.phones:
                        self.by_phone.get(p, set()).discard(c.account_id)
                    self.by_person.get(old.person, set()).discard(c.account_id)
                if not c.district:
                    continue
                person = c.customer_id or c.account_id
                self.residents[c.account_id] = Resident(c.account_id, person, c.district, c.region, c.birth_date,
                                                        c.lives_alone, c.phones, c.address)
                for p in c.phones:
                    self.by_phone.setdefault(p, set()).add(c.account_id)
                self.by_person.setdefault(person, set()).add(c.account_id)

    def _watched(self, account: str, at: datetime) -> Resident | None:
        """The owner if they are on their district's list when targeted: 65 or more and living alone."""
        r = self.residents.get(account)
        return r if r is not None and elderly_alone(r.birth_date, r.lives_alone, at) else None

    def _elderly(self, account: str, at: datetime) -> Resident | None:
        """The owner if a courier watch covers them: 65 or more, living alone or not."""
        r = self.residents.get(account)
        return r if r is not None and elderly(r.birth_date, at) else None

    def on_calls(self, calls: Iterable[Any], flagged: Container[str], *, now: datetime | None = None) -> int:
        """Calls telecoms reported (anything with ``ts``, ``caller``, ``callee`` and ``duration_s``): a call from a
        flagged number to an elderly person living alone is a signal, and (a conversation) a courier watch."""
        if not self.by_phone:
            return 0
        found: list[Signal] = []
        with self._lock:
            for c in calls:
                callee = _e164(str(c.callee))
                accounts = self.by_phone.get(callee or "")
                if not accounts:
                    continue
                caller = _e164(str(c.caller))
                if caller is None:
                    continue
                at = require_utc(c.ts, "calls.ts")
                duration = getattr(c, "duration_s", None)
                for acc in sorted(accounts):
                    if self._elderly(acc, at) is None:
                        continue
                    self._calls.append((at, caller, acc, duration))
                    if caller in flagged:
                        found.extend(self._flagged_call(at, caller, acc, duration))
            self._calls.sort(key=lambda x: x[0])
            if self._calls:
                horizon = self._calls[-1][0] - LOOK_BACK
                keep = next((i for i, x in enumerate(self._calls) if x[0] >= horizon), len(self._calls))
                if keep:
                    del self._calls[:keep]
                    self._seen_calls = {k for k in self._seen_calls if k[2] >= horizon}
        self.store.add_signals(found, now or datetime.now(UTC))
        return len(found)

    def recheck(self, flagged: Container[str], *, now: datetime | None = None) -> int:
        """Numbers flagged since (an incident named one, a telecom reported one): the calls they made in the last
        ``LOOK_BACK`` to elderly people living alone become signals and courier watches now."""
        found: list[Signal] = []
        with self._lock:
            for at, caller, acc, duration in self._calls:
                if caller in flagged:
                    found.extend(self._flagged_call(at, caller, acc, duration))
        self.store.add_signals(found, now or datetime.now(UTC))
        return len(found)

    def _flagged_call(self, at: datetime, caller: str, account: str, duration: int | None) -> list[Signal]:
        """A courier watch for any elderly person; a signal on the list for one living alone."""
        r = self.residents.get(account)
        if r is None or (r.person, caller, at) in self._seen_calls:
            return []
        self._seen_calls.add((r.person, caller, at))
        if duration is None or duration >= MIN_TALK_S:
            self.courier.call(r.person, caller, at)
        if self._watched(account, at) is None:
            return []
        talk = f", {duration} s" if duration is not None else ""
        return [Signal(r.district, r.person, account, Reason.FLAGGED_CALL.value, at, f"call from {caller}{talk}")]

    def on_transfers(self, transfers: Sequence[Transfer], outcomes: Sequence[str], *,
                     now: datetime | None = None) -> int:
        """Transfers asked about or reported executed: any of them ends a courier watch of its payer (money moved
        by transfer, not by hand); a held or blocked one is a signal."""
        if not self.residents:
            return 0
        found: list[Signal] = []
        with self._lock:
            for t, outcome in zip(transfers, outcomes, strict=True):
                r = self.residents.get(t.payer)
                if r is None:
                    continue
                self.courier.paid(r.person, t.ts)
                if outcome in _STOPPED and self._watched(t.payer, t.ts) is not None:
                    found.append(Signal(r.district, r.person, t.payer, Reason.HELD_TRANSFER.value, t.ts,
                                        f"transfer {t.transfer_id} ({outcome}) to {t.payee}"))
        self.store.add_signals(found, now or datetime.now(UTC))
        return len(found)

    def on_incident(self, incident_id: str, reported_at: datetime, *, party_id: str | None, phone: str | None,
                    payers: Iterable[str] = (), now: datetime | None = None) -> int:
        """A reported incident whose victim (their bank's customer id, phone or disputed transfers' payer) is an
        elderly person living alone with a district."""
        with self._lock:
            accounts = set(self.by_person.get(party_id or "", ()))
            if phone:
                accounts |= self.by_phone.get(_e164(phone) or "", set())
            accounts |= {a for a in payers if a in self.residents}
            people: dict[str, Resident] = {}
            for acc in sorted(accounts):
                r = self._watched(acc, reported_at)
                if r is not None:
                    people.setdefault(r.person, r)
        found = [Signal(r.district, r.person, r.account_id, Reason.INCIDENT.value, reported_at,
                        f"incident {incident_id}") for r in people.values()]
        self.store.add_signals(found, now or datetime.now(UTC))
        return len(found)

    def raise_due(self, now: datetime, *, not_before: datetime | None = None) -> list[Signal]:
        """Every courier watch whose window ended by ``now`` with no transfer: an at-door courier risk, raised
        (written to the officer's list) at ``now``. ``not_before``: leave the watches due before it (see
        ``Exchange.raise_courier_risks``)."""
        now = require_utc(now, "now")
        with self._lock:
            due = self.courier.due(now, not_before=not_before)
            found = []
            for risk in due:
                accounts = sorted(self.by_person.get(risk.person, ()))
                r = self.residents.get(accounts[0]) if accounts else None
                if r is None:
                    continue
                found.append(Signal(r.district, r.person, r.account_id, Reason.COURIER_RISK.value, now,
                                    f"call from {risk.caller} at {risk.call_at.isoformat()}, no transfer since"))
        self.store.add_signals(found, now)
        return found

    def next_due(self) -> datetime | None:
        """When the next courier watch falls due (None: no call is being watched)."""
        with self._lock:
            return self.courier.next_due()

    # ------------------------------------------------------------------ the officer's list
    def targets(self, district: str, *, now: datetime | None = None, recent: timedelta = RECENT) -> list[Entry]:
        """The elderly people living alone in ``district`` targeted within ``recent`` before ``now``, the most
        urgent first (a courier risk, then the newest)."""
        district = _district(district)
        now = require_utc(now, "now") if now is not None else datetime.now(UTC)
        signals = self.store.signals(district, since=now - recent, until=now)
        entries: dict[str, Entry] = {}
        for s in signals:
            e = entries.get(s.person)
            if e is None:
                e = entries[s.person] = Entry(s.person, district, [])
            if s.account_id not in e.accounts:
                e.accounts.append(s.account_id)
            e.reasons[s.reason] = e.reasons.get(s.reason, 0) + 1
            e.last_at = s.at
            if s.reason == Reason.COURIER_RISK.value:
                e.courier_risk_at = s.at
            e.signals.insert(0, s)
        tasks = self.store.tasks(district, persons=list(entries)) if entries else []
        for t in tasks:
            entries[t.person].tasks.append(t)
        for e in entries.values():
            r = next((self.residents[a] for a in e.accounts if a in self.residents), None)
            if r is not None:
                e.region, e.phones, e.address, e.lives_alone = r.region, r.phones, r.address, r.lives_alone
                e.age = None if r.birth_date is None else age_on(r.birth_date, now.date())
        return sorted(entries.values(), key=lambda e: (e.courier_risk_at is None, -(e.last_at or now).timestamp()))

    def targets_csv(self, district: str, *, now: datetime | None = None) -> str:
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["person", "district", "region", "age", "lives_alone", "phones", "address", "accounts", "reasons",
                    "last_at", "courier_risk_at", "open_tasks", "done_tasks"])
        for e in self.targets(district, now=now):
            w.writerow([e.person, e.district, e.region or "", "" if e.age is None else e.age,
                        "" if e.lives_alone is None else str(e.lives_alone).lower(), " ".join(e.phones),
                        e.address or "", " ".join(e.accounts),
                        " ".join(f"{k}={v}" for k, v in sorted(e.reasons.items())), _iso(e.last_at) or "",
                        _iso(e.courier_risk_at) or "",
                        " ".join(f"{t.kind}" for t in e.tasks if t.outcome is None),
                        " ".join(f"{t.kind}:{t.outcome}" for t in e.tasks if t.outcome is not None)])
        return out.getvalue()

    # ------------------------------------------------------------------ outreach tasks
    def create_task(self, district: str, person: str, kind: str, *, by: str, note: str = "",
                    now: datetime | None = None) -> Task:
        """An outreach task for a person on the district's list (``NotFound`` for anyone else)."""
        district = _district(district)
        try:
            chosen = TaskKind(kind)
        except ValueError:
            raise InvalidInput(f"kind must be one of {[k.value for k in TaskKind]}", field="kind") from None
        now = now or datetime.now(UTC)
        if not any(e.person == person for e in self.targets(district, now=now)):
            raise NotFound(f"nobody {person!r} on the list of {district}", field="person")
        task = Task(f"task-{secrets.token_hex(6)}", district, person, chosen.value, note.strip()[:2000], now, by)
        self.store.add_task(task)
        return task

    def finish_task(self, task_id: str, outcome: str, *, by: str, district: str | None, note: str = "",
                    now: datetime | None = None) -> Task:
        """Record what came of a task, once. ``district``: the officer's own (another district's task is 403);
        None for the desk's analysts."""
        try:
            chosen = TaskOutcome(outcome)
        except ValueError:
            raise InvalidInput(f"outcome must be one of {[o.value for o in TaskOutcome]}", field="outcome") from None
        task = self.store.task(task_id)
        if task is None:
            raise NotFound(f"no outreach task {task_id!r}", field="task_id")
        if district is not None and task.district != district:
            raise Forbidden("an officer records outcomes of their own district's tasks only")
        return self.store.finish_task(task_id, outcome=chosen.value, note=note.strip()[:2000],
                                      at=now or datetime.now(UTC), by=by)

    def courier_risks(self, *, limit: int = 200) -> list[Signal]:
        return self.store.courier_risks(limit=limit)

    def districts(self) -> list[dict[str, Any]]:
        return self.store.districts()


def _district(raw: str) -> str:
    district = " ".join(raw.split())
    if not district or len(district) > 64:
        raise InvalidInput("a district is 1-64 characters", field="district")
    return district
