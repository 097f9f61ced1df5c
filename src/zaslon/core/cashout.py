"""Cash-out alerts: a protected account moving money to an ATM, abroad or to a crypto exchange.

Once a trace has found an account holding victims' money (or an order covers it, or a report corroborates a
suspected drop), its next withdrawal is a courier lead for the 24/7 desk and its next foreign or crypto
transfer a cross-border request. The policy blocks such an exit (``core.policy.protect_payers``); the alert
says whether it was an attempt the exchange stopped or a withdrawal a bank reports as done. Pure.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime

from zaslon.core.knowledge import Knowledge
from zaslon.core.policy import is_protected_payer
from zaslon.core.trace import ExitKind
from zaslon.core.types import Transfer


@dataclass(frozen=True, slots=True)
class CashOutAlert:
    transfer_id: str
    account_id: str
    kind: ExitKind  # CASH_OUT, ABROAD or CRYPTO
    amount: int
    currency: str
    ts: datetime
    atm_id: str | None = None
    payee: str | None = None
    payee_bank: str | None = None
    country: str | None = None
    outcome: str | None = None  # the exchange's answer (an attempt), or "executed" (a bank reported it done)
    order_id: str | None = None
    case_id: str | None = None
    atm_lat: float | None = None
    atm_lon: float | None = None
    atm_city: str | None = None

    @property
    def executed(self) -> bool:
        return self.outcome in (None, "executed", "allow", "review")


def cashout_alert(
    t: Transfer, knowledge: Knowledge, *, crypto_accounts: Container[str] = (), home_country: str = "BY"
) -> CashOutAlert | None:
    """An alert when a protected account (``core.policy.is_protected_payer``) sends money out of reach; None for
    anything else."""
    if not is_protected_payer(int(knowledge.at(t.payer, int(t.ts.timestamp())))):
        return None
    if t.is_cash_out:
        kind = ExitKind.CASH_OUT
    elif t.payee in crypto_accounts:
        kind = ExitKind.CRYPTO
    elif t.payee_country is not None and t.payee_country != home_country:
        kind = ExitKind.ABROAD
    else:
        return None
    return CashOutAlert(
        t.transfer_id, t.payer, kind, t.amount, t.currency, t.ts,
        atm_id=t.atm.atm_id if t.atm else None,
        payee=None if t.is_cash_out else t.payee,
        payee_bank=t.payee_bank, country=t.payee_country,
        atm_lat=t.atm.lat if t.atm else None, atm_lon=t.atm.lon if t.atm else None,
        atm_city=t.atm.city if t.atm else None,
    )
