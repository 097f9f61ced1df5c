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
