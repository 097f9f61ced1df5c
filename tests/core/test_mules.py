from __future__ import annotations

import numpy as np

from zaslon.core.mules import (
    MuleParams,
    TransferArrays,
    average_precision,
    precision_at,
    rank_mules,
)

H = 3600.0


def world(seed: int = 3) -> tuple[int, TransferArrays, np.ndarray, list[int], list[int]]:
    """200 ordinary accounts paying each other over 30 days; drops 200..205 take victims' money."""
    rng = np.random.default_rng(seed)
    n = 210
    rows: list[tuple[int, int, float, float, bool]] = []
    for _ in range(3000):
        a, b = rng.integers(0, 200, 2)
        if a != b:
            rows.append((int(a), int(b), float(rng.integers(10, 500)), float(rng.uniform(0, 30 * 24 * H)), False))
    for k in range(200):  # ordinary cash withdrawals, days after salaries
        rows.append((k, -1, 100.0, float(rng.uniform(0, 30 * 24 * H)), True))
    collectors, cashers = [200, 201, 202], [203, 204, 205]
    for c, d in zip(collectors, cashers, strict=True):
        t0 = float(rng.uniform(2, 25)) * 24 * H
        for v in rng.choice(200, 6, replace=False):  # six unrelated victims pay the collector within hours
            amt = float(rng.integers(900, 1100))
            t = t0 + float(rng.uniform(0, 3 * H))
            rows.append((int(v), c, amt, t, False))
            rows.append((c, d, amt * 0.98, t + 0.3 * H, False))  # forwarded within the hour
            rows.append((d, -1, amt * 0.97, t + 0.8 * H, True))  # and cashed out
    payer, payee, amount, ts, cash = zip(*rows, strict=True)
    opened = np.full(n, -365 * 24 * H)
    opened[200:] = 24 * H  # drops opened on day 1
    return n, TransferArrays.build(payer, payee, amount, ts, cash), opened, collectors, cashers


def test_drops_rank_above_ordinary_accounts_with_reasons() -> None:
    n, tx, opened, collectors, cashers = world()
    r = rank_mules(n, tx, MuleParams(), opened_at=opened)
    top = set(r.order()[:6].tolist())
    assert top == set(collectors + cashers)
    labels = np.zeros(n, dtype=bool)
    labels[collectors + cashers] = True
    assert average_precision(r.scores, labels) == 1.0
    codes = {x.code for x in r.reasons(collectors[0])}
    assert {"mule.fan_in", "mule.pass_through", "mule.young"} <= codes
    assert "mule.cash_out" in {x.code for x in r.reasons(cashers[0])}
    assert all(0.0 <= s <= 1.0 for s in r.scores)


def test_known_drops_raise_their_neighbours() -> None:
    n, tx, _, collectors, cashers = world()
    base = rank_mules(n, tx, MuleParams())
    seeded = rank_mules(n, tx, MuleParams(), seeds=[collectors[0]])
    assert seeded.scores[collectors[0]] >= MuleParams().seed_floor
    assert seeded.order()[0] in collectors + cashers
    assert seeded.signals["close"][cashers[0]] > 0
    assert seeded.scores[cashers[0]] >= base.scores[cashers[0]]
    assert "mule.close" in {x.code for x in seeded.reasons(cashers[0])}


def test_a_cycle_of_similar_amounts_is_found() -> None:
    # 0 -> 1 -> 2 -> 3 -> 0, each forwarding about the same amount an hour later; 4..9 trade normally.
    rows = [(0, 1, 1000.0, 0.0), (1, 2, 990.0, 1 * H), (2, 3, 985.0, 2 * H), (3, 0, 980.0, 3 * H),
            (4, 5, 50.0, 0.0), (5, 6, 700.0, 30 * H), (6, 4, 20.0, 90 * H), (7, 8, 10.0, 5 * H)]
    p, q, a, t = zip(*rows, strict=True)
    r = rank_mules(10, TransferArrays.build(p, q, a, t), MuleParams(amount_tolerance=0.05))
    assert r.signals["cycle"][:4].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert r.signals["cycle"][4:].sum() == 0.0


def test_no_transfers_gives_zero_scores() -> None:
    r = rank_mules(3, TransferArrays.build([], [], [], []), MuleParams())
    assert r.scores.tolist() == [0.0, 0.0, 0.0]


def test_average_precision_and_precision_at_k() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    labels = np.array([True, False, True, False])
    assert abs(average_precision(scores, labels) - (1.0 + 2 / 3) / 2) < 1e-12
    assert precision_at(scores, labels, 2) == 0.5
    assert average_precision(scores, np.zeros(4, dtype=bool)) == 0.0


# ---- structural patterns (core.mules_patterns) and the signals added with them ----

from zaslon.core.mules_patterns import round_trips, split_transfers  # noqa: E402

D = 24 * H


def _arr(rows: list[tuple[int, int, float, float]]) -> tuple[np.ndarray, ...]:
    p, q, a, t = zip(*rows, strict=True)
    return (np.array(p, dtype=np.int64), np.array(q, dtype=np.int64), np.array(a, dtype=np.float64),
            np.array(t, dtype=np.float64))


def test_round_trip_finds_a_ring_of_one_sum_in_any_hop_order() -> None:
    # 0 -> 1 -> 2 -> 3 -> 4 -> 0 carrying 17.56 on unrelated days (AMLSim schedules hops like this);
    # 5 -> 6 -> 7 -> 5 is a ring of *different* sums; 8 -> 9 -> 10 is a chain that never closes.
    rows = [(0, 1, 17.56, 9 * D), (1, 2, 17.56, 2 * D), (2, 3, 17.56, 5 * D), (3, 4, 17.56, 1 * D),
            (4, 0, 17.56, 7 * D),
            (5, 6, 100.0, 0.0), (6, 7, 300.0, H), (7, 5, 50.0, 2 * H),
            (8, 9, 40.0, 0.0), (9, 10, 40.0, H)]
    got = round_trips(11, *_arr(rows), tolerance=0.01, span=float("inf"))
    assert got.tolist() == [1.0] * 5 + [0.0] * 6
    # The same ring spread over more than the span is not one round-trip.
    assert round_trips(11, *_arr(rows), tolerance=0.01, span=1 * D).sum() == 0.0


def test_round_trip_ignores_two_way_repayments() -> None:
    # A lends B 100 and B pays it back: a 2-cycle is ordinary life, not a ring.
    got = round_trips(2, *_arr([(0, 1, 100.0, 0.0), (1, 0, 100.0, D), (0, 1, 100.0, 2 * D)]),
                      tolerance=0.01, span=float("inf"))
    assert got.sum() == 0.0


def test_split_transfers_flags_both_ends_of_repeated_identical_payments() -> None:
    rows = [(0, 1, 12.27, 5.0)] * 5 + [(2, 3, 50.0, 1.0), (2, 3, 80.0, 2.0), (4, 5, 30.0, 0.0), (4, 5, 30.0, 40.0)]
    got = split_transfers(6, *_arr(rows), tolerance=0.2, window=10.0, min_repeats=2)
    assert got[0] == got[1] == 0.5  # one repeated counterparty: 1 - 0.5**1
    assert got[2:].sum() == 0.0  # different sums; the same sum but far apart in time


def test_split_is_off_by_default_and_counts_when_weighted() -> None:
    rows = [(0, 1, 12.27, 5.0)] * 4 + [(2, 3, 10.0, 1.0), (1, 2, 5.0, 90.0), (3, 0, 7.0, 50.0)]
    p, q, a, t = zip(*rows, strict=True)
    tx = TransferArrays.build(p, q, a, t)
    assert rank_mules(4, tx, MuleParams()).signals["split"].sum() == 0.0
    on = MuleParams(window=10.0, weights={**MuleParams().weights, "split": 0.9})
    r = rank_mules(4, tx, on)
    assert r.signals["split"][1] == 0.5  # one counterparty paid the same sum repeatedly
    assert r.scores[1] > 0.44 and "mule.split" in {x.code for x in r.reasons(1)}


def test_layering_needs_money_that_was_already_moving() -> None:
    # Victim 0 pays drop 1, which passes it to drop 2 within minutes, which passes it on to 3:
    # 2 received hot money and forwarded it; 1 received cold money (the victim's savings).
    rows = [(0, 1, 1000.0, 0.0), (1, 2, 990.0, 0.1 * H), (2, 3, 980.0, 0.2 * H)]
    p, q, a, t = zip(*rows, strict=True)
    r = rank_mules(4, TransferArrays.build(p, q, a, t), MuleParams())
    assert r.signals["layering"][2] > 0.9
    assert r.signals["layering"][1] == 0.0


def test_balance_funded_spending_is_not_pass_through() -> None:
    # Account 0 gets 10 from a friend and then spends 500 from its own balance within the hour.
    rows = [(1, 0, 10.0, 0.0), (0, 2, 500.0, 0.2 * H), (3, 4, 200.0, 0.0), (4, 5, 200.0, 0.3 * H)]
    p, q, a, t = zip(*rows, strict=True)
    r = rank_mules(6, TransferArrays.build(p, q, a, t), MuleParams())
    assert r.signals["pass_through"][0] <= 0.02 + 1e-12  # 1.0 matched, scaled by 10 / 500
    assert r.signals["pass_through"][4] == 1.0


def test_close_pass_follows_known_drops_money_for_a_day() -> None:
    # Known drop 1 pays 2, which forwards it five hours later (past the one-hour window).
    rows = [(0, 1, 1000.0, 0.0), (1, 2, 990.0, 0.2 * H), (2, 3, 980.0, 5.2 * H)]
    p, q, a, t = zip(*rows, strict=True)
    r = rank_mules(4, TransferArrays.build(p, q, a, t), MuleParams(), seeds=[1])
    assert r.signals["pass_through"][2] == 0.0
    assert r.signals["close_pass"][2] > 0.9
    assert "mule.close_pass" in {x.code for x in r.reasons(2)}


def test_a_signal_most_accounts_show_is_switched_off() -> None:
    # Everybody receives and pays on within the window: pass-through tells nobody apart.
    rows = [(i, (i + 1) % 10, 100.0, float(i)) for i in range(10)]
    rows += [((i + 1) % 10, (i + 2) % 10, 100.0, float(i) + 0.5) for i in range(10)]
    p, q, a, t = zip(*rows, strict=True)
    r = rank_mules(10, TransferArrays.build(p, q, a, t), MuleParams())
    assert r.signals["pass_through"].min() > 0
    assert r.weights["pass_through"] == 0.0


def test_a_known_drop_that_never_paid_out_ranks_below_one_that_did() -> None:
    rows = [(0, 1, 1000.0, 0.0), (1, 2, 990.0, 0.2 * H), (3, 4, 500.0, 0.0), (5, 6, 10.0, 0.0)]
    p, q, a, t = zip(*rows, strict=True)
    r = rank_mules(7, TransferArrays.build(p, q, a, t), MuleParams(), seeds=[1, 4])
    assert r.scores[1] >= MuleParams().seed_floor
    assert MuleParams().seed_floor_silent <= r.scores[4] < r.scores[1]


def test_fan_in_into_an_account_that_keeps_the_money_is_not_a_collector() -> None:
    # Six payers send ~1000 to 6 within an hour; 7 gets the same but forwards it at once.
    rows: list[tuple[int, int, float, float]] = []
    for k in range(6):
        rows.append((k, 6, 1000.0 + k, k * 60.0))
        rows.append((k, 7, 1000.0 + k, k * 60.0))
        rows.append((7, 8, 990.0, k * 60.0 + 30.0))
    p, q, a, t = zip(*rows, strict=True)
    r = rank_mules(9, TransferArrays.build(p, q, a, t), MuleParams())
    assert r.signals["fan_in"][6] == 0.0
    assert r.signals["fan_in"][7] > 0.5


def test_a_two_way_repayment_within_the_hour_is_not_a_cycle() -> None:
    # 0 pays 1 and 1 pays about the same back within the hour (a friend settling up); 2 -> 3 -> 4 -> 2 is a ring.
    rows = [(0, 1, 100.0, 0.0), (1, 0, 105.0, 0.5 * H),
            (2, 3, 1000.0, 0.0), (3, 4, 990.0, 0.5 * H), (4, 2, 985.0, 1.0 * H)]
    p, q, a, t = zip(*rows, strict=True)
    r = rank_mules(5, TransferArrays.build(p, q, a, t), MuleParams())
    assert r.signals["cycle"].tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


def test_cash_out_counts_only_what_the_new_money_pays_for() -> None:
    # Account 0 gets 20 and withdraws 200 from its own balance a few minutes later; account 1 gets 1000 and
    # withdraws 950 of it. Only 1 cashed out the money that came in.
    rows = [(2, 0, 20.0, 0.0, False), (0, -1, 200.0, 0.1 * H, True),
            (3, 1, 1000.0, 0.0, False), (1, -1, 950.0, 0.2 * H, True)]
    rows += [(k, k + 1, 10.0 * k, 5 * k * H, False) for k in range(4, 9)]  # ordinary payments, no cash
    p, q, a, t, c = zip(*rows, strict=True)
    r = rank_mules(10, TransferArrays.build(p, q, a, t, c), MuleParams())
    assert abs(r.signals["cash_out"][1] - 0.95) < 1e-9
    assert abs(r.signals["cash_out"][0] - 20.0 / 200.0) < 1e-9  # 20 of 20 came in, but it paid 10% of 200
    assert r.scores[1] > r.scores[0]


def test_groups_are_the_distinct_rows_in_the_order_numpy_gives_them() -> None:
    from zaslon.core.mules import _groups

    rng = np.random.default_rng(5)
    for size in (1, 3, 50, 400):
        cols = [rng.integers(-5, 5, size).astype(np.int64) for _ in range(3)]
        keys, group_of = np.unique(np.stack(cols), axis=1, return_inverse=True)
        first, groups = _groups(*cols)
        assert np.array_equal(first, keys[0]) and np.array_equal(groups, group_of.reshape(-1))
    wide = [np.array([0, 2**40, 0], dtype=np.int64), np.array([2**30, 0, 2**30], dtype=np.int64)]
    first, groups = _groups(*wide)  # beyond one int64 key: the general way, the same answer
    assert first.tolist() == [0, 2**40] and groups.tolist() == [0, 1, 0]
