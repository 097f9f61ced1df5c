"""An in-memory, append-only ledger of transfers indexed for tracing.

Rows are transfers in event-time order (the row number *is* the time order). Per account the ledger
keeps CSR arrays of outgoing and incoming rows (each slice sorted by row, hence by time), so a trace
only touches the accounts reachable from the victim's transfers. New transfers go to a small tail
that is merged into the CSR arrays when it grows (``compact``), so appends stay O(1) amortised.

Per account the ledger derives FIFO queue positions once and caches them until the account changes:
an outflow consumes the queue range ``[d_before, d_after)`` of the account's cumulative inflows. With
the opening balance unknown, it is taken as zero: an outflow larger than the money recorded as
received is paid partly from *untracked* funds, which never carry traced money.
Pure: numpy only, no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from zaslon.core.types import CASH_SINK

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]

FROZEN_SINK = "FROZEN"
"""Payee of the synthetic row a bank's freeze adds: frozen money can no longer leave the account."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(ts: datetime) -> int:
    """A timezone-aware timestamp as integer microseconds since the Unix epoch."""
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


class Dest(IntEnum):
    """Where a transfer puts the money."""

    ACCOUNT = 0  # a domestic account: the trace follows it
    CASH = 1  # an ATM withdrawal: a courier lead
    ABROAD = 2  # an account in another country: a cross-border request
    CRYPTO = 3  # a crypto exchange's account
    FROZEN = 4  # already frozen on an earlier order
    MERCHANT = 5  # a merchant: followed only when the victim paid it directly (a fake shop)


@dataclass(frozen=True, slots=True)
class AccountView:
    """One account's rows and FIFO positions, as of ``n_rows`` ledger rows."""

    in_rows: I64  # incoming rows, ascending
    cum_in: I64  # len(in_rows) + 1: queue position where each inflow starts (0 first)
    out_rows: I64  # outgoing rows, ascending
    d_before: I64  # queue position consumed before each outflow
    d_after: I64  # queue position consumed after each outflow
    bal_before: I64  # tracked balance just before each outflow


class _Codes:
    """Interns repeated strings (banks, countries, ATMs) as small integers."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def code(self, value: str | None) -> int:
        if value is None:
            return -1
        got = self.index.get(value)
        if got is None:
            got = len(self.values)
            self.index[value] = got
            self.values.append(value)
        return got

    def value(self, code: int) -> str | None:
        return None if code < 0 else self.values[code]


class _Column:
    """A growable numpy column with amortised O(1) append (grown by half: spare rows are resident memory)."""

    def __init__(self, dtype: type[np.generic], data: npt.NDArray[np.generic] | None = None) -> None:
        self.data = np.zeros(1024, dtype=dtype) if data is None else np.asarray(data, dtype=dtype).copy()
        self.n = 0 if data is None else len(self.data)

    def reserve(self, need: int) -> None:
        if need > len(self.data):
            grown = np.empty(max(need, 1024, len(self.data) + len(self.data) // 2), dtype=self.data.dtype)
            grown[: self.n] = self.data[: self.n]
            self.data = grown

    def append(self, value: int) -> None:
        if self.n == len(self.data):
            self.reserve(self.n + 1)
        self.data[self.n] = value
        self.n += 1

    def extend(self, values: npt.NDArray[np.generic]) -> None:
        self.reserve(self.n + len(values))
        self.data[self.n : self.n + len(values)] = values
        self.n += len(values)

    def view(self) -> npt.NDArray[np.generic]:
        return self.data[: self.n]


class TransferIds(Sequence[str]):
    """The ledger's transfer ids by row, packed: the part before a ``/`` (the submitting organisation in a
    ``transfer_key``) as a small code, the rest as UTF-8 in one buffer. A Python string, its list slot and its
    index entry per row cost about 190 bytes; this, about 12 plus the id's own length."""

    def __init__(self, ids: Sequence[str] = ()) -> None:
        self.prefixes = _Codes()
        self._pre = _Column(np.int32)
        self._end = _Column(np.int64)  # end of each row's bytes in _blob
        self._blob = bytearray()
        self.extend(ids)

    def append(self, transfer_id: str) -> None:
        pre, sep, rest = transfer_id.partition("/")
        code = self.prefixes.code(pre) if sep else -1
        self._blob += (rest if sep else transfer_id).encode()
        self._pre.append(code)
        self._end.append(len(self._blob))

    def extend(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        joined = "".join(ids)
        if "/" in joined or not joined.isascii():
            for t in ids:
                self.append(t)
            return
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))  # ASCII: a character is a byte
        self._pre.extend(np.full(len(ids), -1, dtype=np.int32))
        self._end.extend(len(self._blob) + np.cumsum(lengths))
        self._blob += joined.encode()

    def __len__(self) -> int:
        return self._end.n

    def __getitem__(self, row: int) -> str:  # type: ignore[override]
        n = self._end.n
        if row < 0:
            row += n
        if not 0 <= row < n:
            raise IndexError(row)
        lo = int(self._end.data[row - 1]) if row else 0
        rest = self._blob[lo : int(self._end.data[row])].decode()
        code = int(self._pre.data[row])
        return rest if code < 0 else f"{self.prefixes.values[code]}/{rest}"

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))


class Ledger:
    """Transfers by row, accounts by index, CSR indexes by payer and by payee."""

    def __init__(self, *, home_country: str = "BY", compact_every: int = 50_000) -> None:
        self.home_country = home_country
        self.compact_every = compact_every
        self.account_index: dict[str, int] = {}
        self.account_ids: list[str] = []
        self.account_bank: list[str | None] = []
        self.account_party: list[str | None] = []
        self._crypto: set[int] = set()
        self._foreign: set[int] = set()
        self._merchant: set[int] = set()
        self.banks = _Codes()
        self.countries = _Codes()
        self.atms = _Codes()
        self.transfer_ids = TransferIds()
        self._id_hash = _Column(np.int64)  # hash() of each row's id; sorted at compaction for ``find``
        self._hash_sorted: I64 = np.zeros(0, dtype=np.int64)
        self._hash_rows: I64 = np.zeros(0, dtype=np.int64)
        self._ts = _Column(np.int64)
        self._payer = _Column(np.int32)
        self._payee = _Column(np.int32)
        self._amount = _Column(np.int64)
        self._dest = _Column(np.int8)
        self._payee_bank = _Column(np.int32)
        self._payee_country = _Column(np.int32)
        self._atm = _Column(np.int32)
        self._n_main = 0
        self._out_ptr: I64 = np.zeros(1, dtype=np.int64)
        self._out_rows: I64 = np.zeros(0, dtype=np.int64)
        self._in_ptr: I64 = np.zeros(1, dtype=np.int64)
        self._in_rows: I64 = np.zeros(0, dtype=np.int64)
        self._out_tail: dict[int, list[int]] = {}
        self._in_tail: dict[int, list[int]] = {}
        self._views: dict[int, AccountView] = {}

    # ----------------------------------------------------------------- accounts
    def add_account(
        self, account_id: str, *, bank_id: str | None, party_id: str | None = None,
        crypto_exchange: bool = False, country: str | None = None, merchant: bool = False,
    ) -> int:
        idx = self.account_index.get(account_id)
        if idx is None:
            idx = len(self.account_ids)
            self.account_index[account_id] = idx
            self.account_ids.append(account_id)
            self.account_bank.append(bank_id)
            self.account_party.append(party_id)
        else:
            self.account_bank[idx] = bank_id or self.account_bank[idx]
            self.account_party[idx] = party_id or self.account_party[idx]
        if crypto_exchange:
            self._crypto.add(idx)
        if merchant:
            self._merchant.add(idx)
        if country is not None and country != self.home_country:
            self._foreign.add(idx)
        return idx

    def _account(self, account_id: str, bank_id: str | None) -> int:
        idx = self.account_index.get(account_id)
        return idx if idx is not None else self.add_account(account_id, bank_id=bank_id)

    @property
    def n_accounts(self) -> int:
        return len(self.account_ids)

    # ----------------------------------------------------------------- transfers
    @property
    def tail_rows(self) -> int:
        """Rows appended since the last compaction (looked up through the slower tail index)."""
        return self._ts.n - self._n_main

    @property
    def n_rows(self) -> int:
        return self._ts.n

    @property
    def ts(self) -> I64:
        return self._ts.view()  # type: ignore[return-value]

    @property
    def payer(self) -> I32:
        return self._payer.view()  # type: ignore[return-value]

    @property
    def payee(self) -> I32:
        return self._payee.view()  # type: ignore[return-value]

    @property
    def amount(self) -> I64:
        return self._amount.view()  # type: ignore[return-value]

    @property
    def dest(self) -> I8:
        return self._dest.view()  # type: ignore[return-value]

    def payee_bank(self, row: int) -> str | None:
        return self.banks.value(int(self._payee_bank.data[row]))

    def payee_country(self, row: int) -> str | None:
        return self.countries.value(int(self._payee_country.data[row]))

    def atm_id(self, row: int) -> str | None:
        return self.atms.value(int(self._atm.data[row]))

    def _dest_of(self, payee: str, payee_idx: int, payee_country: str | None) -> Dest:
        if payee == CASH_SINK:
            return Dest.CASH
        if payee == FROZEN_SINK:
            return Dest.FROZEN
        if payee_idx in self._crypto:
            return Dest.CRYPTO
        if (payee_country is not None and payee_country != self.home_country) or payee_idx in self._foreign:
            return Dest.ABROAD
        if payee_idx in self._merchant:
            return Dest.MERCHANT
        return Dest.ACCOUNT

    def append(
        self, transfer_id: str, ts_us: int, payer: str, payee: str, amount: int, *,
        payer_bank: str | None = None, payee_bank: str | None = None,
        payee_country: str | None = None, atm_id: str | None = None,
    ) -> int:
        """Record one executed transfer; returns its row. Transfers must come in time order."""
        if self._ts.n and ts_us < int(self._ts.data[self._ts.n - 1]):
            raise ValueError("transfers must be appended in time order")
        p = self._account(payer, payer_bank)
        q = self._account(payee, payee_bank)
        row = self._ts.n
        self.transfer_ids.append(transfer_id)
        self._id_hash.append(hash(transfer_id))
        self._ts.append(ts_us)
        self._payer.append(p)
        self._payee.append(q)
        self._amount.append(amount)
        self._dest.append(int(self._dest_of(payee, q, payee_country)))
        self._payee_bank.append(self.banks.code(payee_bank))
        self._payee_country.append(self.countries.code(payee_country))
        self._atm.append(self.atms.code(atm_id))
        if p != q:  # a transfer to oneself moves nothing
            self._out_tail.setdefault(p, []).append(row)
            self._in_tail.setdefault(q, []).append(row)
            self._views.pop(p, None)
            self._views.pop(q, None)
        if row + 1 - self._n_main >= self.compact_every:
            self.compact()
        return row

    def load(
        self, transfer_ids: list[str], ts_us: I64, payer: I32, payee: I32, amount: I64, *,
        payee_bank: I32, payee_country: I32, atm: I32,
    ) -> None:
        """Bulk-load rows already encoded against this ledger's accounts and code tables.

        ``payee_bank``/``payee_country``/``atm`` are codes from ``banks``/``countries``/``atms``
        (-1 for none). The rows must be sorted by time and come before any appended row.
        """
        if self.n_rows:
            raise ValueError("bulk load only into an empty ledger")
        if len(ts_us) > 1 and bool(np.any(np.diff(ts_us) < 0)):
            raise ValueError("rows must be sorted by time")
        self.transfer_ids = TransferIds(transfer_ids)
        self._id_hash = _Column(np.int64, np.fromiter(map(hash, transfer_ids), dtype=np.int64,
                                                      count=len(transfer_ids)))
        self._hash_sorted, self._hash_rows = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        self._ts = _Column(np.int64, ts_us)
        self._payer = _Column(np.int32, payer)
        self._payee = _Column(np.int32, payee)
        self._amount = _Column(np.int64, amount)
        self._payee_bank = _Column(np.int32, payee_bank)
        self._payee_country = _Column(np.int32, payee_country)
        self._atm = _Column(np.int32, atm)
        dest = np.full(len(ts_us), int(Dest.ACCOUNT), dtype=np.int8)
        if self._merchant:
            dest[np.isin(payee, np.fromiter(self._merchant, dtype=np.int32))] = int(Dest.MERCHANT)
        home = self.countries.index.get(self.home_country, -2)
        dest[(payee_country >= 0) & (payee_country != home)] = int(Dest.ABROAD)
        if self._foreign:
            dest[np.isin(payee, np.fromiter(self._foreign, dtype=np.int32))] = int(Dest.ABROAD)
        if self._crypto:
            dest[np.isin(payee, np.fromiter(self._crypto, dtype=np.int32))] = int(Dest.CRYPTO)
        for sink, kind in ((CASH_SINK, Dest.CASH), (FROZEN_SINK, Dest.FROZEN)):
            idx = self.account_index.get(sink)
            if idx is not None:
                dest[payee == idx] = int(kind)
        self._dest = _Column(np.int8, dest)
        self._n_main = 0
        self.compact()

    def compact(self) -> None:
        """Merge the tail into the CSR arrays (a stable sort keeps each slice in time order)."""
        n, na = self.n_rows, self.n_accounts
        payer, payee = self.payer, self.payee
        moving = np.nonzero(payer != payee)[0].astype(np.int64)
        order = np.argsort(payer[moving], kind="stable")
        self._out_rows = moving[order]
        self._out_ptr = np.zeros(na + 1, dtype=np.int64)
        np.cumsum(np.bincount(payer[moving], minlength=na), out=self._out_ptr[1:])
        order = np.argsort(payee[moving], kind="stable")
        self._in_rows = moving[order]
        self._in_ptr = np.zeros(na + 1, dtype=np.int64)
        np.cumsum(np.bincount(payee[moving], minlength=na), out=self._in_ptr[1:])
        # The ids' hashes: the tail's, sorted, merged into the sorted main part (no sort of the whole ledger).
        tail = self._id_hash.view()[self._n_main : n]
        order = np.argsort(tail, kind="stable")
        at = np.searchsorted(self._hash_sorted, tail[order], side="right")
        self._hash_sorted = np.insert(self._hash_sorted, at, tail[order])
        self._hash_rows = np.insert(self._hash_rows, at, order.astype(np.int64) + self._n_main)
        self._n_main = n
        self._out_tail.clear()
        self._in_tail.clear()
        self._views.clear()

    def find(self, transfer_id: str) -> int | None:
        """The row of ``transfer_id`` (the last one, were it appended twice), or None."""
        h = hash(transfer_id)
        lo = int(np.searchsorted(self._hash_sorted, h, side="left"))
        hi = int(np.searchsorted(self._hash_sorted, h, side="right"))
        rows = self._hash_rows[lo:hi].tolist()
        tail = self._id_hash.data[self._n_main : self._ts.n]
        rows += (np.flatnonzero(tail == h) + self._n_main).tolist()
        for r in sorted(rows, reverse=True):
            if self.transfer_ids[r] == transfer_id:
                return int(r)
        return None

    def _rows(self, ptr: I64, rows: I64, tail: dict[int, list[int]], acc: int) -> I64:
        main = rows[ptr[acc] : ptr[acc + 1]] if acc + 1 < len(ptr) else rows[:0]
        extra = tail.get(acc)
        if not extra:
            return main
        return np.concatenate([main, np.asarray(extra, dtype=np.int64)])

    def out_rows(self, acc: int) -> I64:
        return self._rows(self._out_ptr, self._out_rows, self._out_tail, acc)

    def in_rows(self, acc: int) -> I64:
        return self._rows(self._in_ptr, self._in_rows, self._in_tail, acc)

    def upto(self, ts_us: int) -> int:
        """Number of rows strictly before ``ts_us``: what a trace at that moment may see."""
        return int(np.searchsorted(self.ts, ts_us, side="left"))

    def view(self, acc: int) -> AccountView:
        """FIFO positions of one account over every row it has (cached until it changes)."""
        got = self._views.get(acc)
        if got is not None:
            return got
        amount = self.amount
        in_rows = self.in_rows(acc)
        out_rows = self.out_rows(acc)
        cum_in = np.zeros(len(in_rows) + 1, dtype=np.int64)
        np.cumsum(amount[in_rows], out=cum_in[1:])
        out_amt = amount[out_rows]
        # Received before each outflow (an account's in- and out-rows never share a row number).
        received = cum_in[np.searchsorted(in_rows, out_rows)]
        spent = np.cumsum(out_amt)
        # FIFO with zero opening balance: d_after[k] = min(d_after[k-1] + out[k], received[k]),
        # which unrolls to spent[k] + min(0, min_{j<=k}(received[j] - spent[j])).
        d_after = spent + np.minimum(0, np.minimum.accumulate(received - spent)) if len(out_rows) else spent
        d_before = np.concatenate([np.zeros(min(1, len(d_after)), dtype=np.int64), d_after[:-1]])
        got = AccountView(in_rows, cum_in, out_rows, d_before, d_after.astype(np.int64), received - d_before)
        self._views[acc] = got
        return got


def distinct_payers(ledger: Ledger, acc: int, upto: int) -> int:
    """How many different accounts paid ``acc`` in rows before ``upto``."""
    rows = ledger.in_rows(acc)
    rows = rows[: int(np.searchsorted(rows, upto))]
    return int(np.unique(ledger.payer[rows]).shape[0])
