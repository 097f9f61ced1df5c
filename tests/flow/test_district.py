"""District officers' list and the at-door courier risk, through the one Exchange (event time as a parameter)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.core.types import Channel, Scheme, Transfer
from zaslon.errors import Conflict, Forbidden, InvalidInput, NotFound
from zaslon.flow.customers import Customer
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport, Victim
from zaslon.flow.orgs import Principal, create_org
from zaslon.flow.telecom import CallReport

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
GRAN, GRAN2, YOUNG, COUPLE = "BY10AKBB0001", "BY10AKBB0002", "BY10AKBB0003", "BY10AKBB0004"
FRAUD = "+79001234567"
DISTRICT = "Frunzensky"


@pytest.fixture
def orgs(engine: Engine) -> dict[str, Principal]:
    out = {}
    for name, kind, bic in (("Belarusbank", "bank", "AKBBBY2X"), ("A1", "telecom", None)):
        org = create_org(engine, name=name, kind=kind, bank_id=bic).org_id
        out[name] = Principal(org, OrgKind(kind), DEFAULT_SCOPES[OrgKind(kind)], bic)
    return out


def _setup(x: Exchange, orgs: dict[str, Principal]) -> None:
    x.register_customers(orgs["Belarusbank"], [
        Customer(GRAN, "personal", "p-gran", None, date(1947, 5, 1), True, ("+375291112233",),
                 region="Minsk", district=DISTRICT, address="ul. Pritytskogo 10-5"),
        Customer(GRAN2, "personal", "p-gran2", None, date(1944, 1, 9), True, ("+375292223344",),
                 region="Minsk", district=DISTRICT),
        Customer(YOUNG, "personal", "p-young", None, date(1990, 1, 1), True, ("+375293334455",),
                 region="Minsk", district=DISTRICT),
        Customer(COUPLE, "personal", "p-couple", None, date(1950, 1, 1), False, ("+375294445566",),
                 region="Minsk", district=DISTRICT),
    ])
    x.report_fraud_numbers(orgs["A1"], [FRAUD])


def _call(cid: str, callee: str, minutes: float, duration: int = 600, caller: str = FRAUD) -> CallReport:
    return CallReport(cid, T0 + timedelta(minutes=minutes), caller, callee, None, duration)


def _pay(tid: str, payer: str, minutes: float) -> Transfer:
    return Transfer(tid, T0 + timedelta(minutes=minutes), payer, "BY20PJCB0009", 50_000, "BYN", Channel.MOBILE,
                    payer_bank="AKBBBY2X", payee_bank="PJCBBY2X", payee_country="BY")


def test_a_flagged_call_with_no_transfer_after_it_raises_an_at_door_courier_risk(exchange: Exchange, orgs) -> None:  # type: ignore[no-untyped-def]
    _setup(exchange, orgs)
    exchange.report_calls(orgs["A1"], [_call("c1", "+375291112233", 0), _call("c2", "+375292223344", 0),
                                       _call("c3", "+375293334455", 0),  # 36 years old: not on the list
                                       _call("c5", "+375294445566", 0),  # 76, not living alone
                                       _call("c4", "+375291112233", 5, caller="+375297776655")])  # not flagged
    exchange.score(orgs["Belarusbank"].org_id, [_pay("t1", GRAN2, 12)])  # a transfer followed GRAN2's call
    assert len(exchange.raise_courier_risks(now=T0 + timedelta(minutes=44))) == 0  # the window is still open
    assert len(exchange.raise_courier_risks(now=T0 + timedelta(minutes=46))) == 2
    assert len(exchange.raise_courier_risks(now=T0 + timedelta(minutes=50))) == 0  # raised once
    entries = exchange.district.targets(DISTRICT, now=T0 + timedelta(hours=1))
    by = {e.person: e for e in entries}
    assert set(by) == {"p-gran", "p-gran2", "p-couple"}
    assert {e.person for e in entries[:2]} == {"p-gran", "p-couple"}  # the courier risks first
    # The courier knocks whoever else lives there: the couple is on the list for the courier risk alone.
    assert by["p-couple"].reasons == {"courier_risk": 1} and by["p-couple"].lives_alone is False
    assert by["p-gran"].courier_risk_at == T0 + timedelta(minutes=46)
    assert by["p-gran"].reasons == {"flagged_call": 1, "courier_risk": 1}
    assert by["p-gran"].phones == ("+375291112233",) and by["p-gran"].address == "ul. Pritytskogo 10-5"
    assert by["p-gran"].age == 78
    # The transfer after the call was held (on a call from a flagged number): on the list, but no courier risk.
    assert by["p-gran2"].courier_risk_at is None
    assert by["p-gran2"].reasons == {"flagged_call": 1, "held_transfer": 1}
    assert {s.person for s in exchange.district.courier_risks()} == {"p-gran", "p-couple"}
    assert exchange.district.targets("Leninsky", now=T0 + timedelta(hours=1)) == []  # another district's list


def test_a_hang_up_is_no_courier_risk_and_a_number_flagged_later_still_counts(exchange: Exchange, orgs) -> None:  # type: ignore[no-untyped-def]
    _setup(exchange, orgs)
    later = "+79005554433"
    exchange.report_calls(orgs["A1"], [_call("c1", "+375291112233", 0, duration=8),
                                       _call("c2", "+375292223344", 0, caller=later)])
    # A victim's report names the second number an hour later: its call to GRAN2 counts from then on.
    bank = orgs["Belarusbank"]
    exchange.report_incident(bank, IncidentReport(
        bank.org_id, "bank", Scheme.VISHING, T0 + timedelta(minutes=60), Victim(party_id="p-other"), (),
        f"Звонили с номера {later}, представились полицией.", external_ref="r-1"))
    assert later in exchange.knowledge.flagged_phones
    assert len(exchange.raise_courier_risks(now=T0 + timedelta(minutes=61))) == 1
    entries = {e.person: e for e in exchange.district.targets(DISTRICT, now=T0 + timedelta(hours=2))}
    assert entries["p-gran"].reasons == {"flagged_call": 1}  # the 8-second hang-up: listed, no courier risk
    assert entries["p-gran2"].reasons == {"flagged_call": 1, "courier_risk": 1}


def test_held_transfers_and_incidents_put_people_on_the_list(exchange: Exchange, orgs) -> None:  # type: ignore[no-untyped-def]
    _setup(exchange, orgs)
    bank = orgs["Belarusbank"]
    exchange.report_incident(bank, IncidentReport(
        bank.org_id, "bank", Scheme.VISHING, T0, Victim(party_id="p-gran2"), (), "Звонили с +375447654321 из «банка».",
        external_ref="r-2"))
    entries = {e.person: e for e in exchange.district.targets(DISTRICT, now=T0 + timedelta(hours=1))}
    assert entries["p-gran2"].reasons == {"incident": 1}
    exchange.district.on_transfers([_pay("t9", GRAN, 5)], ["hold"])
    entries = {e.person: e for e in exchange.district.targets(DISTRICT, now=T0 + timedelta(hours=1))}
    assert entries["p-gran"].reasons == {"held_transfer": 1}
    # Thirty days on, the list has moved on.
    assert exchange.district.targets(DISTRICT, now=T0 + timedelta(days=31)) == []


def test_outreach_tasks_record_an_outcome_once(exchange: Exchange, orgs) -> None:  # type: ignore[no-untyped-def]
    _setup(exchange, orgs)
    exchange.report_calls(orgs["A1"], [_call("c1", "+375291112233", 0)])
    d = exchange.district
    now = T0 + timedelta(minutes=30)
    with pytest.raises(NotFound):
        d.create_task(DISTRICT, "p-young", "visit", by="ivanov", now=now)  # not on the list
    with pytest.raises(InvalidInput):
        d.create_task(DISTRICT, "p-gran", "lunch", by="ivanov", now=now)
    task = d.create_task(DISTRICT, "p-gran", "visit", by="ivanov", note="ring twice", now=now)
    with pytest.raises(Forbidden):
        d.finish_task(task.task_id, "visited", by="petrov", district="Leninsky")
    with pytest.raises(InvalidInput):
        d.finish_task(task.task_id, "went_home", by="ivanov", district=DISTRICT)
    done = d.finish_task(task.task_id, "blocking_installed", by="ivanov", district=DISTRICT, note="installed",
                         now=now + timedelta(hours=1))
    assert (done.outcome, done.done_at, done.done_by) == ("blocking_installed", now + timedelta(hours=1), "ivanov")
    with pytest.raises(Conflict):
        d.finish_task(task.task_id, "visited", by="ivanov", district=DISTRICT)
    [entry] = d.targets(DISTRICT, now=now + timedelta(hours=2))
    assert [(t.kind, t.outcome) for t in entry.tasks] == [("visit", "blocking_installed")]
    csv = d.targets_csv(DISTRICT, now=now + timedelta(hours=2)).splitlines()
    assert csv[0].startswith("person,district,region,age,lives_alone,phones,address")
    assert csv[1].startswith("p-gran,Frunzensky,Minsk,78,true,+375291112233,ul. Pritytskogo 10-5,BY10AKBB0001,")
    assert "visit:blocking_installed" in csv[1]


def test_housekeeping_leaves_a_simulation_s_old_watches_to_its_own_clock(exchange: Exchange, orgs) -> None:  # type: ignore[no-untyped-def]
    _setup(exchange, orgs)
    exchange.report_calls(orgs["A1"], [_call("c1", "+375291112233", 0)])
    assert exchange.district.next_due() == T0 + timedelta(minutes=45)
    assert exchange.raise_courier_risks(housekeeping=True) == []  # the wall clock is months past March 2026
    [risk] = exchange.raise_courier_risks(now=T0 + timedelta(minutes=45))
    assert (risk.person, risk.district, risk.at) == ("p-gran", DISTRICT, T0 + timedelta(minutes=45))
    assert exchange.district.next_due() is None


def test_call_events_from_operators_feed_the_courier_watch_as_calls_do(exchange: Exchange, orgs) -> None:  # type: ignore[no-untyped-def]
    """Operators that post CAMARA-shaped call events (start, end) reach the district watch at the call's end."""
    from zaslon.flow.ports.telecom import CallEvent

    _setup(exchange, orgs)
    exchange.telecom.set_ranges(orgs["A1"].org_id, ["+37529"])
    start, end = T0, T0 + timedelta(minutes=10)
    exchange.report_call_events(orgs["A1"], [
        CallEvent("e1", "start", start, FRAUD, "+375291112233", caller_verified=False),
        CallEvent("e1", "end", end, FRAUD, "+375291112233", duration_s=600),
        CallEvent("e2", "start", start, FRAUD, "+375292223344"),  # no end yet: no conversation known
    ])
    assert exchange.raise_courier_risks(now=T0 + timedelta(minutes=44)) == []  # 45 min after the call began
    [risk] = exchange.raise_courier_risks(now=T0 + timedelta(minutes=46))
    assert risk.person == "p-gran"
