"""SQL telecom stores (``zaslon.flow.ports.telecom``): fraud numbers and calls; number ranges, call events, the
block list's change log and appeals of listed numbers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.bulk import insert_rows
from zaslon.adapters.db.tables_core import orgs
from zaslon.adapters.db.tables_incidents import fraud_numbers, incident_indicators, incidents, indicators, telecom_calls
from zaslon.adapters.db.tables_telecom import block_list_changes, call_events, number_appeals, number_ranges
from zaslon.core.blocklist import NumberReport
from zaslon.errors import Conflict
from zaslon.flow.ports.telecom import BlockChange, CallEvent, FraudNumberReport, NumberAppeal

if TYPE_CHECKING:
    from zaslon.flow.telecom import CallReport

T = TypeVar("T")
_ATTEMPTS = 5
_CHUNK = 500


def insert_fraud_numbers(conn: Connection, phones: Iterable[str], org: str, *, source: str, now: datetime,
                         note: str | None = None) -> int:
    """Insert the numbers ``org`` has not reported yet, on the caller's transaction; returns how many."""
    phones = list(dict.fromkeys(phones))
    if not phones:
        return 0
    known = {r.phone for r in conn.execute(select(fraud_numbers.c.phone).where(
        fraud_numbers.c.reporter_org == org, fraud_numbers.c.phone.in_(phones)))}
    rows = [{"phone": p, "reporter_org": org, "source": source, "note": note, "reported_at": now}
            for p in phones if p not in known]
    if rows:
        conn.execute(insert(fraud_numbers), rows)
    return len(rows)


def _retrying(step: Callable[[], T]) -> T:
    """Run a read-then-insert transaction again when a concurrent writer inserted the same key first."""
    for attempt in range(_ATTEMPTS):
        try:
            return step()
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


class SqlTelecomStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_fraud_numbers(self, org_id: str, phones: Sequence[str], note: str | None, now: datetime) -> int:
        def once() -> int:
            with self.engine.begin() as conn:
                return insert_fraud_numbers(conn, phones, org_id, source="telecom", note=note, now=now)

        return _retrying(once)

    def add_calls(self, org_id: str, calls: Sequence[CallReport], hashes: Mapping[str, str],
                  now: datetime) -> list[CallReport]:
        return _retrying(lambda: self._add_calls_once(org_id, calls, hashes, now))

    def _add_calls_once(self, org_id: str, calls: Sequence[CallReport], hashes: Mapping[str, str],
                        now: datetime) -> list[CallReport]:
        ids = [c.call_id for c in calls]
        with self.engine.begin() as conn:
            known: dict[str, str] = {}
            for start in range(0, len(ids), _CHUNK):
                for r in conn.execute(select(telecom_calls.c.call_id, telecom_calls.c.body_hash).where(
                    telecom_calls.c.call_id.in_(ids[start : start + _CHUNK])
                )):
                    known[r.call_id] = r.body_hash
            clash = [i for i, h in known.items() if h != hashes[i]]
            if clash:
                raise Conflict(f"call ids already stored with a different body: {clash[:20]}", field="calls")
            fresh = [c for c in calls if c.call_id not in known]
            if fresh:
                conn.execute(insert(telecom_calls), [
                    {"call_id": c.call_id, "org_id": org_id, "ts": c.ts, "caller": c.caller, "callee": c.callee,
                     "callee_party": c.callee_party, "duration_s": c.duration_s, "body_hash": hashes[c.call_id],
                     "received_at": now} for c in fresh
                ])
        return fresh

    def fraud_number_reports(self) -> list[FraudNumberReport]:
        with self.engine.connect() as conn:
            return [FraudNumberReport(r.phone, r.reporter_org, r.source, r.reported_at) for r in conn.execute(
                select(fraud_numbers.c.phone, fraud_numbers.c.reporter_org, fraud_numbers.c.source,
                       fraud_numbers.c.reported_at).order_by(fraud_numbers.c.phone))]


# ---- number ranges, call events, the block list's change log, number appeals ---------------------------------


class SqlTelecomSignalStore:
    """``zaslon.flow.ports.telecom.TelecomSignalStore`` on SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def org_kind(self, org_id: str) -> str | None:
        with self.engine.connect() as conn:
            kind = conn.execute(select(orgs.c.kind).where(orgs.c.org_id == org_id)).scalar()
        return None if kind is None else str(kind)

    # ranges
    def ranges(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.prefix: r.org_id for r in conn.execute(select(number_ranges.c.prefix, number_ranges.c.org_id))}

    def set_ranges(self, org_id: str, add: Sequence[str], remove: Sequence[str], now: datetime) -> None:
        def once() -> None:
            with self.engine.begin() as conn:
                taken = {r.prefix: r.org_id for r in conn.execute(select(number_ranges.c.prefix, number_ranges.c.org_id)
                                                                  .where(number_ranges.c.prefix.in_([*add, *remove])))}
                clash = sorted(p for p in add if taken.get(p, org_id) != org_id)
                if clash:
                    raise Conflict(f"prefixes registered to another operator: {clash[:20]}", field="add")
                if remove:
                    conn.execute(delete(number_ranges).where(number_ranges.c.org_id == org_id,
                                                             number_ranges.c.prefix.in_(list(remove))))
                fresh = [p for p in add if p not in taken]
                if fresh:
                    conn.execute(insert(number_ranges), [{"prefix": p, "org_id": org_id, "added_at": now}
                                                         for p in fresh])

        _retrying(once)

    # call events
    def add_call_events(self, org_id: str, events: Sequence[CallEvent], hashes: Mapping[tuple[str, str], str],
                        now: datetime) -> list[CallEvent]:
        return _retrying(lambda: self._add_events_once(org_id, events, hashes, now))

    def _add_events_once(self, org_id: str, events: Sequence[CallEvent], hashes: Mapping[tuple[str, str], str],
                         now: datetime) -> list[CallEvent]:
        ids = list(dict.fromkeys(e.call_id for e in events))
        c = call_events.c
        with self.engine.begin() as conn:
            known: dict[tuple[str, str], str] = {}
            for start in range(0, len(ids), _CHUNK):
                for r in conn.execute(select(c.call_id, c.event, c.body_hash).where(
                        c.org_id == org_id, c.call_id.in_(ids[start : start + _CHUNK]))):
                    known[(r.call_id, r.event)] = r.body_hash
            clash = [f"{k[0]}/{k[1]}" for k, h in hashes.items() if k in known and known[k] != h]
            if clash:
                raise Conflict(f"call events already stored with a different body: {clash[:20]}", field="events")
            fresh = [e for e in events if (e.call_id, e.event) not in known]
            if fresh:
                insert_rows(conn, call_events, [
                    {"org_id": org_id, "call_id": e.call_id, "event": e.event, "ts": e.ts, "caller": e.caller,
                     "callee": e.callee, "callee_party": e.callee_party, "duration_s": e.duration_s,
                     "caller_verified": e.caller_verified, "caller_in_registry": e.caller_in_registry,
                     "forwarding_active": e.forwarding_active, "latest_sim_change": e.latest_sim_change,
                     "body_hash": hashes[(e.call_id, e.event)], "received_at": now} for e in fresh])
        return fresh

    def call_events_since(self, since: datetime) -> list[CallEvent]:
        c = call_events.c
        with self.engine.connect() as conn:
            return [CallEvent(r.call_id, r.event, r.ts, r.caller, r.callee, r.callee_party, r.duration_s,
                              r.caller_verified, r.caller_in_registry, r.forwarding_active, r.latest_sim_change)
                    for r in conn.execute(select(call_events).where(c.ts >= since).order_by(c.ts))]

    # reports behind the block list
    def number_reports(self, phones: Sequence[str] | None = None) -> list[NumberReport]:
        """Operators' reports and police confirmations (``fraud_numbers``), and every incident naming a phone
        (other than its own victim's), with its victim: all of them, or those of ``phones``."""
        out: list[NumberReport] = []
        fn, inc, ind, link = fraud_numbers.c, incidents.c, indicators.c, incident_indicators.c
        with self.engine.connect() as conn:
            q = select(fn.phone, fn.reporter_org, fn.source, fn.reported_at, orgs.c.kind).join(
                orgs, orgs.c.org_id == fn.reporter_org).where(fn.source != "incident")
            named = (select(ind.value, inc.reporter_org, inc.reporter_kind, inc.reported_at, inc.incident_id,
                            inc.victim_party, inc.victim_phone)
                     .join(incident_indicators, link.indicator_id == ind.indicator_id)
                     .join(incidents, inc.incident_id == link.incident_id)
                     .where(ind.kind == "phone"))
            chunks = [None] if phones is None else [list(phones[i : i + _CHUNK]) for i in range(0, len(phones), _CHUNK)]
            for chunk in chunks:
                q1 = q if chunk is None else q.where(fn.phone.in_(chunk))
                for r in conn.execute(q1):
                    out.append(NumberReport(r.phone, r.reporter_org, r.reported_at,
                                            by_police=r.source == "police" or r.kind == "police"))
                q2 = named if chunk is None else named.where(ind.value.in_(chunk))
                for n in conn.execute(q2):
                    if n.value == n.victim_phone:
                        continue
                    victim = (f"party:{n.victim_party}" if n.victim_party else
                              f"phone:{n.victim_phone}" if n.victim_phone else f"incident:{n.incident_id}")
                    out.append(NumberReport(n.value, n.reporter_org, n.reported_at,
                                            by_police=n.reporter_kind == "police", victim=victim))
        return out

    def add_police_confirmations(self, org_id: str, phones: Sequence[str], note: str | None, now: datetime) -> int:
        def once() -> int:
            with self.engine.begin() as conn:
                return insert_fraud_numbers(conn, phones, org_id, source="police", note=note, now=now)

        return _retrying(once)

    # the change log
    def block_states(self, phones: Sequence[str] | None = None) -> dict[str, BlockChange]:
        """The latest change of each number ever listed (of ``phones``, or all)."""
        b = block_list_changes.c
        latest = select(b.phone, func.max(b.seq).label("seq")).group_by(b.phone)
        if phones is not None:
            latest = latest.where(b.phone.in_(list(phones)))
        sub = latest.subquery()
        q = select(block_list_changes).join(sub, sub.c.seq == b.seq)
        with self.engine.connect() as conn:
            return {r.phone: BlockChange(r.seq, r.phone, r.action, r.reason, r.at) for r in conn.execute(q)}

    def append_changes(self, changes: Sequence[tuple[str, str, str]], now: datetime) -> None:
        """(phone, action, reason) rows, in one transaction."""
        if changes:
            with self.engine.begin() as conn:
                conn.execute(insert(block_list_changes), [{"phone": p, "action": a, "reason": r, "at": now}
                                                          for p, a, r in changes])

    def changes_after(self, seq: int, limit: int) -> list[BlockChange]:
        b = block_list_changes.c
        with self.engine.connect() as conn:
            return [BlockChange(r.seq, r.phone, r.action, r.reason, r.at) for r in conn.execute(
                select(block_list_changes).where(b.seq > seq).order_by(b.seq).limit(limit))]

    def last_seq_before(self, at: datetime) -> int:
        b = block_list_changes.c
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(b.seq), 0)).where(b.at < at)).scalar_one())

    def last_seq(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(block_list_changes.c.seq), 0))).scalar_one())

    # appeals
    def add_appeal(self, appeal: NumberAppeal) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(number_appeals).values(
                appeal_id=appeal.appeal_id, phone=appeal.phone, reason=appeal.reason, contact=appeal.contact,
                filed_by=appeal.filed_by, filed_at=appeal.filed_at, status=appeal.status))

    def appeal(self, appeal_id: str) -> NumberAppeal | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(number_appeals).where(number_appeals.c.appeal_id == appeal_id)).first()
        return None if r is None else _appeal(r)

    def decide_appeal(self, appeal_id: str, status: str, by: str, note: str, now: datetime) -> bool:
        """Decide a pending appeal; False when it was decided already (by a concurrent analyst too)."""
        a = number_appeals.c
        with self.engine.begin() as conn:
            done = conn.execute(update(number_appeals).where(a.appeal_id == appeal_id, a.status == "pending")
                                .values(status=status, decided_by=by, decided_at=now, decision_note=note))
            return bool(done.rowcount)

    def cleared_at(self, phones: Sequence[str] | None = None) -> dict[str, datetime]:
        """When an upheld appeal last de-listed each number."""
        a = number_appeals.c
        q = select(a.phone, func.max(a.decided_at).label("at")).where(a.status == "upheld").group_by(a.phone)
        if phones is not None:
            q = q.where(a.phone.in_(list(phones)))
        with self.engine.connect() as conn:
            return {r.phone: r.at for r in conn.execute(q)}


def _appeal(r: Any) -> NumberAppeal:
    return NumberAppeal(r.appeal_id, r.phone, r.reason, r.contact, r.filed_by, r.filed_at, r.status,
                        r.decided_by, r.decided_at, r.decision_note)
