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

import structlog

from zaslon.adapters.db.stores.orders import SqlOrderStore
from zaslon.adapters.db.stores.payments import SqlPaymentStore
from zaslon.adapters.db.stores.transfers import SqlTransferStore
from zaslon.core import orders as lifecycle
from zaslon.core.cashout import CashOutAlert
from zaslon.core.recall import OrderOrigin, PaymentRef, recall_paths
from zaslon.core.trace import TraceResult
from zaslon.core.types import FreezeOrder, OrderStatus, split_transfer_key
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
                 legal_reference: str = lifecycle.LEGAL_REFERENCE, order_type: str = "freeze",
                 min_amount: int = 100) -> None:
        self.engine = engine
        self.store: OrderStore = SqlOrderStore(engine)
        self.deadline, self.legal_reference, self.order_type = deadline, legal_reference, order_type
        self.payments: PaymentStore = SqlPaymentStore(engine)
        self.transfers: TransferStore = SqlTransferStore(engine)
        self.min_amount = min_amount  # no order for crumbs under 1 BYN left by FIFO splits

    # ------------------------------------------------------------------ issue
    def issue(
        self, incident_id: str, result: TraceResult, *, now: datetime, currency: str = "BYN",
        needs_confirmation: Callable[[str], bool] | None = None,
    ) -> Issued:
        """Write the orders a trace calls for; those already issued for this incident are left alone. Orders on
        accounts ``needs_confirmation`` names wait for the desk as ``pending_confirmation``."""
        planned = lifecycle.plan_orders(incident_id, result, issued_at=now, currency=currency,
                                        deadline=self.deadline, min_amount=self.min_amount,
                                        legal_reference=self.legal_reference, order_type=self.order_type,
                                        needs_confirmation=needs_confirmation)
        if not planned:
            return Issued([], [])
        origins = self._origins(planned, result)
        fresh, have = self.store.add_new(incident_id, planned, now=now, origins=origins)
        return Issued(fresh, sorted(have & {o.order_id for o in planned}))

    def _origins(self, planned: builtins.list[FreezeOrder], result: TraceResult) -> dict[str, OrderOrigin]:
        """Each order's original payments (``zaslon.core.recall``), as the banks submitted them."""
        paths = recall_paths(result.hops, {o.account_id for o in planned})
        wanted = {t for p in paths.values() for t in (p.recalled, p.victim)}
        # The ledger names a transfer by its submitter and the bank's own id (``transfer_key``).
        named = {key: split_transfer_key(key) if "/" in key else (None, key) for key in wanted}
        ids = self.payments.ids(sorted({tid for _, tid in named.values()}))
        refs: dict[str, PaymentRef] = {}
        for key, (org, tid) in named.items():
            rows = self.transfers.get(org, tid)
            if rows:
                refs[key] = payment_ref(rows[0], ids.get(tid))
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
    def _step(self, order_id: str, bank_id: str | None, by_org: str | None, now: datetime,
              move: Callable[[FreezeOrder], FreezeOrder], detail: str | None = None) -> FreezeOrder:
        return self.store.step(order_id, bank_id, by_org, now, move, detail)

    def acknowledge(self, order_id: str, bank_id: str | None, *, by_org: str | None, now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lifecycle.acknowledge)

    def frozen(self, order_id: str, bank_id: str | None, amount: int, *, by_org: str | None,
               now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lambda o: lifecycle.mark_frozen(o, amount))

    def returned(self, order_id: str, bank_id: str | None, amount: int, *, by_org: str | None,
                 now: datetime) -> FreezeOrder:
        return self._step(order_id, bank_id, by_org, now, lambda o: lifecycle.mark_returned(o, amount))

    def release(self, order_id: str, *, by_org: str | None, now: datetime, reason: str | None = None) -> FreezeOrder:
        return self._step(order_id, None, by_org, now, lifecycle.release, reason)

    def confirm(self, order_id: str, *, by_org: str | None, now: datetime) -> FreezeOrder:
        return self._step(order_id, None, by_org, now, lifecycle.confirm)

    def extend(self, order_id: str, until: datetime, *, by_org: str | None, now: datetime,
               reason: str | None = None) -> FreezeOrder:
        return self._step(order_id, None, by_org, now, lambda o: lifecycle.extend(o, until), reason)

    def expire_due(self, now: datetime) -> builtins.list[FreezeOrder]:
        """Expire every order whose deadline passed before the bank froze anything."""
        out = []
        for o in self.store.open_due(now):
            try:
                out.append(self._step(o.order_id, None, None, now, lambda x: lifecycle.expire_due(x, now) or x))
            except Conflict:
                continue
        return out

    def active_accounts(self) -> set[str]:
        return self.store.active_accounts()

    def active_on(self, account_id: str) -> builtins.list[FreezeOrder]:
        return self.store.active_on(account_id)

    # ------------------------------------------------------------------ alerts
    def record_alert(self, alert: CashOutAlert, *, now: datetime) -> bool:
        """Store a cash-out alert once per transfer; False if it was already there."""
        return self.store.add_alert(alert, now=now)

    def alerts(self, *, since: datetime | None = None, created_after: datetime | None = None,
               limit: int = 200) -> builtins.list[dict[str, Any]]:
        """The newest cash-out alerts, for the desk: where traced money is leaving and when (courier leads)."""
        rows = self.store.alerts(since=since, created_after=created_after, limit=limit)
        for r in rows:
            for k in ("ts", "created_at"):
                r[k] = r[k].isoformat()
        return rows
