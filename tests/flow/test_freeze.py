from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select, update

from zaslon.adapters.db.tables_core import orgs
from zaslon.adapters.db.tables_orders import cashout_alerts, freeze_orders, order_events
from zaslon.core.cashout import cashout_alert
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.core.trace import ExitKind, Holding, TraceResult
from zaslon.core.types import Atm, OrderStatus, Transfer
from zaslon.errors import Conflict, InvalidInput, NotFound
from zaslon.flow.freeze import FreezeStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
A, B = "AKBBBY2X", "PJCBBY2X"


@pytest.fixture
def store(engine: Engine) -> FreezeStore:
    return FreezeStore(engine)


def result(*holdings: tuple[str, str, int]) -> TraceResult:
    hs = tuple(Holding(acc, bank, amount, 1, 0) for acc, bank, amount in holdings)
    return TraceResult(sum(h.amount for h in hs), hs, (), ())


def count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_issue_is_idempotent_per_incident(store: FreezeStore, engine: Engine) -> None:
    first = store.issue("INC-1", result(("BY01", A, 500), ("BY02", B, 300)), now=NOW)
    assert len(first.created) == 2 and first.existing == []
    again = store.issue("INC-1", result(("BY01", A, 500), ("BY02", B, 300), ("BY03", B, 400)), now=NOW)
    assert [o.account_id for o in again.created] == ["BY03"]
    assert len(again.existing) == 2
    assert count(engine, freeze_orders) == 3
    assert store.issue("INC-1", result(), now=NOW).created == []


def test_bank_sees_only_its_orders_and_others_look_missing(store: FreezeStore) -> None:
    store.issue("INC-1", result(("BY01", A, 500), ("BY02", B, 300)), now=NOW)
    mine = store.list(A)
    assert [o.account_id for o in mine] == ["BY01"]
    assert len(store.list(None)) == 2
    theirs = store.list(B)[0]
    with pytest.raises(NotFound):
        store.get(theirs.order_id, A)
    with pytest.raises(NotFound):
        store.acknowledge(theirs.order_id, A, by_org="bank-a", now=NOW)
    assert store.get(theirs.order_id, B).status is OrderStatus.ISSUED


def test_lifecycle_with_audit_trail_and_double_ack_conflict(store: FreezeStore, engine: Engine) -> None:
    [o] = store.issue("INC-1", result(("BY01", A, 500)), now=NOW).created
    assert store.acknowledge(o.order_id, A, by_org="bank-a", now=NOW).status is OrderStatus.ACKNOWLEDGED
    with pytest.raises(Conflict):
        store.acknowledge(o.order_id, A, by_org="bank-a", now=NOW)
    with pytest.raises(InvalidInput):
        store.frozen(o.order_id, A, 501, by_org="bank-a", now=NOW)
    assert store.get(o.order_id, A).status is OrderStatus.ACKNOWLEDGED  # nothing half-written
    assert store.frozen(o.order_id, A, 450, by_org="bank-a", now=NOW).frozen_amount == 450
    done = store.returned(o.order_id, A, 450, by_org="bank-a", now=NOW)
    assert (done.status, done.returned_amount) == (OrderStatus.RETURNED, 450)
    with engine.connect() as conn:
        trail = conn.execute(select(order_events.c.status).where(order_events.c.order_id == o.order_id)
                             .order_by(order_events.c.event_id)).scalars().all()
    assert trail == ["issued", "acknowledged", "frozen", "returned"]


def test_expiry_of_unfrozen_orders(store: FreezeStore, engine: Engine) -> None:
    issued = store.issue("INC-1", result(("BY01", A, 500), ("BY02", B, 300)), now=NOW).created
    store.frozen(store.acknowledge(issued[0].order_id, None, by_org=None, now=NOW).order_id, None, 100,
                 by_org=None, now=NOW)
    assert store.expire_due(NOW + timedelta(hours=1)) == []
    expired = store.expire_due(NOW + timedelta(days=4))
    assert [o.order_id for o in expired] == [issued[1].order_id]
    assert store.get(issued[0].order_id, None).status is OrderStatus.FROZEN


def test_webhook_delivery_through_transport(store: FreezeStore, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(orgs.insert().values(org_id="bank-a", name="A", kind="bank", bank_id=A,
                                          webhook_url="https://bank-a.example/hooks/zaslon", created_at=NOW))
        conn.execute(orgs.insert().values(org_id="bank-b", name="B", kind="bank", bank_id=B,
                                          webhook_url="https://bank-b.example/hook", created_at=NOW))
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append({"url": str(request.url), **json.loads(request.content)})
        return httpx.Response(204 if "bank-a" in str(request.url) else 500)

    created = store.issue("INC-1", result(("BY01", A, 500), ("BY02", B, 300)), now=NOW).created
    ok = store.deliver(created, transport=httpx.MockTransport(handler), now=NOW)
    assert ok == 1
    assert {s["url"] for s in seen} == {"https://bank-a.example/hooks/zaslon", "https://bank-b.example/hook"}
    assert all(s["type"] == "freeze_order" for s in seen)
    with engine.connect() as conn:
        details = set(conn.execute(select(order_events.c.detail).where(order_events.c.detail.is_not(None)))
                      .scalars())
    assert details == {"webhook 204", "webhook 500"}


def test_concurrent_change_is_a_conflict(store: FreezeStore, engine: Engine) -> None:
    [o] = store.issue("INC-1", result(("BY01", A, 500)), now=NOW).created

    def racing(order):  # type: ignore[no-untyped-def]
        with engine.begin() as conn:  # another worker acknowledges between our read and our write
            conn.execute(update(freeze_orders).values(status="acknowledged"))
        return order.__class__(**{**{f: getattr(order, f) for f in order.__dataclass_fields__},
                                  "status": OrderStatus.ACKNOWLEDGED})

    with pytest.raises(Conflict):
        store._step(o.order_id, A, "bank-a", NOW, racing)


def test_cashout_alert_for_traced_accounts_only(store: FreezeStore, engine: Engine) -> None:
    k = Knowledge()
    k.flag("BY-DROP", AccountFlag.TRACED)
    atm = Atm("ATM-9", 53.9, 27.5, "Minsk")
    cash = Transfer("t1", NOW, "BY-DROP", "CASH", 90000, atm=atm)
    alert = cashout_alert(cash, k)
    assert alert is not None and alert.kind is ExitKind.CASH_OUT and alert.atm_id == "ATM-9"
    abroad = Transfer("t2", NOW, "BY-DROP", "KZ86125KZT", 5000, payee_country="KZ", payee_bank="KZKOKZKX")
    assert cashout_alert(abroad, k).kind is ExitKind.ABROAD  # type: ignore[union-attr]
    crypto = Transfer("t3", NOW, "BY-DROP", "WALLET-EX", 5000)
    assert cashout_alert(crypto, k, crypto_accounts={"WALLET-EX"}).kind is ExitKind.CRYPTO  # type: ignore[union-attr]
    assert cashout_alert(Transfer("t4", NOW, "BY-DROP", "BY-OTHER", 5000, payee_country="BY"), k) is None
    assert cashout_alert(Transfer("t5", NOW, "BY-CLEAN", "CASH", 5000, atm=atm), k) is None
    assert store.record_alert(alert, now=NOW) is True
    assert store.record_alert(alert, now=NOW) is False  # once per transfer
    assert count(engine, cashout_alerts) == 1
