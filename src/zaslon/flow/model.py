"""Training the fraud model (LightGBM) on labels known by a cut-off, and a versioned model store.

Labels come only from reported incidents: a transfer named in an incident reported before the cut-off is
a positive; every other transfer made before the cut-off counts as legitimate *as far as the exchange
knows then*. Simulator truth tables are never read here.

A model's id is a hash of its parameters, its cut-off and the exact training data, so retraining the
same thing gives the same id and a store never holds two different models under one name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zaslon.core.features import FEATURE_INDEX, FEATURE_NAMES, MODEL_FEATURES
from zaslon.core.model_trees import CompiledTrees
from zaslon.core.policy import PolicyConfig, friction_bars
from zaslon.errors import InvalidInput, NotFound

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    # Small, slowly learnt trees with at least 50 transfers a leaf: reports are few (hundreds) and noisy, and
    # on worlds the model never saw (our own small worlds exported as a foreign bank would, seeds 1 and 2)
    # this raised AP from 0.64 to 0.69-0.71, and on the worlds as they are from 0.78-0.79 to 0.79-0.80,
    # at the same scoring speed as 120 trees of 31 leaves.
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 50,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_boost_round": 200,
    "max_bin": 63,
    "seed": 7,
    # A seed ensemble: this many models, each with its own bagging seed (seed, seed + 1, ...) and its own
    # subsample of negatives, averaged in log-odds. One model's AP on the same data moved by +-0.03 with the
    # bagging seed alone (BENCHMARKS.md); the average of three sits above all but the luckiest single seed.
    "ensemble": 2,
    "deterministic": True,
    "num_threads": 1,  # two threads fight other processes on a shared 2-core box
    "verbose": -1,
}
MAX_NEGATIVES = 150_000  # above this, negatives are subsampled (and re-weighted) to bound training time
CALIBRATION_ROWS = 200_000  # enough for a 0.5% quantile to within a few hundredths of a percent


@dataclass
class TrainedModel:
    model_id: str
    cutoff: datetime
    booster: Any  # lightgbm.Booster
    compiled: CompiledTrees
    meta: dict[str, Any] = field(default_factory=dict)


def labels_known_by(
    transfer_ids: Sequence[str],
    named: Iterable[tuple[datetime, Sequence[str]]],
    cutoff: datetime,
) -> npt.NDArray[np.bool_]:
    """Positive where the transfer is named in a report made strictly before ``cutoff``."""
    bad: set[str] = set()
    for reported_at, ids in named:
        if reported_at < cutoff:
            bad.update(ids)
    return np.fromiter((t in bad for t in transfer_ids), dtype=np.bool_, count=len(transfer_ids))


def train(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.bool_],
    *,
    cutoff: datetime,
    params: Mapping[str, Any] | None = None,
    feature_names: Sequence[str] = MODEL_FEATURES,
    policy: PolicyConfig | None = None,
    calibrate_on: npt.NDArray[np.float32] | None = None,
) -> TrainedModel:
    """Train on rows already restricted to before the cut-off, with labels known by it. ``x`` holds either
    every engine feature (``FEATURE_NAMES``; the ``feature_names`` columns are taken) or just those.

    The model's bars are calibrated to ``policy``'s friction caps (``core.policy.friction_bars``) on
    ``calibrate_on`` (rows with every engine feature, e.g. the most recent ones), by default on up to
    ``CALIBRATION_ROWS`` of the training rows drawn at random."""
    import lightgbm as lgb

    if x.shape[0] != y.shape[0]:
        raise InvalidInput("features and labels differ in length")
    cols: npt.NDArray[np.intp] | None = None
    if x.ndim == 2 and x.shape[1] == len(FEATURE_NAMES) and tuple(feature_names) != FEATURE_NAMES:
        cols = np.array([FEATURE_INDEX[n] for n in feature_names], dtype=np.intp)
    elif x.ndim != 2 or x.shape[1] != len(feature_names):
        raise InvalidInput(f"features have {x.shape[-1]} columns, the model {len(feature_names)} names")
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.shape[0]:
        raise InvalidInput("training needs both reported and unreported transfers before the cut-off")
    p = {**DEFAULT_PARAMS, **(params or {})}
    rounds = int(p.pop("num_boost_round"))
    members = int(p.pop("ensemble", 1))
    if members < 1:
        raise InvalidInput("ensemble must be at least 1", field="ensemble")
    seed = int(p.get("seed", 7))
    rng = np.random.default_rng(seed)
    digest = hashlib.sha256()
    digest.update(json.dumps({"params": p, "rounds": rounds, "ensemble": members, "cutoff": cutoff.isoformat()},
                             sort_keys=True).encode())
    samples = []
    for k in range(members):  # drawn in order first: member 0 shares ``rng`` with the calibration rows below
        xs, ys, ws = _training_rows(x, y, cols, rng if k == 0 else np.random.default_rng(seed + k))
        digest.update(np.ascontiguousarray(xs).tobytes())
        digest.update(ys.tobytes())
        samples.append((xs, ys, ws))
    rows = max(int(xs.shape[0]) for xs, _, _ in samples)

    def member(k: int) -> str:
        xs, ys, ws = samples[k]
        ds = lgb.Dataset(xs, label=ys.astype(np.float64), weight=ws, feature_name=list(feature_names),
                         free_raw_data=True)
        return str(lgb.train({**p, "seed": seed + k}, ds, num_boost_round=rounds).model_to_string())

    # The members train side by side: LightGBM leaves the GIL while it boosts, each member on one thread with
    # its own seed, so the result is the same as one after the other and a retrain takes one member's time.
    with ThreadPoolExecutor(max_workers=members, thread_name_prefix="zaslon-train") as pool:
        texts = list(pool.map(member, range(members)))
    samples.clear()  # the sampled copies, before the calibration rows are drawn
    model_id = digest.hexdigest()[:16]
    booster = lgb.Booster(model_str=texts[0] if members == 1 else average_model_text(texts))
    compiled = CompiledTrees.from_dump(booster.dump_model(), model_id, FEATURE_NAMES)
    if calibrate_on is None and x.shape[1] == len(FEATURE_NAMES):
        pick = rng.choice(x.shape[0], min(x.shape[0], CALIBRATION_ROWS), replace=False)
        calibrate_on = x[np.sort(pick)]
    bars = None if calibrate_on is None else calibrated_bars(compiled, calibrate_on, policy or PolicyConfig())
    compiled = replace(compiled, bars=bars)
    meta = {
        "model_id": model_id,
        "cutoff": cutoff.isoformat(),
        "params": p,
        "num_boost_round": rounds,
        "ensemble": members,
        "rows": rows,
        "rows_before_sampling": int(x.shape[0]),
        "positives": n_pos,
        "features": list(feature_names),
        "bars": None if bars is None else {"review_at": bars[0], "hold_at": bars[1]},
    }
    return TrainedModel(model_id, cutoff, booster, compiled, meta)


def _training_rows(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.bool_], cols: npt.NDArray[np.intp] | None,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Every positive and, above ``MAX_NEGATIVES``, a random subsample of the negatives re-weighted to their
    share; the model's columns only."""
    neg = np.flatnonzero(~y)
    weight = np.ones(y.shape[0], dtype=np.float64)
    keep = np.arange(y.shape[0])
    if neg.shape[0] > MAX_NEGATIVES:
        frac = MAX_NEGATIVES / neg.shape[0]
        kept_neg = np.sort(rng.choice(neg, MAX_NEGATIVES, replace=False))
        keep = np.sort(np.concatenate([np.flatnonzero(y), kept_neg]))
        weight[~y] = 1.0 / frac
    xs = x[keep] if cols is None else x[np.ix_(keep, cols)]  # subsampled first: no copy of every row
    return xs, y[keep], weight[keep]


def average_model_text(texts: Sequence[str]) -> str:
    """LightGBM models (text format, same features and objective) as one model whose raw score is the mean of
    theirs: every tree of every model, one after another, each leaf and internal value divided by the number
    of models. The result loads as an ordinary ``lightgbm.Booster``, so the model stores, exact TreeSHAP and
    the compiled trees need nothing new."""
    k = len(texts)
    heads: list[str] = []
    same: set[str] = set()
    trees: list[list[str]] = []
    tail = ""
    for text in texts:
        head, rest = text.split("\nTree=0\n", 1)
        body, tail_k = rest.split("\nend of trees", 1)
        kept = [ln for ln in head.splitlines() if not ln.startswith("tree_sizes=")]  # sizes of one model's trees
        heads.append("\n".join(kept))
        same.add("\n".join(ln for ln in kept if not ln.startswith("feature_infos=")))  # ranges seen differ
        if not tail:
            tail = tail_k
        for block in ("Tree=0\n" + body).split("\n\n"):
            lines = block.strip().splitlines()
            if lines and lines[0].startswith("Tree="):
                trees.append(lines[1:])
    if len(same) != 1:
        raise InvalidInput("only models over the same features and objective can be averaged")

    def scaled(line: str) -> str:
        key, _, vals = line.partition("=")
        if key not in ("leaf_value", "internal_value"):
            return line
        return key + "=" + " ".join(repr(float(v) / k) for v in vals.split())

    out = [heads[0], ""]
    for i, lines in enumerate(trees):
        out.append(f"Tree={i}")
        out.extend(scaled(ln) for ln in lines)
        out.append("")
    # the members' feature importances would count one model's splits only: left out (they are optional)
    _, has_params, params = tail.partition("\nparameters:")
    return "\n".join(out) + "\nend of trees\n" + (has_params + params if has_params else "\n")


def calibrated_bars(model: CompiledTrees, x: npt.NDArray[np.float32], policy: PolicyConfig) -> tuple[float, float]:
    """The model's (review_at, hold_at) for the transfers ``x`` (every engine feature), as the engine decides."""
    score = model.probability(x)
    vulnerable = (x[:, FEATURE_INDEX["payer_elderly_alone"]] != 0) | (x[:, FEATURE_INDEX["on_flagged_call"]] != 0)
    return friction_bars(policy, np.asarray(score, dtype=np.float64), vulnerable,
                         x[:, FEATURE_INDEX["first_time_payee"]] != 0)


def bars_of(meta: Mapping[str, Any]) -> tuple[float, float] | None:
    """A stored model's calibrated bars (None for a model stored before they existed)."""
    b = meta.get("bars")
    return None if not b else (float(b["review_at"]), float(b["hold_at"]))


class ModelStore:
    """A directory of models: ``<id>.txt`` (LightGBM text), ``<id>.json`` (metadata), ``LATEST``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def save(self, model: TrainedModel, *, make_latest: bool = True) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        txt = self.root / f"{model.model_id}.txt"
        if not txt.exists():
            tmp = txt.with_suffix(".tmp")
            model.booster.save_model(str(tmp))
            tmp.replace(txt)  # atomic: a reader never sees half a model
        (self.root / f"{model.model_id}.json").write_text(json.dumps(model.meta, indent=2, sort_keys=True))
        if make_latest:
            tmp = self.root / "LATEST.tmp"
            tmp.write_text(model.model_id)
            tmp.replace(self.root / "LATEST")
        return model.model_id

    def ids(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json")) if self.root.exists() else []

    def latest_id(self) -> str:
        f = self.root / "LATEST"
        if not f.exists():
            raise NotFound(f"no model in {self.root}", field="model")
        return f.read_text().strip()

    def meta(self, model_id: str) -> dict[str, Any]:
        f = self.root / f"{model_id}.json"
        if not f.exists():
            raise NotFound(f"no model {model_id!r} in {self.root}", field="model")
        out: dict[str, Any] = json.loads(f.read_text())
        return out

    def load(self, model_id: str | None = None) -> CompiledTrees:
        import lightgbm as lgb

        mid = model_id or self.latest_id()
        f = self.root / f"{mid}.txt"
        if not f.exists():
            raise NotFound(f"no model {mid!r} in {self.root}", field="model")
        booster = lgb.Booster(model_file=str(f))
        compiled = CompiledTrees.from_dump(booster.dump_model(), mid, FEATURE_NAMES)
        meta = self.root / f"{mid}.json"
        return replace(compiled, bars=bars_of(json.loads(meta.read_text()))) if meta.exists() else compiled


def exact_contributions(model_file: str | Path, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """LightGBM's exact TreeSHAP values (for an auditor's look at a few decisions; slow)."""
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(model_file))
    out: npt.NDArray[np.float64] = np.asarray(booster.predict(x, pred_contrib=True))
    return out
