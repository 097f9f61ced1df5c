"""One partition of accounts in the scale-out shape: its feature state, scored with the Exchange's own engine.

A scoring worker (``zaslon.adapters.bus.worker``) hosts one ``Exchange`` and one ``PartitionScorer`` per
partition it owns. Every transfer is routed to the partition of its payer (``partition_of``), so the payer's
state lives in exactly one worker. To score a micro-batch of its partition, the scorer lends its
``FeatureState`` to the Exchange's engine and decides through the recorder's own steps
(``zaslon.flow.decide``): the rules, model, policy, knowledge, customers' profiles and shadow rules are the
Exchange's, the code is the product's; only the state is the partition's.

Idempotency follows the recorder's rules: a transfer id already decided gets its stored decision back, a
different body under a known id is a conflict. What the caller stores for a batch (transfers, decisions,
inbox rows, outbox events) comes back as rows, to be committed in one transaction before any message is
acknowledged or answered.

A payee's state in a partition counts only the payers of that partition (its inflows from other partitions'
payers are in their partitions): payee-side aggregates are partition-local, as in every payer-partitioned
design; the payee's flags (reported, traced, in a case) come from the Knowledge every worker holds in full.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from zaslon.core.cashout import CashOutAlert
from zaslon.core.features import FeatureState
from zaslon.core.trace import ExitKind
from zaslon.core.types import Transfer
from zaslon.errors import ZaslonError
from zaslon.flow.decide import Recorded, decision_row, replay_of_row, same_body, score_transfers_on
from zaslon.flow.ingest import hash_row_body, row_body
from zaslon.flow.scoring import columns_of

if TYPE_CHECKING:
    from zaslon.flow.exchange import Exchange

CASHOUT_SUBJECT = "zaslon.events.cashout"


def partition_of(account: str, partitions: int) -> int:
    """The partition of an account: a stable hash (the same on every node and across restarts)."""
    digest = hashlib.blake2b(account.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def message_key(org_id: str, transfer: Transfer) -> tuple[str, str]:
    """(key, body hash): the key names one organisation's body of one transfer id, so JetStream drops a resent
    identical transfer (``Nats-Msg-Id``) while a different body under the same id still reaches a worker, which
    answers it with a conflict."""
    h = hash_row_body(row_body(transfer))
    return f"{org_id}:{transfer.transfer_id}:{h[:24]}", h


@dataclass(slots=True)
class Incoming:
    seq: int  # the message's sequence number in the partition's stream
    org_id: str
    transfer: Transfer
    on_call: bool  # the bank's flag
    key: str
    body_hash: str


@dataclass(slots=True)
class Handled:
    """What one message came to: its answer (a decision or an error) and its inbox status."""

    recorded: Recorded | None
    error: ZaslonError | None
    status: str  # scored / replayed / conflict
    decision: dict[str, Any] | None = None  # the decision row the answer is made of


@dataclass(slots=True)
class BatchOutcome:
    handled: list[Handled]
    transfer_rows: list[dict[str, Any]] = field(default_factory=list)
    decision_rows: list[dict[str, Any]] = field(default_factory=list)
    inbox_rows: list[dict[str, Any]] = field(default_factory=list)
    outbox_rows: list[dict[str, Any]] = field(default_factory=list)
    scored: int = 0


class PartitionScorer:
    def __init__(self, exchange: Exchange, partition: int) -> None:
        self.exchange = exchange
        self.partition = partition
        base = exchange.scoring.state
        self.state = FeatureState(exchange.profiles, home_country=base.home_country, elderly_age=base.elderly_age)
        self.batch_no = 0  # micro-batches folded into the state so far (the order a new owner folds them in)

    # ---- scoring ---------------------------------------------------------------------------------------
    def score(self, batch: Sequence[Incoming], stored_t: Mapping[tuple[str, str], str],
              stored_d: Mapping[tuple[str, str], dict[str, Any]], *, now: datetime | None = None,
              consumer: str = "score") -> BatchOutcome:
        """Decide a micro-batch (in stream order). ``stored_t``/``stored_d``: what the store already holds for
        these ``(org_id, transfer_id)`` keys (body hashes, decision rows). The state is updated by the fresh
        transfers; commit the rows before answering."""
        return score_round(self.exchange, [(self, batch)], stored_t, stored_d, now=now, consumer=consumer)[0]

    def _classify(self, batch: Sequence[Incoming], stored_t: Mapping[tuple[str, str], str],
                  decided: dict[tuple[str, str], dict[str, Any]]) -> tuple[BatchOutcome, list[int]]:
        """Each message's fate before scoring: a replay, a conflict, or fresh (the indices returned)."""
        out = BatchOutcome([Handled(None, None, "") for _ in batch])
        # Keys are (org_id, transfer_id): ids are each submitting bank's own, so two banks' ``tx-1`` are unrelated.
        fresh: list[int] = []
        fresh_keys: dict[tuple[str, str], int] = {}
        for i, m in enumerate(batch):
            tid = m.transfer.transfer_id
            key = (m.org_id, tid)
            try:
                if key in fresh_keys:  # the same id twice in one batch: a different body (the same one dedups)
                    same_body(tid, batch[fresh_keys[key]].body_hash, m.body_hash, "scored")
                    out.handled[i] = Handled(None, None, "pending-replay")
                    continue
                row = decided.get(key)
                if row is not None:
                    same_body(tid, row["body_hash"], m.body_hash, "scored")
                    out.handled[i] = Handled(replay_of_row(row), None, "replayed", row)
                    continue
                if key in stored_t:
                    same_body(tid, stored_t[key], m.body_hash, "stored")
                fresh_keys[key] = i
                fresh.append(i)
            except ZaslonError as exc:
                out.handled[i] = Handled(None, exc, "conflict")
        return out, fresh

    def _rows(self, out: BatchOutcome, batch: Sequence[Incoming], fresh: list[int], recs: Sequence[Recorded],
              calls: Sequence[bool], stored_t: Mapping[tuple[str, str], str],
              decided: dict[tuple[str, str], dict[str, Any]], at: datetime, consumer: str) -> None:
        """What the scored batch stores: transfers, decisions, inbox rows, outbox events (cash-out alerts)."""
        if fresh:
            self.batch_no += 1
            for i, r, call in zip(fresh, recs, calls, strict=True):
                m = batch[i]
                if (m.org_id, m.transfer.transfer_id) not in stored_t:
                    out.transfer_rows.append({**row_body(m.transfer), "org_id": m.org_id, "ts": m.transfer.ts,
                                              "body_hash": m.body_hash, "received_at": at})
                d = decision_row(r, m.org_id, m.body_hash, m.transfer.ts, at, "bus", None)
                out.decision_rows.append(d)
                decided[(m.org_id, m.transfer.transfer_id)] = d
                out.handled[i] = Handled(r, None, "scored", d)
                out.inbox_rows.append(_inbox(consumer, m, self.partition, "scored", at, batch_seq=self.batch_no,
                                             on_call=call))
            out.scored = len(fresh)
            transfers = [batch[i].transfer for i in fresh]
            outcomes = [r.decision.outcome.value for r in recs]
            for alert in self.exchange.cashout_attempts(transfers, outcomes):  # effects go out through the outbox
                out.outbox_rows.append({"subject": CASHOUT_SUBJECT, "payload": json.dumps(_alert_json(alert)),
                                        "created_at": at})
        for i, m in enumerate(batch):
            h = out.handled[i]
            if h.status == "pending-replay":
                row = decided[(m.org_id, m.transfer.transfer_id)]
                out.handled[i] = h = Handled(replay_of_row(row), None, "replayed", row)
            if h.status != "scored":
                out.inbox_rows.append(_inbox(consumer, m, self.partition, h.status, at))

    # ---- hand-over -------------------------------------------------------------------------------------
    def fold(self, batch_no: int, transfers: Sequence[Transfer], calls: Sequence[bool]) -> None:
        """Fold micro-batch ``batch_no`` an earlier owner scored into the state, as its scoring did (no decision);
        batches are folded in their numbers' order."""
        self.batch_no = max(self.batch_no, batch_no)
        if transfers:
            engine = self.exchange.scoring
            engine.state = self.state
            engine.observe_columns(columns_of(transfers, calls))

    def snapshot(self) -> bytes:
        """The feature state (without the customers' profiles, which every worker loads from the store)."""
        data = {k: v for k, v in vars(self.state).items() if k != "profiles"}
        return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, blob: bytes, batch_no: int) -> None:
        """Back to a snapshot this deployment wrote (``partition_snapshots``; never bytes from outside)."""
        vars(self.state).update(pickle.loads(blob))
        self.batch_no = batch_no

    def fingerprint(self) -> str:
        """A digest of the feature state: equal digests, equal states (what the hand-over tests compare)."""
        s = self.state
        h = hashlib.sha256()
        h.update(json.dumps([s.ids, sorted(s.currencies.items())]).encode())
        h.update(s.cur.tobytes())
        for arr in s.arrays:
            h.update(np.ascontiguousarray(arr[: len(s.ids)]).tobytes())  # rows beyond the accounts are spare
        return h.hexdigest()


def score_round(exchange: Exchange, batches: Sequence[tuple[PartitionScorer, Sequence[Incoming]]],
                stored_t: Mapping[tuple[str, str], str], stored_d: Mapping[tuple[str, str], dict[str, Any]], *,
                now: datetime | None = None, consumer: str = "score") -> list[BatchOutcome]:
    """Decide the micro-batches of several partitions (each in stream order) in ONE scoring call: each fresh
    transfer featurized on its partition's state, the rules, model, policy and shadow rules run once for all of
    them (``score_transfers_on``) — the decisions each partition's own ``score`` would give, without each
    partition's fixed cost of a scoring call. One outcome per batch, in the order given."""
    at = now or datetime.now(UTC)
    decided: dict[tuple[str, str], dict[str, Any]] = dict(stored_d)  # and this round's, for repeats in it
    classified = [sc._classify(batch, stored_t, decided) for sc, batch in batches]
    parts = []
    for (sc, batch), (_, fresh) in zip(batches, classified, strict=True):
        if fresh:
            transfers = [batch[i].transfer for i in fresh]
            parts.append((sc.state, transfers, [batch[i].on_call for i in fresh], [batch[i].org_id for i in fresh]))
    recs: list[Recorded] = []
    calls: list[bool] = []
    if parts:
        engine, shadow = exchange.batch_context()
        parts = [(state, ts, exchange.on_call(ts, flags), orgs) for state, ts, flags, orgs in parts]
        calls = [c for _, _, cs, _ in parts for c in cs]
        recs = score_transfers_on(engine, parts, shadow)
    start = 0
    for (sc, batch), (out, fresh) in zip(batches, classified, strict=True):
        k = len(fresh)
        sc._rows(out, batch, fresh, recs[start : start + k], calls[start : start + k], stored_t, decided, at,
                 consumer)
        start += k
    return [out for out, _ in classified]


def _inbox(consumer: str, m: Incoming, partition: int, status: str, at: datetime, *, batch_seq: int | None = None,
           on_call: bool = False) -> dict[str, Any]:
    return {"consumer": consumer, "msg_key": m.key, "partition": partition, "stream_seq": m.seq,
            "batch_seq": batch_seq, "status": status, "on_call": bool(on_call),
            "transfer_id": m.transfer.transfer_id, "handled_at": at}


def _alert_json(a: CashOutAlert) -> dict[str, Any]:
    out = dataclasses.asdict(a)
    out["kind"], out["ts"] = a.kind.value, a.ts.isoformat()
    return out


def alert_of_json(data: dict[str, Any]) -> CashOutAlert:
    """An alert as ``_alert_json`` wrote it (the cash-out consumer's side)."""
    return CashOutAlert(**{**data, "kind": ExitKind(data["kind"]), "ts": datetime.fromisoformat(data["ts"])})
