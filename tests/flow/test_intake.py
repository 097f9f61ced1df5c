"""Incident intake as a pipeline function (what the demo calls without HTTP), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_incidents import (
    fraud_numbers,
    incident_indicators,
    incident_reports,
    incident_transfers,
    incidents,
    indicators,
)
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.core.types import CASH_SINK, IndicatorKind, Scheme, Transfer
from zaslon.errors import Conflict, Forbidden, InvalidInput
from zaslon.flow.ingest import store_transfers
from zaslon.flow.intake import IncidentReport, Victim, intake_incident, load_knowledge

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PEPPER = b"pepper"
DROP1, DROP2 = "BY86AKBB10100000002966000000", "BY20PJCB30120000000000000000"
PAN = "5536910000123457"


@pytest.fixture
def db(engine: Engine, make_org) -> Engine:  # type: ignore[no-untyped-def]
    make_org("bank", "Belarusbank", bank_id="AKBBBY2X")
    ts = NOW - timedelta(hours=1)
    store_transfers(engine, "bank-belarusbank", [
        Transfer("t1", ts, "BY13NBRB3600900000002Z00AB00", DROP1, 100_000),
        Transfer("t2", ts + timedelta(minutes=1), "BY13NBRB3600900000002Z00AB00", DROP2, 50_000),
        Transfer("t3", ts + timedelta(minutes=2), DROP1, CASH_SINK, 90_000),
    ], now=NOW)
    return engine


def report(**over: object) -> IncidentReport:
    base: dict[str, object] = {
        "reporter_org": "bank-belarusbank", "reporter_kind": "bank", "scheme": Scheme.VISHING,
        "reported_at": NOW, "victim": Victim(party_id="p-1", phone="+375291112233"),
        "transfer_ids": ("t1", "t2"),
        "text": f"Звонили с 8 044 765-43-21 и +375291112233 (это мой), карта {PAN}, "
                "кошелёк TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
    }
    base.update(over)
    return IncidentReport(**base)  # type: ignore[arg-type]


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (incidents, incident_reports, indicators, incident_indicators, incident_transfers,
                          fraud_numbers)}


def test_intake_stores_links_and_flags(db: Engine) -> None:
    k = Knowledge()
    res = intake_incident(db, k, report(), card_pepper=PEPPER, now=NOW, incident_id="inc-1")
    assert res.created and res.incident.incident_id == "inc-1"
    assert res.payees == {"t1": DROP1, "t2": DROP2}
    assert set(res.flagged_accounts) == {DROP1, DROP2, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}
    assert res.flagged_phones == ("+375447654321",)  # the victim's own number is not flagged
    assert all(k.flags(a) == AccountFlag.REPORTED for a in res.flagged_accounts)
    assert k.flagged_phones == {"+375447654321"}
    kinds = [i.kind for i in res.incident.indicators]
    assert kinds.count(IndicatorKind.CARD) == 1
    assert PAN not in res.incident.text and "5536********3457" in res.incident.text
    assert counts(db) == {"incidents": 1, "incident_reports": 1, "indicators": 4, "incident_indicators": 4,
                          "incident_transfers": 2, "fraud_numbers": 1}
    with db.connect() as conn:
        stored = conn.execute(select(indicators.c.value, indicators.c.display)).all()
        text = conn.execute(select(incidents.c.text)).scalar_one()
    assert all(PAN not in (v or "") + (d or "") for v, d in stored) and PAN not in text


def test_cash_sink_is_never_flagged(db: Engine) -> None:
    k = Knowledge()
    res = intake_incident(db, k, report(transfer_ids=("t3",), text=""), card_pepper=PEPPER, now=NOW)
    assert res.flagged_accounts == () and CASH_SINK not in k.accounts


def test_indicators_are_shared_between_incidents(db: Engine) -> None:
    k = Knowledge()
    intake_incident(db, k, report(), card_pepper=PEPPER, now=NOW)
    intake_incident(db, k, report(victim=Victim(party_id="p-2"), transfer_ids=()), card_pepper=PEPPER, now=NOW)
    c = counts(db)
    assert c["incidents"] == 2 and c["indicators"] == 4 and c["incident_indicators"] == 8


def test_repeats_are_linked_and_not_double_counted(db: Engine) -> None:
    k = Knowledge()
    first = intake_incident(db, k, report(external_ref="A-1"), card_pepper=PEPPER, now=NOW)
    k.unflag(DROP1)  # so a wrongly re-run flagging would show
    same_ref = intake_incident(db, k, report(external_ref="A-1"), card_pepper=PEPPER, now=NOW)
    assert not same_ref.created and same_ref.duplicate_of == first.incident.incident_id
    same_victim = intake_incident(
        db, k, report(reporter_org="bank-belarusbank", transfer_ids=("t2", "t1"), text="", external_ref="A-2"),
        card_pepper=PEPPER, now=NOW)
    assert same_victim.duplicate_of == first.incident.incident_id
    assert k.flags(DROP1) == AccountFlag.NONE
    c = counts(db)
    assert c["incidents"] == 1 and c["incident_reports"] == 2
    # the duplicate's own reference now answers with the same incident
    again = intake_incident(db, k, report(transfer_ids=("t2", "t1"), text="", external_ref="A-2"),
                            card_pepper=PEPPER, now=NOW)
    assert again.duplicate_of == first.incident.incident_id and counts(db)["incident_reports"] == 2


def test_different_body_under_a_known_reference_conflicts(db: Engine) -> None:
    intake_incident(db, Knowledge(), report(external_ref="A-1"), card_pepper=PEPPER, now=NOW)
    with pytest.raises(Conflict):
        intake_incident(db, Knowledge(), report(external_ref="A-1", scheme=Scheme.PHISHING),
                        card_pepper=PEPPER, now=NOW)


def test_bad_input_writes_nothing(db: Engine) -> None:
    k = Knowledge()
    with pytest.raises(InvalidInput, match="'t404'"):
        intake_incident(db, k, report(transfer_ids=("t1", "t404")), card_pepper=PEPPER, now=NOW)
    with pytest.raises(InvalidInput, match="no indicator"):
        intake_incident(db, k, report(transfer_ids=(), text="Меня обманули по телефону."),
                        card_pepper=PEPPER, now=NOW)
    with pytest.raises(InvalidInput, match="future"):
        intake_incident(db, k, report(reported_at=NOW + timedelta(hours=1)), card_pepper=PEPPER, now=NOW)
    with pytest.raises(InvalidInput, match="phone"):
        intake_incident(db, k, report(victim=Victim(phone="not a phone")), card_pepper=PEPPER, now=NOW)
    with pytest.raises(Forbidden):
        intake_incident(db, k, report(reporter_kind="partner"), card_pepper=PEPPER, now=NOW)
    assert counts(db)["incidents"] == 0 and k.accounts == {} and k.flagged_phones == set()


def test_existing_incident_id_conflicts_and_rolls_back(db: Engine) -> None:
    k = Knowledge()
    intake_incident(db, k, report(), card_pepper=PEPPER, now=NOW, incident_id="inc-1")
    before = counts(db)
    with pytest.raises(Conflict):
        intake_incident(db, Knowledge(), report(victim=Victim(party_id="p-7"), text="+375 29 700-00-01"),
                        card_pepper=PEPPER, now=NOW, incident_id="inc-1")
    assert counts(db) == before


def test_knowledge_is_rebuilt_from_the_store_minus_delistings(db: Engine, make_org) -> None:  # type: ignore[no-untyped-def]
    from zaslon.flow.appeals import Verdict, decide_appeal, file_appeal
    from zaslon.flow.orgs import Principal
    from zaslon.flow.telecom import report_fraud_numbers

    k = Knowledge()
    intake_incident(db, k, report(), card_pepper=PEPPER, now=NOW)
    report_fraud_numbers(db, k, "bank-belarusbank", ["+375295554433"], now=NOW)
    fresh = Knowledge()
    assert load_knowledge(db, fresh) == (3, 2)
    assert fresh.accounts == k.accounts and fresh.flagged_phones == k.flagged_phones
    bank = Principal("bank-belarusbank", "bank", frozenset())  # type: ignore[arg-type]
    police = Principal(make_org("police", "Desk").org_id, "police", frozenset())  # type: ignore[arg-type]
    appeal = file_appeal(db, k, bank, account_id=DROP2, reason="продал велосипед", contact="+375291234567",
                         now=NOW)
    decided = decide_appeal(db, k, police, appeal["appeal_id"], verdict=Verdict.UPHOLD, note="чек есть",
                            now=NOW + timedelta(hours=1))
    assert decided["previous_flags"] == ["reported"] and k.flags(DROP2) == AccountFlag.NONE
    after = Knowledge()
    load_knowledge(db, after)
    assert after.flags(DROP2) == AccountFlag.NONE and after.flags(DROP1) == AccountFlag.REPORTED
    # named again by a later incident: listed again
    intake_incident(db, k, report(victim=Victim(party_id="p-5"), transfer_ids=("t2",), text=""),
                    card_pepper=PEPPER, now=NOW + timedelta(hours=2))
    again = Knowledge()
    load_knowledge(db, again)
    assert again.flags(DROP2) == AccountFlag.REPORTED


def test_racing_repeats_create_one_incident(db: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    k = Knowledge()

    def send(i: int) -> bool:
        ref = "same-ref" if i % 2 else f"ref-{i}"  # half race on the reference, all on victim + transfers
        return intake_incident(db, k, report(external_ref=ref), card_pepper=PEPPER, now=NOW).created

    with ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(send, range(8)))
    assert created.count(True) == 1
    assert counts(db)["incidents"] == 1


def test_one_report_does_not_list_an_account_many_people_pay(db: Engine) -> None:
    shop = "BY04PJCB30120000000000000777"
    ts = NOW - timedelta(days=2)
    store_transfers(db, "bank-belarusbank", [
        Transfer(f"shop-{i}", ts + timedelta(minutes=i), f"BY00PAYER{i:019d}", shop, 2_000) for i in range(60)
    ], now=NOW)
    k = Knowledge()
    res = intake_incident(db, k, report(transfer_ids=("t1", "shop-7"), text=""), card_pepper=PEPPER, now=NOW)
    assert res.created and set(res.flagged_accounts) == {DROP1, shop}  # both stored for the desk...
    assert k.flags(DROP1) == AccountFlag.REPORTED
    assert k.flags(shop) == AccountFlag.NONE  # ...but the busy shop is not listed on one report's word


def test_reported_transfers_are_counted_and_the_count_survives_a_restart(db: Engine) -> None:
    k = Knowledge()
    intake_incident(db, k, report(external_ref="A-1"), card_pepper=PEPPER, now=NOW)
    repeat = intake_incident(db, k, report(external_ref="A-1"), card_pepper=PEPPER, now=NOW)
    assert not repeat.created  # a repeat counts nothing again
    intake_incident(db, k, report(victim=Victim(party_id="p-2"), transfer_ids=("t3",), text=""),
                    card_pepper=PEPPER, now=NOW)
    payer = "BY13NBRB3600900000002Z00AB00"
    assert k.reported_in == {DROP1: 1, DROP2: 1}  # the cash sink is not an account
    assert k.reported_out == {payer: 2, DROP1: 1}
    rebuilt = Knowledge()
    load_knowledge(db, rebuilt)
    assert rebuilt.reported_in == k.reported_in and rebuilt.reported_out == k.reported_out
