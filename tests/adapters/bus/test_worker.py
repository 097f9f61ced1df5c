"""A worker's rounds without a nats-server: a round's answers one message per API node (any other reply alone);
two rounds overlapping, each committed after the one before, acknowledged and answered after its own commit."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zaslon.adapters.bus.streams import encode_answer
from zaslon.adapters.bus.worker import _Answers

from .helpers import decision, to_domain, transfers


class FakeNats:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, data: bytes) -> None:
        self.sent.append((subject, data))


def test_a_rounds_answers_go_one_message_per_api_node() -> None:
    answers = _Answers()
    a = [encode_answer(decision(f"tx-{i}"), False, None) for i in range(4)]
    answers.add("_ZR.nodeA.1", a[0])
    answers.add("_ZR.nodeB.7", a[1])
    answers.add("_ZR.nodeA.2", a[2])
    answers.add("_INBOX.client.x", a[3])  # someone's own reply subject: answered alone, as sent
    nc = FakeNats()

    async def run() -> None:
        await asyncio.gather(*answers.publish(nc))  # type: ignore[arg-type]

    asyncio.run(run())
    sent: dict[str, Any] = dict(nc.sent)
    assert sorted(sent) == ["_INBOX.client.x", "_ZR.nodeA.answers", "_ZR.nodeB.answers"]
    assert json.loads(sent["_ZR.nodeA.answers"]) == {"1": json.loads(a[0]), "2": json.loads(a[2])}
    assert json.loads(sent["_ZR.nodeB.answers"]) == {"7": json.loads(a[1])}
    assert sent["_INBOX.client.x"] == a[3]


# ---- overlapping rounds (no nats-server, no PostgreSQL: a fake bus and store, the real Exchange on SQLite) ------
class FakeMsg:
    def __init__(self, events: list[tuple[str, str]], org: str, body: dict[str, Any], seq: int, token: int) -> None:
        from types import SimpleNamespace

        from zaslon.adapters.bus.streams import REPLY_HEADER, encode_transfer

        self.events, self.name = events, body["transfer_id"]
        self.data = encode_transfer(org, to_domain(body), False)
        self.subject = "zaslon.score.0"
        self.headers = {REPLY_HEADER: f"_ZR.node.{token}"}
        self.metadata = SimpleNamespace(sequence=SimpleNamespace(stream=seq), timestamp=datetime.now(UTC),
                                        num_delivered=1)

    async def ack(self) -> None:
        self.events.append(("ack", self.name))

    async def nak(self, delay: float | None = None) -> None:
        self.events.append(("nak", self.name))


class FakePuller:
    def __init__(self, msgs: list[FakeMsg]) -> None:
        self.msgs = msgs

    def take(self) -> list[FakeMsg]:
        return self.msgs


class FakeStore:
    """Commits wait for the test's say-so; the first one fails if told to."""

    def __init__(self, events: list[tuple[str, str]], *, fail_first: bool) -> None:
        self.events, self.fail_first = events, fail_first
        self.gates: list[asyncio.Event] = []
        self.committed: list[list[str]] = []

    async def lookup_round(self, consumer: str, keys: list[str], ids: list[tuple[str, str]]) -> tuple[Any, Any, Any]:
        self.events.append(("lookup", ",".join(sorted(t for _, t in ids))))
        return {}, {}, {}

    async def commit_round(self, t_rows: Any, d_rows: Any, inbox_rows: Any, outbox_rows: Any) -> None:
        names = ",".join(sorted(r["transfer_id"] for r in inbox_rows))
        self.events.append(("commit-start", names))
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        if self.fail_first and len(self.gates) == 1:
            self.events.append(("commit-failed", names))
            raise RuntimeError("PostgreSQL went away")
        self.committed.append([r["status"] for r in inbox_rows])
        self.events.append(("commit-done", names))


class FakeBus:
    def __init__(self, events: list[tuple[str, str]]) -> None:
        self.events = events

    async def publish(self, subject: str, data: bytes) -> None:
        got = json.loads(data)
        self.events.append(("answer", ",".join(f"{a['decision']['transfer_id']}:{a['replayed']}"
                                               for a in got.values())))


async def _until(cond: Any) -> None:
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not reached")


def _overlapping_rounds(tmp_path: Path, *, fail_first: bool) -> tuple[list[tuple[str, str]], FakeStore, list[int]]:
    from zaslon.adapters.bus.worker import ScoringWorker
    from zaslon.adapters.db.engine import make_engine, upgrade
    from zaslon.flow.partition import PartitionScorer
    from zaslon.settings import Settings

    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    settings = Settings(database_url="postgresql+psycopg://unused/x", bus_round_ms=0)
    worker = ScoringWorker(settings, [0, 1], db=make_engine(url))
    events: list[tuple[str, str]] = []
    store = FakeStore(events, fail_first=fail_first)
    rebuilt: list[int] = []

    async def rebuild(p: int) -> PartitionScorer:
        rebuilt.append(p)
        return PartitionScorer(worker.exchange, p)

    worker.store = store  # type: ignore[assignment]
    worker._nc = FakeBus(events)  # type: ignore[assignment]
    worker._rebuild_safely = rebuild  # type: ignore[method-assign]
    worker.scorers = {p: PartitionScorer(worker.exchange, p) for p in (0, 1)}
    bodies = transfers(3)
    first = [FakeMsg(events, "org-1", bodies[0], 1, 1), FakeMsg(events, "org-1", bodies[1], 2, 2)]
    again = FakeMsg(events, "org-1", bodies[0], 1, 4)  # the first message redelivered, its commit under way
    second = [FakeMsg(events, "org-1", bodies[2], 3, 3)]

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker._processor(stop))
        loop = asyncio.get_running_loop()
        done0: asyncio.Future[None] = loop.create_future()
        worker._queue.append((0, FakePuller(first), done0))  # type: ignore[arg-type]
        worker._work.set()
        await _until(lambda: store.gates)  # round 1 commits, and waits
        assert done0.done()  # scored: partition 0 may go into the next round meanwhile
        done1: asyncio.Future[None] = loop.create_future()
        done2: asyncio.Future[None] = loop.create_future()
        worker._queue += [(1, FakePuller(second), done1), (0, FakePuller([again]), done2)]  # type: ignore[list-item]
        worker._work.set()
        await _until(lambda: done1.done() and done2.done())  # round 2 looked up and scored meanwhile
        await asyncio.sleep(0.05)
        assert [e for e in events if e[0] == "commit-start"] == [("commit-start", "tx-0,tx-1")]  # not before 1
        assert not [e for e in events if e[0] in ("ack", "answer")]  # nothing before a commit
        store.gates[0].set()
        if not fail_first:
            await _until(lambda: len(store.gates) == 2)
            store.gates[1].set()
        await _until(lambda: task.done() or (len(store.committed) == 2 if not fail_first else len(rebuilt) >= 2))
        await asyncio.sleep(0.05)
        stop.set()
        worker._work.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(run())
    worker.exchange.close()
    return events, store, rebuilt


def test_the_next_round_is_scored_while_the_last_commits_and_acks_and_answers_follow_each_commit(
        tmp_path: Path) -> None:
    events, store, rebuilt = _overlapping_rounds(tmp_path, fail_first=False)
    order = [e for e in events if e[0] != "lookup"]
    assert order.index(("commit-done", "tx-0,tx-1")) < order.index(("ack", "tx-0"))
    assert order.index(("ack", "tx-1")) < order.index(("answer", "tx-0:False,tx-1:False"))
    assert order.index(("answer", "tx-0:False,tx-1:False")) < order.index(("commit-start", "tx-2"))
    # the redelivered first message: found in the round committing meanwhile, answered as a replay, not stored again
    assert ("commit-start", "tx-2") in order and store.committed == [["scored", "scored"], ["scored"]]
    assert order.index(("commit-done", "tx-2")) < order.index(("answer", "tx-2:False,tx-0:True"))
    assert rebuilt == []


def test_a_round_scored_on_a_round_that_failed_to_commit_is_not_committed(tmp_path: Path) -> None:
    events, store, rebuilt = _overlapping_rounds(tmp_path, fail_first=True)
    kinds = [e[0] for e in events]
    assert "ack" not in kinds and "answer" not in kinds  # nothing acknowledged nor answered
    assert [e for e in events if e[0] == "commit-start"] == [("commit-start", "tx-0,tx-1")]  # round 2 never
    assert sorted(n for k, n in events if k == "nak") == ["tx-0", "tx-0", "tx-1", "tx-2"]  # all redelivered
    assert sorted(rebuilt) == [0, 1]  # the states that folded them in, rebuilt from the store (tx-0 again: a replay)
    assert store.committed == []
