"""Model versions in the store: train on what the exchange itself was told, promote, roll back, hot reload.

A trained model is stored as a version (its id, its cut-off, its metrics, who trained it and when) and does
not decide anything until an analyst promotes it. Promotion and rollback write the ``live`` slot and bump
a generation counter; every running exchange's ``ModelWatcher`` sees the new generation on its next poll
(or at once, in the process that made the change) and swaps the model with ``ScoringEngine.set_model``:
no restart, and a batch is never scored half by one model and half by the other.

Training rows: the features every transfer was scored with, labelled by the incidents reported before the
cut-off (the transfers they dispute). The running exchange has them in its feature log; after a restart
(or from the CLI) they are rebuilt from the store: the decided transfers folded again in the engine's own
order (``feature_seq``) give the same state features exactly; of the knowledge only "reported" and the
reported-transfer counts are rebuilt, as of each transfer's time from the incidents' report times (traced,
in-case and suspected-drop flags read 0 there: the store keeps no history of them).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from zaslon.adapters.db.stores.feature_state import SqlFeatureStateStore
from zaslon.adapters.db.stores.incidents import SqlIncidentStore
from zaslon.adapters.db.stores.models import SqlModelStore
from zaslon.core.features import FEATURE_NAMES, AccountProfile, FeatureState
from zaslon.core.knowledge import AccountFlag
from zaslon.core.model_trees import CompiledTrees
from zaslon.core.types import require_utc, transfer_key
from zaslon.errors import InvalidInput
from zaslon.flow.feature_snapshot import columns_of_rows
from zaslon.flow.model import TrainedModel, bars_of, train
from zaslon.flow.ports.models import ModelDeployment, ModelInfo, ModelStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

F32 = npt.NDArray[np.float32]


def _store(db: Engine) -> ModelStore:
    return SqlModelStore(db)


# ---- training rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrainingRows:
    ids: list[str]
    x: F32
    y: npt.NDArray[np.bool_]
    source: str  # "store" or "log"

    def canonical(self) -> TrainingRows:
        """Rows in transfer-id order: the same rows give the same model (and id) whatever order they came in
        (the log keeps the order requests arrived in, the store the order the engine folded them)."""
        order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
        idx = np.asarray(order, dtype=np.int64)
        return TrainingRows([self.ids[i] for i in order], self.x[idx], self.y[idx], self.source)


def rows_from_log(db: Engine, log: Any, cutoff: datetime) -> TrainingRows:
    """The running exchange's feature log (``zaslon.flow.exchange.FeatureLog``) before ``cutoff``."""
    ids, x = log.before(int(cutoff.timestamp()))
    named = SqlIncidentStore(db).disputed_before(cutoff)
    y = np.fromiter((t in named for t in ids), dtype=np.bool_, count=len(ids))
    return TrainingRows(ids, x, y, "log").canonical()


def rows_from_store(db: Engine, cutoff: datetime, profiles: Mapping[str, AccountProfile] | None = None, *,
                    home_country: str = "BY") -> TrainingRows:
    """Every decided transfer made before ``cutoff``, its features rebuilt from the store (see the module)."""
    incidents = SqlIncidentStore(db)
    sources = incidents.knowledge_sources()
    reported = sources.reported or [at for _, at in sources.named]
    first_named: dict[str, int] = {}
    for (account, _), at in zip(sources.named, reported, strict=True):
        s = int(at.timestamp())
        first_named[account] = min(first_named.get(account, s), s)
    state = FeatureState(home_country=home_country)
    state.profiles = profiles or {}
    limit = int(cutoff.timestamp())
    ids: list[str] = []
    xs: list[F32] = []
    never = 2**62

    reports_in: dict[str, list[int]] = {}
    reports_out: dict[str, list[int]] = {}
    for (payer, payee), at in zip(sources.disputed, reported, strict=True):
        s = int(at.timestamp())
        reports_in.setdefault(payee, []).append(s)
        reports_out.setdefault(payer, []).append(s)
    for times in (*reports_in.values(), *reports_out.values()):
        times.sort()

    def flags(accounts: list[str], ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        at = np.fromiter((first_named.get(a, never) for a in accounts), dtype=np.int64, count=len(accounts))
        return np.where(at < ts, int(AccountFlag.REPORTED), 0).astype(np.int64)

    def counts(accounts: list[str], ts: npt.NDArray[np.int64], by: dict[str, list[int]]) -> npt.NDArray[np.int64]:
        """Reports made before each row's time, as the live scoring saw them."""
        return np.fromiter((bisect.bisect_left(by[a], int(t)) if a in by else 0
                            for a, t in zip(accounts, ts.tolist(), strict=True)), dtype=np.int64, count=len(accounts))

    for page in SqlFeatureStateStore(db).tail(0):
        cols = columns_of_rows(page)
        payers, payees = list(cols.payer), list(cols.payee)
        x = state.process(cols, flags(payers, cols.ts), flags(payees, cols.ts),
                          payee_reported_n=counts(payees, cols.ts, reports_in),
                          payer_reported_n=counts(payers, cols.ts, reports_out))
        keep = np.flatnonzero(cols.ts < limit)
        if keep.size:
            ids += [transfer_key(page[i].org_id or "", page[i].transfer_id or "") for i in keep.tolist()]
            xs.append(x[keep])
    x_all = np.concatenate(xs) if xs else np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    named = incidents.disputed_before(cutoff)
    y = np.fromiter((t in named for t in ids), dtype=np.bool_, count=len(ids))
    return TrainingRows(ids, x_all, y, "store").canonical()


def auc(y: npt.NDArray[np.bool_], score: npt.NDArray[np.float64]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties counted half); None without both classes."""
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score), dtype=np.float64)
    ranks[order] = np.arange(1, len(score) + 1)
    s = score[order]  # average the ranks of equal scores
    _, start, counts = np.unique(s, return_index=True, return_counts=True)
    for st, c in zip(start.tolist(), counts.tolist(), strict=True):
        if c > 1:
            ranks[order[st:st + c]] = st + (c + 1) / 2
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


AUC_ROWS = 200_000


def train_version(db: Engine, rows: TrainingRows, cutoff: datetime, *, actor: str, min_positives: int = 5,
                  params: Mapping[str, Any] | None = None, now: datetime | None = None) -> TrainedModel | None:
    """Train on ``rows`` and store the model as a version (not live); None if too few reports."""
    positives = int(rows.y.sum())
    if positives < min_positives or positives == len(rows.ids):
        return None
    trained = train(rows.x, rows.y, cutoff=cutoff, params=params)
    # The fit's AUC over every reported row and at most AUC_ROWS unreported ones drawn at random (scoring a
    # million rows for one figure took two fifths of a retrain).
    unreported = np.flatnonzero(~rows.y)
    drawn = np.random.default_rng(0).choice(unreported, min(AUC_ROWS, unreported.size), replace=False)
    sample = np.sort(np.concatenate([np.flatnonzero(rows.y), drawn]))
    score = trained.compiled.probability(rows.x[sample])
    metrics = {"rows": len(rows.ids), "positives": positives, "positive_rate": round(positives / len(rows.ids), 6),
               "auc_train": auc(rows.y[sample], np.asarray(score, dtype=np.float64))}
    info = ModelInfo(trained.model_id, now or datetime.now(UTC), actor, cutoff, rows.source, metrics,
                     {k: v for k, v in trained.meta.items() if k != "features"}
                     | {"features": len(trained.meta["features"])})
    _store(db).add(info, trained.booster.model_to_string())
    trained.meta["metrics"] = metrics
    return trained


def train_from_store(db: Engine, cutoff: datetime, *, actor: str, profiles: Mapping[str, AccountProfile] | None
                     = None, min_positives: int = 5, promote_it: bool = False,
                     params: Mapping[str, Any] | None = None) -> TrainedModel | None:
    """``zaslon model train --from-store``: rows rebuilt from the store, stored as a version."""
    cutoff = require_utc(cutoff, "cutoff")
    trained = train_version(db, rows_from_store(db, cutoff, profiles), cutoff, actor=actor,
                            min_positives=min_positives, params=params)
    if trained is not None and promote_it:
        promote(db, trained.model_id, actor=actor)
    return trained


# ---- versions ------------------------------------------------------------------------------------------


def list_models(db: Engine) -> list[ModelInfo]:
    return _store(db).versions()


def get_model(db: Engine, model_id: str) -> ModelInfo:
    return _store(db).get(model_id)


def deployment(db: Engine) -> ModelDeployment:
    return _store(db).deployment()


def promote(db: Engine, model_id: str, *, actor: str, now: datetime | None = None) -> ModelDeployment:
    if not model_id or len(model_id) > 64:
        raise InvalidInput("a model version is 1-64 characters", field="version")
    return _store(db).promote(model_id, actor=actor, at=now or datetime.now(UTC))


def rollback(db: Engine, *, actor: str, now: datetime | None = None) -> ModelDeployment:
    return _store(db).rollback(actor=actor, at=now or datetime.now(UTC))


def load_model(db: Engine, model_id: str) -> CompiledTrees:
    import lightgbm as lgb

    store = _store(db)
    booster = lgb.Booster(model_str=store.booster(model_id))
    compiled = CompiledTrees.from_dump(booster.dump_model(), model_id, FEATURE_NAMES)
    return replace(compiled, bars=bars_of(store.get(model_id).meta))


# ---- hot reload -------------------------------------------------------------------------------------------


class ModelWatcher:
    """Keeps a running engine on the promoted model; polls the generation counter (cheap: one query).

    Until a model is promoted in the store, the engine keeps what it started with (none, or a model from
    ``ZASLON_MODEL_DIR``). A version that fails to load is skipped and the current model stays."""

    def __init__(self, db: Engine, apply: Callable[[CompiledTrees], None], *, interval_s: float = 2.0) -> None:
        self.db, self.apply, self.interval_s = db, apply, interval_s
        self.state: ModelDeployment | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._checked = 0.0

    def refresh(self) -> bool:
        with self._lock:
            self._checked = time.monotonic()
            dep = deployment(self.db)
            if dep == self.state:
                return False
            if dep.live is None:
                self.state = dep
                return False
            try:
                model = load_model(self.db, dep.live)
            except Exception as exc:  # a corrupt version must not stop scoring: keep the current model
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.state = dep
                return False
            self.apply(model)
            self.state = dep
            self.last_error = None
            return True

    notify = refresh

    def maybe_refresh(self) -> bool:
        if time.monotonic() - self._checked < self.interval_s:
            return False
        return self.refresh()


__all__ = ["ModelDeployment", "ModelInfo", "ModelWatcher", "TrainingRows", "auc", "deployment", "get_model",
           "list_models", "load_model",
           "promote", "rollback", "rows_from_log", "rows_from_store", "train_from_store", "train_version"]
