"""Telecom side: fraud numbers reported by operators, their calls and call events, and the block list.

Every number is normalised to E.164 before it is stored or compared. A batch is one transaction: one bad
number, a callee outside the operator's ranges, or a call id reused with another body and nothing of the
batch is written. The block list operators enforce needs corroboration (``zaslon.core.blocklist``); scoring
also uses numbers reported once, as a weaker signal (docs/telecom.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import phonenumbers

from zaslon.adapters.db.stores.telecom import SqlTelecomSignalStore, SqlTelecomStore
from zaslon.core.blocklist import NumberReport, why_listed
from zaslon.core.calls import Call, CallBook, LineState, LiveCall, RecentCalls
from zaslon.core.indicators import normalise_phone
from zaslon.core.knowledge import Knowledge
from zaslon.core.types import require_utc
from zaslon.errors import Conflict, InvalidInput, NotFound
from zaslon.flow.ports.telecom import CallEvent, NumberAppeal

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from zaslon.flow.ports.telecom import TelecomSignalStore, TelecomStore


@dataclass(frozen=True, slots=True)
class CallReport:
    call_id: str
    ts: datetime
    caller: str
    callee: str
    callee_party: str | None = None
    duration_s: int | None = None


def _e164_all(raw: Sequence[str], field: str) -> list[str]:
    out, bad = [], []
    for number in raw:
        e164 = normalise_phone(number)
        if e164 is None:
            bad.append(number)
        else:
            out.append(e164)
    if bad:
        raise InvalidInput(f"not valid phone numbers: {bad[:20]}", field=field)
    return out


def report_fraud_numbers(
    engine: Engine, knowledge: Knowledge, org_id: str, numbers: Sequence[str], note: str | None = None,
    now: datetime | None = None,
) -> tuple[list[str], int]:
    """Store numbers an operator reports as fraudulent; returns (their E.164 forms, how many were new)."""
    now = now or datetime.now(UTC)
    phones = list(dict.fromkeys(_e164_all(numbers, "numbers")))

    store: TelecomStore = SqlTelecomStore(engine)
    new = store.add_fraud_numbers(org_id, phones, note, now)
    knowledge.flagged_phones.update(phones)
    return phones, new


def _call_hash(c: CallReport) -> str:
    body = [c.call_id, c.ts.isoformat(), c.caller, c.callee, c.callee_party, c.duration_s]
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


def report_calls(
    engine: Engine, knowledge: Knowledge, recent: RecentCalls, org_id: str, calls: Sequence[CallReport],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Store calls idempotently and remember them for scoring; say which came from a flagged number."""
    now = now or datetime.now(UTC)
    ids = [c.call_id for c in calls]
    if len(set(ids)) != len(ids):
        raise InvalidInput("duplicate call ids in one batch", field="calls")
    callers = _e164_all([c.caller for c in calls], "calls.caller")
    callees = _e164_all([c.callee for c in calls], "calls.callee")
    norm = [CallReport(c.call_id, require_utc(c.ts, "calls.ts"), a, b, c.callee_party, c.duration_s)
            for c, a, b in zip(calls, callers, callees, strict=True)]
    hashes = {c.call_id: _call_hash(c) for c in norm}
    store: TelecomStore = SqlTelecomStore(engine)
    fresh = store.add_calls(org_id, norm, hashes, now)
    for c in fresh:
        recent.record(Call(c.ts, c.caller, c.callee, c.duration_s))
    flagged = [c.call_id for c in norm if c.caller in knowledge.flagged_phones]
    return {"stored": len(fresh), "duplicates": len(norm) - len(fresh), "from_flagged": flagged}




# ---- number ranges, call events, the corroborated block list and its appeals ---------------------------------
_PREFIX = re.compile(r"^\+[1-9][0-9]{1,14}$")
# Times an operator can mean: outside them arithmetic on a call (its end, the window after it) would overflow.
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _plausible(ts: datetime, field: str) -> datetime:
    ts = require_utc(ts, field)
    if not EARLIEST <= ts < LATEST:
        raise InvalidInput(f"{ts.isoformat()} is outside 2000-2099", field=field)
    return ts
MAX_CHANGES = 10_000


def normalise_prefix(raw: str) -> str:
    """An E.164 prefix ("+375 29" -> "+37529") whose leading digits are a country calling code."""
    p = re.sub(r"[\s().-]", "", raw)
    if not _PREFIX.match(p):
        raise InvalidInput(f"{raw!r} is not an E.164 prefix (+, country code, then digits)", field="prefixes")
    if not any(int(p[1 : 1 + n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE for n in (1, 2, 3) if len(p) > n):
        raise InvalidInput(f"{raw!r} starts with no country calling code", field="prefixes")
    return p


def owner_of(number: str, ranges: Mapping[str, str]) -> str | None:
    """The operator whose longest registered prefix ``number`` starts with."""
    for n in range(len(number), 1, -1):
        org = ranges.get(number[:n])
        if org is not None:
            return org
    return None


def _event_hash(e: CallEvent) -> str:
    body = [e.call_id, e.event, e.ts.isoformat(), e.caller, e.callee, e.callee_party, e.duration_s,
            e.caller_verified, e.caller_in_registry, e.forwarding_active,
            None if e.latest_sim_change is None else e.latest_sim_change.isoformat()]
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


def _parse_since(since: str | None, store: TelecomSignalStore) -> int:
    """A cursor (the ``next`` of a previous answer) or an ISO 8601 timestamp -> the seq to read after."""
    if since is None or since == "":
        return 0
    if since.isdigit():
        if len(since) > 18:  # beyond any cursor a BIGINT holds
            raise InvalidInput(f"since {since!r} is no cursor this exchange gave", field="since")
        return int(since)
    try:
        at = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"since {since!r} is neither a cursor nor an ISO 8601 time", field="since") from None
    return store.last_seq_before(require_utc(at, "since"))


class TelecomSignals:
    """Operators' call events and network signals, their number ranges, and the block list they enforce.

    The live ``CallBook`` (what scoring reads) is guarded by ``lock``; the block list is recomputed for the
    numbers a report, confirmation or appeal touches and each change appended to its log (``sync``)."""

    def __init__(self, engine: Engine, knowledge: Knowledge, recent: RecentCalls, *, home_country: str = "BY") -> None:
        self.engine, self.knowledge, self.recent = engine, knowledge, recent
        self.store: TelecomSignalStore = SqlTelecomSignalStore(engine)
        self.book = CallBook(home_prefix=f"+{phonenumbers.country_code_for_region(home_country)}")
        self.lock = threading.Lock()
        self._sync_lock = threading.Lock()

    # ---- ranges
    def ranges(self) -> dict[str, str]:
        """Read on every batch (a small table): ``zaslon orgs ranges`` in another process counts at once."""
        return self.store.ranges()

    def set_ranges(self, org_id: str, add: Sequence[str] = (), remove: Sequence[str] = (),
                   now: datetime | None = None) -> list[str]:
        """Register (or drop) a telecom operator's E.164 prefixes; returns its prefixes after the change."""
        plus = list(dict.fromkeys(normalise_prefix(p) for p in add))
        minus = list(dict.fromkeys(normalise_prefix(p) for p in remove))
        kind = self.store.org_kind(org_id)
        if kind is None:
            raise NotFound(f"no organisation {org_id!r}", field="org_id")
        if kind != "telecom":
            raise InvalidInput(f"{org_id!r} is a {kind}, not a telecom operator", field="org_id")
        self.store.set_ranges(org_id, plus, minus, now or datetime.now(UTC))
        return self.ranges_of(org_id)

    def ranges_of(self, org_id: str) -> list[str]:
        return sorted(p for p, o in self.ranges().items() if o == org_id)

    def _check_callees(self, org_id: str, callees: Sequence[str], *, required: bool) -> None:
        ranges = self.ranges()
        if not required and org_id not in ranges.values():
            return  # the legacy calls route, for an operator that registered no ranges yet
        if org_id not in ranges.values():
            raise InvalidInput("register your number ranges first (zaslon orgs ranges)", field="events.callee")
        foreign = sorted({c for c in callees if owner_of(c, ranges) != org_id})
        if foreign:
            raise InvalidInput(f"callees outside your number ranges: {foreign[:20]}", field="events.callee")

    # ---- calls
    def check_calls(self, org_id: str, calls: Sequence[CallReport]) -> None:
        for i, c in enumerate(calls):
            _plausible(c.ts, f"calls.{i}.ts")
        self._check_callees(org_id, [c.callee for c in calls], required=False)

    def remember_calls(self, calls: Sequence[CallReport]) -> None:
        """Calls from the legacy route: a call that started at ``ts`` (and lasted ``duration_s`` if known)."""
        with self.lock:
            for c in calls:
                end = None if c.duration_s is None else c.ts + timedelta(seconds=c.duration_s)
                self.book.start(c.callee, LiveCall(c.call_id, c.ts, c.caller, end=end))

    def report_call_events(self, org_id: str, events: Sequence[CallEvent],
                           now: datetime | None = None) -> dict[str, Any]:
        """Store call events idempotently (per call id and start/end) and feed them to scoring; all or nothing."""
        now = now or datetime.now(UTC)
        keys = [(e.call_id, e.event) for e in events]
        if len(set(keys)) != len(keys):
            raise InvalidInput("the same call event twice in one batch", field="events")
        callers = _e164_all([e.caller for e in events], "events.caller")
        callees = _e164_all([e.callee for e in events], "events.callee")
        norm: list[CallEvent] = []
        for i, (e, a, b) in enumerate(zip(events, callers, callees, strict=True)):
            if e.event not in ("start", "end"):
                raise InvalidInput(f"event {e.event!r} is neither start nor end", field=f"events.{i}.event")
            if e.event == "end" and e.duration_s is None:
                raise InvalidInput("an end event carries the call's duration_s", field=f"events.{i}.duration_s")
            sim = None if e.latest_sim_change is None else _plausible(e.latest_sim_change,
                                                                      f"events.{i}.sim_swap.latestSimChange")
            ts = _plausible(e.ts, f"events.{i}.ts")
            if ts is e.ts and a == e.caller and b == e.callee and sim is e.latest_sim_change:
                norm.append(e)  # already in normal form (the usual case): no copy
            else:
                norm.append(replace(e, ts=ts, caller=a, callee=b, latest_sim_change=sim))
        self._check_callees(org_id, callees, required=True)
        hashes = {(e.call_id, e.event): _event_hash(e) for e in norm}
        fresh = self.store.add_call_events(org_id, norm, hashes, now)
        self._remember_events(fresh)
        flagged = self.knowledge.flagged_phones
        risky = [e.call_id for e in norm if e.event == "start" and self.book.is_risky(
            LiveCall(e.call_id, e.ts, e.caller, caller_verified=e.caller_verified,
                     caller_in_registry=e.caller_in_registry), flagged)]
        return {"stored": len(fresh), "duplicates": len(norm) - len(fresh), "risky": risky,
                "from_flagged": [e.call_id for e in norm if e.event == "start" and e.caller in flagged]}

    def _remember_events(self, events: Sequence[CallEvent]) -> None:
        with self.lock:
            for e in events:
                if e.event == "start":
                    self.book.start(e.callee, LiveCall(e.call_id, e.ts, e.caller, caller_verified=e.caller_verified,
                                                       caller_in_registry=e.caller_in_registry))
                    self.recent.record(Call(e.ts, e.caller, e.callee))
                else:
                    begun = e.ts - timedelta(seconds=e.duration_s or 0)
                    self.book.end(e.callee, e.call_id, begun, e.caller, e.ts)
                if e.forwarding_active is not None or e.latest_sim_change is not None:
                    self.book.line(e.callee, LineState(e.ts, e.forwarding_active, e.latest_sim_change))

    def restore(self, since: datetime, contacts_since: datetime | None = None) -> int:
        """Rebuild the live calls from the stored events after ``since``, and the subscribers' contacts from
        the call starts after ``contacts_since`` (if earlier)."""
        if contacts_since is not None and contacts_since < since:
            older = [e for e in self.store.call_events_since(contacts_since) if e.ts < since and e.event == "start"]
            with self.lock:
                for e in older:
                    self.book.contact(e.callee, e.caller, e.ts)
        events = self.store.call_events_since(since)
        self._remember_events(events)
        return len(events)

    def signals(self, phones: Sequence[str], now: datetime) -> tuple[float, ...]:
        with self.lock:
            return self.book.signals(phones, now, self.knowledge.flagged_phones)

    # ---- the block list
    def sync(self, phones: Sequence[str] | None = None, now: datetime | None = None) -> int:
        """Recompute whether each number (of ``phones``, or every one ever named) is listed; append a change
        for each whose state differs from its last one. Returns how many changed."""
        now = now or datetime.now(UTC)
        with self._sync_lock:
            reports: dict[str, list[NumberReport]] = {}
            for r in self.store.number_reports(phones):
                reports.setdefault(r.phone, []).append(r)
            states = self.store.block_states(phones)
            cleared = self.store.cleared_at(phones)
            changes: list[tuple[str, str, str]] = []
            for phone in sorted(set(reports) | set(states)):
                reason = why_listed(reports.get(phone, ()), cleared.get(phone))
                last = states.get(phone)
                listed_now = last is not None and last.action == "added"
                if reason is not None and not listed_now:
                    changes.append((phone, "added", reason))
                elif reason is None and listed_now:
                    changes.append((phone, "removed", "appeal_upheld" if phone in cleared else "uncorroborated"))
            self.store.append_changes(changes, now)
        return len(changes)

    def listed(self) -> list[dict[str, Any]]:
        """The numbers on the block list now, with who reported them."""
        states = {p: s for p, s in self.store.block_states().items() if s.action == "added"}
        merged: dict[str, dict[str, Any]] = {}
        for r in self.store.number_reports(sorted(states)):
            e = merged.setdefault(r.phone, {"orgs": set(), "first": r.reported_at, "n": 0})
            e["orgs"].add(r.reporter_org)
            e["n"] += 1
            e["first"] = min(e["first"], r.reported_at)
        legacy = {(r.phone, r.reporter_org): r.source for r in SqlTelecomStore(self.engine).fraud_number_reports()}
        out = []
        for phone, s in sorted(states.items()):
            e = merged.get(phone, {"orgs": set(), "first": s.at, "n": 0})
            sources = sorted({legacy.get((phone, o), "incident") for o in e["orgs"]})
            out.append({"phone": phone, "reason": s.reason, "listed_at": s.at.isoformat(), "sources": sources,
                        "reporters": len(e["orgs"]), "reports": e["n"], "first_reported_at": e["first"].isoformat()})
        return out

    def cursor(self) -> str:
        return str(self.store.last_seq())

    def changes_since(self, since: str | None, limit: int = MAX_CHANGES) -> dict[str, Any]:
        after = _parse_since(since, self.store)
        rows = self.store.changes_after(after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = rows[-1].seq if rows else max(after, 0)
        return {"changes": [{"seq": r.seq, "phone": r.phone, "action": r.action, "reason": r.reason,
                             "at": r.at.isoformat()} for r in rows],
                "next": str(nxt), "more": more}

    def confirm(self, org_id: str, numbers: Sequence[str], note: str | None, now: datetime | None = None
                ) -> tuple[list[str], int]:
        """The police confirm numbers as fraudulent: listed at once."""
        now = now or datetime.now(UTC)
        phones = list(dict.fromkeys(_e164_all(numbers, "numbers")))
        new = self.store.add_police_confirmations(org_id, phones, note, now)
        self.knowledge.flagged_phones.update(phones)
        self.sync(phones, now)
        return phones, new

    def is_listed(self, phone: str) -> bool:
        s = self.store.block_states([phone]).get(phone)
        return s is not None and s.action == "added"

    def file_appeal(self, org_id: str, number: str, reason: str, contact: str,
                    now: datetime | None = None) -> dict[str, Any]:
        [phone] = _e164_all([number], "phone")
        if not self.is_listed(phone):
            raise InvalidInput(f"{phone} is not on the block list: there is nothing to appeal", field="phone")
        appeal = NumberAppeal(f"napl-{uuid.uuid4().hex[:20]}", phone, reason, contact, org_id,
                              now or datetime.now(UTC), "pending")
        self.store.add_appeal(appeal)
        return appeal_json(appeal)

    def appeal(self, appeal_id: str, org_id: str | None) -> NumberAppeal:
        """``org_id`` None: the police (any appeal); else only the filer's own, another's answers as missing."""
        a = self.store.appeal(appeal_id)
        if a is None or (org_id is not None and a.filed_by != org_id):
            raise NotFound(f"no number appeal {appeal_id!r}", field="appeal_id")
        return a

    def decide_appeal(self, org_id: str, appeal_id: str, uphold: bool, note: str,
                      now: datetime | None = None) -> dict[str, Any]:
        """Uphold (de-list now; scoring stops flagging it) or reject. Twice: ``Conflict``."""
        now = now or datetime.now(UTC)
        a = self.appeal(appeal_id, None)
        if not self.store.decide_appeal(appeal_id, "upheld" if uphold else "rejected", org_id, note, now):
            raise Conflict(f"number appeal {appeal_id!r} is decided already", field="appeal_id")
        if uphold:
            self.knowledge.flagged_phones.discard(a.phone)
            self.sync([a.phone], now)
        return appeal_json(self.appeal(appeal_id, None))

    def cleared_phones(self) -> set[str]:
        """Numbers an upheld appeal cleared with no report since (a restart keeps them out of scoring)."""
        cleared = self.store.cleared_at()
        if not cleared:
            return set()
        later = {r.phone for r in self.store.number_reports(sorted(cleared)) if r.reported_at > cleared[r.phone]}
        return set(cleared) - later


def appeal_json(a: NumberAppeal) -> dict[str, Any]:
    return {"appeal_id": a.appeal_id, "phone": a.phone, "status": a.status, "reason": a.reason,
            "contact": a.contact, "filed_at": a.filed_at.isoformat(),
            "decided_at": None if a.decided_at is None else a.decided_at.isoformat(),
            "decision_note": a.decision_note}
