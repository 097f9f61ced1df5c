"""Drop-ranking weights fitted on the drops known from reports (issue 11, point 4).

Pure numpy. The known drops are a sample of all drops; the other accounts are unlabelled (drops not yet
reported among them). A logistic regression of "known" against "not known" on the signals then ranks the
unlabelled accounts in the same order as one fitted on the true labels would, as long as reports pick drops
independently of their signals (Elkan & Noto 2008, "Learning classifiers from only positive and unlabeled
data"). Only the order is used, never the probabilities.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def fit_known(features: FloatArray, known: IntArray, *, l2: float = 1.0, iterations: int = 25) -> FloatArray:
    """Scores in (0, 1) per row of ``features`` (accounts x signals) from a ridge logistic regression of
    membership in ``known``, fitted by Newton steps on standardised columns."""
    n, k = features.shape
    y = np.zeros(n)
    y[known] = 1.0
    mean, std = features.mean(axis=0), features.std(axis=0)
    x = np.hstack([np.ones((n, 1)), (features - mean) / np.where(std > 0, std, 1.0)])
    w = np.zeros(k + 1)
    w[0] = np.log(max(y.mean(), 1e-9) / max(1.0 - y.mean(), 1e-9))
    penalty = np.full(k + 1, l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        prob = _sigmoid(x @ w)
        grad = x.T @ (prob - y) + penalty * w
        hess = (x * (prob * (1.0 - prob))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(k + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return _sigmoid(x @ w)


def _sigmoid(z: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))), dtype=np.float64)


# LightGBM for the drop ranking: small trees, few rounds, one thread and fixed seeds, so the same input
# always gives the same ranking (fixed before any measurement, as the engine's model: 15-leaf trees, 0.05).
LEARNED_PARAMS: dict[str, object] = {
    "objective": "binary", "num_leaves": 15, "learning_rate": 0.05, "min_data_in_leaf": 20,
    "feature_fraction": 1.0, "bagging_fraction": 1.0, "lambda_l2": 1.0, "num_threads": 1,
    "deterministic": True, "force_row_wise": True, "seed": 0, "verbose": -1,
}
LEARNED_ROUNDS = 200


def fit_known_boosted(base: FloatArray, known: IntArray, candidates: npt.NDArray[np.bool_],
                      seed_features: Callable[[IntArray], FloatArray], *, folds: int = 5,
                      ) -> tuple[FloatArray, float]:
    """Positive-unlabelled gradient boosting: "known" against "not known" (Elkan & Noto: the order is the one
    true labels would give when reports pick drops independently of their signals), cross-fitted.

    ``base`` (accounts x features) are label-free; ``seed_features(seeds)`` gives the columns that depend on
    the known accounts (closeness to them). The known accounts are cut into ``folds`` (every ``folds``-th of
    them in index order): for each fold, the seed columns come from the *other* folds' accounts only, the
    model learns the fold's accounts against the unlabelled ``candidates``, and it scores every account. A
    known account is thus described as an unreported one is (its closeness counts other reports, never
    itself). Returns (the mean score over folds for unlabelled accounts and each known account's score from
    the fold that held it out, the mean average precision of the held-out folds against the unlabelled
    accounts: cross-validation on the revealed accounts only)."""
    import lightgbm as lgb

    n = base.shape[0]
    known = np.unique(known)
    fold_of = np.arange(len(known)) % folds
    is_known = np.zeros(n, dtype=np.bool_)
    is_known[known] = True
    unlabelled = candidates & ~is_known
    total = np.zeros(n)
    held_out = np.zeros(n)
    cv: list[float] = []
    for k in range(folds):
        held = known[fold_of == k]
        if len(held) == 0:
            continue
        x = np.hstack([base, seed_features(known[fold_of != k])])
        rows = unlabelled.copy()
        rows[held] = True
        y = np.zeros(n)
        y[held] = 1.0
        booster = lgb.train(LEARNED_PARAMS, lgb.Dataset(x[rows], label=y[rows]), num_boost_round=LEARNED_ROUNDS)
        pred = np.asarray(booster.predict(x), dtype=np.float64)
        total += pred
        held_out[held] = pred[held]
        cv.append(_held_out_ap(pred[rows], y[rows]))
    scores = total / max(len(cv), 1)
    scores[known] = held_out[known]
    return scores, float(np.mean(cv)) if cv else 0.0


def _held_out_ap(scores: FloatArray, labels: FloatArray) -> float:
    order = np.lexsort((np.arange(len(scores)), -scores))
    hits = labels[order]
    if hits.sum() == 0:
        return 0.0
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())
