"""Scoring quality on a simulated world: train on reports made before the last week, score the last week.

Only the tables the exchange may read feed the engine (transfers, incidents, parties, accounts). The
simulator's ``truth_transfers`` is opened only after every score of the last week is computed, to
measure them. Metrics (positives are fraud-origin transfers, i.e. victims' own payments; onward moves of
stolen money by drops are left out of the precision figures because they are neither victim payments nor
legitimate traffic):
- average_precision: AP of the score, fraud-origin vs legitimate transfers of the last week;
- fraud_money_held_share_at_0p1pct: share of fraud-origin money scored above the threshold that flags
  0.1% of legitimate transfers;
- legit_hold_rate: share of legitimate transfers the policy holds or blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from zaslon.core.features import AccountProfile
from zaslon.core.policy import BLOCK, HOLD
from zaslon.flow.model import ModelStore, labels_known_by, train
from zaslon.flow.replay import stream_pass, validate_incidents, validate_transfers
from zaslon.flow.scoring import ScoringEngine

Progress = Callable[[int], None]


def profiles_of(world: Path) -> dict[str, AccountProfile]:
    """Account -> owner profile from accounts.parquet and parties.parquet (what banks share)."""
    acc = pl.read_parquet(world / "accounts.parquet", columns=["account_id", "party_id", "opened_at", "kind"])
    par = pl.read_parquet(world / "parties.parquet", columns=["party_id", "birth_date", "lives_alone"])
    j = acc.join(par, on="party_id", how="left")
    out: dict[str, AccountProfile] = {}
    for aid, opened, born, alone, kind in zip(
        j["account_id"].to_list(), j["opened_at"].to_list(), j["birth_date"].to_list(),
        j["lives_alone"].to_list(), j["kind"].to_list(), strict=True,
    ):
        if opened is not None and opened.tzinfo is None:
            opened = opened.replace(tzinfo=UTC)
        out[aid] = AccountProfile(opened_at=opened, birth_date=born, lives_alone=bool(alone), kind=kind)
    return out


def reports_of(world: Path) -> pl.DataFrame:
    """One row per transfer named in an incident: transfer_id, reported_at."""
    inc = pl.read_parquet(world / "incidents.parquet", columns=["reported_at", "transfer_ids"])
    return (
        inc.explode("transfer_ids")
        .rename({"transfer_ids": "transfer_id"})
        .drop_nulls("transfer_id")
        .select("transfer_id", "reported_at")
    )


def average_precision(y: npt.NDArray[np.bool_], s: npt.NDArray[np.float64]) -> float:
    """AP as the mean precision at each positive, ties broken pessimistically (negatives first)."""
    if not y.any():
        return float("nan")
    order = np.lexsort((y.astype(np.int8), -s))  # by score desc; within ties, negatives before positives
    yy = y[order]
    prec = np.cumsum(yy) / np.arange(1, yy.shape[0] + 1)
    return float(prec[yy].mean())


def evaluate_world(
    world: str | Path,
    *,
    eval_days: float = 7.0,
    model_dir: str | Path | None = None,
    params: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    w = Path(world)
    transfers = validate_transfers(pl.read_parquet(w / "transfers.parquet"))
    reports = validate_incidents(reports_of(w), transfers)
    engine = ScoringEngine(profiles=profiles_of(w))
    st = stream_pass(engine, transfers, reports, progress=progress)
    ts = st.cols.ts
    end = int(ts[-1]) + 1
    manifest = w / "manifest.json"
    if manifest.exists():  # the world's calendar end, so "the last week" is the last seven days
        import json

        m = json.loads(manifest.read_text())
        start = datetime.fromisoformat(str(m["start"]))
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        end = int((start + timedelta(days=float(m["days"]))).timestamp())
    cutoff_s = end - int(eval_days * 86400)
    cutoff = datetime.fromtimestamp(cutoff_s, tz=UTC)
    hi = int(np.searchsorted(ts, cutoff_s, side="left"))
    ids = st.frame["transfer_id"].to_list()
    named = [(at, [tid]) for tid, at in reports.iter_rows()]
    y_train = labels_known_by(ids[:hi], named, cutoff)
    trained = train(st.x[:hi], y_train, cutoff=cutoff, params=params)
    if model_dir is not None:
        ModelStore(model_dir).save(trained)
    res = engine.judge(st.x[hi:], st.payer_f[hi:], st.payee_f[hi:], explain=False, model=trained.compiled)
    scored = pl.DataFrame(
        {
            "transfer_id": ids[hi:],
            "score": res.score,
            "outcome": res.outcome,
            "amount": st.frame["amount"][hi:].cast(pl.Float64),
        }
    )
    # ---- only now is the ground truth opened ----
    truth = pl.read_parquet(w / "truth_transfers.parquet", columns=["transfer_id", "label"])
    j = scored.join(truth, on="transfer_id", how="left").with_columns(pl.col("label").fill_null("legit"))
    lab = j["label"].to_numpy()
    score = j["score"].to_numpy()
    fraud = lab == "fraud_origin"
    legit = lab == "legit"
    keep = fraud | legit
    ap = average_precision(fraud[keep], score[keep])
    legit_s = np.sort(score[legit])
    k = int(np.floor(0.001 * legit_s.shape[0]))
    thr = float(legit_s[-k - 1]) if legit_s.shape[0] > k else 0.0  # at most 0.1% of legit scores above it
    amt = j["amount"].to_numpy()
    fraud_money = float(amt[fraud].sum())
    held_money = float(amt[fraud & (score > thr)].sum())
    outc = j["outcome"].to_numpy()
    held = (outc == HOLD) | (outc == BLOCK)
    return {
        "average_precision": round(ap, 4),
        "fraud_money_held_share_at_0p1pct": round(held_money / fraud_money, 4) if fraud_money else float("nan"),
        "legit_hold_rate": round(float(held[legit].mean()), 6) if legit.any() else float("nan"),
        "policy_fraud_money_held_share": round(float(amt[fraud & held].sum()) / fraud_money, 4)
        if fraud_money else float("nan"),
        "average_precision_all_fraud_labels": round(average_precision(lab[keep | ~keep] != "legit", score), 4),
        "threshold_at_0p1pct": thr,
        "eval_from": cutoff.isoformat(),
        "eval_days": eval_days,
        "eval_transfers": len(j),
        "eval_fraud_origin": int(fraud.sum()),
        "train_transfers": hi,
        "train_positives_known": int(y_train.sum()),
        "model_id": trained.model_id,
        "world": str(w),
        "trained_until": (cutoff - timedelta(microseconds=1)).isoformat(),
    }
