"""The telecom stores: operators' fraud numbers and calls, each batch one transaction; their number ranges, call
events, the block list's change log and appeals of listed numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from zaslon.core.blocklist import NumberReport
    from zaslon.flow.telecom import CallReport


@dataclass(frozen=True, slots=True)
class FraudNumberReport:
    """One organisation's report of a fraud number: by an operator (``telecom``) or named in an ``incident``."""

    phone: str  # E.164
    reporter_org: str
    source: str
    reported_at: datetime


class TelecomStore(Protocol):
    def add_fraud_numbers(self, org_id: str, phones: Sequence[str], note: str | None, now: datetime) -> int:
        """Store the numbers ``org_id`` has not reported yet (source ``telecom``); returns how many were new.
        A concurrent writer of the same number: tried again."""
        ...

    def add_calls(self, org_id: str, calls: Sequence[CallReport], hashes: Mapping[str, str],
                  now: datetime) -> list[CallReport]:
        """Store the calls not stored yet, in one transaction; returns them. A call id stored with another body
        hash (``hashes``: call id -> hash) is a ``Conflict`` and nothing is written. A concurrent writer of the
        same call id: tried again."""
        ...

    def fraud_number_reports(self) -> list[FraudNumberReport]:
        """Every report of a fraud number, by phone."""
        ...


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One event of a call, as an operator posts it (numbers in E.164). ``start`` carries the network
    signals known when the call connected; ``end`` the duration."""

    call_id: str
    event: str  # start / end
    ts: datetime
    caller: str
    callee: str
    callee_party: str | None = None
    duration_s: int | None = None
    caller_verified: bool | None = None  # CAMARA Number Verification; False: the shown number is spoofed
    caller_in_registry: bool = False  # the operator's own suspect registry lists the caller
    forwarding_active: bool | None = None  # CAMARA Call Forwarding Signal (unconditional) on the callee's line
    latest_sim_change: datetime | None = None  # CAMARA SIM Swap ``latestSimChange`` of the callee's line


@dataclass(frozen=True, slots=True)
class BlockChange:
    seq: int  # the cursor operators page with
    phone: str
    action: str  # added / removed
    reason: str  # police / corroborated / appeal_upheld
    at: datetime


@dataclass(frozen=True, slots=True)
class NumberAppeal:
    appeal_id: str
    phone: str
    reason: str
    contact: str
    filed_by: str
    filed_at: datetime
    status: str  # pending / upheld / rejected
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None


class TelecomSignalStore(Protocol):
    def org_kind(self, org_id: str) -> str | None:
        ...

    def ranges(self) -> dict[str, str]:
        """Every registered E.164 prefix -> the operator that owns it."""
        ...

    def set_ranges(self, org_id: str, add: Sequence[str], remove: Sequence[str], now: datetime) -> None:
        """Add and remove ``org_id``'s prefixes in one transaction; a prefix another operator owns: ``Conflict``."""
        ...

    def add_call_events(self, org_id: str, events: Sequence[CallEvent], hashes: Mapping[tuple[str, str], str],
                        now: datetime) -> list[CallEvent]:
        """Store the events not stored yet, in one transaction; returns them. An event (call id, start/end)
        stored with another body hash is a ``Conflict`` and nothing is written."""
        ...

    def call_events_since(self, since: datetime) -> list[CallEvent]:
        """Events from ``since`` on (a restart rebuilds the live call book from them), in time order."""
        ...

    def number_reports(self, phones: Sequence[str] | None = None) -> list[NumberReport]:
        """Everything that names a number (of ``phones``, or all): operators', incidents', the police's."""
        ...

    def add_police_confirmations(self, org_id: str, phones: Sequence[str], note: str | None, now: datetime) -> int:
        ...

    def block_states(self, phones: Sequence[str] | None = None) -> dict[str, BlockChange]:
        """The latest change of each number ever listed (of ``phones``, or all)."""
        ...

    def append_changes(self, changes: Sequence[tuple[str, str, str]], now: datetime) -> None:
        """(phone, action, reason) rows, one transaction."""
        ...

    def changes_after(self, seq: int, limit: int) -> list[BlockChange]:
        ...

    def last_seq_before(self, at: datetime) -> int:
        ...

    def last_seq(self) -> int:
        ...

    def add_appeal(self, appeal: NumberAppeal) -> None:
        ...

    def appeal(self, appeal_id: str) -> NumberAppeal | None:
        ...

    def decide_appeal(self, appeal_id: str, status: str, by: str, note: str, now: datetime) -> bool:
        ...

    def cleared_at(self, phones: Sequence[str] | None = None) -> dict[str, datetime]:
        """When an upheld appeal last de-listed each number."""
        ...
