"""Freeze orders in the store: issue them from a trace, let the addressed bank move them on, notify it.

A bank sees and moves only orders addressed to its BIC; an order of another bank answers exactly like
an order that does not exist (404), so ids never leak. Each state change is one compare-and-set on the
status in the order store (``flow.ports.orders``), so two racing acknowledgements cannot both win: the loser
gets 409.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from zaslon.adapters.db.stores.orders import SqlOrderStore
from zaslon.adapters.db.stores.payments import SqlPaymentStore
from zaslon.adapters.db.stores.transfers import SqlTransferStore
from zaslon.core import orders as lifecycle
from zaslon.core.cashout import CashOutAlert
from zaslon.core.recall import OrderOrigin, PaymentRef, recall_paths
from zaslon.core.trace import TraceResult
from zaslon.core.types import FreezeOrder, OrderStatus
from zaslon.errors import Conflict
from zaslon.flow.ports.orders import OrderStore
from zaslon.flow.ports.payments import PaymentIds, PaymentStore
from zaslon.flow.ports.transfers import TransferStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Issued:
    created: list[FreezeOrder]
    existing: list[str]  # order ids planned again by a re-trace: nothing written for them


def order_json(o: FreezeOrder) -> dict[str, Any]:
    return {
        "order_id": o.order_id, "incident_id": o.incident_id, "bank_id": o.bank_id,
        "account_id": o.account_id, "amount": o.amount, "currency": o.currency,
        "legal_reference": o.legal_reference, "issued_at": o.issued_at.isoformat(),
        "deadline": o.deadline.isoformat(), "status": o.status.value,
        "frozen_amount": o.frozen_amount, "returned_amount": o.returned_amount,
    }


def payment_ref(row: dict[str, Any], ids: PaymentIds | None) -> PaymentRef:
    """A stored transfer as a recall quotes it. Submitted as JSON, its own id is all it has: the bank gave
    that id, so it is the EndToEndId and the TxId both."""
    ts: datetime = row["ts"]
    return PaymentRef(
        transfer_id=row["transfer_id"], amount=int(row["amount"]), currency=row["currency"], ts=ts,
        payer=row["payer"], payee=row["payee"], payer_bank=row["payer_bank"], payee_bank=row["payee_bank"],
        end_to_end_id=ids.end_to_end_id if ids else row["transfer_id"],
        tx_id=ids.tx_id if ids else row["transfer_id"], uetr=ids.uetr if ids else None,
        instr_id=ids.instr_id if ids else None, msg_id=ids.msg_id if ids else None,
        settlement_date=(ids.settlement_date if ids and ids.settlement_date else ts.date()),
    )


class FreezeStore:
    def __init__(self, engine: Engine, *, deadline: timedelta = lifecycle.DEFAULT_DEADLINE,
                 min_amount: int = 100) -> None:
        self.engine = engine
        self.store: OrderStore = SqlOrderStore(engine)
        self.payments: PaymentStore = SqlPaymentStore(engine)
        self.transfers: TransferStore = SqlTransferStore(engine)
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
        origins = self._origins(planned, result)
        fresh, have = self.store.add_new(incident_id, planned, now=now, origins=origins)
        return Issued(fresh, sorted(have & {o.order_id for o in planned}))

    def _origins(self, planned: builtins.list[FreezeOrder], result: TraceResult) -> dict[str, OrderOrigin]:
        """Each order's original payments (``zaslon.core.recall``), as the banks submitted them."""
        paths = recall_paths(result.hops, {o.account_id for o in planned})
        wanted = {t for p in paths.values() for t in (p.recalled, p.victim)}
        ids = self.payments.ids(sorted(wanted))
        refs: dict[str, PaymentRef] = {}
        for transfer_id in wanted:
            row = self.transfers.get(transfer_id)
            if row is not None:
                refs[transfer_id] = payment_ref(row, ids.get(transfer_id))
        out: dict[str, OrderOrigin] = {}
        for o in planned:
            path = paths.get(o.account_id)
            if path is not None and path.recalled in refs and path.victim in refs:
                out[o.order_id] = OrderOrigin(recalled=refs[path.recalled], victim=refs[path.victim])
        return out

    def origin(self, order_id: str) -> OrderOrigin | None:
        """The original payments of an order (read it first: this does not check who may see it)."""
        return self.payments.origin(order_id)

    def record_payment_ids(self, org_id: str, ids: Iterable[PaymentIds], *, now: datetime) -> int:
        """Keep the ids a bank's pacs.008 gave its transfers, for the recalls and returns that quote them."""
        return self.payments.add_ids(org_id, builtins.list(ids), now=now)

    # ------------------------------------------------------------------ read
    def get(self, order_id: str, bank_id: str | None) -> FreezeOrder:
        """An order as its bank sees it (``bank_id`` None: the police desk sees all)."""
        return self.store.get(order_id, bank_id)

    def list(
        self, bank_id: str | None, *, status: OrderStatus | None = None, incident_id: str | None = None,
        limit: int = 100, offset: int = 0,
    ) -> builtins.list[FreezeOrder]:
        return self.store.orders(bank_id, status=status, incident_id=incident_id, limit=limit, offset=offset)

    # ------------------------------------------------------------------ lifecycle
    def _step(
        self, order_id: str, bank_id: str | None, by_org: str | None, now: datetime,
        move: Callable[[FreezeOrder], FreezeOrder], amount: int | None = None,
    ) -> FreezeOrder:
        return self.store.step(order_id, bank_id, by_org, now, move, amount)

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
        out = []
        for o in self.store.open_due(now):
            try:
                out.append(self._step(o.order_id, None, None, now, lambda x: lifecycle.expire_due(x, now) or x))
            except Conflict:
                continue
        return out

    # ------------------------------------------------------------------ alerts
    def record_alert(self, alert: CashOutAlert, *, now: datetime) -> bool:
        """Store a cash-out alert once per transfer; False if it was already there."""
        return self.store.add_alert(alert, now=now)

    def alerts(self, *, since: datetime | None = None, limit: int = 200) -> builtins.list[dict[str, Any]]:
        """The newest cash-out alerts, for the desk: where traced money is leaving and when (courier leads)."""
        rows = self.store.alerts(since=since, limit=limit)
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
        by_bank: dict[str, builtins.list[FreezeOrder]] = {}
        for o in orders:
            by_bank.setdefault(o.bank_id, []).append(o)
        if not by_bank:
            return 0
        hooks = self.store.webhooks(by_bank)
        ok = 0
        events: builtins.list[tuple[FreezeOrder, str]] = []
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
                    events.append((o, detail))
        self.store.record_deliveries(events, at=now)
        return ok
