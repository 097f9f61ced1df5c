"""The engine's one-row policy: ``zaslon.core.policy`` for a single transfer, in plain Python.

The real-time API scores one transfer per request, and numpy's per-call overhead on one-element arrays
costs more than the decision itself. Same arithmetic and the same branch order as the vectorised policy;
tests check the two agree on every combination of inputs (tests/flow/test_scoring_single_row.py).
"""

from __future__ import annotations

from zaslon.core.knowledge import AccountFlag
from zaslon.core.policy import WHY_MODEL, WHY_REPORTED, WHY_RULE, WHY_SUSPECTED, PolicyConfig

__all__ = ["decide_one", "prior_one"]

_SUSPECT_BITS = int(AccountFlag.IN_CASE | AccountFlag.SUSPECTED_DROP | AccountFlag.TRACED)
_TRACED_BIT = int(AccountFlag.TRACED)
_REPORTED_BITS = int(AccountFlag.REPORTED | AccountFlag.PARTNER_LISTED)
_DROP_BITS = int(AccountFlag.SUSPECTED_DROP | AccountFlag.TRACED)
_CASE_BIT = int(AccountFlag.IN_CASE)


def prior_one(payee_flags: int, payer_flags: int) -> float:
    """``zaslon.core.policy.knowledge_prior`` for one row (tested to agree)."""
    s = 0.0
    if payee_flags & _DROP_BITS:
        s = 0.4
    if payee_flags & _CASE_BIT:
        s = max(s, 0.5)
    if payee_flags & _REPORTED_BITS:
        s = 0.9
    if payer_flags:
        s = max(s, 0.3)
    return s


def decide_one(
    cfg: PolicyConfig, s: float, first_time: bool, vulnerable: bool, payee_flags: int, rule_code: int
) -> tuple[int, int]:
    """``zaslon.core.policy.decide`` for one row, same arithmetic (tested to agree on every branch)."""
    factor = 1.0
    if vulnerable:
        factor = factor * cfg.vulnerable_factor
    if first_time:
        factor = factor * cfg.first_time_factor
    model = 0
    if s >= cfg.review_at * factor:
        model = 1
    if s >= cfg.hold_at * factor:
        model = 2
    if s >= cfg.block_at:
        model = 3
    know = 0
    sus = False
    if cfg.review_suspected_payee:
        sus = (payee_flags & _SUSPECT_BITS) != 0
        if sus:
            know = 1
    if cfg.hold_traced_payee:
        traced = (payee_flags & _TRACED_BIT) != 0
        if traced:
            know = 2
        sus = sus or traced
    rep = cfg.hold_reported_payee and (payee_flags & _REPORTED_BITS) != 0
    if rep:
        know = 2
    out = max(model, rule_code, know)
    why = 0
    if model == out and out > 0:
        why |= WHY_MODEL
    if rule_code == out and out > 0:
        why |= WHY_RULE
    if rep and know == out:
        why |= WHY_REPORTED
    if sus and not rep and know == out:
        why |= WHY_SUSPECTED
    return out, why
