"""A token bucket per API key: ``rate`` requests a second on average, bursts of up to ``burst``.

A dozen lines of arithmetic, kept here rather than pulled in as a dependency: the exchange needs the exact
wait until the next token (the 429's ``Retry-After``), in memory, per key, shared by the routes and the
scoring fast lane. Each process keeps its own buckets (``zaslon serve`` runs one process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from zaslon.errors import RateLimited


class KeyRateLimiter:
    def __init__(self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, max(1.0, burst), clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, when counted)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def wait(self, key_id: str) -> float:
        """Take a token for ``key_id``: 0.0 if there was one, else the seconds until there will be (none taken)."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def check(self, key_id: str | None) -> None:
        """Raise ``RateLimited`` (429) when ``key_id`` has no token left."""
        if key_id is None:
            return
        wait = self.wait(key_id)
        if wait > 0:
            raise RateLimited(f"API key {key_id} is over its rate of {self.rate:g} requests/s "
                              f"(bursts of {self.burst:g}); retry in {wait:.2f} s", retry_after=wait)
