"""What the pages compute: stage clocks and their colours, money in major units, Minsk time, the map's distances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from zaslon.adapters.http.desk import belarus
from zaslon.adapters.http.desk.views import clocks, minsk, money
from zaslon.flow.ports.desk import QueueItem

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LIMITS = {"order": (15, 30), "ack": (30, 60), "freeze": (60, 120)}


def _item(**kw: object) -> QueueItem:
    base: dict[str, object] = dict(incident_id="i", priority=0, reported_at=T - timedelta(hours=5), scheme="vishing",
                                   victim_name=None, victim_age=None, lives_alone=None, assigned_to=None,
                                   assigned_login=None, snoozed_until=None, closed_at=None, close_reason=None,
                                   version=1, received_at=T)
    base.update(kw)
    return QueueItem(**base)  # type: ignore[arg-type]


def test_a_running_clock_turns_amber_then_red_and_a_stopped_one_shows_its_time() -> None:
    levels = [clocks(_item(), LIMITS, T + timedelta(minutes=m))[0].level for m in (5, 20, 45)]
    assert levels == ["ok", "amber", "red"]  # from receipt of the report, not the victim's own report time
    done = clocks(_item(first_order_at=T + timedelta(minutes=3), first_ack_at=T + timedelta(minutes=50)), LIMITS,
                  T + timedelta(hours=9))
    assert [(c.stage, c.text, c.level) for c in done] == [("order", "3m", "done"), ("ack", "47m", "done"),
                                                          ("freeze", "8h10m", "red")]
    assert clocks(_item(), LIMITS, T)[1].level == "wait"  # no order yet: nothing to acknowledge


def test_money_time_and_distance() -> None:
    assert money(123456789, "BYN") == "1\u202f234\u202f567,89 BYN"
    assert money(5, "BYN") == "0,05 BYN" and money(-100, "EUR") == "−1,00 EUR"
    assert minsk(T) == "02.03.2026 12:00"  # UTC+3
    crossing, km = belarus.nearest_crossing(52.1, 23.7)  # an ATM in Brest
    assert crossing.name in ("Brest-Terespol", "Kozlovichi") and km < 10
    assert 0 <= crossing.x <= belarus.WIDTH and 0 <= crossing.y <= belarus.HEIGHT
