"""The district store: what put elderly people living alone on their district officer's list, and the officers'
outreach tasks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Signal:
    district: str
    person: str  # the bank's customer id, else the account
    account_id: str
    reason: str  # ``zaslon.core.outreach.Reason``
    at: datetime
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Task:
    task_id: str
    district: str
    person: str
    kind: str  # ``zaslon.core.outreach.TaskKind``
    note: str
    created_at: datetime
    created_by: str
    outcome: str | None = None
    outcome_note: str = ""
    done_at: datetime | None = None
    done_by: str | None = None


class DistrictStore(Protocol):
    def add_signals(self, signals: Sequence[Signal], now: datetime) -> None: ...

    def signals(self, district: str, *, since: datetime, until: datetime,
                reasons: Sequence[str] | None = None) -> list[Signal]:
        """The district's signals in [since, until], oldest first."""
        ...

    def courier_risks(self, *, limit: int = 200) -> list[Signal]:
        """Every district's at-door courier risks, newest first (the desk's couriers page)."""
        ...

    def add_task(self, task: Task) -> None: ...

    def task(self, task_id: str) -> Task | None: ...

    def finish_task(self, task_id: str, *, outcome: str, note: str, at: datetime, by: str) -> Task:
        """Record the outcome once: ``NotFound``; ``Conflict`` (nothing written) if it has one already."""
        ...

    def tasks(self, district: str, *, persons: Sequence[str] | None = None) -> list[Task]: ...

    def districts(self) -> list[dict[str, Any]]:
        """The districts banks registered customers in: district, region, customers."""
        ...
