"""The packaged rule for elderly people living alone: a large first payment to a new account, or one made after a
call with a stranger or a risky number, is held; their ordinary large payments to a known shop or a relative
are not."""

from __future__ import annotations

import math

from zaslon.core.calls import NO_SIM_SWAP_DAYS
from zaslon.core.features import FEATURE_KINDS
from zaslon.flow.rules import default_ruleset

RULE = "elderly-alone-new-payee-large"


def transfer(**over: float | bool) -> dict[str, float | int | bool]:
    """An elderly woman living alone pays 40 times a typical amount to someone she never paid, a 3-year-old
    account few people pay; her operator reports her calls, none now. Everything else at its quiet default."""
    row: dict[str, float | int | bool] = {
        n: (False if k == "bool" else 0 if k == "int" else 0.0) for n, k in FEATURE_KINDS.items()}
    row.update(payer_elderly=True, payer_lives_alone=True, payer_elderly_alone=True, first_time_payee=True,
               amount_rel_log=math.log(40), payee_age_days=1100.0, payee_distinct_payers=3,
               payer_sim_swap_days=NO_SIM_SWAP_DAYS, mins_since_last_in=10080.0, payer_calls_known=True)
    row.update(over)
    return row


def hit(row: dict[str, float | int | bool]) -> bool:
    return RULE in {h.rule_id for h in default_ruleset().evaluate(row)}


def test_held_after_a_long_call_with_a_stranger_even_from_a_verified_local_number() -> None:
    assert hit(transfer(stranger_call_s=1500.0))  # a SIM box's "bank security service", hung up an hour ago
    assert hit(transfer(on_risky_call=True, call_duration_s=200.0))  # spoofed or flagged, on the line now
    assert hit(transfer(payee_age_days=1.5))  # an account opened the day before: a drop's
    assert hit(transfer(payer_calls_known=False))  # no operator reports her calls: silence proves nothing


def test_her_ordinary_large_payments_pass() -> None:
    assert not hit(transfer())  # a relative's or a craftsman's old account, no call: a new fridge, a gift
    assert not hit(transfer(stranger_call_s=120.0))  # the pharmacy rang for two minutes
    assert not hit(transfer(stranger_call_s=1500.0, payee_distinct_payers=400))  # a shop or clinic many pay
    assert not hit(transfer(stranger_call_s=1500.0, first_time_payee=False))  # someone she paid before
    assert not hit(transfer(stranger_call_s=1500.0, amount_rel_log=math.log(2)))  # a small amount
    assert not hit(transfer(stranger_call_s=1500.0, payer_lives_alone=False, payer_elderly_alone=False))
