"""SQL telecom store (``zaslon.flow.ports.telecom``): fraud numbers and calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.tables_incidents import fraud_numbers, telecom_calls
from zaslon.errors import Conflict
from zaslon.flow.ports.telecom import FraudNumberReport

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
