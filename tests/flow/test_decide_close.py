"""Closing the decision recorder: its threads stop, its connections go back, later work is refused."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_decisions import decisions
from zaslon.core.types import Channel, Transfer
from zaslon.errors import Unavailable
from zaslon.flow.decide import DecisionRecorder
from zaslon.flow.orgs import create_org
from zaslon.flow.rules import default_ruleset
from zaslon.flow.scoring import ScoringEngine

TS = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _tx(i: int) -> Transfer:
    return Transfer(f"C-{i}", TS + timedelta(minutes=i), "PAYER-1", "PAYEE-1", 15_000, "BYN", Channel.MOBILE,
                    "dev", "10.0.0.1", None, None, None)


def _scoring() -> ScoringEngine:
    eng = ScoringEngine()
    eng.set_ruleset(default_ruleset())
    return eng


def _ours() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("zaslon-")}


@pytest.mark.parametrize("inline", [True, False])
def test_close_stops_both_threads_and_gives_back_the_connections(engine: Engine, inline: bool) -> None:
    org = create_org(engine, name="Bank", kind="bank").org_id
    before = _ours()
    rec = DecisionRecorder(engine, inline=inline)
    done = rec.record(_scoring(), org, [_tx(1)])[1]  # through the writer thread
    done.result(timeout=10)
    [first] = rec.record_each(_scoring(), [(org, _tx(2), False)])  # inline on SQLite: the caller commits
    assert not isinstance(first, Exception)
    first[1].result(timeout=10)
    running = {t.name for t in _ours() - before}
    assert "zaslon-decision-writer" in running
    if rec._probe.enabled:  # a SQLite file: the raw writer connection and its checkpointer
        assert "zaslon-wal-checkpoint" in running and rec._wconn is not None
    rec.close()
    assert _ours() <= before
    assert rec._wconn is None and rec._checkpointer is None and rec._probe._conn is None
    rec.close()  # twice is harmless
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(decisions)).scalar_one() == 2


def test_a_closed_recorder_refuses_work_instead_of_reopening_or_hanging(engine: Engine) -> None:
    org = create_org(engine, name="Bank", kind="bank").org_id
    rec = DecisionRecorder(engine)
    rec.close()
    before = _ours()
    with pytest.raises(Unavailable):
        rec.record(_scoring(), org, [_tx(1)])
    with pytest.raises(Unavailable):
        rec.record_each(_scoring(), [(org, _tx(2), False)])
    assert _ours() <= before and rec._wconn is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(decisions)).scalar_one() == 0
