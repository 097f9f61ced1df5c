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
    knowledge_prior,
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
