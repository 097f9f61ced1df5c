"""The real-time scoring fast lane (before the middleware stack): the same contract as the documented route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from zaslon.adapters.http.routes_scoring import DecisionOut
from zaslon.adapters.http.state import app_state
from zaslon.core.knowledge import AccountFlag

TS = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# The payer is a customer of the submitting bank (``bank``: Belarusbank, AKBBBY2X): a bank scores only its own.
PAYER, PAYEE = "BY86AKBB10100000002966000000", "DE89370400440532013000"


@pytest.fixture(autouse=True)
def _tables(engine: Engine) -> None:
    del engine


def tx(i: int = 1, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"transfer_id": f"D-{i}", "ts": (TS + timedelta(minutes=i)).isoformat(), "payer": PAYER,
                            "payee": PAYEE, "amount": 15000, "currency": "BYN"}
    body.update(over)
    return body


def test_answer_is_exactly_the_response_model(client, app, bank) -> None:  # type: ignore[no-untyped-def]
    app_state(app).exchange.knowledge.flag(PAYEE, AccountFlag.REPORTED)
    r = client.post("/v1/transfers/score", json=tx(), headers=bank.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    # What FastAPI's response_model serialisation would have produced, key for key, value for value.
    assert body == DecisionOut.model_validate(body).model_dump(mode="json")
    assert body["hold_until"].endswith("Z") and body["outcome"] == "hold"


def test_lane_keeps_auth_errors_and_metrics(client, bank, police) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/v1/transfers/score", json=tx()).status_code == 401
    assert client.post("/v1/transfers/score", json=tx(), headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/v1/transfers/score", json=tx(), headers=police.headers).status_code == 403
    bad = client.post("/v1/transfers/score", json=tx(amount=-1), headers=bank.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "amount"
    listed = client.post("/v1/transfers/score", json=[tx()], headers=bank.headers)
    assert listed.status_code == 422 and listed.json()["field"] == "body"
    assert client.post("/v1/transfers/score", json=tx(), headers=bank.headers).status_code == 200
    metrics = client.get("/metrics", headers=police.headers).text
    assert 'route="/v1/transfers/score",status="200"' in metrics
    assert 'route="/v1/transfers/score",status="422"' in metrics


def test_route_is_still_documented(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    assert "post" in spec["paths"]["/v1/transfers/score"]


@pytest.fixture
def lane_calls(app):  # type: ignore[no-untyped-def]
    """Wrap the lane: record for each request whether it answered (None) or handed the request back."""
    inner = app.fast_lanes[("POST", "/v1/transfers/score")]
    calls: list[str] = []

    async def counting(a, scope, receive, send):  # type: ignore[no-untyped-def]
        out = await inner(a, scope, receive, send)
        calls.append("answered" if out is None else "handed back")
        return out

    app.fast_lanes[("POST", "/v1/transfers/score")] = counting
    return calls


def test_lane_answers_valid_json_and_hands_back_the_rest(client, bank, lane_calls) -> None:  # type: ignore[no-untyped-def]
    # A key seen for the first time is verified by the full stack (argon2 in a thread), then cached.
    assert client.post("/v1/transfers/score", json=tx(1), headers=bank.headers).status_code == 200
    assert lane_calls == ["handed back"]
    ok = client.post("/v1/transfers/score", json=tx(2), headers=bank.headers)
    assert ok.status_code == 200 and ok.json()["transfer_id"] == "D-2" and lane_calls[-1] == "answered"
    # Invalid JSON: the lane read the body and hands it back; the route's precise 422 names the field.
    bad = client.post("/v1/transfers/score", json=tx(3, currency="XXQ"), headers=bank.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "currency" and lane_calls[-1] == "handed back"
    garbage = client.post("/v1/transfers/score", content=b"{not json", headers={
        **bank.headers, "content-type": "application/json"})
    assert garbage.status_code == 422 and lane_calls[-1] == "handed back"
    # The same id with another body: the lane itself answers the conflict, as the route would.
    clash = client.post("/v1/transfers/score", json=tx(2, amount=99), headers=bank.headers)
    assert clash.status_code == 409 and clash.json()["field"] == "transfer_id" and lane_calls[-1] == "answered"
    # A replay of the same body is answered from the record.
    again = client.post("/v1/transfers/score", json=tx(2), headers=bank.headers)
    assert again.status_code == 200 and again.json()["replayed"] is True


def test_lane_hands_back_what_it_must_not_answer(client, app, bank, lane_calls) -> None:  # type: ignore[no-untyped-def]
    client.post("/v1/transfers/score", json=tx(1), headers=bank.headers)  # caches the key
    too_big = b"{" + b" " * (app_state(app).settings.max_body_bytes + 10) + b"}"
    json_headers = {**bank.headers, "content-type": "application/json"}
    r = client.post("/v1/transfers/score", content=too_big, headers=json_headers)
    assert r.status_code == 413 and lane_calls[-1] == "handed back"
    key = bank.headers["Authorization"].split(" ", 1)[1]
    by_header = client.post("/v1/transfers/score", json=tx(5), headers={"X-API-Key": key})
    assert by_header.status_code == 200 and lane_calls[-1] == "handed back"


def test_each_request_is_counted_once_in_metrics(client, bank, police) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        assert client.post("/v1/transfers/score", json=tx(10 + i), headers=bank.headers).status_code == 200
    line = next(x for x in client.get("/metrics", headers=police.headers).text.splitlines()
                if x.startswith("zaslon_http_requests_total") and 'route="/v1/transfers/score",status="200"' in x)
    assert float(line.rsplit(" ", 1)[1]) == 3.0


def test_a_revoked_key_stops_working_on_a_running_server(client, app, engine, bank, lane_calls) -> None:  # type: ignore[no-untyped-def]
    from zaslon.flow.orgs import revoke_key

    assert client.post("/v1/transfers/score", json=tx(30), headers=bank.headers).status_code == 200
    assert client.post("/v1/transfers/score", json=tx(31), headers=bank.headers).status_code == 200
    assert lane_calls[-1] == "answered"  # the key is cached
    app_state(app).keys._recheck_s = 0.0  # (5 s in service) recheck on the next look-up
    revoke_key(engine, bank.headers["Authorization"].split("_")[1])
    r = client.post("/v1/transfers/score", json=tx(32), headers=bank.headers)
    assert r.status_code == 401 and lane_calls[-1] == "handed back"
    assert client.get("/v1/orders", headers=bank.headers).status_code == 401


def test_a_scored_cash_out_attempt_by_a_traced_account_alerts_the_desk(  # type: ignore[no-untyped-def]
    client, app, bank, police, lane_calls
) -> None:
    drop = "BY86AKBB10100000002966000000"
    app_state(app).exchange.knowledge.flag(drop, AccountFlag.TRACED)
    atm = {"atm_id": "ATM-77", "lat": 53.9, "lon": 27.56, "city": "Minsk"}
    # the first request goes the documented route (the key is not cached yet), the second the fast lane
    for i, path in ((40, "handed back"), (41, "answered")):
        r = client.post("/v1/transfers/score", headers=bank.headers,
                        json=tx(i, payer=drop, payee="CASH", atm=atm, amount=200_000))
        assert r.status_code == 200 and lane_calls[-1] == path
    client.post("/v1/transfers/score", headers=bank.headers,  # a replay alerts nothing new
                json=tx(41, payer=drop, payee="CASH", atm=atm, amount=200_000))
    client.post("/v1/transfers/score", headers=bank.headers, json=tx(42, payer=drop))  # not a cash-out
    alerts = client.get("/v1/alerts/cashout", headers=police.headers).json()["alerts"]
    assert sorted((a["transfer_id"], a["atm_id"], a["kind"]) for a in alerts) == [
        ("D-40", "ATM-77", "cash_out"), ("D-41", "ATM-77", "cash_out")]
    batch = client.post("/v1/transfers/score/batch", headers=bank.headers,
                        json=[tx(43, payer=drop, payee="CASH", atm=atm), tx(44)])
    assert batch.status_code == 200
    alerts = client.get("/v1/alerts/cashout", headers=police.headers).json()["alerts"]
    assert "D-43" in {a["transfer_id"] for a in alerts} and "D-44" not in {a["transfer_id"] for a in alerts}


def test_duplicate_headers_are_answered_as_the_route_answers_them(client, app, bank) -> None:  # type: ignore[no-untyped-def]
    import json

    assert client.post("/v1/transfers/score", json=tx(50), headers=bank.headers).status_code == 200  # caches the key
    cases = [
        [("content-type", "application/json"), ("authorization", "Bearer zsl_bogus_bogus"),
         ("authorization", bank.headers["Authorization"])],
        [("content-type", "application/xml"), ("content-type", "application/json"),
         ("authorization", bank.headers["Authorization"])],
    ]
    for n, headers in enumerate(cases):
        with_lane = client.post("/v1/transfers/score", content=json.dumps(tx(51 + 2 * n)).encode(), headers=headers)
        lanes = dict(app.fast_lanes)
        app.fast_lanes.clear()
        try:
            route = client.post("/v1/transfers/score", content=json.dumps(tx(52 + 2 * n)).encode(), headers=headers)
        finally:
            app.fast_lanes.update(lanes)
        assert with_lane.status_code == route.status_code != 200
