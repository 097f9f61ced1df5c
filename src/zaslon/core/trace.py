"""Follow a victim's money forward through the ledger to where each part of it is now.

The money of the disputed transfers is a *tagged lot* among each account's other money. Lots are
processed in row (= time) order with a heap, so a lot only ever flows into outflows made after it
arrived, and splits (one lot paying several outflows) and merges (several lots in one outflow) fall
out of the queue arithmetic:

* FIFO (default): an account's money leaves in the order it came in. An outflow consuming the queue
  range ``[d_before, d_after)`` carries the tagged share of every lot it overlaps.
* haircut: every outflow carries the tagged share of the account's balance at that moment.

The trace stops at sinks (cash at an ATM, an account abroad, a crypto exchange, a freeze) and at
``max_depth`` hops; Brazil's MED 2.0 follows about five levels, the default here is six. Whatever has
not moved on by ``upto`` is still in the account and can be frozen. Every minor unit of the seeds ends
in exactly one holding or exit, so the result always balances; a transfer never carries more tagged
money than its amount (a seed that other seeds' money also reaches is counted once).
Pure: numpy only.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from zaslon.core.ledger import Dest, Ledger


class Method(StrEnum):
    FIFO = "fifo"
    HAIRCUT = "haircut"


class ExitKind(StrEnum):
    CASH_OUT = "cash_out"  # courier lead: ATM, time, card/account
    ABROAD = "abroad"  # cross-border request: bank, country
    CRYPTO = "crypto"  # a crypto exchange's account
    FROZEN = "frozen"  # sits under an earlier freeze
    DEPTH_LIMIT = "depth_limit"  # moved on from an account at the last followed hop
    DISPERSED = "dispersed"  # split into parts below ``min_amount``
    SPENT = "spent"  # paid to a merchant for goods: the merchant's takings are not the victim's money


@dataclass(frozen=True, slots=True)
class Holding:
    """Traced money still in an account at ``upto``: what a freeze order asks for."""

    account_id: str
    bank_id: str | None
    amount: int
    depth: int
    first_arrival_us: int


@dataclass(frozen=True, slots=True)
class Exit:
    kind: ExitKind
    amount: int
    depth: int
    from_account: str
    transfer_id: str | None = None
    ts_us: int | None = None
    to_account: str | None = None
    bank_id: str | None = None
    country: str | None = None
    atm_id: str | None = None


@dataclass(frozen=True, slots=True)
class Hop:
    """A transfer that carried traced money (the disputed transfers are depth 1)."""

    transfer_id: str
    ts_us: int
    from_account: str
    to_account: str
    amount: int  # traced part of the transfer
    depth: int


@dataclass(frozen=True, slots=True)
class Feeder:
    """Money from outside the trace into an account that held traced money: likely another victim."""

    transfer_id: str
    ts_us: int
    payer: str
    payer_party: str | None
    into_account: str
    amount: int


@dataclass(frozen=True, slots=True)
class TraceResult:
    traced: int
    holdings: tuple[Holding, ...]
    exits: tuple[Exit, ...]
    hops: tuple[Hop, ...]
    feeders: tuple[Feeder, ...] = ()
    accounts: frozenset[str] = field(default_factory=frozenset)

    @property
    def held(self) -> int:
        return sum(h.amount for h in self.holdings)

    def exited(self, kind: ExitKind) -> int:
        return sum(e.amount for e in self.exits if e.kind is kind)


def _share(g: int, a: int, x: np.ndarray) -> np.ndarray:
    """Tagged part of the first ``x`` units of a lot of ``a`` units of which ``g`` are tagged."""
    if g == a:
        return x.astype(np.int64)
    if a and g * a < 2**62:
        return (np.int64(g) * x.astype(np.int64)) // np.int64(a)
    return np.array([g * int(v) // a for v in x], dtype=np.int64)


def _fifo(ledger: Ledger, acc: int, row: int, g: int, upto: int) -> tuple[np.ndarray, np.ndarray]:
    """Outflow rows of ``acc`` that carry lot ``row`` and the tagged amount each carries."""
    v = ledger.view(acc)
    i = int(np.searchsorted(v.in_rows, row))
    a = int(ledger.amount[row])
    start = int(v.cum_in[i])
    end = start + a
    k_hi = int(np.searchsorted(v.out_rows, upto))
    lo = int(np.searchsorted(v.d_after[:k_hi], start, side="right"))
    hi = int(np.searchsorted(v.d_before[:k_hi], end, side="left"))
    if hi <= lo:
        return v.out_rows[:0], v.out_rows[:0]
    p = np.maximum(v.d_before[lo:hi], start) - start
    q = np.minimum(v.d_after[lo:hi], end) - start
    carried = _share(g, a, q) - _share(g, a, p)
    return v.out_rows[lo:hi], carried


def _haircut(ledger: Ledger, acc: int, row: int, g: int, upto: int) -> tuple[np.ndarray, np.ndarray]:
    """Every later outflow carries the lot's share of the balance it leaves from."""
    v = ledger.view(acc)
    k0 = int(np.searchsorted(v.out_rows, row, side="right"))
    k_hi = int(np.searchsorted(v.out_rows, upto))
    if k_hi <= k0:
        return v.out_rows[:0], v.out_rows[:0]
    tracked = (v.d_after[k0:k_hi] - v.d_before[k0:k_hi]).astype(np.float64)
    bal = v.bal_before[k0:k_hi].astype(np.float64)
    frac = np.clip(np.divide(tracked, bal, out=np.zeros_like(tracked), where=bal > 0), 0.0, 1.0)
    left = np.rint(g * np.cumprod(1.0 - frac)).astype(np.int64)
    carried = np.diff(np.concatenate([[np.int64(g)], left])) * -1
    keep = carried > 0
    return v.out_rows[k0:k_hi][keep], carried[keep]


def trace(
    ledger: Ledger,
    seeds: list[tuple[int, int]],
    *,
    upto: int,
    max_depth: int = 6,
    method: Method = Method.FIFO,
    min_amount: int = 0,
    feeders_lookback_us: int = 3 * 86_400_000_000,
    max_feeders: int = 200,
) -> TraceResult:
    """Trace ``seeds`` (ledger row, tagged amount) through rows ``< upto``.

    A seed whose row is at or after ``upto`` was not recorded at the report time and carries nothing.
    """
    if max_depth < 1:
        raise ValueError("max_depth must be at least 1")
    split = _fifo if method is Method.FIFO else _haircut
    ids, accounts = ledger.transfer_ids, ledger.account_ids
    ts, payer, payee, dest = ledger.ts, ledger.payer, ledger.payee, ledger.dest
    pending: dict[int, list[int]] = {}  # row -> [tagged amount, depth]
    for row, amount in seeds:
        if 0 <= row < upto and amount > 0:
            cur = pending.setdefault(row, [0, 1])
            cur[0] += min(amount, int(ledger.amount[row]) - cur[0])
    heap = list(pending)
    heapq.heapify(heap)
    holdings: dict[int, list[int]] = {}  # account -> [amount, depth, first arrival]
    stuck: dict[tuple[int, ExitKind], list[int]] = {}  # (account, kind) -> [amount, depth]
    exits: list[Exit] = []
    hops: list[Hop] = []
    reached: dict[int, int] = {}  # account -> first tagged arrival (ts)
    seed_payers = {int(payer[r]) for r in pending}
    while heap:
        row = heapq.heappop(heap)
        g, depth = pending.pop(row)
        src, dst = int(payer[row]), int(payee[row])
        hops.append(Hop(ids[row], int(ts[row]), accounts[src], accounts[dst], g, depth))
        kind = Dest(int(dest[row]))
        if kind is Dest.MERCHANT and depth == 1:
            kind = Dest.ACCOUNT  # the victim paid the merchant itself: a fake shop is followed
        if kind is not Dest.ACCOUNT:
            exit_kind = {
                Dest.CASH: ExitKind.CASH_OUT, Dest.ABROAD: ExitKind.ABROAD,
                Dest.CRYPTO: ExitKind.CRYPTO, Dest.FROZEN: ExitKind.FROZEN, Dest.MERCHANT: ExitKind.SPENT,
            }[kind]
            exits.append(Exit(
                exit_kind, g, depth, accounts[src], ids[row], int(ts[row]),
                None if kind in (Dest.CASH, Dest.FROZEN) else accounts[dst],
                ledger.payee_bank(row), ledger.payee_country(row), ledger.atm_id(row),
            ))
            continue
        reached.setdefault(dst, int(ts[row]))
        rows, carried = split(ledger, dst, row, g, upto)
        moved = int(carried.sum()) if len(carried) else 0
        if g - moved:
            h = holdings.setdefault(dst, [0, depth, int(ts[row])])
            h[0] += g - moved
            h[1] = min(h[1], depth)
        if not moved:
            continue
        if depth >= max_depth:
            s = stuck.setdefault((dst, ExitKind.DEPTH_LIMIT), [0, depth])
            s[0] += moved
            continue
        for child, c in zip(rows.tolist(), carried.tolist(), strict=True):
            if c <= 0:
                continue
            if c < min_amount:
                s = stuck.setdefault((dst, ExitKind.DISPERSED), [0, depth])
                s[0] += c
                continue
            nxt = pending.get(child)
            if nxt is None:
                pending[child] = [c, depth + 1]
                heapq.heappush(heap, child)
            else:
                # A row can carry no more than its amount: one that is a seed too (a linked feeder the
                # trace also reaches, e.g. money cycled back into a first drop) is the same money counted
                # twice, once.
                nxt[0] = min(nxt[0] + c, int(ledger.amount[child]))
                nxt[1] = min(nxt[1], depth + 1)
    for (acc, ekind), (amount, depth) in stuck.items():
        exits.append(Exit(ekind, amount, depth, accounts[acc]))
    held = tuple(
        Holding(accounts[acc], ledger.account_bank[acc], amount, depth, first)
        for acc, (amount, depth, first) in sorted(holdings.items(), key=lambda kv: (-kv[1][0], kv[0]))
        if amount > 0
    )
    traced = sum(h.amount for h in held) + sum(e.amount for e in exits)
    feeders = _feeders(ledger, reached, seed_payers, upto, feeders_lookback_us, max_feeders)
    return TraceResult(
        traced, held, tuple(exits), tuple(hops), feeders, frozenset(accounts[a] for a in reached)
    )


def _feeders(
    ledger: Ledger, reached: dict[int, int], seed_payers: set[int], upto: int, lookback_us: int, limit: int
) -> tuple[Feeder, ...]:
    """Backwards: inflows from outside the trace into the accounts it reached, near its time."""
    if not reached or limit <= 0:
        return ()
    ts, payer, amount = ledger.ts, ledger.payer, ledger.amount
    inside = np.fromiter([*reached, *seed_payers], dtype=np.int32)
    picked: list[np.ndarray] = []
    for acc, first in reached.items():
        rows = ledger.in_rows(acc)
        # Row bounds by binary search: no per-row work, even for an account with a million inflows.
        lo = int(np.searchsorted(rows, ledger.upto(first - lookback_us)))
        hi = int(np.searchsorted(rows, upto))
        rows = rows[lo:hi]
        rows = rows[~np.isin(payer[rows], inside)][:limit]
        if len(rows):
            picked.append(np.stack([rows, np.full(len(rows), acc, dtype=np.int64)]))
    if not picked:
        return ()
    both = np.concatenate(picked, axis=1)
    both = both[:, np.argsort(both[0], kind="stable")[:limit]]  # rows are in time order
    return tuple(
        Feeder(
            ledger.transfer_ids[r], int(ts[r]), ledger.account_ids[int(payer[r])],
            ledger.account_party[int(payer[r])], ledger.account_ids[acc], int(amount[r]),
        )
        for r, acc in zip(both[0].tolist(), both[1].tolist(), strict=True)
    )
