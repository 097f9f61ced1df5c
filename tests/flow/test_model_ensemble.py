"""The seed ensemble: one stored LightGBM model whose score is the mean of its members' in log-odds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from zaslon.core.features import FEATURE_INDEX, FEATURE_NAMES, MODEL_FEATURES
from zaslon.errors import InvalidInput
from zaslon.flow.model import ModelStore, exact_contributions, train

pytest.importorskip("lightgbm")
CUT = datetime(2026, 3, 1, tzinfo=UTC)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(4000, len(FEATURE_NAMES))).astype(np.float32)
    y = (x[:, FEATURE_INDEX[MODEL_FEATURES[0]]] + rng.normal(size=4000)) > 1.6
    return x, y


def test_an_ensemble_scores_the_mean_of_models_with_consecutive_seeds(tmp_path: Path) -> None:
    x, y = _data()
    p = {"num_boost_round": 25}
    ens = train(x, y, cutoff=CUT, params={**p, "ensemble": 3, "seed": 4})
    singles = [train(x, y, cutoff=CUT, params={**p, "ensemble": 1, "seed": s}) for s in (4, 5, 6)]
    mean = np.mean([m.compiled.raw_and_contrib(x)[0] for m in singles], axis=0)
    raw, contrib = ens.compiled.raw_and_contrib(x)
    np.testing.assert_allclose(raw, mean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(contrib.sum(axis=1) + ens.compiled.bias, raw, atol=1e-4)
    assert ens.compiled.roots.shape[0] == 75 and ens.meta["ensemble"] == 3
    assert len({ens.model_id, *(m.model_id for m in singles)}) == 4
    # stored and loaded as an ordinary LightGBM model: the same scores, and exact TreeSHAP still works
    store = ModelStore(tmp_path)
    mid = store.save(ens)
    loaded = store.load(mid)
    np.testing.assert_allclose(loaded.raw_and_contrib(x)[0], raw, rtol=1e-9, atol=1e-9)
    assert loaded.bars == ens.compiled.bars
    cols = [FEATURE_INDEX[n] for n in MODEL_FEATURES]
    shap = exact_contributions(tmp_path / f"{mid}.txt", x[:20][:, cols])
    np.testing.assert_allclose(shap.sum(axis=1), raw[:20], rtol=1e-6, atol=1e-6)


def test_an_ensemble_of_one_is_the_single_model_and_none_is_refused() -> None:
    x, y = _data()
    a = train(x, y, cutoff=CUT, params={"num_boost_round": 10, "ensemble": 1})
    b = train(x, y, cutoff=CUT, params={"num_boost_round": 10, "ensemble": 1})
    assert a.model_id == b.model_id and a.compiled.roots.shape[0] == 10
    with pytest.raises(InvalidInput):
        train(x, y, cutoff=CUT, params={"ensemble": 0})
