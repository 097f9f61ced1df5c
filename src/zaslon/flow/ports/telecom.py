"""The telecom store: operators' fraud numbers and the calls they report, each batch one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
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
