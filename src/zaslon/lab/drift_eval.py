"""Detection under drift: per-week precision and recall of the product's replay, and the days it takes to
recover after a group changes its scheme, with the drift-driven retrain trigger on and off.

The engine sees what a bank would send (transfers, the incidents banks reported, parties and accounts)
and runs the product's own replay loop (``flow.replay.score_stream``: weekly retrains plus, when on, the
``flow.drift`` trigger). The simulator's truth (``truth_transfers`` and the groups' ``pattern_change_at``
in ``manifest.json``) is opened only after every decision is made, to measure them.

Definitions (a transfer is *flagged* when the policy held or blocked it: those are the decisions that stop
money, and a fraud team counts a hold on a transfer later reported as fraud as a true positive; ``review``
lets the money go and is left out):

* week ``k`` (1-based) = the transfers made in ``[start + 7(k-1) days, start + 7k days)`` of the world;
* ``reports``: the transfers made that week that a bank's incident names (reported at any time in the run);
* ``recall``: the share of those ``reports`` the policy flagged when it scored them;
* ``precision``: of the transfers made that week that the policy flagged, the share a bank reported;
* ``recall_truth`` / ``precision_truth``: the same against the simulator's truth: recall over the
  week's fraud-origin transfers (victims' own payments), precision counting any fraud-labelled transfer
  (an origin payment or a drop moving the money on) as a true positive.

Recovery after the change at ``T`` (the earliest ``pattern_change_at`` of the world's groups), on the
drifting groups' fraud-origin transfers:

* ``baseline`` = the flagged share of those made in ``[T - 7 days, T)``;
* for ``k = 1, 2, ...`` the trailing recall ``R_k`` = the flagged share of those made in
  ``[T + max(0, k - window_days) days, T + k days)`` (a daily rolling window, never reaching before ``T``);
* ``recovery_days`` = the smallest ``k`` with ``R_k >= baseline - tolerance`` (windows holding none of the
  group's transfers are skipped); 1 means detection held up from the first day; ``None``: never recovered
  within the run.
* ``recovery_all_group_fraud``: the same on every fraud-labelled transfer of the drifting groups (the
  drops' onward hops and exits too), since the change is in how the money is moved on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from zaslon.core.policy import HOLD
from zaslon.flow.drift import DriftRule
from zaslon.flow.replay import StreamScores, score_stream, stream_pass, validate_incidents, validate_transfers
from zaslon.flow.scoring import ScoringEngine
from zaslon.lab.scoring_eval import profiles_of, reports_of

Progress = Callable[[int], None]
DAY = 86_400
WEEK = 7 * DAY


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def weekly(
    ts: npt.NDArray[np.int64],
    flagged: npt.NDArray[np.bool_],
    reported: npt.NDArray[np.bool_],
    origin: npt.NDArray[np.bool_],
    fraud: npt.NDArray[np.bool_],
    start: int,
    days: int,
) -> list[dict[str, Any]]:
    """The per-week figures (see the module docstring) for transfers at ``ts`` (epoch s)."""
    out = []
    for k in range(-(-days // 7)):
        lo, hi = start + k * WEEK, min(start + (k + 1) * WEEK, start + days * DAY)
        w = (ts >= lo) & (ts < hi)
        fw, rw = flagged & w, reported & w
        out.append({
            "week": k + 1,
            "from": datetime.fromtimestamp(lo, UTC).isoformat(),
            "transfers": int(w.sum()),
            "reports": int(rw.sum()),
            "flagged": int(fw.sum()),
            "precision": _ratio(int((fw & reported).sum()), int(fw.sum())),
            "recall": _ratio(int((fw & reported).sum()), int(rw.sum())),
            "precision_truth": _ratio(int((fw & fraud).sum()), int(fw.sum())),
            "recall_truth": _ratio(int((fw & origin).sum()), int((origin & w).sum())),
        })
    return out


def recovery(
    ts: npt.NDArray[np.int64],
    flagged: npt.NDArray[np.bool_],
    change: int,
    end: int,
    *,
    window_days: int = 3,
    tolerance: float = 0.1,
) -> dict[str, Any]:
    """Days until the trailing recall of the drifting transfers (``ts``, ``flagged``: only those) is back
    within ``tolerance`` of its level in the week before ``change`` (definition in the module docstring)."""
    before = (ts >= change - WEEK) & (ts < change)
    baseline = float(flagged[before].mean()) if before.any() else None
    series: list[dict[str, Any]] = []
    recovered: int | None = None
    k = 1
    while change + (k - 1) * DAY < end:
        w = (ts >= change + max(0, k - window_days) * DAY) & (ts < change + k * DAY)
        r = float(flagged[w].mean()) if w.any() else None
        series.append({"day": k, "transfers": int(w.sum()), "recall": None if r is None else round(r, 4)})
        if recovered is None and baseline is not None and r is not None and r >= baseline - tolerance:
            recovered = k
        k += 1
    return {"baseline_recall": None if baseline is None else round(baseline, 4),
            "baseline_transfers": int(before.sum()), "tolerance": tolerance, "window_days": window_days,
            "recovery_days": recovered, "daily": series}


def _calendar(world: Path, ts: npt.NDArray[np.int64]) -> tuple[int, int, dict[str, Any]]:
    """The world's start (epoch s), length in days, and its manifest (empty when the world has none)."""
    manifest = world / "manifest.json"
    if not manifest.exists():
        start = (int(ts[0]) // DAY) * DAY
        return start, -(-(int(ts[-1]) + 1 - start) // DAY), {}
    m: dict[str, Any] = json.loads(manifest.read_text())
    t0 = datetime.fromisoformat(str(m["start"]).replace("Z", "+00:00"))
    if t0.tzinfo is None:
        t0 = t0.replace(tzinfo=UTC)
    return int(t0.timestamp()), int(m["days"]), m


def _figures(
    res: StreamScores, ts: npt.NDArray[np.int64], reported: npt.NDArray[np.bool_], label: npt.NDArray[Any],
    drifting: npt.NDArray[np.bool_], start: int, days: int, change: int | None, window_days: int, tolerance: float,
) -> dict[str, Any]:
    flagged = res.outcome >= HOLD
    origin = label == "fraud_origin"
    out: dict[str, Any] = {
        "weeks": weekly(ts, flagged, reported, origin, label != "legit", start, days),
        "models": [{"cutoff": m["cutoff"], "trigger": m["trigger"], "positives": m["positives"],
                    "model_id": m["model_id"], **({"drift": m["drift"]} if "drift" in m else {})}
                   for m in res.models],
        "drift_checks": res.checks,
        "held_share": round(float(flagged.mean()), 6) if flagged.size else None,
    }
    if change is None:
        out["recovery_days"], out["recovery"], out["recovery_all_group_fraud"] = None, None, None
        return out
    end = start + days * DAY
    sel = drifting & origin
    rec = recovery(ts[sel], flagged[sel], change, end, window_days=window_days, tolerance=tolerance)
    out["recovery_days"], out["recovery"] = rec["recovery_days"], rec
    # The change is in how the group moves the money on, so also every fraud-labelled transfer of the group
    # (its drops' onward hops and exits besides the victims' payments).
    sel = drifting & (label != "legit")
    out["recovery_all_group_fraud"] = recovery(ts[sel], flagged[sel], change, end, window_days=window_days,
                                               tolerance=tolerance)
    return out


def evaluate_drift(
    world: str | Path,
    *,
    rule: DriftRule | None = None,
    retrain_days: float = 7.0,
    window_days: int = 3,
    tolerance: float = 0.1,
    params: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Replay the world with the drift trigger (``rule``, the product's default if None) and without it."""
    w = Path(world)
    rule = rule or DriftRule()
    transfers = validate_transfers(pl.read_parquet(w / "transfers.parquet"))
    reports = validate_incidents(reports_of(w), transfers)
    engine = ScoringEngine(profiles=profiles_of(w))
    st = stream_pass(engine, transfers, reports, progress=progress)
    runs = {name: score_stream(engine, st, reports, retrain_days=retrain_days, params=params, drift=d)
            for name, d in (("with", rule), ("without", None))}
    ts = st.cols.ts
    ids = st.frame["transfer_id"]
    reported = ids.is_in(reports["transfer_id"].implode()).to_numpy()
    start, days, manifest = _calendar(w, ts)
    # ---- only now is the ground truth opened ----
    truth = pl.read_parquet(w / "truth_transfers.parquet", columns=["transfer_id", "label", "group_id"])
    j = pl.DataFrame({"transfer_id": ids}).join(truth, on="transfer_id", how="left", maintain_order="left")
    label = j["label"].fill_null("legit").to_numpy()
    changes = {name: g["pattern_change_at"] for name, g in manifest.get("groups", {}).items()
               if g.get("pattern_change_at")}
    change = None
    if changes:
        first = min(datetime.fromisoformat(str(v).replace("Z", "+00:00")) for v in changes.values())
        change = int(first.timestamp())
    drifting = j["group_id"].is_in(sorted(changes)).fill_null(False).to_numpy()
    with_trigger, without = (_figures(runs[k], ts, reported, label, drifting, start, days, change, window_days,
                                      tolerance) for k in ("with", "without"))
    return {
        **with_trigger,
        "without_drift_trigger": without,
        "drift_rule": {"check_every_days": rule.check_every_days, "report_window_days": rule.report_window_days,
                       "min_reports": rule.min_reports, "max_missed_share": rule.max_missed_share,
                       "psi_window_days": rule.psi_window_days, "max_psi": rule.max_psi},
        "retrain_days": retrain_days,
        "pattern_change_at": None if change is None else datetime.fromtimestamp(change, UTC).isoformat(),
        "drifting_groups": sorted(changes),
        "flagged_means": "held or blocked",
        "world": str(w),
        "start": datetime.fromtimestamp(start, UTC).isoformat(),
        "days": days,
        "end": (datetime.fromtimestamp(start, UTC) + timedelta(days=days)).isoformat(),
    }
