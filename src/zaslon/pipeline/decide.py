"""Score transfers for a bank and record every decision for audit, all or nothing.

One unit of work per request: in one database transaction we check the ids (a transfer already decided
with the same body gets its stored decision back; a different body under a known id is a conflict and
nothing is written), score the new transfers with the running engine, evaluate the shadow rule set on the
same features (recorded, never deciding), then store the transfers and their decisions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from zaslon.adapters.db.tables_core import transfers as transfers_table
from zaslon.adapters.db.tables_decisions import decisions as decisions_table
from zaslon.core.rules import RuleSet
from zaslon.core.types import Decision, Outcome, Reason, Transfer
from zaslon.errors import Conflict, InvalidInput
from zaslon.pipeline.ingest import _row_body, body_hash


@dataclass(frozen=True, slots=True)
class Recorded:
    decision: Decision
    shadow_version: str | None = None
    shadow_outcome: Outcome | None = None
    shadow_hits: tuple[str, ...] = ()
    replayed: bool = False  # True: decided earlier, returned from the store
    extra: dict[str, Any] = field(default_factory=dict)


def _reasons_json(reasons: Sequence[Reason]) -> str:
    return json.dumps([{"code": r.code, "detail": r.detail, "weight": r.weight} for r in reasons])


def _aware(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _from_row(row: Any) -> Recorded:
    reasons = tuple(Reason(r["code"], r["detail"], float(r["weight"])) for r in json.loads(row.reasons))
    d = Decision(
        row.transfer_id, Outcome(row.outcome), float(row.score), reasons, _aware(row.hold_until),
        row.ruleset_version, row.model_version,
    )
    hits = tuple(json.loads(row.shadow_hits)) if row.shadow_hits else ()
    shadow_outcome = Outcome(row.shadow_outcome) if row.shadow_outcome else None
    return Recorded(d, row.shadow_version, shadow_outcome, hits, replayed=True)


def _known(conn: Connection, table: Any, ids: list[str], *cols: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in conn.execute(select(*cols).where(table.c.transfer_id.in_(chunk))):
            out[row.transfer_id] = row
    return out


def score_and_record(
    db: Engine,
    engine: Any,
    org_id: str,
    batch: Sequence[Transfer],
    *,
    on_flagged_call: Sequence[bool] | None = None,
    shadow: RuleSet | None = None,
    source: str = "json",
    message_id: str | None = None,
    now: datetime | None = None,
) -> list[Recorded]:
    """Decisions for ``batch`` in its order. ``engine`` is a ``zaslon.pipeline.scoring.ScoringEngine``."""
    ids = [t.transfer_id for t in batch]
    if not ids:
        raise InvalidInput("nothing to score", field="body")
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidInput(f"duplicate transfer ids in one request: {dupes[:10]}", field="transfer_id")
    calls = list(on_flagged_call) if on_flagged_call is not None else [False] * len(batch)
    hashes = {t.transfer_id: body_hash(t) for t in batch}
    at = now or datetime.now(UTC)
    with db.begin() as conn:
        stored_t = _known(conn, transfers_table, ids, transfers_table.c.transfer_id, transfers_table.c.body_hash,
                          transfers_table.c.org_id)
        for tid, row in stored_t.items():
            if row.body_hash != hashes[tid] or row.org_id != org_id:
                raise Conflict(f"transfer {tid!r} was already stored with a different body", field="transfer_id")
        stored_d = _known(conn, decisions_table, ids, *decisions_table.c)
        for tid, row in stored_d.items():
            if row.body_hash != hashes[tid] or row.org_id != org_id:
                raise Conflict(f"transfer {tid!r} was already scored with a different body", field="transfer_id")
        new = [i for i, t in enumerate(batch) if t.transfer_id not in stored_d]
        fresh = _score(engine, [batch[i] for i in new], [calls[i] for i in new], shadow) if new else []
        by_index = dict(zip(new, fresh, strict=True))
        t_rows = [
            {**_row_body(batch[i]), "org_id": org_id, "ts": batch[i].ts, "body_hash": hashes[batch[i].transfer_id],
             "received_at": at}
            for i in new if batch[i].transfer_id not in stored_t
        ]
        if t_rows:
            conn.execute(insert(transfers_table), t_rows)
        d_rows = [
            {
                "transfer_id": r.decision.transfer_id, "org_id": org_id,
                "body_hash": hashes[r.decision.transfer_id], "transfer_ts": batch[i].ts, "decided_at": at,
                "outcome": r.decision.outcome.value, "score": float(r.decision.score),
                "hold_until": r.decision.hold_until, "reasons": _reasons_json(r.decision.reasons),
                "ruleset_version": r.decision.ruleset_version, "model_version": r.decision.model_version,
                "shadow_version": r.shadow_version,
                "shadow_outcome": r.shadow_outcome.value if r.shadow_outcome else None,
                "shadow_hits": json.dumps(list(r.shadow_hits)) if r.shadow_version else None,
                "source": source, "message_id": message_id,
            }
            for i, r in by_index.items()
        ]
        if d_rows:
            conn.execute(insert(decisions_table), d_rows)
    return [by_index[i] if i in by_index else _from_row(stored_d[t.transfer_id]) for i, t in enumerate(batch)]


def _score(engine: Any, batch: list[Transfer], calls: list[bool], shadow: RuleSet | None) -> list[Recorded]:
    from zaslon.core.features import knowledge_flags
    from zaslon.core.policy import OUTCOMES
    from zaslon.pipeline.scoring import columns_of

    cols = columns_of(batch, calls)
    res = engine.score_columns(cols)
    decisions = engine.decisions(res, [t.transfer_id for t in batch], cols.ts)
    if shadow is None:
        return [Recorded(d) for d in decisions]
    # The shadow set sees exactly the features the live decision saw; it is recorded, never applied.
    flags = engine.knowledge.accounts
    payer_f, payee_f = knowledge_flags(cols.payer, flags), knowledge_flags(cols.payee, flags)
    sres = engine.judge(res.features, payer_f, payee_f, explain=False, ruleset=shadow, names=None, model=True)
    hits = shadow.evaluate_batch(res.features)
    return [
        Recorded(d, shadow.version, OUTCOMES[int(sres.outcome[i])], tuple(h.rule_id for h in hits.row(i)))
        for i, d in enumerate(decisions)
    ]


def recent_decisions(db: Engine, org_id: str | None, limit: int = 100) -> list[Recorded]:
    """The latest decisions (of one organisation, or all for the police)."""
    q = select(*decisions_table.c).order_by(decisions_table.c.decision_id.desc()).limit(limit)
    if org_id is not None:
        q = q.where(decisions_table.c.org_id == org_id)
    with db.connect() as conn:
        return [_from_row(r) for r in conn.execute(q)]
