"""SQL payment-id store (``zaslon.flow.ports.payments``) on ``payment_refs`` and ``order_payments``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.engine import RowMapping

from zaslon.adapters.db.tables_iso import order_payments, payment_refs
from zaslon.core.recall import OrderOrigin, PaymentRef
from zaslon.flow.ports.payments import PaymentIds

_CHUNK = 500


class SqlPaymentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_ids(self, org_id: str, ids: Sequence[PaymentIds], *, now: datetime) -> int:
        if not ids:
            return 0
        with self.engine.begin() as conn:
            have = set()
            wanted = [i.transfer_id for i in ids]
            for k in range(0, len(wanted), _CHUNK):
                have |= set(conn.execute(select(payment_refs.c.transfer_id).where(
                    payment_refs.c.org_id == org_id, payment_refs.c.transfer_id.in_(wanted[k:k + _CHUNK]))).scalars())
            rows = [{"transfer_id": i.transfer_id, "org_id": org_id, "msg_id": i.msg_id, "instr_id": i.instr_id,
                     "end_to_end_id": i.end_to_end_id, "tx_id": i.tx_id, "uetr": i.uetr,
                     "settlement_date": i.settlement_date, "created_at": now}
                    for i in ids if i.transfer_id not in have]
            if rows:
                conn.execute(insert(payment_refs), rows)
        return len(rows)

    def ids(self, transfer_ids: Sequence[str]) -> dict[str, PaymentIds]:
        wanted = list(dict.fromkeys(transfer_ids))
        out: dict[str, PaymentIds] = {}
        with self.engine.connect() as conn:
            for k in range(0, len(wanted), _CHUNK):
                for r in conn.execute(select(payment_refs).where(
                        payment_refs.c.transfer_id.in_(wanted[k:k + _CHUNK]))).mappings():
                    out[r["transfer_id"]] = PaymentIds(r["transfer_id"], r["end_to_end_id"], r["tx_id"], r["uetr"],
                                                       r["instr_id"], r["msg_id"], r["settlement_date"])
        return out

    def origin(self, order_id: str) -> OrderOrigin | None:
        with self.engine.connect() as conn:
            rows = {r["role"]: _ref(r) for r in conn.execute(
                select(order_payments).where(order_payments.c.order_id == order_id)).mappings()}
        if "recalled" not in rows or "victim" not in rows:
            return None
        return OrderOrigin(recalled=rows["recalled"], victim=rows["victim"])


def add_origins(conn: Connection, origins: Mapping[str, OrderOrigin]) -> None:
    """Write each order's original payments, inside the order store's transaction that issues the orders."""
    rows: list[dict[str, Any]] = []
    for order_id, o in origins.items():
        rows += [_row(order_id, "recalled", o.recalled), _row(order_id, "victim", o.victim)]
    if rows:
        conn.execute(insert(order_payments), rows)


def _row(order_id: str, role: str, p: PaymentRef) -> dict[str, Any]:
    return {"order_id": order_id, "role": role, "transfer_id": p.transfer_id, "amount": p.amount,
            "currency": p.currency, "ts": p.ts, "payer": p.payer, "payee": p.payee, "payer_bank": p.payer_bank,
            "payee_bank": p.payee_bank, "end_to_end_id": p.end_to_end_id, "tx_id": p.tx_id, "uetr": p.uetr,
            "instr_id": p.instr_id, "msg_id": p.msg_id, "settlement_date": p.settlement_date}


def _ref(r: RowMapping) -> PaymentRef:
    return PaymentRef(
        transfer_id=r["transfer_id"], amount=int(r["amount"]), currency=r["currency"], ts=r["ts"], payer=r["payer"],
        payee=r["payee"], payer_bank=r["payer_bank"], payee_bank=r["payee_bank"], end_to_end_id=r["end_to_end_id"],
        tx_id=r["tx_id"], uetr=r["uetr"], instr_id=r["instr_id"], msg_id=r["msg_id"],
        settlement_date=r["settlement_date"],
    )
