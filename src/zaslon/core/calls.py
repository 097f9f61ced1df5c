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
from datetime import UTC, datetime, timedelta

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
# A vishing victim often pays an hour or two after the "bank's security service" hung up, following its
# instructions: calls from strangers count this long after they started (``stranger_call_s``).
STRANGER_WINDOW = timedelta(hours=4)
# A number is one of a subscriber's contacts once a call between the two (either way) started at least this long
# before: one scam session of repeated calls does not make the scammer a contact.
KNOWN_AFTER = timedelta(days=1)
# Contacts not heard from for this long are forgotten (memory stays bounded).
CONTACT_MEMORY = timedelta(days=180)
# Calls kept per callee: long enough for every signal.
KEEP_CALLS = max(MAX_CALL + RECENT_END, STRANGER_WINDOW)
# Columns of ``CallBook.signals``, in the order of the features they fill (zaslon.core.features).
SIGNAL_NAMES = ("on_risky_call", "call_duration_s", "payer_call_forwarding", "payer_sim_swap_days",
                "stranger_call_s", "payer_calls_known")
NO_SIGNALS = (0.0, 0.0, 0.0, NO_SIM_SWAP_DAYS, 0.0, 0.0)


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LOW = (1 << 32) - 1


def _minutes(at: datetime) -> int:
    """Whole minutes since the epoch (a contact's day-scale times need no more)."""
    return int((at - _EPOCH).total_seconds() // 60)


def is_international(number: str, home_prefix: str) -> bool:
    """A number outside the exchange's home country (``home_prefix``: its country calling code, "+375")."""
    return not number.startswith(home_prefix)


@dataclass
class CallBook:
    """Calls per callee with their start, end and verification, and each line's latest network signals.

    ``signals(phones, now, flagged)`` answers, for a payer's phones at the moment of a transfer: is one of
    them on a call now (in progress, or ended within ``RECENT_END``) with a *risky* number (flagged by the
    exchange or the operator's registry, spoofed, or international and not verified), how long that call has
    lasted so far, is unconditional call forwarding active, how many days since the SIM last changed, and how
    long the longest call from a *stranger* within ``STRANGER_WINDOW`` lasted (a number that is none of the
    phone's contacts: no call between the two, either way, started ``KNOWN_AFTER`` or more before it), and
    whether operators report calls of these phones at all (one of them has a contact: without that, no call
    signal can be told from silence).
    Events later than ``now`` are never seen (event-time order)."""

    home_prefix: str = "+375"
    sweep_every: int = 50_000  # starts between two sweeps of every callee's old calls (memory stays bounded)
    _calls: dict[str, dict[str, LiveCall]] = field(default_factory=dict)  # callee -> call id -> call
    _lines: dict[str, list[LineState]] = field(default_factory=dict)  # callee -> states by time
    # subscriber -> other number -> the first and the last start of a call between them, either way, in whole
    # minutes since the epoch packed in one int (first << 32 | last): a tenth of the memory of two datetimes
    _contacts: dict[str, dict[str, int]] = field(default_factory=dict)
    _latest: datetime | None = None
    _since_sweep: int = 0

    @property
    def empty(self) -> bool:
        """Nothing recorded yet: scoring skips the look-ups (one attribute read per batch)."""
        return not self._calls and not self._lines

    def contact(self, callee: str, caller: str, at: datetime) -> None:
        """A call between ``caller`` and ``callee`` started at ``at``: each becomes the other's contact."""
        m = _minutes(at)
        for a, b in ((callee, caller), (caller, callee)):
            book = self._contacts.setdefault(a, {})
            seen = book.get(b)
            book[b] = m << 32 | m if seen is None else min(seen >> 32, m) << 32 | max(seen & _LOW, m)

    def is_contact(self, callee: str, caller: str, at: datetime) -> bool:
        """``caller`` was a contact of ``callee`` at ``at`` (a call between them began ``KNOWN_AFTER`` before)."""
        seen = self._contacts.get(callee, {}).get(caller)
        return seen is not None and seen >> 32 <= _minutes(at - KNOWN_AFTER)

    def start(self, callee: str, call: LiveCall) -> None:
        self.contact(callee, call.caller, call.start)
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
        forget = _minutes(self._latest - CONTACT_MEMORY)
        for number in list(self._contacts):
            book = self._contacts[number]
            for other in [o for o, seen in book.items() if seen & _LOW < forget]:
                del book[other]
            if not book:
                del self._contacts[number]

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
        horizon = latest - KEEP_CALLS
        old = [cid for cid, c in calls.items() if c.start < horizon]
        for cid in old:
            del calls[cid]

    def is_risky(self, call: LiveCall, flagged: Collection[str]) -> bool:
        if call.caller in flagged or call.caller_in_registry or call.caller_verified is False:
            return True
        return call.caller_verified is not True and is_international(call.caller, self.home_prefix)

    def signals(self, phones: Collection[str], now: datetime, flagged: Collection[str]) -> tuple[float, ...]:
        """``SIGNAL_NAMES`` for a payer with ``phones`` at ``now`` (``NO_SIGNALS`` when nothing is known)."""
        risky, secs, fwd, swap_days, stranger, known = 0.0, 0.0, 0.0, NO_SIM_SWAP_DAYS, 0.0, 0.0
        best: tuple[bool, float] = (False, -1.0)
        for phone in phones:
            if phone in self._contacts:
                known = 1.0
            for call in self._calls.get(phone, {}).values():
                if call.start > now:
                    continue
                end = call.end if call.end is not None else call.start + MAX_CALL
                lasted = (min(now, end) - call.start).total_seconds()
                if call.start >= now - STRANGER_WINDOW and not self.is_contact(phone, call.caller, call.start):
                    stranger = max(stranger, lasted)
                if end < now - RECENT_END:
                    continue
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
        return risky, secs, fwd, swap_days, stranger, known

    def __len__(self) -> int:
        return sum(len(v) for v in self._calls.values())
