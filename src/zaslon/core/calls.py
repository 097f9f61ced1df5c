"""Recent calls per subscriber, for scoring's "on a call with a flagged number" signal.

Telecoms report calls to their subscribers; a vishing victim typically transfers money during or just after
the call. ``RecentCalls`` keeps, per callee, the calls of the last ``window`` and answers which of them
came from a number flagged *now*: a number reported after the call still counts, because at the moment the
bank asks, the exchange knows it. Calls later than the moment asked about are never seen (event-time
order). Pure: time is always a parameter.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from zaslon.core.types import require_utc

DEFAULT_WINDOW = timedelta(hours=2)


@dataclass(frozen=True, slots=True, order=True)
class Call:
    ts: datetime
    caller: str  # E.164
    callee: str  # E.164
    duration_s: int | None = None


@dataclass
class RecentCalls:
    window: timedelta = DEFAULT_WINDOW
    _by_callee: dict[str, list[Call]] = field(default_factory=dict)

    def record(self, call: Call) -> None:
        """Keep ``call``; calls to the same callee older than the window before it are dropped."""
        ts = require_utc(call.ts)
        calls = self._by_callee.setdefault(call.callee, [])
        insort(calls, Call(ts, call.caller, call.callee, call.duration_s))
        horizon = calls[-1].ts - self.window
        drop = 0
        while drop < len(calls) and calls[drop].ts < horizon:
            drop += 1
        if drop:
            del calls[:drop]

    def flagged_callers(self, callee: str, now: datetime, flagged: Collection[str]) -> tuple[str, ...]:
        """Flagged numbers that called ``callee`` within the window up to ``now``, most recent first."""
        now = require_utc(now, "now")
        horizon = now - self.window
        seen: dict[str, None] = {}
        for call in reversed(self._by_callee.get(callee, ())):
            if call.ts > now:
                continue
            if call.ts < horizon:
                break
            if call.caller in flagged:
                seen.setdefault(call.caller, None)
        return tuple(seen)

    def on_call_with_flagged(self, callee: str, now: datetime, flagged: Collection[str]) -> bool:
        return bool(self.flagged_callers(callee, now, flagged))

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_callee.values())
