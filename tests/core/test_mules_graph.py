"""General AML graph signals, their rank average, and the boosted fit on known drops only."""

from __future__ import annotations

import numpy as np

from zaslon.core.mules import MuleParams, TransferArrays, rank_mules
from zaslon.core.mules_graph import graph_signals, percentile_ranks, rank_average


def _background(rng: np.random.Generator, n: int, m: int) -> tuple[list[int], list[int], list[float], list[float]]:
    a = rng.integers(0, n, m)
    b = rng.integers(0, n, m)
    keep = a != b
    return (a[keep].tolist(), b[keep].tolist(), rng.uniform(10, 1000, int(keep.sum())).tolist(),
            rng.uniform(0, 100, int(keep.sum())).tolist())


def test_a_planted_fan_in_and_pass_on_ranks_above_random_accounts() -> None:
    rng = np.random.default_rng(5)
    n = 400
    payer, payee, amount, ts = _background(rng, n, 1200)
    collector, exit_ = 7, 8
    for k in range(12):  # twelve payers, one sum each, in one day; the collector passes it on
        payer.append(100 + k)
        payee.append(collector)
        amount.append(500.0)
        ts.append(50.0 + k * 0.01)
    payer.append(collector)
    payee.append(exit_)
    amount.append(5900.0)
    ts.append(50.5)
    ranking = rank_mules(n, TransferArrays.build(payer, payee, amount, ts),
                         MuleParams(window=1.0, unsupervised="rank_average"))
    assert ranking.method == "rank_average"
    assert ranking.scores[collector] > np.quantile(ranking.scores, 0.95)


def test_percentiles_share_ties_and_scatter_gather_marks_the_pattern() -> None:
    assert percentile_ranks(np.array([1.0, 1.0, 2.0]), np.ones(3, dtype=np.bool_)).tolist() == [0.5, 0.5, 1.0]
    # 0 -> {1, 2} -> 3: a scatter-gather; 4 -> 5 is not.
    sig = graph_signals(6, np.array([0, 0, 1, 2, 4]), np.array([1, 2, 3, 3, 5]), np.full(5, 10.0),
                        np.arange(5.0), window=1.0)
    assert sig["scatter_gather"].tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert rank_average(sig, np.zeros(6, dtype=np.bool_)).tolist() == [0.0] * 6


def test_the_boosted_fit_learns_from_known_drops_only_and_finds_their_look_alikes() -> None:
    rng = np.random.default_rng(3)
    n = 600
    payer, payee, amount, ts = _background(rng, n, 2400)
    rings = [list(range(300 + 4 * g, 304 + 4 * g)) for g in range(40)]  # 40 rings of four, one sum each
    for g, ring in enumerate(rings):
        for i, acct in enumerate(ring):
            payer.append(acct)
            payee.append(ring[(i + 1) % 4])
            amount.append(900.0 + g)
            ts.append(10.0 + i)
    drops = np.array(sorted(a for r in rings for a in r))
    known = drops[::2]  # half are reported
    params = MuleParams(window=1.0, learn_min_seeds=50)
    ranking = rank_mules(n, TransferArrays.build(payer, payee, amount, ts), params, seeds=known)
    assert ranking.method == "boosted"
    unknown = np.setdiff1d(drops, known)
    others = np.setdiff1d(np.arange(n), drops)
    assert np.median(ranking.scores[unknown]) > np.quantile(ranking.scores[others], 0.95)
    # Fewer known drops than the threshold: no fit.
    assert rank_mules(n, TransferArrays.build(payer, payee, amount, ts), params, seeds=known[:10]).method == "fixed"


def test_leave_one_out_closeness_describes_a_known_account_by_the_others_only() -> None:
    from zaslon.core.mules_graph import closeness, closeness_leave_one_out

    rng = np.random.default_rng(0)
    n = 300
    a, b = rng.integers(0, n, 1500), rng.integers(0, n, 1500)
    keep = a != b
    a, b = a[keep], b[keep]
    seeds = np.arange(0, 60, 3)
    got = closeness_leave_one_out(n, a, b, seeds, block=7)  # blocks of seeds must not change anything
    for i in (0, 5):  # a known account: its walk and ties come from the other known accounts
        others = np.setdiff1d(seeds, [seeds[i]])
        walk, ties = closeness(n, a, b, others)
        assert np.isclose(got[seeds[i], 0], walk[seeds[i]]) and got[seeds[i], 1] == ties[seeds[i]]
    walk, ties = closeness(n, a, b, seeds)
    outside = np.setdiff1d(np.arange(n), seeds)
    assert np.allclose(got[outside, 0], walk[outside]) and (got[outside, 1] == ties[outside]).all()


def test_the_neighbourhood_average_mixes_own_and_counterparties_percentiles() -> None:
    from zaslon.core.mules_graph import neighbourhood_average

    # 0 - 1 - 2 and 3 - 4 (directions do not matter).
    scores = np.array([1.0, 0.8, 0.6, 0.2, 0.4])
    got = neighbourhood_average(5, np.array([0, 2, 4]), np.array([1, 1, 3]), scores, np.ones(5, dtype=np.bool_))
    # Own percentiles 1, .8, .6, .2, .4; the neighbours' means .8, .8, .8, .4, .2 have percentiles .8 (three
    # tied), .8, .8, .4, .2.
    assert np.allclose(got, [0.9, 0.8, 0.7, 0.3, 0.3])
