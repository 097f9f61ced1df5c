from __future__ import annotations

from datetime import UTC, datetime

import defusedxml.ElementTree as SafeET
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_orders import order_events
from zaslon.adapters.http.state import app_state
from zaslon.core.trace import Holding, TraceResult
from zaslon.flow.freeze import FreezeStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def orders(engine: Engine, bank, other_bank) -> dict[str, str]:  # type: ignore[no-untyped-def]
    res = TraceResult(800, (Holding("BY01A", bank.bank_id, 500, 1, 0), Holding("BY02B", other_bank.bank_id, 300, 2, 0)),
                      (), ())
    created = FreezeStore(engine).issue("INC-1", res, now=NOW).created
    return {o.bank_id: o.order_id for o in created}


def test_bank_sees_only_orders_addressed_to_it(client: TestClient, bank, other_bank, police, orders) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/orders", headers=bank.headers)
    assert r.status_code == 200
    assert [o["account_id"] for o in r.json()["orders"]] == ["BY01A"]
    r = client.get("/v1/orders", headers=other_bank.headers)
    assert [o["account_id"] for o in r.json()["orders"]] == ["BY02B"]
    r = client.get("/v1/orders", headers=police.headers)
    assert len(r.json()["orders"]) == 2
    r = client.get(f"/v1/orders/{orders[other_bank.bank_id]}", headers=bank.headers)
    assert r.status_code == 404
    r = client.get("/v1/orders/FO-NOPE", headers=bank.headers)
    assert r.status_code == 404
    assert client.get("/v1/orders").status_code == 401


def test_ack_freeze_return_and_iso_messages(client: TestClient, bank, orders) -> None:  # type: ignore[no-untyped-def]
    oid = orders[bank.bank_id]
    r = client.post(f"/v1/orders/{oid}/ack", headers=bank.headers)
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    r = client.post(f"/v1/orders/{oid}/frozen", headers=bank.headers, json={"amount": 450})
    assert r.status_code == 200 and r.json()["frozen_amount"] == 450
    assert client.get(f"/v1/orders/{oid}/pacs004", headers=bank.headers).status_code == 409
    r = client.post(f"/v1/orders/{oid}/returned", headers=bank.headers, json={"amount": 450})
    assert r.json()["status"] == "returned"
    camt = client.get(f"/v1/orders/{oid}/camt056", headers=bank.headers)
    assert camt.status_code == 200 and camt.headers["content-type"].startswith("application/xml")
    assert SafeET.fromstring(camt.content).tag.endswith("}Document")
    pacs = client.get(f"/v1/orders/{oid}/pacs004", headers=bank.headers)
    assert "pacs.004.001.09" in SafeET.fromstring(pacs.content).tag


def test_ack_twice_is_409_and_writes_nothing(client: TestClient, bank, orders, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    oid = orders[bank.bank_id]
    assert client.post(f"/v1/orders/{oid}/ack", headers=bank.headers).status_code == 200
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(order_events)).scalar_one()
    r = client.post(f"/v1/orders/{oid}/ack", headers=bank.headers)
    assert r.status_code == 409 and r.json()["error"] == "Conflict"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(order_events)).scalar_one() == before


def test_wrong_bank_cannot_act_and_learns_nothing(client: TestClient, bank, other_bank, orders) -> None:  # type: ignore[no-untyped-def]
    theirs = orders[other_bank.bank_id]
    r = client.post(f"/v1/orders/{theirs}/ack", headers=bank.headers)
    missing = client.post("/v1/orders/FO-DOESNOTEXIST/ack", headers=bank.headers)
    assert r.status_code == missing.status_code == 404
    assert r.json()["error"] == missing.json()["error"] == "NotFound"
    assert client.get(f"/v1/orders/{theirs}", headers=other_bank.headers).json()["status"] == "issued"


def test_bad_amounts_and_steps(client: TestClient, bank, police, orders) -> None:  # type: ignore[no-untyped-def]
    oid = orders[bank.bank_id]
    assert client.post(f"/v1/orders/{oid}/frozen", headers=bank.headers, json={"amount": 1}).status_code == 409
    client.post(f"/v1/orders/{oid}/ack", headers=bank.headers)
    assert client.post(f"/v1/orders/{oid}/frozen", headers=bank.headers, json={"amount": 501}).status_code == 422
    assert client.post(f"/v1/orders/{oid}/frozen", headers=bank.headers, json={"amount": -1}).status_code == 422
    assert client.post(f"/v1/orders/{oid}/frozen", headers=bank.headers, json={}).status_code == 422
    assert client.get(f"/v1/orders/{oid}", headers=bank.headers).json()["status"] == "acknowledged"
    assert client.post(f"/v1/orders/{oid}/ack", headers=police.headers).status_code == 403  # no orders:write
    assert client.get("/v1/orders?status=bogus", headers=bank.headers).status_code == 422


def test_incident_traces_and_issues_orders_to_the_holding_banks(  # type: ignore[no-untyped-def]
    client: TestClient, bank, other_bank, police, app
) -> None:
    seen: list[str] = []
    import httpx

    app_state(app).exchange.webhook_transport = httpx.MockTransport(
        lambda r: (seen.append(str(r.url)), httpx.Response(200))[1])
    victim, drop1 = "BY13NBRB3600900000002Z00AB00", "BY86AKBB10100000002966000000"
    drop2 = "BY04PJCB30120000000000000000"
    transfers = [
        {"transfer_id": "tx-1", "ts": "2026-03-02T10:00:00Z", "payer": victim, "payee": drop1, "amount": 500_000,
         "payer_bank": bank.bank_id, "payee_bank": bank.bank_id},
        {"transfer_id": "tx-2", "ts": "2026-03-02T10:10:00Z", "payer": drop1, "payee": drop2, "amount": 200_000,
         "payer_bank": bank.bank_id, "payee_bank": other_bank.bank_id},
        {"transfer_id": "tx-3", "ts": "2026-03-02T10:20:00Z", "payer": drop2, "payee": "CASH", "amount": 50_000,
         "payer_bank": other_bank.bank_id, "atm": {"atm_id": "ATM-5", "lat": 53.9, "lon": 27.56, "city": "Minsk"}},
    ]
    # Each bank submits its own customers' transfers: Priorbank's customer's cash withdrawal is Priorbank's.
    assert client.post("/v1/transfers", json=transfers[:2], headers=bank.headers).status_code == 201
    assert client.post("/v1/transfers", json=transfers[2:], headers=other_bank.headers).status_code == 201
    r = client.post("/v1/incidents", headers=bank.headers, json={
        "scheme": "vishing", "transfer_ids": ["tx-1"], "reported_at": "2026-03-02T11:00:00Z",
        "text": "Звонили из «службы безопасности», перевела 5000 BYN."})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["trace"]["traced"] == 500_000 and body["trace"]["still_in_accounts"] == 450_000
    assert [e["atm_id"] for e in body["trace"]["exits"]] == ["ATM-5"]
    assert len(body["orders"]) == 2
    mine = client.get("/v1/orders", headers=bank.headers).json()["orders"]
    theirs = client.get("/v1/orders", headers=other_bank.headers).json()["orders"]
    assert [(o["account_id"], o["amount"]) for o in mine] == [(drop1, 300_000)]
    assert [(o["account_id"], o["amount"]) for o in theirs] == [(drop2, 150_000)]
    assert app_state(app).exchange.knowledge.flags(drop2)
    # A restart: a new app on the same database knows again which accounts hold traced money, and scores so.
    from zaslon.adapters.http.app import create_app
    from zaslon.core.knowledge import AccountFlag

    again = create_app(app_state(app).settings, db=app_state(app).db)
    assert app_state(again).exchange.knowledge.flags(drop1) & AccountFlag.TRACED
    assert app_state(again).exchange.knowledge.flags(drop2) & AccountFlag.TRACED
    assert not app_state(again).exchange.knowledge.flags(victim) & AccountFlag.TRACED
    with TestClient(again) as restarted:
        scored = restarted.post("/v1/transfers/score", headers=bank.headers, json={
            "transfer_id": "tx-9", "ts": "2026-03-02T12:00:00Z", "payer": "BY20AKBB31350000001000000933",
            "payee": drop2, "amount": 10_000, "currency": "BYN"})  # Belarusbank's own customer pays the drop
        assert scored.status_code == 200 and scored.json()["outcome"] in ("hold", "block")


def test_paging_past_any_real_list_is_a_precise_422(client: TestClient, bank) -> None:  # type: ignore[no-untyped-def]
    # A 64-bit offset used to overflow SQLite's INTEGER and answer 500 (found by schemathesis).
    r = client.get("/v1/orders?offset=9223372036854775808", headers=bank.headers)
    assert r.status_code == 422 and "offset" in r.text
    assert client.get("/v1/orders?offset=1000000000", headers=bank.headers).json()["orders"] == []
