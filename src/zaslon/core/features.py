"""Streaming per-account feature state for real-time scoring.

Each account owns one row in a set of fixed-size numpy arrays (about 750 bytes; ``FeatureState.state_bytes``
measures it), so a partition of accounts can live in one worker. A batch of transfers is processed in
event-time order by one compiled kernel (``zaslon.core.features_kernel``): for every transfer it first
writes the features computed from the state *before* that transfer, then folds the transfer into the
payer's and payee's state. Features therefore never see the transfer itself or anything after it, even
inside a micro-batch.

Sliding windows are bucketed rings (10 min: 5 x 2 min, 1 h: 6 x 10 min, 24 h: 12 x 2 h, 7 d: 7 x 1 day,
30 d: 6 x 5 days):
a window of width W at time t covers the buckets of t and the ones before, so it spans between W minus one
bucket and W. Amounts are kept in "relative units": the amount divided by the running geometric mean of
amounts in its currency, which makes features comparable across currencies and lets the model run on a
foreign bank's history (JPY, EUR, ...) without exchange rates.

Knowledge (reported / in case / suspected drop / traced / partner-listed, and how many of an account's
transfers were reported) is read at scoring time from ``zaslon.core.knowledge.Knowledge`` and passed in as
bit flags and counts; it is not copied into the state.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from zaslon.core import features_kernel as K
from zaslon.core.calls import NO_SIGNALS, SIGNAL_NAMES
from zaslon.core.knowledge import AccountFlag
from zaslon.core.money import minor_exponent

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

# name -> (kind, meaning). Kinds are what the rules language checks: float, int or bool.
FEATURE_INFO: dict[str, tuple[str, str]] = {
    "amount_rel_log": ("float", "log of the amount over the running geometric mean amount of its currency"),
    "amount_z_payer": ("float", "z-score of log amount against the payer's own past outgoing amounts (0 if <2)"),
    "payer_age_days": ("float", "days since the payer account was opened (or first seen)"),
    "payer_out_n_10m": ("int", "payer's outgoing transfers in the last 10 minutes"),
    "payer_out_n_1h": ("int", "payer's outgoing transfers in the last hour"),
    "payer_out_n_24h": ("int", "payer's outgoing transfers in the last 24 hours"),
    "payer_out_n_7d": ("int", "payer's outgoing transfers in the last 7 days"),
    "payer_out_sum_10m": ("float", "payer's outgoing amount in the last 10 minutes, relative units"),
    "payer_out_sum_1h": ("float", "payer's outgoing amount in the last hour, relative units"),
    "payer_out_sum_24h": ("float", "payer's outgoing amount in the last 24 hours, relative units"),
    "payer_out_sum_7d": ("float", "payer's outgoing amount in the last 7 days, relative units"),
    "payer_in_n_10m": ("int", "payer's incoming transfers in the last 10 minutes"),
    "payer_in_n_1h": ("int", "payer's incoming transfers in the last hour"),
    "payer_in_n_24h": ("int", "payer's incoming transfers in the last 24 hours"),
    "payer_in_n_7d": ("int", "payer's incoming transfers in the last 7 days"),
    "payer_in_sum_10m": ("float", "payer's incoming amount in the last 10 minutes, relative units"),
    "payer_in_sum_1h": ("float", "payer's incoming amount in the last hour, relative units"),
    "payer_in_sum_24h": ("float", "payer's incoming amount in the last 24 hours, relative units"),
    "payer_in_sum_7d": ("float", "payer's incoming amount in the last 7 days, relative units"),
    "payer_n_out_total": ("int", "payer's outgoing transfers ever seen"),
    "payer_distinct_payees": ("int", "distinct payees the payer has paid before"),
    "first_time_payee": ("bool", "the payer has never paid this payee before"),
    "passthrough_1h": ("float", "share of this amount covered by money the payer received in the last hour"),
    "mins_since_last_in": ("float", "minutes since the payer last received money (10080 if never or longer)"),
    "cross_border": ("bool", "the payee's country differs from the exchange's home country"),
    "new_device": ("bool", "a device id the payer has not used in its last two devices"),
    "new_ip": ("bool", "an IP address the payer has not used in its last two addresses"),
    "payer_elderly": ("bool", "the payer is a person aged 65 or more"),
    "payer_lives_alone": ("bool", "the payer lives alone"),
    "payer_elderly_alone": ("bool", "the payer is elderly and lives alone"),
    "on_flagged_call": ("bool", "the payer is on a call with a flagged number (optional input signal)"),
    "payee_age_days": ("float", "days since the payee account was opened (or first seen)"),
    "payee_in_n_10m": ("int", "payee's incoming transfers in the last 10 minutes"),
    "payee_in_n_1h": ("int", "payee's incoming transfers in the last hour"),
    "payee_in_n_24h": ("int", "payee's incoming transfers in the last 24 hours"),
    "payee_in_n_7d": ("int", "payee's incoming transfers in the last 7 days"),
    "payee_in_sum_10m": ("float", "payee's incoming amount in the last 10 minutes, relative units"),
    "payee_in_sum_1h": ("float", "payee's incoming amount in the last hour, relative units"),
    "payee_in_sum_24h": ("float", "payee's incoming amount in the last 24 hours, relative units"),
    "payee_in_sum_7d": ("float", "payee's incoming amount in the last 7 days, relative units"),
    "payee_out_n_1h": ("int", "payee's outgoing transfers in the last hour"),
    "payee_out_n_24h": ("int", "payee's outgoing transfers in the last 24 hours"),
    "payee_out_sum_1h": ("float", "payee's outgoing amount in the last hour, relative units"),
    "payee_out_sum_24h": ("float", "payee's outgoing amount in the last 24 hours, relative units"),
    "payee_distinct_payers": ("int", "distinct payers that have paid the payee before"),
    "payee_reported": ("bool", "the payee is named in a reported incident"),
    "payee_in_case": ("bool", "the payee is linked to a case"),
    "payee_suspected_drop": ("bool", "mule detection ranks the payee as a likely drop"),
    "payee_traced": ("bool", "traced stolen money reached the payee"),
    "payee_partner_listed": ("bool", "the payee is on a partner country's known-bad list"),
    "payer_flagged": ("bool", "the payer account itself carries any knowledge flag"),
    "payee_is_cash": ("bool", "a cash withdrawal (payee CASH)"),
    "hour_utc": ("float", "hour of the day in UTC"),
    "payee_out_in_ratio_7d": ("float", "payee's outgoing over incoming amount in the last 7 days (drops forward)"),
    "amount_over_in_7d": ("float", "amount over 1 + what the payer received in the last 7 days (draining savings)"),
    "channel_code": ("int", "channel: 0 unknown, 1 mobile, 2 web, 3 branch, 4 card, 5 atm, 6 batch"),
    "payer_age_known": ("bool", "payer_age_days counts from the opening date its bank gave (else from first seen)"),
    "payee_age_known": ("bool", "payee_age_days counts from the opening date its bank gave (else from first seen)"),
    "payer_out_n_30d": ("int", "payer's outgoing transfers in the last 30 days"),
    "payer_out_sum_30d": ("float", "payer's outgoing amount in the last 30 days, relative units"),
    "payer_out_mean_30d": ("float", "payer's mean outgoing amount in the last 30 days, relative units (0 if none)"),
    "payer_out_max_30d": ("float", "payer's largest outgoing amount in the last 15 to 30 days, relative units"),
    "amount_over_max_30d": ("float", "this amount over the payer's largest of the last 15 to 30 days (0 if none)"),
    "payee_reported_n": ("int", "the payee's incoming transfers reported as fraud so far (delayed reports)"),
    "payee_reported_share": ("float", "payee_reported_n over every transfer the payee received so far"),
    "payer_reported_n": ("int", "the payer's own earlier transfers reported as fraud so far"),
    "weekday_utc": ("int", "day of the week in UTC, 0 Monday ... 6 Sunday"),
    # Telecom signals read at scoring time from operators' call events (zaslon.core.calls.CallBook), through
    # the payer account's registered phones; not part of the per-account state.
    "on_risky_call": ("bool", "the payer is on a call now (or hung up within 10 min) with a flagged, spoofed or "
                              "unverified international number"),
    "call_duration_s": ("float", "seconds the payer's current call has lasted so far (the risky one if any; "
                                 "0 if none)"),
    "payer_call_forwarding": ("bool", "the operator reports unconditional call forwarding active on the payer's phone"),
    "payer_sim_swap_days": ("float", "days since the SIM of the payer's phone last changed (3650 if none known)"),
    "stranger_call_s": ("float", "seconds the longest call of the last 4 hours from a number none of the payer's "
                                 "contacts lasted (so far; 0 if none)"),
    "payer_calls_known": ("bool", "operators report calls of the payer's phone (it has call contacts): without it "
                                  "the call signals above are silent, not reassuring"),
}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURE_INFO)
FEATURE_KINDS: dict[str, str] = {k: v[0] for k, v in FEATURE_INFO.items()}
FEATURE_INDEX: dict[str, int] = {k: i for i, k in enumerate(FEATURE_NAMES)}
assert len(FEATURE_NAMES) == K.N_FEATURES
assert FEATURE_INDEX[SIGNAL_NAMES[0]] == K.N_COMPUTED
# What the model trains on: everything but the telecom signals. Their values depend on which operators feed
# call events for which subscribers, which changes as operators connect; a model trained on partial coverage
# learns that coverage (in the tiny demo, with the signals in, vishing's saved share fell from 74% to 70%).
# Rules use them from the first event; a model may add them with ``train(feature_names=FEATURE_NAMES)``.
MODEL_FEATURES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n not in SIGNAL_NAMES)
_CALL_COLS = slice(FEATURE_INDEX[SIGNAL_NAMES[0]], FEATURE_INDEX[SIGNAL_NAMES[-1]] + 1)
assert FEATURE_NAMES[_CALL_COLS] == SIGNAL_NAMES
_NO_SIGNALS = np.asarray(NO_SIGNALS, dtype=np.float32)

CASH = "CASH"
_run_kernel: Any = K.run  # numba dispatcher: typed by the arrays it is given, not by annotations
ELDERLY_AGE = 65.0
CHANNEL_CODES: dict[str, int] = {"mobile": 1, "web": 2, "branch": 3, "card": 4, "atm": 5, "batch": 6}
_EPOCH_DAY = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class AccountProfile:
    """What the exchange knows about an account's owner: used for age and vulnerability."""

    opened_at: datetime | None = None
    birth_date: date | None = None
    lives_alone: bool = False
    kind: str | None = None  # personal / business / merchant / crypto_exchange, where the bank says


@dataclass(slots=True)
class TransferColumns:
    """A batch of transfers as columns (the hot path never builds per-row objects)."""

    payer: Sequence[str]
    payee: Sequence[str]
    ts: I64  # seconds since the epoch, UTC
    amount: npt.NDArray[np.float64]  # major units (minor / 10**exponent)
    currency: Sequence[str]
    payee_country: Sequence[str | None] | None = None
    device: Sequence[str | None] | None = None
    ip: Sequence[str | None] | None = None
    on_flagged_call: npt.NDArray[np.bool_] | None = None
    channel: Sequence[str | None] | None = None
    # Per row, the telecom signals ``zaslon.core.calls.SIGNAL_NAMES`` (float32[n, 6]); None: none known.
    call_signals: F32 | None = None

    def __len__(self) -> int:
        return len(self.payer)


def epoch_seconds(ts: datetime) -> int:
    """Whole seconds since the Unix epoch of an aware datetime."""
    return math.floor((ts - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())


def major_amount(amount_minor: int, currency: str) -> float:
    return float(amount_minor / 10 ** minor_exponent(currency))


def _key(s: str) -> int:
    # A stable 32-bit key (not Python's per-process salted hash) so exported state means the same anywhere.
    return zlib.crc32(s.encode()) or 1


def _hashes(values: Sequence[str | None] | None, n: int) -> npt.NDArray[np.uint32]:
    if values is None:
        return np.zeros(n, dtype=np.uint32)
    return np.fromiter((_key(v) if v else 0 for v in values), dtype=np.uint32, count=n)


class FeatureState:
    """Per-account streaming state for a set of accounts (one partition), plus per-currency scales."""

    def __init__(
        self,
        profiles: Mapping[str, AccountProfile] | None = None,
        *,
        home_country: str = "BY",
        elderly_age: float = ELDERLY_AGE,
        capacity: int = 1024,
    ) -> None:
        self.profiles: Mapping[str, AccountProfile] = profiles or {}
        self.home_country = home_country
        self.elderly_age = elderly_age
        self.index: dict[str, int] = {}
        self.ids: list[str] = []
        self.currencies: dict[str, int] = {}
        self.cur = np.zeros((16, 2), dtype=np.float64)  # per currency: count, running mean of log amount
        self.arrays = K.new_state(capacity)
        # Transfers folded into the state so far. Each fold gets the next number (its "feature sequence"),
        # recorded with its decision, so the state can be rebuilt exactly by folding the stored transfers
        # again in that order (``zaslon.flow.feature_snapshot``).
        self.folded = 0

    def __len__(self) -> int:
        return len(self.ids)

    # ---- account rows ---------------------------------------------------------------------------------
    def _grow(self, need: int) -> None:
        cap = self.arrays[0].shape[0]
        if need <= cap:
            return
        # Grow by a quarter, not double: spare rows count against the 1 KB per account budget too.
        new = K.new_state(max(need, cap + cap // 4 + 1024))
        for old, arr in zip(self.arrays, new, strict=True):
            arr[:cap] = old
        self.arrays = new

    def reserve(self, accounts: int) -> None:
        """Room for ``accounts`` rows in one allocation (a snapshot being loaded)."""
        self._grow(accounts)

    def _add_account(self, account: str) -> int:
        i = len(self.ids)
        self._grow(i + 1)
        self.index[account] = i
        self.ids.append(account)
        prof = self.profiles.get(account)
        st = self.arrays
        st[K.S_KEY][i] = _key(account)
        if prof is not None:
            self._apply(i, prof)
        return i

    def _apply(self, i: int, prof: AccountProfile) -> None:
        st = self.arrays
        if prof.opened_at is not None:
            st[K.S_FIRST][i] = epoch_seconds(prof.opened_at)
        if prof.birth_date is not None:
            st[K.S_BIRTH][i] = prof.birth_date.toordinal() - _EPOCH_DAY
        st[K.S_ALONE][i] = (1 if prof.lives_alone else 0) | (2 if prof.opened_at is not None else 0)

    def apply_profile(self, account: str, prof: AccountProfile) -> None:
        """A bank registered (or changed) the profile of an account already seen: from now on its features use
        it (opening date, owner's age, living alone). Accounts not seen yet pick it up when first seen."""
        i = self.index.get(account)
        if i is not None:
            self._apply(i, prof)

    def indices(self, accounts: Sequence[str]) -> I64:
        """Row of each account, creating rows for accounts never seen; CASH maps to -1 (no state)."""
        get = self.index.get
        out = np.empty(len(accounts), dtype=np.int64)
        for j, a in enumerate(accounts):
            i = get(a)
            if i is None:
                i = -1 if a == CASH else self._add_account(a)
            out[j] = i
        return out

    def _currency_ids(self, currencies: Sequence[str]) -> npt.NDArray[np.int32]:
        get = self.currencies.get
        out = np.empty(len(currencies), dtype=np.int32)
        for j, c in enumerate(currencies):
            k = get(c)
            if k is None:
                k = self.currencies[c] = len(self.currencies)
                if k >= self.cur.shape[0]:
                    self.cur = np.concatenate([self.cur, np.zeros_like(self.cur)])
            out[j] = k
        return out

    # ---- the hot path ----------------------------------------------------------------------------------
    def process(
        self,
        batch: TransferColumns,
        payer_flags: I64,
        payee_flags: I64,
        *,
        payee_reported_n: I64 | None = None,
        payer_reported_n: I64 | None = None,
        update: bool = True,
    ) -> F32:
        """Features of each transfer from the state before it; then (if ``update``) fold it in.

        Rows must be in event-time order (ties keep their given order). Returns float32[n, F].
        ``payee_reported_n`` / ``payer_reported_n``: reported transfers into the payee / made by the payer known
        at scoring time (``Knowledge.reported_in`` / ``reported_out``); zero when not given.
        """
        n = len(batch)
        no_reports = np.zeros(n, dtype=np.int64)
        payer_idx = self.indices(batch.payer)
        payee_idx = self.indices(batch.payee)
        cur_idx = self._currency_ids(batch.currency)
        if batch.payee_country is None:
            cross = np.zeros(n, dtype=np.uint8)
        else:
            home = self.home_country
            cross = np.fromiter((1 if c and c != home else 0 for c in batch.payee_country), np.uint8, n)
        call = (
            np.zeros(n, dtype=np.uint8)
            if batch.on_flagged_call is None
            else np.asarray(batch.on_flagged_call, dtype=np.uint8)
        )
        if batch.channel is None:
            chan = np.zeros(n, dtype=np.uint8)
        else:
            codes = CHANNEL_CODES
            chan = np.fromiter((codes.get(str(c), 0) if c else 0 for c in batch.channel), np.uint8, n)
        out = np.empty((n, K.N_FEATURES), dtype=np.float32)
        _run_kernel(
            payer_idx,
            payee_idx,
            np.ascontiguousarray(batch.ts, dtype=np.int64),
            np.ascontiguousarray(batch.amount, dtype=np.float64),
            cur_idx,
            cross,
            _hashes(batch.device, n),
            _hashes(batch.ip, n),
            call,
            chan,
            np.ascontiguousarray(payer_flags, dtype=np.int64),
            np.ascontiguousarray(payee_flags, dtype=np.int64),
            no_reports if payee_reported_n is None else np.ascontiguousarray(payee_reported_n, dtype=np.int64),
            no_reports if payer_reported_n is None else np.ascontiguousarray(payer_reported_n, dtype=np.int64),
            self.cur,
            *self.arrays,
            self.elderly_age,
            update,
            out,
        )
        out[:, _CALL_COLS] = _NO_SIGNALS if batch.call_signals is None else batch.call_signals
        if update:
            self.folded += n
        return out

    def distinct_payers(self, account: str) -> int:
        """How many distinct payers have paid ``account`` so far (0 if never seen)."""
        i = self.index.get(account)
        return 0 if i is None else int(self.arrays[K.S_NDIST][i, 1])

    # ---- measurement -----------------------------------------------------------------------------------
    def array_bytes_per_account(self) -> int:
        """Bytes of numpy state one account row takes."""
        return sum(a.itemsize * int(np.prod(a.shape[1:], dtype=np.int64)) for a in self.arrays)

    def index_bytes_per_account(self) -> float:
        """Measured Python overhead of the id -> row map and id list, per account (0 if empty)."""
        import sys

        n = len(self.ids)
        if n == 0:
            return 0.0
        total = sys.getsizeof(self.index) + sys.getsizeof(self.ids)
        total += sum(sys.getsizeof(s) for s in self.ids)  # the id strings the map keeps alive
        return total / n

    def state_bytes_per_account(self) -> float:
        return self.array_bytes_per_account() + self.index_bytes_per_account()


def report_counts(accounts: Sequence[str], counts: Mapping[str, int]) -> I64 | None:
    """Reported transfers of each account (``Knowledge.reported_in`` / ``reported_out``); None when none are."""
    if not counts:
        return None
    get = counts.get
    return np.fromiter((get(a, 0) for a in accounts), dtype=np.int64, count=len(accounts))


def knowledge_flags(accounts: Sequence[str], flags: Mapping[str, AccountFlag]) -> I64:
    """Knowledge flags of each account as int64 bits (one dict look-up per row)."""
    get = flags.get
    return np.fromiter((get(a, 0) for a in accounts), dtype=np.int64, count=len(accounts))


def lapse_traced(payer_f: I64, payers: Sequence[str], ts: I64, traced_until: Mapping[str, int]) -> I64:
    """Payer flags as ``Knowledge.at`` reads them, for a batch: TRACED becomes TRACE_LAPSED on the rows after
    the payer's protection window (only TRACED rows are looked at: nearly none)."""
    rows = np.flatnonzero(payer_f & int(AccountFlag.TRACED))
    if not rows.size or not traced_until:
        return payer_f
    out = payer_f
    for i in rows.tolist():
        until = traced_until.get(payers[i])
        if until is not None and int(ts[i]) > until:
            if out is payer_f:
                out = payer_f.copy()
            out[i] = (int(out[i]) & ~int(AccountFlag.TRACED)) | int(AccountFlag.TRACE_LAPSED)
    return out


def row_dict(x: F32, i: int) -> dict[str, float | int | bool]:
    """One row of features as a name -> value mapping with the declared kinds (for rules and reports)."""
    out: dict[str, float | int | bool] = {}
    for j, name in enumerate(FEATURE_NAMES):
        kind = FEATURE_KINDS[name]
        v = float(x[i, j])
        out[name] = bool(v) if kind == "bool" else int(v) if kind == "int" else v
    return out
