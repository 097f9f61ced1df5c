from __future__ import annotations

import numpy as np
import pytest

from zaslon.core.corroborate import is_established
from zaslon.core.fx import to_byn_minor
from zaslon.core.outcome import Tally, percentile, summary


def test_summary_figures_and_caps() -> None:
    s = summary(Tally(stolen=100_00, prevented=30_00, frozen=40_00, legit=1000, legit_held=3,
                      legit_held_amount=5_00, freeze_times_s=[0.01, 0.02, 0.5]))
    assert (s["stolen"], s["prevented"], s["frozen"], s["saved"], s["lost"]) == (100.0, 30.0, 40.0, 70.0, 30.0)
    assert s["saved_share"] == 0.7 and s["legit_hold_rate"] == 0.003
    assert s["time_to_freeze_p50_s"] == 0.02 and s["time_to_freeze_p99_s"] == 0.5
    over = summary(Tally(stolen=10, prevented=8, frozen=8))
    assert over["saved"] == over["stolen"] and over["lost"] == 0
    empty = summary(Tally())
    assert empty["saved_share"] == 0.0 and empty["time_to_freeze_p99_s"] is None


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile(list(range(1, 101)), 99) == 99


def test_reference_rates_to_byn_kopecks() -> None:
    got = to_byn_minor(np.array([10_000, 2_800_00, 16_000_00], dtype=np.int64), ["BYN", "RUB", "KZT"])
    assert got.tolist() == [10_000, 10_000, 10_000]
    with pytest.raises(ValueError):
        to_byn_minor(np.array([1], dtype=np.int64), ["XAU"])


def test_established_accounts_need_corroboration() -> None:
    assert is_established("merchant", 500)
    assert is_established("business", 10)
    assert not is_established("business", 9)
    assert not is_established("personal", 25)  # drops have a few dozen payers at most
    assert is_established("personal", 50)
