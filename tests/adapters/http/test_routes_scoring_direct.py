"""The real-time scoring route answers through a direct (first-matched) route: same contract as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from zaslon.adapters.http.routes_scoring import DecisionOut
from zaslon.core.knowledge import AccountFlag

TS = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PAYER, PAYEE = "BY13NBRB3600900000002Z00AB00", "DE89370400440532013000"


@pytest.fixture(autouse=True)
def _tables(engine: Engine) -> None:
    del engine


def tx(i: int = 1, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"transfer_id": f"D-{i}", "ts": (TS + timedelta(minutes=i)).isoformat(), "payer": PAYER,
                            "payee": PAYEE, "amount": 15000, "currency": "BYN"}
    body.update(over)
    return body


def test_answer_is_exactly_the_response_model(client, app, bank) -> None:  # type: ignore[no-untyped-def]
    app.state.engine.knowledge.flag(PAYEE, AccountFlag.REPORTED)
    r = client.post("/v1/transfers/score", json=tx(), headers=bank.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    # What FastAPI's response_model serialisation would have produced, key for key, value for value.
    assert body == DecisionOut.model_validate(body).model_dump(mode="json")
    assert body["hold_until"].endswith("Z") and body["outcome"] == "hold"


def test_direct_route_keeps_auth_errors_and_metrics(client, bank, police) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/v1/transfers/score", json=tx()).status_code == 401
    assert client.post("/v1/transfers/score", json=tx(), headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/v1/transfers/score", json=tx(), headers=police.headers).status_code == 403
    bad = client.post("/v1/transfers/score", json=tx(amount=-1), headers=bank.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "amount"
    listed = client.post("/v1/transfers/score", json=[tx()], headers=bank.headers)
    assert listed.status_code == 422 and listed.json()["field"] == "body"
    assert client.post("/v1/transfers/score", json=tx(), headers=bank.headers).status_code == 200
    metrics = client.get("/metrics").text
    assert 'route="/v1/transfers/score",status="200"' in metrics
    assert 'route="/v1/transfers/score",status="422"' in metrics


def test_route_is_still_documented(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    assert "post" in spec["paths"]["/v1/transfers/score"]
