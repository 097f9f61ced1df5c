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


# ---- call events (start / end) and the network signals operators send with them ---------------------------
# Shaped like the CAMARA network APIs (GSMA Open Gateway / Linux Foundation): Number Verification
# (``devicePhoneNumberVerified``: is the calling line really the number it shows? false = spoofed), SIM Swap
# (``latestSimChange``), Call Forwarding Signal (unconditional forwarding ``active``).

# A call that ended this long before a transfer still counts as "on a call now": victims are talked into
# paying and do it right after hanging up.
RECENT_END = timedelta(minutes=10)
# A call whose end event never arrived is taken as over this long after it started.
MAX_CALL = timedelta(hours=3)
NO_SIM_SWAP_DAYS = 3650.0  # what "days since the last SIM swap" says when no swap is known
# Columns of ``CallBook.signals``, in the order of the features they fill (zaslon.core.features).
SIGNAL_NAMES = ("on_risky_call", "call_duration_s", "payer_call_forwarding", "payer_sim_swap_days")
NO_SIGNALS = (0.0, 0.0, 0.0, NO_SIM_SWAP_DAYS)


@dataclass(slots=True)
class LiveCall:
    call_id: str
    start: datetime
    caller: str  # E.164
    end: datetime | None = None
    caller_verified: bool | None = None  # Number Verification; False: the shown number is spoofed
    caller_in_registry: bool = False  # the operator's own suspect registry lists the caller


@dataclass(slots=True)
class LineState:
    """The latest network signals about a subscriber's line, as of ``at``."""

    at: datetime
    forwarding_active: bool | None = None
    latest_sim_change: datetime | None = None


def is_international(number: str, home_prefix: str) -> bool:
    """A number outside the exchange's home country (``home_prefix``: its country calling code, "+375")."""
    return not number.startswith(home_prefix)


@dataclass
class CallBook:
    """Calls per callee with their start, end and verification, and each line's latest network signals.

    ``signals(phones, now, flagged)`` answers, for a payer's phones at the moment of a transfer: is one of
    them on a call now (in progress, or ended within ``RECENT_END``) with a *risky* number (flagged by the
    exchange or the operator's registry, spoofed, or international and not verified), how long that call has
    lasted so far, is unconditional call forwarding active, and how many days since the SIM last changed.
    Events later than ``now`` are never seen (event-time order)."""

    home_prefix: str = "+375"
    sweep_every: int = 50_000  # starts between two sweeps of every callee's old calls (memory stays bounded)
    _calls: dict[str, dict[str, LiveCall]] = field(default_factory=dict)  # callee -> call id -> call
    _lines: dict[str, list[LineState]] = field(default_factory=dict)  # callee -> states by time
    _latest: datetime | None = None
    _since_sweep: int = 0

    @property
    def empty(self) -> bool:
        """Nothing recorded yet: scoring skips the look-ups (one attribute read per batch)."""
        return not self._calls and not self._lines

    def start(self, callee: str, call: LiveCall) -> None:
        calls = self._calls.setdefault(callee, {})
        known = calls.get(call.call_id)
        if known is not None and known.end is not None and call.end is None:
            call.end = known.end  # the end event arrived first
        calls[call.call_id] = call
        self._prune(callee, call.start)
        if self._latest is None or call.start > self._latest:
            self._latest = call.start
        self._since_sweep += 1
        if self._since_sweep >= self.sweep_every:
            self.sweep()

    def sweep(self) -> None:
        """Drop every callee's calls too old to count for any transfer after the latest call seen."""
        self._since_sweep = 0
        if self._latest is None:
            return
        for callee in list(self._calls):
            self._prune(callee, self._latest)
            if not self._calls[callee]:
                del self._calls[callee]

    def end(self, callee: str, call_id: str, start: datetime, caller: str, end: datetime) -> None:
        calls = self._calls.setdefault(callee, {})
        known = calls.get(call_id)
        if known is None:
            calls[call_id] = LiveCall(call_id, start, caller, end=end)
        else:
            known.end = end

    def line(self, callee: str, state: LineState) -> None:
        insort(self._lines.setdefault(callee, []), state, key=lambda s: s.at)
        states = self._lines[callee]
        if len(states) > 8:  # only the latest matter
            del states[:-8]

    def _prune(self, callee: str, latest: datetime) -> None:
        calls = self._calls[callee]
        horizon = latest - MAX_CALL - RECENT_END
        old = [cid for cid, c in calls.items() if c.start < horizon]
        for cid in old:
            del calls[cid]

    def is_risky(self, call: LiveCall, flagged: Collection[str]) -> bool:
        if call.caller in flagged or call.caller_in_registry or call.caller_verified is False:
            return True
        return call.caller_verified is not True and is_international(call.caller, self.home_prefix)

    def signals(self, phones: Collection[str], now: datetime, flagged: Collection[str]) -> tuple[float, ...]:
        """``SIGNAL_NAMES`` for a payer with ``phones`` at ``now`` (``NO_SIGNALS`` when nothing is known)."""
        risky, secs, fwd, swap_days = 0.0, 0.0, 0.0, NO_SIM_SWAP_DAYS
        best: tuple[bool, float] = (False, -1.0)
        for phone in phones:
            for call in self._calls.get(phone, {}).values():
                if call.start > now:
                    continue
                end = call.end if call.end is not None else call.start + MAX_CALL
                if end < now - RECENT_END:
                    continue
                lasted = (min(now, end) - call.start).total_seconds()
                rank = (self.is_risky(call, flagged), lasted)
                if rank > best:
                    best = rank
            for state in reversed(self._lines.get(phone, ())):
                if state.at > now:
                    continue
                if state.forwarding_active:
                    fwd = 1.0
                if state.latest_sim_change is not None and state.latest_sim_change <= now:
                    swap_days = min(swap_days, (now - state.latest_sim_change).total_seconds() / 86400.0)
                break
        if best[1] >= 0.0:
            risky, secs = (1.0 if best[0] else 0.0), best[1]
        return risky, secs, fwd, swap_days

    def __len__(self) -> int:
        return sum(len(v) for v in self._calls.values())
