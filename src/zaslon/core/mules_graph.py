"""General anti-money-laundering graph signals for drop ranking (issue 11, point 4), and the rank average
that combines them when no account is known yet.

Pure numpy, label-free except ``closeness`` (which starts from the accounts already known from reports).
These are the textbook AML graph signals (FATF typologies, AMLSim's own pattern list), not shapes of one
world: each account's

* ``payers`` / ``payees``      distinct counterparties paying it / paid by it (fan-in, fan-out);
* ``in_count`` / ``out_count`` transfers in and out;
* ``through``                  min(in, out) / max(in, out) of the amounts: money that comes in goes out again;
* ``speed``                    how soon money leaves: 1 / (1 + median gap, in windows, from an outflow back to
                               the payer's latest inflow before it);
* ``scatter_gather``           on a fan-out/fan-in pattern: A pays two or more accounts that each pay one C
                               (A, C and the intermediates are marked);
* ``equal_amounts``            share of the account's transfers whose amount another of its transfers repeats
                               within 1% (structuring: one sum cut in identical pieces, a ring passing one sum);
* ``burst``                    the most transfers (in and out) in one window, as a share of all its transfers,
                               times log(1 + that count): activity packed into a short span;
* ``closeness``                personalised PageRank over the undirected transfer graph restarting at the
                               known accounts (a label-propagation walk), and ``known_ties``, the distinct
                               known accounts among its counterparties.

``rank_average`` is the untuned unsupervised combination: each signal turned into its percentile among the
accounts that receive money (ties share their mean rank) and the percentiles averaged with equal weights.
Equal weights because with no labels there is nothing to weigh them by; percentiles because the signals
have unrelated scales and heavy tails.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

GRAPH_SIGNALS = ("payers", "payees", "in_count", "out_count", "through", "speed", "scatter_gather",
                 "equal_amounts", "burst")
# The signals the unsupervised rank average combines: one per typology family (fan-in, fan-out,
# pass-through, speed, scatter-gather, structuring, burst). Counts are left out because they repeat the
# distinct-counterparty signals (an equal-weight average would count fan-in twice).
RANK_AVERAGE_SIGNALS = ("payers", "payees", "through", "speed", "scatter_gather", "equal_amounts", "burst")
# An intermediate of a scatter-gather has few counterparties; a hub (a shop, a payroll) in the middle would
# pair every payer with every payee, so intermediates with more than this many either way are skipped.
SCATTER_GATHER_MAX_DEGREE = 50


def _distinct_pairs(payer: IntArray, payee: IntArray) -> tuple[IntArray, IntArray]:
    keep = payer != payee
    pairs = np.unique(np.stack([payer[keep], payee[keep]]), axis=1)
    return pairs[0], pairs[1]


def _speed(n: int, payer: IntArray, payee: IntArray, ts: FloatArray, window: float) -> FloatArray:
    """1 / (1 + median over an account's outflows of (outflow time - latest inflow time before it) / window);
    0 for an account that never pays out after receiving."""
    out = np.zeros(n)
    if len(payer) == 0:
        return out
    order = np.lexsort((ts, payee))
    a_sorted, t_sorted = payee[order], ts[order]
    span = float(ts.max() - ts.min() + 1.0)
    base = float(ts.min())
    comp = a_sorted.astype(np.float64) * span * 2 + (t_sorted - base)
    q = payer.astype(np.float64) * span * 2 + (ts - base)
    idx = np.searchsorted(comp, q, side="right") - 1
    ok = idx >= 0
    ok[ok] = a_sorted[idx[ok]] == payer[ok]
    if not ok.any():
        return out
    gap = (ts[ok] - t_sorted[idx[ok]]) / max(window, 1e-12)
    acct = payer[ok]
    o = np.lexsort((gap, acct))
    acct, gap = acct[o], gap[o]
    starts = np.flatnonzero(np.concatenate([[True], acct[1:] != acct[:-1]]))
    ends = np.concatenate([starts[1:], [len(acct)]])
    med = 0.5 * (gap[starts + (ends - starts - 1) // 2] + gap[starts + (ends - starts) // 2])
    out[acct[starts]] = 1.0 / (1.0 + med)
    return out


def _scatter_gather(n: int, src: IntArray, dst: IntArray) -> FloatArray:
    """1 for accounts on A -> {B1, B2, ...} -> C with at least two distinct intermediates (A != C)."""
    out = np.zeros(n)
    if len(src) == 0:
        return out
    indeg = np.bincount(dst, minlength=n)
    outdeg = np.bincount(src, minlength=n)
    small = (indeg <= SCATTER_GATHER_MAX_DEGREE) & (outdeg <= SCATTER_GATHER_MAX_DEGREE)
    # Incoming edges (A -> B) joined with outgoing edges (B -> C) on B.
    inc = np.flatnonzero(small[dst])
    inc = inc[np.argsort(dst[inc], kind="stable")]
    o_order = np.argsort(src, kind="stable")
    s_sorted = src[o_order]
    lo = np.searchsorted(s_sorted, dst[inc], side="left")
    hi = np.searchsorted(s_sorted, dst[inc], side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return out
    rows = np.repeat(inc, counts)
    offs = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    outs = o_order[np.repeat(lo, counts) + offs]
    a, b, c = src[rows], dst[rows], dst[outs]
    keep = a != c
    a, b, c = a[keep], b[keep], c[keep]
    if len(a) == 0:
        return out
    key = a * n + c
    _, inverse, per = np.unique(key, return_inverse=True, return_counts=True)
    # Distinct (A, B, C) triples come from distinct pairs, so ``per`` counts distinct intermediates.
    hit = per[inverse.reshape(-1)] >= 2
    out[a[hit]] = 1.0
    out[b[hit]] = 1.0
    out[c[hit]] = 1.0
    return out


def _equal_amounts(n: int, payer: IntArray, payee: IntArray, amount: FloatArray,
                   tolerance: float = 0.01) -> FloatArray:
    """Per account, the share of its transfers (in and out) whose amount another of its transfers repeats
    within ``tolerance`` (two offset log-binnings, so a pair straddling a bin edge is still seen)."""
    out = np.zeros(n)
    if len(payer) == 0:
        return out
    acct = np.concatenate([payer, payee])
    amt = np.concatenate([amount, amount])
    repeated = np.zeros(len(acct), dtype=np.bool_)
    step = np.log1p(tolerance)
    for shift in (0.0, 0.5):
        b = np.floor(np.log(np.maximum(amt, 1e-9)) / step + shift).astype(np.int64)
        key = np.stack([acct, b])
        _, inverse, counts = np.unique(key, axis=1, return_inverse=True, return_counts=True)
        repeated |= counts[inverse.reshape(-1)] >= 2
    total = np.bincount(acct, minlength=n).astype(np.float64)
    rep = np.bincount(acct, weights=repeated.astype(np.float64), minlength=n)
    return np.asarray(np.where(total > 0, rep / np.maximum(total, 1.0), 0.0), dtype=np.float64)


def _burst(n: int, payer: IntArray, payee: IntArray, ts: FloatArray, window: float) -> FloatArray:
    """max transfers in one window / all transfers, times log(1 + that max), per account (two offset
    bucketings of time)."""
    acct = np.concatenate([payer, payee])
    t = np.concatenate([ts, ts])
    total = np.bincount(acct, minlength=n).astype(np.float64)
    peak = np.zeros(n)
    for shift in (0.0, 0.5):
        bucket = np.floor(t / max(window, 1e-12) + shift).astype(np.int64)
        uniq, counts = np.unique(np.stack([acct, bucket]), axis=1, return_counts=True)
        np.maximum.at(peak, uniq[0], counts.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, peak / total, 0.0)
    return np.asarray(share * np.log1p(peak), dtype=np.float64)


def graph_signals(n: int, payer: IntArray, payee: IntArray, amount: FloatArray, ts: FloatArray,
                  *, window: float) -> dict[str, FloatArray]:
    """The label-free signals of the module docstring, over account-to-account transfers only."""
    src, dst = _distinct_pairs(payer, payee)
    in_amt = np.bincount(payee, weights=amount, minlength=n)
    out_amt = np.bincount(payer, weights=amount, minlength=n)
    hi = np.maximum(in_amt, out_amt)
    return {
        "payers": np.bincount(dst, minlength=n).astype(np.float64),
        "payees": np.bincount(src, minlength=n).astype(np.float64),
        "in_count": np.bincount(payee, minlength=n).astype(np.float64),
        "out_count": np.bincount(payer, minlength=n).astype(np.float64),
        "through": np.where(hi > 0, np.minimum(in_amt, out_amt) / np.where(hi > 0, hi, 1.0), 0.0),
        "speed": _speed(n, payer, payee, ts, window),
        "scatter_gather": _scatter_gather(n, src, dst),
        "equal_amounts": _equal_amounts(n, payer, payee, amount),
        "burst": _burst(n, payer, payee, ts, window),
    }


def closeness(n: int, payer: IntArray, payee: IntArray, seeds: IntArray, *, restart: float = 0.15,
              iterations: int = 20) -> tuple[FloatArray, FloatArray]:
    """(personalised PageRank restarting at ``seeds`` over the undirected graph of distinct counterparty
    pairs, distinct known accounts among each account's counterparties). The seeds' own restart mass is
    what a walk from them starts with; callers that train on seeds compute this from the *other* seeds."""
    if len(seeds) == 0 or len(payer) == 0:
        return np.zeros(n), np.zeros(n)
    src, dst = _distinct_pairs(payer, payee)
    a = np.concatenate([src, dst])
    b = np.concatenate([dst, src])
    pairs = np.unique(np.stack([a, b]), axis=1)
    a, b = pairs[0], pairs[1]
    deg = np.bincount(a, minlength=n).astype(np.float64)
    start = np.zeros(n)
    start[seeds] = 1.0 / len(seeds)
    rank = start.copy()
    for _ in range(iterations):
        share = np.where(deg > 0, rank / np.where(deg > 0, deg, 1.0), 0.0)
        rank = restart * start + (1.0 - restart) * np.bincount(b, weights=share[a], minlength=n)
    known = np.zeros(n, dtype=np.bool_)
    known[seeds] = True
    ties = np.bincount(a[known[b]], minlength=n).astype(np.float64)
    # Scale-free: PageRank mass relative to a uniform walk's (n accounts), logged for its heavy tail.
    return np.log1p(rank * n), ties


def percentile_ranks(x: FloatArray, mask: BoolArray) -> FloatArray:
    """Mean-rank percentile of ``x`` among ``mask`` accounts, in (0, 1]; 0 elsewhere."""
    out = np.zeros(len(x))
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return out
    v = x[idx]
    order = np.argsort(v, kind="stable")
    sv = v[order]
    starts = np.flatnonzero(np.concatenate([[True], sv[1:] != sv[:-1]]))
    ends = np.concatenate([starts[1:], [len(sv)]])
    mean_rank = (starts + ends + 1) / 2.0  # 1-based mean rank of each run of ties
    ranks = np.empty(len(v))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    out[idx] = ranks / len(idx)
    return out


def rank_average(signals: dict[str, FloatArray], receives: BoolArray,
                 names: tuple[str, ...] = RANK_AVERAGE_SIGNALS) -> FloatArray:
    """Equal-weight mean of the signals' percentiles among accounts that receive money; 0 for the rest."""
    if not names:
        return np.zeros(len(receives))
    total = sum((percentile_ranks(signals[name], receives) for name in names), np.zeros(len(receives)))
    return np.asarray(np.where(receives, total / len(names), 0.0), dtype=np.float64)


def _mean_over(n: int, a: IntArray, b: IntArray, columns: FloatArray) -> FloatArray:
    deg = np.bincount(a, minlength=n).astype(np.float64)
    out = np.stack([np.bincount(a, weights=columns[b, j], minlength=n) for j in range(columns.shape[1])], axis=1)
    return np.asarray(out / np.maximum(deg, 1.0)[:, None], dtype=np.float64)


def neighbour_means(n: int, payer: IntArray, payee: IntArray, columns: FloatArray, *,
                    directed: bool = False) -> FloatArray:
    """Per account, the mean of ``columns`` (accounts x k) over its distinct counterparties either way (0 for
    an account with none): what its neighbourhood looks like, label-free. ``directed``: the means over its
    payers and over its payees instead (accounts x 2k): a collector's payers are its feeders, a feeder's
    payee is a collector."""
    if len(payer) == 0:
        return np.zeros((n, columns.shape[1] * (2 if directed else 1)))
    src, dst = _distinct_pairs(payer, payee)
    if directed:
        return np.hstack([_mean_over(n, dst, src, columns), _mean_over(n, src, dst, columns)])
    pairs = np.unique(np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])]), axis=1)
    return _mean_over(n, pairs[0], pairs[1], columns)


def neighbour_scores(n: int, payer: IntArray, payee: IntArray, values: FloatArray,
                     direction: str = "both") -> FloatArray:
    """Accounts x 3: the mean, the maximum and log(1 + sum) of ``values`` (a first ranking's scores) over
    each account's distinct counterparties ("both" ways, its payers "in", its payees "out"): how suspicious
    its neighbourhood already looks (a ring's members and a collector's feeders sit next to each other)."""
    out = np.zeros((n, 3))
    if len(payer) == 0:
        return out
    src, dst = _distinct_pairs(payer, payee)
    if direction == "in":
        a, b = dst, src
    elif direction == "out":
        a, b = src, dst
    else:
        pairs = np.unique(np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])]), axis=1)
        a, b = pairs[0], pairs[1]
    deg = np.bincount(a, minlength=n).astype(np.float64)
    total = np.bincount(a, weights=values[b], minlength=n)
    out[:, 0] = total / np.maximum(deg, 1.0)
    np.maximum.at(out[:, 1], a, values[b])
    out[:, 2] = np.log1p(np.maximum(total, 0.0))
    return out


def neighbourhood_average(n: int, payer: IntArray, payee: IntArray, scores: FloatArray,
                          receives: BoolArray) -> FloatArray:
    """One untuned label-propagation step for the unsupervised ranking: the equal-weight mean of an account's
    own percentile and the percentile of its counterparties' mean score (``neighbour_scores``), among the
    accounts that receive money. Laundering is done by groups that pass money among themselves (a ring, a
    collector and its feeders), so an account among suspicious counterparties is more suspicious; equal
    weights because with no labels there is nothing to weigh them by."""
    around = neighbour_scores(n, payer, payee, scores)[:, 0]
    mixed = (percentile_ranks(scores, receives) + percentile_ranks(around, receives)) / 2.0
    return np.asarray(np.where(receives, mixed, 0.0), dtype=np.float64)


LOO_CLOSENESS = ("pagerank", "known_ties", "known_share", "two_hop")


def closeness_leave_one_out(n: int, payer: IntArray, payee: IntArray, seeds: IntArray, *,
                            restart: float = 0.15, iterations: int = 20, block: int = 64) -> FloatArray:
    """Accounts x ``LOO_CLOSENESS``, closeness to the known accounts ``seeds`` where each known account's own
    row counts the *other* known accounts only, so that it is described as an unreported one is (to whom all
    the known accounts are others):

    * ``pagerank``    personalised PageRank over the undirected graph of counterparty pairs restarting at the
                      known accounts (log of the mass relative to a uniform walk's). The walk from a set is
                      the mean of the walks from each of its accounts, so a known account's value without
                      itself is (m * all - its own walk's return to it) / (m - 1); the walks run ``block``
                      known accounts at a time;
    * ``known_ties``  distinct known accounts among the counterparties;
    * ``known_share`` those as a share of all counterparties;
    * ``two_hop``     log(1 + paths of two steps to known accounts other than itself).
    """
    import scipy.sparse as sp

    out = np.zeros((n, len(LOO_CLOSENESS)))
    seeds = np.unique(seeds)
    m = len(seeds)
    if m == 0 or len(payer) == 0:
        return out
    src, dst = _distinct_pairs(payer, payee)
    pairs = np.unique(np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])]), axis=1)
    a, b = pairs[0], pairs[1]
    deg = np.bincount(a, minlength=n).astype(np.float64)
    walk = sp.csr_matrix((1.0 / deg[a], (b, a)), shape=(n, n))  # column a shares its mass among its edges
    total = np.zeros(n)
    own = np.zeros(m)
    for lo in range(0, m, block):
        cols = seeds[lo:lo + block]
        start = np.zeros((n, len(cols)))
        start[cols, np.arange(len(cols))] = 1.0
        rank = start.copy()
        for _ in range(iterations):
            rank = restart * start + (1.0 - restart) * (walk @ rank)
        total += rank.sum(axis=1)
        own[lo:lo + block] = rank[cols, np.arange(len(cols))]
    mass = total / m
    if m > 1:
        mass[seeds] = (total[seeds] - own) / (m - 1)
    else:
        mass[seeds] = 0.0
    known = np.zeros(n, dtype=np.bool_)
    known[seeds] = True
    ties = np.bincount(a[known[b]], minlength=n).astype(np.float64)
    out[:, 0] = np.log1p(np.maximum(mass, 0.0) * n)
    out[:, 1] = ties
    out[:, 2] = np.where(deg > 0, ties / np.where(deg > 0, deg, 1.0), 0.0)
    out[:, 3] = np.log1p(np.maximum(np.bincount(a, weights=ties[b] - known[a], minlength=n), 0.0))
    return out
