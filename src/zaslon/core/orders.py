"""Freeze orders: planned from a trace, then moved through their lifecycle by the holding bank and the police.

    pending_confirmation -> issued            (the desk confirms an order on an established business)
                  |-------> released          (the desk declines it)
    issued -> acknowledged -> frozen -> returned
       |           |            |  ^ top-ups and return tranches keep it frozen until all frozen money went back
       |           |            |----> released
       |           |----------------> released / expired
       |------------------------------> released / expired

The bank acknowledges, freezes (in one go or topped up, never above the order amount) and returns (in tranches,
never above what it froze). Only the police desk confirms, releases or extends an order. A step that is not
allowed from the current status (acknowledging twice, skipping back) is a Conflict (409), so a bank learns its
retry was not needed instead of silently changing state. Order ids are derived from incident + bank + account,
so re-tracing an incident plans the same ids and creates no duplicates. Pure: the caller passes the time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from zaslon.core.trace import TraceResult
from zaslon.core.types import FreezeOrder, OrderStatus
from zaslon.errors import Conflict, InvalidInput

LEGAL_REFERENCE = "Art. 164 CPC RB / incident {incident_id}"
"""Seizure of property in criminal procedure (Criminal Procedure Code of the Republic of Belarus)."""

DEFAULT_DEADLINE = timedelta(hours=72)

# Statuses under which the order's money is held back (the account is protected as a payer).
ACTIVE = frozenset({OrderStatus.ISSUED, OrderStatus.ACKNOWLEDGED, OrderStatus.FROZEN})

_NEXT: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_CONFIRMATION: frozenset({OrderStatus.ISSUED, OrderStatus.RELEASED}),
    OrderStatus.ISSUED: frozenset({OrderStatus.ACKNOWLEDGED, OrderStatus.RELEASED, OrderStatus.EXPIRED}),
    OrderStatus.ACKNOWLEDGED: frozenset({OrderStatus.FROZEN, OrderStatus.RELEASED, OrderStatus.EXPIRED}),
    OrderStatus.FROZEN: frozenset({OrderStatus.FROZEN, OrderStatus.RETURNED, OrderStatus.RELEASED}),
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
    order_type: str = "freeze",
    needs_confirmation: Callable[[str], bool] | None = None,
) -> list[FreezeOrder]:
    """One order per holding bank + account for the traced money still there, largest first. An account
    ``needs_confirmation`` names (an established business) gets its order as ``pending_confirmation``."""
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
            issued_at=issued_at, deadline=issued_at + deadline, order_type=order_type,
            status=OrderStatus.PENDING_CONFIRMATION
            if needs_confirmation is not None and needs_confirmation(h.account_id) else OrderStatus.ISSUED,
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
    """The bank froze ``amount`` more (0 if the money had already gone): the first freeze, or a top-up of a
    frozen order once more money is found. Frozen in all never exceeds the order amount."""
    if order.status is OrderStatus.FROZEN and order.returned_amount:
        raise Conflict(f"order {order.order_id} is being returned; it cannot be topped up", field="status")
    room = order.amount - order.frozen_amount
    low = 0 if order.status is not OrderStatus.FROZEN else 1
    if isinstance(amount, bool) or not isinstance(amount, int) or not low <= amount <= room:
        raise InvalidInput(f"frozen amount must be an integer between {low} and {room} (the order's "
                           f"{order.amount} less the {order.frozen_amount} frozen already)", field="amount")
    _move(order, OrderStatus.FROZEN)
    return replace(order, status=OrderStatus.FROZEN, frozen_amount=order.frozen_amount + amount)


def mark_returned(order: FreezeOrder, amount: int) -> FreezeOrder:
    """A tranche of the frozen money went back to the victim; the order is returned once all of it has."""
    left = order.frozen_amount - order.returned_amount
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= left:
        raise InvalidInput(f"returned amount must be an integer between 1 and the {left} frozen and not yet "
                           "returned", field="amount")
    done = order.returned_amount + amount
    to = OrderStatus.RETURNED if done == order.frozen_amount else OrderStatus.FROZEN
    _move(order, to)
    return replace(order, status=to, returned_amount=done)


def release(order: FreezeOrder) -> FreezeOrder:
    _move(order, OrderStatus.RELEASED)
    return replace(order, status=OrderStatus.RELEASED)


def confirm(order: FreezeOrder) -> FreezeOrder:
    """The desk confirms an order that waited for it (an established business's account)."""
    if order.status is not OrderStatus.PENDING_CONFIRMATION:
        raise Conflict(f"order {order.order_id} is {order.status.value}; only a pending order is confirmed",
                       field="status")
    return replace(order, status=OrderStatus.ISSUED)


def extend(order: FreezeOrder, until: datetime) -> FreezeOrder:
    """The desk moves the deadline of an open order later (a court's extension)."""
    if order.status not in ACTIVE | {OrderStatus.PENDING_CONFIRMATION}:
        raise Conflict(f"order {order.order_id} is {order.status.value}; it can no longer be extended",
                       field="status")
    if until <= order.deadline:
        raise InvalidInput(f"the new deadline must be after the current {order.deadline.isoformat()}",
                           field="until")
    return replace(order, deadline=until)


def expire_due(order: FreezeOrder, now: datetime) -> FreezeOrder | None:
    """Expire an order nobody froze by its deadline; None if it is not due (or already settled)."""
    if now < order.deadline or OrderStatus.EXPIRED not in _NEXT[order.status]:
        return None
    return replace(order, status=OrderStatus.EXPIRED)
