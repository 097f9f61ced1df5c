"""District outreach: who is an elderly person living alone, and the at-door courier risk.

The courier scheme leaves no payment trace: a caller posing as the police or the bank talks an elderly person
into handing cash to a "courier" at the door. What the exchange does see is the call. A conversation from a
flagged number with an elderly person, followed by no transfer from any of their accounts within
``COURIER_WINDOW``, is the shape of that scheme (a vishing victim pays within minutes; a courier victim does
not pay at all, they wait for the knock). The district officer, who knows the person, is told then. The watch
covers everyone aged 65 or more, not only those living alone: the courier knocks whoever else lives there (an
elderly couple is deceived as easily), and the district officer's list shows who lives alone.

Pure: every time is a parameter; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from zaslon.core.types import require_utc

ELDERLY_AGE = 65
# A vishing victim pays during the call or within minutes of it (the simulator and published cases: 3-50 min);
# a courier comes one to four hours after the call. 45 minutes without a transfer says "no transfer is coming"
# early enough for a district officer to reach the door first.
COURIER_WINDOW = timedelta(minutes=45)
# A call this short is a hang-up (campaign numbers dial hundreds of people a day; most hang up within seconds):
# no conversation, no persuasion, no courier. An unknown duration counts as a conversation.
MIN_TALK_S = 60
# What the officer's list looks back over.
RECENT = timedelta(days=30)


class Reason(StrEnum):
    FLAGGED_CALL = "flagged_call"  # a call from a number telecoms or reports flagged
    HELD_TRANSFER = "held_transfer"  # the exchange held or blocked one of their transfers
    INCIDENT = "incident"  # a reported incident names them as the victim
    COURIER_RISK = "courier_risk"  # a flagged call and no transfer after it: a courier may be on the way


class TaskKind(StrEnum):
    VISIT = "visit"
    ADVISE = "advise"
    CALL_BLOCKING = "call_blocking"  # help install call blocking on the person's phone


class TaskOutcome(StrEnum):
    VISITED = "visited"
    ADVISED = "advised"
    BLOCKING_INSTALLED = "blocking_installed"
    NOT_AT_HOME = "not_at_home"
    REFUSED = "refused"
    COURIER_DETAINED = "courier_detained"


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def elderly(birth: date | None, at: datetime) -> bool:
    """65 or older on the day of ``at``, by the birth date their bank registered."""
    return birth is not None and age_on(birth, require_utc(at, "at").date()) >= ELDERLY_AGE


def elderly_alone(birth: date | None, lives_alone: bool, at: datetime) -> bool:
    """65 or older on the day of ``at`` and living alone, as their bank registered it."""
    return lives_alone and elderly(birth, at)


@dataclass(frozen=True, slots=True)
class CourierRisk:
    person: str  # the bank's customer id, else the account: whose door
    caller: str  # E.164
    call_at: datetime
    due_at: datetime  # the call plus the window: the earliest moment "no transfer followed" is known


@dataclass
class CourierWatch:
    """Flagged calls to elderly people living alone, waiting to see whether a transfer follows.

    ``call`` starts a watch (the latest call of a person counts); ``paid`` ends the watches of a person whose
    transfer followed a call; ``due(now)`` returns, once, every watch whose window ended by ``now`` with no
    transfer: the at-door courier risks."""

    window: timedelta = COURIER_WINDOW
    _pending: dict[str, CourierRisk] = field(default_factory=dict)
    _last_paid: dict[str, datetime] = field(default_factory=dict)  # a call reported after the transfer

    def call(self, person: str, caller: str, at: datetime) -> None:
        at = require_utc(at, "at")
        paid = self._last_paid.get(person)
        if paid is not None and at <= paid <= at + self.window:
            return  # the transfer that followed this call arrived before the call's report
        known = self._pending.get(person)
        if known is None or at > known.call_at:
            self._pending[person] = CourierRisk(person, caller, at, at + self.window)

    def paid(self, person: str, at: datetime) -> None:
        """A transfer by ``person`` at ``at``: a watch whose call came before it (within its window) ends."""
        at = require_utc(at, "at")
        if at > self._last_paid.get(person, at - self.window):
            self._last_paid[person] = at
        known = self._pending.get(person)
        if known is not None and known.call_at <= at <= known.due_at:
            del self._pending[person]

    def due(self, now: datetime, *, not_before: datetime | None = None) -> list[CourierRisk]:
        """The watches due by ``now`` (and, with ``not_before``, due no earlier than it: older ones stay)."""
        now = require_utc(now, "now")
        out = sorted((r for r in self._pending.values()
                      if r.due_at <= now and (not_before is None or r.due_at >= not_before)),
                     key=lambda r: (r.due_at, r.person))
        for r in out:
            del self._pending[r.person]
        return out

    def next_due(self) -> datetime | None:
        return min((r.due_at for r in self._pending.values()), default=None)

    def __len__(self) -> int:
        return len(self._pending)
