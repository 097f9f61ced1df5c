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
