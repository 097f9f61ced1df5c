"""Micro-batching for the real-time scoring API, on the event loop.

Scoring one transfer costs mostly fixed per-call overhead (numpy, the engine's lock, the hand-off to the
decision writer), so requests that arrive together are decided together: each request parses and
validates its own body (bad input is refused before it gets here), then queues its transfer and waits.
The first request queued schedules a flush for the loop's next turn, so an idle server adds no delay;
under load, requests pile up while the previous batch is scored and the next flush takes them all (at
most ``max_batch`` at a time). Flushes are at least ``window`` seconds apart: a steady stream of requests
(each arriving after the last was decided) would otherwise be decided one at a time, paying the fixed
per-batch cost for each, which at 1,000 requests/s saturates a core; a few milliseconds' wait instead
decides them in small groups. Each request gets its own decision, or its own error, and only once its
decision is committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from zaslon.core.types import Transfer
from zaslon.flow.decide import DecisionRecorder, Recorded, all_done

__all__ = ["ScoreBatcher"]


@dataclass(slots=True)
class _Item:
    org_id: str
    transfer: Transfer
    on_flagged_call: bool
    answer: asyncio.Future[Recorded]


class ScoreBatcher:
    """Groups concurrent one-transfer requests into one ``DecisionRecorder.record_each`` call.

    ``context`` is called once per batch and returns ``(engine, shadow ruleset)``: the rules in force when
    the batch is decided (a hot swap applies from the next batch).
    """

    def __init__(
        self,
        recorder: DecisionRecorder,
        context: Callable[[], tuple[Any, Any]],
        *,
        max_batch: int = 256,
        window: float = 0.0,
        source: str = "json",
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if window < 0:
            raise ValueError("window must not be negative")
        self._window = window
        self._last_flush = float("-inf")
        self._recorder = recorder
        self._context = context
        self._max = max_batch
        self._source = source
        # One queue per event loop (a server has one; tests may start several in turn): a flush is pending
        # exactly while its loop's queue is not empty, so a loop that died with work queued blocks no other.
        self._queues: dict[asyncio.AbstractEventLoop, list[_Item]] = {}
        self.batches = 0  # counters, for tests and diagnostics
        self.scored = 0

    async def score(self, org_id: str, transfer: Transfer, on_flagged_call: bool = False) -> Recorded:
        """Decide ``transfer`` with whatever else is queued now; returns once the decision is committed."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Recorded] = loop.create_future()
        queue = self._queues.get(loop)
        if queue is None:
            for old in [x for x in self._queues if x.is_closed()]:
                del self._queues[old]
            queue = self._queues[loop] = []
        if not queue:
            wait = self._last_flush + self._window - loop.time()
            if wait > 0:
                loop.call_later(wait, self._flush, loop, queue)
            else:
                loop.call_soon(self._flush, loop, queue)
        queue.append(_Item(org_id, transfer, on_flagged_call, answer))
        return await answer

    def _flush(self, loop: asyncio.AbstractEventLoop, queue: list[_Item]) -> None:
        self._last_flush = loop.time()
        items = queue[: self._max]
        del queue[: self._max]
        if queue:
            loop.call_soon(self._flush, loop, queue)  # the rest next turn: other work on the loop gets a say
        live = [it for it in items if not it.answer.done()]  # a cancelled request (client gone) is not decided
        if not live:
            return
        self.batches += 1
        self.scored += len(live)
        try:
            engine, shadow = self._context()
            results = self._recorder.record_each(
                engine, [(it.org_id, it.transfer, it.on_flagged_call) for it in live],
                shadow=shadow, source=self._source,
            )
        except Exception as exc:  # nothing was decided: every request of the batch gets the error
            for it in live:
                if not it.answer.done():
                    it.answer.set_exception(exc)
            return
        waiting: list[tuple[_Item, Recorded, Future[None]]] = []
        for it, res in zip(live, results, strict=True):
            if isinstance(res, Exception):
                if not it.answer.done():
                    it.answer.set_exception(res)
            else:
                waiting.append((it, res[0], res[1]))
        if waiting:
            self._when_committed(loop, waiting)

    @staticmethod
    def _when_committed(loop: asyncio.AbstractEventLoop,
                        waiting: list[tuple[_Item, Recorded, Future[None]]]) -> None:
        """Answer the batch once all its commits are done: one wake-up of the loop, not one per request."""
        all_done([fut for _, _, fut in waiting]).add_done_callback(
            lambda _: loop.call_soon_threadsafe(_settle, waiting))


def _settle(waiting: list[tuple[_Item, Recorded, Future[None]]]) -> None:
    for it, rec, fut in waiting:
        if it.answer.done():  # cancelled meanwhile: the decision is stored, nobody is waiting for it
            continue
        exc = fut.exception()
        if exc is not None:
            it.answer.set_exception(exc)
        else:
            it.answer.set_result(rec)
