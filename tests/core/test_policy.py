"""Policy: stricter for the vulnerable and first-time payees; reported payees held; most severe wins."""

from __future__ import annotations

import numpy as np
import pytest

from zaslon.core.knowledge import AccountFlag
from zaslon.core.policy import (
    ALLOW,
    BLOCK,
    HOLD,
    REVIEW,
    WHY_MODEL,
    WHY_REPORTED,
    WHY_RULE,
    WHY_SUSPECTED,
    PolicyConfig,
    PolicyInputs,
    decide,
    friction_bars,
    knowledge_prior,
    with_bars,
)


def inputs(
    score: float, *, first: bool = False, vulnerable: bool = False, flags: int = 0, rule: int = ALLOW
) -> PolicyInputs:
    return PolicyInputs(
        score=np.array([score]),
        first_time_payee=np.array([first]),
        vulnerable=np.array([vulnerable]),
        payee_flags=np.array([flags], dtype=np.int64),
        rule_codes=np.array([rule], dtype=np.int8),
    )


CFG = PolicyConfig()


def outcome(x: PolicyInputs, cfg: PolicyConfig = CFG) -> int:
    return int(decide(cfg, x)[0][0])


def test_thresholds() -> None:
    assert outcome(inputs(0.02)) == ALLOW
    assert outcome(inputs(0.06)) == REVIEW
    assert outcome(inputs(0.2)) == HOLD
    assert outcome(inputs(0.99)) == BLOCK


def test_elderly_living_alone_is_protected_more() -> None:
    assert outcome(inputs(0.06)) == REVIEW
    assert outcome(inputs(0.06, vulnerable=True)) == HOLD  # 0.06 >= 0.1 * 0.5


def test_first_time_payee_is_stricter() -> None:
    assert outcome(inputs(0.08)) == REVIEW
    assert outcome(inputs(0.08, first=True)) == HOLD  # 0.08 >= 0.1 * 0.75


def test_strictness_never_lowers_the_block_bar() -> None:
    assert outcome(inputs(0.9, first=True, vulnerable=True)) == HOLD


def test_reported_payee_is_held_whatever_the_score() -> None:
    out, why = decide(CFG, inputs(0.0, flags=int(AccountFlag.REPORTED)))
    assert int(out[0]) == HOLD and int(why[0]) & WHY_REPORTED
    assert outcome(inputs(0.0, flags=int(AccountFlag.SUSPECTED_DROP))) == REVIEW
    assert outcome(inputs(0.0, flags=int(AccountFlag.REPORTED)), PolicyConfig(hold_reported_payee=False)) == ALLOW


def test_traced_payee_is_held_at_once() -> None:
    out, why = decide(CFG, inputs(0.0, flags=int(AccountFlag.TRACED)))
    assert int(out[0]) == HOLD and int(why[0]) & WHY_SUSPECTED
    assert outcome(inputs(0.0, flags=int(AccountFlag.TRACED)), PolicyConfig(hold_traced_payee=False)) == REVIEW


def test_rules_and_model_combine_to_the_most_severe() -> None:
    out, why = decide(CFG, inputs(0.06, rule=BLOCK))
    assert int(out[0]) == BLOCK and int(why[0]) == WHY_RULE
    out, why = decide(CFG, inputs(0.2, rule=REVIEW))
    assert int(out[0]) == HOLD and int(why[0]) == WHY_MODEL


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError):
        PolicyConfig(review_at=0.8, hold_at=0.5)
    with pytest.raises(ValueError):
        PolicyConfig(vulnerable_factor=0)


def test_knowledge_prior_without_a_model() -> None:
    s = knowledge_prior(np.array([0, int(AccountFlag.REPORTED)], dtype=np.int64), np.zeros(2, dtype=np.int64))
    assert s[0] == 0 and s[1] > 0.5


def _held_share(cfg: PolicyConfig, score: np.ndarray, vulnerable: np.ndarray, first: np.ndarray) -> float:
    n = score.shape[0]
    out, _ = decide(cfg, PolicyInputs(score, first, vulnerable, np.zeros(n, dtype=np.int64),
                                      np.zeros(n, dtype=np.int8)))
    return float((out >= HOLD).mean())


def test_friction_bars_cap_the_share_a_model_alone_holds() -> None:
    rng = np.random.default_rng(3)
    n = 40_000
    score = rng.beta(0.5, 8.0, n)  # a model that scores this bank's data high: many above the 0.1 floor
    vulnerable, first = rng.random(n) < 0.1, rng.random(n) < 0.3
    assert _held_share(CFG, score, vulnerable, first) > 0.05
    review, hold = friction_bars(CFG, score, vulnerable, first)
    calibrated = with_bars(CFG, (review, hold))
    assert hold > CFG.hold_at and review >= CFG.review_at
    assert 0.0045 <= _held_share(calibrated, score, vulnerable, first) <= 0.005
    out, _ = decide(calibrated, PolicyInputs(score, first, vulnerable, np.zeros(n, dtype=np.int64),
                                             np.zeros(n, dtype=np.int8)))
    assert float((out >= REVIEW).mean()) <= 0.02


def test_friction_bars_never_go_below_the_configured_floor_or_past_block() -> None:
    score = np.linspace(0.0, 0.02, 10_000)  # a quiet model: nothing near the 0.1 floor
    none = np.zeros(10_000, dtype=np.bool_)
    assert friction_bars(CFG, score, none, none) == (CFG.review_at, CFG.hold_at)
    hot = np.full(10_000, 0.999)  # everything scored as fraud: the bar stops at block_at
    assert friction_bars(CFG, hot, none, none)[1] == CFG.block_at
    assert with_bars(CFG, None) is CFG
    assert with_bars(CFG, (0.0, 0.0)) == CFG  # stored bars below the floor change nothing
    assert friction_bars(PolicyConfig(max_hold_rate=None, max_review_rate=None), hot, none, none) == (
        CFG.review_at, CFG.hold_at)


@pytest.mark.parametrize("cap", [0.0, 1.0, -0.1, 2.0])
def test_friction_caps_outside_zero_one_are_refused(cap: float) -> None:
    with pytest.raises(ValueError, match="friction caps"):
        PolicyConfig(max_hold_rate=cap)
