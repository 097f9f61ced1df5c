"""Telecom side: fraud numbers reported by operators, calls from them, and the block list.

Every number is normalised to E.164 before it is stored or compared. A batch is one transaction: one bad
number or a call id reused with another body and nothing of the batch is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zaslon.adapters.db.stores.telecom import SqlTelecomStore
from zaslon.core.calls import Call, RecentCalls
from zaslon.core.indicators import normalise_phone
from zaslon.core.knowledge import Knowledge
from zaslon.core.types import require_utc
from zaslon.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from zaslon.flow.ports.telecom import TelecomStore


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


def block_list(engine: Engine) -> list[dict[str, Any]]:
    """Numbers telecoms should block: reported by any operator or named in any incident."""
    store: TelecomStore = SqlTelecomStore(engine)
    merged: dict[str, dict[str, Any]] = {}
    for r in store.fraud_number_reports():
        entry = merged.setdefault(r.phone, {"phone": r.phone, "sources": set(), "first_reported_at": r.reported_at,
                                            "reports": 0})
        entry["sources"].add(r.source)
        entry["reports"] += 1
        entry["first_reported_at"] = min(entry["first_reported_at"], r.reported_at)
    return [{**e, "sources": sorted(e["sources"]), "first_reported_at": e["first_reported_at"].isoformat()}
            for e in merged.values()]
