"""Policy: turn a model score, rule hits and what the exchange knows into allow / review / hold / block.

Vectorised over a batch (numpy), so the engine decides thousands of transfers per call. The policy is
stricter for the people fraud hurts most and for the situations fraudsters create:
- elderly people living alone, and payers on a call with a flagged number: thresholds are multiplied by
  ``vulnerable_factor`` (0.5: half the score is enough);
- first-time payees: thresholds multiplied by ``first_time_factor`` (0.75);
- a payee named in a reported incident (or on a partner's known-bad list) is at least held, as Russia's
  161-FZ list does with a 2-day cooling-off; a payee in a case or suspected as a drop is at least reviewed.
The outcome is the most severe of the model's, the rules' and the knowledge's.

The model's bars adapt to the data: each trained model carries bars raised until it alone would hold at
most ``max_hold_rate`` (0.5%) of the transfers it was calibrated on (``friction_bars``); the fixed bars are
the floor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from zaslon.core.knowledge import AccountFlag
from zaslon.core.types import Outcome

OUTCOMES: tuple[Outcome, ...] = (Outcome.ALLOW, Outcome.REVIEW, Outcome.HOLD, Outcome.BLOCK)
CODE: dict[Outcome, int] = {o: i for i, o in enumerate(OUTCOMES)}
ALLOW, REVIEW, HOLD, BLOCK = 0, 1, 2, 3

I8 = npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    # On the simulated small world a hold bar of 0.1 holds ~0.01% of legitimate transfers and ~89% of
    # fraud-origin money (0.5 would hold 36%): fraud is rare, so a calibrated probability of 10% is a lot.
    review_at: float = 0.05
    hold_at: float = 0.1
    block_at: float = 0.97
    vulnerable_factor: float = 0.5
    first_time_factor: float = 0.75
    hold_reported_payee: bool = True
    # A trace found victims' money in this account: new money into it is held at once (issue: feedback into
    # scoring), not only reviewed.
    hold_traced_payee: bool = True
    review_suspected_payee: bool = True
    # Payer-side protection: money in an account a trace found, an order covers, or a corroborated drop must not
    # move on unnoticed. Its exits (cash, abroad, crypto) are blocked, anything else it sends is held.
    protect_traced_payer: bool = True
    hold_days: float = 2.0
    # Friction caps: a trained model's bars are raised until the model alone would have held (reviewed) at most
    # these shares of the transfers it was trained on (``friction_bars``), so a model that scores a bank's data
    # higher than ours does not hold 10% of it. The bars above are floors; None: no cap.
    max_hold_rate: float | None = 0.005
    max_review_rate: float | None = 0.02

    def __post_init__(self) -> None:
        if not 0.0 <= self.review_at <= self.hold_at <= self.block_at <= 1.0:
            raise ValueError("thresholds must satisfy 0 <= review_at <= hold_at <= block_at <= 1")
        if not (0.0 < self.vulnerable_factor <= 1.0 and 0.0 < self.first_time_factor <= 1.0):
            raise ValueError("strictness factors must be in (0, 1]")
        if self.hold_days < 0:
            raise ValueError("hold_days must not be negative")
        for cap in (self.max_hold_rate, self.max_review_rate):
            if cap is not None and not 0.0 < cap < 1.0:
                raise ValueError("friction caps must be in (0, 1)")


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    score: npt.NDArray[np.float64]  # model probability (or knowledge prior), 0..1
    first_time_payee: npt.NDArray[np.bool_]
    vulnerable: npt.NDArray[np.bool_]  # elderly living alone, or on a flagged call
    payee_flags: npt.NDArray[np.int64]  # AccountFlag bits
    rule_codes: I8  # most severe rule action per transfer (ALLOW when no rule hit)


# Why a transfer got its outcome, as codes the engine turns into Reasons.
WHY_MODEL, WHY_RULE, WHY_REPORTED, WHY_SUSPECTED, WHY_PAYER = 1, 2, 4, 8, 16

# A payer whose own flags stop its money: traced, under an order ...
PROTECTED_PAYER = int(AccountFlag.TRACED | AccountFlag.UNDER_ORDER)
# ... or a suspected drop that a report or a case corroborates (a ranking alone only reviews payments to it).
_DROP = int(AccountFlag.SUSPECTED_DROP)
_CORROBORATES = int(AccountFlag.REPORTED | AccountFlag.IN_CASE)


def protected_payers(payer_flags: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """The rows whose payer may not move money out unnoticed."""
    direct = (payer_flags & PROTECTED_PAYER) != 0
    corroborated = ((payer_flags & _DROP) != 0) & ((payer_flags & _CORROBORATES) != 0)
    return np.asarray(direct | corroborated, dtype=np.bool_)


def is_protected_payer(payer_flags: int) -> bool:
    """``protected_payers`` for one row."""
    return bool(payer_flags & PROTECTED_PAYER) or bool(payer_flags & _DROP and payer_flags & _CORROBORATES)


def protect_payers(
    cfg: PolicyConfig, out: I8, why: npt.NDArray[np.int8], payer_flags: npt.NDArray[np.int64],
    exits: npt.NDArray[np.bool_],
) -> tuple[I8, npt.NDArray[np.int8]]:
    """Raise the outcome of a protected payer's transfer: an exit (cash, abroad, crypto) is blocked, anything
    else held. ``exits`` marks the exits; the outcome never goes down."""
    if not cfg.protect_traced_payer:
        return out, why
    prot = protected_payers(payer_flags)
    if not prot.any():
        return out, why
    floor = np.where(exits, BLOCK, HOLD).astype(np.int8)
    raised = prot & (floor >= out)
    out = np.where(prot, np.maximum(out, floor), out).astype(np.int8)
    why = np.where(raised, why | WHY_PAYER, why).astype(np.int8)
    return out, why


def _factors(cfg: PolicyConfig, vulnerable: npt.NDArray[np.bool_],
             first_time_payee: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    factor = np.ones(vulnerable.shape[0], dtype=np.float64)
    factor = np.where(vulnerable, factor * cfg.vulnerable_factor, factor)
    return np.where(first_time_payee, factor * cfg.first_time_factor, factor)


def _bar_for(adjusted: npt.NDArray[np.float64], cap: float | None) -> float:
    """The lowest bar at which at most ``cap`` of ``adjusted`` reach it (0 without a cap or rows)."""
    if cap is None or adjusted.shape[0] == 0:
        return 0.0
    k = int(np.floor(cap * adjusted.shape[0]))
    top = np.partition(adjusted, adjusted.shape[0] - k - 1)[adjusted.shape[0] - k - 1]  # the (k+1)-th largest
    return float(np.nextafter(top, np.inf))


def friction_bars(cfg: PolicyConfig, score: npt.NDArray[np.float64], vulnerable: npt.NDArray[np.bool_],
                  first_time_payee: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """(review_at, hold_at) for a model, from its scores of a sample of transfers: the configured bars, raised
    where the model alone would hold more than ``max_hold_rate`` (review more than ``max_review_rate``) of
    them. The strictness factors apply as in ``decide``; hold never passes block_at."""
    adjusted = score / _factors(cfg, vulnerable, first_time_payee)
    hold = min(cfg.block_at, max(cfg.hold_at, _bar_for(adjusted, cfg.max_hold_rate)))
    review = min(hold, max(cfg.review_at, _bar_for(adjusted, cfg.max_review_rate)))
    return review, hold


def with_bars(cfg: PolicyConfig, bars: tuple[float, float] | None) -> PolicyConfig:
    """``cfg`` with a model's calibrated bars (``friction_bars``); never below the configured ones."""
    if bars is None:
        return cfg
    hold = min(cfg.block_at, max(cfg.hold_at, bars[1]))
    return replace(cfg, review_at=min(hold, max(cfg.review_at, bars[0])), hold_at=hold)


def decide(cfg: PolicyConfig, x: PolicyInputs) -> tuple[I8, npt.NDArray[np.int8]]:
    """Outcome code per transfer (see OUTCOMES) and a bit set of why (WHY_*)."""
    n = x.score.shape[0]
    factor = _factors(cfg, x.vulnerable, x.first_time_payee)
    s = x.score
    model = np.zeros(n, dtype=np.int8)
    model[s >= cfg.review_at * factor] = REVIEW
    model[s >= cfg.hold_at * factor] = HOLD
    # Blocking stays a high bar: strictness lowers review and hold thresholds, never the block one.
    model[s >= cfg.block_at] = BLOCK
    know = np.zeros(n, dtype=np.int8)
    if cfg.review_suspected_payee:
        sus = (x.payee_flags & int(AccountFlag.IN_CASE | AccountFlag.SUSPECTED_DROP | AccountFlag.TRACED)) != 0
        know[sus] = REVIEW
    else:
        sus = np.zeros(n, dtype=np.bool_)
    if cfg.hold_traced_payee:
        traced = (x.payee_flags & int(AccountFlag.TRACED)) != 0
        know[traced] = HOLD
        sus = sus | traced
    if cfg.hold_reported_payee:
        rep = (x.payee_flags & int(AccountFlag.REPORTED | AccountFlag.PARTNER_LISTED)) != 0
        know[rep] = HOLD
    else:
        rep = np.zeros(n, dtype=np.bool_)
    out = np.maximum(np.maximum(model, x.rule_codes), know).astype(np.int8)
    why = np.zeros(n, dtype=np.int8)
    why |= np.where((model == out) & (out > ALLOW), WHY_MODEL, 0).astype(np.int8)
    why |= np.where((x.rule_codes == out) & (out > ALLOW), WHY_RULE, 0).astype(np.int8)
    why |= np.where(rep & (know == out), WHY_REPORTED, 0).astype(np.int8)
    why |= np.where(sus & ~rep & (know == out), WHY_SUSPECTED, 0).astype(np.int8)
    return out, why


def knowledge_prior(payee_flags: npt.NDArray[np.int64], payer_flags: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """A score for when no model is loaded yet: what the exchange knows, nothing learned."""
    s = np.zeros(payee_flags.shape[0], dtype=np.float64)
    s = np.where((payee_flags & int(AccountFlag.SUSPECTED_DROP | AccountFlag.TRACED)) != 0, 0.4, s)
    s = np.where((payee_flags & int(AccountFlag.IN_CASE)) != 0, np.maximum(s, 0.5), s)
    s = np.where((payee_flags & int(AccountFlag.REPORTED | AccountFlag.PARTNER_LISTED)) != 0, 0.9, s)
    s = np.where(payer_flags != 0, np.maximum(s, 0.3), s)
    return s
