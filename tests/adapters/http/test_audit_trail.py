"""Who changed what through the API (key, person, organisation), per API key rate limits, and who reads /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.http.app import create_app
from zaslon.adapters.http.state import app_state
from zaslon.core.audit import verify_chain
from zaslon.core.trace import Holding, TraceResult
from zaslon.flow.audit import AuditLog
from zaslon.flow.freeze import FreezeStore
from zaslon.flow.orgs import create_key
from zaslon.settings import Settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def transfer(tid: str) -> dict[str, Any]:
    return {"transfer_id": tid, "ts": "2026-11-02T10:15:00+03:00", "payer": "BY13NBRB3600900000002Z00AB00",
            "payee": "BY86AKBB10100000002966000000", "amount": 125_000, "currency": "BYN"}


def test_each_state_change_names_the_key_the_person_and_the_organisation(  # type: ignore[no-untyped-def]
        client: TestClient, engine: Engine, bank) -> None:
    [order] = FreezeStore(engine).issue(
        "INC-1", TraceResult(500, (Holding("BY01A", bank.bank_id, 500, 1, 0),), (), ()), now=NOW).created
    person_key = create_key(engine, bank.org_id, frozenset({"orders:read", "orders:write"}), person="Анна Иванова")
    headers = {"Authorization": f"Bearer {person_key.api_key}"}
    assert client.get(f"/v1/orders/{order.order_id}", headers=headers).status_code == 200  # a read: no entry
    assert client.post(f"/v1/orders/{order.order_id}/ack", headers=headers).status_code == 200
    assert client.post(f"/v1/orders/{order.order_id}/ack", headers=headers).status_code == 409  # refused: no entry
    r = client.post(f"/v1/orders/{order.order_id}/frozen", json={"amount": 400}, headers=bank.headers)
    assert r.status_code == 200
    assert client.post("/v1/transfers", json=transfer("t-1"), headers=bank.headers).status_code == 201  # bulk data
    entries = AuditLog(engine).entries()
    assert [(e.action, e.actor, e.person, e.org_id, e.subject) for e in entries] == [
        ("POST /v1/orders/{order_id}/ack", f"key:{person_key.key_id}", "Анна Иванова", bank.org_id,
         f"order_id={order.order_id}"),
        ("POST /v1/orders/{order_id}/frozen", f"key:{bank.key[4:16]}", None, bank.org_id,
         f"order_id={order.order_id}"),
    ]
    assert '"status":200' in entries[1].detail and '"body_sha256":' in entries[1].detail
    assert verify_chain(entries)[2] is None


def test_a_failed_audit_append_is_a_500_not_a_silent_change(  # type: ignore[no-untyped-def]
        client: TestClient, app, engine: Engine, bank) -> None:
    [order] = FreezeStore(engine).issue(
        "INC-1", TraceResult(500, (Holding("BY01A", bank.bank_id, 500, 1, 0),), (), ()), now=NOW).created
    audit = app_state(app).audit
    assert audit is not None

    def broken(**_: Any) -> None:
        raise RuntimeError("disk full")

    audit.record = broken  # type: ignore[method-assign]
    r = client.post(f"/v1/orders/{order.order_id}/ack", headers=bank.headers)
    assert r.status_code == 500 and "audit log" in r.json()["message"]


@pytest.fixture
def limited(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"rate_limit_per_s": 0.05, "rate_limit_burst": 2}), db=engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    app_state(app).exchange.close()


def test_a_key_over_its_rate_gets_429_with_retry_after_and_nothing_changes(  # type: ignore[no-untyped-def]
        limited: TestClient, engine: Engine, bank, other_bank) -> None:
    assert limited.post("/v1/transfers", json=transfer("t-1"), headers=bank.headers).status_code == 201
    assert limited.get("/v1/transfers/t-1", headers=bank.headers).status_code == 200
    r = limited.post("/v1/transfers", json=transfer("t-2"), headers=bank.headers)
    assert r.status_code == 429 and r.json()["error"] == "RateLimited"
    assert r.headers["Retry-After"] in {"19", "20"}  # one request per 20 s: the next token in about 20 s
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(transfers)).scalar_one() == 1  # t-2 was not stored
    # The scoring fast lane counts against the same bucket and answers the same way.
    scored = limited.post("/v1/transfers/score", json=transfer("t-3"), headers=bank.headers)
    assert scored.status_code == 429 and "Retry-After" in scored.headers
    # Another key has its own bucket.
    theirs = {**transfer("t-4"), "payee": "BY04PJCB30120000000000000000"}  # the other bank's own customer
    assert limited.post("/v1/transfers", json=theirs, headers=other_bank.headers).status_code == 201


def test_metrics_need_a_key_with_the_scope(client: TestClient, bank, police) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bank.headers).status_code == 403
    r = client.get("/metrics", headers=police.headers)
    assert r.status_code == 200 and "zaslon_http_requests_total" in r.text


def test_metrics_open_on_loopback_only_when_configured(settings: Settings, engine: Engine) -> None:
    for open_, host, code in ((True, "127.0.0.1", 200), (True, "::1", 200), (True, "10.0.0.5", 401),
                              (False, "127.0.0.1", 401)):
        app = create_app(settings.model_copy(update={"metrics_open_on_loopback": open_}), db=engine)
        with TestClient(app, client=(host, 40000)) as c:
            assert c.get("/metrics").status_code == code, (open_, host)
        app_state(app).exchange.close()
