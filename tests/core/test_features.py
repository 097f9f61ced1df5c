"""Streaming features: windows, first-time payee, pass-through, no look-ahead, currency scale, state size."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from zaslon.core.features import (
    FEATURE_INDEX,
    FEATURE_INFO,
    FEATURE_KINDS,
    FEATURE_NAMES,
    AccountProfile,
    FeatureState,
    TransferColumns,
)
from zaslon.core.knowledge import AccountFlag

T0 = 1_772_000_000 - 1_772_000_000 % 86_400  # a midnight, so bucket edges are easy to reason about


def batch(rows: list[tuple[str, str, int, float]], currency: str = "BYN", **kw: object) -> TransferColumns:
    return TransferColumns(
        payer=[r[0] for r in rows],
        payee=[r[1] for r in rows],
        ts=np.array([T0 + r[2] for r in rows], dtype=np.int64),
        amount=np.array([r[3] for r in rows], dtype=np.float64),
        currency=[currency] * len(rows),
        **kw,  # type: ignore[arg-type]
    )


def run(state: FeatureState, b: TransferColumns, payee_flags: list[int] | None = None) -> np.ndarray:
    n = len(b)
    pf = np.zeros(n, dtype=np.int64)
    qf = np.zeros(n, dtype=np.int64) if payee_flags is None else np.array(payee_flags, dtype=np.int64)
    return state.process(b, pf, qf)


def f(x: np.ndarray, i: int, name: str) -> float:
    return float(x[i, FEATURE_INDEX[name]])


def test_names_kinds_and_meanings_are_published() -> None:
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) == len(FEATURE_INFO)
    assert set(FEATURE_KINDS.values()) <= {"float", "int", "bool"}
    assert all(meaning for _, meaning in FEATURE_INFO.values())


def test_sliding_windows_count_and_sum_out_and_in() -> None:
    st = FeatureState()
    rows = [("A", "B", 0, 100.0), ("A", "B", 300, 100.0), ("A", "C", 7200, 100.0), ("A", "B", 7_200 + 86_400, 50.0)]
    x = run(st, batch(rows))
    # second transfer, 5 minutes after the first: one earlier outgoing in every window
    for w in ("10m", "1h", "24h", "7d"):
        assert f(x, 1, f"payer_out_n_{w}") == 1
    # two hours later: nothing in the last 10 minutes or hour, both earlier ones within 24 h
    assert f(x, 2, "payer_out_n_10m") == 0
    assert f(x, 2, "payer_out_n_1h") == 0
    assert f(x, 2, "payer_out_n_24h") == 2
    assert f(x, 2, "payer_out_sum_24h") == pytest.approx(2.0)  # relative units: both at the currency mean
    # a day later: the day before has left the 24 h window but not the 7 d one
    assert f(x, 3, "payer_out_n_24h") == 0
    assert f(x, 3, "payer_out_n_7d") == 3
    # the payee side sees incoming transfers
    assert f(x, 1, "payee_in_n_10m") == 1
    assert f(x, 3, "payee_in_n_7d") == 2


def test_window_edge_is_bucketed_not_a_leak() -> None:
    st = FeatureState()
    x = run(st, batch([("A", "B", 0, 10), ("A", "B", 11 * 60, 10), ("A", "B", 8 * 86_400, 10)]))
    assert f(x, 1, "payer_out_n_10m") == 0  # 11 minutes later: outside the 10-minute window
    assert f(x, 1, "payer_out_n_1h") == 1
    assert f(x, 2, "payer_out_n_7d") == 0  # 8 days later: outside the week


def test_first_time_payee_and_distinct_counterparties() -> None:
    st = FeatureState()
    x = run(st, batch([("A", "B", 0, 10), ("A", "B", 60, 10), ("A", "C", 120, 10), ("D", "B", 180, 10)]))
    assert [f(x, i, "first_time_payee") for i in range(4)] == [1, 0, 1, 1]
    assert f(x, 2, "payer_distinct_payees") == 1
    assert f(x, 3, "payee_distinct_payers") == 1  # B was paid by A only, before D


def test_pass_through_money_out_soon_after_money_in() -> None:
    st = FeatureState()
    x = run(st, batch([("V", "M", 0, 1000), ("M", "X", 600, 900), ("M", "Y", 3 * 3600, 100)]))
    assert f(x, 1, "passthrough_1h") == pytest.approx(1.0)
    assert f(x, 1, "mins_since_last_in") == pytest.approx(10.0)
    assert f(x, 2, "passthrough_1h") == 0.0  # the money came in three hours ago
    assert f(x, 0, "passthrough_1h") == 0.0


def test_no_look_ahead_and_batching_does_not_matter() -> None:
    rows = [("A", "B", i * 97, 10 + i) for i in range(10)] + [("B", "A", 1000 + i, 5.0) for i in range(5)]
    whole = run(FeatureState(), batch(rows))
    prefix = run(FeatureState(), batch(rows[:6]))
    np.testing.assert_array_equal(whole[:6], prefix)  # later transfers change nothing before them
    st = FeatureState()
    split = np.vstack([run(st, batch(rows[:4])), run(st, batch(rows[4:11])), run(st, batch(rows[11:]))])
    np.testing.assert_array_equal(whole, split)
    # a transfer never counts itself
    assert f(whole, 0, "payer_out_n_10m") == 0 and f(whole, 0, "payee_in_n_10m") == 0


def test_amounts_are_relative_to_their_currency() -> None:
    eur = run(FeatureState(), batch([("A", "B", i, 100.0) for i in range(5)] + [("A", "B", 9, 1000.0)], "EUR"))
    jpy = run(FeatureState(), batch([("A", "B", i, 15000.0) for i in range(5)] + [("A", "B", 9, 150000.0)], "JPY"))
    np.testing.assert_allclose(eur, jpy, rtol=1e-5, atol=1e-5)
    assert f(eur, 5, "amount_rel_log") == pytest.approx(np.log(10), rel=1e-5)
    assert f(eur, 5, "amount_z_payer") > 2  # far above the payer's usual amounts


def test_devices_cross_border_knowledge_and_vulnerability() -> None:
    opened = datetime(2020, 1, 1, tzinfo=UTC)
    prof = {"OLD": AccountProfile(birth_date=date(1950, 5, 1), lives_alone=True, opened_at=opened)}
    st = FeatureState(prof)
    b = batch(
        [("OLD", "B", 0, 10), ("OLD", "B", 60, 10), ("OLD", "C", 120, 10)],
        device=["d1", "d1", "d2"],
        ip=["1.1.1.1", "1.1.1.1", "1.1.1.1"],
        payee_country=["BY", "BY", "LT"],
        on_flagged_call=np.array([False, False, True]),
    )
    x = run(st, b, payee_flags=[0, 0, int(AccountFlag.REPORTED | AccountFlag.IN_CASE)])
    assert [f(x, i, "new_device") for i in range(3)] == [0, 0, 1]
    assert f(x, 2, "new_ip") == 0
    assert [f(x, i, "cross_border") for i in range(3)] == [0, 0, 1]
    assert f(x, 0, "payer_elderly_alone") == 1 and f(x, 0, "payer_age_days") > 2000
    assert f(x, 2, "on_flagged_call") == 1
    assert f(x, 2, "payee_reported") == 1 and f(x, 2, "payee_in_case") == 1 and f(x, 1, "payee_reported") == 0


def test_cash_withdrawals_have_no_payee_state() -> None:
    x = run(FeatureState(), batch([("A", "CASH", 0, 10), ("A", "CASH", 5, 10)]))
    assert f(x, 1, "payee_is_cash") == 1 and f(x, 1, "payee_in_n_10m") == 0


def test_state_stays_under_a_kilobyte_per_account() -> None:
    st = FeatureState()
    rng = np.random.default_rng(1)
    n = 20_000
    ids = [f"BY{i:026d}" for i in range(5_000)]
    payers, payees = rng.integers(0, 5000, n), rng.integers(0, 5000, n)
    times = np.sort(rng.integers(0, 10**6, n))
    rows = [(ids[a], ids[b], int(t), 10.0) for a, b, t in zip(payers, payees, times, strict=True)]
    run(st, batch(rows))
    assert st.array_bytes_per_account() < 800
    assert st.state_bytes_per_account() <= 1024


def test_rules_know_whether_an_age_is_the_opening_date_or_first_seen() -> None:
    opened = datetime(2020, 1, 1, tzinfo=UTC)
    profiles = {"SHOP": AccountProfile(kind="merchant", opened_at=opened)}
    st = FeatureState(profiles)
    x = run(st, batch([("P1", "SHOP", 0, 10), ("P1", "NEW", 60, 10)]))
    assert f(x, 0, "payee_age_known") == 1 and f(x, 0, "payee_age_days") > 2000
    assert f(x, 1, "payee_age_known") == 0 and f(x, 1, "payee_age_days") == 0  # first seen just now
    assert f(x, 0, "payer_age_known") == 0


def test_a_profile_registered_after_first_sight_applies_from_then_on() -> None:
    st = FeatureState({})
    x = run(st, batch([("P1", "LATE", 0, 10)]))
    assert f(x, 0, "payee_age_known") == 0
    st.apply_profile("LATE", AccountProfile(opened_at=datetime(2021, 6, 1, tzinfo=UTC), lives_alone=True,
                                            birth_date=date(1940, 1, 1)))
    x = run(st, batch([("P2", "LATE", 60, 10), ("LATE", "P2", 120, 5)]))
    assert f(x, 0, "payee_age_known") == 1 and f(x, 0, "payee_age_days") > 1500
    assert f(x, 1, "payer_elderly_alone") == 1


def test_thirty_day_spending_mean_and_max_of_the_payer() -> None:
    st = FeatureState()
    day = 86_400
    # 100 on day 0, 300 on day 20, then a transfer on day 25: 30-day window holds both, max is 300
    rows = [("A", "B", 0, 100.0), ("A", "B", 20 * day, 300.0), ("A", "C", 25 * day, 150.0),
            ("A", "C", 70 * day, 150.0)]
    x = run(st, batch(rows))
    assert f(x, 0, "payer_out_n_30d") == 0 and f(x, 0, "payer_out_max_30d") == 0
    assert f(x, 2, "payer_out_n_30d") == 2
    sums = f(x, 2, "payer_out_sum_30d")
    assert f(x, 2, "payer_out_mean_30d") == pytest.approx(sums / 2, rel=1e-6)
    # amounts are in relative units: the day-20 amount is three times the day-0 one
    assert f(x, 2, "payer_out_max_30d") > f(x, 2, "payer_out_mean_30d")
    assert 0.0 < f(x, 2, "amount_over_max_30d") < 1.0
    # 45 days after the last one: nothing left in the window, no max
    assert f(x, 3, "payer_out_n_30d") == 0 and f(x, 3, "payer_out_max_30d") == 0


def test_weekday_counts_from_monday() -> None:
    st = FeatureState()
    monday = T0 - ((T0 // 86_400 + 3) % 7) * 86_400  # the Monday on or before T0
    rows = [("A", "B", monday - T0 + k * 86_400 + 3600, 10.0) for k in range(7)]
    x = run(st, batch(rows))
    assert [f(x, i, "weekday_utc") for i in range(7)] == list(range(7))
    assert datetime.fromtimestamp(monday, UTC).weekday() == 0


def test_reported_counts_and_share_come_from_knowledge_not_the_state() -> None:
    st = FeatureState()
    shop = [(f"P{i}", "SHOP", i * 60, 20.0) for i in range(9)]
    run(st, batch(shop))
    b = batch([("Q", "SHOP", 3600, 20.0), ("R", "DROP", 3600, 20.0)])
    x = st.process(b, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64),
                   payee_reported_n=np.array([1, 1]), payer_reported_n=np.array([0, 2]))
    assert f(x, 0, "payee_reported_n") == 1 and f(x, 0, "payee_reported_share") == pytest.approx(1 / 9)
    # a payee never seen before with a report against it: all of what is known is reported
    assert f(x, 1, "payee_reported_share") == 1.0 and f(x, 1, "payer_reported_n") == 2
    # not given: zero (the snapshot rebuild folds without knowledge)
    y = run(st, batch([("Q", "SHOP", 7200, 20.0)]))
    assert f(y, 0, "payee_reported_n") == 0 and f(y, 0, "payee_reported_share") == 0
