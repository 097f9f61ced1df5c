"""Telecom side: fraud numbers reported by operators, calls from them, and the block list.

Every number is normalised to E.164 before it is stored or compared. A batch is one transaction: one bad
number or a call id reused with another body and nothing of the batch is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.tables_incidents import fraud_numbers, telecom_calls
from zaslon.core.calls import Call, RecentCalls
from zaslon.core.indicators import normalise_phone
from zaslon.core.knowledge import Knowledge
from zaslon.core.types import require_utc
from zaslon.errors import Conflict, InvalidInput

T = TypeVar("T")


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

    def once() -> int:
        with engine.begin() as conn:
            known = {r.phone for r in conn.execute(select(fraud_numbers.c.phone).where(
                fraud_numbers.c.reporter_org == org_id, fraud_numbers.c.phone.in_(phones)))}
            rows = [{"phone": p, "reporter_org": org_id, "source": "telecom", "note": note, "reported_at": now}
                    for p in phones if p not in known]
            if rows:
                conn.execute(insert(fraud_numbers), rows)
        return len(rows)

    new = _retrying(once)
    knowledge.flagged_phones.update(phones)
    return phones, new


def _retrying(step: Callable[[], T]) -> T:
    """Run a read-then-insert transaction again when a concurrent writer inserted the same key first."""
    for attempt in range(5):
        try:
            return step()
        except IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


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
    fresh = _retrying(lambda: _store_calls(engine, org_id, ids, norm, hashes, now))
    for c in fresh:
        recent.record(Call(c.ts, c.caller, c.callee, c.duration_s))
    flagged = [c.call_id for c in norm if c.caller in knowledge.flagged_phones]
    return {"stored": len(fresh), "duplicates": len(norm) - len(fresh), "from_flagged": flagged}


def _store_calls(engine: Engine, org_id: str, ids: list[str], norm: list[CallReport], hashes: dict[str, str],
                 now: datetime) -> list[CallReport]:
    with engine.begin() as conn:
        known: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            for r in conn.execute(select(telecom_calls.c.call_id, telecom_calls.c.body_hash).where(
                telecom_calls.c.call_id.in_(ids[start : start + 500])
            )):
                known[r.call_id] = r.body_hash
        clash = [i for i, h in known.items() if h != hashes[i]]
        if clash:
            raise Conflict(f"call ids already stored with a different body: {clash[:20]}", field="calls")
        fresh = [c for c in norm if c.call_id not in known]
        if fresh:
            conn.execute(insert(telecom_calls), [
                {"call_id": c.call_id, "org_id": org_id, "ts": c.ts, "caller": c.caller, "callee": c.callee,
                 "callee_party": c.callee_party, "duration_s": c.duration_s, "body_hash": hashes[c.call_id],
                 "received_at": now} for c in fresh
            ])
    return fresh


def block_list(engine: Engine) -> list[dict[str, Any]]:
    """Numbers telecoms should block: reported by any operator or named in any incident."""
    merged: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(select(fraud_numbers.c.phone, fraud_numbers.c.source, fraud_numbers.c.reported_at)
                              .order_by(fraud_numbers.c.phone)):
            entry = merged.setdefault(r.phone, {"phone": r.phone, "sources": set(), "first_reported_at": r.reported_at,
                                                "reports": 0})
            entry["sources"].add(r.source)
            entry["reports"] += 1
            entry["first_reported_at"] = min(entry["first_reported_at"], r.reported_at)
    return [{**e, "sources": sorted(e["sources"]), "first_reported_at": e["first_reported_at"].isoformat()}
            for e in merged.values()]
