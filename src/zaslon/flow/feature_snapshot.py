"""Durable feature state: snapshots of the engine's per-account state, and the replay of what came after.

The scoring engine folds every transfer it scores into per-account state (``zaslon.core.features``) and gives
it the next feature sequence number, stored with its decision. So the state is a pure function of the
decided transfers taken in that order, and a restart rebuilds it exactly: load the newest usable snapshot,
then fold the stored transfers numbered from the snapshot's ``folded`` on, in order (``restore``). The same
transfer scored afterwards gets the same features, score and outcome as in a run that never stopped.

A snapshot is taken while nothing is scored (``DecisionRecorder.consistent_state``); transfers folded in but
not yet committed at that moment are listed in it, and the snapshot counts only if all of them were
committed in the end. A commit that fails makes the recorder ``rebuild`` the state the same way, from the
store plus what is still in flight, so a failed decision leaves the state as if it had never been scored.

What is not in the state and is restored elsewhere: the owners' profiles (customers, applied again to the
restored state as registered at restore time) and the knowledge flags.
"""

from __future__ import annotations

import heapq
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from zaslon.adapters.db.stores.feature_state import SqlFeatureStateStore
from zaslon.core.features import AccountProfile, FeatureState, TransferColumns
from zaslon.core.money import minor_exponent
from zaslon.core.types import Transfer
from zaslon.flow.ports.feature_state import FeatureStateStore, FoldedRow, SnapshotHeader

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from zaslon.flow.decide import DecisionRecorder
    from zaslon.flow.scoring import ScoringEngine

CHUNK_ACCOUNTS = 20_000  # accounts per stored chunk: a few MB each before compression
KEEP_SNAPSHOTS = 2
_FORMAT = 1


def layout_of(state: FeatureState) -> dict[str, Any]:
    """What a snapshot's bytes mean: changed by a new version of the kernel, a snapshot is not read."""
    return {
        "format": _FORMAT,
        "arrays": [[a.dtype.str, list(a.shape[1:])] for a in state.arrays],
        "currencies": list(state.currencies),
        "home_country": state.home_country,
        "elderly_age": state.elderly_age,
    }


def _compatible(layout: Mapping[str, Any], state: FeatureState) -> bool:
    want = layout_of(state)
    return all(layout.get(k) == want[k] for k in ("format", "arrays", "home_country", "elderly_age"))


@dataclass(frozen=True, slots=True)
class Frozen:
    """A copy of a state taken while nothing was scored (cheap: array slices), encoded afterwards."""

    ids: list[str]
    arrays: list[np.ndarray[Any, Any]]
    layout: dict[str, Any]
    cur: bytes
    folded: int
    pending: list[int]


def freeze(state: FeatureState, pending: Sequence[int]) -> Frozen:
    n = len(state.ids)
    return Frozen(list(state.ids), [a[:n].copy() for a in state.arrays], layout_of(state),
                  np.ascontiguousarray(state.cur[: max(len(state.currencies), 1)]).tobytes(), state.folded,
                  list(pending))


def encode(frozen: Frozen, chunk: int = CHUNK_ACCOUNTS) -> list[tuple[bytes, bytes]]:
    out = []
    for lo in range(0, len(frozen.ids), chunk):
        hi = min(lo + chunk, len(frozen.ids))
        ids = zlib.compress("\n".join(frozen.ids[lo:hi]).encode(), 1)
        state = zlib.compress(b"".join(np.ascontiguousarray(a[lo:hi]).tobytes() for a in frozen.arrays), 1)
        out.append((ids, state))
    return out


def decode(header: SnapshotHeader, chunks: Iterable[tuple[bytes, bytes]], into: FeatureState) -> None:
    """Fill the empty state ``into`` with a snapshot's accounts, currencies and fold count."""
    specs = [(np.dtype(d), tuple(shape)) for d, shape in header.layout["arrays"]]
    row_bytes = [d.itemsize * int(np.prod(shape, dtype=np.int64)) for d, shape in specs]
    into.reserve(header.accounts)
    at = 0
    for ids_blob, state_blob in chunks:
        ids = zlib.decompress(ids_blob).decode().split("\n")
        raw = zlib.decompress(state_blob)
        n, off = len(ids), 0
        for arr, (dtype, shape), size in zip(into.arrays, specs, row_bytes, strict=True):
            arr[at:at + n] = np.frombuffer(raw, dtype=dtype, count=n * size // dtype.itemsize,
                                           offset=off).reshape((n, *shape))
            off += n * size
        for j, a in enumerate(ids):
            into.index[a] = at + j
        into.ids.extend(ids)
        at += n
    if at != header.accounts:
        raise ValueError(f"snapshot {header.snapshot_id}: {at} accounts in its chunks, {header.accounts} declared")
    into.currencies = {c: i for i, c in enumerate(header.layout["currencies"])}
    cur = np.frombuffer(header.currency_stats, dtype=np.float64).reshape(-1, 2)
    into.cur = np.zeros((max(16, 2 * len(cur)), 2), dtype=np.float64)
    into.cur[: len(cur)] = cur
    into.folded = header.folded


def columns_of_rows(rows: Sequence[FoldedRow]) -> TransferColumns:
    """The columns ``zaslon.flow.scoring.columns_of`` makes of the same transfers (same arithmetic)."""
    n = len(rows)
    scale: dict[str, float] = {}
    for r in rows:
        if r.currency not in scale:
            scale[r.currency] = float(10 ** minor_exponent(r.currency))
    return TransferColumns(
        payer=[r.payer for r in rows], payee=[r.payee for r in rows],
        ts=np.fromiter((int(r.ts.timestamp()) for r in rows), dtype=np.int64, count=n),
        amount=np.fromiter((r.amount / scale[r.currency] for r in rows), dtype=np.float64, count=n),
        currency=[r.currency for r in rows], payee_country=[r.payee_country for r in rows],
        device=[r.device for r in rows], ip=[r.ip for r in rows], channel=[r.channel for r in rows],
    )


def _inflight_rows(inflight: Mapping[int, Transfer]) -> list[FoldedRow]:
    return [FoldedRow(q, t.payer, t.payee, t.ts, t.amount, t.currency, t.payee_country, t.device, t.ip,
                      t.channel.value) for q, t in sorted(inflight.items())]


def fold(state: FeatureState, rows: Iterable[FoldedRow], page: int = 20_000) -> tuple[int, int]:
    """Fold ``rows`` (in feature-sequence order) into ``state``; (rows folded, last sequence number or -1)."""
    n, last = 0, -1
    buf: list[FoldedRow] = []

    def flush() -> None:
        if buf:
            zeros = np.zeros(len(buf), dtype=np.int64)  # knowledge flags: read by features, never folded in
            state.process(columns_of_rows(buf), zeros, zeros)
            buf.clear()

    for r in rows:
        buf.append(r)
        n, last = n + 1, r.feature_seq
        if len(buf) >= page:
            flush()
    flush()
    return n, last


def _merge(stored: Iterable[FoldedRow], inflight: Sequence[FoldedRow]) -> Iterator[FoldedRow]:
    """Both in feature-sequence order; an in-flight transfer committed meanwhile (in both) once."""
    last_stored = -1
    for _, src, r in heapq.merge(((r.feature_seq, 0, r) for r in stored), ((r.feature_seq, 1, r) for r in inflight),
                                 key=lambda e: (e[0], e[1])):
        if src == 0:
            last_stored = r.feature_seq
        elif r.feature_seq == last_stored:
            continue
        yield r


def _usable(store: FeatureStateStore, state: FeatureState) -> tuple[SnapshotHeader | None, int]:
    """The newest snapshot this code can read whose pending transfers were all committed; and how many
    newer ones were passed over."""
    skipped = 0
    for h in store.snapshots():
        if _compatible(h.layout, state) and (not h.pending or store.committed(h.pending) == set(h.pending)):
            return h, skipped
        skipped += 1
    return None, skipped


def load(db: Engine, profiles: Mapping[str, AccountProfile], *, home_country: str, elderly_age: float,
         inflight: Mapping[int, Transfer] | None = None) -> tuple[FeatureState, dict[str, Any]]:
    """The state as the store has it: newest usable snapshot, then the stored tail and ``inflight``."""
    t0 = time.perf_counter()
    store = SqlFeatureStateStore(db)
    state = FeatureState(home_country=home_country, elderly_age=elderly_age)
    state.profiles = profiles  # the exchange's live dict, not a copy (FeatureState would swap an empty one)
    header, skipped = _usable(store, state)
    if header is not None:
        decode(header, store.chunks(header.snapshot_id), state)
    t1 = time.perf_counter()
    start = header.folded if header is not None else 0
    stored = (r for page in store.tail(start) for r in page)
    extra = [r for r in _inflight_rows(inflight or {}) if r.feature_seq >= start]
    replayed, last = fold(state, _merge(stored, extra))
    state.folded = max(start, last + 1)
    for account, prof in dict(profiles).items():  # registered after the snapshot: as the live state had them
        state.apply_profile(account, prof)
    t2 = time.perf_counter()
    return state, {
        "snapshot_id": None if header is None else header.snapshot_id,
        "snapshot_accounts": 0 if header is None else header.accounts,
        "snapshot_bytes": 0 if header is None else header.size,
        "snapshots_skipped": skipped, "replayed": replayed, "accounts": len(state),
        "folded": state.folded, "load_s": round(t1 - t0, 3), "replay_s": round(t2 - t1, 3),
    }


def rebuild(db: Engine, engine: ScoringEngine, inflight: Mapping[int, Transfer]) -> dict[str, Any]:
    """Replace ``engine``'s feature state by the one the store (plus ``inflight``) gives; nothing may be
    scored meanwhile (the recorder holds its lock)."""
    old = engine.state
    state, info = load(db, old.profiles, home_country=old.home_country, elderly_age=old.elderly_age,
                       inflight=inflight)
    state.folded = max(state.folded, old.folded)  # numbers stay unique in this process, gaps and all
    engine.replace_state(state)
    return info


def restore(db: Engine, engine: ScoringEngine) -> dict[str, Any]:
    """At start-up (nothing scored yet): the engine's state as it was when the last decision was committed."""
    return rebuild(db, engine, {})


def take_snapshot(db: Engine, engine: ScoringEngine, recorder: DecisionRecorder, *,
                  now: datetime | None = None, keep: int = KEEP_SNAPSHOTS) -> dict[str, Any]:
    """Store the engine's state now (copied while nothing is scored, written afterwards)."""
    t0 = time.perf_counter()
    frozen = recorder.consistent_state(engine, lambda pending: freeze(engine.state, pending))
    t1 = time.perf_counter()
    chunks = encode(frozen)
    sid = SqlFeatureStateStore(db).save(
        taken_at=now or datetime.now(UTC), folded=frozen.folded, pending=frozen.pending, accounts=len(frozen.ids),
        layout=frozen.layout, currency_stats=frozen.cur, chunks=chunks, keep=keep)
    size = sum(len(a) + len(s) for a, s in chunks)
    raw = sum(a.nbytes for a in frozen.arrays)
    return {"snapshot_id": sid, "accounts": len(frozen.ids), "folded": frozen.folded,
            "pending": len(frozen.pending), "bytes": size, "raw_bytes": raw,
            "bytes_per_account": round(size / max(1, len(frozen.ids)), 1),
            "pause_s": round(t1 - t0, 4), "write_s": round(time.perf_counter() - t1, 3)}


def snapshots(db: Engine) -> list[dict[str, Any]]:
    return [{"snapshot_id": h.snapshot_id, "taken_at": h.taken_at.isoformat(), "folded": h.folded,
             "pending": len(h.pending), "accounts": h.accounts, "bytes": h.size}
            for h in SqlFeatureStateStore(db).snapshots()]


class Snapshotter:
    """Takes a snapshot of ``engine``'s state every ``interval_s`` while transfers are being scored (and one
    at shutdown, once the recorder has committed what was queued)."""

    def __init__(self, db: Engine, engine: ScoringEngine, recorder: DecisionRecorder, *,
                 interval_s: float) -> None:
        self.db, self.engine, self.recorder, self.interval_s = db, engine, recorder, interval_s
        self.last_folded = -1
        self.last: dict[str, Any] | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def mark_current(self) -> None:
        """The state is what the store already gives (just restored): no snapshot needed until more is folded."""
        self.last_folded = self.engine.state.folded

    def snapshot(self, *, force: bool = False) -> dict[str, Any] | None:
        """Take one if anything was folded in since the last (or ``force``)."""
        with self._lock:
            if not force and self.engine.state.folded == self.last_folded:
                return None
            self.last = take_snapshot(self.db, self.engine, self.recorder)
            self.last_folded = int(self.last["folded"])
            return self.last

    def start(self) -> None:
        if self._thread is not None or self.interval_s <= 0:
            return

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                try:
                    self.snapshot()
                    self.last_error = None
                except Exception as exc:  # the store away for a moment: the next round tries again
                    self.last_error = f"{type(exc).__name__}: {exc}"

        self._thread = threading.Thread(target=loop, name="zaslon-feature-snapshots", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


__all__ = ["Snapshotter", "decode", "encode", "fold", "freeze", "layout_of", "load", "rebuild", "restore",
           "snapshots", "take_snapshot"]
