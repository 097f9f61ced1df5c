"""The recorder's SQLite fast paths: id probe, driver-level group commit, and answers after a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.db.tables_decisions import decisions
from zaslon.core.knowledge import AccountFlag
from zaslon.core.types import Channel, Transfer
from zaslon.errors import Conflict
from zaslon.flow.decide import DecisionRecorder
from zaslon.flow.ingest import body_hash, row_body
from zaslon.flow.orgs import create_org
from zaslon.flow.rules import default_ruleset
from zaslon.flow.scoring import ScoringEngine

TS = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _tx(i: int, amount: int = 15_000) -> Transfer:
    return Transfer(f"T-{i}", TS + timedelta(minutes=i), "PAYER-1", "PAYEE-1", amount, "BYN", Channel.MOBILE,
                    "dev", "10.0.0.1", None, None, None)


@pytest.fixture
def org(engine: Engine) -> str:
    return create_org(engine, name="Fast Bank", kind="bank").org_id


def _scoring() -> ScoringEngine:
    eng = ScoringEngine()
    eng.set_ruleset(default_ruleset())
    eng.knowledge.flag("PAYEE-1", AccountFlag.REPORTED)  # held: a hold_until to store and read back
    return eng


def _record(engine: Engine, org: str, batch: list[Transfer]) -> list[Any]:
    rec = DecisionRecorder(engine)
    try:
        out, done = rec.record(_scoring(), org, batch)
        done.result(timeout=10)
        return out
    finally:
        rec.close()


def test_replay_after_restart_returns_the_stored_decision(engine: Engine, org: str) -> None:
    first = _record(engine, org, [_tx(1)])[0]
    assert first.decision.hold_until is not None
    again = _record(engine, org, [_tx(1)])[0]  # a new recorder: the id is not in memory, only stored
    assert again.replayed is True
    assert again.decision == first.decision
    with engine.connect() as conn:
        assert len(conn.execute(select(decisions.c.decision_id)).all()) == 1


def test_different_body_after_restart_is_a_conflict_and_stores_nothing(engine: Engine, org: str) -> None:
    _record(engine, org, [_tx(1)])
    with pytest.raises(Conflict):
        _record(engine, org, [_tx(2), _tx(1, amount=99)])
    with engine.connect() as conn:
        assert [r.transfer_id for r in conn.execute(select(transfers.c.transfer_id))] == ["T-1"]


def test_stored_transfer_without_decision_is_checked_too(engine: Engine, org: str) -> None:
    t = _tx(5)
    with engine.begin() as conn:  # e.g. ingested earlier through /v1/transfers, never scored
        conn.execute(insert(transfers), [{**row_body(t), "org_id": org, "ts": t.ts, "body_hash": body_hash(t),
                                          "received_at": TS}])
    out = _record(engine, org, [t])[0]
    assert out.replayed is False  # scored now; the stored transfer row is kept, not inserted twice
    with pytest.raises(Conflict):
        _record(engine, org, [_tx(5, amount=1)])


def test_driver_level_rows_equal_sqlalchemy_rows(engine: Engine, org: str) -> None:
    """Rows written through the driver read back exactly like rows SQLAlchemy itself wrote."""
    rec = DecisionRecorder(engine)
    try:
        out, done = rec.record(_scoring(), org, [_tx(1), _tx(2)])
        done.result(timeout=10)
    finally:
        rec.close()
    with engine.connect() as conn:
        fast = [dict(r._mapping) for r in conn.execute(select(*decisions.c).order_by(decisions.c.transfer_id))]
        fast_t = [dict(r._mapping) for r in conn.execute(select(*transfers.c).order_by(transfers.c.transfer_id))]
    with engine.begin() as conn:
        conn.execute(decisions.delete())
        conn.execute(transfers.delete())
        slow = [{k: v for k, v in r.items() if k != "decision_id"} for r in fast]
        conn.execute(insert(transfers), fast_t)
        conn.execute(insert(decisions), slow)
    with engine.connect() as conn:
        back = [dict(r._mapping) for r in conn.execute(select(*decisions.c).order_by(decisions.c.transfer_id))]
        raw_fast = conn.exec_driver_sql("SELECT transfer_ts, hold_until, decided_at FROM decisions").all()
    assert [{k: v for k, v in r.items() if k != "decision_id"} for r in back] == slow
    assert all(isinstance(r["transfer_ts"], datetime) for r in fast)
    assert len(raw_fast) == 2 and out[0].decision.hold_until is not None


def test_probe_is_off_for_in_memory_sqlite() -> None:
    from zaslon.adapters.db.engine import make_engine

    rec = DecisionRecorder(make_engine("sqlite://"))
    try:
        assert rec._probe.known(["x"]) is None  # the general SQLAlchemy path decides
    finally:
        rec.close()


def test_concurrent_insert_by_another_process_is_a_conflict(engine: Engine, org: str) -> None:
    """The unique constraint still turns a race lost at commit time into a 409 (driver-level path)."""
    rec = DecisionRecorder(engine)
    try:
        _, done = rec.record(_scoring(), org, [_tx(7)])
        done.result(timeout=10)
        rec._recent.clear()  # as if another process had written it: not in memory
        rec._probe.known = lambda ids: set()  # type: ignore[method-assign]  # and lost the look-up race
        _, done2 = rec.record(_scoring(), org, [_tx(7)])
        with pytest.raises(Conflict):
            done2.result(timeout=10)
    finally:
        rec.close()
