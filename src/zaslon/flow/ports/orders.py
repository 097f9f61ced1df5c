"""The order store: freeze orders, their audit trail, the banks' webhook addresses and cash-out alerts.

A bank sees only orders addressed to its BIC (``bank_id``; None: the police desk sees all); an order of
another bank is ``NotFound`` exactly like a missing one. Every write is one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from zaslon.core.cashout import CashOutAlert
from zaslon.core.recall import OrderOrigin
from zaslon.core.types import FreezeOrder, OrderStatus


class OrderStore(Protocol):
    def add_new(self, incident_id: str, planned: Sequence[FreezeOrder], *, now: datetime,
                origins: Mapping[str, OrderOrigin] | None = None) -> tuple[list[FreezeOrder], set[str]]:
        """In one transaction: write the ``planned`` orders not yet stored for ``incident_id`` (with an
        ``issued`` event each, and its original payments from ``origins`` by order id); returns (those
        written, the ids the incident already had). A concurrent
        writer of the same orders winning the race: read and tried again."""
        ...

    def get(self, order_id: str, bank_id: str | None) -> FreezeOrder:
        """The order as ``bank_id`` sees it; ``NotFound`` if there is none for it."""
        ...

    def orders(self, bank_id: str | None, *, status: OrderStatus | None = None, incident_id: str | None = None,
               limit: int = 100, offset: int = 0) -> list[FreezeOrder]:
        """Orders oldest first (issue time, then id)."""
        ...

    def of_incidents(self, incident_ids: Sequence[str]) -> list[FreezeOrder]:
        """Every order issued for one of ``incident_ids``."""
        ...

    def step(self, order_id: str, bank_id: str | None, by_org: str | None, now: datetime,
             move: Callable[[FreezeOrder], FreezeOrder], detail: str | None = None) -> FreezeOrder:
        """In one transaction: read the order (``NotFound``), ``move`` it (its errors abort before anything is
        written), store the new state only if nobody moved it meanwhile (else ``Conflict``) and append the
        event (what moved: a freeze or top-up, a return tranche, an extension; ``by_org``, ``detail``).
        Returns the moved order."""
        ...

    def active_accounts(self) -> set[str]:
        """Accounts with an issued, acknowledged or frozen order."""
        ...

    def active_on(self, account_id: str) -> list[FreezeOrder]:
        """The active orders on ``account_id``, oldest first."""
        ...

    def open_due(self, now: datetime) -> list[FreezeOrder]:
        """Orders still issued or acknowledged whose deadline is at or before ``now``."""
        ...

    def add_alert(self, alert: CashOutAlert, *, now: datetime) -> bool:
        """Store a cash-out alert once per transfer; False if it was already there."""
        ...

    def alerts(self, *, since: datetime | None = None, created_after: datetime | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
        """The newest alerts first (``ts`` at or after ``since``, stored after ``created_after``), as stored:
        every column, datetimes as such."""
        ...
