"""The at-door courier watch and who counts as elderly living alone (pure: times are parameters)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from zaslon.core.outreach import COURIER_WINDOW, CourierWatch, age_on, elderly_alone

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_age_and_elderly_alone() -> None:
    assert age_on(date(1961, 3, 3), date(2026, 3, 2)) == 64
    assert age_on(date(1961, 3, 2), date(2026, 3, 2)) == 65
    assert elderly_alone(date(1950, 1, 1), True, T0)
    assert not elderly_alone(date(1950, 1, 1), False, T0)
    assert not elderly_alone(date(1970, 1, 1), True, T0)
    assert not elderly_alone(None, True, T0)


def test_a_call_with_no_transfer_after_it_is_due_once_after_the_window() -> None:
    w = CourierWatch()
    w.call("p1", "+79001234567", T0)
    assert w.due(T0 + COURIER_WINDOW - timedelta(seconds=1)) == []
    [risk] = w.due(T0 + COURIER_WINDOW)
    assert (risk.person, risk.caller, risk.call_at) == ("p1", "+79001234567", T0)
    assert w.due(T0 + timedelta(hours=5)) == []  # raised once


def test_a_transfer_after_the_call_ends_the_watch_even_when_reported_first() -> None:
    w = CourierWatch()
    w.call("p1", "+79001234567", T0)
    w.paid("p1", T0 - timedelta(minutes=5))  # before the call: no bearing on it
    w.paid("p1", T0 + timedelta(minutes=10))
    assert w.due(T0 + timedelta(hours=2)) == []
    late = CourierWatch()
    late.paid("p2", T0 + timedelta(minutes=10))  # the bank asked before the telecom reported the call
    late.call("p2", "+79001234567", T0)
    assert late.due(T0 + timedelta(hours=2)) == []
    after = CourierWatch()
    after.call("p3", "+79001234567", T0)
    after.paid("p3", T0 + COURIER_WINDOW + timedelta(minutes=1))  # too late: the risk stands
    assert [r.person for r in after.due(T0 + timedelta(hours=2))] == ["p3"]
