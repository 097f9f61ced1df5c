"""Real-time scoring over HTTP feeds the district watch: a transfer after a flagged call ends the courier watch
(no at-door courier risk), a held one puts the elderly person living alone on their district officer's list."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient

from zaslon.adapters.http.state import app_state
from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.flow.customers import Customer
from zaslon.flow.orgs import Principal
from zaslon.flow.telecom import CallReport

FRAUD = "+79001234567"
GRAN, GRAN2 = "BY86AKBB10100000002966000000", "BY20AKBB31350000001000000933"


def test_a_transfer_scored_after_the_call_ends_the_courier_watch(client: TestClient, make_org) -> None:  # type: ignore[no-untyped-def]
    bank, telecom = make_org("bank", bank_id="AKBBBY2X"), make_org("telecom")
    x = app_state(client.app).exchange  # type: ignore[arg-type]
    x.register_customers(Principal(bank.org_id, OrgKind.BANK, DEFAULT_SCOPES[OrgKind.BANK], "AKBBBY2X"), [
        Customer(GRAN, "personal", "p-gran", None, date(1947, 5, 1), True, ("+375291112233",), district="Frunzensky"),
        Customer(GRAN2, "personal", "p-gran2", None, date(1945, 5, 1), True, ("+375292223344",),
                 district="Frunzensky")])
    as_telecom = Principal(telecom.org_id, OrgKind.TELECOM, DEFAULT_SCOPES[OrgKind.TELECOM])
    x.report_fraud_numbers(as_telecom, [FRAUD])
    called = datetime.now(UTC) - timedelta(hours=2)
    x.report_calls(as_telecom, [CallReport("c1", called, FRAUD, "+375291112233", None, 900),
                                CallReport("c2", called, FRAUD, "+375292223344", None, 900)])
    body = {"transfer_id": "t1", "ts": (called + timedelta(minutes=10)).isoformat(), "payer": GRAN,
            "payee": "BY04PJCB30120000000000000000", "amount": 900_000, "currency": "BYN",
            "payer_bank": "AKBBBY2X", "payee_bank": "PJCBBY2X"}
    r = client.post("/v1/transfers/score", json=body, headers=bank.headers)
    assert r.status_code == 200, r.text
    [risk] = x.raise_courier_risks()  # GRAN paid after the call; GRAN2 did not
    assert risk.person == "p-gran2"
    [entry] = [e for e in x.district.targets("Frunzensky") if e.person == "p-gran"]
    assert r.json()["outcome"] in ("hold", "block")  # ten minutes into a call from a flagged number
    assert entry.reasons == {"flagged_call": 1, "held_transfer": 1}
