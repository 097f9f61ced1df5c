"""Compiled trees give LightGBM's own scores, and contributions that add up to them."""

from __future__ import annotations

import numpy as np
import pytest

from zaslon.core.features import FEATURE_NAMES
from zaslon.core.model_trees import CompiledTrees

lgb = pytest.importorskip("lightgbm")


def test_compiled_trees_match_lightgbm() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, len(FEATURE_NAMES))).astype(np.float32)
    x[:, 5] = np.round(x[:, 5])  # ties on thresholds
    y = (x[:, 0] + 0.5 * x[:, 5] * x[:, 7] + rng.normal(scale=0.5, size=3000)) > 1.0
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "num_leaves": 15},
        lgb.Dataset(x, label=y.astype(float), feature_name=list(FEATURE_NAMES)),
        num_boost_round=25,
    )
    m = CompiledTrees.from_dump(booster.dump_model(), "v-test", FEATURE_NAMES)
    raw, contrib = m.raw_and_contrib(x)
    np.testing.assert_allclose(raw, booster.predict(x, raw_score=True), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(contrib.sum(axis=1) + m.bias, raw, atol=1e-4)
    p, _ = m.predict(x)
    np.testing.assert_allclose(p, booster.predict(x), rtol=1e-9, atol=1e-12)
    x[::7, 3] = np.nan  # missing values take the same default branches without contributions
    np.testing.assert_array_equal(m.probability(x), m.predict(x)[0])
    assert m.version == "v-test"


def test_a_model_naming_unknown_features_is_refused() -> None:
    dump = {"feature_names": ["no_such_feature"], "objective": "binary sigmoid:1", "tree_info": []}
    with pytest.raises(ValueError, match="no_such_feature"):
        CompiledTrees.from_dump(dump, "v", FEATURE_NAMES)


def _booster(x: np.ndarray, y: np.ndarray, seed: int) -> object:
    return lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "num_leaves": 15, "seed": seed,
         "bagging_fraction": 0.8, "bagging_freq": 1, "feature_fraction": 0.8},
        lgb.Dataset(x, label=y.astype(float), feature_name=list(FEATURE_NAMES)),
        num_boost_round=20,
    )


def _data(n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, len(FEATURE_NAMES))).astype(np.float32)
    y = (x[:, 0] - x[:, 2] + rng.normal(scale=0.7, size=n)) > 0.8
    return x, y


def test_missing_values_go_where_lightgbm_sends_them_in_both_kernels() -> None:
    x, y = _data()
    booster = _booster(x, y, 1)
    m = CompiledTrees.from_dump(booster.dump_model(), "v", FEATURE_NAMES)
    assert m.child.shape[0] == 2 * m.feat.shape[0]  # the branch-free kernel
    xn = x.copy()
    xn[::3, 0] = np.nan
    xn[::5, 2] = np.nan
    np.testing.assert_allclose(m.raw_and_contrib(xn)[0], booster.predict(xn, raw_score=True), rtol=1e-9, atol=1e-9)
    # a model with a NaN-as-missing split takes the general kernel, with LightGBM's own routing
    xt = x.copy()
    xt[::4, 0] = np.nan
    b2 = _booster(xt, y, 2)
    m2 = CompiledTrees.from_dump(b2.dump_model(), "v2", FEATURE_NAMES)
    assert m2.child.shape[0] == 0
    np.testing.assert_allclose(m2.raw_and_contrib(xn)[0], b2.predict(xn, raw_score=True), rtol=1e-9, atol=1e-9)

