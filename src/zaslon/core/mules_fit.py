"""Drop-ranking weights fitted on the drops known from reports (issue 11, point 4).

Pure numpy. The known drops are a sample of all drops; the other accounts are unlabelled (drops not yet
reported among them). A logistic regression of "known" against "not known" on the signals then ranks the
unlabelled accounts in the same order as one fitted on the true labels would, as long as reports pick drops
independently of their signals (Elkan & Noto 2008, "Learning classifiers from only positive and unlabeled
data"). Only the order is used, never the probabilities.
"""

from __future__ import annotations

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


# LightGBM for the drop ranking: small trees, one thread and fixed seeds, so the same input always gives the
# same ranking (15-leaf trees at 0.05, as the engine's model). The rounds were chosen by ``zaslon eval amlsim``'s
# protocol played inside the revealed accounts only (``lab.mule_eval.revealed_cv``): fewer rounds overfit
# less to the unreported drops that stand among the "not known" (docs/linking.md, BENCHMARKS.md).
LEARNED_PARAMS: dict[str, object] = {
    "objective": "binary", "num_leaves": 15, "learning_rate": 0.05, "min_data_in_leaf": 20,
    "feature_fraction": 1.0, "bagging_fraction": 1.0, "lambda_l2": 1.0, "num_threads": 1,
    "deterministic": True, "force_row_wise": True, "seed": 0, "verbose": -1,
}
LEARNED_ROUNDS = 100


def fit_known_loo(features: FloatArray, known: IntArray, candidates: npt.NDArray[np.bool_], *,
                  splits: int = 2) -> FloatArray:
    """Positive-unlabelled gradient boosting: "known" against "not known" (Elkan & Noto: the order is the one
    true labels would give when reports pick drops independently of their signals), on every known account
    at once. ``features`` must describe a known account without itself (leave-one-out closeness,
    ``mules_graph.closeness_leave_one_out``), so that the known and the unreported drops look alike.

    The unlabelled ``candidates`` are cut in two halves, ``splits`` times over (by bit s of their position):
    a model learns all the known accounts against one half and scores the other, so no unlabelled account is
    scored by a model that was told it is "not a drop" (the unreported drops among them are what such a model
    learns to push down); each gets the mean of its ``splits`` out-of-sample scores. A known account gets the
    mean of the models' scores (known accounts rank by the seed floor anyway)."""
    import lightgbm as lgb

    n = features.shape[0]
    known = np.unique(known)
    scores = np.zeros(n)
    if len(known) == 0:
        return scores
    is_known = np.zeros(n, dtype=np.bool_)
    is_known[known] = True
    u_idx = np.flatnonzero(candidates & ~is_known)
    y = is_known.astype(np.float64)
    for s in range(splits):
        half = np.full(n, -1, dtype=np.int64)
        half[u_idx] = (np.arange(len(u_idx)) >> s) & 1
        for h in (0, 1):
            rows = (half == h) | is_known
            booster = lgb.train(LEARNED_PARAMS, lgb.Dataset(features[rows], label=y[rows]),
                                num_boost_round=LEARNED_ROUNDS)
            score = (half == 1 - h) | is_known
            scores[score] += np.asarray(booster.predict(features[score]), dtype=np.float64) / splits
    scores[known] /= 2.0  # both models of a split scored each known account
    return scores
