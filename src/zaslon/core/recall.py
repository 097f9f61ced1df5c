"""Which original payments a freeze order's recall (camt.056) and return (pacs.004) quote.

A bank finds a payment by the ids it received it under (UETR, TxId, EndToEndId, InstrId), never by the
exchange's order id. So each order remembers two payments of its trace:

* the *recalled* payment: the one that brought the traced money into the account under the order; the
  bank holding that account received it, so a camt.056 quoting it can be routed and matched there;
* the *victim's* payment: the disputed transfer at the start of the chain that led there; a pacs.004
  returning the money quotes it, so the return is credited to the victim's account.

For a drop paid by the victim directly, both are the same transfer. Pure: the caller reads the transfers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from zaslon.core.trace import Hop


@dataclass(frozen=True, slots=True)
class PaymentRef:
    """An original payment as an ISO 20022 recall or return quotes it."""

    transfer_id: str
    amount: int
    currency: str
    ts: datetime
    payer: str
    payee: str
    payer_bank: str | None
    payee_bank: str | None
    end_to_end_id: str
    tx_id: str | None
    uetr: str | None
    instr_id: str | None
    msg_id: str | None  # the pacs.008 it came in; None: submitted as JSON
    settlement_date: date


@dataclass(frozen=True, slots=True)
class OrderOrigin:
    recalled: PaymentRef
    victim: PaymentRef


@dataclass(frozen=True, slots=True)
class RecallPath:
    recalled: str  # transfer id
    victim: str  # transfer id


def _carrier(hops: Iterable[Hop]) -> Hop | None:
    """The hop that carried the most traced money (ties: the earliest, then the smallest id)."""
    return min(hops, key=lambda h: (-h.amount, h.ts_us, h.transfer_id), default=None)


def recall_paths(hops: Sequence[Hop], accounts: Iterable[str]) -> dict[str, RecallPath]:
    """For each of ``accounts``: the payment that carried the most traced money into it, and the disputed
    payment (depth 1) that money came from, walking back along the heaviest earlier hop at each level."""
    into: dict[str, list[Hop]] = {}
    for h in hops:
        into.setdefault(h.to_account, []).append(h)
    out: dict[str, RecallPath] = {}
    for account in accounts:
        first = _carrier(into.get(account, ()))
        if first is None:
            continue
        cur = first
        while cur.depth > 1:
            before = _carrier(h for h in into.get(cur.from_account, ())
                              if h.depth == cur.depth - 1 and h.ts_us <= cur.ts_us)
            if before is None:
                break
            cur = before
        out[account] = RecallPath(first.transfer_id, cur.transfer_id)
    return out
