"""/v1/cases and /v1/signals/suspected-drops over HTTP on both databases."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert

from zaslon.adapters.db.tables_cases import suspected_drops
from zaslon.adapters.http.state import app_state

DROP = "BY86AKBB10100000002966000000"
DROP2 = "BY20PJCB30120000000000000933"
VICTIM_ACC = "BY13NBRB3600900000002Z00AB00"


@pytest.fixture(autouse=True)
def _tables(engine) -> None:  # type: ignore[no-untyped-def]
    del engine  # the migrated store has every table


def transfer(tid: str, payee: str = DROP, ts: str = "2026-11-02T10:15:00+03:00", **over: Any) -> dict[str, Any]:
    body = {"transfer_id": tid, "ts": ts, "payer": VICTIM_ACC, "payee": payee, "amount": 150_000,
            "currency": "BYN", "payer_bank": "NBRBBY2X", "payee_bank": "AKBBBY2X"}
    body.update(over)
    return body


def report(client, org, tids: list[str], text: str, party: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {"scheme": "vishing", "victim": {"party_id": party, "name": "Victim " + party}, "transfer_ids": tids,
            "text": text, "language": "ru"}
    r = client.post("/v1/incidents", json=body, headers=org.headers)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def linked(client, bank, other_bank, police) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Three reports: two share the caller's number, the third only the first drop. Each bank submits and
    disputes its own customers' transfers (tx-3 goes to Priorbank's customer)."""
    cash = transfer("tx-cash", payer=DROP, payee="CASH", ts="2026-11-02T10:40:00+03:00",
                    atm={"atm_id": "ATM-7", "lat": 53.9, "lon": 27.56, "city": "Minsk"}, payee_bank=None)
    for org, body in ((bank, transfer("tx-1")), (bank, transfer("tx-2")),
                      (other_bank, transfer("tx-3", payee=DROP2, payee_bank="PJCBBY2X")), (bank, cash)):
        r = client.post("/v1/transfers", json=body, headers=org.headers)
        assert r.status_code == 201, r.text
    a = report(client, bank, ["tx-1"], "Звонили с +375 (44) 765-43-21, сказали перевести.", "p-1")
    b = report(client, other_bank, ["tx-3"], "Звонил +375447654321, «служба безопасности».", "p-2")
    c = report(client, police, ["tx-2"], "Перевела на счёт, указанный мошенником.", "p-3")
    return {"a": a, "b": b, "c": c}


def test_intake_links_incidents_into_one_case(client, police, linked) -> None:  # type: ignore[no-untyped-def]
    case_id = linked["a"]["case"]["case_id"]
    assert linked["b"]["case"]["case_id"] == case_id == linked["c"]["case"]["case_id"]
    got = client.get(f"/v1/cases/{case_id}", headers=police.headers)
    assert got.status_code == 200
    body = got.json()
    assert sorted(body["incident_ids"]) == sorted(x["incident_id"] for x in linked.values())
    reasons = {h["reason"] for h in body["history"]}
    assert "phone:+375447654321" in reasons and f"account:{DROP}" in reasons
    listed = client.get("/v1/cases", headers=police.headers).json()["cases"]
    assert [c["case_id"] for c in listed] == [case_id]
    again = client.post("/v1/cases/link", json={"incident_id": linked["a"]["incident_id"]}, headers=police.headers)
    assert again.status_code == 200 and again.json()["case_id"] == case_id


def test_split_merge_confirm_and_their_errors(client, police, bank, linked) -> None:  # type: ignore[no-untyped-def]
    case_id = linked["a"]["case"]["case_id"]
    version = client.get(f"/v1/cases/{case_id}", headers=police.headers).json()["version"]
    c_id = linked["c"]["incident_id"]
    assert client.post("/v1/cases/case-999/split", json={"version": 1, "incident_ids": [c_id]},
                       headers=police.headers).status_code == 404
    stale = client.post(f"/v1/cases/{case_id}/split", json={"version": version - 1, "incident_ids": [c_id]},
                        headers=police.headers)
    assert stale.status_code == 409 and "version" in stale.json()["message"]
    assert client.post(f"/v1/cases/{case_id}/split", json={"version": version, "incident_ids": [c_id]},
                       headers=bank.headers).status_code == 403
    ok = client.post(f"/v1/cases/{case_id}/split", json={"version": version, "incident_ids": [c_id]},
                     headers=police.headers)
    assert ok.status_code == 200, ok.text
    new = ok.json()["new_case"]
    assert new["incident_ids"] == [c_id] and c_id not in ok.json()["case"]["incident_ids"]
    kept = ok.json()["case"]
    assert client.post(f"/v1/cases/{case_id}/merge", json={"version": kept["version"], "other_case_id": "case-77",
                                                           "other_version": 1},
                       headers=police.headers).status_code == 404
    merged = client.post(f"/v1/cases/{case_id}/merge", json={"version": kept["version"],
                                                             "other_case_id": new["case_id"],
                                                             "other_version": new["version"]},
                         headers=police.headers)
    assert merged.status_code == 200, merged.text
    assert len(merged.json()["case"]["incident_ids"]) == 3
    v = merged.json()["case"]["version"]
    assert client.post(f"/v1/cases/{case_id}/confirm", json={"version": v + 5}, headers=police.headers
                       ).status_code == 409
    done = client.post(f"/v1/cases/{case_id}/confirm", json={"version": v}, headers=police.headers)
    assert done.status_code == 200 and done.json()["status"] == "confirmed"
    bad = client.post(f"/v1/cases/{case_id}/split", json={"version": "x", "incident_ids": []}, headers=police.headers)
    assert bad.status_code == 422


def test_group_report_json_and_csv(client, police, linked) -> None:  # type: ignore[no-untyped-def]
    case_id = linked["a"]["case"]["case_id"]
    r = client.get(f"/v1/cases/{case_id}/report", headers=police.headers)
    assert r.status_code == 200
    rep = json.loads(r.text)
    assert rep["victims"]["total"] == 3 and rep["victims"]["by_country"] == {"BY": {"person": 3, "legal_entity": 0}}
    assert rep["money"]["stolen"] == {"BYN": 450_000} and rep["money"]["lost"] == {"BYN": 450_000}
    assert {a["account_id"] for a in rep["drop_network"]["accounts"]} == {DROP, DROP2}
    assert {(i["kind"], i["value"]) for i in rep["infrastructure"]} == {("phone", "+375447654321")}
    assert rep["cash_out_points"][0]["atm_id"] == "ATM-7" and rep["cash_out_points"][0]["city"] == "Minsk"
    assert rep["active"]["from"] < rep["active"]["to"]
    c = client.get(f"/v1/cases/{case_id}/report?format=csv", headers=police.headers)
    assert c.status_code == 200 and c.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert {r["section"] for r in rows} >= {"case", "money", "victim", "drop", "infrastructure", "cash_out"}
    assert client.get("/v1/cases/case-404/report", headers=police.headers).status_code == 404
    assert client.get(f"/v1/cases/{case_id}/report?format=xml", headers=police.headers).status_code == 422


def test_a_bank_sees_only_its_own_suspected_drops(client, engine, bank, other_bank, police) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 11, 2, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(suspected_drops), [
            {"account_id": DROP, "bank_id": "AKBBBY2X", "score": 0.9, "rank": 1, "reasons": "[]", "ranked_at": now},
            {"account_id": DROP2, "bank_id": "PJCBBY2X", "score": 0.8, "rank": 2, "reasons": "[]", "ranked_at": now},
        ])
    mine = client.get("/v1/signals/suspected-drops", headers=bank.headers)
    assert mine.status_code == 200
    assert [a["account_id"] for a in mine.json()["accounts"]] == [DROP]
    theirs = client.get("/v1/signals/suspected-drops", headers=other_bank.headers).json()["accounts"]
    assert [a["account_id"] for a in theirs] == [DROP2]
    assert len(client.get("/v1/signals/suspected-drops", headers=police.headers).json()["accounts"]) == 2
    assert client.get("/v1/signals/suspected-drops").status_code == 401


def test_refresh_publishes_ranked_drops_with_reasons(client, app, police, bank, linked) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/signals/suspected-drops/refresh?top_k=10", headers=police.headers)
    assert r.status_code == 200, r.text
    listed = client.get("/v1/signals/suspected-drops", headers=police.headers).json()["accounts"]
    assert len(listed) == r.json()["published"]
    for row in listed:
        assert row["reasons"] and row["account_id"] not in (DROP, DROP2)  # known drops are not news
    assert client.post("/v1/signals/suspected-drops/refresh", headers=bank.headers).status_code == 403


def test_cases_need_the_cases_scope(client, bank) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/v1/cases", headers=bank.headers).status_code == 403
    assert client.get("/v1/cases/case-1", headers=bank.headers).status_code == 403


def test_huge_paging_and_versions_are_422_not_500(client, police, linked) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/v1/cases?offset=9223372036854775808", headers=police.headers).status_code == 422
    case_id = linked["a"]["case"]["case_id"]
    r = client.post(f"/v1/cases/{case_id}/confirm", json={"version": 2**63}, headers=police.headers)
    assert r.status_code == 422


def test_published_suspected_drops_count_again_after_a_restart(app, engine) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient
    from sqlalchemy import insert

    from zaslon.adapters.db.tables_cases import suspected_drops
    from zaslon.adapters.http.app import create_app
    from zaslon.core.knowledge import AccountFlag

    with engine.begin() as conn:
        conn.execute(insert(suspected_drops), [
            {"account_id": DROP2, "bank_id": None, "score": 0.9, "rank": 1, "reasons": "[]",
             "ranked_at": datetime(2026, 3, 2, tzinfo=UTC)}])
    again = create_app(app_state(app).settings, db=engine)  # Knowledge lives in memory: a restart rebuilds it
    with TestClient(again):  # started and stopped: its Exchange is closed
        flags = app_state(again).exchange.knowledge.accounts
        assert {a for a, f in flags.items() if f & AccountFlag.SUSPECTED_DROP} == {DROP2}
