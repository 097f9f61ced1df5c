"""Orders under police control, banks' webhooks, and payer-side protection, driven over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_orders import cashout_alerts, order_events
from zaslon.adapters.http.state import app_state
from zaslon.core.knowledge import AccountFlag
from zaslon.flow.webhooks import SIGNATURE_HEADER, verify

VICTIM, DROP1 = "BY13NBRB3600900000002Z00AB00", "BY86AKBB10100000002966000000"
DROP2 = "BY04PJCB30120000000000000000"
ATM = {"atm_id": "ATM-5", "lat": 53.9, "lon": 27.56, "city": "Minsk"}


def events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(order_events)).scalar_one())


@pytest.fixture
def traced(client: TestClient, bank, other_bank) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A victim's money in two drops, reported: one order to each bank."""
    transfers = [
        {"transfer_id": "tx-1", "ts": "2026-03-02T10:00:00Z", "payer": VICTIM, "payee": DROP1, "amount": 500_000,
         "payer_bank": bank.bank_id, "payee_bank": bank.bank_id},
        {"transfer_id": "tx-2", "ts": "2026-03-02T10:10:00Z", "payer": DROP1, "payee": DROP2, "amount": 200_000,
         "payer_bank": bank.bank_id, "payee_bank": other_bank.bank_id},
    ]
    assert client.post("/v1/transfers", json=transfers, headers=bank.headers).status_code == 201
    r = client.post("/v1/incidents", headers=bank.headers, json={
        "scheme": "vishing", "transfer_ids": ["tx-1"], "reported_at": "2026-03-02T11:00:00Z", "text": "вишинг"})
    assert r.status_code == 201, r.text
    mine = client.get("/v1/orders", headers=bank.headers).json()["orders"]
    theirs = client.get("/v1/orders", headers=other_bank.headers).json()["orders"]
    return {DROP1: mine[0]["order_id"], DROP2: theirs[0]["order_id"]}


def test_only_the_police_release_and_extend(client: TestClient, bank, police, traced, engine: Engine, app) -> None:  # type: ignore[no-untyped-def]
    oid = traced[DROP1]
    before = events(engine)
    r = client.post(f"/v1/orders/{oid}/released", headers=bank.headers, json={"reason": "customer complained"})
    assert r.status_code == 403
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    assert client.post(f"/v1/orders/{oid}/extend", headers=bank.headers, json={"until": until}).status_code == 403
    assert events(engine) == before
    assert client.get(f"/v1/orders/{oid}", headers=bank.headers).json()["status"] == "issued"
    x = app_state(app).exchange
    assert x.knowledge.flags(DROP1) & AccountFlag.UNDER_ORDER
    r = client.post(f"/v1/orders/{oid}/extend", headers=police.headers, json={"until": until, "reason": "court"})
    assert r.status_code == 200 and r.json()["deadline"] == until.replace("+00:00", "+00:00")
    r = client.post(f"/v1/orders/{oid}/released", headers=police.headers, json={"reason": "investigator lifted it"})
    assert r.status_code == 200 and r.json()["status"] == "released"
    assert not x.knowledge.flags(DROP1) & AccountFlag.UNDER_ORDER
    assert client.post(f"/v1/orders/{oid}/released", headers=police.headers).status_code == 409


def test_freeze_above_the_order_and_return_above_the_frozen_are_422(  # type: ignore[no-untyped-def]
    client: TestClient, bank, traced, engine: Engine
) -> None:
    oid = traced[DROP1]
    amount = client.get(f"/v1/orders/{oid}", headers=bank.headers).json()["amount"]
    assert client.post(f"/v1/orders/{oid}/ack", headers=bank.headers).status_code == 200
    before = events(engine)
    assert client.post(f"/v1/orders/{oid}/frozen", headers=bank.headers, json={"amount": amount + 1}).status_code == 422
    assert events(engine) == before
    assert client.post(f"/v1/orders/{oid}/frozen", headers=bank.headers, json={"amount": amount - 100}).json()[
        "frozen_amount"] == amount - 100
    r = client.post(f"/v1/orders/{oid}/frozen", headers=bank.headers, json={"amount": 100})  # a top-up
    assert r.status_code == 200 and r.json()["frozen_amount"] == amount
    before = events(engine)
    too_much = client.post(f"/v1/orders/{oid}/returned", headers=bank.headers, json={"amount": amount + 1})
    assert too_much.status_code == 422
    assert events(engine) == before
    r = client.post(f"/v1/orders/{oid}/returned", headers=bank.headers, json={"amount": 1000})
    assert r.json()["status"] == "frozen" and r.json()["returned_amount"] == 1000  # a first tranche
    r = client.post(f"/v1/orders/{oid}/returned", headers=bank.headers, json={"amount": amount - 1000})
    assert r.json()["status"] == "returned"


def test_webhooks_set_through_the_api_and_signed(client: TestClient, bank, other_bank, police, app) -> None:  # type: ignore[no-untyped-def]
    bad = client.put("/v1/webhook", headers=bank.headers, json={"url": "ftp://bank.example/hook"})
    assert bad.status_code == 422 and "http" in bad.text
    assert client.get("/v1/webhook", headers=bank.headers).status_code == 404
    set_ = client.put("/v1/webhook", headers=bank.headers, json={"url": "https://bank-a.example/hook"})
    assert set_.status_code == 200
    secret = set_.json()["secret"]
    got = client.get("/v1/webhook", headers=bank.headers).json()
    assert got == {"url": "https://bank-a.example/hook", "signed": True, "signature_header": SIGNATURE_HEADER}
    seen: list[httpx.Request] = []
    app_state(app).exchange.webhook_transport = httpx.MockTransport(lambda r: (seen.append(r), httpx.Response(204))[1])
    transfers = [{"transfer_id": "w-1", "ts": "2026-03-02T10:00:00Z", "payer": VICTIM, "payee": DROP1,
                  "amount": 500_000, "payer_bank": bank.bank_id, "payee_bank": bank.bank_id}]
    assert client.post("/v1/transfers", json=transfers, headers=bank.headers).status_code == 201
    assert client.post("/v1/incidents", headers=bank.headers, json={
        "scheme": "vishing", "transfer_ids": ["w-1"], "reported_at": "2026-03-02T11:00:00Z"}).status_code == 201
    [req] = seen
    assert str(req.url) == "https://bank-a.example/hook"
    assert json.loads(req.content)["order"]["account_id"] == DROP1
    assert verify(secret, req.content, req.headers[SIGNATURE_HEADER], now=int(datetime.now(UTC).timestamp()))
    assert client.delete("/v1/webhook", headers=bank.headers).status_code == 204
    assert client.get("/v1/webhook", headers=bank.headers).status_code == 404
    assert client.put("/v1/webhook", headers=police.headers, json={"url": "https://x.example/"}).status_code == 403


def test_a_traced_drop_cannot_cash_out(client: TestClient, bank, other_bank, police, traced, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    cash = {"transfer_id": "tx-cash", "ts": "2026-03-02T11:30:00Z", "payer": DROP2, "payee": "CASH",
            "amount": 50_000, "payer_bank": other_bank.bank_id, "channel": "atm", "atm": ATM}
    r = client.post("/v1/transfers/score", headers=other_bank.headers, json=cash)
    assert r.status_code == 200 and r.json()["outcome"] == "block", r.text
    assert "payer_protected" in {x["code"] for x in r.json()["reasons"]}
    onward = {"transfer_id": "tx-on", "ts": "2026-03-02T11:31:00Z", "payer": DROP2,
              "payee": "BY20OLMP31350000001000000933", "amount": 10_000, "payer_bank": other_bank.bank_id}
    assert client.post("/v1/transfers/score", headers=other_bank.headers, json=onward).json()["outcome"] == "hold"
    abroad = {**onward, "transfer_id": "tx-abroad", "payee": "LT121000011101001000", "payee_country": "LT"}
    assert client.post("/v1/transfers/score", headers=other_bank.headers, json=abroad).json()["outcome"] == "block"
    alerts = client.get("/v1/alerts/cashout", headers=police.headers).json()["alerts"]
    by_id = {a["transfer_id"]: a for a in alerts}
    a = by_id["tx-cash"]
    assert (a["atm_id"], a["atm_city"], a["outcome"], a["order_id"]) == ("ATM-5", "Minsk", "block", traced[DROP2])
    assert a["case_id"] and a["case_id"].startswith("case-")
    assert by_id["tx-abroad"]["kind"] == "abroad"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cashout_alerts)).scalar_one() == 2


def test_an_executed_withdrawal_a_bank_reports_alerts_as_executed(  # type: ignore[no-untyped-def]
    client: TestClient, other_bank, police, traced
) -> None:
    cash = {"transfer_id": "tx-done", "ts": "2026-03-02T11:40:00Z", "payer": DROP2, "payee": "CASH",
            "amount": 20_000, "payer_bank": other_bank.bank_id, "channel": "atm", "atm": ATM}
    assert client.post("/v1/transfers", json=[cash], headers=other_bank.headers).status_code == 201
    [a] = client.get("/v1/alerts/cashout", headers=police.headers).json()["alerts"]
    assert a["transfer_id"] == "tx-done" and a["outcome"] == "executed"


def test_a_confirmed_case_puts_its_drops_in_case(client: TestClient, police, traced, app) -> None:  # type: ignore[no-untyped-def]
    [case] = client.get("/v1/cases", headers=police.headers).json()["cases"]
    r = client.post(f"/v1/cases/{case['case_id']}/confirm", headers=police.headers, json={"version": case["version"]})
    assert r.status_code == 200, r.text
    assert app_state(app).exchange.knowledge.flags(DROP1) & AccountFlag.IN_CASE
    assert not app_state(app).exchange.knowledge.flags(VICTIM) & AccountFlag.IN_CASE
