"""Concurrent real-time requests are micro-batched, and each still gets its own precise answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_decisions import decisions
from zaslon.adapters.http.state import app_state

TS = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# The payer is a customer of the submitting bank (``bank``: Belarusbank, AKBBBY2X): a bank scores only its own.
PAYER, PAYEE = "BY86AKBB10100000002966000000", "DE89370400440532013000"


@pytest.fixture(autouse=True)
def _tables(engine: Engine) -> None:
    del engine


def tx(i: int, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"transfer_id": f"B-{i}", "ts": (TS + timedelta(minutes=i)).isoformat(), "payer": PAYER,
                            "payee": PAYEE, "amount": 15000, "currency": "BYN"}
    body.update(over)
    return body


def test_concurrent_requests_share_a_batch_with_isolated_errors(client, app, bank, engine) -> None:  # type: ignore[no-untyped-def]
    # A first request warms the key cache (the first look-up of a key takes a thread hop).
    assert client.post("/v1/transfers/score", json=tx(0), headers=bank.headers).status_code == 200
    batcher = app_state(app).score_batcher
    before = batcher.batches
    bodies = [
        tx(1), tx(2), tx(2),  # B-2 twice with the same body: the second is a replay
        tx(3), tx(3, amount=1),  # B-3 with another body: 409 for that request only
        tx(4, amount=-5),  # bad input: 422 before it reaches the batch
        tx(5, currency="XYZ"),
    ]

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return list(await asyncio.gather(*(c.post("/v1/transfers/score", json=b, headers=bank.headers)
                                               for b in bodies)))

    r = asyncio.run(go())
    # Which of two requests under one id arrives first is up to the scheduler; as sequential requests,
    # one decides and the other is a replay (same body) or a 409 (another body).
    assert [x.status_code for x in r[:3]] == [200, 200, 200] and [x.status_code for x in r[5:]] == [422, 422]
    assert sorted(x.status_code for x in r[3:5]) == [200, 409]
    assert sorted(x.json()["replayed"] for x in r[1:3]) == [False, True]
    assert r[1].json()["outcome"] == r[2].json()["outcome"] and r[1].json()["score"] == r[2].json()["score"]
    assert batcher.batches - before == 1 and batcher.scored >= 5
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(decisions)).scalar_one() == 4
