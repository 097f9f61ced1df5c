"""The desk store: the police desk's people, sessions, audit trail and the incident queue's working state.

Queue writes are compare-and-set: "take next" claims a row only while it is still unassigned (so two analysts
never take the same incident), and an edit names the version it was made on (a stale one is ``Conflict``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from zaslon.core.types import FreezeOrder


class Role(StrEnum):
    ANALYST = "analyst"  # duty analyst: works the queue, incidents, orders, appeals, rules
    SUPERVISOR = "supervisor"  # an analyst who also assigns work to others and reads the audit trail
    DISTRICT_OFFICER = "district_officer"  # read-only list of vulnerable people in the district
    ADMIN = "admin"  # everything a supervisor does


class CloseReason(StrEnum):
    CONFIRMED_FRAUD = "confirmed_fraud"
    FALSE_REPORT = "false_report"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class DeskUser:
    user_id: str
    login: str
    org_id: str
    role: Role
    password_hash: str
    failed_logins: int = 0
    locked_until: datetime | None = None
    disabled_at: datetime | None = None
    district: str | None = None  # a district officer's district: the only one whose list they see


@dataclass(frozen=True, slots=True)
class DeskSession:
    token_hash: str
    user: DeskUser
    csrf_token: str
    language: str
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class QueueItem:
    """An incident as the queue shows it, with its stage times (None: the stage is not reached yet)."""

    incident_id: str
    priority: int
    reported_at: datetime
    scheme: str
    victim_name: str | None
    victim_age: int | None
    lives_alone: bool | None
    assigned_to: str | None
    assigned_login: str | None
    snoozed_until: datetime | None
    closed_at: datetime | None
    close_reason: str | None
    version: int
    received_at: datetime | None = None  # when the exchange got the report: the desk's clocks start here
    orders: int = 0
    first_order_at: datetime | None = None
    first_ack_at: datetime | None = None
    first_frozen_at: datetime | None = None


class QueueView(StrEnum):
    OPEN = "open"  # not closed, not snoozed: what needs doing
    MINE = "mine"
    UNASSIGNED = "unassigned"
    SNOOZED = "snoozed"
    CLOSED = "closed"


class DeskStore(Protocol):
    # people
    def add_user(self, user: DeskUser, *, now: datetime) -> None:
        """``Conflict`` (nothing written) if the login exists; ``InvalidInput`` if the organisation does not."""
        ...

    def user_by_login(self, login: str) -> DeskUser | None: ...

    def login_of(self, user_id: str) -> str | None: ...

    def set_password(self, user_id: str, password_hash: str) -> None:
        """New hash, failures and lock cleared, every session of the user ended."""
        ...

    def disable(self, user_id: str, at: datetime) -> None:
        """Disabled from ``at``; every session of the user ended."""
        ...

    def login_failed(self, user_id: str, *, max_failures: int, lock_until: datetime) -> int:
        """Count one failure atomically; at ``max_failures`` lock the account until ``lock_until`` and reset
        the count. Returns the count after this failure."""
        ...

    def login_succeeded(self, user_id: str) -> None: ...

    def org_kind(self, org_id: str) -> str | None: ...

    # sessions
    def add_session(self, *, token_hash: str, user_id: str, csrf_token: str, language: str, now: datetime) -> None:
        ...

    def session(self, token_hash: str) -> DeskSession | None: ...

    def touch_session(self, token_hash: str, at: datetime, *, language: str | None = None) -> None: ...

    def drop_session(self, token_hash: str) -> None: ...

    # audit
    def audit(self, *, actor: str | None, org_id: str | None, action: str, target: str | None,
              detail: str | None, at: datetime) -> None: ...

    def audit_log(self, *, limit: int = 200, actor: str | None = None,
                  target: str | None = None) -> list[dict[str, Any]]:
        """The newest first, each with the actor's ``login``."""
        ...

    # queue
    def sync_queue(self) -> int:
        """Give every incident the desk has not seen a queue row (priority from its victim); returns how many."""
        ...

    def queue(self, view: QueueView, *, user_id: str, now: datetime, scheme: str | None = None,
              limit: int = 50, offset: int = 0) -> tuple[list[QueueItem], int]:
        """A page of the view, highest priority then oldest first, and how many the view holds in all."""
        ...

    def queue_item(self, incident_id: str) -> QueueItem | None: ...

    def take_next(self, user_id: str, *, now: datetime) -> str | None:
        """Atomically claim the highest-priority, oldest open incident nobody holds; None if there is none."""
        ...

    def update_item(self, incident_id: str, *, version: int, values: dict[str, Any]) -> QueueItem:
        """Set ``values`` if the row is still at ``version`` (bumping it); ``NotFound``; ``Conflict`` if stale."""
        ...

    # what the desk reads besides
    def order_events(self, order_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Every event of the orders, oldest first: order_id, status, amount, by_org, detail, at."""
        ...

    def appeals(self, *, pending_only: bool = True, limit: int = 100) -> list[dict[str, Any]]: ...

    def incident_transfers(self, incident_id: str) -> list[dict[str, Any]]:
        """The incident's disputed transfers, as stored."""
        ...

    def orders_board(self, *, now: datetime, status: str | None = None, bank_id: str | None = None,
                     limit: int = 50, offset: int = 0) -> tuple[list[FreezeOrder], int, list[tuple[str, str, int]]]:
        """A page of orders, overdue ones first, then open ones, by deadline; how many match; and the count of
        every order by (bank, status)."""
        ...

    def vulnerable_victims(self, *, limit: int = 200) -> list[dict[str, Any]]:
        """Victims aged 65+ living alone, newest incidents first (the district officers' list)."""
        ...

    def courier_alerts(self, *, limit: int = 200) -> list[dict[str, Any]]:
        """Cash-out alerts newest first, each with atm_lat/atm_lon/atm_city, order_id, incident_id, case_id and
        ``actions``: what the desk recorded (courier.patrol / courier.detained, at, login)."""
        ...

    def alert_exists(self, transfer_id: str) -> bool: ...

    def pulse(self) -> tuple[int, int, int]:
        """What changed, cheaply: (incidents, newest order event id, cash-out alerts)."""
        ...
