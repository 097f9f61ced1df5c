"""Keeping in step with partner countries' exchanges: a scheduled sync, and a push at once when there is news.

A freeze request abroad must not wait for the next round of the schedule: money that reached a foreign drop is
moved on within hours, often within one. Nor may it wait behind a round already under way, which publishes and
moves thousands of indicators. So there are two lanes, each its own thread:
- the **urgent lane**: ``PartnerSync.wake`` pushes the signed freeze requests and answers that wait in the
  outboxes, and nothing else (``Sharing.push_urgent``), at once, whatever the bulk lane is doing;
- the **bulk lane**: a round at start, then on the schedule; each round is ``Sharing.sync``: every partner
  side by side with timeouts and retries, so one that is down delays no other, and what failed is retried on
  the next round. A scheduled round publishes first (new indicators, incidents, cases); a woken round pushes
  what already waits in the outboxes and pulls (the partners' answers), without rebuilding every indicator.
The caller never waits: an incident's answer to the reporting bank does not depend on a partner's server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from zaslon.flow.sharing import Sharing


class PartnerSync:
    def __init__(self, sharing: Sharing, *, interval_s: float, timeout_s: float = 10.0,
                 leads: Callable[[], bool] = lambda: True) -> None:
        self.sharing = sharing
        # Several API nodes on one database: only the leading one runs the scheduled rounds (a node's own wake-ups,
        # for the freeze requests it created, run wherever they happen; the partner deduplicates).
        self.leads = leads
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.rounds = 0
        self.last_result: dict[str, dict[str, Any]] = {}
        self.last_error: str | None = None
        self.urgent_rounds = 0
        self.last_urgent_result: dict[str, dict[str, Any]] = {}
        self._wake = threading.Event()
        self._urgent = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._urgent_thread: threading.Thread | None = None
        self._round_done = threading.Condition()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="zaslon-partner-sync", daemon=True)
        self._urgent_thread = threading.Thread(target=self._urgent_loop, name="zaslon-partner-push", daemon=True)
        self._thread.start()
        self._urgent_thread.start()

    def wake(self) -> None:
        """Push the waiting freeze requests and answers now, and sync (in the background); several wakes before
        a round starts make one round."""
        self._urgent.set()
        self._wake.set()

    def wait_round(self, after: int, timeout_s: float) -> bool:
        """Block until more than ``after`` rounds have completed (tests, the demo); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._round_done:
            while self.rounds <= after:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._round_done.wait(left)
        return True

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._urgent.set()
        for thread in (self._thread, self._urgent_thread):
            if thread is not None:
                thread.join(timeout=self.timeout_s + 5)
        self._thread = self._urgent_thread = None

    def _urgent_loop(self) -> None:
        while not self._stop.is_set():
            self._urgent.wait()
            if self._stop.is_set():
                return
            self._urgent.clear()
            try:
                # Fewer and shorter retries than the bulk lane: a partner that does not answer now gets the
                # request from the bulk round, which retries it until it is through.
                self.last_urgent_result = self.sharing.push_urgent(timeout_s=self.timeout_s, attempts=2,
                                                                   backoff_s=0.2)
            except Exception as exc:  # the store away for a moment: the bulk round pushes it
                self.last_urgent_result = {"*": {"error": f"{type(exc).__name__}: {exc}"}}
            with self._round_done:
                self.urgent_rounds += 1
                self._round_done.notify_all()

    def _loop(self) -> None:
        # The first round at once: a restarted exchange catches up now, and the partners' servers know our key
        # (their first check of it is the slow one) before the first freeze request has to go.
        first = bool(self.interval_s)
        while not self._stop.is_set():
            woken = False if first else self._wake.wait(self.interval_s or None)  # 0: only when woken
            first = False
            if self._stop.is_set():
                return
            self._wake.clear()
            if not woken and not self.leads():
                continue
            try:
                if self.sharing.partners():
                    # Woken: what waits in the outboxes leaves now (publishing every indicator again would make
                    # the freeze request wait for it); the scheduled round publishes first.
                    self.last_result = self.sharing.sync(timeout_s=self.timeout_s, publish=not woken)
                self.last_error = None
            except Exception as exc:  # the store away for a moment: the next round retries
                self.last_error = f"{type(exc).__name__}: {exc}"
            with self._round_done:
                self.rounds += 1
                self._round_done.notify_all()
