"""A stateless API node's side of the bus: publish a transfer to its partition, answer with the worker's decision.

Per request: publish to ``zaslon.score.<partition of the payer>`` with ``Nats-Msg-Id`` = transfer id and body
hash and a private reply subject in a header; the owning worker commits the decision, acknowledges, then
answers there. A resent transfer (the client retrying, to this node or another) is a duplicate to JetStream:
its answer went to the first request's reply subject, so this node reads the decision from PostgreSQL once
the worker has committed it. Whenever no decision can be given (the bus unreachable, no worker answering in
time) the answer is ``Unavailable`` (503 with ``Retry-After``), never an allow: the transfer stays in the
stream and a retry with the same id gets the decision the worker makes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from typing import Any

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from sqlalchemy import Engine

from zaslon.adapters.bus.streams import (
    ANSWERS_TOKEN,
    KNOWLEDGE_SUBJECT,
    REPLY_HEADER,
    REPLY_PREFIX,
    decode_answer,
    ensure_streams,
    recorded_of_row,
    score_subject,
)
from zaslon.adapters.db.stores.decisions import SqlDecisionStore
from zaslon.core.types import Transfer
from zaslon.errors import Unavailable
from zaslon.flow.decide import Recorded
from zaslon.flow.partition import message_key, partition_of

log = structlog.get_logger("zaslon.bus.api")


class BusScorer:
    """What ``routes_scoring.decide`` calls on an API node of the scale-out shape (one per process)."""

    def __init__(self, url: str, db: Engine, *, partitions: int, reply_timeout_s: float = 5.0,
                 publish_timeout_s: float = 2.0) -> None:
        self.url, self.partitions = url, partitions
        self.reply_timeout_s, self.publish_timeout_s = reply_timeout_s, publish_timeout_s
        self._decisions = SqlDecisionStore(db)
        self._nc: NATS | None = None
        self._js: Any = None
        self._prefix = f"{REPLY_PREFIX}.{uuid.uuid4().hex[:12]}"
        self._tokens = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._connecting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect; while the bus is down the node still starts, answers 503, and keeps trying."""
        try:
            await self._connect()
        except Exception as exc:
            log.warning("bus unreachable at start; retrying in the background", error=str(exc))
            self._connecting = asyncio.create_task(self._keep_connecting())

    async def _keep_connecting(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                await self._connect()
                return
            except Exception:
                continue

    async def _connect(self) -> None:
        # Once connected, reconnect for ever; the first connection is bounded (nats-py would retry it for ever).
        nc = await asyncio.wait_for(nats.connect(self.url, name="zaslon-api", allow_reconnect=True,
                                                 max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                                 connect_timeout=2), 3.0)
        js = nc.jetstream()
        await nc.subscribe(f"{self._prefix}.*", cb=self._on_answer)
        await ensure_streams(js)
        self._nc, self._js = nc, js

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._nc is not None:
            await self._nc.close()

    async def _on_answer(self, msg: Msg) -> None:
        """One answer (to ``<prefix>.<token>``), or a worker's round of them (``<prefix>.answers``: by token)."""
        token = msg.subject.rsplit(".", 1)[1]
        try:
            got = json.loads(msg.data) if token == ANSWERS_TOKEN else {token: json.loads(msg.data)}
        except ValueError:
            log.warning("an answer that is not JSON", subject=msg.subject)
            return
        for tok, answer in got.items():
            fut = self._waiting.pop(tok, None)
            if fut is not None and not fut.done():
                fut.set_result(answer)

    async def knowledge_changed(self) -> None:
        """Tell the workers to reload what the exchange learnt (an incident, an appeal, customers...)."""
        if self._nc is not None and self._nc.is_connected:
            await self._nc.publish(KNOWLEDGE_SUBJECT, b"")

    async def score(self, org_id: str, transfer: Transfer, on_flagged_call: bool = False) -> Recorded:
        from zaslon.adapters.bus.streams import encode_transfer

        nc = self._nc
        if nc is None or not nc.is_connected:
            raise Unavailable("the bus is unreachable: nothing was decided, retry with the same transfer id")
        key, _ = message_key(org_id, transfer)
        token = str(next(self._tokens))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[token] = fut
        try:
            try:
                ack = await self._js.publish(
                    score_subject(partition_of(transfer.payer, self.partitions)),
                    encode_transfer(org_id, transfer, on_flagged_call),
                    headers={"Nats-Msg-Id": key, REPLY_HEADER: f"{self._prefix}.{token}"},
                    timeout=self.publish_timeout_s)
            except Exception as exc:
                raise Unavailable(f"the bus did not take the transfer ({type(exc).__name__}): nothing was "
                                  "decided, retry with the same transfer id") from None
            if not ack.duplicate:
                try:
                    return decode_answer(await asyncio.wait_for(fut, self.reply_timeout_s))
                except TimeoutError:
                    pass  # decided meanwhile perhaps (answer lost): the store tells
            return await self._stored(transfer.transfer_id, org_id)
        finally:
            self._waiting.pop(token, None)

    async def score_many(self, org_id: str, transfers: list[Transfer], calls: list[bool] | None) -> list[Recorded]:
        """A batch request: each transfer decided by its partition's worker (in the scale-out shape each is its
        own unit of work; bad input is refused before any is published)."""
        from zaslon.errors import InvalidInput

        ids = [t.transfer_id for t in transfers]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise InvalidInput(f"duplicate transfer ids in one request: {dupes[:10]}", field="transfer_id")
        flags = calls or [False] * len(transfers)
        got = await asyncio.gather(*(self.score(org_id, t, f) for t, f in zip(transfers, flags, strict=True)),
                                   return_exceptions=True)
        for g in got:
            if isinstance(g, BaseException):
                raise g
        return [g for g in got if isinstance(g, Recorded)]

    async def _stored(self, transfer_id: str, org_id: str) -> Recorded:
        """A resent transfer: the decision the first request got, once the worker has committed it."""
        deadline = time.monotonic() + self.reply_timeout_s
        while True:
            try:
                _, rows = await asyncio.to_thread(self._decisions.stored, [(org_id, transfer_id)])
            except Exception:  # the store away for a moment: the same answer as no decision yet
                rows = {}
            row = rows.get((org_id, transfer_id))  # ids are each bank's own: another bank's tx-1 is not this one
            if row is not None:
                return recorded_of_row(row, replayed=True)
            if time.monotonic() > deadline:
                raise Unavailable("the transfer is queued but not decided yet: retry with the same transfer id")
            await asyncio.sleep(0.02)
