"""Customers' profiles: a bank registers its own customers, all of a batch or nothing; others cannot touch them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_customers import customers
from zaslon.adapters.http.state import app_state

PAN = "4276550012345677"


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(customers)).scalar_one())


def _one(account: str = "BY01AKBB", **kw: object) -> dict[str, object]:
    return {"account_id": account, "customer_id": "c-1", "kind": "personal", "birth_date": "1946-05-01",
            "lives_alone": True, "phones": ["+375 29 111-22-33"], "cards": [PAN], **kw}


def test_a_bank_registers_its_customers_and_scoring_knows_them(client: TestClient, app, engine, bank) -> None:  # type: ignore[no-untyped-def]
    shop = _one("BY02AKBB", kind="merchant", phones=[], cards=[])
    r = client.put("/v1/customers", json={"customers": [_one(), shop]}, headers=bank.headers)
    assert r.status_code == 200 and r.json() == {"registered": 2}
    exchange = app_state(app).exchange
    assert exchange.profiles["BY01AKBB"].lives_alone and exchange.profiles["BY02AKBB"].kind == "merchant"
    assert exchange.phones_of["BY01AKBB"] == ("+375291112233",)
    with engine.connect() as conn:
        stored = conn.execute(select(customers.c.card_hashes, customers.c.phones)
                              .where(customers.c.account_id == "BY01AKBB")).one()
    assert PAN not in stored.card_hashes and len(stored.card_hashes) == 64  # only the keyed hash is kept
    assert exchange.card_accounts[stored.card_hashes] == "BY01AKBB"


def test_a_bad_item_is_named_and_nothing_is_written(client: TestClient, engine, bank) -> None:  # type: ignore[no-untyped-def]
    bad_phone = client.put("/v1/customers", json={"customers": [_one(), _one("BY02AKBB", phones=["12"])]},
                           headers=bank.headers)
    assert bad_phone.status_code == 422
    bad_card = client.put("/v1/customers", json={"customers": [_one(cards=["4276550012345670"])]},
                          headers=bank.headers)
    assert bad_card.status_code == 422 and bad_card.json()["field"] == "customers.0.cards"
    twice = client.put("/v1/customers", json={"customers": [_one(), _one()]}, headers=bank.headers)
    assert twice.status_code == 422
    assert _count(engine) == 0


def test_another_bank_cannot_change_a_customer_and_nothing_is_written(client: TestClient, engine, bank,  # type: ignore[no-untyped-def]
                                                                      other_bank, police) -> None:
    assert client.put("/v1/customers", json={"customers": [_one()]}, headers=bank.headers).status_code == 200
    r = client.put("/v1/customers", json={"customers": [_one("BY09PJCB"), _one(lives_alone=False)]},
                   headers=other_bank.headers)
    # The body names another bank's customer: 422 (a bank registers only its own), and nothing is written.
    assert r.status_code == 422 and r.json()["field"] == "customers.account_id"
    assert _count(engine) == 1  # the other bank's own new customer was not written either
    assert client.put("/v1/customers", json={"customers": [_one("BY09PJCB")]},
                      headers=police.headers).status_code == 403  # no customers:write scope
    assert client.put("/v1/customers", json={"customers": [_one()]}).status_code == 401
