"""POST/GET /v1/incidents, the telecom routes and appeals, over HTTP on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from zaslon.adapters.db.tables_incidents import incident_reports, incidents, indicators
from zaslon.adapters.http.state import app_state
from zaslon.core.knowledge import AccountFlag

DROP = "BY86AKBB10100000002966000000"
VICTIM_ACC = "BY13NBRB3600900000002Z00AB00"
PAN = "4276380012345679"


@pytest.fixture(autouse=True)
def _tables(engine) -> None:  # type: ignore[no-untyped-def]
    del engine  # the migrated store has every table


def transfer(tid: str, payee: str = DROP, **over: Any) -> dict[str, Any]:
    body = {"transfer_id": tid, "ts": "2026-11-02T10:15:00+03:00", "payer": VICTIM_ACC, "payee": payee,
            "amount": 150_000, "currency": "BYN", "payer_bank": "NBRBBY2X", "payee_bank": "AKBBBY2X"}
    body.update(over)
    return body


def incident(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "scheme": "vishing",
        "victim": {"party_id": "p-1", "name": "Галина Петровна", "phone": "8 029 111-22-33", "age": 78,
                   "lives_alone": True},
        "transfer_ids": ["tx-1"],
        "text": f"Звонили с +375 (44) 765-43-21, просили перевести на карту {PAN}.",
        "language": "ru",
    }
    body.update(over)
    return body


def count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def telecom(make_org):  # type: ignore[no-untyped-def]
    return make_org("telecom", "A1")


@pytest.fixture
def seeded(client, bank) -> None:  # type: ignore[no-untyped-def]
    for tid in ("tx-1", "tx-2"):
        r = client.post("/v1/transfers", json=transfer(tid), headers=bank.headers)
        assert r.status_code == 201, r.text


def test_report_extracts_flags_and_reads_back(client, app, engine, bank, police, seeded) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/incidents", json=incident(), headers=bank.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    kinds = {i["kind"]: i for i in body["indicators"]}
    assert kinds["phone"]["value"] == "+375447654321"
    assert kinds["card"]["display"] == "4276 **** **** 5679" and len(kinds["card"]["value"]) == 64
    assert PAN not in r.text
    assert body["flagged_accounts"] == [DROP]
    assert body["flagged_phones"] == ["+375447654321"]
    assert app_state(app).exchange.knowledge.flags(DROP) & AccountFlag.REPORTED
    assert "+375447654321" in app_state(app).exchange.knowledge.flagged_phones
    assert "+375291112233" not in app_state(app).exchange.knowledge.flagged_phones  # the victim's own phone
    got = client.get(f"/v1/incidents/{body['incident_id']}", headers=police.headers)
    assert got.status_code == 200
    assert got.json()["victim"]["phone"] == "+375291112233"
    assert PAN not in got.text and "карту 4276********5679." in got.json()["text"]


def test_a_failed_trace_after_the_commit_keeps_the_incident(client, app, bank, seeded) -> None:  # type: ignore[no-untyped-def]
    seen = []

    def broken(transfer_ids, reported_at, **kw):  # type: ignore[no-untyped-def]
        seen.append(transfer_ids)
        raise RuntimeError("trace store down")

    app_state(app).exchange.tracer.trace_incident = broken
    r = client.post("/v1/incidents", json=incident(), headers=bank.headers)
    assert r.status_code == 201
    assert r.json()["followup_errors"] == ["trace: RuntimeError: trace store down"]
    assert r.json()["case"]["incidents"] == 1  # linking still ran
    got = client.get(f"/v1/incidents/{r.json()['incident_id']}", headers=bank.headers)
    assert got.status_code == 200
    again = client.post("/v1/incidents", json=incident(), headers=bank.headers)
    assert again.status_code == 200 and len(seen) == 1  # a repeat runs no follow-up


def test_unknown_transfer_ids_are_named_and_nothing_written(client, engine, bank, seeded) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/incidents", json=incident(transfer_ids=["tx-1", "tx-404", "tx-405"]), headers=bank.headers)
    assert r.status_code == 422
    assert "tx-404" in r.json()["message"] and "tx-405" in r.json()["message"]
    assert r.json()["field"] == "transfer_ids"
    assert count(engine, incidents) == 0 and count(engine, indicators) == 0


def test_text_without_indicators_and_no_transfers_is_refused(client, engine, bank) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/incidents", json=incident(transfer_ids=[], text="Мне позвонили и обманули, помогите!"),
                    headers=bank.headers)
    assert r.status_code == 422 and r.json()["field"] == "text"
    assert count(engine, incidents) == 0


def test_repeat_by_external_ref_is_linked_not_counted(client, engine, bank, seeded) -> None:  # type: ignore[no-untyped-def]
    first = client.post("/v1/incidents", json=incident(external_ref="case-77"), headers=bank.headers)
    assert first.status_code == 201
    again = client.post("/v1/incidents", json=incident(external_ref="case-77"), headers=bank.headers)
    assert again.status_code == 200
    assert again.json()["duplicate_of"] == first.json()["incident_id"] == again.json()["incident_id"]
    assert count(engine, incidents) == 1 and count(engine, incident_reports) == 1
    clash = client.post("/v1/incidents", json=incident(external_ref="case-77", text="другое +375447654321"),
                        headers=bank.headers)
    assert clash.status_code == 409


def test_idempotency_key_header_acts_as_external_ref(client, engine, bank, seeded) -> None:  # type: ignore[no-untyped-def]
    h = {**bank.headers, "Idempotency-Key": "k-1"}
    assert client.post("/v1/incidents", json=incident(victim=None), headers=h).status_code == 201
    assert client.post("/v1/incidents", json=incident(victim=None), headers=h).status_code == 200
    assert count(engine, incidents) == 1


def test_same_victim_same_transfers_from_police_is_linked(client, engine, bank, police, seeded) -> None:  # type: ignore[no-untyped-def]
    first = client.post("/v1/incidents", json=incident(transfer_ids=["tx-1", "tx-2"]), headers=bank.headers)
    second = client.post("/v1/incidents", json=incident(transfer_ids=["tx-2", "tx-1"], text="заявление"),
                         headers=police.headers)
    assert second.status_code == 200, second.text
    assert second.json()["duplicate_of"] == first.json()["incident_id"]
    assert count(engine, incidents) == 1 and count(engine, incident_reports) == 2
    view = client.get(f"/v1/incidents/{first.json()['incident_id']}", headers=police.headers).json()
    assert view["repeat_reports"] == 1


def test_bank_cannot_read_another_banks_incident(client, make_org, bank, other_bank, seeded) -> None:  # type: ignore[no-untyped-def]
    # tx-1 moves money NBRB -> AKBB (``bank``); Priorbank is not involved.
    r = client.post("/v1/incidents", json=incident(), headers=bank.headers)
    iid = r.json()["incident_id"]
    # Another organisation's incident answers 404 exactly as a missing one: its existence is not revealed.
    hidden = client.get(f"/v1/incidents/{iid}", headers=other_bank.headers)
    missing = client.get("/v1/incidents/inc-nope", headers=other_bank.headers)
    assert hidden.status_code == missing.status_code == 404 and hidden.json()["field"] == missing.json()["field"]
    assert client.get("/v1/incidents/inc-nope", headers=bank.headers).status_code == 404
    reporter = make_org("bank", "Reporter bank", bank_id="NBRBBY2X")
    r2 = client.post("/v1/incidents", json=incident(victim={"party_id": "p-9"}, text=""),
                     headers=reporter.headers)
    assert r2.status_code == 201, r2.text
    # The bank holding the payee account sees it, without the victim's personal details.
    named = client.get(f"/v1/incidents/{r2.json()['incident_id']}", headers=bank.headers)
    assert named.status_code == 200 and "victim" not in named.json()


def test_auth_and_schema(client, make_org, bank) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/v1/incidents", json=incident()).status_code == 401
    partner = make_org("partner", "Partner FIU")
    assert client.post("/v1/incidents", json=incident(), headers=partner.headers).status_code == 403
    r = client.post("/v1/incidents", json=incident(surprise=1), headers=bank.headers)
    assert r.status_code == 422 and r.json()["field"] == "surprise"
    assert client.post("/v1/incidents", json=incident(scheme="alien"), headers=bank.headers).status_code == 422
    bad_phone = incident(victim={"phone": "12"})
    assert client.post("/v1/incidents", json=bad_phone, headers=bank.headers).status_code == 422
    future = incident(reported_at="2999-01-01T00:00:00+00:00")
    assert client.post("/v1/incidents", json=future, headers=bank.headers).status_code == 422


def test_telecom_numbers_calls_and_block_list(client, app, make_org, telecom, bank, seeded) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/telecom/fraud-numbers", json={"numbers": ["8 029 555-44-33", "+7 (916) 123-45-67"]},
                    headers=telecom.headers)
    assert r.status_code == 200 and r.json() == {"accepted": ["+375295554433", "+79161234567"], "new": 2}
    assert "+375295554433" in app_state(app).exchange.knowledge.flagged_phones
    bad = client.post("/v1/telecom/fraud-numbers", json={"numbers": ["+375295554433", "abc"]},
                      headers=telecom.headers)
    assert bad.status_code == 422
    assert client.post("/v1/telecom/fraud-numbers", json={"numbers": ["+375295554433"]},
                       headers=bank.headers).status_code == 403
    calls = {"calls": [
        {"call_id": "c-1", "ts": "2026-11-02T10:00:00+03:00", "caller": "80295554433", "callee": "+375291112233"},
        {"call_id": "c-2", "ts": "2026-11-02T10:05:00+03:00", "caller": "+375447777777", "callee": "+375291112233"},
    ]}
    r = client.post("/v1/telecom/calls", json=calls, headers=telecom.headers)
    assert r.status_code == 200 and r.json() == {"stored": 2, "duplicates": 0, "from_flagged": ["c-1"]}
    assert client.post("/v1/telecom/calls", json=calls, headers=telecom.headers).json()["duplicates"] == 2
    calls["calls"][0]["callee"] = "+375291112234"
    assert client.post("/v1/telecom/calls", json=calls, headers=telecom.headers).status_code == 409
    from datetime import UTC, datetime

    now = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)
    exchange = app_state(app).exchange
    assert exchange.recent_calls.flagged_callers("+375291112233", now, exchange.knowledge.flagged_phones) == (
        "+375295554433",
    )
    client.post("/v1/incidents", json=incident(), headers=bank.headers)  # names +375447654321
    # One report each: flagged for scoring, but not blocked (docs/telecom.md: the block list needs two).
    assert client.get("/v1/telecom/block-list", headers=telecom.headers).json()["numbers"] == []
    other_operator = make_org("telecom", "MTS")
    client.post("/v1/telecom/fraud-numbers", json={"numbers": ["+375295554433"]}, headers=other_operator.headers)
    second_victim = incident(victim={"party_id": "p-2", "phone": "+375291110000"}, transfer_ids=["tx-2"])
    assert client.post("/v1/incidents", json=second_victim, headers=bank.headers).status_code == 201
    listed = client.get("/v1/telecom/block-list", headers=telecom.headers).json()
    phones = {n["phone"]: n for n in listed["numbers"]}
    assert set(phones) == {"+375295554433", "+375447654321"}
    assert phones["+375447654321"]["sources"] == ["incident"] and phones["+375295554433"]["reporters"] == 2


def test_appeal_uphold_delists_at_once_and_keeps_the_trail(client, app, bank, police, seeded) -> None:  # type: ignore[no-untyped-def]
    client.post("/v1/incidents", json=incident(), headers=bank.headers)
    listed = app_state(app).exchange.knowledge.flags(DROP)  # reported, and traced where the trace reached it
    assert AccountFlag.REPORTED in listed
    names = sorted(f.name.lower() for f in AccountFlag if f and f in listed)
    r = client.post("/v1/appeals", json={"account_id": DROP, "reason": "Я продал товар, это оплата",
                                         "contact": "+375291234567"}, headers=bank.headers)
    assert r.status_code == 201, r.text
    aid = r.json()["appeal_id"]
    assert r.json()["status"] == "pending" and sorted(r.json()["flags_at_filing"]) == names
    assert client.post(f"/v1/appeals/{aid}/decision", json={"decision": "uphold", "note": "ok"},
                       headers=bank.headers).status_code == 403
    d = client.post(f"/v1/appeals/{aid}/decision", json={"decision": "uphold", "note": "товар подтверждён"},
                    headers=police.headers)
    assert d.status_code == 200, d.text
    assert d.json()["status"] == "upheld" and sorted(d.json()["previous_flags"]) == names
    assert d.json()["decided_by"] == police.org_id and d.json()["decided_at"]
    assert app_state(app).exchange.knowledge.flags(DROP) == AccountFlag.NONE
    again = client.post(f"/v1/appeals/{aid}/decision", json={"decision": "reject", "note": "x"},
                        headers=police.headers)
    assert again.status_code == 409
    assert client.post("/v1/appeals/apl-nope/decision", json={"decision": "reject", "note": "x"},
                       headers=police.headers).status_code == 404
    assert client.get(f"/v1/appeals/{aid}", headers=bank.headers).json()["decision_note"] == "товар подтверждён"


def test_appeal_reject_keeps_flags_and_unlisted_account_is_refused(client, app, bank, police, seeded) -> None:  # type: ignore[no-untyped-def]
    client.post("/v1/incidents", json=incident(), headers=bank.headers)
    r = client.post("/v1/appeals", json={"account_id": DROP, "reason": "ошибка", "contact": "a@b.by"},
                    headers=bank.headers)
    dup = client.post("/v1/appeals", json={"account_id": DROP, "reason": "ещё", "contact": "a@b.by"},
                      headers=bank.headers)
    assert dup.status_code == 409
    d = client.post(f"/v1/appeals/{r.json()['appeal_id']}/decision", json={"decision": "reject", "note": "дроп"},
                    headers=police.headers)
    assert d.json()["status"] == "rejected" and d.json()["previous_flags"] is None
    assert AccountFlag.REPORTED in app_state(app).exchange.knowledge.flags(DROP)
    clean = client.post("/v1/appeals", json={"account_id": VICTIM_ACC, "reason": "r", "contact": "c"},
                        headers=bank.headers)
    assert clean.status_code == 422


def test_an_upheld_appeal_outlives_a_restart(client, app, engine, bank, police) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient
    from sqlalchemy import insert

    from zaslon.adapters.db.tables_cases import suspected_drops
    from zaslon.adapters.http.app import create_app
    from zaslon.core.knowledge import AccountFlag

    shop = "BY04PJCB30120000000000000000"
    with engine.begin() as conn:  # as publish_suspected_drops leaves it
        conn.execute(insert(suspected_drops), [{"account_id": shop, "bank_id": None, "score": 0.9, "rank": 1,
                                                "reasons": "[]", "ranked_at": datetime(2026, 3, 2, tzinfo=UTC)}])
    app_state(app).exchange.knowledge.flag(shop, AccountFlag.SUSPECTED_DROP)  # as publishing the ranking does
    for tid in ("tx-1", "tx-2"):
        assert client.post("/v1/transfers", json=transfer(tid), headers=bank.headers).status_code == 201
    assert client.post("/v1/incidents", json=incident(), headers=bank.headers).status_code == 201
    assert app_state(app).exchange.knowledge.flags(DROP)  # reported, and traced: a freeze order names it
    for account in (DROP, shop):
        a = client.post("/v1/appeals", json={"account_id": account, "reason": "a shop", "contact": "c"},
                        headers=bank.headers)
        assert a.status_code == 201, a.text
        d = client.post(f"/v1/appeals/{a.json()['appeal_id']}/decision", json={"decision": "uphold", "note": "ok"},
                        headers=police.headers)
        assert d.status_code == 200
    again = create_app(app_state(app).settings, db=engine)  # a restart rebuilds Knowledge from the store
    with TestClient(again):  # started and stopped: its Exchange is closed
        knowledge = app_state(again).exchange.knowledge
        assert knowledge.flags(DROP) == AccountFlag.NONE
        assert knowledge.flags(shop) == AccountFlag.NONE
