"""Drop (mule) detection: rank accounts by how likely they are to be drops, each with its reasons.

Pure and vectorised (numpy). The input is the transfer graph as parallel arrays of dense account
indices; the caller maps account ids to indices and chooses the time unit (seconds for the simulated
country, AMLSim "steps" for the public benchmark). Nothing here reads labels: the only fraud knowledge
it may take is ``seeds``, the accounts the exchange already knows to be bad (reported as payees in
victims' incidents, or found holding traced money) -- exactly what Knowledge holds.

Signals, each scaled to [0, 1] (see docs/linking.md for why each one is there):

* ``fan_in``       many distinct payers into one account inside a short window ("collector" drops
                   gather many victims' money; AMLSim's fan-in typology).
* ``pass_through`` money leaves soon after it came in: share of the inflow matched by outflows inside
                   the window (a drop card "lives a couple of hours"; cash-out "usually within an hour").
* ``cash_out``     share of the inflow withdrawn as cash (ATM) inside the window.
* ``young``        the account received its first money soon after it was opened (freshly recruited drop).
* ``cycle``        money returns to an account through <= ``cycle_max_len`` hops, each forwarding a
                   similar amount inside the window (AMLSim's cycle typology; round-tripping).
* ``close``        share of the inflow that came from known drops (``seeds``), propagated a few hops
                   along the money's direction: downstream of a known drop is the next drop.

The score is a noisy-OR of the weighted signals, so one strong signal is enough to rank an account
high and two weak ones add up; the weights are fixed, documented choices, not fitted to labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from zaslon.core.types import Reason

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

SIGNALS = ("fan_in", "fan_in_feeder", "pass_through", "cash_out", "young", "cycle", "close")


@dataclass(frozen=True, slots=True)
class MuleParams:
    """Windows are in the caller's time unit. Defaults are for seconds (the simulated country)."""

    window: float = 3600.0  # "soon after": cash-out through drops usually within an hour (DESIGN.md)
    amount_tolerance: float = 0.2  # forwarded amount within 20% of what came in (fees, splitting)
    fan_in_min_payers: int = 3  # fewer distinct payers in a window is ordinary life
    young_age: float = 30 * 86400.0  # first inflow within a month of opening
    cycle_max_len: int = 6
    max_links_per_transfer: int = 32  # bounds work at hubs (merchants, exchanges)
    close_hops: int = 3
    close_discount: float = 0.7
    # Known drops rank above the rest, ordered among themselves by their own behaviour, so a payee named
    # in a false or mistaken report (ordinary behaviour) sinks below the real drops.
    seed_floor: float = 0.7
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "fan_in": 0.5,
            # A collector's feeders are its group's own accounts in AML typologies (AMLSim), but victims
            # in a fraud world: off by default, on for AMLSim.
            "fan_in_feeder": 0.0,
            "pass_through": 0.55,
            "cash_out": 0.8,  # most of the inflow withdrawn as cash within the hour: the published drop pattern
            "young": 0.6,
            "cycle": 0.9,
            "close": 0.2,
        }
    )


@dataclass(frozen=True, slots=True)
class TransferArrays:
    """The transfer graph: one row per transfer. ``payee == -1`` with ``is_cash`` marks an ATM withdrawal."""

    payer: IntArray
    payee: IntArray
    amount: FloatArray
    ts: FloatArray
    is_cash: BoolArray

    @classmethod
    def build(
        cls,
        payer: npt.ArrayLike,
        payee: npt.ArrayLike,
        amount: npt.ArrayLike,
        ts: npt.ArrayLike,
        is_cash: npt.ArrayLike | None = None,
    ) -> TransferArrays:
        p = np.asarray(payer, dtype=np.int64)
        q = np.asarray(payee, dtype=np.int64)
        c = np.zeros(len(p), dtype=np.bool_) if is_cash is None else np.asarray(is_cash, dtype=np.bool_)
        return cls(p, q, np.asarray(amount, dtype=np.float64), np.asarray(ts, dtype=np.float64), c)


@dataclass(frozen=True, slots=True)
class MuleRanking:
    scores: FloatArray  # per account index, in [0, 1]
    signals: dict[str, FloatArray]  # per signal, per account, in [0, 1]
    weights: dict[str, float]

    def order(self) -> IntArray:
        """Account indices, most likely drop first (ties broken by index, so the order is stable)."""
        return np.lexsort((np.arange(len(self.scores)), -self.scores)).astype(np.int64)

    def reasons(self, account: int, min_contribution: float = 0.1) -> tuple[Reason, ...]:
        out = []
        for name in SIGNALS:
            value = float(self.signals[name][account])
            contribution = self.weights.get(name, 0.0) * value
            if contribution >= min_contribution:
                out.append(Reason(f"mule.{name}", _DETAIL[name].format(value=value), round(contribution, 3)))
        return tuple(sorted(out, key=lambda r: -r.weight))


_DETAIL = {
    "fan_in": "many unrelated payers sent near-identical amounts in a short window (strength {value:.2f})",
    "fan_in_feeder": "sent a near-identical amount into a collector together with other payers",
    "pass_through": "{value:.0%} of incoming money left again soon after",
    "cash_out": "{value:.0%} of incoming money withdrawn as cash soon after",
    "young": "received money soon after the account was opened",
    "cycle": "money returned to this account through a chain of similar transfers",
    "close": "close in the money graph to known drops (strength {value:.2f})",
}


def _percentile(x: FloatArray, mask: BoolArray) -> FloatArray:
    """Empirical percentile of ``x`` among ``mask`` accounts (0 elsewhere): scale-free, label-free."""
    out = np.zeros(len(x), dtype=np.float64)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return out
    ranks = np.argsort(np.argsort(x[idx], kind="stable"), kind="stable").astype(np.float64)
    out[idx] = (ranks + 1.0) / len(idx)
    return out


def _window_pairs(
    key_a: IntArray, t_a: FloatArray, key_b: IntArray, t_b: FloatArray, window: float, cap: int
) -> tuple[IntArray, IntArray]:
    """All (i, j) with key_a[i] == key_b[j] and t_b[j] - window <= t_a[i] <= t_b[j], at most ``cap``
    most recent i per j. Returns indices into the a- and b-arrays."""
    order_a = np.lexsort((t_a, key_a))
    ka, ta = key_a[order_a], t_a[order_a]
    # Search on (key, time) lexicographically: time offset inside each key block.
    span = float(max(np.max(t_a, initial=0.0), np.max(t_b, initial=0.0)) - min(
        np.min(t_a, initial=0.0), np.min(t_b, initial=0.0)) + window + 1.0)
    base = min(np.min(t_a, initial=0.0), np.min(t_b, initial=0.0))
    comp_a = ka.astype(np.float64) * span + (ta - base)
    comp_hi = key_b.astype(np.float64) * span + (t_b - base)
    hi = np.searchsorted(comp_a, comp_hi, side="right")
    lo = np.searchsorted(comp_a, comp_hi - window, side="left")
    lo = np.maximum(lo, hi - cap)
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    j = np.repeat(np.arange(len(key_b), dtype=np.int64), counts)
    starts = np.repeat(lo, counts)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    i = order_a[starts + offsets]
    return i.astype(np.int64), j


def _fan_in(n: int, tx: TransferArrays, p: MuleParams) -> tuple[FloatArray, FloatArray]:
    """Collectors and their feeders.

    A collector receives near-identical amounts from at least ``fan_in_min_payers`` distinct payers inside
    one window (smurfing / a fan-in typology); payers it also pays back are "related" and do not count.
    Returns (collector strength, feeder strength) per account: a feeder sent into such a burst.
    """
    real = ~tx.is_cash & (tx.payee >= 0)
    payer, payee, ts, amt = tx.payer[real], tx.payee[real], tx.ts[real], tx.amount[real]
    if len(payer) == 0:
        return np.zeros(n), np.zeros(n)
    pair = payer * n + payee
    related = np.isin(pair, payee * n + payer)
    payer, payee, ts, amt = payer[~related], payee[~related], ts[~related], amt[~related]
    collector = np.zeros(n, dtype=np.float64)
    feeder = np.zeros(n, dtype=np.float64)
    log_step = np.log1p(max(p.amount_tolerance, 1e-6))
    # Two offset bucketings of time and of log-amount, so a burst on a bucket boundary is still seen.
    for shift in (0.0, 0.5):
        t_bucket = np.floor(ts / p.window + shift).astype(np.int64)
        a_bucket = np.floor(np.log(np.maximum(amt, 1e-9)) / log_step + shift).astype(np.int64)
        keys = np.stack([payee, t_bucket, a_bucket])
        group_keys, group_of = np.unique(keys, axis=1, return_inverse=True)
        group_of = group_of.reshape(-1)
        distinct = np.unique(np.stack([group_of, payer]), axis=1)
        size = np.bincount(distinct[0], minlength=group_keys.shape[1]).astype(np.float64)
        big = np.where(size >= p.fan_in_min_payers, size, 0.0)
        np.maximum.at(collector, group_keys[0], big)
        np.maximum.at(feeder, payer, big[group_of])
    c = _percentile(collector, collector > 0) * (collector > 0)
    f = _percentile(feeder, feeder > 0) * (feeder > 0)
    return c, f


def _pass_through(
    n: int, tx: TransferArrays, p: MuleParams, cash_only: bool
) -> FloatArray:
    """Share of each account's inflow that an outflow (or, with ``cash_only``, a cash withdrawal)
    matched inside the window: each outflow counts up to the inflow that arrived in the window before it."""
    inflow = ~tx.is_cash & (tx.payee >= 0)
    in_acct, in_t, in_amt = tx.payee[inflow], tx.ts[inflow], tx.amount[inflow]
    out_mask = tx.is_cash if cash_only else np.ones(len(tx.payer), dtype=np.bool_)
    out_acct, out_t, out_amt = tx.payer[out_mask], tx.ts[out_mask], tx.amount[out_mask]
    total_in = np.bincount(in_acct, weights=in_amt, minlength=n)
    if len(out_acct) == 0 or len(in_acct) == 0:
        return np.zeros(n)
    order = np.lexsort((in_t, in_acct))
    a_sorted, t_sorted, cum = in_acct[order], in_t[order], np.cumsum(in_amt[order])
    base = min(float(in_t.min()), float(out_t.min()))
    span = float(max(in_t.max(), out_t.max()) - base + p.window + 1.0)
    comp = a_sorted.astype(np.float64) * span + (t_sorted - base)
    q = out_acct.astype(np.float64) * span + (out_t - base)
    hi = np.searchsorted(comp, q, side="right")
    lo = np.searchsorted(comp, q - p.window, side="left")
    cum0 = np.concatenate([[0.0], cum])
    recent = cum0[hi] - cum0[lo]
    matched = np.bincount(out_acct, weights=np.minimum(out_amt, recent), minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total_in > 0, matched / total_in, 0.0)
    return np.clip(share, 0.0, 1.0)


def chain_links(tx: TransferArrays, p: MuleParams) -> tuple[IntArray, IntArray]:
    """Pairs (in_transfer, out_transfer): the payee of the first forwards a similar amount within the window."""
    real = np.flatnonzero(~tx.is_cash & (tx.payee >= 0))
    i, j = _window_pairs(
        tx.payee[real], tx.ts[real], tx.payer, tx.ts, p.window, p.max_links_per_transfer
    )
    a_in = real[i]
    x_in, x_out = tx.amount[a_in], tx.amount[j]
    keep = (np.abs(x_out - x_in) <= p.amount_tolerance * x_in) & (a_in != j)
    return a_in[keep], j[keep].astype(np.int64)


def _cycles(n: int, tx: TransferArrays, p: MuleParams, links: tuple[IntArray, IntArray]) -> FloatArray:
    """1 for every account on a temporal cycle of linked transfers of length <= cycle_max_len."""
    src, dst = links
    on_cycle = np.zeros(n, dtype=np.float64)
    if len(src) == 0:
        return on_cycle
    order = np.argsort(src, kind="stable")
    src_s, dst_s = src[order], dst[order]
    # Frontier rows: (origin transfer, current transfer, path id); paths remember their accounts.
    origin = np.unique(src)
    cur = origin.copy()
    paths: list[IntArray] = [tx.payer[origin]]
    frontier_cap = 2_000_000  # bounds memory on pathological graphs; cycles are short and sparse
    for _ in range(p.cycle_max_len):
        lo = np.searchsorted(src_s, cur, side="left")
        hi = np.searchsorted(src_s, cur, side="right")
        counts = hi - lo
        if counts.sum() == 0:
            break
        rows = np.repeat(np.arange(len(cur)), counts)
        offs = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        nxt = dst_s[np.repeat(lo, counts) + offs]
        origin, cur = origin[rows], nxt
        paths = [col[rows] for col in paths]
        closes = tx.payee[cur] == tx.payer[origin]
        if closes.any():
            for col in paths:
                on_cycle[col[closes]] = 1.0
            on_cycle[tx.payer[cur[closes]]] = 1.0
        # A path that revisits an account is not a simple cycle; stop extending it.
        nxt_acct = tx.payer[cur]
        revisit = np.zeros(len(cur), dtype=np.bool_)
        for col in paths[1:]:
            revisit |= col == nxt_acct
        keep = ~closes & ~revisit
        origin, cur = origin[keep], cur[keep]
        paths = [col[keep] for col in paths] + [nxt_acct[keep]]
        if len(cur) == 0 or len(cur) > frontier_cap:
            break
    return on_cycle


def _closeness(n: int, tx: TransferArrays, p: MuleParams, seeds: IntArray) -> FloatArray:
    """Share of an account's inflow that came from known drops, then (discounted) from accounts that
    are themselves mostly fed by known drops: money downstream of a drop is the next drop's money.

    Label propagation along the money's direction only: paying a drop (what victims do) is no evidence.
    (Personalised PageRank over the undirected graph was tried first: on a dense payment graph its mass
    reaches half of all accounts and ranked worse on the simulated world.)
    """
    real = ~tx.is_cash & (tx.payee >= 0)
    if len(seeds) == 0 or not real.any():
        return np.zeros(n)
    payer, payee, amt = tx.payer[real], tx.payee[real], tx.amount[real]
    total_in = np.bincount(payee, weights=amt, minlength=n)
    safe = np.where(total_in > 0, total_in, 1.0)
    level = np.zeros(n)
    level[seeds] = 1.0
    out = np.zeros(n)
    discount = 1.0
    for _ in range(p.close_hops):
        share = np.bincount(payee, weights=amt * level[payer], minlength=n) / safe
        share = np.where(total_in > 0, np.clip(share, 0.0, 1.0), 0.0)
        out = np.maximum(out, discount * share)
        level = np.maximum(level, share)
        discount *= p.close_discount
    out[seeds] = 0.0  # a seed is already known; the signal is about the others
    return out


def rank_mules(
    n_accounts: int,
    tx: TransferArrays,
    params: MuleParams | None = None,
    *,
    opened_at: FloatArray | None = None,
    seeds: npt.ArrayLike = (),
) -> MuleRanking:
    """Rank ``n_accounts`` accounts by drop likelihood from the transfers ``tx``.

    ``opened_at`` (same time unit as ``tx.ts``; NaN where unknown) enables the young-account signal.
    ``seeds`` are indices of accounts already known to be bad.
    """
    p = params or MuleParams()
    n = n_accounts
    seed_idx = np.unique(np.asarray(seeds, dtype=np.int64))
    links = chain_links(tx, p)
    fan_in, feeder = _fan_in(n, tx, p)
    signals: dict[str, FloatArray] = {
        "fan_in": fan_in,
        "fan_in_feeder": feeder,
        "pass_through": _pass_through(n, tx, p, cash_only=False),
        "cash_out": _pass_through(n, tx, p, cash_only=True),
        "young": np.zeros(n),
        "cycle": _cycles(n, tx, p, links),
        "close": _closeness(n, tx, p, seed_idx),
    }
    if opened_at is not None:
        inflow = ~tx.is_cash & (tx.payee >= 0)
        first = np.full(n, np.inf)
        np.minimum.at(first, tx.payee[inflow], tx.ts[inflow])
        age = first - opened_at
        signals["young"] = np.where(np.isfinite(age) & (age >= 0) & (age <= p.young_age), 1.0, 0.0)
    # Only accounts that receive money can be drops; forwarding weight scales with how much forwarding.
    not_cash = tx.payee >= 0
    receives = np.bincount(tx.payee[not_cash], minlength=n) > 0
    miss = np.ones(n)
    for name, value in signals.items():
        miss *= 1.0 - np.clip(p.weights.get(name, 0.0) * value, 0.0, 1.0)
    scores = np.where(receives, 1.0 - miss, 0.0)
    if len(seed_idx):
        scores[seed_idx] = p.seed_floor + (1.0 - p.seed_floor) * scores[seed_idx]
    return MuleRanking(scores=scores, signals=signals, weights=dict(p.weights))


def average_precision(scores: FloatArray, labels: BoolArray) -> float:
    """Average precision of a ranking (ties broken by index), as in scikit-learn's non-interpolated AP."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    hits = labels[order].astype(np.float64)
    if hits.sum() == 0:
        return 0.0
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def precision_at(scores: FloatArray, labels: BoolArray, k: int) -> float:
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    return float(labels[order].mean()) if len(order) else 0.0
