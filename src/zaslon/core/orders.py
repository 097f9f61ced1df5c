"""Freeze orders: planned from a trace, then moved through their lifecycle by the holding bank.

    issued -> acknowledged -> frozen -> returned
       |           |            |----> released
       |           |----------------> released / expired
       |------------------------------> released / expired

Each step is allowed once: repeating one (acknowledging twice) or skipping back is a Conflict (409),
so a bank learns its retry was not needed instead of silently changing state. Order ids are derived
from incident + bank + account, so re-tracing an incident plans the same ids and creates no duplicates.
Pure: the caller passes the time.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta

from zaslon.core.trace import TraceResult
from zaslon.core.types import FreezeOrder, OrderStatus
from zaslon.errors import Conflict, InvalidInput

LEGAL_REFERENCE = "Art. 164 CPC RB / incident {incident_id}"
"""Seizure of property in criminal procedure (Criminal Procedure Code of the Republic of Belarus)."""

DEFAULT_DEADLINE = timedelta(hours=72)

_NEXT: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.ISSUED: frozenset({OrderStatus.ACKNOWLEDGED, OrderStatus.RELEASED, OrderStatus.EXPIRED}),
    OrderStatus.ACKNOWLEDGED: frozenset({OrderStatus.FROZEN, OrderStatus.RELEASED, OrderStatus.EXPIRED}),
    OrderStatus.FROZEN: frozenset({OrderStatus.RETURNED, OrderStatus.RELEASED}),
    OrderStatus.RETURNED: frozenset(),
    OrderStatus.RELEASED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


def order_id_for(incident_id: str, bank_id: str, account_id: str) -> str:
    digest = hashlib.sha256(f"{incident_id}\x1f{bank_id}\x1f{account_id}".encode()).hexdigest()
    return f"FO-{digest[:20].upper()}"


def plan_orders(
    incident_id: str,
    result: TraceResult,
    *,
    issued_at: datetime,
    currency: str = "BYN",
    deadline: timedelta = DEFAULT_DEADLINE,
    min_amount: int = 1,
    legal_reference: str = LEGAL_REFERENCE,
) -> list[FreezeOrder]:
    """One order per holding bank + account for the traced money still there, largest first."""
    orders: dict[str, FreezeOrder] = {}
    for h in result.holdings:
        if h.amount < min_amount or h.bank_id is None:
            continue
        oid = order_id_for(incident_id, h.bank_id, h.account_id)
        prev = orders.get(oid)
        amount = h.amount + (prev.amount if prev else 0)
        orders[oid] = FreezeOrder(
            order_id=oid, incident_id=incident_id, bank_id=h.bank_id, account_id=h.account_id,
            amount=amount, currency=currency,
            legal_reference=legal_reference.format(incident_id=incident_id),
            issued_at=issued_at, deadline=issued_at + deadline,
        )
    return sorted(orders.values(), key=lambda o: (-o.amount, o.order_id))


def new_orders(existing_ids: set[str], planned: list[FreezeOrder]) -> list[FreezeOrder]:
    """The planned orders not issued before (re-tracing an incident never duplicates an order)."""
    return [o for o in planned if o.order_id not in existing_ids]


def _move(order: FreezeOrder, to: OrderStatus) -> None:
    if to not in _NEXT[order.status]:
        raise Conflict(f"order {order.order_id} is {order.status.value}; it cannot become {to.value}",
                       field="status")


def acknowledge(order: FreezeOrder) -> FreezeOrder:
    _move(order, OrderStatus.ACKNOWLEDGED)
    return replace(order, status=OrderStatus.ACKNOWLEDGED)


def mark_frozen(order: FreezeOrder, amount: int) -> FreezeOrder:
    """The bank froze ``amount`` (at most what was asked; 0 if the money had already gone)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= order.amount:
        raise InvalidInput(f"frozen amount must be an integer between 0 and {order.amount}", field="amount")
    _move(order, OrderStatus.FROZEN)
    return replace(order, status=OrderStatus.FROZEN, frozen_amount=amount)


def mark_returned(order: FreezeOrder, amount: int) -> FreezeOrder:
    """The frozen money (or part of it) went back to the victim."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= order.frozen_amount:
        raise InvalidInput(
            f"returned amount must be an integer between 1 and the frozen {order.frozen_amount}", field="amount"
        )
    _move(order, OrderStatus.RETURNED)
    return replace(order, status=OrderStatus.RETURNED, returned_amount=amount)


def release(order: FreezeOrder) -> FreezeOrder:
    _move(order, OrderStatus.RELEASED)
    return replace(order, status=OrderStatus.RELEASED)


def expire_due(order: FreezeOrder, now: datetime) -> FreezeOrder | None:
    """Expire an order nobody froze by its deadline; None if it is not due (or already settled)."""
    if now < order.deadline or OrderStatus.EXPIRED not in _NEXT[order.status]:
        return None
    return replace(order, status=OrderStatus.EXPIRED)
