"""When to retrain early: the drift rule that sits beside the fixed retrain schedule.

Fraud schemes change faster than a weekly schedule. Two signals, both computed from what the exchange
itself sees (its own decisions, its own scores and the reports banks send), never from any ground truth:

* **missed reports**: of the transfers reported in the last ``report_window_days`` (and since the current
  model was trained) that this model scored, the share it let through (``allow``: below its review bar).
  A model that keeps its usual hit rate on new reports is fine; when more than ``max_missed_share`` of at
  least ``min_reports`` such reports were allowed, the fraud it sees is no longer the fraud it learned.
  The window is trailing so that a scheme change in the middle of a model's life is not diluted by the
  reports from before it.
* **score shift**: the population stability index (PSI) of the model's scores over the last
  ``psi_window_days`` against its scores on the same length of its own training window's end. A PSI
  above ``max_psi`` (0.25 is the usual "major shift" bar) means the traffic moved away from what the
  model was trained on.

Either signal retrains at the next check (every ``check_every_days``). The rule is pure: it takes arrays
and returns a reason or ``None``, so the live Exchange can apply it to its own decision log as the replay
does to its stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zaslon.core.policy import REVIEW

PSI_BINS = 10
_EPS = 1e-4  # an empty bin counts as this share, so the PSI stays finite


@dataclass(frozen=True, slots=True)
class DriftRule:
    check_every_days: float = 1.0
    report_window_days: float = 3.0
    min_reports: int = 10  # fewer new reports than this say nothing about a miss share
    max_missed_share: float = 0.5
    psi_window_days: float = 1.0
    max_psi: float = 0.25  # float("inf") turns the score-shift signal off

    def __post_init__(self) -> None:
        if min(self.check_every_days, self.report_window_days, self.psi_window_days) <= 0:
            raise ValueError("check_every_days, report_window_days and psi_window_days must be positive")
        if self.min_reports < 1:
            raise ValueError("min_reports must be at least 1")
        if not 0.0 <= self.max_missed_share <= 1.0:
            raise ValueError("max_missed_share must be in [0, 1]")
        if self.max_psi <= 0:
            raise ValueError("max_psi must be positive")


@dataclass(frozen=True, slots=True)
class DriftCheck:
    """What one check saw; ``reason`` is set when the rule asks for a retrain."""

    new_reports: int
    missed_share: float | None  # None: fewer than min_reports new reports
    psi: float | None  # None: no scores in one of the windows
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"new_reports": self.new_reports, "missed_share": self.missed_share, "psi": self.psi,
                "reason": self.reason}


def missed_share(outcomes: npt.NDArray[np.int8]) -> float:
    """Share of reported transfers the policy allowed (outcome below review)."""
    if outcomes.shape[0] == 0:
        raise ValueError("no outcomes")
    return float((outcomes < REVIEW).mean())


def psi(reference: npt.NDArray[np.float64], recent: npt.NDArray[np.float64], bins: int = PSI_BINS) -> float:
    """Population stability index of ``recent`` against ``reference``, on the reference's quantile bins.

    Scores of a fraud model pile up near zero, so equal quantiles repeat; repeated edges are merged and
    the bins are the distinct ones left."""
    if reference.shape[0] == 0 or recent.shape[0] == 0:
        raise ValueError("both windows need scores")
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.shape[0] + 1)
    cur = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=edges.shape[0] + 1)
    p = np.maximum(ref / reference.shape[0], _EPS)
    q = np.maximum(cur / recent.shape[0], _EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def check(
    rule: DriftRule,
    new_report_outcomes: npt.NDArray[np.int8],
    reference_scores: npt.NDArray[np.float64],
    recent_scores: npt.NDArray[np.float64],
) -> DriftCheck:
    """Apply the rule. ``new_report_outcomes``: the current model's outcomes on the transfers reported in
    the report window since it was trained; the score windows as described in the module docstring."""
    n = int(new_report_outcomes.shape[0])
    miss = missed_share(new_report_outcomes) if n >= rule.min_reports else None
    shift = psi(reference_scores, recent_scores) if reference_scores.size and recent_scores.size else None
    reason = None
    if miss is not None and miss > rule.max_missed_share:
        reason = f"missed reports: {miss:.2f} of {n} new reports allowed > {rule.max_missed_share}"
    elif shift is not None and shift > rule.max_psi:
        reason = f"score shift: PSI {shift:.3f} > {rule.max_psi}"
    return DriftCheck(n, None if miss is None else round(miss, 4), None if shift is None else round(shift, 4),
                      reason)
