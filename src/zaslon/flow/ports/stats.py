"""The statistics store: aggregates over what the exchange recorded (incidents, orders, decisions, desk steps).

Every figure is selected by the incidents it belongs to: reported in ``[start, end)`` and, when asked, with the
victim living in ``region`` / ``district``. Money and order times follow their incident (the cohort of a
period), so a period's figures stay put when orders on its incidents complete later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StatsFilter:
    start: datetime  # inclusive
    end: datetime  # exclusive
    region: str | None = None
    district: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentCounts:
    """Incidents of the filter, reported and imported together. ``by_origin`` keys: ``"reported"`` for those
    reported to the exchange, else the history's label; ``None`` is an unknown region or district."""

    by_type: dict[str, int] = field(default_factory=dict)
    by_origin: dict[str, int] = field(default_factory=dict)
    by_district: dict[tuple[str | None, str | None], int] = field(default_factory=dict)
    by_month: dict[tuple[str, str], int] = field(default_factory=dict)  # (origin, YYYY-MM in UTC)
    with_age: int = 0
    elderly: int = 0  # aged 65+
    elderly_alone: int = 0  # aged 65+ and living alone


@dataclass(frozen=True, slots=True)
class HistorySpan:
    label: str
    incidents: int
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class MoneyRows:
    """Amounts per currency (minor units), each as the store found it; the flow converts them to BYN."""

    stolen: dict[str, int] = field(default_factory=dict)
    prevented: dict[str, int] = field(default_factory=dict)
    frozen: dict[str, int] = field(default_factory=dict)
    returned: dict[str, int] = field(default_factory=dict)
    stolen_history: int = 0  # BYN minor units, from the imported history


@dataclass(frozen=True, slots=True)
class OrderTimes:
    """One incident with orders: when it was reported, its first order, its first money frozen (if any)."""

    reported_at: datetime
    first_order_at: datetime
    first_frozen_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderAck:
    bank_id: str
    issued_at: datetime
    deadline: datetime
    acknowledged_at: datetime | None
    status: str


@dataclass(frozen=True, slots=True)
class HistoryRow:
    history_id: str
    scheme: str
    reported_at: datetime
    region: str | None = None
    district: str | None = None
    victim_age: int | None = None
    victim_lives_alone: bool | None = None
    stolen: int | None = None  # BYN minor units


class StatsStore(Protocol):
    def counts(self, f: StatsFilter) -> IncidentCounts: ...

    def type_counts(self, f: StatsFilter) -> dict[str, int]:
        """Incidents per type (scheme) only: the year before's side of year-over-year."""
        ...

    def history_spans(self, f: StatsFilter) -> list[HistorySpan]:
        """Per history label: how many of the filter's incidents came from it, and their first and last."""
        ...

    def span(self) -> tuple[datetime, datetime] | None:
        """The earliest and the latest incident the exchange knows of (reported or imported): outside, no data."""
        ...

    def money(self, f: StatsFilter) -> MoneyRows: ...

    def order_times(self, f: StatsFilter) -> list[OrderTimes]: ...

    def acknowledgements(self, f: StatsFilter) -> list[OrderAck]: ...

    def courier_steps(self, start: datetime, end: datetime) -> dict[str, int]:
        """Cash-outs with each desk step (``patrol``, ``detained``) recorded in ``[start, end)``."""
        ...

    def add_history(self, rows: Sequence[HistoryRow], *, label: str, by_org: str, now: datetime) -> int:
        """Import past incidents in one transaction; an id already imported is skipped. Returns how many
        were added."""
        ...
