"""Micro-batching of real-time requests: grouped, yet each request answered as if it came alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_decisions import decisions
from zaslon.core.knowledge import AccountFlag
from zaslon.core.types import Channel, Transfer
from zaslon.errors import Conflict
from zaslon.flow.decide import DecisionRecorder, Recorded
from zaslon.flow.orgs import create_org
from zaslon.flow.rules import default_ruleset
from zaslon.flow.score_batcher import ScoreBatcher
from zaslon.flow.scoring import ScoringEngine

TS = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _tx(i: int, amount: int = 15_000, payer: str = "PAYER-1", payee: str = "PAYEE-1") -> Transfer:
    return Transfer(f"T-{i}", TS + timedelta(minutes=i), payer, payee, amount, "BYN", Channel.MOBILE,
                    "dev", "10.0.0.1", None, None, None)


def _scoring() -> ScoringEngine:
    eng = ScoringEngine()
    eng.set_ruleset(default_ruleset())
    eng.knowledge.flag("PAYEE-2", AccountFlag.REPORTED)
    return eng


@pytest.fixture
def org(engine: Engine) -> str:
    return create_org(engine, name="Batch Bank", kind="bank").org_id


@pytest.fixture
def recorder(engine: Engine) -> Iterator[DecisionRecorder]:
    rec = DecisionRecorder(engine)
    yield rec
    rec.close()


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(decisions)).scalar_one())


def _run(batcher: ScoreBatcher, calls: list[tuple[str, Transfer, bool]]) -> list[Any]:
    async def go() -> list[Any]:
        return list(await asyncio.gather(*(batcher.score(o, t, c) for o, t, c in calls), return_exceptions=True))

    return asyncio.run(go())


def test_concurrent_requests_are_one_batch_and_match_sequential_scoring(
    engine: Engine, org: str, recorder: DecisionRecorder
) -> None:
    scoring = _scoring()
    batcher = ScoreBatcher(recorder, lambda: (scoring, None))
    # Arrival order differs from event time: the batch is still decided in event-time order.
    txs = [_tx(i, amount=1_000 * (i + 1), payee=f"PAYEE-{i % 3}") for i in (3, 1, 4, 0, 2, 5)]
    out = _run(batcher, [(org, t, i == 2) for i, t in enumerate(txs)])
    assert batcher.batches == 1 and batcher.scored == 6
    assert all(isinstance(r, Recorded) and not r.replayed for r in out)
    assert [r.decision.transfer_id for r in out] == [t.transfer_id for t in txs]
    assert _stored(engine) == 6  # committed before any answer came back
    # The same transfers one request at a time, in event-time order, on a fresh engine: the same decisions.
    alone = _scoring()
    order = sorted(range(len(txs)), key=lambda i: txs[i].ts)
    expect = {txs[i].transfer_id: alone.score(txs[i], on_flagged_call=i == 2) for i in order}
    for r in out:
        e = expect[r.decision.transfer_id]
        assert (r.decision.outcome, r.decision.score, r.decision.reasons) == (e.outcome, e.score, e.reasons)
    assert next(r for r in out if r.decision.transfer_id == "T-2").decision.outcome.value == "hold"


def test_a_conflict_fails_only_its_own_request(engine: Engine, org: str, recorder: DecisionRecorder) -> None:
    scoring = _scoring()
    batcher = ScoreBatcher(recorder, lambda: (scoring, None))
    first = _run(batcher, [(org, _tx(1), False)])[0]
    assert isinstance(first, Recorded)
    out = _run(batcher, [(org, _tx(2), False), (org, _tx(1, amount=99), False), (org, _tx(1), False),
                         (org, _tx(3), False)])
    assert isinstance(out[0], Recorded) and not out[0].replayed
    assert isinstance(out[1], Conflict)
    assert isinstance(out[2], Recorded) and out[2].replayed and out[2].decision == first.decision
    assert isinstance(out[3], Recorded) and not out[3].replayed
    assert _stored(engine) == 3


def test_same_id_twice_in_one_batch_behaves_like_sequential_requests(
    engine: Engine, org: str, recorder: DecisionRecorder
) -> None:
    scoring = _scoring()
    batcher = ScoreBatcher(recorder, lambda: (scoring, None))
    other = create_org(engine, name="Other Bank", kind="bank").org_id
    out = _run(batcher, [
        (org, _tx(5), False), (org, _tx(5), False),  # the same body: decided once, then a replay
        (org, _tx(6), False), (org, _tx(6, amount=7), False),  # another body under the id: a conflict
        (org, _tx(7), False), (other, _tx(7), False),  # the same id from another organisation: its own transfer
        (org, _tx(5), False),  # a third time
    ])
    assert batcher.batches == 1
    assert isinstance(out[0], Recorded) and not out[0].replayed
    assert isinstance(out[1], Recorded) and out[1].replayed and out[1].decision == out[0].decision
    assert isinstance(out[2], Recorded) and isinstance(out[3], Conflict)
    # Ids are each organisation's own: the other bank's T-7 is another transfer, decided on its own.
    assert isinstance(out[4], Recorded) and isinstance(out[5], Recorded) and not out[5].replayed
    assert isinstance(out[6], Recorded) and out[6].replayed
    assert _stored(engine) == 4
    assert batcher.scored == 7


def test_batches_are_bounded(engine: Engine, org: str, recorder: DecisionRecorder) -> None:
    scoring = _scoring()
    batcher = ScoreBatcher(recorder, lambda: (scoring, None), max_batch=4)
    out = _run(batcher, [(org, _tx(i), False) for i in range(10)])
    assert all(isinstance(r, Recorded) for r in out)
    assert batcher.batches == 3 and batcher.scored == 10
    assert _stored(engine) == 10


def test_an_idle_server_does_not_wait(engine: Engine, org: str, recorder: DecisionRecorder) -> None:
    scoring = _scoring()
    batcher = ScoreBatcher(recorder, lambda: (scoring, None))
    for i in range(3):  # one at a time: each is its own batch, answered at once
        assert isinstance(_run(batcher, [(org, _tx(i), False)])[0], Recorded)
    assert batcher.batches == 3


def test_a_failing_context_fails_its_batch_only(engine: Engine, org: str, recorder: DecisionRecorder) -> None:
    scoring = _scoring()
    calls = [0]

    def context() -> tuple[Any, Any]:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("rules store down")
        return scoring, None

    batcher = ScoreBatcher(recorder, context)
    out = _run(batcher, [(org, _tx(1), False), (org, _tx(2), False)])
    assert all(isinstance(r, RuntimeError) for r in out)
    assert _stored(engine) == 0
    out = _run(batcher, [(org, _tx(1), False)])
    assert isinstance(out[0], Recorded) and not out[0].replayed


def test_an_engine_error_on_one_transfer_spares_the_others(
    engine: Engine, org: str, recorder: DecisionRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zaslon.flow.decide as decide

    real = decide._score

    def flaky(eng: Any, batch: list[Transfer], calls: list[bool], shadow: Any, orgs: list[str]) -> list[Recorded]:
        if any(t.transfer_id == "T-2" for t in batch):
            raise ValueError("boom")
        return real(eng, batch, calls, shadow, orgs)

    monkeypatch.setattr(decide, "_score", flaky)
    scoring = _scoring()
    batcher = ScoreBatcher(recorder, lambda: (scoring, None))
    out = _run(batcher, [(org, _tx(1), False), (org, _tx(2), False), (org, _tx(3), False)])
    assert isinstance(out[0], Recorded) and isinstance(out[2], Recorded)
    assert isinstance(out[1], ValueError)
    assert _stored(engine) == 2


def test_the_batch_path_hashes_bodies_as_ingest_does() -> None:
    from zaslon.flow.ingest import body_hash, hash_row_body, row_body

    for t in (_tx(1), _tx(2, amount=7, payee="X")):
        assert hash_row_body(row_body(t)) == body_hash(t)


def test_a_replay_of_an_uncommitted_decision_waits_for_its_commit(
    engine: Engine, org: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    recorder = DecisionRecorder(engine, inline=False)  # the writer thread commits (a server database's way)

    gate = threading.Event()
    real = recorder._commit

    def held(work: Any) -> None:
        gate.wait(10)
        real(work)

    monkeypatch.setattr(recorder, "_commit", held)
    scoring = _scoring()
    first = recorder.record_each(scoring, [(org, _tx(1), False)])[0]
    again = recorder.record_each(scoring, [(org, _tx(1), False)])[0]
    assert not isinstance(first, Exception) and not isinstance(again, Exception)
    assert again[0].replayed and again[0].decision == first[0].decision
    assert not first[1].done() and not again[1].done()  # nobody is answered before the row is stored
    gate.set()
    first[1].result(10)
    again[1].result(10)
    assert _stored(engine) == 1
    later = recorder.record_each(scoring, [(org, _tx(1), False)])[0]
    assert not isinstance(later, Exception) and later[1].done()
    recorder.close()


def test_inline_commit_stores_before_record_each_returns(engine: Engine, org: str) -> None:
    recorder = DecisionRecorder(engine, inline=True)
    try:
        out = recorder.record_each(_scoring(), [(org, _tx(1), False), (org, _tx(2), False), (org, _tx(1), False)])
        assert all(not isinstance(r, Exception) and r[1].done() and r[1].exception() is None for r in out)
        assert _stored(engine) == 2
        again = out[2]
        assert not isinstance(again, Exception) and again[0].replayed
    finally:
        recorder.close()


def test_window_groups_a_steady_stream_and_an_idle_server_answers_at_once(
    engine: Engine, org: str, recorder: DecisionRecorder
) -> None:
    scoring = _scoring()
    # A window far longer than the stream's 30 ms, so a busy machine's scheduling cannot split the batch.
    window = 0.5
    batcher = ScoreBatcher(recorder, lambda: (scoring, None), window=window)

    async def stream() -> tuple[float, list[Any]]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        first = await batcher.score(org, _tx(0))  # idle: decided on the next turn of the loop
        idle_latency = loop.time() - started
        # Six requests arriving 5 ms apart right after a flush: they wait for the window and go as one batch.
        tasks = []
        for i in range(1, 7):
            tasks.append(asyncio.ensure_future(batcher.score(org, _tx(i))))
            await asyncio.sleep(0.005)
        return idle_latency, [first, *await asyncio.gather(*tasks)]

    idle_latency, out = asyncio.run(stream())
    assert idle_latency < window / 2  # the idle server did not wait for the window
    assert all(isinstance(r, Recorded) for r in out)
    assert batcher.batches == 2 and batcher.scored == 7
    assert _stored(engine) == 7


def test_commit_window_groups_rows_and_never_answers_before_the_commit(engine: Engine, org: str) -> None:
    scoring = _scoring()
    rec = DecisionRecorder(engine, commit_window=0.5, inline=False)  # far longer than the 30 ms stream
    commits: list[int] = []
    inner = rec._commit

    def counting(work: Any) -> None:
        commits.append(len(work))
        inner(work)

    rec._commit = counting  # type: ignore[method-assign]
    try:
        batcher = ScoreBatcher(rec, lambda: (scoring, None))

        async def stream() -> list[Any]:
            tasks = []
            for i in range(8):
                tasks.append(asyncio.ensure_future(batcher.score(org, _tx(i))))
                await asyncio.sleep(0.004)
            return list(await asyncio.gather(*tasks))

        out = asyncio.run(stream())
        assert all(isinstance(r, Recorded) for r in out) and _stored(engine) == 8
        # the first row alone (the writer was idle), the other seven arrive within one window
        assert sum(commits) == 8 and len(commits) <= 3
    finally:
        rec.close()
    with pytest.raises(ValueError):
        ScoreBatcher(rec, lambda: (scoring, None), window=-1)


def test_a_replay_never_answers_before_what_it_replays_is_stored(engine: Engine, org: str) -> None:
    from sqlalchemy import insert

    from zaslon.adapters.db.tables_core import transfers
    from zaslon.flow.ingest import row_body

    rec = DecisionRecorder(engine)  # SQLite: record_each commits inline, record() through the writer thread
    scoring, t = _scoring(), _tx(1)
    try:
        with rec._commit_lock:  # the writer is mid-commit
            _, done = rec.record(scoring, org, [t], source="batch")  # the batch route
            replay = rec.record_each(scoring, [(org, t, False)])[0]  # the single route, same body: a replay
            assert not isinstance(replay, Exception) and replay[0].replayed
            assert not replay[1].done()  # it waits for the batch's commit
            with engine.begin() as conn:  # another process stores the id first: the batch's commit fails
                conn.execute(insert(transfers), [{**row_body(t), "org_id": org, "ts": t.ts, "body_hash": "other",
                                                  "received_at": t.ts}])
        with pytest.raises(Conflict):
            done.result(timeout=10)
        with pytest.raises(Conflict):  # the replay is not answered 200 for a decision that was never stored
            replay[1].result(timeout=10)
        assert _stored(engine) == 0
    finally:
        rec.close()


def test_a_locked_store_fails_the_batch_once_as_unavailable(
    engine: Engine, org: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from zaslon.errors import Unavailable

    rec = DecisionRecorder(engine, inline=True)
    calls: list[int] = []

    def locked(t_rows: Any, d_rows: Any) -> None:
        calls.append(len(d_rows))
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(rec, "_commit_raw", locked)
    monkeypatch.setattr(rec._probe, "enabled", True)
    try:
        out = rec.record_each(_scoring(), [(org, _tx(i), False) for i in range(5)])
        for r in out:
            assert not isinstance(r, Exception)
            with pytest.raises(Unavailable):
                r[1].result(timeout=5)
        assert calls == [5]  # one attempt for the batch, not one more wait per request
        assert not rec._recent  # nothing remembered as decided: a retry is decided afresh
    finally:
        rec.close()
