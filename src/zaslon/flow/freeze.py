"""Freeze orders in the store: issue them from a trace, let the addressed bank move them on, notify it.

A bank sees and moves only orders addressed to its BIC; an order of another bank answers exactly like
an order that does not exist (404), so ids never leak. Each state change is one compare-and-set on the
status in the order store (``flow.ports.orders``), so two racing acknowledgements cannot both win: the loser
gets 409.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from zaslon.adapters.db.stores.orders import SqlOrderStore
from zaslon.core import orders as lifecycle
from zaslon.core.cashout import CashOutAlert
from zaslon.core.trace import TraceResult
from zaslon.core.types import FreezeOrder, OrderStatus
from zaslon.errors import Conflict
from zaslon.flow.ports.orders import OrderStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Issued:
    created: list[FreezeOrder]
    existing: list[str]  # order ids planned again by a re-trace: nothing written for them


def order_json(o: FreezeOrder) -> dict[str, Any]:
    return {
        "order_id": o.order_id, "incident_id": o.incident_id, "bank_id": o.bank_id,
        "account_id": o.account_id, "amount": o.amount, "currency": o.currency,
        "legal_reference": o.legal_reference, "issued_at": o.issued_at.isoformat(),
        "deadline": o.deadline.isoformat(), "status": o.status.value,
        "frozen_amount": o.frozen_amount, "returned_amount": o.returned_amount,
    }


class FreezeStore:
    def __init__(self, engine: Engine, *, deadline: timedelta = lifecycle.DEFAULT_DEADLINE,
                 legal_reference: str = lifecycle.LEGAL_REFERENCE, order_type: str = "freeze",
                 min_amount: int = 100) -> None:
        self.engine = engine
        self.store: OrderStore = SqlOrderStore(engine)
        self.deadline, self.legal_reference, self.order_type = deadline, legal_reference, order_type
        self.min_amount = min_amount  # no order for crumbs under 1 BYN left by FIFO splits

    # ------------------------------------------------------------------ issue
    def issue(
        self, incident_id: str, result: TraceResult, *, now: datetime, currency: str = "BYN",
        needs_confirmation: Callable[[str], bool] | None = None,
    ) -> Issued:
        """Write the orders a trace calls for; those already issued for this incident are left alone. Orders on
        accounts ``needs_confirmation`` names wait for the desk as ``pending_confirmation``."""
        planned = lifecycle.plan_orders(incident_id, result, issued_at=now, currency=currency,
                                        deadline=self.deadline, min_amount=self.min_amount,
                                        legal_reference=self.legal_reference, order_type=self.order_type,
                                        needs_confirmation=needs_confirmation)
        if not planned:
            return Issued([], [])
        fresh, have = self.store.add_new(incident_id, planned, now=now)
        return Issued(fresh, sorted(have & {o.order_id for o in planned}))

    # ------------------------------------------------------------------ read
    def get(self, order_id: str, bank_id: str | None) -> FreezeOrder:
        """An order as its bank sees it (``bank_id`` None: the police desk sees all)."""
        return self.store.get(order_id, bank_id)

    def list(
        self, bank_id: str | None, *, status: OrderStatus | None = None, incident_id: str | None = None,
        limit: int = 100, offset: int = 0,
    ) -> builtins.list[FreezeOrder]:
        return self.store.orders(bank_id, status=status, incident_id=incident_id, limit=limit, offset=offset)

    # ------------------------------------------------------------------ lifecycle
    def _step(self, order_id: str, bank_id: str | None, by_org: str | None, now: datetime,
              move: Callable[[FreezeOrder], FreezeOrder], detail: str | None = None) -> FreezeOrder:
        return self.store.step(order_id, bank_id, by_org, now, move, detail)

    def acknowledge(self, order_id: str, bank_id: str | None, *, by_org: str | None, now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lifecycle.acknowledge)

    def frozen(self, order_id: str, bank_id: str | None, amount: int, *, by_org: str | None,
               now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lambda o: lifecycle.mark_frozen(o, amount))

    def returned(self, order_id: str, bank_id: str | None, amount: int, *, by_org: str | None,
                 now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lambda o: lifecycle.mark_returned(o, amount))

    def release(self, order_id: str, *, by_org: str | None, now: datetime, reason: str | None = None) -> FreezeOrder:
        return self._step(order_id, None, by_org, now, lifecycle.release, reason)

    def confirm(self, order_id: str, *, by_org: str | None, now: datetime) -> FreezeOrder:
        return self._step(order_id, None, by_org, now, lifecycle.confirm)

    def extend(self, order_id: str, until: datetime, *, by_org: str | None, now: datetime,
               reason: str | None = None) -> FreezeOrder:
        return self._step(order_id, None, by_org, now, lambda o: lifecycle.extend(o, until), reason)

    def expire_due(self, now: datetime) -> builtins.list[FreezeOrder]:
        """Expire every order whose deadline passed before the bank froze anything."""
        out = []
        for o in self.store.open_due(now):
            try:
                out.append(self._step(o.order_id, None, None, now, lambda x: lifecycle.expire_due(x, now) or x))
            except Conflict:
                continue
        return out

    def active_accounts(self) -> set[str]:
        return self.store.active_accounts()

    def active_on(self, account_id: str) -> builtins.list[FreezeOrder]:
        return self.store.active_on(account_id)

    # ------------------------------------------------------------------ alerts
    def record_alert(self, alert: CashOutAlert, *, now: datetime) -> bool:
        """Store a cash-out alert once per transfer; False if it was already there."""
        return self.store.add_alert(alert, now=now)

    def alerts(self, *, since: datetime | None = None, created_after: datetime | None = None,
               limit: int = 200) -> builtins.list[dict[str, Any]]:
        """The newest cash-out alerts, for the desk: where traced money is leaving and when (courier leads)."""
        rows = self.store.alerts(since=since, created_after=created_after, limit=limit)
        for r in rows:
            for k in ("ts", "created_at"):
                r[k] = r[k].isoformat()
        return rows
