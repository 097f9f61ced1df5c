"""Telecom risk signals over HTTP with real keys, on both databases: call events (CAMARA-shaped) within an
operator's number ranges, the call features scoring reads through the payer's phones, the corroborated block
list with its incremental ``since``, police confirmations and appeals of listed numbers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from zaslon.adapters.db.tables_incidents import fraud_numbers
from zaslon.adapters.db.tables_telecom import block_list_changes, call_events, number_appeals, number_ranges
from zaslon.adapters.http.state import app_state
from zaslon.core.calls import RecentCalls
from zaslon.core.features import FEATURE_INDEX
from zaslon.core.knowledge import Knowledge
from zaslon.errors import Conflict, InvalidInput
from zaslon.flow.telecom import TelecomSignals

PAYER = "BY86AKBB10100000002966000000"  # Belarusbank's customer, aged 80, living alone
PAYEE = "BY04PJCB30120000000000000000"
PHONE = "+375291112233"  # the customer's phone, an A1 subscriber
CALLER = "+375447654321"


def count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def a1(make_org, engine):  # type: ignore[no-untyped-def]
    """A1 serves +37529...: its ranges registered as ``zaslon orgs ranges`` does."""
    org = make_org("telecom", "A1")
    TelecomSignals(engine, Knowledge(), RecentCalls()).set_ranges(org.org_id, ["+37529"])
    return org


def start(call_id: str, minute: int = 0, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"call_id": call_id, "event": "start", "ts": f"2026-03-02T10:{minute:02d}:00Z",
                            "caller": CALLER, "callee": PHONE}
    body.update(over)
    return body


def end(call_id: str, minute: int, duration_s: int, **over: Any) -> dict[str, Any]:
    return start(call_id, minute, event="end", duration_s=duration_s, **over)


def transfer(tid: str, minute: int) -> dict[str, Any]:
    return {"transfer_id": tid, "ts": f"2026-03-02T10:{minute:02d}:00Z", "payer": PAYER, "payee": PAYEE,
            "amount": 100_000, "currency": "BYN", "payer_bank": "AKBBBY2X", "payee_bank": "PJCBBY2X"}


# ---- call events: ranges, idempotency, one transaction ---------------------------------------------------


def test_a_call_event_outside_the_operators_ranges_is_422_and_nothing_is_written(client: TestClient, engine,  # type: ignore[no-untyped-def]
                                                                                  a1, make_org) -> None:
    # MTS's subscriber (+37533...) in A1's batch: the whole batch is refused.
    r = client.post("/v1/telecom/call-events", json={"events": [start("c-1"), start("c-2", callee="+375331234567")]},
                    headers=a1.headers)
    assert r.status_code == 422 and "+375331234567" in r.json()["message"]
    assert count(engine, call_events) == 0
    # An operator with no registered ranges reports no call events at all.
    mts = make_org("telecom", "MTS")
    r = client.post("/v1/telecom/call-events", json={"events": [start("c-3", callee="+375331234567")]},
                    headers=mts.headers)
    assert r.status_code == 422 and count(engine, call_events) == 0
    # Nor does the legacy calls route once the operator has ranges.
    legacy = {"calls": [{"call_id": "c-4", "ts": "2026-03-02T10:00:00Z", "caller": CALLER, "callee": "+375331234567"}]}
    assert client.post("/v1/telecom/calls", json=legacy, headers=a1.headers).status_code == 422
    # An end without its duration, or a bad number: 422, nothing written.
    for bad in (start("c-5", event="end"), start("c-6", caller="12"), start("c-8", ts="9999-12-31T23:59:59Z"),
                start("c-9", sim_swap={"latestSimChange": "0001-01-01T00:00:00Z"})):
        assert client.post("/v1/telecom/call-events", json={"events": [start("c-7"), bad]},
                           headers=a1.headers).status_code == 422
    assert count(engine, call_events) == 0
    assert client.get("/v1/telecom/number-ranges", headers=a1.headers).json() == {"prefixes": ["+37529"]}


def test_call_events_are_idempotent_per_call_id_and_event(client: TestClient, engine, a1) -> None:  # type: ignore[no-untyped-def]
    voicemail = start("c-0", caller=PHONE)  # a subscriber calling its own number
    batch = {"events": [start("c-1", number_verification={"devicePhoneNumberVerified": False}), end("c-1", 9, 540),
                        voicemail]}
    r = client.post("/v1/telecom/call-events", json=batch, headers=a1.headers)
    assert r.status_code == 200 and r.json() == {"stored": 3, "duplicates": 0, "risky": ["c-1"], "from_flagged": []}
    again = client.post("/v1/telecom/call-events", json=batch, headers=a1.headers)
    assert again.json()["stored"] == 0 and again.json()["duplicates"] == 3
    batch["events"][1]["duration_s"] = 600  # the same end event with another body
    assert client.post("/v1/telecom/call-events", json=batch, headers=a1.headers).status_code == 409
    assert count(engine, call_events) == 3


def test_ranges_are_an_operators_own(engine, a1, make_org, bank) -> None:  # type: ignore[no-untyped-def]
    signals = TelecomSignals(engine, Knowledge(), RecentCalls())
    mts = make_org("telecom", "MTS")
    with pytest.raises(Conflict):
        signals.set_ranges(mts.org_id, ["+37533", "+37529"])  # A1's
    with pytest.raises(InvalidInput):
        signals.set_ranges(mts.org_id, ["+999"])  # no such country code
    with pytest.raises(InvalidInput):
        signals.set_ranges(bank.org_id, ["+37525"])  # a bank serves no numbers
    assert count(engine, number_ranges) == 1
    assert signals.set_ranges(mts.org_id, ["+375 33"]) == ["+37533"]


# ---- scoring sees the call through the payer's phones ---------------------------------------------------


def test_a_spoofed_call_in_progress_reaches_scoring(client: TestClient, app, bank, police, a1) -> None:  # type: ignore[no-untyped-def]
    r = client.put("/v1/customers", json={"customers": [
        {"account_id": PAYER, "kind": "personal", "birth_date": "1946-05-01", "lives_alone": True,
         "phones": ["8 029 111-22-33"]}]}, headers=bank.headers)
    assert r.status_code == 200, r.text
    rule = {"rule_id": "long-risky-call", "expression": "on_risky_call and call_duration_s > 300",
            "action": "hold", "reason": "payer on a long call with a spoofed or flagged number"}
    assert client.post("/v1/rules", json={"version": "tel-1", "rules": [rule]}, headers=police.headers).status_code in (
        200, 201)
    assert client.post("/v1/rules/tel-1/publish", headers=police.headers).status_code == 200
    assert client.post("/v1/rules/tel-1/activate", headers=police.headers).status_code == 200
    exchange = app_state(app).exchange
    exchange.rules_watcher.notify()  # picked up now, not at the next poll
    # The number shown is a Belarusian landline-looking one, but the network says it is not the calling line;
    # the callee's SIM changed two days ago and unconditional forwarding is on.
    ev = start("c-1", 0, number_verification={"devicePhoneNumberVerified": False},
               call_forwarding={"active": True}, sim_swap={"latestSimChange": "2026-02-28T10:00:00Z"})
    assert client.post("/v1/telecom/call-events", json={"events": [ev]}, headers=a1.headers).status_code == 200
    held = client.post("/v1/transfers/score", json=transfer("t-1", 12), headers=bank.headers).json()
    assert held["outcome"] == "hold", held
    assert "rule:long-risky-call" in [x["code"] for x in held["reasons"]]
    _, x = exchange.feature_log.before(2**40)
    row = x[-1]
    assert row[FEATURE_INDEX["on_risky_call"]] == 1.0 and row[FEATURE_INDEX["call_duration_s"]] == 720.0
    assert row[FEATURE_INDEX["payer_call_forwarding"]] == 1.0
    assert row[FEATURE_INDEX["payer_sim_swap_days"]] == pytest.approx(2.0 + 12 / 1440)
    # The call ends at 10:15; twenty minutes later the payer is no longer on it.
    client.post("/v1/telecom/call-events", json={"events": [end("c-1", 15, 900)]}, headers=a1.headers)
    later = client.post("/v1/transfers/score", json=transfer("t-2", 35), headers=bank.headers).json()
    assert "rule:long-risky-call" not in [x["code"] for x in later["reasons"]]
    _, x = exchange.feature_log.before(2**40)
    assert x[-1][FEATURE_INDEX["on_risky_call"]] == 0.0 and x[-1][FEATURE_INDEX["call_duration_s"]] == 0.0


def test_a_verified_domestic_call_is_not_risky_an_unverified_foreign_one_is(client: TestClient, app, bank,  # type: ignore[no-untyped-def]
                                                                            a1) -> None:
    client.put("/v1/customers", json={"customers": [{"account_id": PAYER, "phones": [PHONE]}]}, headers=bank.headers)
    ok = start("c-1", 0, caller="+375447000000", number_verification={"devicePhoneNumberVerified": True})
    foreign = start("c-2", 20, caller="+79161234567")  # a Russian mobile, not verified
    out = client.post("/v1/telecom/call-events", json={"events": [ok, foreign]}, headers=a1.headers).json()
    assert out["risky"] == ["c-2"]
    exchange = app_state(app).exchange
    client.post("/v1/transfers/score", json=transfer("t-1", 5), headers=bank.headers)
    client.post("/v1/transfers/score", json=transfer("t-2", 25), headers=bank.headers)
    _, x = exchange.feature_log.before(2**40)
    assert x[-2][FEATURE_INDEX["on_risky_call"]] == 0.0 and x[-2][FEATURE_INDEX["call_duration_s"]] == 300.0
    assert x[-1][FEATURE_INDEX["on_risky_call"]] == 1.0


# ---- the block list: two independent reports, police confirmation, appeals, since ------------------------


def _victim_incident(party: str, number: str) -> dict[str, Any]:
    return {"scheme": "vishing", "victim": {"party_id": party}, "text": f"Звонили с {number}, назвались банком."}


def test_one_victims_misheard_number_is_not_blocked_two_victims_are(client: TestClient, bank, a1) -> None:  # type: ignore[no-untyped-def]
    listed = lambda: {n["phone"] for n in client.get("/v1/telecom/block-list",  # noqa: E731
                                                     headers=a1.headers).json()["numbers"]}
    assert client.post("/v1/incidents", json=_victim_incident("p-1", "+375447654320"),  # one digit misheard
                       headers=bank.headers).status_code == 201
    assert client.post("/v1/incidents", json=_victim_incident("p-2", CALLER), headers=bank.headers).status_code == 201
    assert listed() == set()
    # The same victim reporting again is not independent; a second victim is.
    client.post("/v1/incidents", json={**_victim_incident("p-2", CALLER), "text": f"Снова звонили с {CALLER}."},
                headers=bank.headers)
    assert listed() == set()
    assert client.post("/v1/incidents", json=_victim_incident("p-3", CALLER), headers=bank.headers).status_code == 201
    assert listed() == {CALLER}


def test_two_operators_or_the_police_list_a_number(client: TestClient, engine, a1, make_org, police) -> None:  # type: ignore[no-untyped-def]
    mts = make_org("telecom", "MTS")
    numbers = lambda: {n["phone"]: n for n in client.get("/v1/telecom/block-list",  # noqa: E731
                                                         headers=a1.headers).json()["numbers"]}
    client.post("/v1/telecom/fraud-numbers", json={"numbers": [CALLER]}, headers=a1.headers)
    client.post("/v1/telecom/fraud-numbers", json={"numbers": [CALLER]}, headers=a1.headers)  # again: still one
    assert numbers() == {}
    client.post("/v1/telecom/fraud-numbers", json={"numbers": [CALLER]}, headers=mts.headers)
    assert numbers()[CALLER]["reason"] == "corroborated"
    # A bank cannot confirm; the police can, and one confirmation lists the number.
    bank_like = make_org("bank", "Belagroprombank", bank_id="BAPBBY2X")
    assert client.post("/v1/telecom/block-list/confirmations", json={"numbers": ["+375291234567"]},
                       headers=bank_like.headers).status_code == 403
    r = client.post("/v1/telecom/block-list/confirmations", json={"numbers": ["8 029 123-45-67"]},
                    headers=police.headers)
    assert r.status_code == 200 and r.json() == {"confirmed": ["+375291234567"], "new": 1}
    assert numbers()["+375291234567"]["reason"] == "police"
    bad = client.post("/v1/telecom/block-list/confirmations", json={"numbers": ["+375291111111", "abc"]},
                      headers=police.headers)
    assert bad.status_code == 422 and count(engine, fraud_numbers) == 3


def test_incremental_since_returns_additions_and_removals(client: TestClient, engine, a1, make_org,  # type: ignore[no-untyped-def]
                                                          police, bank) -> None:
    first = client.get("/v1/telecom/block-list", headers=a1.headers).json()
    assert first == {"count": 0, "numbers": [], "next": "0"}
    client.post("/v1/telecom/block-list/confirmations", json={"numbers": [CALLER, "+375291234567"]},
                headers=police.headers)
    page = client.get("/v1/telecom/block-list", params={"since": first["next"], "limit": 1}, headers=a1.headers)
    body = page.json()
    assert page.status_code == 200 and body["more"] and [c["action"] for c in body["changes"]] == ["added"]
    rest = client.get("/v1/telecom/block-list", params={"since": body["next"]}, headers=a1.headers).json()
    assert not rest["more"] and {c["phone"] for c in body["changes"] + rest["changes"]} == {CALLER, "+375291234567"}
    cursor = rest["next"]
    assert client.get("/v1/telecom/block-list", params={"since": cursor}, headers=a1.headers).json()["changes"] == []
    # An upheld appeal de-lists the number: a removal after the cursor.
    appeal = client.post("/v1/telecom/block-list/appeals", json={
        "phone": "+375 29 123-45-67", "reason": "это мой номер, я пенсионер", "contact": "+375291234567"},
        headers=a1.headers)
    assert appeal.status_code == 201, appeal.text
    aid = appeal.json()["appeal_id"]
    assert client.get(f"/v1/telecom/block-list/appeals/{aid}", headers=bank.headers).status_code == 404
    assert client.get(f"/v1/telecom/block-list/appeals/{aid}", headers=a1.headers).json()["status"] == "pending"
    assert client.post(f"/v1/telecom/block-list/appeals/{aid}/decision", json={"decision": "uphold", "note": "ok"},
                       headers=a1.headers).status_code == 403
    decided = client.post(f"/v1/telecom/block-list/appeals/{aid}/decision",
                          json={"decision": "uphold", "note": "subscriber since 2009"}, headers=police.headers)
    assert decided.status_code == 200 and decided.json()["status"] == "upheld"
    assert client.post(f"/v1/telecom/block-list/appeals/{aid}/decision", json={"decision": "reject", "note": "x"},
                       headers=police.headers).status_code == 409
    after = client.get("/v1/telecom/block-list", params={"since": cursor}, headers=a1.headers).json()
    assert [(c["phone"], c["action"], c["reason"]) for c in after["changes"]] == [
        ("+375291234567", "removed", "appeal_upheld")]
    assert "+375291234567" not in app_state(client.app).exchange.knowledge.flagged_phones  # type: ignore[attr-defined]
    # ``since`` as a time: everything changed from then on.
    by_time = client.get("/v1/telecom/block-list", params={"since": "2000-01-01T00:00:00Z"}, headers=a1.headers)
    assert len(by_time.json()["changes"]) == 3
    for bad in ("yesterday", "9" * 30):
        assert client.get("/v1/telecom/block-list", params={"since": bad}, headers=a1.headers).status_code == 422
    assert client.get("/v1/telecom/block-list", params={"since": "2000-01-01T00:00:00"},
                      headers=a1.headers).status_code == 422  # a time without its zone
    assert count(engine, block_list_changes) == 3


def test_an_appeal_of_a_number_not_listed_is_422_and_nothing_is_written(client: TestClient, engine, a1) -> None:  # type: ignore[no-untyped-def]
    client.post("/v1/telecom/fraud-numbers", json={"numbers": [CALLER]}, headers=a1.headers)  # reported once
    for phone in (CALLER, "+375291234567", "12"):
        r = client.post("/v1/telecom/block-list/appeals", json={"phone": phone, "reason": "mine", "contact": "x"},
                        headers=a1.headers)
        assert r.status_code == 422 and r.json()["field"] == "phone"
    assert count(engine, number_appeals) == 0


def test_a_protection_profile_asking_for_calls_holds_a_transfer_during_any_reported_call(  # type: ignore[no-untyped-def]
        client: TestClient, bank, a1) -> None:
    r = client.put(f"/v1/customers/{PAYER}/protection", json={
        "consent_at": "2026-03-01T09:00:00Z", "age_band": "75-84", "lives_alone": True, "phones": [PHONE],
        "trusted_person": {"name": "Ольга", "phone": "+375297001122", "relation": "daughter"},
        "confirm": {"during_call": True}}, headers=bank.headers)
    assert r.status_code in (200, 201), r.text
    calm = client.post("/v1/transfers/score", json=transfer("t-0", 30), headers=bank.headers).json()
    assert calm["outcome"] != "hold", calm  # no call: nothing to confirm
    ev = start("c-1", 40, caller="+375447000000", number_verification={"devicePhoneNumberVerified": True})
    assert client.post("/v1/telecom/call-events", json={"events": [ev]}, headers=a1.headers).status_code == 200
    held = client.post("/v1/transfers/score", json=transfer("t-1", 45), headers=bank.headers).json()
    assert held["outcome"] == "hold", held  # a verified, unflagged caller: still a call in progress
    assert [(x["code"], x["detail"]) for x in held["reasons"]] == [("awaiting_trusted_person", "during_call")]
