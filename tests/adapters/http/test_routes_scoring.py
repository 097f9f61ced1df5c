"""POST /v1/transfers/score (JSON and pacs.008), batch scoring, and the analysts' rule-set endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.db.tables_decisions import decisions
from zaslon.adapters.db.tables_rules import rule_sets
from zaslon.adapters.http.state import app_state
from zaslon.adapters.iso20022 import NS_002, build_pacs008
from zaslon.core.knowledge import AccountFlag
from zaslon.core.types import Transfer

TS = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# The payer is a customer of the submitting bank (``bank``: Belarusbank, AKBBBY2X): a bank scores only its own.
PAYER, PAYEE = "BY86AKBB10100000002966000000", "DE89370400440532013000"


@pytest.fixture(autouse=True)
def _tables(engine: Engine) -> None:
    del engine  # the migrated store has every table


def tx(i: int = 1, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transfer_id": f"T-{i}", "ts": (TS + timedelta(minutes=i)).isoformat(), "payer": PAYER,
        "payee": PAYEE, "amount": 15000, "currency": "BYN",
    }
    body.update(over)
    return body


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_single_json_transfer_gets_a_decision_that_is_stored(client, bank, engine) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/transfers/score", json=tx(), headers=bank.headers)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["transfer_id"] == "T-1" and d["outcome"] in ("allow", "review", "hold", "block")
    assert 0.0 <= d["score"] <= 1.0
    assert d["ruleset_version"] == "default-2"  # the packaged default until an analyst activates one
    assert count(engine, decisions) == 1 and count(engine, transfers) == 1
    again = client.post("/v1/transfers/score", json=tx(), headers=bank.headers)  # idempotent replay
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["outcome"] == d["outcome"]
    assert count(engine, decisions) == 1
    changed = client.post("/v1/transfers/score", json=tx(amount=99), headers=bank.headers)
    assert changed.status_code == 409


def test_reported_payee_is_held_with_reason_and_hold_until(client, app, bank) -> None:  # type: ignore[no-untyped-def]
    app_state(app).exchange.knowledge.flag(PAYEE, AccountFlag.REPORTED)
    d = client.post("/v1/transfers/score", json=tx(), headers=bank.headers).json()
    assert d["outcome"] == "hold"
    assert d["hold_until"] is not None
    assert datetime.fromisoformat(d["hold_until"]) == TS + timedelta(minutes=1, days=2)
    assert "rule:payee-reported" in [x["code"] for x in d["reasons"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (tx(surprise=1), "surprise"),
        (tx(currency="XYZ"), "currency"),
        (tx(amount=-5), "amount"),
        (tx(amount=1.5), "amount"),
        (tx(ts="2026-03-02T09:00:00"), "ts"),
        (tx(on_flagged_call="maybe"), "on_flagged_call"),
        ({k: v for k, v in tx().items() if k != "payee"}, "payee"),
    ],
)
def test_bad_json_gets_a_precise_422_and_nothing_is_stored(client, bank, engine, body, field) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/transfers/score", json=body, headers=bank.headers)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert count(engine, decisions) == 0 and count(engine, transfers) == 0


def test_not_json_and_wrong_content_type(client, bank) -> None:  # type: ignore[no-untyped-def]
    json_type = {**bank.headers, "content-type": "application/json"}
    r = client.post("/v1/transfers/score", content=b"{nope", headers=json_type)
    assert r.status_code == 422 and r.json()["field"] == "body"
    r = client.post("/v1/transfers/score", content=b"a=b", headers={**bank.headers, "content-type": "text/plain"})
    assert r.status_code == 422 and r.json()["field"] == "content-type"


def test_auth_and_scope(client, police) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/v1/transfers/score", json=tx()).status_code == 401
    assert client.post("/v1/transfers/score", json=tx(), headers=police.headers).status_code == 403


def test_batch_is_all_or_nothing(client, bank, engine) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/transfers/score/batch", json=[tx(1), tx(2), tx(3)], headers=bank.headers)
    assert r.status_code == 200, r.text
    assert [d["transfer_id"] for d in r.json()] == ["T-1", "T-2", "T-3"]
    assert count(engine, decisions) == 3
    bad = client.post("/v1/transfers/score/batch", json=[tx(4), tx(5, amount=-1)], headers=bank.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "1.amount"
    dup = client.post("/v1/transfers/score/batch", json=[tx(6), tx(6)], headers=bank.headers)
    assert dup.status_code == 422 and "duplicate" in dup.json()["message"]
    conflict = client.post("/v1/transfers/score/batch", json=[tx(7), tx(1, amount=1)], headers=bank.headers)
    assert conflict.status_code == 409
    assert client.post("/v1/transfers/score/batch", json=[], headers=bank.headers).status_code == 422
    assert client.post("/v1/transfers/score/batch", json=tx(8), headers=bank.headers).status_code == 422
    assert count(engine, decisions) == 3 and count(engine, transfers) == 3  # nothing of the bad batches


def _pacs(n: int = 2, msg_id: str = "MSG-1") -> bytes:
    ts = [Transfer(f"X-{i}", TS + timedelta(seconds=i), PAYER, PAYEE, 10000 + i, "BYN",
                   payer_bank="AKBBBY2X", payee_bank="DEUTDEFF") for i in range(n)]
    return build_pacs008(ts, msg_id=msg_id, created_at=TS)


def test_pacs008_in_pacs002_out(client, bank, engine) -> None:  # type: ignore[no-untyped-def]
    headers = {**bank.headers, "content-type": "application/xml", "accept": "application/xml"}
    r = client.post("/v1/transfers/score", content=_pacs(), headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    doc = SafeET.fromstring(r.content)
    n = {"p": NS_002}
    assert doc.tag == f"{{{NS_002}}}Document"
    assert doc.findtext("p:FIToFIPmtStsRpt/p:OrgnlGrpInfAndSts/p:OrgnlMsgId", namespaces=n) == "MSG-1"
    sts = [e.text for e in doc.findall("p:FIToFIPmtStsRpt/p:TxInfAndSts/p:TxSts", n)]
    assert len(sts) == 2 and set(sts) <= {"ACCP", "PDNG", "RJCT"}
    assert count(engine, decisions) == 2
    with engine.connect() as conn:
        assert {r.source for r in conn.execute(select(decisions.c.source, decisions.c.message_id))} == {"pacs008"}
    as_json = client.post("/v1/transfers/score", content=_pacs(1, "MSG-2").replace(b"X-0", b"Y-0"),
                          headers={**bank.headers, "content-type": "application/xml"})
    assert as_json.status_code == 200 and as_json.json()[0]["transfer_id"] == "Y-0"


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (b"<Document", 400, "xml"),
        (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><d>&b;</d>', 400, "xml"),
        (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>', 400, "xml"),
        (_pacs().replace(b'Ccy="BYN"', b'Ccy="XYZ"'), 422, None),
        (_pacs().replace(b"<NbOfTxs>2<", b"<NbOfTxs>3<"), 422, "GrpHdr.NbOfTxs"),
        (_pacs().replace(b"X-1", b"X-0"), 422, "CdtTrfTxInf[1].PmtId"),
        (_pacs().replace(b"Z</AccptncDtTm>", b"</AccptncDtTm>"), 422, "CdtTrfTxInf[0].AccptncDtTm"),
    ],
)
def test_bad_xml_is_refused_and_nothing_is_stored(client, bank, engine, payload, status, field) -> None:  # type: ignore[no-untyped-def]
    headers = {**bank.headers, "content-type": "application/xml", "accept": "application/xml"}
    r = client.post("/v1/transfers/score", content=payload, headers=headers)
    assert r.status_code == status, r.text
    if field is not None:
        assert r.json()["field"] == field
    assert count(engine, decisions) == 0 and count(engine, transfers) == 0


RULES = [{"rule_id": "big", "expression": "amount_rel_log > 100", "action": "block", "reason": "never fires"}]
HOLD_ALL = [{"rule_id": "all", "expression": "true", "action": "hold", "reason": "cooling-off for everyone"}]


def test_rule_set_lifecycle_and_hot_swap(client, police, bank) -> None:  # type: ignore[no-untyped-def]
    h = police.headers
    r = client.post("/v1/rules", json={"version": "v-hold", "description": "test", "rules": HOLD_ALL}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"
    # a draft can change, cannot go live
    assert client.put("/v1/rules/v-hold", json={"rules": HOLD_ALL + RULES}, headers=h).status_code == 200
    assert client.post("/v1/rules/v-hold/activate", headers=h).status_code == 409
    assert client.post("/v1/rules/v-hold/publish", headers=h).status_code == 200
    assert client.put("/v1/rules/v-hold", json={"rules": RULES}, headers=h).status_code == 409  # immutable
    assert client.post("/v1/rules/v-hold/publish", headers=h).status_code == 409
    before = client.post("/v1/transfers/score", json=tx(1), headers=bank.headers).json()
    assert before["ruleset_version"] == "default-2"
    act = client.post("/v1/rules/v-hold/activate", headers=h)
    assert act.status_code == 200 and act.json()["running"] == "v-hold"  # no restart
    after = client.post("/v1/transfers/score", json=tx(2), headers=bank.headers).json()
    assert after["ruleset_version"] == "v-hold" and after["outcome"] == "hold"
    listing = client.get("/v1/rules", headers=h).json()
    assert listing["live"] == "v-hold" and [v["version"] for v in listing["versions"]] == ["v-hold"]
    assert client.get("/v1/rules/v-hold", headers=h).json()["rules"][1]["rule_id"] == "big"
    assert client.get("/v1/rules/nope", headers=h).status_code == 404


def test_shadow_is_recorded_but_never_decides(client, police, bank, engine) -> None:  # type: ignore[no-untyped-def]
    h = police.headers
    for version, rules in (("live-1", RULES), ("shadow-1", HOLD_ALL)):
        assert client.post("/v1/rules", json={"version": version, "rules": rules}, headers=h).status_code == 201
        assert client.post(f"/v1/rules/{version}/publish", headers=h).status_code == 200
    assert client.post("/v1/rules/live-1/activate", headers=h).status_code == 200
    assert client.post("/v1/rules/live-1/shadow", headers=h).status_code == 409  # live cannot shadow itself
    assert client.post("/v1/rules/shadow-1/shadow", headers=h).json()["shadow"] == "shadow-1"
    d = client.post("/v1/transfers/score", json=tx(1), headers=bank.headers).json()
    assert d["outcome"] == "allow" and d["ruleset_version"] == "live-1"
    assert d["shadow"] == {"version": "shadow-1", "outcome": "hold", "hits": ["all"]}
    with engine.connect() as conn:
        row = conn.execute(select(decisions.c.shadow_version, decisions.c.shadow_outcome)).one()
    assert tuple(row) == ("shadow-1", "hold")
    assert client.delete("/v1/rules-shadow", headers=h).json()["shadow"] is None
    assert client.post("/v1/transfers/score", json=tx(2), headers=bank.headers).json()["shadow"] is None


@pytest.mark.parametrize(
    ("rules", "fragment"),
    [
        ([{"rule_id": "x", "expression": "amount_rel_log >", "action": "hold", "reason": "r"}], "position 16"),
        ([{"rule_id": "x", "expression": "amount > 3", "action": "hold", "reason": "r"}], "unknown feature 'amount'"),
        ([{"rule_id": "x", "expression": "true", "action": "freeze", "reason": "r"}], "action"),
    ],
)
def test_bad_rules_get_422_and_nothing_stored(client, police, engine, rules, fragment) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/rules", json={"rules": rules}, headers=police.headers)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["message"]
    assert client.post("/v1/rules/validate", json={"rules": rules}, headers=police.headers).status_code == 422
    assert count(engine, rule_sets) == 0


def test_rules_need_the_police_scope(client, bank) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/v1/rules", headers=bank.headers).status_code == 403
    assert client.post("/v1/rules", json={"rules": RULES}, headers=bank.headers).status_code == 403
    extra = client.post("/v1/rules/validate", json={"rules": RULES, "x": 1}, headers=bank.headers)
    assert extra.status_code == 403
