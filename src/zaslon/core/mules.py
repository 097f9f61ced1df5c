"""Drop (mule) detection: rank accounts by how likely they are to be drops, each with its reasons.

Pure and vectorised (numpy). The input is the transfer graph as parallel arrays of dense account
indices; the caller maps account ids to indices and chooses the time unit (seconds for the simulated
country, AMLSim "steps" for the public benchmark). Nothing here reads labels: the only fraud knowledge
it may take is ``seeds``, the accounts the exchange already knows to be bad (reported as payees in
victims' incidents, or found holding traced money) -- exactly what Knowledge holds.

Signals, each scaled to [0, 1] (see docs/linking.md for why each one is there):

* ``fan_in``       many distinct payers into one account inside a short window, times the share passed
                   on ("collector" drops gather many victims' money to move it; AMLSim's fan-in).
* ``fan_in_feeder`` the payers of such a burst (off where they are victims).
* ``pass_through`` money leaves soon after it came in: share of the inflow matched by outflows inside
                   the window, discounted when the account pays out far more than it receives.
* ``cash_out``     share of the inflow withdrawn as cash (ATM) inside the window, each withdrawal counted
                   only as far as the money that came in inside the window pays for it.
* ``young``        the account received its first money soon after it was opened (freshly recruited drop).
* ``cycle``        money returns to an account through a ring of 3 to ``cycle_max_len`` accounts, each
                   forwarding a similar amount inside the window after the previous one.
* ``round_trip``   a ring of accounts passing one sum round, hops in any order (``mules_patterns``).
* ``split``        one counterparty paid the same sum repeatedly in a window (structuring; off by default).
* ``layering``     money that was already moving when it arrived and left again soon: a chain.
* ``close``        share of the inflow that came from known drops (``seeds``), propagated a few hops
                   along the money's direction: downstream of a known drop is the next drop.
* ``close_pass``   money from known drops that was passed on within a day.
* ``near_known``   transfers with known drops in either direction: each distinct known drop among the
                   account's counterparties is one more piece of evidence (noisy-OR of ``near_known_tie``).
                   Off by default: in a fraud world a drop's payers are its victims; on for AML typologies
                   (AMLSim), where a collector's feeders and a ring's members are one group's accounts.

The score is a noisy-OR of the weighted signals, so one strong signal is enough to rank an account
high and two weak ones add up; the weights are fixed, documented choices (docs/linking.md says which
were settled after measuring against labels). A signal that fires for most accounts is switched off.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from zaslon.core.mules_fit import fit_known, fit_known_loo
from zaslon.core.mules_graph import (
    GRAPH_SIGNALS,
    closeness_leave_one_out,
    graph_signals,
    neighbour_means,
    neighbourhood_average,
    rank_average,
)
from zaslon.core.mules_patterns import round_trips, split_transfers
from zaslon.core.types import Reason

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

SIGNALS = ("fan_in", "fan_in_feeder", "pass_through", "cash_out", "young", "cycle", "round_trip", "split",
           "layering", "close", "close_pass", "near_known")


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
    follow_window: float = 86400.0  # how long money from a known drop is followed onward
    close_discount: float = 0.7
    near_known_tie: float = 0.5  # evidence from one counterparty that is a known drop (``near_known``)
    # With at least this many known drops, score by weights fitted on them (``mules_fit``) instead of the
    # fixed ones; 0 keeps the fixed weights always (the product's default until measured on the world).
    fit_min_seeds: int = 0
    # With at least this many known drops, score by gradient boosting fitted on them (``mules_fit.
    # fit_known_loo``: non-linear, positive-unlabelled, cross-fitted) over the signals above, the general
    # graph signals (``mules_graph``), their means over each account's payers and payees, and leave-one-out
    # closeness to the known drops; it takes precedence over the ridge.
    learn_min_seeds: int = 0
    # With fewer known drops than either fit needs: "fixed" (the noisy-OR of ``weights``, shaped and measured
    # on the simulated world) or "rank_average" (the untuned equal-weight average of general AML signals'
    # percentiles, ``mules_graph.rank_average``, for data whose typologies we never saw), or "neighbourhood"
    # (that average, averaged in turn with the mean of the counterparties' averages:
    # ``mules_graph.neighbourhood_average``).
    unsupervised: str = "fixed"
    # Round-trips: the same sum (within 1%: "the same" up to rounding) round a ring of accounts in one span.
    round_trip_tolerance: float = 0.01
    round_trip_span: float = 7 * 86400.0
    # Split transfers: one payer pays one payee a similar sum this many times inside one window.
    split_min_repeats: int = 2
    split_tolerance: float = 0.2  # "a similar sum", as for forwarded amounts
    # A signal on for more than this share of the accounts that receive money tells them apart no better
    # than chance (pass-through at a one-day clock, where everybody both receives and pays within ten
    # days): it is switched off for that ranking. Label-free: it looks only at how often a signal fires.
    max_prevalence: float = 0.5
    # Known drops rank above the rest, ordered among themselves by their own behaviour, so a payee named
    # in a false or mistaken report (ordinary behaviour) sinks below the real drops.
    seed_floor: float = 0.7
    # A drop passes money on. An account that never paid anything out (not even cash) is holding the
    # money -- an exit wallet, a merchant named in a mistaken report -- so its evidence counts less.
    seed_floor_silent: float = 0.3
    silent_factor: float = 0.5
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
            "round_trip": 0.9,  # rare by chance: a ring of one sum is deliberate
            # Structuring is a real typology, but people also pay one payee the same sum twice in an
            # hour (a retried payment, two tickets): off by default, on for AMLSim (docs/linking.md).
            "split": 0.0,
            "layering": 0.7,  # two quick hops in a row: the chain drops are recruited for
            "close": 0.2,
            "close_pass": 0.7,  # money from known drops passed straight on: the next link of the chain
            "near_known": 0.0,  # see the module docstring: victims pay drops in a fraud world
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
    # How the scores were made: "fixed" (noisy-OR of fixed weights), "rank_average" (unsupervised, general
    # signals), "ridge" or "boosted" (fitted on the known drops).
    method: str = "fixed"

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
    "round_trip": "on a ring of accounts passing the same sum round",
    "split": "paid or received the same sum several times from one counterparty in a short window",
    "layering": "{value:.0%} of incoming money was already moving when it arrived and left again soon",
    "close_pass": "{value:.0%} of incoming money came from known drops and was passed on within a day",
    "close": "close in the money graph to known drops (strength {value:.2f})",
    "near_known": "sent money to or received money from known drops (strength {value:.2f})",
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


def _groups(*columns: IntArray) -> tuple[IntArray, IntArray]:
    """The distinct rows of ``columns`` (in lexicographic order, as ``np.unique(axis=1)`` gives them): each
    group's first column, and each row's group. One mixed-radix integer key per row instead of a sort of
    row tuples, which took a third of the drop ranking on a million transfers."""
    lows = [int(c.min()) for c in columns]
    radices = [int(c.max()) - lo + 1 for c, lo in zip(columns, lows, strict=True)]
    span = 1
    for r in radices[1:]:
        span *= r
    if span * radices[0] >= 2**62:  # beyond int64: the slow, general way
        keys, group_of = np.unique(np.stack(columns), axis=1, return_inverse=True)
        return keys[0], group_of.reshape(-1)
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for c, lo, r in zip(columns, lows, radices, strict=True):
        key = key * r + (c - lo)
    unique, group_of = np.unique(key, return_inverse=True)
    return unique // span + lows[0], group_of.reshape(-1)


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
        group_payee, group_of = _groups(payee, t_bucket, a_bucket)
        groups = len(group_payee)
        distinct_group = np.unique(group_of * n + payer) // n  # one entry per (group, distinct payer)
        size = np.bincount(distinct_group, minlength=groups).astype(np.float64)
        big = np.where(size >= p.fan_in_min_payers, size, 0.0)
        np.maximum.at(collector, group_payee, big)
        np.maximum.at(feeder, payer, big[group_of])
    c = _percentile(collector, collector > 0) * (collector > 0)
    f = _percentile(feeder, feeder > 0) * (feeder > 0)
    return c, f


def _matched(tx: TransferArrays, p: MuleParams, out_mask: BoolArray) -> FloatArray:
    """Per transfer (zero outside ``out_mask``): how much of it the payer had received inside the
    window before it, i.e. money passed on rather than paid from a standing balance."""
    return np.minimum(tx.amount, _recent_inflow(tx, p, out_mask))


def _recent_inflow(tx: TransferArrays, p: MuleParams, out_mask: BoolArray) -> FloatArray:
    """Per transfer (zero outside ``out_mask``): what its payer received inside the window before it."""
    inflow = ~tx.is_cash & (tx.payee >= 0)
    in_acct, in_t, in_amt = tx.payee[inflow], tx.ts[inflow], tx.amount[inflow]
    out = np.zeros(len(tx.payer), dtype=np.float64)
    if not out_mask.any() or len(in_acct) == 0:
        return out
    out_acct, out_t = tx.payer[out_mask], tx.ts[out_mask]
    order = np.lexsort((in_t, in_acct))
    a_sorted, t_sorted, cum = in_acct[order], in_t[order], np.cumsum(in_amt[order])
    base = min(float(in_t.min()), float(out_t.min()))
    span = float(max(in_t.max(), out_t.max()) - base + p.window + 1.0)
    comp = a_sorted.astype(np.float64) * span + (t_sorted - base)
    q = out_acct.astype(np.float64) * span + (out_t - base)
    hi = np.searchsorted(comp, q, side="right")
    lo = np.searchsorted(comp, q - p.window, side="left")
    cum0 = np.concatenate([[0.0], cum])
    out[out_mask] = cum0[hi] - cum0[lo]
    return out


def _pass_through(n: int, tx: TransferArrays, matched: FloatArray) -> FloatArray:
    """Share of each account's inflow that outflows (or cash withdrawals: pass only those in
    ``matched``) carried on inside the window; each outflow counts up to the inflow of the window
    before it."""
    inflow = ~tx.is_cash & (tx.payee >= 0)
    total_in = np.bincount(tx.payee[inflow], weights=tx.amount[inflow], minlength=n)
    got = np.bincount(tx.payer, weights=matched, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total_in > 0, got / total_in, 0.0)
    return np.asarray(np.clip(share, 0.0, 1.0), dtype=np.float64)


def _funded_by_inflow(n: int, tx: TransferArrays) -> FloatArray:
    """min(1, inflow / outflow): an account that pays out far more than it received lives on its own
    balance, so an outflow that happens to follow a small inflow is not that inflow passed on."""
    inflow = ~tx.is_cash & (tx.payee >= 0)
    total_in = np.bincount(tx.payee[inflow], weights=tx.amount[inflow], minlength=n)
    total_out = np.bincount(tx.payer, weights=tx.amount, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(total_out > 0, np.minimum(1.0, total_in / total_out), 1.0),
                          dtype=np.float64)


def _hot_inflow(n: int, tx: TransferArrays, matched: FloatArray) -> FloatArray:
    """Share of each account's inflow that was already moving: its payer had received it inside the
    window before paying it here. Money that hops quickly twice is layering, not a salary spent."""
    inflow = ~tx.is_cash & (tx.payee >= 0)
    total_in = np.bincount(tx.payee[inflow], weights=tx.amount[inflow], minlength=n)
    hot = np.bincount(tx.payee[inflow], weights=matched[inflow], minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.clip(np.where(total_in > 0, hot / total_in, 0.0), 0.0, 1.0), dtype=np.float64)


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
    for step in range(p.cycle_max_len):
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
        # A -> B -> A is a repayment or a refund (a friend paying back within the hour), not a ring:
        # a cycle needs at least three accounts, as for round_trip. Closing paths are dropped either way.
        mark = closes if step >= 1 else np.zeros_like(closes)
        if mark.any():
            for col in paths:
                on_cycle[col[mark]] = 1.0
            on_cycle[tx.payer[cur[mark]]] = 1.0
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


def near_known(n: int, tx: TransferArrays, seeds: IntArray, tie: float, *, keep_seeds: bool = False) -> FloatArray:
    """One label-propagation step over the undirected transfer graph seeded at the known drops:
    1 - (1 - tie) ** (distinct known drops the account paid or was paid by). Zero on the seeds unless
    ``keep_seeds`` (then a seed's value counts the other known drops it is tied to)."""
    real = ~tx.is_cash & (tx.payee >= 0)
    if len(seeds) == 0 or not real.any():
        return np.zeros(n)
    a, b = tx.payer[real], tx.payee[real]
    pairs = np.unique(np.stack([np.concatenate([a, b]), np.concatenate([b, a])]), axis=1)
    known = np.zeros(n, dtype=np.bool_)
    known[seeds] = True
    tied = pairs[:, known[pairs[1]] & (pairs[0] != pairs[1])]
    ties = np.bincount(tied[0], minlength=n).astype(np.float64)
    out = 1.0 - (1.0 - tie) ** ties
    if not keep_seeds:
        out[seeds] = 0.0  # a seed is already known; the signal is about the others
    return np.asarray(out, dtype=np.float64)


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
    all_out = np.ones(len(tx.payer), dtype=np.bool_)
    recent = _recent_inflow(tx, p, all_out)
    matched = np.minimum(tx.amount, recent)
    # A withdrawal counts as the new money cashed out only as far as the new money pays for it: 200
    # withdrawn after 18 came in is the owner's own balance (a drop takes out what arrived).
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(tx.amount > 0, np.minimum(1.0, recent / tx.amount), 0.0)
    cashed = np.where(tx.is_cash, matched * cover, 0.0)
    passed = _pass_through(n, tx, matched)
    funded = _funded_by_inflow(n, tx)
    pass_through = passed * funded
    close = _closeness(n, tx, p, seed_idx)
    signals: dict[str, FloatArray] = {
        # A collector gathers in order to pass on: a burst of payers into an account that keeps the
        # money is a shop or a landlord.
        "fan_in": fan_in * passed,
        "fan_in_feeder": feeder,
        "pass_through": pass_through,
        "cash_out": _pass_through(n, tx, cashed),
        "young": np.zeros(n),
        "cycle": _cycles(n, tx, p, links),
        "round_trip": np.zeros(n),
        "split": np.zeros(n),
        "layering": np.minimum(_hot_inflow(n, tx, matched), pass_through),
        "close": close,
        # Money from known drops is followed a day (a transit drop holds it "hours to days").
        "close_pass": np.minimum(close, _pass_through(n, tx, _matched(
            tx, replace(p, window=p.follow_window), all_out)) * funded),
        "near_known": np.zeros(n),
    }
    real = ~tx.is_cash & (tx.payee >= 0)
    pr, pe, am, tt = tx.payer[real], tx.payee[real], tx.amount[real], tx.ts[real]
    # Costly signals are computed only when they count (a learned ranking takes every signal).
    learning = bool(p.learn_min_seeds) and len(seed_idx) >= p.learn_min_seeds
    if p.weights.get("round_trip", 0.0) > 0 or learning:
        signals["round_trip"] = round_trips(n, pr, pe, am, tt, tolerance=p.round_trip_tolerance,
                                            span=p.round_trip_span)
    if p.weights.get("near_known", 0.0) > 0:
        signals["near_known"] = near_known(n, tx, seed_idx, p.near_known_tie)
    if p.weights.get("split", 0.0) > 0 or learning:
        signals["split"] = split_transfers(n, pr, pe, am, tt, tolerance=p.split_tolerance,
                                           window=p.window, min_repeats=p.split_min_repeats)

    if opened_at is not None:
        inflow = ~tx.is_cash & (tx.payee >= 0)
        first = np.full(n, np.inf)
        np.minimum.at(first, tx.payee[inflow], tx.ts[inflow])
        age = first - opened_at
        signals["young"] = np.where(np.isfinite(age) & (age >= 0) & (age <= p.young_age), 1.0, 0.0)
    # Only accounts that receive money can be drops; forwarding weight scales with how much forwarding.
    not_cash = tx.payee >= 0
    receives = np.bincount(tx.payee[not_cash], minlength=n) > 0
    weights = dict(p.weights)
    n_receiving = max(int(receives.sum()), 1)
    for name, value in signals.items():
        if float(np.count_nonzero((value > 0) & receives)) / n_receiving > p.max_prevalence:
            weights[name] = 0.0
    miss = np.ones(n)
    for name, value in signals.items():
        miss *= 1.0 - np.clip(weights.get(name, 0.0) * value, 0.0, 1.0)
    pays = np.bincount(tx.payer, minlength=n) > 0
    scores = np.where(receives, 1.0 - miss, 0.0) * np.where(pays, 1.0, p.silent_factor)
    method = "fixed"
    general: dict[str, FloatArray] | None = None
    if learning:
        general = graph_signals(n, pr, pe, am, tt, window=p.window)
        scores = _boosted_scores(n, pr, pe, signals, general, seed_idx, receives) * receives
        method = "boosted"
    elif p.fit_min_seeds and len(seed_idx) >= p.fit_min_seeds:
        scores = _fitted_scores(n, tx, signals, seed_idx, p) * receives
        method = "ridge"
    elif p.unsupervised in ("rank_average", "neighbourhood"):
        general = graph_signals(n, pr, pe, am, tt, window=p.window)
        scores = rank_average(general, receives)
        method = "rank_average"
        if p.unsupervised == "neighbourhood":
            scores = neighbourhood_average(n, pr, pe, scores, receives)
            method = "neighbourhood"
    if len(seed_idx):
        floor = np.where(pays[seed_idx], p.seed_floor, p.seed_floor_silent)
        scores[seed_idx] = floor + (1.0 - floor) * scores[seed_idx]
    return MuleRanking(scores=scores, signals=signals, weights=weights, method=method)


def _boosted_scores(n: int, payer: IntArray, payee: IntArray, signals: dict[str, FloatArray],
                    general: dict[str, FloatArray], seeds: IntArray, receives: BoolArray) -> FloatArray:
    """Scores from gradient boosting on the known drops (``mules_fit.fit_known_loo``) over the label-free drop
    signals and general graph signals, the means of those over each account's payers and over its payees
    (what its neighbourhood looks like: a collector's feeders, a ring's members), and closeness to the known
    drops, each known drop's own closeness counting only the others (``closeness_leave_one_out``)."""
    label_free = [signals[name] for name in SIGNALS if name not in ("close", "close_pass", "near_known")]
    base = np.stack(label_free + [general[name] for name in GRAPH_SIGNALS], axis=1)
    x = np.hstack([base, neighbour_means(n, payer, payee, base, directed=True),
                   closeness_leave_one_out(n, payer, payee, seeds)])
    return fit_known_loo(x, seeds, receives)


def _fitted_scores(n: int, tx: TransferArrays, signals: dict[str, FloatArray], seeds: IntArray,
                   p: MuleParams) -> FloatArray:
    """Scores from weights fitted on the known drops, on the signals plus how many distinct accounts each
    account pays and is paid by (fan-in and fan-out). ``near_known`` and ``close`` are taken with each
    known drop's ties to the *other* known drops, so known and unknown drops are described alike."""
    real = ~tx.is_cash & (tx.payee >= 0)
    pairs = np.unique(np.stack([tx.payer[real], tx.payee[real]]), axis=1)
    payers = np.bincount(pairs[1], minlength=n).astype(np.float64)
    payees = np.bincount(pairs[0], minlength=n).astype(np.float64)
    columns = [signals[name] for name in SIGNALS if name not in ("near_known", "close", "close_pass")]
    columns.append(near_known(n, tx, seeds, p.near_known_tie, keep_seeds=True))
    columns += [np.log1p(payers), np.log1p(payees)]
    return fit_known(np.stack(columns, axis=1), seeds)


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
