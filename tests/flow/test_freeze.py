from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

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


def test_top_ups_and_return_tranches(store: FreezeStore, engine: Engine) -> None:
    [o] = store.issue("INC-1", result(("BY01", A, 1000)), now=NOW).created
    store.acknowledge(o.order_id, A, by_org="bank-a", now=NOW)
    store.frozen(o.order_id, A, 600, by_org="bank-a", now=NOW)
    topped = store.frozen(o.order_id, A, 300, by_org="bank-a", now=NOW + timedelta(minutes=5))
    assert topped.status is OrderStatus.FROZEN and topped.frozen_amount == 900
    with pytest.raises(InvalidInput):  # 900 frozen of 1000: a top-up of 101 would exceed the order
        store.frozen(o.order_id, A, 101, by_org="bank-a", now=NOW)
    part = store.returned(o.order_id, A, 400, by_org="bank-a", now=NOW + timedelta(days=1))
    assert part.status is OrderStatus.FROZEN and part.returned_amount == 400
    with pytest.raises(InvalidInput):  # 500 left to return
        store.returned(o.order_id, A, 501, by_org="bank-a", now=NOW)
    with pytest.raises(Conflict):  # once money goes back, no more is frozen on the order
        store.frozen(o.order_id, A, 50, by_org="bank-a", now=NOW)
    done = store.returned(o.order_id, A, 500, by_org="bank-a", now=NOW + timedelta(days=2))
    assert done.status is OrderStatus.RETURNED and done.returned_amount == 900
    with engine.connect() as conn:
        events = conn.execute(select(order_events.c.status, order_events.c.amount)
                              .order_by(order_events.c.event_id)).all()
    # Each step's event carries what it moved: the trace's ledger sums the frozen ones.
    assert [tuple(e) for e in events] == [("issued", 1000), ("acknowledged", None), ("frozen", 600),
                                          ("frozen", 300), ("returned", 400), ("returned", 500)]


def test_pending_order_waits_for_the_desk(store: FreezeStore) -> None:
    [o] = store.issue("INC-1", result(("SHOP", A, 1000)), now=NOW, needs_confirmation={"SHOP"}.__contains__).created
    assert o.status is OrderStatus.PENDING_CONFIRMATION
    assert store.list(A) == []  # the bank does not see it before the desk confirms
    with pytest.raises(NotFound):
        store.acknowledge(o.order_id, A, by_org="bank-a", now=NOW)
    assert store.confirm(o.order_id, by_org="police", now=NOW).status is OrderStatus.ISSUED
    assert [x.order_id for x in store.list(A)] == [o.order_id]
    with pytest.raises(Conflict):
        store.confirm(o.order_id, by_org="police", now=NOW)


def test_extend_moves_the_deadline_later_only(store: FreezeStore) -> None:
    [o] = store.issue("INC-1", result(("BY01", A, 1000)), now=NOW).created
    with pytest.raises(InvalidInput):
        store.extend(o.order_id, o.deadline - timedelta(hours=1), by_org="police", now=NOW)
    later = store.extend(o.order_id, o.deadline + timedelta(days=7), by_org="police", now=NOW)
    assert later.deadline == o.deadline + timedelta(days=7)
    assert store.expire_due(o.deadline + timedelta(hours=1)) == []  # the old deadline no longer counts
    assert [x.order_id for x in store.expire_due(later.deadline)] == [o.order_id]


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
