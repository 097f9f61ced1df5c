"""Freeze orders in the store: issue them from a trace, let the addressed bank move them on, notify it.

A bank sees and moves only orders addressed to its BIC; an order of another bank answers exactly like
an order that does not exist (404), so ids never leak. Each state change is one compare-and-set on the
status in the order store (``flow.ports.orders``), so two racing acknowledgements cannot both win: the loser
gets 409.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
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
                 min_amount: int = 100) -> None:
        self.engine = engine
        self.store: OrderStore = SqlOrderStore(engine)
        self.deadline = deadline
        self.min_amount = min_amount  # no order for crumbs under 1 BYN left by FIFO splits

    # ------------------------------------------------------------------ issue
    def issue(
        self, incident_id: str, result: TraceResult, *, now: datetime, currency: str = "BYN"
    ) -> Issued:
        """Write the orders a trace calls for; those already issued for this incident are left alone."""
        planned = lifecycle.plan_orders(incident_id, result, issued_at=now, currency=currency,
                                        deadline=self.deadline, min_amount=self.min_amount)
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
    def _step(
        self, order_id: str, bank_id: str | None, by_org: str | None, now: datetime,
        move: Callable[[FreezeOrder], FreezeOrder], amount: int | None = None,
    ) -> FreezeOrder:
        return self.store.step(order_id, bank_id, by_org, now, move, amount)

    def acknowledge(self, order_id: str, bank_id: str | None, *, by_org: str | None, now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lifecycle.acknowledge)

    def frozen(self, order_id: str, bank_id: str | None, amount: int, *, by_org: str | None,
               now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lambda o: lifecycle.mark_frozen(o, amount), amount)

    def returned(self, order_id: str, bank_id: str | None, amount: int, *, by_org: str | None,
                 now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lambda o: lifecycle.mark_returned(o, amount), amount)

    def release(self, order_id: str, bank_id: str | None, *, by_org: str | None, now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lifecycle.release)

    def expire_due(self, now: datetime) -> builtins.list[FreezeOrder]:
        """Expire every order whose deadline passed before the bank froze anything."""
        out = []
        for o in self.store.open_due(now):
            try:
                out.append(self._step(o.order_id, None, None, now, lambda x: lifecycle.expire_due(x, now) or x))
            except Conflict:
                continue
        return out

    # ------------------------------------------------------------------ alerts
    def record_alert(self, alert: CashOutAlert, *, now: datetime) -> bool:
        """Store a cash-out alert once per transfer; False if it was already there."""
        return self.store.add_alert(alert, now=now)

    def alerts(self, *, since: datetime | None = None, limit: int = 200) -> builtins.list[dict[str, Any]]:
        """The newest cash-out alerts, for the desk: where traced money is leaving and when (courier leads)."""
        rows = self.store.alerts(since=since, limit=limit)
        for r in rows:
            for k in ("ts", "created_at"):
                r[k] = r[k].isoformat()
        return rows

    # ------------------------------------------------------------------ webhooks
    def deliver(self, orders: Iterable[FreezeOrder], *, transport: httpx.BaseTransport | None = None,
                now: datetime, timeout_s: float = 5.0) -> int:
        """POST each order to its bank's webhook URL, if the bank set one; returns how many got a 2xx.

        A failed delivery is logged and recorded, never raised: the bank still finds the order
        through ``GET /v1/orders``.
        """
        by_bank: dict[str, builtins.list[FreezeOrder]] = {}
        for o in orders:
            by_bank.setdefault(o.bank_id, []).append(o)
        if not by_bank:
            return 0
        hooks = self.store.webhooks(by_bank)
        ok = 0
        events: builtins.list[tuple[FreezeOrder, str]] = []
        if not hooks:  # no bank set a webhook: they poll GET /v1/orders (no client to build)
            return 0
        with httpx.Client(transport=transport, timeout=timeout_s) as client:
            for bank_id, url in hooks.items():
                for o in by_bank[bank_id]:
                    try:
                        resp = client.post(url, json={"type": "freeze_order", "order": order_json(o)})
                        good = resp.is_success
                        detail = f"webhook {resp.status_code}"
                    except httpx.HTTPError as exc:
                        good, detail = False, f"webhook failed: {type(exc).__name__}"
                    ok += good
                    if not good:
                        log.warning("webhook_failed", order_id=o.order_id, bank=bank_id, detail=detail)
                    events.append((o, detail))
        self.store.record_deliveries(events, at=now)
        return ok
