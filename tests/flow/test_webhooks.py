from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, select

from zaslon.adapters.db.tables_core import orgs
from zaslon.adapters.db.tables_orders import webhook_deliveries
from zaslon.errors import InvalidInput
from zaslon.flow.webhooks import SIGNATURE_HEADER, Webhooks, verify

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
A, B = "AKBBBY2X", "PJCBBY2X"


@pytest.fixture
def hooks(engine: Engine) -> Webhooks:
    with engine.begin() as conn:
        conn.execute(orgs.insert().values(org_id="bank-a", name="A", kind="bank", bank_id=A, created_at=NOW))
        conn.execute(orgs.insert().values(org_id="bank-b", name="B", kind="bank", bank_id=B, created_at=NOW))
    return Webhooks(engine, max_attempts=3, backoff_s=10)


def states(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(webhook_deliveries.c.state, webhook_deliveries.c.attempts)
                                                .order_by(webhook_deliveries.c.delivery_id))]


def test_signed_delivery_and_retries_with_backoff(hooks: Webhooks, engine: Engine) -> None:
    secret = hooks.set("bank-a", "https://bank-a.example/hook")["secret"]
    hooks.set("bank-b", "https://bank-b.example/hook", "b" * 32)
    seen: list[httpx.Request] = []
    fail_b = [True]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500 if "bank-b" in str(request.url) and fail_b[0] else 204)

    hooks.transport = httpx.MockTransport(handler)
    ids = hooks.enqueue([(A, "FO-1", {"type": "freeze_order", "order": {"order_id": "FO-1"}}),
                         (B, "FO-2", {"type": "freeze_order", "order": {"order_id": "FO-2"}})], now=NOW)
    assert hooks.deliver_due(NOW, ids=ids) == 1
    a = next(r for r in seen if "bank-a" in str(r.url))
    assert json.loads(a.content)["order"]["order_id"] == "FO-1"
    assert verify(secret, a.content, a.headers[SIGNATURE_HEADER], now=int(NOW.timestamp()))
    assert not verify("wrong-secret-xxxxxxxx", a.content, a.headers[SIGNATURE_HEADER], now=int(NOW.timestamp()))
    assert not verify(secret, a.content + b" ", a.headers[SIGNATURE_HEADER], now=int(NOW.timestamp()))
    assert states(engine) == [("delivered", 1), ("pending", 1)]
    assert hooks.deliver_due(NOW + timedelta(seconds=9)) == 0  # the first retry waits 10 s
    assert hooks.deliver_due(NOW + timedelta(seconds=10)) == 0  # still failing: next in 20 s
    assert states(engine) == [("delivered", 1), ("pending", 2)]
    fail_b[0] = False
    assert hooks.deliver_due(NOW + timedelta(seconds=30)) == 1
    assert states(engine) == [("delivered", 1), ("delivered", 3)]


def test_gives_up_after_the_last_attempt(hooks: Webhooks, engine: Engine) -> None:
    hooks.set("bank-a", "https://bank-a.example/hook")
    hooks.transport = httpx.MockTransport(lambda r: httpx.Response(503))
    hooks.enqueue([(A, "FO-1", {"order": {}})], now=NOW)
    for s in (0, 10, 30, 70):
        hooks.deliver_due(NOW + timedelta(seconds=s))
    assert states(engine) == [("failed", 3)]


def test_a_bank_without_a_webhook_polls(hooks: Webhooks, engine: Engine) -> None:
    assert hooks.enqueue([(B, "FO-2", {"order": {}})], now=NOW) == []
    assert states(engine) == []


@pytest.mark.parametrize("url", ["ftp://bank.example/x", "javascript:alert(1)", "/relative", "bank.example"])
def test_only_absolute_http_urls(hooks: Webhooks, engine: Engine, url: str) -> None:
    with pytest.raises(InvalidInput):
        hooks.set("bank-a", url)
    assert hooks.get("bank-a") is None


def test_secret_shown_once_then_only_whether_signed(hooks: Webhooks) -> None:
    out = hooks.set("bank-a", "https://bank-a.example/hook")
    assert len(out["secret"]) >= 32
    assert hooks.get("bank-a") == {"url": "https://bank-a.example/hook", "signed": True,
                                   "signature_header": SIGNATURE_HEADER}
    hooks.remove("bank-a")
    assert hooks.get("bank-a") is None
