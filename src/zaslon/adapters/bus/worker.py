"""A scoring worker of the scale-out shape: owns partitions of accounts, decides their transfers exactly once.

Ownership: a partition is owned by whoever holds its PostgreSQL advisory lock (``pg_try_advisory_lock``) on
the worker's lock connection. Several workers may be started for the same partitions: one owns each, the
others wait and take over within a second of the owner's death (its connection drops, the lock goes with it).

Per owned partition: first the hand-over — the state from the partition's last snapshot, then every micro-batch
scored after it folded in again in the order it was scored (the inbox says which messages and in which batch,
the stream holds their bodies) — and only then the durable pull consumer ``score-<partition>``:

    fetch a micro-batch -> inbox: handled before? -> score the rest with the Exchange's engine on the partition's
    state -> ONE transaction: transfers, decisions, inbox rows, outbox events -> acknowledge -> answer (all of
    a round's answers to one API node in one message)

A crash before the commit leaves nothing: the messages are redelivered and scored again, by whoever owns the
partition then, on a state rebuilt without them. A crash after the commit and before the acknowledgement
makes the redelivered messages replays: the inbox has them, the answer is the stored decision. A failed
commit (PostgreSQL away) discards the partition's in-memory state (it had folded the batch in) and rebuilds
it before the next batch. A message that does not validate goes to ``zaslon.dlq.score`` with its reason; one
that keeps failing goes there after ``bus_max_deliver`` attempts.

Beside the partitions a worker runs the outbox relay (events committed with their effects, published with
``Nats-Msg-Id`` = row id) and the consumer of cash-out alerts (``zaslon.events.cashout`` -> the desk's alerts,
inbox and effect in one transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import Connection, Engine, text

from zaslon.adapters.bus.streams import (
    DLQ_STREAM,
    EVENTS_STREAM,
    KNOWLEDGE_SUBJECT,
    REASON_HEADER,
    REPLY_HEADER,
    SCORE_STREAM,
    answers_route,
    decode_transfer,
    encode_answer,
    encode_answers,
    ensure_streams,
    score_subject,
)
from zaslon.adapters.db.engine import make_engine
from zaslon.adapters.db.stores.bus import SqlBusStore
from zaslon.errors import Conflict, InvalidInput, ZaslonError
from zaslon.flow.exchange import Exchange
from zaslon.flow.partition import (
    CASHOUT_SUBJECT,
    Incoming,
    PartitionScorer,
    alert_of_json,
    message_key,
    score_round,
)
from zaslon.settings import Settings

log = structlog.get_logger("zaslon.bus.worker")

SCORE_CONSUMER = "score"
ALERTS_CONSUMER = "alerts"
_LOCK_BASE = 0x5A5A_0000  # advisory lock keys: this plus the partition number


def parse_partitions(spec: str, total: int) -> list[int]:
    """``"0-7,12"`` -> [0..7, 12]; ``"all"`` -> every partition. Out of range or malformed: InvalidInput."""
    if spec.strip() == "all":
        return list(range(total))
    out: set[int] = set()
    try:
        for part in spec.split(","):
            lo, _, hi = part.strip().partition("-")
            a, b = int(lo), int(hi or lo)
            if a > b:
                raise ValueError(part)
            out.update(range(a, b + 1))
    except ValueError:
        raise InvalidInput(f"partitions {spec!r}: give numbers and ranges like 0-7,12 or 'all'",
                           field="partitions") from None
    bad = sorted(p for p in out if not 0 <= p < total)
    if bad:
        raise InvalidInput(f"partitions {bad[:5]} are outside 0-{total - 1} (ZASLON_BUS_PARTITIONS={total})",
                           field="partitions")
    return sorted(out)


class _Fault:
    """The crash tests' fault injection (``ZASLON_BUS_FAULT``): kill -9 this process at a stated point."""

    def __init__(self, spec: str) -> None:
        kind, _, arg = spec.partition(":")
        self.kind, self.arg = kind, arg
        self.batches = 0

    def at(self, point: str) -> None:
        if self.kind == point and self.batches >= int(self.arg):
            os.kill(os.getpid(), signal.SIGKILL)

    def poisoned(self, transfer_id: str) -> bool:
        return self.kind == "poison" and transfer_id == self.arg


class _Puller:
    """A partition's messages as the server delivers them, taken a round at a time.

    It keeps pull requests for ``batch`` messages outstanding (a new one once fewer than half a batch is still
    asked for, or the newest would expire within half its life), so the server sends each message as it arrives
    and a round takes what has arrived meanwhile: about one pull request per ``batch`` messages on a busy
    partition and one a second on an idle one. (nats-py's ``fetch`` costs one or two pull requests, a status
    message and a timer per call, so per round: on a busy cluster, more pull requests than messages.) Requests
    are filled oldest first; a 408 status ends the oldest one, and one past its expiry is forgotten in any case
    (the server restarted, say)."""

    EXPIRES_S = 2.0

    def __init__(self, nc: NATS, sub: Any, batch: int) -> None:
        self._nc, self._sub, self.batch = nc, sub._sub, batch  # nats-py's subscription behind the pull one
        self._subject, self._deliver = sub._nms, sub._deliver
        self._open: deque[list[float]] = deque()  # [messages still asked for, expires at], oldest first
        self._request = json.dumps({"batch": batch, "expires": int(self.EXPIRES_S * 1e9)}).encode()
        self._first: Msg | None = None  # taken off the queue by ready(), handed out by the next take()

    async def _ask(self) -> None:
        now = time.monotonic()
        while self._open and self._open[0][1] < now:
            self._open.popleft()
        if (sum(left for left, _ in self._open) < self.batch / 2
                or not self._open or self._open[-1][1] < now + self.EXPIRES_S / 2):
            await self._nc.publish(self._subject, self._request, reply=self._deliver)
            self._open.append([float(self.batch), now + self.EXPIRES_S])

    async def ready(self) -> bool:
        """Wait (up to about a second) until a message is there to take; pull requests are renewed meanwhile."""
        queue = self._sub._pending_queue
        while self._first is None:
            await self._ask()
            if queue.empty():  # wait (a timer only then: on a busy partition the message is there already)
                try:
                    async with asyncio.timeout(self.EXPIRES_S / 2):
                        msg = await queue.get()
                except TimeoutError:
                    return False
            else:
                msg = queue.get_nowait()
            if self._took(msg):
                self._first = msg
        return True

    def take(self) -> list[Msg]:
        """The messages delivered so far (at most ``batch``), in stream order."""
        queue = self._sub._pending_queue
        msgs: list[Msg] = [] if self._first is None else [self._first]
        self._first = None
        while len(msgs) < self.batch and not queue.empty():
            msg = queue.get_nowait()
            if self._took(msg):
                msgs.append(msg)
        return msgs

    def _took(self, msg: Msg) -> bool:
        """Account for a message taken off the queue; True if it is a stream message (not a status)."""
        self._sub._pending_size -= len(msg.data)
        self._sub._pending_queue.task_done()
        status = msg.headers.get("Status") if msg.headers else None
        if status is None:
            if self._open:
                self._open[0][0] -= 1
                if self._open[0][0] <= 0:
                    self._open.popleft()
            return True
        if status == "408":  # the oldest request expired
            if self._open:
                self._open.popleft()
        elif status not in ("100", "404"):  # 409 and others: the server dropped our requests; ask anew
            self._open.clear()
        return False


def _percentiles(name: str, values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {f"{name}_p50": round(ordered[len(ordered) // 2], 1),
            f"{name}_p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1)}


async def _ack_each(msgs: Iterable[Msg]) -> None:
    """Acknowledge each message in turn (a publish into the client's buffer: no task per message, as a gather
    would make); one that cannot be acknowledged is redelivered and found in the inbox."""
    for m in msgs:
        with contextlib.suppress(Exception):
            await m.ack()


class _Answers:
    """A round's answers: those to API nodes one message per node (``encode_answers``), any other alone."""

    def __init__(self) -> None:
        self.by_node: dict[str, dict[str, bytes]] = {}
        self.alone: list[tuple[str, bytes]] = []

    def add(self, reply: str, data: bytes) -> None:
        route = answers_route(reply)
        if route is None:
            self.alone.append((reply, data))
        else:
            self.by_node.setdefault(route[0], {})[route[1]] = data

    def publish(self, nc: NATS) -> list[Any]:
        return ([nc.publish(subject, encode_answers(answers)) for subject, answers in self.by_node.items()]
                + [nc.publish(reply, data) for reply, data in self.alone])


@dataclass(slots=True)
class _Overlay:
    """A round's rows while its commit is under way, as the next round's look-up would find them stored."""

    done: dict[str, dict[str, Any]]  # inbox rows by message key
    stored_t: dict[tuple[str, str], str]  # body hashes by (org, transfer id)
    stored_d: dict[tuple[str, str], dict[str, Any]]  # decision rows by (org, transfer id)


@dataclass(slots=True)
class _Round:
    """One round between ``_prepare`` and ``_finish``."""

    at: datetime
    started: float  # time.monotonic() when the round took its messages
    batches: dict[int, list[Incoming]] = field(default_factory=dict)
    raw: dict[str, Msg] = field(default_factory=dict)  # the message of each key (acknowledged after the commit)
    twins: list[tuple[str, Msg]] = field(default_factory=list)
    done: dict[str, dict[str, Any]] = field(default_factory=dict)  # handled before (the look-up)
    stored_d: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[int, tuple[list[Incoming], Any]] = field(default_factory=dict)
    rows: tuple[list[dict[str, Any]], ...] = field(default_factory=lambda: ([], [], [], []))
    batch_nos: dict[int, int] = field(default_factory=dict)  # partitions that scored: their batch number after
    snapshots: list[tuple[int, int, bytes]] = field(default_factory=list)  # saved once the round is committed

    @property
    def overlay(self) -> _Overlay:
        t_rows, d_rows, inbox_rows, _ = self.rows
        return _Overlay({r["msg_key"]: r for r in inbox_rows},
                        {(r["org_id"], r["transfer_id"]): r["body_hash"] for r in t_rows},
                        {(r["org_id"], r["transfer_id"]): r for r in d_rows})


class ScoringWorker:
    def __init__(self, settings: Settings, partitions: Sequence[int], *, db: Engine | None = None) -> None:
        if not settings.database_url.startswith("postgresql"):
            raise InvalidInput("a scoring worker needs PostgreSQL (ZASLON_DATABASE_URL=postgresql+psycopg://…)",
                               field="database_url")
        self.settings = settings
        self.wanted = list(partitions)
        self.db = db or make_engine(settings.database_url)
        self.store = SqlBusStore(self.db)
        self.exchange = Exchange(self.db, settings)
        self.fault = _Fault(settings.bus_fault)
        self.owned: dict[int, asyncio.Task[None]] = {}
        self.scorers: dict[int, PartitionScorer] = {}
        self._lock_conn: Connection | None = None
        self._nc: NATS | None = None
        self._js: Any = None
        self._outbox_kick = asyncio.Event()
        self._work = asyncio.Event()
        self._queue: list[tuple[int, _Puller, asyncio.Future[None]]] = []
        self._since_snapshot: dict[int, int] = {}
        self._knowledge_kick = asyncio.Event()
        self.scored = 0
        self.rounds = 0
        # Where a transfer's time goes in a worker, logged when it stops (most recent rounds): how long the
        # round's oldest message waited in the stream before its round began, and how long the round took.
        self._waited_ms: deque[float] = deque(maxlen=100_000)
        self._took_ms: deque[float] = deque(maxlen=100_000)
        self._lookup_ms: deque[float] = deque(maxlen=100_000)
        self._score_ms: deque[float] = deque(maxlen=100_000)
        self._commit_ms: deque[float] = deque(maxlen=100_000)
        # Per partition, the batch number its committed rows reach: a state beyond it has folded in a round
        # not committed (yet, or ever), and is not snapshotted.
        self._committed: dict[int, int] = {}

    # ---- life ----------------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.to_thread(self.exchange.reload_knowledge)  # the partitions' states are rebuilt by _rebuild
        await asyncio.to_thread(self.exchange.warm_up)
        await self._retry(self._connect, stop)
        assert self._nc is not None  # connected (or stopped before: then the loops below end at once)
        await self._nc.subscribe(KNOWLEDGE_SUBJECT, cb=self._on_knowledge)
        tasks = [asyncio.create_task(self._ownership(stop)), asyncio.create_task(self._processor(stop)),
                 asyncio.create_task(self._relay(stop)),
                 asyncio.create_task(self._alerts(stop)), asyncio.create_task(self._knowledge(stop))]
        log.info("worker started", partitions=len(self.wanted))
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            with contextlib.suppress(BaseException):  # the round committing meanwhile ends before the locks go
                await tasks[1]
            await self._release_all(snapshot=True)
            for t in tasks:
                with contextlib.suppress(BaseException):
                    await t
            if self._nc is not None:
                await self._nc.close()
            phases = {"waited": self._waited_ms, "took": self._took_ms, "lookup": self._lookup_ms,
                      "score": self._score_ms, "commit": self._commit_ms}
            log.info("worker stopped", rounds=self.rounds, scored=self.scored,
                     **{k: v for name, ms in phases.items() for k, v in _percentiles(f"round_{name}_ms", ms).items()})
            await self.store.close_rounds()
            self.exchange.close()
            self.db.dispose()

    async def _connect(self) -> None:
        nc = await nats.connect(self.settings.bus_url, name="zaslon-worker", allow_reconnect=True,
                                max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=2)
        js = nc.jetstream()
        try:
            await ensure_streams(js)
        except Exception:
            await nc.close()
            raise
        self._nc, self._js = nc, js

    @staticmethod
    async def _retry(make: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await make()
                return
            except Exception as exc:
                log.warning("bus not ready", error=str(exc))
                await asyncio.sleep(0.5)

    # ---- ownership -----------------------------------------------------------------------------------------
    async def _ownership(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._claim()
            except Exception as exc:  # the lock connection died (PostgreSQL restarted): give everything up
                log.warning("lost the partition locks", error=f"{type(exc).__name__}: {exc}")
                await self._release_all(snapshot=False)
            await asyncio.sleep(0.3)

    async def _claim(self) -> None:
        if self._lock_conn is None:
            self._lock_conn = await asyncio.to_thread(self.db.connect)
        conn = self._lock_conn

        def ask(sql: str, p: int = 0) -> bool:
            return bool(conn.execute(text(sql), {"k": _LOCK_BASE + p}).scalar())

        await asyncio.to_thread(ask, "SELECT :k > 0")  # the locks live as long as this session: is it alive?
        for p in self.wanted:
            if p in self.owned:
                continue
            if await asyncio.to_thread(ask, "SELECT pg_try_advisory_lock(:k)", p):
                self.owned[p] = asyncio.create_task(self._partition(p))
        for p, task in list(self.owned.items()):
            if task.done():  # it failed (its error logged): start it again, rebuilt from the store
                self.owned.pop(p)
                self.scorers.pop(p, None)
                await asyncio.to_thread(ask, "SELECT pg_advisory_unlock(:k)", p)

    async def _release_all(self, *, snapshot: bool) -> None:
        tasks = list(self.owned.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        if snapshot:
            for p, sc in list(self.scorers.items()):
                if sc.batch_no != self._committed.get(p):  # it folded in a round not committed: not saved
                    continue
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.store.save_snapshot, p, sc.batch_no, sc.snapshot(),
                                            datetime.now(UTC))
        self.owned.clear()
        self.scorers.clear()
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(conn.invalidate)  # the session ends: PostgreSQL drops its locks

    # ---- one partition -------------------------------------------------------------------------------------
    async def _partition(self, p: int) -> None:
        sub = None
        try:
            scorer = await self._rebuild(p)
            self.scorers[p] = scorer
            sub = await self._js.pull_subscribe(
                score_subject(p), durable=f"score-{p}", stream=SCORE_STREAM,
                config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=self.settings.bus_ack_wait_s,
                                      max_deliver=self.settings.bus_max_deliver + 1,
                                      max_ack_pending=4 * self.settings.bus_batch))
            log.info("partition owned", partition=p, batches=scorer.batch_no, accounts=len(scorer.state))
            puller = _Puller(self._nc, sub, self.settings.bus_batch)  # type: ignore[arg-type]
            while True:
                if not await puller.ready():
                    continue
                done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._queue.append((p, puller, done))
                self._work.set()
                await done  # this partition's next batch only after this one is handled: its order is kept
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("partition stopped", partition=p, error=str(exc))
            raise
        finally:
            if sub is not None:  # its inbox closes: nothing more is read here (the next owner subscribes afresh)
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def _rebuild(self, p: int) -> PartitionScorer:
        """The hand-over: snapshot, then the stream tail the inbox says was scored, folded batch by batch."""
        scorer = PartitionScorer(self.exchange, p)
        snap = await asyncio.to_thread(self.store.load_snapshot, p)
        if snap is not None:
            scorer.restore(snap[1], snap[0])
        tail = await asyncio.to_thread(self.store.scored_tail, SCORE_CONSUMER, p, scorer.batch_no)
        bodies: dict[int, bytes] = {}
        seqs = sorted({s for s, _, _ in tail})
        for start in range(0, len(seqs), 256):
            got = await asyncio.gather(*(self._js.get_msg(SCORE_STREAM, s) for s in seqs[start : start + 256]))
            bodies.update({s: m.data for s, m in zip(seqs[start : start + 256], got, strict=True)})
        i = 0
        while i < len(tail):
            batch_no = tail[i][1]
            transfers, calls = [], []
            while i < len(tail) and tail[i][1] == batch_no:
                _, t, _ = decode_transfer(bodies[tail[i][0]])
                transfers.append(t)
                calls.append(tail[i][2])
                i += 1
            scorer.fold(batch_no, transfers, calls)
        self._committed[p] = scorer.batch_no  # all of it from the store
        return scorer

    async def _processor(self, stop: asyncio.Event) -> None:
        """Everything the partitions fetched meanwhile, handled together: one look-up and one commit for all of
        it (the fixed costs of a transaction and of each scoring call are shared by the partitions).

        Two rounds overlap: while one round's commit, acknowledgements and answers are under way (``_finish``,
        a task), the next one is decoded, looked up and scored (``_prepare``). A partition is free for the next
        round as soon as its messages are scored (its state has folded them in), so the next round may hold it
        again. The order of the effects is kept: a round commits only after the one before it has committed,
        and acknowledges and answers only after its own commit. Its look-up cannot see the rows the round
        before is committing meanwhile, so it sees them from memory (``_Round.overlay``: the same rows, about
        to be committed). If the round before fails to commit, this one is not committed either: its messages
        are redelivered and its partitions rebuilt from the store, as the failed round's are."""
        started = 0.0
        prev: tuple[_Round, asyncio.Task[bool]] | None = None  # the round committing, and its ``_finish``
        try:
            while not stop.is_set():
                await self._work.wait()
                # Fewer, larger rounds: a round's fixed costs (the look-up, the transaction, each partition's
                # scoring call) are shared by more transfers. A round takes every message delivered until it
                # starts, so waiting the rest of ``bus_round_ms`` adds at most that much latency; a quiet worker
                # (the last round started longer ago than that) starts at once.
                wait = started + self.settings.bus_round_ms / 1000 - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                started = time.monotonic()
                self._work.clear()
                queued, self._queue = self._queue, []
                if not queued:
                    continue
                items = [(p, puller.take(), fut) for p, puller, fut in queued]
                self.rounds += 1
                oldest = min((m.metadata.timestamp for _, msgs, _ in items for m in msgs), default=None)
                if oldest is not None:
                    self._waited_ms.append((datetime.now(UTC) - oldest).total_seconds() * 1000)
                rnd: _Round | None = None
                try:
                    rnd = await self._prepare(items, started, None if prev is None else prev[0].overlay)
                except Exception as exc:  # not expected: the partitions' messages are redelivered
                    log.exception("batch failed", error=str(exc))
                finally:
                    for _, _, fut in items:  # scored: the partition's next messages may go into the next round
                        if not fut.done():
                            fut.set_result(None)
                if prev is not None:
                    ok = await prev[1]  # its commit first (it never raises)
                    prev = None
                    if not ok and rnd is not None:  # scored on states that folded a round never committed
                        await self._abandon(rnd, "the round before it was not committed")
                        rnd = None
                if rnd is not None:
                    prev = (rnd, asyncio.create_task(self._finish(rnd)))
        finally:
            if prev is not None:  # stopping: let the round under way end (its commit, acks and answers)
                with contextlib.suppress(BaseException):
                    await asyncio.shield(prev[1])

    async def _prepare(self, items: list[tuple[int, list[Msg], asyncio.Future[None]]], started: float,
                       overlay: _Overlay | None) -> _Round | None:
        """A round up to its commit: decode, look up, score per partition. None: nothing to commit or answer."""
        rnd = _Round(datetime.now(UTC), started)
        for p, msgs, _ in items:
            if p not in self.scorers:  # given up meanwhile (the locks lost): redelivered to the next owner
                continue
            for m in msgs:
                try:
                    org, t, call = decode_transfer(m.data)
                except InvalidInput as exc:
                    await self._dead_letter(m, f"invalid: {exc.message}", p, exc)
                    continue
                key, h = message_key(org, t)
                if key in rnd.raw:  # the same message twice in one round (resent, and redelivered): handled once
                    rnd.twins.append((key, m))
                    continue
                rnd.batches.setdefault(p, []).append(Incoming(m.metadata.sequence.stream, org, t, call, key, h))
                rnd.raw[key] = m
        if not rnd.batches:
            return None
        keys = list(rnd.raw)
        ids = list({(m.org_id, m.transfer.transfer_id) for b in rnd.batches.values() for m in b})  # each bank's own
        t0 = time.monotonic()
        try:
            done, stored_t, stored_d = await self.store.lookup_round(SCORE_CONSUMER, keys, ids)
        except Exception as exc:  # the store unreachable: nothing done, redelivered later
            log.warning("store unreachable", error=f"{type(exc).__name__}: {exc}")
            await asyncio.gather(*(m.nak(delay=1.0) for m in rnd.raw.values()),
                                 *(m.nak(delay=1.0) for _, m in rnd.twins), return_exceptions=True)
            return None
        t1 = time.monotonic()
        self._lookup_ms.append((t1 - t0) * 1000)
        if overlay is not None:  # what the round before is committing meanwhile, as the store will have it
            done = {**done, **{k: v for k, v in overlay.done.items() if k in rnd.raw}}
            stored_t = {**stored_t, **{k: v for k, v in overlay.stored_t.items() if k in set(ids)}}
            stored_d = {**stored_d, **{k: v for k, v in overlay.stored_d.items() if k in set(ids)}}
        rnd.done, rnd.stored_d = done, stored_d
        todos: dict[int, list[Incoming]] = {}
        for p, batch in rnd.batches.items():
            todo = [m for m in batch if m.key not in done]
            poisoned = [m for m in todo if self.fault.poisoned(m.transfer.transfer_id)]
            if poisoned:
                await self._poison(p, poisoned, rnd.raw)
                todo = [m for m in todo if m not in poisoned]
            todos[p] = todo
        # One scoring call for all of the round's partitions (each featurized on its own state).
        scoring = [(p, todo) for p, todo in todos.items() if todo]
        outs = score_round(self.exchange, [(self.scorers[p], todo) for p, todo in scoring], stored_t, stored_d,
                           now=rnd.at, consumer=SCORE_CONSUMER)
        scored = dict(zip([p for p, _ in scoring], outs, strict=True))
        for p, todo in todos.items():
            out = scored.get(p)
            rnd.outcomes[p] = (todo, out)
            if out is not None and out.scored:
                sc = self.scorers[p]
                rnd.batch_nos[p] = sc.batch_no
                self._since_snapshot[p] = self._since_snapshot.get(p, 0) + 1
                if self._since_snapshot[p] >= self.settings.bus_snapshot_every:
                    self._since_snapshot[p] = 0  # the state as this round leaves it, saved once it is committed
                    rnd.snapshots.append((p, sc.batch_no, sc.snapshot()))
        self._score_ms.append((time.monotonic() - t1) * 1000)
        for _, out in rnd.outcomes.values():
            if out is not None:
                for acc, part in zip(rnd.rows, (out.transfer_rows, out.decision_rows, out.inbox_rows,
                                                out.outbox_rows), strict=True):
                    acc.extend(part)
        return rnd

    async def _finish(self, rnd: _Round) -> bool:
        """The rest of a round: ONE commit, then acknowledge, then answer. False: not committed (its messages are
        redelivered, the partitions that scored them rebuilt from the store)."""
        try:
            return await self._commit_ack_answer(rnd)
        except Exception as exc:  # not expected: the round is not acknowledged, so it is redelivered
            log.exception("batch failed", error=str(exc))
            return False
        finally:
            self._took_ms.append((time.monotonic() - rnd.started) * 1000)

    async def _commit_ack_answer(self, rnd: _Round) -> bool:
        self.fault.batches += 1
        self.fault.at("kill-before-commit")
        if any(rnd.rows):
            t0 = time.monotonic()
            try:
                await self.store.commit_round(*rnd.rows)
            except Exception as exc:  # nothing stored: forget the states that folded the batches in, rebuild
                log.warning("commit failed; partition states rebuilt", error=f"{type(exc).__name__}: {exc}")
                await self._abandon(rnd, None)
                return False
            self._commit_ms.append((time.monotonic() - t0) * 1000)
            self.fault.at("kill-after-commit")
            if rnd.rows[3]:
                self._outbox_kick.set()
        self._committed.update(rnd.batch_nos)
        await _ack_each(rnd.raw.values())  # after the commit
        done, stored_d = rnd.done, rnd.stored_d
        answers = _Answers()
        sent: dict[str, bytes] = {}
        for p, (todo, out) in rnd.outcomes.items():
            handled = {m.key: h for m, h in zip(todo, out.handled, strict=True)} if out is not None else {}
            if out is not None:
                self.scored += out.scored
            for inc in rnd.batches[p]:
                reply = (rnd.raw[inc.key].headers or {}).get(REPLY_HEADER) if inc.key in rnd.raw else None
                if not reply:
                    continue
                if inc.key in done:  # committed before, acknowledged never: answered as it was then
                    row = stored_d.get((inc.org_id, inc.transfer.transfer_id))
                    if done[inc.key]["status"] == "conflict":
                        data = encode_answer(None, False, Conflict(
                            f"transfer {inc.transfer.transfer_id!r} was already scored with a different body",
                            field="transfer_id"))
                    elif row is not None:
                        data = encode_answer(row, True, None)
                    else:
                        data = encode_answer(None, False, InvalidInput("handled earlier without a decision"))
                else:
                    h = handled[inc.key]
                    data = encode_answer(h.decision, h.status == "replayed", h.error)
                sent[inc.key] = data
                answers.add(reply, data)
        acks = []
        for key, twin in rnd.twins:
            if key in rnd.raw:  # its first copy was handled (not left to a retry): so is this one
                acks.append(twin.ack())
                reply = (twin.headers or {}).get(REPLY_HEADER)
                if reply and key in sent:
                    answers.add(reply, sent[key])
        await asyncio.gather(*acks, *answers.publish(self._nc), return_exceptions=True)  # type: ignore[arg-type]
        for p, batch_no, blob in rnd.snapshots:
            await asyncio.to_thread(self.store.save_snapshot, p, batch_no, blob, rnd.at)
        return True

    async def _abandon(self, rnd: _Round, why: str | None) -> None:
        """A round that will not be committed: its messages redelivered, the states that folded them rebuilt."""
        if why is not None:
            log.warning("round not committed; partition states rebuilt", reason=why)
        await asyncio.gather(*(m.nak(delay=0.5) for m in rnd.raw.values()), return_exceptions=True)
        for p in rnd.batch_nos:
            if p in self.scorers:
                self.scorers[p] = await self._rebuild_safely(p)

    async def _rebuild_safely(self, p: int) -> PartitionScorer:
        while True:
            try:
                return await self._rebuild(p)
            except Exception as exc:
                log.warning("rebuild failed, retrying", partition=p, error=str(exc))
                await asyncio.sleep(0.5)

    async def _poison(self, p: int, poisoned: list[Incoming], raw: dict[str, Msg]) -> None:
        """A message whose scoring raises: negatively acknowledged (redelivered) until its last attempt, then
        dead-lettered. Its batch-mates go on."""
        for m in poisoned:
            msg = raw.get(m.key)
            if msg is None:
                continue
            if msg.metadata.num_delivered >= self.settings.bus_max_deliver:
                await self._dead_letter(msg, f"failed {msg.metadata.num_delivered} times: scoring raised", p,
                                        None, key=m.key)
            else:
                await msg.nak(delay=0.2)
            raw.pop(m.key, None)  # not acknowledged (nor answered) with the batch

    async def _dead_letter(self, m: Msg, reason: str, p: int, error: ZaslonError | None,
                           key: str | None = None) -> None:
        seq = m.metadata.sequence.stream
        await self._js.publish("zaslon.dlq.score", m.data, stream=DLQ_STREAM,
                               headers={REASON_HEADER: reason[:500], "Zaslon-Subject": m.subject,
                                        "Nats-Msg-Id": f"dlq:{m.subject}:{seq}"})
        await asyncio.to_thread(self.store.record_dead, SCORE_CONSUMER, key or f"dlq:{p}:{seq}", p, seq,
                                datetime.now(UTC))
        await m.ack()
        reply = (m.headers or {}).get(REPLY_HEADER)
        if reply:
            await self._nc.publish(reply, encode_answer(None, False, error or InvalidInput(reason)))  # type: ignore[union-attr]
        log.warning("dead-lettered", partition=p, seq=seq, reason=reason)

    # ---- the outbox relay and the event consumers ----------------------------------------------------------
    async def _relay(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox_kick.wait(), 1.0)
            self._outbox_kick.clear()
            try:
                rows = await asyncio.to_thread(self.store.unpublished)
                for r in rows:
                    await self._js.publish(r["subject"], r["payload"].encode(), stream=EVENTS_STREAM,
                                           headers={"Nats-Msg-Id": f"outbox-{r['outbox_id']}"})
                await asyncio.to_thread(self.store.mark_published, [r["outbox_id"] for r in rows],
                                        datetime.now(UTC))
            except Exception as exc:  # published again next round: JetStream and the inbox drop the repeats
                log.warning("outbox relay", error=str(exc))
                await asyncio.sleep(0.5)

    async def _alerts(self, stop: asyncio.Event) -> None:
        sub = None
        while not stop.is_set():
            try:
                if sub is None:
                    sub = await self._js.pull_subscribe(CASHOUT_SUBJECT, durable=ALERTS_CONSUMER, stream=EVENTS_STREAM)
                try:
                    msgs = await sub.fetch(64, timeout=1.0)
                except (NatsTimeout, TimeoutError):
                    continue
                for m in msgs:
                    alert = alert_of_json(json.loads(m.data))
                    key = (m.headers or {}).get("Nats-Msg-Id") or f"seq-{m.metadata.sequence.stream}"
                    await asyncio.to_thread(self._record_alert, key, alert)
                    await m.ack()  # after the commit
            except Exception as exc:
                log.warning("alerts consumer", error=str(exc))
                await asyncio.sleep(0.5)

    def _record_alert(self, key: str, alert: Any) -> None:
        """The desk's alert, through the Exchange (with the order and case behind the account), once: the inbox
        says whether this event was handled, and the alert itself is stored once per transfer anyway (so a crash
        between the two repeats nothing)."""
        if not self.store.handled(ALERTS_CONSUMER, [key]):
            self.exchange.record_cashout_attempts([], [alert])
            self.store.mark_handled(ALERTS_CONSUMER, key, alert.transfer_id, datetime.now(UTC))

    async def _on_knowledge(self, _msg: Msg) -> None:
        self._knowledge_kick.set()

    async def _knowledge(self, stop: asyncio.Event) -> None:
        """Reload what the exchange learnt (incidents, traces, appeals, customers) when an API node says it
        changed, and every half minute in any case (a notice lost while the bus was away)."""
        last = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._knowledge_kick.wait(), 30.0)
            if not self._knowledge_kick.is_set() and time.monotonic() - last < 30.0:
                continue
            self._knowledge_kick.clear()
            last = time.monotonic()
            try:
                await asyncio.to_thread(self.exchange.reload_knowledge)
            except Exception as exc:
                log.warning("knowledge reload", error=str(exc))
