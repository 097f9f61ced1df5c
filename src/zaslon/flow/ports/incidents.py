"""The incident store: intake's one-transaction write, incident reads, what a restart relearns, and appeals.

Types a store builds live here (``StoredIncident``, ``IncidentDetails``, ``KnowledgeSources``, ``AppealStatus``);
the reports it is given are intake's own (``IncidentReport``), only read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from zaslon.core.types import Incident, Indicator, IndicatorKind

if TYPE_CHECKING:
    from zaslon.flow.intake import IncidentReport

# Indicator kinds that name an account a report lists (REPORTED) and an appeal can be filed against.
LISTED_KINDS = (IndicatorKind.ACCOUNT, IndicatorKind.WALLET)


class AppealStatus(StrEnum):
    PENDING = "pending"
    UPHELD = "upheld"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class StoredIncident:
    """What ``IncidentStore.add`` did: a new incident (``created``) or the earlier one a repeat is linked to."""

    incident: Incident
    created: bool
    payees: dict[str, str] = field(default_factory=dict)  # disputed transfer id -> payee account (created only)
    payers: dict[str, str] = field(default_factory=dict)  # disputed transfer id -> payer account (created only)


@dataclass(frozen=True, slots=True)
class IncidentDetails:
    """An incident with what deciding who may read it takes: every reporter, the disputed transfers' banks."""

    incident: Incident
    language: str | None
    victim: dict[str, Any]  # party_id, name, phone, age, lives_alone
    reporters: frozenset[str]
    banks: frozenset[str | None]  # payer and payee banks of the disputed transfers
    repeat_reports: int


@dataclass(frozen=True, slots=True)
class KnowledgeSources:
    """What intake taught, as stored: each account an incident named (a disputed transfer's payee or a
    ``LISTED_KINDS`` indicator) with that incident's receipt time, the upheld delistings, every fraud number."""

    named: list[tuple[str, datetime]]
    delisted: dict[str, datetime]
    phones: set[str]
    # Beside each of ``named``: the report time the reporter gave (what intake's corroboration check counts
    # payers up to).
    reported: list[datetime] = field(default_factory=list)
    # (payer, payee) of every disputed transfer, once per incident naming it (``Knowledge.count_report``).
    disputed: list[tuple[str, str]] = field(default_factory=list)


class IncidentStore(Protocol):
    def add(self, report: IncidentReport, found: Sequence[Indicator], *, text: str, body_hash: str,
            dedup_key: str | None, phones: Sequence[str], now: datetime, incident_id: str | None) -> StoredIncident:
        """In one transaction: a report under a known ``(reporter, external_ref)`` returns the earlier incident
        (``Conflict`` if its body differs); unknown transfer ids are ``InvalidInput``; a known ``dedup_key`` adds
        a repeat report and returns the earlier incident; else the incident (``text``: cards masked), its report,
        indicators, disputed transfers and the ``phones`` as the reporter's fraud numbers are written
        (``Conflict`` if ``incident_id`` exists). A concurrent writer of the same key: tried again, up to 5 times."""
        ...

    def distinct_payers(self, accounts: Sequence[str], at: datetime) -> dict[str, int]:
        """How many distinct payers paid each of ``accounts`` up to ``at`` (accounts nobody paid are absent)."""
        ...

    def details(self, incident_id: str) -> IncidentDetails:
        """The stored incident and its readers' facts; ``NotFound`` if there is none."""
        ...

    def knowledge_sources(self) -> KnowledgeSources:
        ...

    def disputed_before(self, cutoff: datetime) -> set[str]:
        """Transfer ids named in incidents reported before ``cutoff``."""
        ...

    def reported_outcomes(self, since: datetime, until: datetime, model_version: str) -> list[str]:
        """The outcomes ``model_version`` gave the transfers disputed by incidents reported in
        ``[since, until)`` (one per incident naming a transfer; the drift rule's "missed reports")."""
        ...


class AppealStore(Protocol):
    def names_listed_indicator(self, account_id: str) -> bool:
        """Is ``account_id`` an account or wallet indicator of some incident?"""
        ...

    def add_appeal(self, *, appeal_id: str, account_id: str, reason: str, contact: str, filed_by: str,
                   filed_at: datetime, flags_at_filing: int) -> None:
        """File a pending appeal; ``Conflict`` if the account already has one pending."""
        ...

    def decide_appeal(self, appeal_id: str, *, status: AppealStatus, decided_by: str, decided_at: datetime,
                      note: str, flags_of: Callable[[str], int]) -> str:
        """Decide a pending appeal in one transaction, compare-and-set on its status (``NotFound``; ``Conflict``
        if decided already, or concurrently); an upheld one records ``flags_of(account)`` as the flags removed.
        Returns the appealed account."""
        ...

    def appeal(self, appeal_id: str) -> dict[str, Any] | None:
        """The appeal's stored row (datetimes and flag bits as stored), or None."""
        ...

    def upheld_appeals(self) -> dict[str, datetime]:
        """Accounts cleared by an upheld appeal, with the latest such decision."""
        ...
