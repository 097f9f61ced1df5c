"""POST /v1/transfers: idempotent storage, conflicts, authentication and bad input, on both databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.http.state import app_state


def transfer(tid: str = "tx-1", **over: Any) -> dict[str, Any]:
    body = {
        "transfer_id": tid,
        "ts": "2026-11-02T10:15:00+03:00",
        "payer": "BY13NBRB3600900000002Z00AB00",
        "payee": "BY86AKBB10100000002966000000",
        "amount": 125_000,
        "currency": "BYN",
        "channel": "mobile",
        "device": "dev-77",
        "ip": "10.1.2.3",
    }
    body.update(over)
    return body


def count(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(transfers)).scalar_one())


def test_healthz_and_openapi(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/v1/transfers" in spec["paths"]


def test_store_single_and_idempotent_replay(client, engine, bank) -> None:  # type: ignore[no-untyped-def]
    first = client.post("/v1/transfers", json=transfer(), headers=bank.headers)
    assert first.status_code == 201, first.text
    assert first.json() == {"transfer_id": "tx-1", "status": "created"}
    again = client.post("/v1/transfers", json=transfer(), headers=bank.headers)
    assert again.status_code == 200
    assert again.json() == {"transfer_id": "tx-1", "status": "duplicate"}
    assert count(engine) == 1
    stored = client.get("/v1/transfers/tx-1", headers=bank.headers).json()
    assert stored["amount"] == 125_000 and stored["currency"] == "BYN"


def test_conflicting_replay_is_409_and_changes_nothing(client, engine, bank) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/v1/transfers", json=transfer(), headers=bank.headers).status_code == 201
    clash = client.post("/v1/transfers", json=transfer(amount=999), headers=bank.headers)
    assert clash.status_code == 409
    assert clash.json()["field"] == "transfer_id"
    assert client.get("/v1/transfers/tx-1", headers=bank.headers).json()["amount"] == 125_000


def test_batch_is_all_or_nothing(client, engine, bank) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/v1/transfers", json=transfer("tx-1"), headers=bank.headers).status_code == 201
    batch = [transfer("tx-2"), transfer("tx-3"), transfer("tx-1", amount=1)]
    assert client.post("/v1/transfers", json=batch, headers=bank.headers).status_code == 409
    assert count(engine) == 1
    ok = client.post("/v1/transfers", json=[transfer("tx-1"), transfer("tx-2")], headers=bank.headers)
    assert ok.status_code == 201
    assert [r["status"] for r in ok.json()["results"]] == ["duplicate", "created"]
    assert count(engine) == 2


def test_authentication_and_scopes(client, engine, bank, other_bank, make_org) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/v1/transfers", json=transfer()).status_code == 401
    wrong = {"Authorization": "Bearer zsl_aaaaaaaaaaaa_" + "x" * 43}
    assert client.post("/v1/transfers", json=transfer(), headers=wrong).status_code == 401
    forged = {"Authorization": bank.key[:-4] + "abcd"}
    assert client.post("/v1/transfers", json=transfer(), headers=forged).status_code == 401
    telecom = make_org("telecom", "A1")
    assert client.post("/v1/transfers", json=transfer(), headers=telecom.headers).status_code == 403
    assert count(engine) == 0
    assert client.post("/v1/transfers", json=transfer(), headers=bank.headers).status_code == 201
    # Another bank's transfer answers 404, exactly as a missing one (its existence is not revealed).
    hidden = client.get("/v1/transfers/tx-1", headers=other_bank.headers)
    missing = client.get("/v1/transfers/tx-404", headers=other_bank.headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"] == missing.json()["error"] and hidden.json()["field"] == missing.json()["field"]
    # Ids are each bank's own: Priorbank's customer's own "tx-1" is stored beside Belarusbank's, not a 409.
    own = transfer(payer="BY04PJCB30120000000000000000", amount=7_000)
    assert client.post("/v1/transfers", json=own, headers=other_bank.headers).status_code == 201
    assert client.get("/v1/transfers/tx-1", headers=other_bank.headers).json()["amount"] == 7_000
    assert client.get("/v1/transfers/tx-1", headers=bank.headers).json()["amount"] == 125_000
    # But Belarusbank's customers' transfer is not Priorbank's to submit: 422, nothing stored.
    assert client.post("/v1/transfers", json=transfer("tx-9"), headers=other_bank.headers).status_code == 422
    assert count(engine) == 2


def test_police_reads_any_transfer(client, bank, police) -> None:  # type: ignore[no-untyped-def]
    client.post("/v1/transfers", json=transfer(), headers=bank.headers)
    assert client.get("/v1/transfers/tx-1", headers=police.headers).status_code == 200
    assert client.get("/v1/transfers/nope", headers=police.headers).status_code == 404


BAD = [
    ({"colour": "red"}, "colour"),
    ({"amount": -5}, "amount"),
    ({"amount": 0}, "amount"),
    ({"amount": "12.50"}, "amount"),
    ({"currency": "XYZ"}, "currency"),
    ({"ts": "2026-11-02T10:15:00"}, "ts"),
    ({"ts": "yesterday"}, "ts"),
    ({"ip": "999.1.1.1"}, "ip"),
    ({"payee": "CASH"}, "body"),
    ({"payee_bank": "not a bic"}, "payee_bank"),
    ({"transfer_id": ""}, "transfer_id"),
]


def test_malformed_bodies_get_precise_422_and_store_nothing(client, engine, bank) -> None:  # type: ignore[no-untyped-def]
    for override, field in BAD:
        body = transfer(**override) if "colour" not in override else {**transfer(), **override}
        r = client.post("/v1/transfers", json=body, headers=bank.headers)
        assert r.status_code == 422, (override, r.text)
        assert field in r.json()["field"], (override, r.json())
    missing = transfer()
    del missing["payer"]
    r = client.post("/v1/transfers", json=missing, headers=bank.headers)
    assert r.status_code == 422 and r.json()["field"] == "payer"
    dupes = client.post("/v1/transfers", json=[transfer("a"), transfer("a")], headers=bank.headers)
    assert dupes.status_code == 422 and "duplicate" in dupes.json()["message"]
    bad_in_batch = client.post("/v1/transfers", json=[transfer("b"), transfer("c", amount=-1)], headers=bank.headers)
    assert bad_in_batch.status_code == 422 and bad_in_batch.json()["field"] == "1.amount"
    json_headers = {**bank.headers, "content-type": "application/json"}
    not_json = client.post("/v1/transfers", content=b"{nope", headers=json_headers)
    assert not_json.status_code == 422
    assert client.post("/v1/transfers", json=[], headers=bank.headers).status_code == 422
    assert count(engine) == 0


def test_oversized_body_is_413(client, engine, bank, app) -> None:  # type: ignore[no-untyped-def]
    app_state(app).settings.max_body_bytes = 1000
    r = client.post("/v1/transfers", json=[transfer(f"t{i}") for i in range(50)], headers=bank.headers)
    assert r.status_code == 413
    assert count(engine) == 0


def test_cash_withdrawal_carries_its_atm(client, bank) -> None:  # type: ignore[no-untyped-def]
    body = transfer("cash-1", payer="BY86AKBB10100000002966000000", payee="CASH", channel="atm",
                    atm={"atm_id": "ATM-BREST-07", "lat": 52.08, "lon": 23.69, "city": "Brest"})
    assert client.post("/v1/transfers", json=body, headers=bank.headers).status_code == 201
    stored = client.get("/v1/transfers/cash-1", headers=bank.headers).json()
    assert stored["atm_id"] == "ATM-BREST-07" and stored["atm_city"] == "Brest"


def test_metrics_count_requests(client, bank, police) -> None:  # type: ignore[no-untyped-def]
    client.post("/v1/transfers", json=transfer(), headers=bank.headers)
    client.post("/v1/transfers", json=transfer(amount=-1), headers=bank.headers)
    text = client.get("/metrics", headers=police.headers).text
    assert 'zaslon_http_requests_total{method="POST",route="/v1/transfers",status="201"} 1.0' in text
    assert 'status="422"' in text


def test_traced_account_cashing_out_raises_a_desk_alert(client, app, bank, police) -> None:  # type: ignore[no-untyped-def]
    from zaslon.core.knowledge import AccountFlag

    drop = "BY86AKBB10100000002966000000"
    app_state(app).exchange.knowledge.flag(drop, AccountFlag.TRACED)
    cash = transfer("cash-9", payer=drop, payee="CASH", channel="atm", amount=90_000,
                    atm={"atm_id": "ATM-BREST-07", "lat": 52.08, "lon": 23.69, "city": "Brest"})
    assert client.post("/v1/transfers", json=cash, headers=bank.headers).status_code == 201
    assert client.post("/v1/transfers", json=transfer("tx-2"), headers=bank.headers).status_code == 201
    assert client.get("/v1/alerts/cashout", headers=bank.headers).status_code == 403
    alerts = client.get("/v1/alerts/cashout", headers=police.headers).json()["alerts"]
    assert [(a["transfer_id"], a["kind"], a["atm_id"]) for a in alerts] == [("cash-9", "cash_out", "ATM-BREST-07")]
