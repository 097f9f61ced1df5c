"""Score transfers for a bank and record every decision for audit, all or nothing.

One unit of work per request: check the ids (a transfer already decided with the same body gets its stored
decision back; a different body under a known id is a conflict and nothing is written), score the new
transfers with the running engine, evaluate the shadow rule set on the same features (recorded, never
deciding), then store the transfers and their decisions in one transaction before answering.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from zaslon.adapters.db.stores.decisions import SqlDecisionStore
from zaslon.core.rules import RuleSet
from zaslon.core.types import Decision, Outcome, Reason, Transfer, transfer_key
from zaslon.errors import Conflict, InvalidInput, Unavailable
from zaslon.flow.ingest import hash_row_body, row_body
from zaslon.flow.ports.decisions import DecisionStore
from zaslon.flow.ports.transfers import AlreadyStored

if TYPE_CHECKING:
    from sqlalchemy import Engine

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Recorded:
    decision: Decision
    shadow_version: str | None = None
    shadow_outcome: Outcome | None = None
    shadow_hits: tuple[str, ...] = ()
    replayed: bool = False  # True: decided earlier, returned from the store
    extra: dict[str, Any] = field(default_factory=dict)
    transfer: Transfer | None = None  # what was folded into the feature state (new decisions only)
    feature_seq: int | None = None  # its number in the engine's fold order (zaslon.flow.feature_snapshot)


def _reasons_json(reasons: Sequence[Reason]) -> str:
    return json.dumps([{"code": r.code, "detail": r.detail, "weight": r.weight} for r in reasons])


def _from_row(m: dict[str, Any]) -> Recorded:
    """A stored decision (a row read back, or a row kept in memory as it was written) as a replay."""
    reasons = tuple(Reason(r["code"], r["detail"], float(r["weight"])) for r in json.loads(m["reasons"]))
    d = Decision(
        m["transfer_id"], Outcome(m["outcome"]), float(m["score"]), reasons, m["hold_until"],
        m["ruleset_version"], m["model_version"],
    )
    hits = tuple(json.loads(m["shadow_hits"])) if m["shadow_hits"] else ()
    shadow_outcome = Outcome(m["shadow_outcome"]) if m["shadow_outcome"] else None
    return Recorded(d, m["shadow_version"], shadow_outcome, hits, replayed=True)


class DecisionRecorder:
    """Scores transfers and records every decision, with one writer thread doing group commits.

    Writers to one SQLite file serialise on its lock, and concurrent request threads that each open a write
    transaction spend their time in SQLite's busy-wait. Instead, each request scores under one lock and
    queues its rows; the writer commits everything queued so far in one transaction and only then are the
    requests answered, so an answered decision is always stored.

    Idempotency: an id decided earlier gets its stored decision back; the last ``recent`` decision rows
    are also kept in memory, which covers rows queued but not yet committed. They are kept as the plain
    rows written (no objects inside), which the garbage collector does not track: a few hundred thousand
    decision objects would make every full collection a pause of a tenth of a second.
    """

    def __init__(self, db: Engine, *, recent: int = 50_000, commit_window: float = 0.0,
                 inline: bool | None = None) -> None:
        self._db = db
        # record_each (the real-time micro-batches) commits in the caller's thread on SQLite, whose commit
        # is local and short: handing each batch to the writer thread costs more (wake-ups, the interpreter
        # lock passed back and forth) than the commit itself. A server database keeps the writer thread,
        # which waits on the network without holding the interpreter lock.
        self._inline = db.dialect.name == "sqlite" if inline is None else inline
        self._commit_lock = threading.Lock()  # one committer at a time on the writer's connection
        # Commits at least this many seconds apart: under a steady stream each would otherwise carry one
        # row and pay a whole transaction; an idle writer still commits at once (see _write_loop).
        self._commit_window = commit_window
        self._lock = threading.Lock()
        # Keyed by (submitting organisation, transfer id): ids are each organisation's own.
        self._recent: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._recent_max = recent
        self._queue: list[tuple[list[dict[str, Any]], list[dict[str, Any]], Future[None]]] = []
        self._wake = threading.Condition()
        self._closed = False
        # On a SQLite file: the id probe, and the writer's own connection with its checkpointer thread.
        self._store: DecisionStore = SqlDecisionStore(db)
        self._probe = self._store.probe
        # Decisions of record_each not yet committed: a replay of one answers only once it is stored.
        self._uncommitted: dict[tuple[str, str], Future[None]] = {}
        # Feature state vs. the store: every transfer scored is folded into the engine's feature state at once
        # (the next transfer must see it), before its decision is committed. ``_inflight`` holds those folded
        # but not yet committed, by feature sequence number; a commit that fails marks the state ``_dirty``,
        # and before anything is scored again the state is rebuilt from what the store holds plus what is
        # still in flight (``zaslon.flow.feature_snapshot.rebuild``), so the failed transfer is not counted and
        # its retry counts once.
        self._inflight: dict[int, Transfer] = {}
        self._dirty = False
        self.rebuilds = 0
        self._writer = threading.Thread(target=self._write_loop, name="zaslon-decision-writer", daemon=True)
        self._writer.start()

    def record(
        self,
        engine: Any,
        org_id: str,
        batch: Sequence[Transfer],
        *,
        on_flagged_call: Sequence[bool] | None = None,
        shadow: RuleSet | None = None,
        source: str = "json",
        message_id: str | None = None,
        now: datetime | None = None,
    ) -> tuple[list[Recorded], Future[None]]:
        """Decide ``batch`` now; the returned future completes when the decisions are committed."""
        self._check_open()
        ids = [t.transfer_id for t in batch]
        if not ids:
            raise InvalidInput("nothing to score", field="body")
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise InvalidInput(f"duplicate transfer ids in one request: {dupes[:10]}", field="transfer_id")
        calls = list(on_flagged_call) if on_flagged_call is not None else [False] * len(batch)
        bodies = {t.transfer_id: row_body(t) for t in batch}
        hashes = {tid: hash_row_body(body) for tid, body in bodies.items()}
        at = now or datetime.now(UTC)
        stored_t: dict[tuple[str, str], str] = {}
        stored_d: dict[tuple[str, str], dict[str, Any]] = {}
        seen = self._probe.known(ids)  # usually nothing: then no SQLAlchemy statement at all
        # Ids are the submitter's own: another organisation's use of the same id is another transfer.
        look = [(org_id, i) for i in ids if seen is None or (org_id, i) in seen]
        if look:
            stored_t, stored_d = self._store.stored(look)  # readers never wait for the writer (WAL / MVCC)
        with self._lock:
            earlier: dict[str, Recorded] = {}
            pending: list[Future[None]] = []  # commits of replayed decisions still under way
            for tid in ids:
                key = (org_id, tid)
                mem = self._recent.get(key)
                if mem is not None:
                    _same_body(tid, mem["body_hash"], hashes[tid], "scored")
                    earlier[tid] = _from_row(mem)
                    if key in self._uncommitted:
                        pending.append(self._uncommitted[key])
                elif key in stored_d:
                    row = stored_d[key]
                    _same_body(tid, row["body_hash"], hashes[tid], "scored")
                    earlier[tid] = _from_row(row)
                elif key in stored_t:
                    _same_body(tid, stored_t[key], hashes[tid], "stored")
            new = [i for i, t in enumerate(batch) if t.transfer_id not in earlier]
            if new:
                self._rebuild_if_dirty(engine)
            try:
                fresh = _score(engine, [batch[i] for i in new], [calls[i] for i in new], shadow,
                               [org_id] * len(new)) if new else []
            except Exception:  # folded (maybe) but never to be committed: rebuild before the next scoring
                self._dirty = True
                raise
            by_index = dict(zip(new, fresh, strict=True))
            t_rows = [
                {**bodies[batch[i].transfer_id], "org_id": org_id, "ts": batch[i].ts,
                 "body_hash": hashes[batch[i].transfer_id], "received_at": at}
                for i in new if (org_id, batch[i].transfer_id) not in stored_t
            ]
            d_rows = [_decision_row(r, org_id, hashes[r.decision.transfer_id], batch[i].ts, at, source, message_id)
                      for i, r in by_index.items()]
            for row in d_rows:
                self._recent[(org_id, row["transfer_id"])] = row
            while len(self._recent) > self._recent_max:
                self._recent.popitem(last=False)
            done: Future[None] = Future()
            keys = [(org_id, row["transfer_id"]) for row in d_rows]
            for key in keys:
                self._uncommitted[key] = done
            if keys:
                done.add_done_callback(functools.partial(self._committed, keys))
            self._track(fresh, done)
            if d_rows or t_rows:
                with self._wake:
                    self._queue.append((t_rows, d_rows, done))
                    self._wake.notify()
            else:
                done.set_result(None)
        out = [by_index[i] if i in by_index else earlier[t.transfer_id] for i, t in enumerate(batch)]
        # A replay is answered only once what it replays is stored, as the original request is.
        return out, (all_done([done, *pending]) if pending else done)

    def record_each(
        self,
        engine: Any,
        items: Sequence[tuple[str, Transfer, bool]],
        *,
        shadow: RuleSet | None = None,
        source: str = "json",
        now: datetime | None = None,
    ) -> list[tuple[Recorded, Future[None]] | Exception]:
        """Decide many one-transfer requests ``(org_id, transfer, on_flagged_call)`` together.

        The real-time micro-batch: one engine call and one queue hand-off for requests that arrived
        together, yet each item behaves as its own request, in the given order. Its answer is its decision
        and a future that completes once that decision is committed, or the exception meant for it alone
        (a conflict, say) while its batch-mates go on. An id one organisation sent twice in one batch is handled
        as two sequential requests (ids are each organisation's own: the same id from two is two transfers):
        the first decides, the later ones are replays of it (waiting for its commit) or conflicts. So the items
        are decided in rounds: first occurrences, then second ones, and so on.
        """
        self._check_open()
        out: list[tuple[Recorded, Future[None]] | Exception | None] = [None] * len(items)
        rounds: list[list[int]] = []
        seen_count: dict[tuple[str, str], int] = {}
        for i, (org_id, t, _) in enumerate(items):
            k = seen_count.get((org_id, t.transfer_id), 0)
            seen_count[(org_id, t.transfer_id)] = k + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(i)
        at = now or datetime.now(UTC)
        for idx in rounds:
            try:
                self._record_round(engine, items, idx, out, shadow, source, at)
            except Exception as exc:  # the store unreadable, say: every item of this round gets the error
                for i in idx:
                    if out[i] is None:
                        out[i] = exc
        return [r if r is not None else RuntimeError("not decided") for r in out]

    def _record_round(
        self,
        engine: Any,
        items: Sequence[tuple[str, Transfer, bool]],
        idx: list[int],
        out: list[tuple[Recorded, Future[None]] | Exception | None],
        shadow: RuleSet | None,
        source: str,
        at: datetime,
    ) -> None:
        """One round of ``record_each``: distinct ids, each checked, the new ones scored as one batch."""
        ids = [items[i][1].transfer_id for i in idx]
        keys = [(items[i][0], tid) for i, tid in zip(idx, ids, strict=True)]
        bodies = [row_body(items[i][1]) for i in idx]
        hashes = [hash_row_body(b) for b in bodies]  # = body_hash(t), without building the row body twice
        stored_t: dict[tuple[str, str], str] = {}
        stored_d: dict[tuple[str, str], dict[str, Any]] = {}
        seen = self._probe.known(ids)
        look = keys if seen is None else [k for k in keys if k in seen]
        if look:
            stored_t, stored_d = self._store.stored(look)
        with self._lock:
            todo: list[tuple[int, str, dict[str, Any] | None]] = []  # (item, body hash, transfer row body to store)
            for i, key, h, body in zip(idx, keys, hashes, bodies, strict=True):
                tid = key[1]
                try:
                    mem = self._recent.get(key)
                    if mem is not None:
                        _same_body(tid, mem["body_hash"], h, "scored")
                        out[i] = (_from_row(mem), self._uncommitted.get(key, _COMMITTED))
                    elif key in stored_d:
                        row = stored_d[key]
                        _same_body(tid, row["body_hash"], h, "scored")
                        out[i] = (_from_row(row), _COMMITTED)
                    else:
                        if key in stored_t:
                            _same_body(tid, stored_t[key], h, "stored")
                        todo.append((i, h, None if key in stored_t else body))
                except Exception as exc:  # this request's conflict; the others go on
                    out[i] = exc
            if not todo:
                return
            self._rebuild_if_dirty(engine)
            fresh: list[Recorded | Exception]
            try:
                fresh = list(_score(engine, [items[i][1] for i, _, _ in todo], [items[i][2] for i, _, _ in todo],
                                    shadow, [items[i][0] for i, _, _ in todo]))
            except Exception:  # not expected for validated input; isolate it: score each on its own
                self._dirty = True  # the failed batch may have been folded in: take it out first
                self._rebuild_if_dirty(engine)
                fresh = []
                for i, _, _ in todo:
                    try:
                        one = _score(engine, [items[i][1]], [items[i][2]], shadow, [items[i][0]])[0]
                        if one.feature_seq is not None and one.transfer is not None:
                            self._inflight[one.feature_seq] = one.transfer  # kept by a rebuild for its failed mate
                        fresh.append(one)
                    except Exception as exc:
                        self._dirty = True
                        self._rebuild_if_dirty(engine)
                        fresh.append(exc)
            work: list[tuple[list[dict[str, Any]], list[dict[str, Any]], Future[None]]] = []
            for (i, h, t_body), r in zip(todo, fresh, strict=True):
                if isinstance(r, Exception):
                    out[i] = r
                    continue
                org_id, t, _ = items[i]
                t_rows = ([{**t_body, "org_id": org_id, "ts": t.ts, "body_hash": h, "received_at": at}]
                          if t_body is not None else [])
                fut: Future[None] = Future()
                d_row = _decision_row(r, org_id, h, t.ts, at, source, None)
                # One queue entry per request: a failed commit is retried per entry, failing only its owner.
                work.append((t_rows, [d_row], fut))
                key = (org_id, t.transfer_id)
                self._recent[key] = d_row
                # Registered even when this thread commits at once: a request in another thread may replay
                # the decision before that commit is done, and must wait for it.
                self._uncommitted[key] = fut
                fut.add_done_callback(functools.partial(self._committed, [key]))
                self._track([r], fut)
                out[i] = (r, fut)
            while len(self._recent) > self._recent_max:
                self._recent.popitem(last=False)
        if not work:
            return
        if self._inline:  # the caller's thread commits (its requests are answered only after it anyway)
            with self._commit_lock:
                self._commit(work)
        else:
            with self._wake:
                self._queue.extend(work)
                self._wake.notify()

    def _track(self, fresh: Sequence[Recorded], fut: Future[None]) -> None:
        """Remember what ``fresh`` folded into the feature state until its commit is settled (under ``_lock``)."""
        seqs = [r.feature_seq for r in fresh if r.feature_seq is not None and r.transfer is not None]
        if not seqs:
            return
        for r in fresh:
            if r.feature_seq is not None and r.transfer is not None:
                self._inflight[r.feature_seq] = r.transfer
        fut.add_done_callback(functools.partial(self._settled, seqs))

    def _settled(self, seqs: list[int], fut: Future[None]) -> None:
        with self._lock:
            for q in seqs:
                self._inflight.pop(q, None)

    def _rebuild_if_dirty(self, engine: Any) -> None:
        """After a failed commit: rebuild the engine's feature state from the store and what is still in
        flight (under ``_lock``, so nothing is scored meanwhile)."""
        if not self._dirty or not hasattr(engine, "state"):
            return
        from zaslon.flow.feature_snapshot import rebuild

        rebuild(self._db, engine, dict(self._inflight))
        self._dirty = False
        self.rebuilds += 1

    def consistent_state(self, engine: Any, fn: Callable[[list[int]], T]) -> T:
        """Call ``fn(pending)`` while nothing is scored, on a feature state free of failed commits;
        ``pending`` are the feature sequence numbers folded in but not committed yet."""
        with self._lock:
            self._rebuild_if_dirty(engine)
            return fn(sorted(self._inflight))

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("the decision recorder is closed (the server is shutting down): nothing was stored")

    def _committed(self, keys: Sequence[tuple[str, str]], fut: Future[None]) -> None:
        """Forget a finished commit (runs in the writer thread); after a failed one the ids may be queued anew."""
        with self._lock:
            for key in keys:
                if self._uncommitted.get(key) is fut:
                    del self._uncommitted[key]

    def _write_loop(self) -> None:
        next_commit = 0.0
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed and not self._queue:
                    return
            wait = next_commit - time.monotonic()
            if wait > 0 and not self._closed:
                time.sleep(wait)  # let the rows of the next few requests join this transaction
            with self._wake:
                work, self._queue = self._queue, []
            with self._commit_lock:
                self._commit(work)
            next_commit = time.monotonic() + self._commit_window

    def _commit(self, work: list[tuple[list[dict[str, Any]], list[dict[str, Any]], Future[None]]]) -> None:
        t_rows = [r for t, _, _ in work for r in t]
        d_rows = [r for _, d, _ in work for r in d]
        try:
            if self._probe.enabled:  # a SQLite file: through the driver, on the writer's own connection
                self._commit_raw(t_rows, d_rows)
            else:
                self._store.insert(t_rows, d_rows)
        except Exception as exc:
            if len(work) == 1:
                self._fail(work[0], exc)
                return
            if _store_busy(exc):  # retrying each request would wait out the lock once per request
                for item in work:
                    self._fail(item, exc)
                return
            for item in work:  # one bad request must not fail the others: commit each on its own
                self._commit([item])
            return
        for _, _, fut in work:
            fut.set_result(None)

    def _commit_raw(self, t_rows: list[dict[str, Any]], d_rows: list[dict[str, Any]]) -> None:
        """One transaction through the store's fast path (SQLite's driver, on a connection only the committer
        uses; rows stored exactly as SQLAlchemy stores them). Only one committer at a time (``_commit_lock``)."""
        self._store.insert_fast(t_rows, d_rows)

    @property
    def _wconn(self) -> Any:
        """The fast path's own connection, while it holds one (diagnostics)."""
        return self._store.writer_connection

    @property
    def _checkpointer(self) -> object | None:
        """The thread checkpointing the fast path's write-ahead log, while it runs (diagnostics)."""
        return self._store.checkpointer

    def _fail(self, item: tuple[list[dict[str, Any]], list[dict[str, Any]], Future[None]], exc: Any) -> None:
        with self._lock:
            for row in item[1]:
                self._recent.pop((row["org_id"], row["transfer_id"]), None)
            for row in item[1]:
                if row.get("feature_seq") is not None:
                    # Out of what a rebuild folds back in, and the state marked for one, in the same critical
                    # section: a rebuild between the two would count the failed transfer again.
                    self._inflight.pop(row["feature_seq"], None)
                    self._dirty = True
        if isinstance(exc, AlreadyStored):
            exc = Conflict("a transfer in this request was stored concurrently by another process", field="transfer_id")
        elif _store_busy(exc):
            exc = Unavailable("the decision store is busy (locked by another writer): nothing was stored, retry")
        item[2].set_exception(exc)

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread and the checkpointer thread and give back the
        connections held. Later calls to ``record`` and ``record_each`` raise ``Unavailable``. Idempotent."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._writer.join(timeout=10)
        if self._writer.is_alive():  # stuck in a commit: it still owns its connection and whatever is queued
            return
        with self._wake:  # queued by a request that raced the close: the writer has gone, refuse it
            left, self._queue = self._queue, []
        for item in left:
            self._fail(item, Unavailable("the decision recorder is closed (the server is shutting down): "
                                         "nothing was stored"))
        with self._commit_lock:  # an inline commit under way finishes first
            # The probe off (no later commit takes the raw connection again), the checkpointer stopped and the
            # writer's connection back in the pool with SQLite's own checkpoints again.
            self._store.close()


def all_done(futures: list[Future[None]]) -> Future[None]:
    """A future that completes when all of ``futures`` have; with the first exception among them, if any."""
    out: Future[None] = Future()
    left = [len(futures)]
    lock = threading.Lock()

    def one(_: Future[None]) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            exc = next((f.exception() for f in futures if f.exception() is not None), None)
            if exc is not None:
                out.set_exception(exc)
            else:
                out.set_result(None)

    for f in futures:
        f.add_done_callback(one)
    return out


def _completed() -> Future[None]:
    fut: Future[None] = Future()
    fut.set_result(None)
    return fut


# A replay answers from what is already committed: one shared, completed future serves them all (a done
# future is never changed again, and its callbacks run at once).
_COMMITTED = _completed()


def _store_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "busy": another writer held the lock past the busy timeout."""
    text = str(exc).lower()
    return type(exc).__name__ == "OperationalError" and ("locked" in text or "busy" in text)


def _same_body(tid: str, stored: str, sent: str, what: str) -> None:
    """An id the organisation used before is a replay only with the same body; another body conflicts."""
    if stored != sent:
        raise Conflict(f"transfer {tid!r} was already {what} with a different body", field="transfer_id")


def _decision_row(
    r: Recorded, org_id: str, body_hash_: str, ts: datetime, at: datetime, source: str, message_id: str | None
) -> dict[str, Any]:
    return {
        "transfer_id": r.decision.transfer_id, "org_id": org_id, "body_hash": body_hash_, "transfer_ts": ts,
        "decided_at": at, "outcome": r.decision.outcome.value, "score": float(r.decision.score),
        "hold_until": r.decision.hold_until, "reasons": _reasons_json(r.decision.reasons),
        "ruleset_version": r.decision.ruleset_version, "model_version": r.decision.model_version,
        "shadow_version": r.shadow_version,
        "shadow_outcome": r.shadow_outcome.value if r.shadow_outcome else None,
        "shadow_hits": json.dumps(list(r.shadow_hits)) if r.shadow_version else None,
        "source": source, "message_id": message_id, "feature_seq": r.feature_seq,
    }


def _score(engine: Any, batch: list[Transfer], calls: list[bool], shadow: RuleSet | None,
           orgs: list[str]) -> list[Recorded]:
    """``orgs``: each transfer's submitter (the feature log keys transfers by submitter and id)."""
    from zaslon.flow.scoring import columns_of

    cols = columns_of(batch, calls)
    return _recorded(engine, engine.score_columns(cols), cols, batch, shadow, orgs)


def _score_on(engine: Any, parts: Sequence[tuple[Any, list[Transfer], list[bool], list[str]]],
              shadow: RuleSet | None) -> list[Recorded]:
    """``_score`` for the batches of several feature states in one call (a scoring worker's partitions: the
    states, each batch, its call flags, its submitters): each batch featurized on its own state, the rules,
    model, policy, reasons, feature log and shadow rules once for all (``ScoringEngine.score_columns_on``).
    The records in the order given."""
    from zaslon.flow.scoring import columns_of

    res, cols = engine.score_columns_on([(state, columns_of(b, c)) for state, b, c, _ in parts])
    return _recorded(engine, res, cols, [t for _, b, _, _ in parts for t in b], shadow,
                     [o for _, _, _, orgs in parts for o in orgs])


def _recorded(engine: Any, res: Any, cols: Any, batch: list[Transfer], shadow: RuleSet | None,
              orgs: list[str]) -> list[Recorded]:
    """A scored batch's records: decisions with reasons, the feature log's rows, the shadow rules' verdicts."""
    from zaslon.core.features import knowledge_flags, lapse_traced
    from zaslon.core.policy import OUTCOMES

    decisions = engine.decisions(res, [t.transfer_id for t in batch], cols.ts)
    seqs: list[int | None] = res.seq.tolist() if getattr(res, "seq", None) is not None else [None] * len(batch)
    log = getattr(engine, "feature_log", None)
    if log is not None:  # what the model is retrained on (zaslon.flow.exchange.FeatureLog)
        log.append([transfer_key(o, t.transfer_id) for o, t in zip(orgs, batch, strict=True)], cols.ts, res.features)
    if shadow is None:
        return [Recorded(d, transfer=t, feature_seq=q) for d, t, q in zip(decisions, batch, seqs, strict=True)]
    # The shadow set sees exactly the features the live decision saw; it is recorded, never applied.
    flags = engine.knowledge.accounts
    payer_f, payee_f = knowledge_flags(cols.payer, flags), knowledge_flags(cols.payee, flags)
    payer_f = lapse_traced(payer_f, cols.payer, cols.ts, engine.knowledge.traced_until)
    sres = engine.judge(res.features, payer_f, payee_f, explain=False, ruleset=shadow, names=None, model=True)
    hits = shadow.evaluate_batch(res.features)
    return [
        Recorded(d, shadow.version, OUTCOMES[int(sres.outcome[i])], tuple(h.rule_id for h in hits.row(i)),
                 transfer=batch[i], feature_seq=seqs[i])
        for i, d in enumerate(decisions)
    ]


# The recorder's steps, named for the other callers that decide through the same code: the scale-out's scoring
# workers (``zaslon.flow.partition``) score, check replays and build the stored rows exactly as the recorder does.
score_transfers = _score
score_transfers_on = _score_on
decision_row = _decision_row
replay_of_row = _from_row
same_body = _same_body
