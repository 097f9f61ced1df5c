"""The payment-id store: the ids banks' pacs.008 messages gave each transfer, and each order's original payments.

The ids are what a bank finds a payment by (UETR, TxId, EndToEndId, InstrId); an order's original payments
(``zaslon.core.recall``) are written with the order, in its transaction, by the order store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from zaslon.core.recall import OrderOrigin


@dataclass(frozen=True, slots=True)
class PaymentIds:
    transfer_id: str
    end_to_end_id: str
    tx_id: str | None
    uetr: str | None
    instr_id: str | None
    msg_id: str | None
    settlement_date: date | None


class PaymentStore(Protocol):
    def add_ids(self, org_id: str, ids: Sequence[PaymentIds], *, now: datetime) -> int:
        """Keep the ids of transfers ``org_id`` submitted; those kept already stay as they were. Returns how
        many were new."""
        ...

    def ids(self, transfer_ids: Sequence[str]) -> dict[str, PaymentIds]:
        """The ids kept for each of ``transfer_ids`` (a transfer submitted as JSON has none)."""
        ...

    def origin(self, order_id: str) -> OrderOrigin | None:
        """The original payments stored with the order; None for an order issued without them."""
        ...
