"""GET /v1/stats and POST /v1/incidents/history over HTTP: the contract's keys, the scope, and bad input."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from zaslon.adapters.db.tables_audit import audit_log
from zaslon.adapters.db.tables_incidents import incident_history

CONTRACT = {"incidents_by_type", "incidents_by_region", "yoy_change", "money", "time_to_first_order_s",
            "bank_ack_sla"}


def _count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _history(n: int = 2) -> dict[str, object]:
    return {"label": "simulated", "incidents": [
        {"history_id": f"h{k}", "scheme": "vishing", "reported_at": f"2025-03-{k + 1:02d}T10:00:00Z",
         "region": "Gomel Region", "district": "Rechitsa", "victim_age": 70 + k, "victim_lives_alone": True}
        for k in range(n)]}


def test_the_police_get_the_contract_keys_with_the_history_labelled(client: TestClient, police, engine) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/incidents/history", json=_history(), headers=police.headers)
    assert r.status_code == 200 and r.json() == {"added": 2, "skipped": 0}
    r = client.get("/v1/stats", params={"from": "2025-03-01", "to": "2025-03-31", "region": "Gomel Region"},
                   headers=police.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= CONTRACT
    assert set(body["money"]) >= {"stolen", "prevented", "frozen", "returned"}
    assert set(body["time_to_first_order_s"]) >= {"p50", "p95"}
    assert body["incidents_by_type"] == {"vishing": 2} and body["incidents_by_region"] == {"Gomel Region": 2}
    assert body["simulated_history"]["incidents"] == 2 and body["elderly_victims"]["share"] == 1.0


def test_an_inverted_or_unparsable_period_is_422_and_writes_nothing(client: TestClient, police, engine) -> None:  # type: ignore[no-untyped-def]
    before = _count(engine, audit_log)
    for params, field in (({"from": "2026-03-31", "to": "2026-03-01"}, "to"),
                          ({"from": "yesterday", "to": "2026-03-01"}, "from"), ({"to": "2026-03-01"}, "from")):
        r = client.get("/v1/stats", params=params, headers=police.headers)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert _count(engine, audit_log) == before


def test_a_bank_key_is_refused(client: TestClient, bank, police) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/stats", params={"from": "2026-03-01", "to": "2026-03-31"}, headers=bank.headers)
    assert r.status_code == 403
    assert client.post("/v1/incidents/history", json=_history(), headers=bank.headers).status_code == 403


def test_a_bad_history_is_422_and_writes_nothing(client: TestClient, police, engine) -> None:  # type: ignore[no-untyped-def]
    bad = _history(3)
    bad["incidents"][2]["reported_at"] = "2099-01-01T00:00:00Z"  # type: ignore[index]
    r = client.post("/v1/incidents/history", json=bad, headers=police.headers)
    assert r.status_code == 422
    naive = _history(1)
    naive["incidents"][0]["reported_at"] = "2025-03-01T10:00:00"  # type: ignore[index]
    assert client.post("/v1/incidents/history", json=naive, headers=police.headers).status_code == 422
    assert _count(engine, incident_history) == 0
