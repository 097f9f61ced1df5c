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
