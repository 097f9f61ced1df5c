from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zaslon.core.orders import (
    acknowledge,
    expire_due,
    mark_frozen,
    mark_returned,
    new_orders,
    order_id_for,
    plan_orders,
    release,
)
from zaslon.core.trace import Holding, TraceResult
from zaslon.core.types import OrderStatus
from zaslon.errors import Conflict, InvalidInput

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def result() -> TraceResult:
    return TraceResult(
        traced=1000,
        holdings=(
            Holding("BY00D1", "AKBBBY2X", 600, 1, 0),
            Holding("BY00D2", "PJCBBY2X", 390, 2, 0),
            Holding("BY00D3", None, 5, 2, 0),  # bank unknown: nobody to address
            Holding("BY00D4", "PJCBBY2X", 0, 2, 0),
        ),
        exits=(),
        hops=(),
    )


def test_plan_one_order_per_bank_and_account_with_reference_and_deadline() -> None:
    orders = plan_orders("INC-1", result(), issued_at=NOW)
    assert [(o.bank_id, o.account_id, o.amount) for o in orders] == [
        ("AKBBBY2X", "BY00D1", 600), ("PJCBBY2X", "BY00D2", 390)]
    assert all(o.legal_reference == "Art. 164 CPC RB / incident INC-1" for o in orders)
    assert all(o.deadline == NOW + timedelta(hours=72) and o.status is OrderStatus.ISSUED for o in orders)
    assert orders[0].order_id == order_id_for("INC-1", "AKBBBY2X", "BY00D1")


def test_retrace_plans_the_same_ids_and_creates_nothing_new() -> None:
    first = plan_orders("INC-1", result(), issued_at=NOW)
    again = plan_orders("INC-1", result(), issued_at=NOW + timedelta(minutes=5))
    assert new_orders({o.order_id for o in first}, again) == []
    other = plan_orders("INC-2", result(), issued_at=NOW)
    assert len(new_orders({o.order_id for o in first}, other)) == 2


def test_full_lifecycle_and_amount_checks() -> None:
    order = plan_orders("INC-1", result(), issued_at=NOW)[0]
    acked = acknowledge(order)
    assert acked.status is OrderStatus.ACKNOWLEDGED
    with pytest.raises(InvalidInput):
        mark_frozen(acked, 601)
    frozen = mark_frozen(acked, 550)
    assert (frozen.status, frozen.frozen_amount) == (OrderStatus.FROZEN, 550)
    with pytest.raises(InvalidInput):
        mark_returned(frozen, 551)
    returned = mark_returned(frozen, 550)
    assert (returned.status, returned.returned_amount) == (OrderStatus.RETURNED, 550)
    with pytest.raises(Conflict):
        release(returned)


def test_acknowledging_twice_and_skipping_steps_conflict() -> None:
    order = plan_orders("INC-1", result(), issued_at=NOW)[0]
    with pytest.raises(Conflict):
        mark_frozen(order, 10)  # not acknowledged yet
    acked = acknowledge(order)
    with pytest.raises(Conflict):
        acknowledge(acked)


def test_expiry_only_when_due_and_unsettled() -> None:
    order = plan_orders("INC-1", result(), issued_at=NOW)[0]
    assert expire_due(order, NOW + timedelta(hours=71)) is None
    expired = expire_due(order, NOW + timedelta(hours=72))
    assert expired is not None and expired.status is OrderStatus.EXPIRED
    frozen = mark_frozen(acknowledge(order), 100)
    assert expire_due(frozen, NOW + timedelta(days=30)) is None
    assert release(frozen).status is OrderStatus.RELEASED
