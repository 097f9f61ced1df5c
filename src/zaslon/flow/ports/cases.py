"""The case store: the link log and its materialised view (cases, their incidents and history), the
suspected-drop list, and the reads that linking keys and the organised-group report take.

The in-memory linker stays in the flow (``flow/cases.py``); the store holds the log it is rebuilt from and
the cases it is written out to, and runs each change as one transaction. Types a store builds live here
(``CaseView``, the report's facts, the log entries and view changes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol


@dataclass(frozen=True, slots=True)
class CaseView:
    case_id: str
    status: str
    version: int
    incident_ids: tuple[str, ...]
    merged_into: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "status": self.status, "version": self.version,
                "incident_ids": list(self.incident_ids), "merged_into": self.merged_into}


# -- the link log and the materialised view ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LogEntry:
    seq: int
    op: str  # add / split / merge
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CaseChange:
    """One case's row in the view after a change: created (open, version 1), or changed (version + 1; an
    emptied case gets ``status`` merged / closed and ``merged_into``); ``joined``: incidents that came in
    (wherever they were before)."""

    case_id: str
    created: bool = False
    changed: bool = False
    status: str | None = None
    merged_into: str | None = None
    joined: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseEvent:
    case_id: str
    kind: str  # create / join / merge / split / manual_merge / manual_split / confirm
    reason: str
    other_case_id: str | None = None
    incident_id: str | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class CaseWrites:
    changes: Sequence[CaseChange] = ()
    events: Sequence[CaseEvent] = ()


# -- reads for linking keys, drop ranking and the group report ------------------------------------------------
@dataclass(frozen=True, slots=True)
class IncidentKeyFacts:
    reported_at: datetime
    indicators: list[tuple[str, str]]  # (kind, value)
    disputed: list[tuple[str, datetime, int]]  # (payee, ts, amount) of disputed transfers made before the report


class Outflow(NamedTuple):
    payee: str
    ts: datetime
    amount: int
    device: str | None
    ip: str | None


class MoneyMove(NamedTuple):
    ts: datetime
    payer: str
    payee: str
    amount: int
    payer_bank: str | None
    payee_bank: str | None


@dataclass(frozen=True, slots=True)
class PublishedDrops:
    ranked: list[tuple[str, datetime]]  # (account, ranked_at) of the last published list
    delisted: dict[str, datetime]  # account -> latest upheld appeal that cleared it


@dataclass(frozen=True, slots=True)
class TransferFact:
    transfer_id: str
    ts: datetime
    payer: str
    payee: str
    amount: int
    currency: str
    payee_bank: str | None = None
    atm_id: str | None = None
    atm_city: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentFact:
    incident_id: str
    reported_at: datetime
    scheme: str
    victim_party: str | None
    victim_name: str | None
    disputed: tuple[TransferFact, ...] = ()
    indicators: tuple[tuple[str, str], ...] = ()  # (kind, value)


@dataclass
class CaseFacts:
    case_id: str
    status: str
    version: int
    incidents: list[IncidentFact] = field(default_factory=list)
    onward: list[TransferFact] = field(default_factory=list)  # transfers out of the drop accounts
    frozen: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # account -> (frozen, returned, ccy)
    suspected: dict[str, float] = field(default_factory=dict)  # account -> mule score


class CaseStore(Protocol):
    # -- changes: each one transaction ----------------------------------------------------------------
    def append(self, op: str, payload: dict[str, Any], *, after_seq: int, now: datetime,
               replay: Callable[[Sequence[LogEntry]], None], expect: Sequence[tuple[str, int]],
               apply: Callable[[], CaseWrites]) -> int:
        """In one transaction: hand the log entries after ``after_seq`` (in order) to ``replay``; check that
        every (case id, version) of ``expect`` is current (``NotFound``; ``Conflict`` for a merged or closed
        case and, compare-and-set under the row lock, for a stale version); call ``apply`` (its errors abort
        before anything is written); append (``op``, ``payload``) to the log; write ``apply``'s changes and
        events at ``now``. Returns the new entry's seq."""
        ...

    def confirm(self, case_id: str, version: int, actor: str, now: datetime) -> None:
        """In one transaction: check ``version`` as ``append`` does, mark the case confirmed by ``actor``
        (version + 1; ``Conflict`` if it changed meanwhile) and record the event."""
        ...

    # -- cases ------------------------------------------------------------------------------------------
    def case(self, case_id: str) -> CaseView:
        """The case with its incidents in id order; ``NotFound`` if there is none."""
        ...

    def history(self, case_id: str) -> list[dict[str, Any]]:
        """The events naming ``case_id`` (as the case or the other case), oldest first: kind, case_id,
        other_case_id, incident_id, reason, actor, at (a datetime or None)."""
        ...

    def cases(self, status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        """case_id, status, version of the cases most recently changed first; ``status`` None: all but merged."""
        ...

    # -- linking keys -------------------------------------------------------------------------------------
    def incident_key_facts(self, incident_id: str) -> IncidentKeyFacts:
        """The incident's report time, indicators and disputed transfers made before it; ``NotFound``."""
        ...

    def outflows(self, windows: Sequence[tuple[str, datetime, datetime]], limit: int) -> list[list[Outflow]]:
        """Per (account, since, until) of ``windows``: the transfers the account paid at or after ``since`` and
        before ``until``, the first ``limit`` in time."""
        ...

    # -- suspected drops -----------------------------------------------------------------------------------
    def moves_before(self, now: datetime) -> list[MoneyMove]:
        """Every stored transfer before ``now``, in time order."""
        ...

    def disputed_payees(self) -> set[str]:
        """The payees of every transfer an incident disputes."""
        ...

    def publish_drops(self, rows: Sequence[dict[str, Any]]) -> None:
        """Replace the suspected-drop list with ``rows`` (account_id, bank_id, score, rank, reasons as JSON,
        ranked_at), in one transaction."""
        ...

    def published_drops(self) -> PublishedDrops:
        """The last published list, and the upheld appeals that clear accounts."""
        ...

    def suspected_drops(self, bank_id: str | None, limit: int) -> list[dict[str, Any]]:
        """The published list by rank (only rows at ``bank_id`` unless None), columns as stored."""
        ...

    # -- the organised-group report --------------------------------------------------------------------
    def incident_facts(self, incident_ids: Sequence[str]) -> list[IncidentFact]:
        """The incidents with their disputed transfers (by time, then id) and indicators (sorted)."""
        ...

    def transfers_from(self, accounts: Sequence[str]) -> list[TransferFact]:
        """Every transfer paid by one of ``accounts``."""
        ...

    def mule_scores(self, accounts: Sequence[str]) -> dict[str, float]:
        """The published suspected-drop score of those of ``accounts`` on the list."""
        ...
