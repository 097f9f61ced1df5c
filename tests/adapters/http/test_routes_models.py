"""/v1/model: train a version, list, promote, roll back (scope rules:write); an unknown or malformed version
is refused precisely and changes nothing; a promoted model decides at once and pacs.002 names it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import defusedxml.ElementTree as SafeET
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_models import model_events, model_slots
from zaslon.adapters.http.state import app_state
from zaslon.adapters.iso20022 import NS_002, build_pacs008
from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.core.types import Channel, Scheme, Transfer
from zaslon.flow.intake import IncidentReport, Victim
from zaslon.flow.orgs import Principal

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _populate(app, bank) -> None:  # type: ignore[no-untyped-def]
    x = app_state(app).exchange
    batch = [Transfer(f"t{i}", T0 + timedelta(minutes=i), f"BY10AKBBPAY{i % 37:05d}",
                      f"BY20AKBBDROP{i % 3:04d}" if i % 40 == 3 else f"BY30AKBBSHOP{i % 53:04d}",
                      800_000 if i % 40 == 3 else 1_000 + 37 * (i % 91), "BYN", Channel.CARD,
                      payer_bank="AKBBBY2X", payee_bank="AKBBBY2X") for i in range(400)]
    x.score(bank.org_id, batch)
    me = Principal(bank.org_id, OrgKind.BANK, DEFAULT_SCOPES[OrgKind.BANK], "AKBBBY2X")
    for j, t in enumerate(t for t in batch if t.transfer_id.endswith("3") and int(t.transfer_id[1:]) % 40 == 3):
        x.report_incident(me, IncidentReport(bank.org_id, "bank", Scheme.VISHING, T0 + timedelta(days=1, minutes=j),
                                             Victim(party_id=f"p{j}"), (t.transfer_id,), "", external_ref=f"r{j}"),
                          now=T0 + timedelta(days=1, minutes=j))


def _changes(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (int(conn.execute(select(func.count()).select_from(model_events)).scalar_one()),
                int(conn.execute(select(func.count()).select_from(model_slots)).scalar_one()))


def test_model_versions_over_http(client, app, police, bank, engine) -> None:  # type: ignore[no-untyped-def]
    _populate(app, bank)
    cutoff = (T0 + timedelta(days=2)).isoformat()
    assert client.post("/v1/model/train", json={"cutoff": cutoff}, headers=bank.headers).status_code == 403
    r = client.post("/v1/model/train", json={"cutoff": cutoff}, headers=police.headers)
    assert r.status_code == 200, r.text
    trained = r.json()
    assert trained["trained"] is True and trained["live"] is False and trained["metrics"]["positives"] == 10
    version = trained["model_version"]
    listed = client.get("/v1/model", headers=police.headers).json()
    assert listed["live"] is None and listed["running"] is None
    assert [(v["model_id"], v["live"]) for v in listed["versions"]] == [(version, False)]

    before = _changes(engine)
    missing = client.post("/v1/model/0123456789abcdef/promote", headers=police.headers)
    assert missing.status_code == 404 and "0123456789abcdef" in missing.text
    assert client.post("/v1/model/bad%20version!/promote", headers=police.headers).status_code == 422
    assert client.post(f"/v1/model/{version}/promote", headers=bank.headers).status_code == 403
    assert client.post("/v1/model/rollback", headers=police.headers).status_code == 409  # nothing live
    assert _changes(engine) == before  # none of the refused requests changed anything

    promoted = client.post(f"/v1/model/{version}/promote", headers=police.headers)
    assert promoted.status_code == 200 and promoted.json() == {"live": version, "generation": 1, "running": version}
    assert client.post(f"/v1/model/{version}/promote", headers=police.headers).status_code == 409
    assert client.get(f"/v1/model/versions/{version}", headers=police.headers).json()["live"] is True

    pacs = build_pacs008([Transfer("X-1", T0 + timedelta(days=3), "BY10AKBBPAY00001", "BY30AKBBSHOP0001", 1_500,
                                   "BYN", payer_bank="AKBBBY2X", payee_bank="AKBBBY2X")],
                         msg_id="M-1", created_at=T0 + timedelta(days=3))
    xml = client.post("/v1/transfers/score", content=pacs,
                      headers={**bank.headers, "content-type": "application/xml", "accept": "application/xml"})
    assert xml.status_code == 200, xml.text
    info = [e.text for e in SafeET.fromstring(xml.content).iter(f"{{{NS_002}}}AddtlInf")]
    assert f"model={version}" in info

    assert client.post("/v1/model/rollback", headers=police.headers).status_code == 409  # the first promoted
    assert client.get("/v1/model", headers=police.headers).json()["live"] == version


def test_the_drift_check_over_http(client, app, police, bank) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/v1/model/drift", headers=bank.headers).status_code == 403
    empty = client.get("/v1/model/drift", headers=police.headers).json()
    assert empty == {"running": None, "check": None, "last_scheduled": None}  # nothing live to drift from
    _populate(app, bank)
    cutoff = (T0 + timedelta(days=2)).isoformat()
    version = client.post("/v1/model/train", json={"cutoff": cutoff, "promote": True},
                          headers=police.headers).json()["model_version"]
    got = client.get("/v1/model/drift", headers=police.headers).json()
    assert got["running"] == version and got["check"]["model_version"] == version
    assert set(got["check"]) >= {"new_reports", "missed_share", "psi", "reason", "cutoff", "at"}
