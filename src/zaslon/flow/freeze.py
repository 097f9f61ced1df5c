"""Freeze orders in the store: issue them from a trace, let the addressed bank move them on, notify it.

A bank sees and moves only orders addressed to its BIC; an order of another bank answers exactly like
an order that does not exist (404), so ids never leak. Each state change is one conditional UPDATE
(``WHERE status = <expected>``), so two racing acknowledgements cannot both win: the loser gets 409.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.tables_core import orgs
from zaslon.adapters.db.tables_orders import cashout_alerts, freeze_orders, order_events
from zaslon.core import orders as lifecycle
from zaslon.core.cashout import CashOutAlert
from zaslon.core.trace import TraceResult
from zaslon.core.types import FreezeOrder, OrderStatus
from zaslon.errors import Conflict, NotFound

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Issued:
    created: list[FreezeOrder]
    existing: list[str]  # order ids planned again by a re-trace: nothing written for them


def _order(row: RowMapping) -> FreezeOrder:
    return FreezeOrder(
        order_id=row["order_id"], incident_id=row["incident_id"], bank_id=row["bank_id"],
        account_id=row["account_id"], amount=int(row["amount"]), currency=row["currency"],
        legal_reference=row["legal_reference"], issued_at=row["issued_at"],
        deadline=row["deadline"], status=OrderStatus(row["status"]),
        frozen_amount=int(row["frozen_amount"]), returned_amount=int(row["returned_amount"]),
    )


def order_json(o: FreezeOrder) -> dict[str, Any]:
    return {
        "order_id": o.order_id, "incident_id": o.incident_id, "bank_id": o.bank_id,
        "account_id": o.account_id, "amount": o.amount, "currency": o.currency,
        "legal_reference": o.legal_reference, "issued_at": o.issued_at.isoformat(),
        "deadline": o.deadline.isoformat(), "status": o.status.value,
        "frozen_amount": o.frozen_amount, "returned_amount": o.returned_amount,
    }


class FreezeStore:
    def __init__(self, engine: Engine, *, deadline: timedelta = lifecycle.DEFAULT_DEADLINE,
                 min_amount: int = 100) -> None:
        self.engine = engine
        self.deadline = deadline
        self.min_amount = min_amount  # no order for crumbs under 1 BYN left by FIFO splits

    # ------------------------------------------------------------------ issue
    def issue(
        self, incident_id: str, result: TraceResult, *, now: datetime, currency: str = "BYN"
    ) -> Issued:
        """Write the orders a trace calls for; those already issued for this incident are left alone."""
        planned = lifecycle.plan_orders(incident_id, result, issued_at=now, currency=currency,
                                        deadline=self.deadline, min_amount=self.min_amount)
        if not planned:
            return Issued([], [])
        try:
            with self.engine.begin() as conn:
                have = set(conn.execute(
                    select(freeze_orders.c.order_id).where(freeze_orders.c.incident_id == incident_id)
                ).scalars())
                fresh = lifecycle.new_orders(have, planned)
                if fresh:
                    conn.execute(insert(freeze_orders), [
                        {**_row(o), "updated_at": now} for o in fresh
                    ])
                    conn.execute(insert(order_events), [
                        {"order_id": o.order_id, "status": o.status.value, "amount": o.amount, "at": now}
                        for o in fresh
                    ])
        except IntegrityError:  # a concurrent re-trace of the same incident won the race
            return self.issue(incident_id, result, now=now, currency=currency)
        return Issued(fresh, sorted(have & {o.order_id for o in planned}))

    # ------------------------------------------------------------------ read
    def get(self, order_id: str, bank_id: str | None) -> FreezeOrder:
        """An order as its bank sees it (``bank_id`` None: the police desk sees all)."""
        with self.engine.connect() as conn:
            return self._get(conn, order_id, bank_id)

    def _get(self, conn: Connection, order_id: str, bank_id: str | None) -> FreezeOrder:
        q = select(freeze_orders).where(freeze_orders.c.order_id == order_id)
        if bank_id is not None:
            q = q.where(freeze_orders.c.bank_id == bank_id)
        row = conn.execute(q).mappings().first()
        if row is None:
            raise NotFound(f"no freeze order {order_id!r} for this organisation", field="order_id")
        return _order(row)

    def list(
        self, bank_id: str | None, *, status: OrderStatus | None = None, incident_id: str | None = None,
        limit: int = 100, offset: int = 0,
    ) -> list[FreezeOrder]:
        q = select(freeze_orders).order_by(freeze_orders.c.issued_at, freeze_orders.c.order_id)
        if bank_id is not None:
            q = q.where(freeze_orders.c.bank_id == bank_id)
        if status is not None:
            q = q.where(freeze_orders.c.status == status.value)
        if incident_id is not None:
            q = q.where(freeze_orders.c.incident_id == incident_id)
        with self.engine.connect() as conn:
            return [_order(r) for r in conn.execute(q.limit(limit).offset(offset)).mappings()]

    # ------------------------------------------------------------------ lifecycle
    def _step(
        self, order_id: str, bank_id: str | None, by_org: str | None, now: datetime,
        move: Callable[[FreezeOrder], FreezeOrder], amount: int | None = None,
    ) -> FreezeOrder:
        with self.engine.begin() as conn:
            cur = self._get(conn, order_id, bank_id)
            nxt = move(cur)  # raises Conflict / InvalidInput before anything is written
            done = conn.execute(
                update(freeze_orders)
                .where(freeze_orders.c.order_id == order_id, freeze_orders.c.status == cur.status.value)
                .values(status=nxt.status.value, frozen_amount=nxt.frozen_amount,
                        returned_amount=nxt.returned_amount, updated_at=now)
            )
            if done.rowcount != 1:
                raise Conflict(f"order {order_id} changed meanwhile; read it again", field="status")
            conn.execute(insert(order_events).values(
                order_id=order_id, status=nxt.status.value, amount=amount, by_org=by_org, at=now))
        return nxt

    def acknowledge(self, order_id: str, bank_id: str | None, *, by_org: str | None, now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lifecycle.acknowledge)

    def frozen(self, order_id: str, bank_id: str | None, amount: int, *, by_org: str | None,
               now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lambda o: lifecycle.mark_frozen(o, amount), amount)

    def returned(self, order_id: str, bank_id: str | None, amount: int, *, by_org: str | None,
                 now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lambda o: lifecycle.mark_returned(o, amount), amount)

    def release(self, order_id: str, bank_id: str | None, *, by_org: str | None, now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lifecycle.release)

    def expire_due(self, now: datetime) -> builtins.list[FreezeOrder]:
        """Expire every order whose deadline passed before the bank froze anything."""
        open_ = [OrderStatus.ISSUED.value, OrderStatus.ACKNOWLEDGED.value]
        with self.engine.connect() as conn:
            due = [_order(r) for r in conn.execute(select(freeze_orders).where(
                freeze_orders.c.status.in_(open_), freeze_orders.c.deadline <= now)).mappings()]
        out = []
        for o in due:
            try:
                out.append(self._step(o.order_id, None, None, now, lambda x: lifecycle.expire_due(x, now) or x))
            except Conflict:
                continue
        return out

    # ------------------------------------------------------------------ alerts
    def record_alert(self, alert: CashOutAlert, *, now: datetime) -> bool:
        """Store a cash-out alert once per transfer; False if it was already there."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(cashout_alerts).values(
                    transfer_id=alert.transfer_id, account_id=alert.account_id, kind=alert.kind.value,
                    amount=alert.amount, currency=alert.currency, ts=alert.ts, atm_id=alert.atm_id,
                    payee=alert.payee, payee_bank=alert.payee_bank, country=alert.country, created_at=now))
        except IntegrityError:
            return False
        return True

    def alerts(self, *, since: datetime | None = None, limit: int = 200) -> builtins.list[dict[str, Any]]:
        """The newest cash-out alerts, for the desk: where traced money is leaving and when (courier leads)."""
        q = select(cashout_alerts).order_by(cashout_alerts.c.ts.desc()).limit(limit)
        if since is not None:
            q = q.where(cashout_alerts.c.ts >= since)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        for r in rows:
            for k in ("ts", "created_at"):
                r[k] = r[k].isoformat()
        return rows

    # ------------------------------------------------------------------ webhooks
    def deliver(self, orders: Iterable[FreezeOrder], *, transport: httpx.BaseTransport | None = None,
                now: datetime, timeout_s: float = 5.0) -> int:
        """POST each order to its bank's webhook URL, if the bank set one; returns how many got a 2xx.

        A failed delivery is logged and recorded, never raised: the bank still finds the order
        through ``GET /v1/orders``.
        """
        by_bank: dict[str, list[FreezeOrder]] = {}
        for o in orders:
            by_bank.setdefault(o.bank_id, []).append(o)
        if not by_bank:
            return 0
        with self.engine.connect() as conn:
            hooks = {r.bank_id: r.webhook_url for r in conn.execute(
                select(orgs.c.bank_id, orgs.c.webhook_url).where(
                    orgs.c.bank_id.in_(list(by_bank)), orgs.c.webhook_url.is_not(None)))}
        ok = 0
        events = []
        if not hooks:  # no bank set a webhook: they poll GET /v1/orders (no client to build)
            return 0
        with httpx.Client(transport=transport, timeout=timeout_s) as client:
            for bank_id, url in hooks.items():
                for o in by_bank[bank_id]:
                    try:
                        resp = client.post(url, json={"type": "freeze_order", "order": order_json(o)})
                        good = resp.is_success
                        detail = f"webhook {resp.status_code}"
                    except httpx.HTTPError as exc:
                        good, detail = False, f"webhook failed: {type(exc).__name__}"
                    ok += good
                    if not good:
                        log.warning("webhook_failed", order_id=o.order_id, bank=bank_id, detail=detail)
                    events.append({"order_id": o.order_id, "status": o.status.value, "detail": detail, "at": now})
        if events:
            with self.engine.begin() as conn:
                conn.execute(insert(order_events), events)
        return ok


def _row(o: FreezeOrder) -> dict[str, Any]:
    return {
        "order_id": o.order_id, "incident_id": o.incident_id, "bank_id": o.bank_id,
        "account_id": o.account_id, "amount": o.amount, "currency": o.currency,
        "legal_reference": o.legal_reference, "status": o.status.value, "frozen_amount": o.frozen_amount,
        "returned_amount": o.returned_amount, "issued_at": o.issued_at, "deadline": o.deadline,
    }
