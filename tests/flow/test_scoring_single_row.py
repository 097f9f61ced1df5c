"""The engine's one-row fast path (policy, prior, columns) agrees with the batch path."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np

from zaslon.core.knowledge import AccountFlag
from zaslon.core.policy import PolicyConfig, PolicyInputs, decide, knowledge_prior
from zaslon.core.rules import ROW_WISE_MAX
from zaslon.core.types import Channel, Transfer
from zaslon.flow.rules import default_ruleset
from zaslon.flow.scoring import ScoringEngine, columns_of
from zaslon.flow.scoring_row import decide_one, prior_one

FLAGS = [0] + [int(f) for f in AccountFlag] + [int(AccountFlag.REPORTED | AccountFlag.IN_CASE),
                                               int(AccountFlag.TRACED | AccountFlag.SUSPECTED_DROP)]
SCORES = [0.0, 0.02, 0.0375, 0.05, 0.075, 0.1, 0.2, 0.5, 0.97, 1.0]
CONFIGS = [PolicyConfig(), PolicyConfig(hold_reported_payee=False, hold_traced_payee=False,
                                         review_suspected_payee=False)]


def test_decide_one_agrees_with_the_vectorised_policy() -> None:
    for cfg in CONFIGS:
        rows = list(itertools.product(SCORES, (False, True), (False, True), FLAGS, (0, 1, 2, 3)))
        s, first, vul, flags, rules = (np.array(c) for c in zip(*rows, strict=True))
        out, why = decide(cfg, PolicyInputs(s.astype(np.float64), first, vul, flags.astype(np.int64),
                                            rules.astype(np.int8)))
        for i, (sc, f, v, fl, rc) in enumerate(rows):
            assert decide_one(cfg, sc, f, v, fl, rc) == (int(out[i]), int(why[i])), rows[i]


def test_prior_one_agrees_with_knowledge_prior() -> None:
    pairs = list(itertools.product(FLAGS, FLAGS))
    payee, payer = (np.array(c, dtype=np.int64) for c in zip(*pairs, strict=True))
    want = knowledge_prior(payee, payer)
    assert [prior_one(a, b) for a, b in pairs] == want.tolist()


def test_one_transfer_at_a_time_decides_like_batches() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    txs = [Transfer(f"t{i}", t0 + timedelta(minutes=i), f"A{i % 7}", f"B{i % 5}", 1000 + 997 * i,
                    "BYN" if i % 3 else "JPY", Channel.MOBILE, f"d{i % 4}", None, None, None,
                    "DE" if i % 9 == 0 else None)
           for i in range(120)]
    a, b = ScoringEngine(), ScoringEngine()
    for e in (a, b):
        e.set_ruleset(default_ruleset())
        e.knowledge.flag("B3", AccountFlag.REPORTED)
        e.knowledge.flag("B4", AccountFlag.IN_CASE)
    one = [a.score_batch([t], on_flagged_call=[i % 11 == 0])[0] for i, t in enumerate(txs)]
    # the vector path in batches above ROW_WISE_MAX (never the row-wise shortcuts), same event order
    step = ROW_WISE_MAX + 4
    many = [d for i in range(0, len(txs), step)
            for d in b.score_batch(txs[i : i + step], on_flagged_call=[j % 11 == 0 for j in range(i, i + step)][
                : len(txs[i : i + step])])]
    assert one == many
    c = ScoringEngine()  # and small batches (row-wise) decide the same again
    c.set_ruleset(default_ruleset())
    c.knowledge.flag("B3", AccountFlag.REPORTED)
    c.knowledge.flag("B4", AccountFlag.IN_CASE)
    few = [d for i in range(0, len(txs), 3)
           for d in c.score_batch(txs[i : i + 3], on_flagged_call=[j % 11 == 0 for j in range(i, i + 3)])]
    assert one == few


def test_columns_of_one_transfer_matches_the_general_path() -> None:
    t = Transfer("t", datetime(2026, 1, 1, 12, tzinfo=UTC), "A", "B", 12345, "JPY", Channel.WEB, "d", "1.2.3.4",
                 None, None, "DE")
    one = columns_of([t], [True])
    two = columns_of([t, t], [True, True])
    assert one.ts.tolist() == two.ts.tolist()[:1] and one.amount.tolist() == two.amount.tolist()[:1]
    assert one.amount.dtype == two.amount.dtype and one.ts.dtype == two.ts.dtype
    for name in ("payer", "payee", "currency", "payee_country", "device", "ip", "channel"):
        assert getattr(one, name) == getattr(two, name)[:1]
    assert one.on_flagged_call is not None and two.on_flagged_call is not None
    assert one.on_flagged_call.tolist() == two.on_flagged_call.tolist()[:1]


class _LinearModel:
    """A stand-in model with distinct per-feature contributions, positive and negative."""

    version = "lin-1"

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cols = np.arange(1, x.shape[1] + 1, dtype=np.float32)
        # per row, only the first m columns contribute positively (m = 0..4): both reason branches occur
        m = (np.abs(x.astype(np.float64)).sum(axis=1).astype(np.int64) % 5)[:, None]
        sign = np.where(np.arange(x.shape[1])[None, :] < m, 1.0, -1.0).astype(np.float32)
        contrib = (sign * cols * np.float32(0.01)).astype(np.float32)
        raw = contrib.sum(axis=1).astype(np.float64)
        return 1.0 / (1.0 + np.exp(-raw)), contrib


def test_one_row_model_reasons_match_the_batch_path() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    txs = [Transfer(f"m{i}", t0 + timedelta(minutes=i), f"A{i % 6}", f"B{i % 4}", 500 + 7919 * i, "BYN",
                    Channel.MOBILE, f"d{i % 3}", None, None, None, None) for i in range(80)]
    a, b = ScoringEngine(model=_LinearModel()), ScoringEngine(model=_LinearModel())
    for e in (a, b):
        e.set_ruleset(default_ruleset())
    one = [a.score_batch([t])[0] for t in txs]
    step = ROW_WISE_MAX + 4
    many = [d for i in range(0, len(txs), step) for d in b.score_batch(txs[i : i + step])]
    assert one == many
    assert any(len(d.reasons) == 3 for d in one) and any(d.reasons and len(d.reasons) < 3 for d in one)
