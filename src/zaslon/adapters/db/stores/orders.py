"""SQL order store (``zaslon.flow.ports.orders``) on the order tables and the organisations' webhook URLs.

Each state change is one conditional UPDATE (``WHERE status = <expected>``), so two racing acknowledgements
cannot both win: the loser gets ``Conflict``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.stores.payments import add_origins
from zaslon.adapters.db.tables_orders import cashout_alerts, freeze_orders, order_events
from zaslon.core import orders as lifecycle
from zaslon.core.cashout import CashOutAlert
from zaslon.core.recall import OrderOrigin
from zaslon.core.types import FreezeOrder, OrderStatus
from zaslon.errors import Conflict, NotFound

_CHUNK = 500


def _order(row: RowMapping) -> FreezeOrder:
    return FreezeOrder(
        order_id=row["order_id"], incident_id=row["incident_id"], bank_id=row["bank_id"],
        account_id=row["account_id"], amount=int(row["amount"]), currency=row["currency"],
        legal_reference=row["legal_reference"], issued_at=row["issued_at"],
        deadline=row["deadline"], status=OrderStatus(row["status"]),
        frozen_amount=int(row["frozen_amount"]), returned_amount=int(row["returned_amount"]),
        order_type=row["order_type"] or "freeze",
    )


def _row(o: FreezeOrder) -> dict[str, Any]:
    return {
        "order_id": o.order_id, "incident_id": o.incident_id, "bank_id": o.bank_id,
        "account_id": o.account_id, "amount": o.amount, "currency": o.currency,
        "legal_reference": o.legal_reference, "status": o.status.value, "frozen_amount": o.frozen_amount,
        "returned_amount": o.returned_amount, "issued_at": o.issued_at, "deadline": o.deadline,
        "order_type": o.order_type,
    }


def _event(cur: FreezeOrder, nxt: FreezeOrder) -> tuple[str, int | None]:
    """What a step did, as its event's status and amount: a freeze (or top-up) and a return tranche carry the
    amount moved by this step; the trace's ledger reads the ``frozen`` events as money stopped."""
    if nxt.frozen_amount > cur.frozen_amount or (nxt.status is OrderStatus.FROZEN
                                                 and cur.status is not OrderStatus.FROZEN):
        return "frozen", nxt.frozen_amount - cur.frozen_amount
    if nxt.returned_amount > cur.returned_amount:
        return "returned", nxt.returned_amount - cur.returned_amount
    if nxt.deadline != cur.deadline:
        return "extended", None
    return nxt.status.value, None


class SqlOrderStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ issue
    def add_new(self, incident_id: str, planned: Sequence[FreezeOrder], *, now: datetime,
                origins: Mapping[str, OrderOrigin] | None = None) -> tuple[list[FreezeOrder], set[str]]:
        while True:
            try:
                with self.engine.begin() as conn:
                    have = set(conn.execute(
                        select(freeze_orders.c.order_id).where(freeze_orders.c.incident_id == incident_id)
                    ).scalars())
                    fresh = lifecycle.new_orders(have, list(planned))
                    if fresh:
                        conn.execute(insert(freeze_orders), [{**_row(o), "updated_at": now} for o in fresh])
                        conn.execute(insert(order_events), [
                            {"order_id": o.order_id, "status": o.status.value, "amount": o.amount, "at": now}
                            for o in fresh
                        ])
                        if origins:
                            add_origins(conn, {o.order_id: origins[o.order_id] for o in fresh
                                               if o.order_id in origins})
                return fresh, have
            except IntegrityError:  # a concurrent re-trace of the same incident won the race: read again
                continue

    # ------------------------------------------------------------------ read
    def get(self, order_id: str, bank_id: str | None) -> FreezeOrder:
        with self.engine.connect() as conn:
            return _get(conn, order_id, bank_id)

    def orders(self, bank_id: str | None, *, status: OrderStatus | None = None, incident_id: str | None = None,
               limit: int = 100, offset: int = 0) -> list[FreezeOrder]:
        q = select(freeze_orders).order_by(freeze_orders.c.issued_at, freeze_orders.c.order_id)
        if bank_id is not None:  # a bank sees an order once it went out (not while it waits for the desk)
            q = q.where(freeze_orders.c.bank_id == bank_id,
                        freeze_orders.c.status != OrderStatus.PENDING_CONFIRMATION.value)
        if status is not None:
            q = q.where(freeze_orders.c.status == status.value)
        if incident_id is not None:
            q = q.where(freeze_orders.c.incident_id == incident_id)
        with self.engine.connect() as conn:
            return [_order(r) for r in conn.execute(q.limit(limit).offset(offset)).mappings()]

    def of_incidents(self, incident_ids: Sequence[str]) -> list[FreezeOrder]:
        ids = list(incident_ids)
        out: list[FreezeOrder] = []
        with self.engine.connect() as conn:
            for k in range(0, len(ids), _CHUNK):
                q = select(freeze_orders).where(freeze_orders.c.incident_id.in_(ids[k:k + _CHUNK]))
                out += [_order(r) for r in conn.execute(q).mappings()]
        return out

    # ------------------------------------------------------------------ lifecycle
    def step(self, order_id: str, bank_id: str | None, by_org: str | None, now: datetime,
             move: Callable[[FreezeOrder], FreezeOrder], detail: str | None = None) -> FreezeOrder:
        with self.engine.begin() as conn:
            cur = _get(conn, order_id, bank_id)
            nxt = move(cur)  # raises Conflict / InvalidInput before anything is written
            c = freeze_orders.c
            done = conn.execute(
                update(freeze_orders)
                .where(c.order_id == order_id, c.status == cur.status.value,
                       c.frozen_amount == cur.frozen_amount, c.returned_amount == cur.returned_amount)
                .values(status=nxt.status.value, frozen_amount=nxt.frozen_amount,
                        returned_amount=nxt.returned_amount, deadline=nxt.deadline, updated_at=now)
            )
            if done.rowcount != 1:
                raise Conflict(f"order {order_id} changed meanwhile; read it again", field="status")
            status, amount = _event(cur, nxt)
            conn.execute(insert(order_events).values(
                order_id=order_id, status=status, amount=amount, by_org=by_org, detail=detail, at=now))
        return nxt

    def active_accounts(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(freeze_orders.c.account_id).distinct().where(
                freeze_orders.c.status.in_([s.value for s in lifecycle.ACTIVE]))).scalars())

    def active_on(self, account_id: str) -> list[FreezeOrder]:
        with self.engine.connect() as conn:
            return [_order(r) for r in conn.execute(select(freeze_orders).where(
                freeze_orders.c.account_id == account_id,
                freeze_orders.c.status.in_([s.value for s in lifecycle.ACTIVE]))
                .order_by(freeze_orders.c.issued_at, freeze_orders.c.order_id)).mappings()]

    def open_due(self, now: datetime) -> list[FreezeOrder]:
        open_ = [OrderStatus.ISSUED.value, OrderStatus.ACKNOWLEDGED.value]
        with self.engine.connect() as conn:
            return [_order(r) for r in conn.execute(select(freeze_orders).where(
                freeze_orders.c.status.in_(open_), freeze_orders.c.deadline <= now)).mappings()]

    # ------------------------------------------------------------------ alerts
    def add_alert(self, alert: CashOutAlert, *, now: datetime) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(cashout_alerts).values(
                    transfer_id=alert.transfer_id, account_id=alert.account_id, kind=alert.kind.value,
                    amount=alert.amount, currency=alert.currency, ts=alert.ts, atm_id=alert.atm_id,
                    payee=alert.payee, payee_bank=alert.payee_bank, country=alert.country, created_at=now,
                    outcome=alert.outcome, order_id=alert.order_id, case_id=alert.case_id, atm_lat=alert.atm_lat,
                    atm_lon=alert.atm_lon, atm_city=alert.atm_city))
        except IntegrityError:
            return False
        return True

    def alerts(self, *, since: datetime | None = None, created_after: datetime | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
        q = select(cashout_alerts).order_by(cashout_alerts.c.ts.desc()).limit(limit)
        if since is not None:
            q = q.where(cashout_alerts.c.ts >= since)
        if created_after is not None:
            q = q.where(cashout_alerts.c.created_at > created_after)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]


def _get(conn: Connection, order_id: str, bank_id: str | None) -> FreezeOrder:
    q = select(freeze_orders).where(freeze_orders.c.order_id == order_id)
    if bank_id is not None:
        q = q.where(freeze_orders.c.bank_id == bank_id,
                    freeze_orders.c.status != OrderStatus.PENDING_CONFIRMATION.value)
    row = conn.execute(q).mappings().first()
    if row is None:
        raise NotFound(f"no freeze order {order_id!r} for this organisation", field="order_id")
    return _order(row)
