"""Shared by the scale-out tests: a stream of transfers, a patient client, and the fault-free reference."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.db.stores.bus import SqlBusStore
from zaslon.adapters.db.tables_decisions import decisions
from zaslon.core.types import Transfer
from zaslon.flow.exchange import Exchange
from zaslon.flow.partition import Incoming, PartitionScorer, message_key, partition_of

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def decision(transfer_id: str, outcome: str = "allow") -> dict[str, Any]:
    """A stored decision row as a worker answers with it."""
    return {"transfer_id": transfer_id, "org_id": "org-1", "body_hash": "h", "outcome": outcome, "score": 0.25,
            "transfer_ts": T0, "decided_at": T0 + timedelta(seconds=1),
            "hold_until": None, "reasons": "[]", "ruleset_version": "r1", "model_version": None,
            "shadow_version": None, "shadow_outcome": None, "shadow_hits": None, "source": "bus",
            "message_id": None, "feature_seq": 7}


def transfers(n: int, start: int = 0, prefix: str = "tx") -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + n):
        out.append({"transfer_id": f"{prefix}-{i}", "ts": (T0 + timedelta(seconds=37 * i)).isoformat(),
                    "payer": f"PAYER{i % 12}", "payee": f"PAYEE{(i * 7) % 9}", "amount": 1_000 + 373 * (i % 17),
                    "device": f"dev-{i % 5}", "channel": "mobile" if i % 3 else "web",
                    "payer_bank": "AKBBBY2X"})  # the bank of the tests' organisation: it submits its own
    return out


def to_domain(d: dict[str, Any]) -> Transfer:
    from zaslon.adapters.http.schemas import TransferIn

    return TransferIn.model_validate(d).to_domain()


def score_patiently(client: TestClient | Any, headers: dict[str, str], body: dict[str, Any],
                    *, deadline_s: float = 40.0) -> dict[str, Any]:
    """A bank's client: on 503 it retries the same transfer id (after Retry-After) until it has a decision."""
    stop = time.monotonic() + deadline_s
    while True:
        r = client.post("/v1/transfers/score", json=body, headers=headers)
        if r.status_code == 200:
            return dict(r.json())
        assert r.status_code == 503, (r.status_code, r.text)
        assert r.headers.get("Retry-After") == "1"
        if time.monotonic() > stop:
            raise TimeoutError(f"no decision for {body['transfer_id']}")
        time.sleep(0.2)


def decision_rows(db_url: str, org_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Decisions by transfer id (of one organisation: ids are each bank's own); asserts one row per id."""
    eng = make_engine(db_url)
    q = select(decisions) if org_id is None else select(decisions).where(decisions.c.org_id == org_id)
    count = select(func.count()).select_from(decisions)
    with eng.connect() as conn:
        rows = {r.transfer_id: dict(r._mapping) for r in conn.execute(q)}
        assert conn.execute(count if org_id is None else count.where(decisions.c.org_id == org_id)).scalar() \
            == len(rows)
    eng.dispose()
    return rows


def reference(bodies: list[dict[str, Any]], partitions: int, org_id: str, tmp: Path) -> tuple[
        dict[int, str], dict[str, float]]:
    """The fault-free run: each partition's transfers scored in order by the product's engine, one per batch.
    Returns each partition's state fingerprint and each transfer's score."""
    url = f"sqlite:///{tmp / 'reference.db'}"
    upgrade(url)
    db: Engine = make_engine(url)
    ex = Exchange(db)
    scorers = {p: PartitionScorer(ex, p) for p in range(partitions)}
    scores: dict[str, float] = {}
    for i, b in enumerate(bodies):
        t = to_domain(b)
        key, h = message_key(org_id, t)
        out = scorers[partition_of(t.payer, partitions)].score([Incoming(i + 1, org_id, t, False, key, h)], {}, {})
        assert out.handled[0].recorded is not None
        scores[t.transfer_id] = out.handled[0].recorded.decision.score
    prints = {p: s.fingerprint() for p, s in scorers.items()}
    ex.close()
    db.dispose()
    return prints, scores


def cluster_fingerprints(db_url: str, partitions: int, tmp: Path) -> dict[int, str]:
    """The workers' states as their last snapshots hold them (a worker snapshots all it owns when it stops)."""
    url = f"sqlite:///{tmp / 'fp.db'}"
    upgrade(url)
    db = make_engine(url)
    ex = Exchange(db)
    eng = make_engine(db_url)
    store = SqlBusStore(eng)
    out = {}
    for p in range(partitions):
        s = PartitionScorer(ex, p)
        snap = store.load_snapshot(p)
        if snap is not None:
            s.restore(snap[1], snap[0])
        out[p] = s.fingerprint()
    ex.close()
    db.dispose()
    eng.dispose()
    return out
