"""Protection profiles over HTTP: a bank registers a trusted person for its customer; a matching transfer is held
awaiting them, the bank is told through its webhook and relays the answer once; unanswered, it expires; another
bank sees nothing; bad input is refused precisely and writes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_customers import customers
from zaslon.adapters.db.tables_protection import protection_profiles, trusted_confirmations
from zaslon.adapters.http.state import app_state
from zaslon.core.knowledge import AccountFlag
from zaslon.flow.webhooks import SIGNATURE_HEADER, verify

A1 = "BY86AKBB10100000002966000000"  # Belarusbank's customer (the IBAN's bank code is AKBB)
B1 = "BY04PJCB30120000000000000000"  # Priorbank's customer
N1 = "BY13NBRB3600900000002Z00AB00"  # a payee at a third bank
N2 = "BY20AKBB31350000001000000933"
SECRET = "a-webhook-secret-of-the-bank-0123"


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def profile(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "consent_at": "2026-03-01T09:00:00Z", "customer_id": "c-ivanova", "birth_date": "1946-05-01",
        "lives_alone": True, "phones": ["+375 29 111-22-33"],
        "trusted_person": {"name": "Olga Ivanova", "phone": "+375 29 777-88-99", "relation": "daughter"},
        "confirm": {"new_payee": True, "amount_above": 50_000, "cash_withdrawal": True, "during_call": True},
    }
    body.update(over)
    return body


def tx(tid: str, payee: str = N1, amount: int = 10_000, at: datetime | None = None, **over: Any) -> dict[str, Any]:
    ts = (at or datetime.now(UTC)).replace(microsecond=0)
    return {"transfer_id": tid, "ts": ts.isoformat().replace("+00:00", "Z"), "payer": A1, "payee": payee,
            "amount": amount, "currency": "BYN", "payer_bank": "AKBBBY2X", **over}


@pytest.fixture
def hooks(app, client: TestClient, bank) -> list[httpx.Request]:  # type: ignore[no-untyped-def]
    """The bank's webhook, answering 204; the requests it received."""
    seen: list[httpx.Request] = []
    app_state(app).exchange.webhook_transport = httpx.MockTransport(
        lambda r: (seen.append(r), httpx.Response(204))[1])
    assert client.put("/v1/webhook", json={"url": "https://bank.example/hook", "secret": SECRET},
                      headers=bank.headers).status_code == 200
    return seen


def events(seen: list[httpx.Request], kind: str, at: datetime | None = None) -> list[dict[str, Any]]:
    """The signed events of ``kind`` the bank received (signed at ``at``: the exchange's time then)."""
    out = []
    for r in seen:
        body = json.loads(r.content)
        if body["type"] == kind:
            signed_at = int((at or datetime.now(UTC)).timestamp())
            assert verify(SECRET, r.content, r.headers[SIGNATURE_HEADER], now=signed_at)
            out.append(body["confirmation"])
    return out


def test_a_new_payee_waits_for_the_trusted_person_who_confirms_once(  # type: ignore[no-untyped-def]
    app, client: TestClient, engine: Engine, bank, hooks
) -> None:
    put = client.put(f"/v1/customers/{A1}/protection", json=profile(), headers=bank.headers)
    assert put.status_code == 200, put.text
    got = client.get(f"/v1/customers/{A1}/protection", headers=bank.headers).json()
    assert got == put.json()
    assert got["age_band"] == "75-84" and got["phones"] == ["+375291112233"] and got["pending_change"] is None
    assert got["trusted_person"] == {"name": "Olga Ivanova", "phone": "+375297778899", "relation": "daughter",
                                     "customer_id": None}
    exchange = app_state(app).exchange
    # Scoring's elderly features see the same customer: elderly, living alone, reachable on that phone.
    assert exchange.profiles[A1].lives_alone and str(exchange.profiles[A1].birth_date) == "1946-05-01"
    assert exchange.phones_of[A1] == ("+375291112233",)

    body1 = tx("tx-1")  # sent again below: the same body (a slow machine may cross a second between two tx() calls)
    first = client.post("/v1/transfers/score", json=body1, headers=bank.headers)
    assert first.status_code == 200, first.text
    d = first.json()
    assert d["outcome"] == "hold" and d["reasons"][0]["code"] == "awaiting_trusted_person"
    assert d["reasons"][0]["detail"] == "new_payee"
    ts = datetime.fromisoformat(body1["ts"])
    assert abs(datetime.fromisoformat(d["hold_until"]) - (ts + timedelta(hours=12))) <= timedelta(seconds=2)
    [asked] = events(hooks, "trusted_person.confirmation_requested")
    assert asked["transfer_id"] == "tx-1" and asked["status"] == "pending" and asked["triggers"] == ["new_payee"]
    assert asked["trusted_person"]["phone"] == "+375297778899"
    made = datetime.fromisoformat(asked["transfer_ts"])
    assert datetime.fromisoformat(asked["deadline"]) == made + timedelta(hours=12)

    pending = client.get("/v1/transfers/tx-1/trusted-person", headers=bank.headers)
    assert pending.status_code == 200 and pending.json()["status"] == "pending"
    ok = client.post("/v1/transfers/tx-1/trusted-person", json={"decision": "confirm"}, headers=bank.headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "confirmed" and ok.json()["answered_by"].startswith(bank.org_id)
    again = client.post("/v1/transfers/tx-1/trusted-person", json={"decision": "decline"}, headers=bank.headers)
    assert again.status_code == 409
    shown = client.get("/v1/transfers/tx-1", headers=bank.headers).json()["trusted_person"]
    assert shown["status"] == "confirmed" and shown["answered_at"] is not None

    # The same payee again, a small amount, no call: nothing to confirm.
    small = client.post("/v1/transfers/score", json=tx("tx-2", amount=5_000), headers=bank.headers).json()
    assert small["outcome"] == "allow", small
    # Above the threshold, to the known payee, through the batch route: held for the amount alone.
    big = client.post("/v1/transfers/score/batch", json=[tx("tx-3", amount=60_000)], headers=bank.headers).json()[0]
    assert big["outcome"] == "hold" and big["reasons"][0]["detail"] == "amount_above"
    # Cash; and on a flagged call the default rules hold it themselves: the bank reviews it, nobody is asked.
    atm = {"atm_id": "ATM-1", "lat": 53.9, "lon": 27.56}
    cash = client.post("/v1/transfers/score", json=tx("tx-4", payee="CASH", amount=1_000, channel="atm", atm=atm),
                       headers=bank.headers)
    assert cash.json()["reasons"][0]["detail"] == "cash_withdrawal"
    call = client.post("/v1/transfers/score", json=tx("tx-5", payee=N2, on_flagged_call=True),
                       headers=bank.headers).json()
    assert call["outcome"] == "hold" and call["reasons"][0]["code"] == "rule:flagged-call"
    assert count(engine, trusted_confirmations) == 3
    assert [e["transfer_id"] for e in events(hooks, "trusted_person.confirmation_requested")] == [
        "tx-1", "tx-3", "tx-4"]
    # A replayed decision asks nobody again.
    assert client.post("/v1/transfers/score", json=body1, headers=bank.headers).json()["replayed"]
    assert count(engine, trusted_confirmations) == 3
    declined = client.post("/v1/transfers/tx-4/trusted-person", json={"decision": "decline"}, headers=bank.headers)
    assert declined.status_code == 200 and declined.json()["status"] == "declined"


def test_held_or_blocked_for_another_reason_stays_so(client: TestClient, app, engine: Engine, bank) -> None:  # type: ignore[no-untyped-def]
    assert client.put(f"/v1/customers/{A1}/protection", json=profile(), headers=bank.headers).status_code == 200
    app_state(app).exchange.knowledge.flag(N1, AccountFlag.REPORTED)
    d = client.post("/v1/transfers/score", json=tx("tx-r"), headers=bank.headers).json()
    assert d["outcome"] == "hold" and d["reasons"][0]["code"] == "payee_reported"
    assert all(r["code"] != "awaiting_trusted_person" for r in d["reasons"])
    assert count(engine, trusted_confirmations) == 0


def test_unanswered_within_12_hours_is_declined(app, client: TestClient, bank, hooks) -> None:  # type: ignore[no-untyped-def]
    assert client.put(f"/v1/customers/{A1}/protection", json=profile(), headers=bank.headers).status_code == 200
    exchange = app_state(app).exchange
    made = datetime.now(UTC).replace(microsecond=0)
    held = client.post("/v1/transfers/score", json=tx("tx-1", at=made), headers=bank.headers)
    assert held.json()["outcome"] == "hold"
    assert exchange.expire_confirmations(now=made + timedelta(hours=11, minutes=59)) == 0
    assert exchange.expire_confirmations(now=made + timedelta(hours=12)) == 1
    assert exchange.expire_confirmations(now=made + timedelta(hours=13)) == 0  # once
    [told] = events(hooks, "trusted_person.confirmation_resolved", at=made + timedelta(hours=12))
    assert told["status"] == "expired" and told["answered_by"] == "exchange"
    assert datetime.fromisoformat(told["answered_at"]) == made + timedelta(hours=12)
    late = client.post("/v1/transfers/tx-1/trusted-person", json={"decision": "confirm"}, headers=bank.headers)
    assert late.status_code == 409 and "expired" in late.json()["message"]
    # An answer relayed after the deadline, before the housekeeping got to it: refused, and the transfer declined.
    old = made - timedelta(hours=13)
    assert client.post("/v1/transfers/score", json=tx("tx-old", payee=N2, at=old),
                       headers=bank.headers).json()["outcome"] == "hold"
    r = client.post("/v1/transfers/tx-old/trusted-person", json={"decision": "confirm"}, headers=bank.headers)
    assert r.status_code == 409
    assert client.get("/v1/transfers/tx-old/trusted-person", headers=bank.headers).json()["status"] == "expired"


def test_replacing_the_trusted_person_waits_24_hours(client: TestClient, app, bank) -> None:  # type: ignore[no-untyped-def]
    assert client.put(f"/v1/customers/{A1}/protection", json=profile(), headers=bank.headers).status_code == 200
    son = {"name": "Pavel Ivanov", "phone": "+375 33 444-55-66", "relation": "son"}
    before = datetime.now(UTC)
    r = client.put(f"/v1/customers/{A1}/protection", json=profile(trusted_person=son), headers=bank.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["trusted_person"]["name"] == "Olga Ivanova"  # still in force
    change = body["pending_change"]
    assert change["kind"] == "replacement" and change["trusted_person"]["phone"] == "+375334445566"
    takes = datetime.fromisoformat(change["takes_effect_at"])
    assert before + timedelta(hours=24) <= takes <= datetime.now(UTC) + timedelta(hours=24)
    # Asking for the removal restarts nothing in the fraudster's favour: it too waits 24 h from now.
    gone = client.put(f"/v1/customers/{A1}/protection", json=profile(trusted_person=None), headers=bank.headers)
    assert gone.json()["pending_change"]["kind"] == "removal" and gone.json()["trusted_person"] is not None
    assert datetime.fromisoformat(gone.json()["pending_change"]["takes_effect_at"]) >= takes
    exchange = app_state(app).exchange
    who = app_state(app).keys.verify(bank.key)
    later = exchange.protection(who, A1, now=datetime.now(UTC) + timedelta(hours=25))
    assert later["trusted_person"] is None and later["pending_change"] is None
    # Meanwhile transfers are still held for Olga.
    d = client.post("/v1/transfers/score", json=tx("tx-1"), headers=bank.headers).json()
    assert d["reasons"][0]["code"] == "awaiting_trusted_person"
    assert client.get("/v1/transfers/tx-1/trusted-person",
                      headers=bank.headers).json()["trusted_person"]["name"] == "Olga Ivanova"


def test_bad_input_is_refused_precisely_and_writes_nothing(  # type: ignore[no-untyped-def]
    client: TestClient, engine: Engine, bank, other_bank, police
) -> None:
    url = f"/v1/customers/{A1}/protection"
    cases: list[tuple[str, dict[str, Any], int, str | None]] = [
        # The trusted person is the customer: one of their own numbers (written otherwise), or their customer id.
        (url, profile(trusted_person={"name": "Herself", "phone": "8 029 111 22 33"}), 422, "trusted_person"),
        (url, profile(trusted_person={"name": "Herself", "phone": "+375447000000", "customer_id": "c-ivanova"}),
         422, "trusted_person"),
        (url, profile(trusted_person={"name": "Olga", "phone": "12"}), 422, "trusted_person.phone"),
        (url, profile(phones=["not a phone"]), 422, "phones.0"),
        (url, profile(birth_date=None), 422, "age_band"),
        (url, profile(age_band="65-74"), 422, "age_band"),  # born 1946: 75-84
        (url, profile(age_band="ancient", birth_date=None), 422, None),
        (url, profile(birth_date="2999-01-01"), 422, "birth_date"),
        (url, profile(consent_at="2999-01-01T00:00:00Z"), 422, "consent_at"),
        (url, profile(confirm={"amount_above": -1}), 422, None),
        (url, profile(confirm={"currency": "XXQ"}), 422, "confirm.currency"),
        (url, {**profile(), "extra": 1}, 422, None),
        # Another bank's account (its IBAN's bank code): 404, exactly as an unknown one.
        (f"/v1/customers/{B1}/protection", profile(), 404, "account"),
    ]
    for path, body, status, field in cases:
        r = client.put(path, json=body, headers=bank.headers)
        assert r.status_code == status, (body, r.text)
        if field is not None:
            assert r.json()["field"] == field, r.text
    assert client.put(url, json=profile(), headers=police.headers).status_code == 403  # no customers:write
    assert client.put(url, json=profile()).status_code == 401
    # An account another bank registered (no IBAN to tell): 404 for the second bank, nothing changed.
    ru = "40817810000000522654"
    assert client.put("/v1/customers", json={"customers": [{"account_id": ru, "lives_alone": False}]},
                      headers=other_bank.headers).status_code == 200
    r = client.put(f"/v1/customers/{ru}/protection", json=profile(), headers=bank.headers)
    assert r.status_code == 404 and r.json()["field"] == "account"
    assert count(engine, protection_profiles) == 0 and count(engine, customers) == 1
    with engine.connect() as conn:
        assert conn.execute(select(customers.c.lives_alone)).scalar_one() is False


def test_another_bank_sees_and_answers_nothing(client: TestClient, engine: Engine, bank, other_bank) -> None:  # type: ignore[no-untyped-def]
    assert client.put(f"/v1/customers/{A1}/protection", json=profile(), headers=bank.headers).status_code == 200
    assert client.post("/v1/transfers/score", json=tx("tx-1"), headers=bank.headers).json()["outcome"] == "hold"
    theirs = client.get(f"/v1/customers/{A1}/protection", headers=other_bank.headers)
    missing = client.get(f"/v1/customers/{B1}/protection", headers=other_bank.headers)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["message"].replace(A1, "X") == missing.json()["message"].replace(B1, "X")
    assert client.put(f"/v1/customers/{A1}/protection", json=profile(lives_alone=False),
                      headers=other_bank.headers).status_code == 404
    for path in ("/v1/transfers/tx-1/trusted-person", "/v1/transfers/tx-none/trusted-person"):
        assert client.get(path, headers=other_bank.headers).status_code == 404
        assert client.post(path, json={"decision": "confirm"}, headers=other_bank.headers).status_code == 404
    assert client.get("/v1/transfers/tx-1/trusted-person", params={"org_id": bank.org_id},
                      headers=other_bank.headers).status_code == 404
    # The bank's own malformed answers change nothing either.
    for bad in ({"decision": "maybe"}, {"decision": "confirm", "at": "2999-01-01T00:00:00Z"}, {}):
        r = client.post("/v1/transfers/tx-1/trusted-person", json=bad, headers=bank.headers)
        assert r.status_code == 422, r.text
    with engine.connect() as conn:
        assert conn.execute(select(trusted_confirmations.c.status)).scalar_one() == "pending"
        assert conn.execute(select(protection_profiles.c.lives_alone)).scalar_one() is True
