"""Isolation of organisations over HTTP, on both databases: transfer ids per submitting bank, a bank submits and
disputes only its own customers' transfers, another organisation's resources answer 404; and the authorisation
matrix of every route x organisation kind x own or other organisation, as docs/api.md documents it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.db.tables_decisions import decisions
from zaslon.adapters.db.tables_incidents import incidents
from zaslon.adapters.db.tables_orders import freeze_orders
from zaslon.adapters.http.state import app_state
from zaslon.core.knowledge import AccountFlag

# Belarusian IBANs carry the bank's code (the BIC's first four letters): AKBB is Belarusbank, PJCB Priorbank.
A1, A2 = "BY86AKBB10100000002966000000", "BY20AKBB31350000001000000933"  # Belarusbank's customers
B1, B2, B3 = "BY04PJCB30120000000000000000", "BY20PJCB30120000000000000933", "BY09PJCB30120000000000000111"
N1 = "BY13NBRB3600900000002Z00AB00"  # a customer of a third bank (the National Bank)
LISTED_PHONE = "+375297776655"  # on the block list: the police confirmed it
DOCS = Path(__file__).resolve().parents[3] / "docs" / "api.md"


BICS = {"AKBB": "AKBBBY2X", "PJCB": "PJCBBY2X", "NBRB": "NBRBBY2X"}


def tx(tid: str, payer: str, payee: str, minute: int = 0, **over: Any) -> dict[str, Any]:
    """A transfer naming each side's bank as a bank does (the trace addresses freeze orders to them)."""
    body: dict[str, Any] = {"transfer_id": tid, "ts": f"2026-03-02T10:{minute:02d}:00Z", "payer": payer,
                            "payee": payee, "amount": 100_000, "currency": "BYN"}
    for side in ("payer", "payee"):
        if body[side][4:8] in BICS:
            body[f"{side}_bank"] = BICS[body[side][4:8]]
    body.update(over)
    return body


def count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def orgs(make_org, bank, other_bank, police):  # type: ignore[no-untyped-def]
    return {"bank": bank, "other_bank": other_bank, "police": police,
            "telecom": make_org("telecom", "A1 telecom"), "partner": make_org("partner", "Partner FIU")}


# ---- transfer ids are each bank's own -------------------------------------------------------------------


def test_two_banks_use_the_same_id_for_their_own_transfers(client: TestClient, engine, orgs) -> None:  # type: ignore[no-untyped-def]
    a, b, police = orgs["bank"], orgs["other_bank"], orgs["police"]
    # Scored, stored, and read back: each bank its own "tx-1"; neither is a 409 for the other.
    ra = client.post("/v1/transfers/score", json=tx("tx-1", A1, N1), headers=a.headers)
    rb = client.post("/v1/transfers/score", json=tx("tx-1", B1, N1, amount=7_000), headers=b.headers)
    assert ra.status_code == rb.status_code == 200 and not rb.json()["replayed"]
    assert client.post("/v1/transfers/score/batch", json=[tx("tx-2", A1, N1)], headers=a.headers).status_code == 200
    assert client.post("/v1/transfers/score/batch", json=[tx("tx-2", B1, N1)], headers=b.headers).status_code == 200
    assert client.post("/v1/transfers", json=tx("tx-3", A1, N1), headers=a.headers).status_code == 201
    assert client.post("/v1/transfers", json=tx("tx-3", B1, N1), headers=b.headers).status_code == 201
    assert count(engine, transfers) == 6 and count(engine, decisions) == 4
    assert client.get("/v1/transfers/tx-1", headers=a.headers).json()["amount"] == 100_000
    assert client.get("/v1/transfers/tx-1", headers=b.headers).json()["amount"] == 7_000
    # A replay is still a replay, and another body under one's own id still a 409.
    again = client.post("/v1/transfers/score", json=tx("tx-1", B1, N1, amount=7_000), headers=b.headers)
    assert again.status_code == 200 and again.json()["replayed"]
    assert client.post("/v1/transfers/score", json=tx("tx-1", B1, N1, amount=8_000),
                       headers=b.headers).status_code == 409
    # The police name the submitter where two used the same id.
    both = client.get("/v1/transfers/tx-1", headers=police.headers)
    assert both.status_code == 422 and both.json()["field"] == "org_id"
    one = client.get("/v1/transfers/tx-1", params={"org_id": b.org_id}, headers=police.headers)
    assert one.status_code == 200 and one.json()["amount"] == 7_000 and one.json()["org_id"] == b.org_id
    # A bank naming another submitter gets nothing, exactly as for a missing id.
    assert client.get("/v1/transfers/tx-1", params={"org_id": b.org_id}, headers=a.headers).status_code == 404


def test_a_transfer_between_two_other_banks_customers_is_refused_and_nothing_stored(  # type: ignore[no-untyped-def]
    client: TestClient, engine, orgs, make_org
) -> None:
    a = orgs["bank"]
    theirs = tx("tx-x", B1, N1)  # Priorbank's customer pays the National Bank's: not Belarusbank's to send
    for path in ("/v1/transfers/score", "/v1/transfers"):
        r = client.post(path, json=theirs, headers=a.headers)
        assert r.status_code == 422 and r.json()["field"] == "payer", r.text
        assert "AKBBBY2X" in r.json()["message"]
    batch = client.post("/v1/transfers/score/batch", json=[tx("tx-ok", A1, N1), theirs], headers=a.headers)
    assert batch.status_code == 422 and batch.json()["field"] == "1.payer"
    stored = client.post("/v1/transfers", json=[tx("tx-ok", A1, N1), theirs], headers=a.headers)
    assert stored.status_code == 422 and stored.json()["field"] == "1.payer"
    # Declaring one's own BIC for the other side does not help: the IBAN's bank code says whose account it is.
    lied = client.post("/v1/transfers/score", json={**theirs, "payer_bank": "AKBBBY2X"}, headers=a.headers)
    assert lied.status_code == 422
    # An account that is no IBAN is judged by the bank the transfer names for it.
    ru = tx("tx-ru", "40817810000000522654", N1, payer_bank="AKBBBY2X")
    assert client.post("/v1/transfers/score", json=ru, headers=a.headers).status_code == 200
    assert client.post("/v1/transfers/score", json={**ru, "transfer_id": "tx-ru2", "payer_bank": "PJCBBY2X"},
                       headers=a.headers).status_code == 422
    # The payee's bank may send a payment its customer receives (money from abroad, say).
    incoming = tx("tx-in", "DE89370400440532013000", A2, payer_bank="COBADEFF")
    assert client.post("/v1/transfers", json=incoming, headers=a.headers).status_code == 201
    # A bank without a BIC submits nothing.
    nobic = make_org("bank", "Bank without BIC")
    assert client.post("/v1/transfers/score", json=tx("tx-n", A1, N1), headers=nobic.headers).status_code == 403
    assert count(engine, transfers) == 2 and count(engine, decisions) == 1  # tx-ru scored, tx-in stored


# ---- disputes ---------------------------------------------------------------------------------------------


def test_a_bank_disputes_only_transfers_it_is_a_party_to(client: TestClient, engine, orgs, make_org) -> None:  # type: ignore[no-untyped-def]
    a, b, police = orgs["bank"], orgs["other_bank"], orgs["police"]
    assert client.post("/v1/transfers", json=tx("tx-b", B1, B2), headers=b.headers).status_code == 201
    assert client.post("/v1/transfers", json=tx("tx-ba", B1, A1, 5), headers=b.headers).status_code == 201
    dispute = {"scheme": "vishing", "transfer_ids": ["tx-b"], "reported_at": "2026-03-02T11:00:00Z"}
    # Priorbank's internal payment is not Belarusbank's to dispute: refused as an unknown id, nothing set in motion.
    r = client.post("/v1/incidents", json=dispute, headers=a.headers)
    assert r.status_code == 422 and r.json()["field"] == "transfer_ids"
    unknown = client.post("/v1/incidents", json={**dispute, "transfer_ids": ["tx-none"]}, headers=a.headers)
    assert unknown.status_code == 422 and unknown.json()["message"].replace("tx-none", "tx-b") == r.json()["message"]
    assert count(engine, incidents) == 0 and count(engine, freeze_orders) == 0
    assert not app_state(client.app).exchange.knowledge.flags(B2)  # type: ignore[attr-defined]
    # Belarusbank is the payee's bank of tx-ba (submitted by Priorbank, under Priorbank's id): it may dispute it.
    ok = client.post("/v1/incidents", json={**dispute, "transfer_ids": ["tx-ba"]}, headers=a.headers)
    assert ok.status_code == 201, ok.text
    # The police dispute any transfer; where two banks used the same id they name the submitter.
    assert client.post("/v1/transfers", json=tx("tx-b", A1, N1, 9), headers=a.headers).status_code == 201
    twice = client.post("/v1/incidents", json={**dispute, "scheme": "phishing"}, headers=police.headers)
    assert twice.status_code == 422 and "<org_id>/<transfer_id>" in twice.json()["message"]
    named = client.post("/v1/incidents", json={**dispute, "scheme": "phishing",
                                               "transfer_ids": [f"{b.org_id}/tx-b"]}, headers=police.headers)
    assert named.status_code == 201, named.text
    # A telecom names no transfers.
    telecom = orgs["telecom"]
    assert client.post("/v1/incidents", json={**dispute, "transfer_ids": ["tx-ba"]},
                       headers=telecom.headers).status_code == 422
    assert count(engine, incidents) == 2


def test_disputes_of_two_banks_same_ids_are_two_incidents(client: TestClient, engine, orgs) -> None:  # type: ignore[no-untyped-def]
    a, b = orgs["bank"], orgs["other_bank"]
    assert client.post("/v1/transfers", json=tx("tx-1", A1, N1), headers=a.headers).status_code == 201
    assert client.post("/v1/transfers", json=tx("tx-1", B1, B3), headers=b.headers).status_code == 201
    body = {"scheme": "vishing", "transfer_ids": ["tx-1"], "victim": {"party_id": "p-1"},
            "reported_at": "2026-03-02T11:00:00Z"}
    ra = client.post("/v1/incidents", json=body, headers=a.headers)
    rb = client.post("/v1/incidents", json=body, headers=b.headers)
    assert ra.status_code == rb.status_code == 201  # the same victim key and id, but two banks' transfers
    assert ra.json()["incident_id"] != rb.json()["incident_id"]
    assert ra.json()["trace"]["traced"] == rb.json()["trace"]["traced"] == 100_000


# ---- the authorisation matrix ----------------------------------------------------------------------------

KINDS = ("bank", "police", "telecom", "partner")


class World:
    """Two banks' transfers, incidents, orders and appeals, and the desk's cases and rules: what the matrix reads."""

    def __init__(self, client: TestClient, orgs: dict[str, Any]) -> None:
        self.c, self.o = client, orgs
        a, b, police, telecom = orgs["bank"], orgs["other_bank"], orgs["police"], orgs["telecom"]
        post = self.ok
        post(a, "/v1/transfers", tx("tx-a", A1, B3, 0))  # Belarusbank's customer pays Priorbank's
        post(b, "/v1/transfers", tx("tx-b", B1, A2, 1))  # Priorbank's customer pays Belarusbank's
        post(b, "/v1/transfers", tx("tx-c", B1, B2, 2))  # within Priorbank
        post(b, "/v1/transfers", tx("tx-d", B2, A1, 3))  # Priorbank's customer pays another of Belarusbank's
        text = "Звонили с +375 (44) 765-43-21."
        inc = {"scheme": "vishing", "reported_at": "2026-03-02T11:00:00Z", "text": text}
        self.inc_a = post(a, "/v1/incidents", {**inc, "transfer_ids": ["tx-a"]})  # order to Priorbank
        self.inc_b = post(b, "/v1/incidents", {**inc, "transfer_ids": ["tx-b"]})  # order to Belarusbank
        self.inc_c = post(b, "/v1/incidents", {**inc, "transfer_ids": ["tx-c"]})  # Priorbank's alone
        self.inc_d = post(b, "/v1/incidents", {**inc, "transfer_ids": ["tx-d"]})  # another order to Belarusbank
        self.inc_t = post(telecom, "/v1/incidents", {**inc, "text": "Номер +375447654321 звонит пенсионерам."})
        self.inc_p = post(police, "/v1/incidents", {**inc, "text": "Кошелёк TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t."})
        assert self.inc_b["orders"], (self.inc_a, self.inc_b)
        [self.order_a] = self.inc_b["orders"]  # addressed to Belarusbank
        [self.order_a2] = self.inc_d["orders"]  # addressed to Belarusbank, to be released
        [self.order_b] = self.inc_a["orders"]  # addressed to Priorbank
        self.case = self.inc_a["case"]["case_id"]
        knowledge = app_state(client.app).exchange.knowledge  # type: ignore[attr-defined]
        self.listed = [f"BY{n:02d}AKBB3014000000000000{n:04d}" for n in range(10, 40)]
        for acc in self.listed:
            knowledge.flag(acc, AccountFlag.REPORTED)
        self.appeal = {k: post(orgs[k], "/v1/appeals", self.appeal_body())["appeal_id"]
                       for k in ("bank", "other_bank", "police", "telecom", "partner")}
        # The operator serves +37529...; the police confirmed a number, so it is on the block list to appeal.
        app_state(client.app).exchange.telecom.set_ranges(telecom.org_id, ["+37529"])  # type: ignore[attr-defined]
        post(police, "/v1/telecom/block-list/confirmations", {"numbers": [LISTED_PHONE]})
        self.number_appeal = {k: post(orgs[k], "/v1/telecom/block-list/appeals", self.number_appeal_body())[
            "appeal_id"] for k in ("bank", "other_bank", "police", "telecom", "partner")}
        self.rules = 0
        self.n = 0

    def ok(self, org: Any, path: str, body: Any) -> Any:
        r = self.c.post(path, json=body, headers=org.headers)
        assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text}"
        return r.json()

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"

    @staticmethod
    def number_appeal_body() -> dict[str, Any]:
        return {"phone": LISTED_PHONE, "reason": "my grandmother's number", "contact": "+375291112233"}

    def appeal_body(self) -> dict[str, Any]:
        return {"account_id": self.listed.pop(), "reason": "my pension arrives here", "contact": "+375291112233"}

    def version(self, case: str) -> int:
        return int(self.c.get(f"/v1/cases/{case}", headers=self.o["police"].headers).json()["version"])

    def draft(self) -> str:
        self.rules += 1
        rule = {"rule_id": "big", "expression": "amount_rel_log > 100", "action": "review", "reason": "big"}
        return str(self.ok(self.o["police"], "/v1/rules", {"version": f"m-{self.rules}", "rules": [rule]})["version"])

    def published(self) -> str:
        version = self.draft()
        self.ok(self.o["police"], f"/v1/rules/{version}/publish", None)
        return version

    def held(self, own: bool) -> str:
        """A transfer held for the customer's trusted person: Belarusbank's (own) or Priorbank's (other)."""
        if not hasattr(self, "_held"):
            self._held = {}
            for key, org, acc in (("own", self.o["bank"], PA), ("other", self.o["other_bank"], PB)):
                r = self.c.put(f"/v1/customers/{acc}/protection", json=protection_body(), headers=org.headers)
                assert r.status_code == 200, r.text
                tid = f"tp-{key}"
                d = self.ok(org, "/v1/transfers/score", tx(tid, acc, PN, 30))
                assert d["reasons"][0]["code"] == "awaiting_trusted_person", d
                self._held[key] = tid
        return str(self._held["own" if own else "other"])


# Protected customers (trusted person): accounts no other row uses, paying a payee nobody else pays.
PA, PB, PN = "BY11AKBB30140000000000009001", "BY11PJCB30140000000000009002", "BY13NBRB3600900000002Z00AB99"


def protection_body() -> dict[str, Any]:
    return {"consent_at": "2026-03-01T09:00:00Z", "age_band": "under_65", "phones": ["+375291110000"],
            "trusted_person": {"name": "Olga", "phone": "+375297770000"}, "confirm": {"new_payee": True}}


def _trusted(w: World, kind: str, own: bool) -> str:
    """The held transfer the requester asks about; the police name its submitter."""
    tid = w.held(own)
    if kind == "police":
        return f"/v1/transfers/{tid}/trusted-person?org_id={w.o['bank' if own else 'other_bank'].org_id}"
    return f"/v1/transfers/{tid}/trusted-person"


Req = Callable[[World, str, bool], tuple[str, str, Any]]  # (world, kind, own) -> method, path, JSON body
OWN_CUSTOMER = {"bank": A1}


def _mine(w: World, kind: str, own: bool) -> str:
    """A payer the requester may submit for (its own customer) or may not (another bank's)."""
    return A1 if own and kind == "bank" else B1


def _order(w: World, kind: str, own: bool) -> str:
    """Belarusbank's order (returned in full by the time pacs.004 is read), else Priorbank's (returned nothing)."""
    return w.order_a if own else w.order_b


def _incident(w: World, kind: str, own: bool) -> str:
    if not own:
        return str(w.inc_c["incident_id"])
    return str({"bank": w.inc_a, "telecom": w.inc_t, "police": w.inc_p}.get(kind, w.inc_c)["incident_id"])


def _appeal(w: World, kind: str, own: bool) -> str:
    return w.appeal[kind] if own else w.appeal["other_bank"]


def _dispute(w: World, kind: str, own: bool) -> dict[str, Any]:
    if kind == "telecom" and own:
        return {"scheme": "vishing", "text": f"Звонят с +37544{w.n:07d}.", "external_ref": w.fresh("t")}
    return {"scheme": "phishing", "transfer_ids": ["tx-a" if own else "tx-c"], "external_ref": w.fresh("r"),
            "victim": {"party_id": w.fresh("p")}}


def _split(w: World) -> dict[str, Any]:
    return {"version": w.version(w.case), "incident_ids": [w.inc_c["incident_id"]]}


def _merge(w: World) -> dict[str, Any]:
    other = next(c["case_id"] for c in w.c.get("/v1/cases", headers=w.o["police"].headers).json()["cases"]
                 if c["case_id"] != w.case and c["status"] == "open")
    return {"version": w.version(w.case), "other_case_id": other, "other_version": w.version(other)}


# Each route: how to call it, and the documented answer per kind for its own organisation's resource and for
# another organisation's ("own" of a desk-wide resource, or of a kind that holds none, is the same call).
# The order is the order the calls are made in: state-changing ones last within a route, in lifecycle order.
NO_OBJECT = "indicator--00000000-0000-4000-8000-000000000000"
Answer = int | tuple[int, int]  # one answer (one call: the resource is no organisation's own), or (own, other)
MATRIX: list[tuple[str, Req, dict[str, Answer]]] = [
    ("GET /healthz", lambda w, k, own: ("GET", "/healthz", None),
     {"bank": 200, "police": 200, "telecom": 200, "partner": 200}),
    ("POST /v1/transfers", lambda w, k, own: ("POST", "/v1/transfers", tx(w.fresh("s"), _mine(w, k, own), N1)),
     {"bank": (201, 422), "police": (403, 403), "telecom": (403, 403), "partner": (403, 403)}),
    ("GET /v1/transfers/{transfer_id}",
     lambda w, k, own: ("GET", "/v1/transfers/" + ("tx-a" if own and k == "bank" else "tx-c"), None),
     {"bank": (200, 404), "police": (200, 200), "telecom": (403, 403), "partner": (403, 403)}),
    ("POST /v1/transfers/score",
     lambda w, k, own: ("POST", "/v1/transfers/score", tx(w.fresh("d"), _mine(w, k, own), N1)),
     {"bank": (200, 422), "police": (403, 403), "telecom": (403, 403), "partner": (403, 403)}),
    ("POST /v1/transfers/score/batch",
     lambda w, k, own: ("POST", "/v1/transfers/score/batch", [tx(w.fresh("d"), _mine(w, k, own), N1)]),
     {"bank": (200, 422), "police": (403, 403), "telecom": (403, 403), "partner": (403, 403)}),
    ("PUT /v1/customers", lambda w, k, own: ("PUT", "/v1/customers", {"customers": [
        {"account_id": A2 if own and k == "bank" else B2, "kind": "personal"}]}),
     {"bank": (200, 422), "police": (403, 403), "telecom": (403, 403), "partner": (403, 403)}),
    ("PUT /v1/customers/{account}/protection",
     lambda w, k, own: ("PUT", f"/v1/customers/{PA if own and k == 'bank' else PB}/protection", protection_body()),
     {"bank": (200, 404), "police": (403, 403), "telecom": (403, 403), "partner": (403, 403)}),
    ("GET /v1/customers/{account}/protection",
     lambda w, k, own: ("GET", f"/v1/customers/{PA if own and k == 'bank' else PB}/protection", None),
     {"bank": (200, 404), "police": (403, 403), "telecom": (403, 403), "partner": (403, 403)}),
    ("GET /v1/transfers/{transfer_id}/trusted-person", lambda w, k, own: ("GET", _trusted(w, k, own), None),
     {"bank": (200, 404), "police": (200, 200), "telecom": (403, 403), "partner": (403, 403)}),
    ("POST /v1/transfers/{transfer_id}/trusted-person",
     lambda w, k, own: ("POST", _trusted(w, k, own), {"decision": "confirm", "at": "2026-03-02T10:40:00Z"}),
     {"bank": (200, 404), "police": (403, 403), "telecom": (403, 403), "partner": (403, 403)}),
    ("POST /v1/incidents", lambda w, k, own: ("POST", "/v1/incidents", _dispute(w, k, own)),
     {"bank": (201, 422), "police": (201, 201), "telecom": (201, 422), "partner": (403, 403)}),
    ("GET /v1/incidents/{incident_id}",
     lambda w, k, own: ("GET", f"/v1/incidents/{_incident(w, k, own)}", None),
     {"bank": (200, 404), "police": (200, 200), "telecom": (200, 404), "partner": (403, 403)}),
    # Past incidents for the statistics: the police import them; an organisation of another kind is refused.
    ("POST /v1/incidents/history", lambda w, k, own: ("POST", "/v1/incidents/history", {"label": "register",
        "incidents": [{"history_id": w.fresh("h"), "scheme": "vishing", "reported_at": "2025-03-02T09:00:00Z"}]}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    # The ministry's statistics: national figures and every bank's acknowledgement times, so the police only.
    ("GET /v1/stats", lambda w, k, own: ("GET", "/v1/stats?from=2026-03-01&to=2026-03-31", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/telecom/fraud-numbers",
     lambda w, k, own: ("POST", "/v1/telecom/fraud-numbers", {"numbers": ["+375295554433"]}),
     {"bank": 403, "police": 403, "telecom": 200, "partner": 403}),
    ("POST /v1/telecom/calls", lambda w, k, own: ("POST", "/v1/telecom/calls", {"calls": [
        {"call_id": w.fresh("call"), "ts": "2026-03-02T09:00:00Z", "caller": "+375447654321",
         "callee": "+375291112233"}]}),
     {"bank": 403, "police": 403, "telecom": 200, "partner": 403}),
    ("GET /v1/telecom/block-list", lambda w, k, own: ("GET", "/v1/telecom/block-list", None),
     {"bank": 403, "police": 200, "telecom": 200, "partner": 403}),
    ("POST /v1/telecom/call-events", lambda w, k, own: ("POST", "/v1/telecom/call-events", {"events": [
        {"call_id": w.fresh("ev"), "event": "start", "ts": "2026-03-02T09:00:00Z", "caller": "+375447654321",
         "callee": "+375291112233", "number_verification": {"devicePhoneNumberVerified": False}}]}),
     {"bank": 403, "police": 403, "telecom": 200, "partner": 403}),
    ("GET /v1/telecom/number-ranges", lambda w, k, own: ("GET", "/v1/telecom/number-ranges", None),
     {"bank": 403, "police": 403, "telecom": 200, "partner": 403}),
    ("POST /v1/telecom/block-list/confirmations",
     lambda w, k, own: ("POST", "/v1/telecom/block-list/confirmations", {"numbers": ["+375291010101"]}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/telecom/block-list/appeals",
     lambda w, k, own: ("POST", "/v1/telecom/block-list/appeals", w.number_appeal_body()),
     {"bank": 201, "police": 201, "telecom": 201, "partner": 201}),
    ("GET /v1/telecom/block-list/appeals/{appeal_id}",
     lambda w, k, own: ("GET", f"/v1/telecom/block-list/appeals/{w.number_appeal[k if own else 'other_bank']}",
                        None),
     {"bank": (200, 404), "police": (200, 200), "telecom": (200, 404), "partner": (200, 404)}),
    ("POST /v1/telecom/block-list/appeals/{appeal_id}/decision",
     lambda w, k, own: ("POST", f"/v1/telecom/block-list/appeals/{w.number_appeal['bank']}/decision",
                        {"decision": "reject", "note": "two victims named it"}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/appeals", lambda w, k, own: ("POST", "/v1/appeals", w.appeal_body()),
     {"bank": 201, "police": 201, "telecom": 201, "partner": 201}),
    ("GET /v1/appeals/{appeal_id}", lambda w, k, own: ("GET", f"/v1/appeals/{_appeal(w, k, own)}", None),
     {"bank": (200, 404), "police": (200, 200), "telecom": (200, 404), "partner": (200, 404)}),
    ("POST /v1/appeals/{appeal_id}/decision",
     lambda w, k, own: ("POST", f"/v1/appeals/{w.appeal['bank' if own else 'telecom']}/decision",
                        {"decision": "reject", "note": "the report stands"}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/orders", lambda w, k, own: ("GET", "/v1/orders", None),
     {"bank": 200, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/orders/{order_id}", lambda w, k, own: ("GET", f"/v1/orders/{_order(w, k, own)}", None),
     {"bank": (200, 404), "police": (200, 200), "telecom": (403, 403), "partner": (403, 403)}),
    ("GET /v1/orders/{order_id}/camt056",
     lambda w, k, own: ("GET", f"/v1/orders/{_order(w, k, own)}/camt056", None),
     {"bank": (200, 404), "police": (200, 200), "telecom": (403, 403), "partner": (403, 403)}),
    ("POST /v1/orders/{order_id}/ack", lambda w, k, own: ("POST", f"/v1/orders/{_order(w, k, own)}/ack", {}),
     {"bank": (200, 404), "police": (403, 403), "telecom": (403, 403), "partner": (403, 403)}),
    ("POST /v1/orders/{order_id}/frozen",
     lambda w, k, own: ("POST", f"/v1/orders/{_order(w, k, own)}/frozen", {"amount": 50_000}),
     {"bank": (200, 404), "police": (403, 403), "telecom": (403, 403), "partner": (403, 403)}),
    ("POST /v1/orders/{order_id}/returned",
     lambda w, k, own: ("POST", f"/v1/orders/{_order(w, k, own)}/returned", {"amount": 50_000}),
     {"bank": (200, 404), "police": (403, 403), "telecom": (403, 403), "partner": (403, 403)}),
    ("GET /v1/orders/{order_id}/pacs004",
     lambda w, k, own: ("GET", f"/v1/orders/{_order(w, k, own)}/pacs004", None),
     # Priorbank's order returned nothing yet: the police get 409 for it (nothing to send), not a document.
     {"bank": (200, 404), "police": (200, 409), "telecom": (403, 403), "partner": (403, 403)}),
    # Only the police desk confirms, extends and releases orders; Belarusbank's second order has nothing pending.
    ("POST /v1/orders/{order_id}/confirm",
     lambda w, k, own: ("POST", f"/v1/orders/{w.order_a2}/confirm", {}),
     {"bank": 403, "police": 409, "telecom": 403, "partner": 403}),
    ("POST /v1/orders/{order_id}/extend",
     lambda w, k, own: ("POST", f"/v1/orders/{w.order_a2}/extend", {"until": "2099-01-01T00:00:00Z"}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/orders/{order_id}/released",
     lambda w, k, own: ("POST", f"/v1/orders/{w.order_a2}/released", {"reason": "lifted"}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/alerts/cashout", lambda w, k, own: ("GET", "/v1/alerts/cashout", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/alerts/cashout/stream", lambda w, k, own: ("GET", "/v1/alerts/cashout/stream?max_seconds=0.2", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/cases", lambda w, k, own: ("GET", "/v1/cases", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/cases/{case_id}", lambda w, k, own: ("GET", f"/v1/cases/{w.case}", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/cases/{case_id}/report", lambda w, k, own: ("GET", f"/v1/cases/{w.case}/report", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/cases/link",
     lambda w, k, own: ("POST", "/v1/cases/link", {"incident_id": w.inc_c["incident_id"]}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/cases/{case_id}/split", lambda w, k, own: ("POST", f"/v1/cases/{w.case}/split", _split(w)),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/cases/{case_id}/merge", lambda w, k, own: ("POST", f"/v1/cases/{w.case}/merge", _merge(w)),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/cases/{case_id}/confirm",
     lambda w, k, own: ("POST", f"/v1/cases/{w.case}/confirm", {"version": w.version(w.case)}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/signals/suspected-drops/refresh",
     lambda w, k, own: ("POST", "/v1/signals/suspected-drops/refresh", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/signals/suspected-drops", lambda w, k, own: ("GET", "/v1/signals/suspected-drops", None),
     {"bank": 200, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/rules", lambda w, k, own: ("GET", "/v1/rules", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/rules/{version}", lambda w, k, own: ("GET", f"/v1/rules/{w.draft()}", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/rules/validate", lambda w, k, own: ("POST", "/v1/rules/validate", {"rules": [
        {"rule_id": "big", "expression": "amount_rel_log > 100", "action": "review", "reason": "big"}]}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/rules", lambda w, k, own: ("POST", "/v1/rules", {"version": w.fresh("v"), "rules": [
        {"rule_id": "big", "expression": "amount_rel_log > 100", "action": "review", "reason": "big"}]}),
     {"bank": 403, "police": 201, "telecom": 403, "partner": 403}),
    ("PUT /v1/rules/{version}", lambda w, k, own: ("PUT", f"/v1/rules/{w.draft()}", {"rules": [
        {"rule_id": "big", "expression": "amount_rel_log > 200", "action": "review", "reason": "big"}]}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/rules/{version}/publish",
     lambda w, k, own: ("POST", f"/v1/rules/{w.draft()}/publish", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/rules/{version}/shadow",
     lambda w, k, own: ("POST", f"/v1/rules/{w.published()}/shadow", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("DELETE /v1/rules-shadow", lambda w, k, own: ("DELETE", "/v1/rules-shadow", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/rules/{version}/activate",
     lambda w, k, own: ("POST", f"/v1/rules/{w.published()}/activate", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    # Cross-border sharing: the desk reads the freeze requests sent abroad; TAXII 2.1 is for partner exchanges
    # (any key may read discovery; a partner organisation not yet registered for sharing is refused its
    # collections: 403; TAXII content must be sent as application/taxii+json: JSON is 415).
    ("GET /v1/freeze-requests", lambda w, k, own: ("GET", "/v1/freeze-requests", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/case-links", lambda w, k, own: ("GET", "/v1/case-links", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /taxii2/", lambda w, k, own: ("GET", "/taxii2/", None),
     {"bank": 200, "police": 200, "telecom": 200, "partner": 200}),
    ("GET /taxii2/{api_root}/", lambda w, k, own: ("GET", "/taxii2/zaslon/", None),
     {"bank": 403, "police": 403, "telecom": 403, "partner": 200}),
    ("GET /taxii2/{api_root}/collections/", lambda w, k, own: ("GET", "/taxii2/zaslon/collections/", None),
     {"bank": 403, "police": 403, "telecom": 403, "partner": 403}),
    ("GET /taxii2/{api_root}/collections/{collection_id}/",
     lambda w, k, own: ("GET", "/taxii2/zaslon/collections/nope/", None),
     {"bank": 403, "police": 403, "telecom": 403, "partner": 403}),
    ("GET /taxii2/{api_root}/collections/{collection_id}/manifest/",
     lambda w, k, own: ("GET", "/taxii2/zaslon/collections/nope/manifest/", None),
     {"bank": 403, "police": 403, "telecom": 403, "partner": 403}),
    ("GET /taxii2/{api_root}/collections/{collection_id}/objects/",
     lambda w, k, own: ("GET", "/taxii2/zaslon/collections/nope/objects/", None),
     {"bank": 403, "police": 403, "telecom": 403, "partner": 403}),
    ("GET /taxii2/{api_root}/collections/{collection_id}/objects/{object_id}/",
     lambda w, k, own: ("GET", f"/taxii2/zaslon/collections/nope/objects/{NO_OBJECT}/", None),
     {"bank": 403, "police": 403, "telecom": 403, "partner": 403}),
    ("GET /taxii2/{api_root}/collections/{collection_id}/objects/{object_id}/versions/",
     lambda w, k, own: ("GET", f"/taxii2/zaslon/collections/nope/objects/{NO_OBJECT}/versions/", None),
     {"bank": 403, "police": 403, "telecom": 403, "partner": 403}),
    ("GET /taxii2/{api_root}/status/{status_id}/",
     lambda w, k, own: ("GET", "/taxii2/zaslon/status/00000000-0000-4000-8000-000000000000/", None),
     {"bank": 403, "police": 403, "telecom": 403, "partner": 403}),
    ("POST /taxii2/{api_root}/collections/{collection_id}/objects/",
     lambda w, k, own: ("POST", "/taxii2/zaslon/collections/nope/objects/", {"objects": []}),
     {"bank": 403, "police": 403, "telecom": 403, "partner": 415}),
    # District officers' list (the police's, whatever the district) and the at-door courier risks it raises.
    ("GET /v1/district/{district}/targets", lambda w, k, own: ("GET", "/v1/district/Frunzensky/targets", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("POST /v1/district/courier-risks/evaluate",
     lambda w, k, own: ("POST", "/v1/district/courier-risks/evaluate", {}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    # A bank's own webhook (its organisation's setting: there is no other's to name).
    ("PUT /v1/webhook", lambda w, k, own: ("PUT", "/v1/webhook", {"url": "http://127.0.0.1:9/hook"}),
     {"bank": 200, "police": 403, "telecom": 403, "partner": 403}),
    ("GET /v1/webhook", lambda w, k, own: ("GET", "/v1/webhook", None),
     {"bank": 200, "police": 403, "telecom": 403, "partner": 403}),
    ("DELETE /v1/webhook", lambda w, k, own: ("DELETE", "/v1/webhook", None),
     {"bank": 204, "police": 403, "telecom": 403, "partner": 403}),
    ("POST /v1/model/train",
     lambda w, k, own: ("POST", "/v1/model/train", {"cutoff": "2026-03-02T12:00:00Z"}),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    # Model versions (the desk's): none is stored in this world, so the police get the precise 404 / 409.
    ("GET /v1/model", lambda w, k, own: ("GET", "/v1/model", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/model/drift", lambda w, k, own: ("GET", "/v1/model/drift", None),
     {"bank": 403, "police": 200, "telecom": 403, "partner": 403}),
    ("GET /v1/model/versions/{version}", lambda w, k, own: ("GET", "/v1/model/versions/0123456789abcdef", None),
     {"bank": 403, "police": 404, "telecom": 403, "partner": 403}),
    ("POST /v1/model/{version}/promote", lambda w, k, own: ("POST", "/v1/model/0123456789abcdef/promote", None),
     {"bank": 403, "police": 404, "telecom": 403, "partner": 403}),
    ("POST /v1/model/rollback", lambda w, k, own: ("POST", "/v1/model/rollback", None),
     {"bank": 403, "police": 409, "telecom": 403, "partner": 403}),
]


def render_matrix() -> str:
    """The matrix as docs/api.md shows it: one answer where own and other agree, else "own / other"."""
    lines = ["| route | bank | police | telecom | partner |", "|---|---|---|---|---|"]
    for name, _, answers in MATRIX:
        pairs = [a if isinstance(a, tuple) else (a, a) for a in (answers[k] for k in KINDS)]
        cells = [str(o) if o == x else f"{o} / {x}" for o, x in pairs]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_the_matrix_covers_every_route_and_is_the_documented_one(app) -> None:  # type: ignore[no-untyped-def]
    routes = {f"{m.upper()} {p}" for p, ms in app.openapi()["paths"].items() for m in ms}
    assert routes == {name for name, _, _ in MATRIX}, "a route without its row in the matrix (or a stale row)"
    assert render_matrix() in DOCS.read_text(encoding="utf-8"), "docs/api.md shows another matrix"


def test_authorisation_matrix(client: TestClient, orgs) -> None:  # type: ignore[no-untyped-def]
    """Every route x kind x own / other organisation answers as documented. For "other", the resource (or the
    body's account, transfer) is Priorbank's; a bank's own is Belarusbank's. Mutating calls come last per route,
    so each answer is the one its cell documents, not one left by an earlier call."""
    w = World(client, orgs)
    who = {"bank": orgs["bank"], "police": orgs["police"], "telecom": orgs["telecom"], "partner": orgs["partner"]}
    seen: list[str] = []
    for name, call, answers in MATRIX:
        cells = [(k, own, a) for k in KINDS
                 for own, a in ([(True, answers[k])] if isinstance(answers[k], int)
                                else [(True, answers[k][0]), (False, answers[k][1])])]  # type: ignore[index]
        # Refusals first (they change nothing), then the calls answered 2xx, own before other.
        cells.sort(key=lambda c: (c[2] < 300, not c[1]))
        for kind, own, want in cells:
            method, path, body = call(w, kind, own)
            r = client.request(method, path, json=body, headers=who[kind].headers)
            if r.status_code != want:
                seen.append(f"{name} as {kind} ({'own' if own else 'other'}): {r.status_code} != {want} {r.text[:200]}")
    assert not seen, "\n".join(seen)


def test_another_organisations_resource_answers_exactly_as_a_missing_one(client: TestClient, orgs) -> None:  # type: ignore[no-untyped-def]
    w = World(client, orgs)
    a = orgs["bank"]
    for theirs, missing in (("/v1/transfers/tx-c", "/v1/transfers/tx-nope"),
                            (f"/v1/incidents/{w.inc_c['incident_id']}", "/v1/incidents/inc-nope"),
                            (f"/v1/orders/{w.order_b}", "/v1/orders/ord-nope"),
                            (f"/v1/appeals/{w.appeal['other_bank']}", "/v1/appeals/apl-nope")):
        r1, r2 = client.get(theirs, headers=a.headers), client.get(missing, headers=a.headers)
        assert r1.status_code == r2.status_code == 404, (theirs, r1.text)
        strip = re.compile(r"'[^']*'")  # the id asked about is the only difference
        assert strip.sub("ID", r1.json()["message"]) == strip.sub("ID", r2.json()["message"])
