"""The ministry's statistics on a small hand-made exchange, against figures computed by hand.

Two incidents in March 2026 (one traced, ordered, acknowledged, frozen and partly returned; one whose transfer
the exchange held), one in February, a simulated history for March 2025, and two courier steps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from zaslon.adapters.db.tables_desk import desk_audit
from zaslon.adapters.db.tables_incidents import incident_history
from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.core.types import Channel, Scheme, Transfer
from zaslon.errors import Forbidden, InvalidInput
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport, Victim
from zaslon.flow.orgs import Principal, create_org
from zaslon.flow.ports.stats import HistoryRow
from zaslon.flow.stats import StatsQuery, parse_query
from zaslon.settings import Settings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 10, tzinfo=UTC)
VICTIM, VICTIM2, DROP1 = "BY10AKBB0001", "BY11AKBB0005", "BY20PJCB0002"
MARCH = StatsQuery(date(2026, 3, 1), date(2026, 3, 31))


def _t(tid: str, minutes: float, payer: str, payee: str, amount: int) -> Transfer:
    return Transfer(tid, T0 + timedelta(minutes=minutes), payer, payee, amount, "BYN", Channel.MOBILE,
                    payer_bank="AKBBBY2X", payee_bank="PJCBBY2X", payee_country="BY")


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def world(engine: Engine, db_url: str) -> Iterator[tuple[Exchange, dict[str, Principal]]]:
    x = Exchange(engine, Settings(database_url=db_url))
    who = {}
    for name, kind, bic in (("Belarusbank", "bank", "AKBBBY2X"), ("Priorbank", "bank", "PJCBBY2X"),
                            ("Desk", "police", None)):
        org = create_org(engine, name=name, kind=kind, bank_id=bic).org_id
        who[name] = Principal(org, OrgKind(kind), DEFAULT_SCOPES[OrgKind(kind)], bic)
    bb, prior, police = who["Belarusbank"], who["Priorbank"], who["Desk"]
    x.score(bb.org_id, [_t("t1", 0, VICTIM, DROP1, 500_000)])
    a = x.report_incident(bb, IncidentReport(
        bb.org_id, "bank", Scheme.VISHING, _at(20), Victim("p-1", age=78, lives_alone=True, region="Brest Region",
                                                           district="Kobrin"), ("t1",), external_ref="a"),
        now=_at(30))
    [order] = a.orders
    assert order.account_id == DROP1 and order.amount == 500_000
    x.acknowledge(prior, order.order_id, at=_at(40))  # 600 s after the order
    x.frozen(prior, order.order_id, 300_000, at=_at(50))  # 30 min after the report
    x.returned(prior, order.order_id, 100_000, at=_at(120))
    # The drop is reported now: the next payment to it is stopped, and its victim reports it all the same.
    [held] = x.score(bb.org_id, [_t("t5", 60, VICTIM2, DROP1, 200_000)])
    assert held.decision.outcome.value in ("hold", "block")
    x.report_incident(bb, IncidentReport(
        bb.org_id, "bank", Scheme.PHISHING, _at(70), Victim("p-2", age=40, region="Minsk", district="Frunzensky"),
        ("t5",), external_ref="b"), now=_at(75))
    x.report_incident(police, IncidentReport(  # February: outside the period
        police.org_id, "police", Scheme.INVESTMENT, T0 - timedelta(days=10), None, (),
        "the caller used +375291234567", external_ref="c"), now=_at(80))
    history = [HistoryRow("h1", "vishing", datetime(2025, 3, 3, tzinfo=UTC), "Brest Region", "Kobrin", 80, True),
               HistoryRow("h2", "vishing", datetime(2025, 3, 30, 23, 59, tzinfo=UTC), "Brest Region", "Pinsk", 70),
               HistoryRow("h3", "phishing", datetime(2025, 3, 15, tzinfo=UTC), "Minsk", None, None, None, 50_000),
               HistoryRow("h4", "vishing", datetime(2025, 2, 20, tzinfo=UTC), "Minsk")]
    assert x.import_incident_history(police, history, label="simulated", now=NOW) == {"added": 4, "skipped": 0}
    with engine.begin() as conn:  # the desk's couriers page records its steps as audit rows
        conn.execute(insert(desk_audit), [
            {"at": _at(200), "action": "courier.patrol", "target": "t9", "org_id": police.org_id},
            {"at": _at(210), "action": "courier.detained", "target": "t9", "org_id": police.org_id},
            {"at": _at(211), "action": "courier.detained", "target": "t9", "org_id": police.org_id},  # twice: once
            {"at": datetime(2026, 4, 2, tzinfo=UTC), "action": "courier.detained", "target": "t8",
             "org_id": police.org_id}])
    yield x, who
    x.close()


def _stats(x: Exchange, who: dict[str, Principal], q: StatsQuery = MARCH) -> dict[str, Any]:
    return x.stats(who["Desk"], q, now=NOW)


def test_march_figures_are_the_hand_computed_ones(world) -> None:  # type: ignore[no-untyped-def]
    x, who = world
    s = _stats(x, who)
    assert s["incidents"] == s["incidents_reported"] == 2
    assert s["incidents_by_type"] == {"phishing": 1, "vishing": 1}
    assert s["incidents_by_region"] == {"Brest Region": 1, "Minsk": 1}
    assert s["incidents_by_district"] == [{"region": "Brest Region", "district": "Kobrin", "incidents": 1},
                                          {"region": "Minsk", "district": "Frunzensky", "incidents": 1}]
    assert s["incidents_by_month"] == {"2026-03": 2}
    # March 2025 had 2 vishing + 1 phishing (the February one is outside it): total 2 vs 3.
    yoy = s["yoy_change"]
    assert yoy["previous_period"] == {"from": "2025-03-01", "to": "2025-03-31"} and yoy["covered"]
    assert yoy["total"] == {"current": 2, "previous": 3, "change": -0.3333}
    assert yoy["by_type"]["vishing"] == {"current": 1, "previous": 2, "change": -0.5}
    assert yoy["by_type"]["phishing"] == {"current": 1, "previous": 1, "change": 0.0}
    assert s["money"] == {"currency": "BYN", "unit": "minor", "stolen": 700_000, "prevented": 200_000,
                          "frozen": 300_000, "returned": 100_000, "saved": 500_000, "stolen_from_history": 0}
    assert s["time_to_first_order_s"] == {"p50": 600.0, "p95": 600.0, "n": 1}  # reported 09:20, ordered 09:30
    assert s["time_to_frozen_s"] == {"p50": 1800.0, "p95": 1800.0, "n": 1}
    assert s["bank_ack_sla"] == {"PJCBBY2X": {"orders": 1, "acknowledged": 1, "due": 1, "within_sla": 1,
                                              "ack_p50_s": 600.0, "ack_p95_s": 600.0, "sla_s": 72 * 3600.0,
                                              "within_sla_share": 1.0}}
    assert s["elderly_victims"] == {"with_age": 2, "aged_65_plus": 1, "aged_65_plus_alone": 1, "share": 0.5,
                                    "alone_share": 0.5}
    assert s["couriers"]["detained"] == 1 and s["couriers"]["patrol_dispatches"] == 1
    assert s["simulated_history"] is None  # no simulated incident in March 2026


def test_a_region_a_district_and_the_simulated_year(world) -> None:  # type: ignore[no-untyped-def]
    x, who = world
    brest = _stats(x, who, StatsQuery(date(2026, 3, 1), date(2026, 3, 31), "Brest Region"))
    assert brest["incidents"] == 1 and brest["money"]["stolen"] == 500_000 and brest["money"]["prevented"] == 0
    assert brest["yoy_change"]["total"] == {"current": 1, "previous": 2, "change": -0.5}
    kobrin = _stats(x, who, StatsQuery(date(2025, 3, 1), date(2026, 3, 31), "Brest Region", "Kobrin"))
    assert kobrin["incidents"] == 2 and kobrin["incidents_by_month"] == {"2025-03": 1, "2026-03": 1}
    # The history is labelled: which part of the figures is simulated, and the losses it reported.
    last_year = _stats(x, who, StatsQuery(date(2025, 3, 1), date(2025, 3, 31)))
    assert last_year["incidents"] == 3 and last_year["incidents_reported"] == 0
    assert last_year["simulated_history"] == {"incidents": 3, "first": "2025-03-03T00:00:00+00:00",
                                              "last": "2025-03-30T23:59:00+00:00"}
    assert last_year["money"]["stolen"] == last_year["money"]["stolen_from_history"] == 50_000
    assert last_year["elderly_victims"]["aged_65_plus"] == 2
    # Nothing known a year before March 2025: no change is claimed.
    assert last_year["yoy_change"]["total"] == {"current": 3, "previous": None, "change": None}


def test_an_unknown_region_is_empty_not_an_error(world) -> None:  # type: ignore[no-untyped-def]
    x, who = world
    s = _stats(x, who, StatsQuery(date(2026, 3, 1), date(2026, 3, 31), "Atlantis"))
    assert s["incidents"] == 0 and s["incidents_by_type"] == {} and s["money"]["stolen"] == 0
    assert s["time_to_first_order_s"] == {"p50": None, "p95": None, "n": 0} and s["bank_ack_sla"] == {}
    assert s["yoy_change"]["total"]["change"] is None


def test_only_the_police_read_statistics(world) -> None:  # type: ignore[no-untyped-def]
    x, who = world
    with pytest.raises(Forbidden):
        x.stats(who["Belarusbank"], MARCH)
    bank_with_scope = Principal(who["Belarusbank"].org_id, OrgKind.BANK, frozenset({"stats:read"}), "AKBBBY2X")
    with pytest.raises(Forbidden):  # another bank's acknowledgement times are not a bank's to read
        x.stats(bank_with_scope, MARCH)


@pytest.mark.parametrize(("first", "last", "field"), [
    ("2026-03-31", "2026-03-01", "to"), ("2026-3-1", "2026-03-31", "from"), ("2026-02-30", "2026-03-31", "from"),
    (None, "2026-03-31", "from"), ("2026-03-01", "soon", "to"), ("1990-01-01", "2026-03-01", "to")])
def test_a_bad_period_is_invalid_input(first: str | None, last: str | None, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_query(first, last)
    assert err.value.field == field


def test_a_one_day_period_and_a_leap_day() -> None:
    q = parse_query("2028-02-29", "2028-02-29", " Minsk ", "")
    assert q.window().end - q.window().start == timedelta(days=1) and q.region == "Minsk" and q.district is None
    assert q.year_before().first_day == date(2027, 2, 28)


def test_a_bad_history_writes_nothing_and_a_repeat_is_skipped(world, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    x, who = world

    def n() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(incident_history)).scalar_one())

    good = HistoryRow("h9", "vishing", datetime(2025, 5, 1, tzinfo=UTC))
    for bad in (HistoryRow("h8", "nonsense", datetime(2025, 5, 1, tzinfo=UTC)),
                HistoryRow("h8", "vishing", datetime(2099, 1, 1, tzinfo=UTC))):
        with pytest.raises(InvalidInput):
            x.import_incident_history(who["Desk"], [good, bad], label="simulated", now=NOW)
    with pytest.raises(InvalidInput):
        x.import_incident_history(who["Desk"], [good], label="guessed", now=NOW)
    with pytest.raises(Forbidden):
        x.import_incident_history(who["Belarusbank"], [good], label="simulated", now=NOW)
    assert n() == 4
    assert x.import_incident_history(who["Desk"], [good, HistoryRow("h1", "vishing", datetime(2025, 3, 3, tzinfo=UTC))],
                                     label="simulated", now=NOW) == {"added": 1, "skipped": 1}
    assert n() == 5
