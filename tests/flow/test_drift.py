"""The drift rule (flow.drift) and the replay's drift-driven retrains on a synthetic scheme change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from zaslon.core.policy import ALLOW, HOLD, REVIEW
from zaslon.flow.drift import DriftRule, check, missed_share, psi
from zaslon.flow.replay import replay

START = datetime(2025, 6, 2, tzinfo=UTC)
DAYS = 20
CHANGE_DAY = 9


def test_psi_is_near_zero_on_the_same_distribution_and_large_on_a_shift() -> None:
    rng = np.random.default_rng(0)
    ref = rng.beta(0.5, 20, 5000)
    assert psi(ref, rng.beta(0.5, 20, 5000)) < 0.02
    assert psi(ref, rng.beta(2, 5, 5000)) > 0.25


def test_psi_merges_repeated_quantiles_of_scores_piled_at_zero() -> None:
    ref = np.concatenate([np.zeros(900), np.linspace(0.1, 1, 100)])
    assert np.isfinite(psi(ref, ref)) and psi(ref, ref) == pytest.approx(0.0)
    assert psi(ref, np.full(50, 0.9)) > 0.25


def test_check_fires_on_missed_reports_only_with_enough_of_them() -> None:
    rule = DriftRule(min_reports=10, max_missed_share=0.5)
    flat = np.zeros(100)
    missed = np.array([ALLOW] * 7 + [HOLD] * 3, dtype=np.int8)
    assert missed_share(missed) == pytest.approx(0.7)
    seen = check(rule, missed, flat, flat)
    assert seen.reason is not None and "missed reports" in seen.reason and seen.missed_share == 0.7
    few = check(rule, missed[:9], flat, flat)  # 9 reports say nothing yet
    assert few.reason is None and few.missed_share is None and few.new_reports == 9
    caught = np.array([REVIEW] * 6 + [ALLOW] * 4, dtype=np.int8)
    assert check(rule, caught, flat, flat).reason is None


def test_check_fires_on_a_score_shift() -> None:
    rng = np.random.default_rng(1)
    seen = check(DriftRule(), np.empty(0, dtype=np.int8), rng.beta(0.5, 20, 3000), rng.beta(2, 5, 3000))
    assert seen.reason is not None and "score shift" in seen.reason


@pytest.mark.parametrize("bad", [{"check_every_days": 0}, {"min_reports": 0}, {"max_missed_share": 1.5},
                                 {"max_psi": 0}, {"report_window_days": -1}])
def test_rule_refuses_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DriftRule(**bad)  # type: ignore[arg-type]


def history(change: bool, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Households pay their usual payees and sometimes someone new, by day. Fraud is a victim's payment to
    a stranger, reported 1-12 h later. Scheme A: large amounts at night over the web. With ``change``, from
    day CHANGE_DAY on scheme B: everyday amounts in the afternoon from the mobile app, which a model trained on A
    lets through."""
    rng = np.random.default_rng(seed)
    people = [f"P{i:04d}" for i in range(1000)]
    usual = {p: [people[j] for j in rng.integers(0, 1000, 3)] for p in people}
    rows: list[tuple[str, datetime, str, str, int, str, str]] = []
    reports: list[tuple[str, datetime]] = []
    for day in range(DAYS):
        base = START + timedelta(days=day)
        for k in range(400):
            p = people[int(rng.integers(0, 1000))]
            q = usual[p][int(rng.integers(0, 3))] if rng.random() < 0.7 else people[int(rng.integers(0, 1000))]
            t = base + timedelta(hours=float(rng.uniform(7, 22)))
            rows.append((f"n{day}-{k}", t, p, q, int(rng.lognormal(3, 0.7) * 100), "EUR", "mobile"))
        for k in range(12):
            v, m = people[int(rng.integers(0, 1000))], people[int(rng.integers(0, 1000))]
            if change and day >= CHANGE_DAY:
                t = base + timedelta(hours=float(rng.uniform(12, 16)))
                amt, channel = int(rng.lognormal(3.2, 0.5) * 100), "mobile"
            else:
                t = base + timedelta(hours=float(rng.uniform(1, 4)))
                amt, channel = int(rng.lognormal(6.5, 0.4) * 100), "web"
            rows.append((f"f{day}-{k}", t, v, m, amt, "EUR", channel))
            reports.append((f"f{day}-{k}", t + timedelta(hours=float(rng.uniform(1, 12)))))
    t_df = pl.DataFrame(rows, schema=["transfer_id", "ts", "payer", "payee", "amount", "currency", "channel"],
                        orient="row").with_columns(pl.col("ts").dt.cast_time_unit("us"))
    i_df = pl.DataFrame(reports, schema=["transfer_id", "reported_at"], orient="row")
    return t_df, i_df.with_columns(pl.col("reported_at").dt.cast_time_unit("us"))


def test_replay_retrains_early_on_a_scheme_change() -> None:
    t, i = history(change=True)
    res = replay(t, i, retrain_days=7)
    drifted = [m for m in res.models if m["trigger"] == "drift"]
    assert drifted, [m["cutoff"] for m in res.models]
    first = datetime.fromisoformat(drifted[0]["cutoff"])
    change = START + timedelta(days=CHANGE_DAY)
    assert change < first <= change + timedelta(days=4)  # within days of the change, before the schedule's day 14
    assert drifted[0]["drift"]["missed_share"] > 0.5 and drifted[0]["drift"]["new_reports"] >= 10
    assert {m["trigger"] for m in res.models} == {"schedule", "drift"}


def test_replay_keeps_to_the_schedule_on_a_stationary_stream() -> None:
    t, i = history(change=False)
    res = replay(t, i, retrain_days=7)
    assert [m["trigger"] for m in res.models] == ["schedule", "schedule"]  # day 7 and day 14


def test_without_the_rule_only_the_schedule_trains() -> None:
    t, i = history(change=True)
    res = replay(t, i, retrain_days=7, drift=None)
    assert [m["trigger"] for m in res.models] == ["schedule", "schedule"]
