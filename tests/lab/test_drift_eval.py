"""`zaslon eval drift`: the weekly figures and recovery days on hand-made series, and the JSON contract on the
tiny world (its bad-input cases: tests/cli/test_drift.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from zaslon.cli import app
from zaslon.lab.drift_eval import DAY, recovery, weekly
from zaslon.simulate.world import generate

runner = CliRunner()
T = 1_000 * DAY  # the change, on a day boundary
WEEK_KEYS = {"week", "precision", "recall", "reports"}


def series(days: list[tuple[int, int]], first_day: int) -> tuple[np.ndarray, np.ndarray]:
    """(flagged, total) per day from ``first_day`` (relative to T) on, as transfer times and flags."""
    ts, flagged = [], []
    for d, (hit, total) in enumerate(days):
        for k in range(total):
            ts.append(T + (first_day + d) * DAY + 3600 + k)
            flagged.append(k < hit)
    return np.array(ts, dtype=np.int64), np.array(flagged, dtype=np.bool_)


def test_recovery_counts_days_until_the_trailing_recall_is_back_near_the_baseline() -> None:
    # Week before: 8 of 10 flagged. After: a day with none caught, then it comes back.
    bt, bf = series([(2, 2), (2, 3), (2, 2), (1, 1), (0, 0), (1, 1), (0, 1)], first_day=-7)
    at, af = series([(0, 4), (1, 4), (4, 4), (4, 4), (3, 3)], first_day=0)
    out = recovery(np.concatenate([bt, at]), np.concatenate([bf, af]), T, T + 5 * DAY, window_days=3,
                   tolerance=0.1)
    assert out["baseline_recall"] == 0.8 and out["baseline_transfers"] == 10
    # Trailing 3-day recall: day 1 0/4, day 2 1/8, day 3 5/12, day 4 9/12 = 0.75 >= 0.8 - 0.1.
    assert [d["recall"] for d in out["daily"]] == [0.0, 0.125, 0.4167, 0.75, 1.0]
    assert out["recovery_days"] == 4


def test_recovery_is_one_day_when_detection_holds_and_none_when_it_never_returns() -> None:
    bt, bf = series([(4, 5)] * 7, first_day=-7)
    held_t, held_f = series([(4, 5)] * 3, first_day=0)
    ok = recovery(np.concatenate([bt, held_t]), np.concatenate([bf, held_f]), T, T + 3 * DAY)
    assert ok["recovery_days"] == 1
    lost_t, lost_f = series([(1, 5)] * 3, first_day=0)
    lost = recovery(np.concatenate([bt, lost_t]), np.concatenate([bf, lost_f]), T, T + 3 * DAY)
    assert lost["recovery_days"] is None and [d["recall"] for d in lost["daily"]] == [0.2, 0.2, 0.2]


def test_recovery_skips_days_without_the_groups_transfers() -> None:
    bt, bf = series([(1, 1)] * 7, first_day=-7)
    at, af = series([(0, 0), (0, 0), (0, 0), (0, 0), (1, 1)], first_day=0)  # nothing for four days
    out = recovery(np.concatenate([bt, at]), np.concatenate([bf, af]), T, T + 5 * DAY, window_days=3)
    assert [d["recall"] for d in out["daily"]] == [None, None, None, None, 1.0]
    assert out["recovery_days"] == 5


def test_weekly_precision_and_recall_on_the_weeks_reports() -> None:
    ts = np.array([0, 1, 2, 3, 7 * DAY, 7 * DAY + 1], dtype=np.int64)
    flagged = np.array([True, True, False, False, True, False])
    reported = np.array([True, False, True, False, False, False])
    origin = reported.copy()
    fraud = np.array([True, True, True, False, False, False])
    w1, w2 = weekly(ts, flagged, reported, origin, fraud, start=0, days=14)
    assert (w1["reports"], w1["flagged"], w1["precision"], w1["recall"]) == (2, 2, 0.5, 0.5)
    assert (w1["precision_truth"], w1["recall_truth"]) == (1.0, 0.5)
    assert (w2["reports"], w2["precision"], w2["recall"], w2["recall_truth"]) == (0, 0.0, None, None)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    w = tmp_path_factory.mktemp("world") / "tiny-1"
    generate("tiny", 1, w, force=True)
    return w


def test_eval_drift_writes_the_contract_keys_with_and_without_the_trigger(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench" / "drift.json"
    r = runner.invoke(app, ["eval", "drift", "--world", str(tiny), "--json", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert {"weeks", "recovery_days"} <= set(d)
    assert [w["week"] for w in d["weeks"]] == [1, 2]  # tiny runs 14 days
    for block in (d, d["without_drift_trigger"]):
        assert all(set(w) >= WEEK_KEYS for w in block["weeks"])
        assert block["recovery_days"] is None or block["recovery_days"] >= 1
        assert all(m["trigger"] in {"schedule", "drift"} for m in block["models"])
    assert d["drifting_groups"] == ["G01"] and d["pattern_change_at"].startswith("2026-03-08T21:00")
    assert sum(w["reports"] for w in d["weeks"]) > 0
    assert not d["without_drift_trigger"]["drift_checks"]  # the trigger off checks nothing
