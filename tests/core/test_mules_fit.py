"""Closeness to known drops in either direction, and weights fitted on the known drops."""

from __future__ import annotations

import numpy as np

from zaslon.core.mules import TransferArrays, near_known
from zaslon.core.mules_fit import fit_known


def test_near_known_counts_distinct_known_counterparties_either_way() -> None:
    # 0 -> 1, 2 -> 1, 1 -> 3 twice; 0 and 2 are known.
    tx = TransferArrays.build([0, 2, 1, 1], [1, 1, 3, 3], [5.0] * 4, [1.0, 2.0, 3.0, 4.0])
    got = near_known(5, tx, np.array([0, 2]), 0.5)
    assert got.tolist() == [0.0, 0.75, 0.0, 0.0, 0.0]  # 1 is tied to two known drops; 3 only to 1
    got = near_known(5, tx, np.array([3]), 0.5)
    assert got.tolist() == [0.0, 0.5, 0.0, 0.0, 0.0]  # paying a known drop counts too (twice is one tie)


def test_weights_fitted_on_known_drops_rank_unreported_look_alikes_first() -> None:
    rng = np.random.default_rng(1)
    bad = rng.random(400) < 0.2
    features = np.stack([bad * 1.0 + rng.normal(0, 0.3, 400), rng.normal(0, 1, 400)], axis=1)
    known = np.flatnonzero(bad)[::3].astype(np.int64)  # a third of the drops reported
    scores = fit_known(features, known)
    rest = np.setdiff1d(np.arange(400), known)
    unreported = rest[bad[rest]]
    assert scores[unreported].mean() > scores[rest[~bad[rest]]].mean() + 0.2
    assert ((scores > 0) & (scores < 1)).all()


def test_rank_mules_uses_fitted_weights_only_with_enough_known_drops() -> None:
    from zaslon.core.mules import MuleParams, rank_mules

    # 0..5 are paid by a trader and feed 6 (a fan-in); 10..19 pay each other at random; 0, 1, 2 are reported.
    rng = np.random.default_rng(3)
    pairs = [(10 + i, i) for i in range(6)] + [(i, 6) for i in range(6)]
    pairs += [(int(a), int(b)) for a, b in rng.integers(10, 20, (40, 2)) if a != b]
    tx = TransferArrays.build([a for a, _ in pairs], [b for _, b in pairs], [100.0] * len(pairs),
                              [0.0] * 6 + [1.2] * 6 + [float(k % 5) for k in range(len(pairs) - 12)])
    weights = {**MuleParams().weights, "near_known": 0.9}
    fixed = rank_mules(20, tx, MuleParams(window=1.0, weights=weights), seeds=[0, 1, 2]).scores
    fitted = rank_mules(20, tx, MuleParams(window=1.0, weights=weights, fit_min_seeds=3), seeds=[0, 1, 2]).scores
    too_few = rank_mules(20, tx, MuleParams(window=1.0, weights=weights, fit_min_seeds=4), seeds=[0, 1, 2]).scores
    assert np.array_equal(too_few, fixed) and not np.array_equal(fitted, fixed)
    # Fitted on the reported feeders, the unreported feeders 3..5 rank above the random traders.
    assert fitted[3:6].min() > fitted[10:20].max()


def test_the_boosted_fit_scores_every_unlabelled_account_out_of_sample() -> None:
    from zaslon.core.mules_fit import fit_known_loo

    rng = np.random.default_rng(4)
    n = 600
    base = rng.normal(0, 1, (n, 3))
    base[:60, 0] += 2.0
    known = np.arange(0, 60, 2, dtype=np.int64)
    everyone = np.ones(n, dtype=np.bool_)
    scores = fit_known_loo(base, known, everyone, splits=1)
    # Unlabelled account 101 sits in the half of odd positions among the unlabelled (every other one). Changing
    # it changes only the model that learned it, which scores the other half: no other account of its own half
    # moves, and it does.
    changed = base.copy()
    changed[101] += 5.0
    again = fit_known_loo(changed, known, everyone, splits=1)
    unlabelled = np.setdiff1d(np.arange(n), known)
    half = np.zeros(n, dtype=np.int64)
    half[unlabelled] = np.arange(len(unlabelled)) & 1
    same_half = np.setdiff1d(np.flatnonzero(half == half[101]), np.append(known, 101))
    other_half = np.setdiff1d(np.flatnonzero(half != half[101]), known)
    assert np.array_equal(scores[same_half], again[same_half])
    assert not np.array_equal(scores[other_half], again[other_half]) and scores[101] != again[101]
    # And the unreported look-alikes (1, 3, ..., 59) rank above the rest.
    look_alikes = np.arange(1, 60, 2)
    assert np.median(scores[look_alikes]) > np.quantile(scores[60:], 0.9)
