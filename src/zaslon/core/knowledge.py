"""What the exchange currently knows about accounts and phone numbers.

Scoring reads it on every transfer; intake, trace, linking, mule detection and appeals update it.
It holds no history of how it learned a fact: the pipeline persists that trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntFlag


class AccountFlag(IntFlag):
    NONE = 0
    REPORTED = 1  # named in a victim's incident as a payee or indicator
    TRACED = 2  # found holding traced money
    IN_CASE = 4  # linked to a case
    SUSPECTED_DROP = 8  # ranked as a likely drop by mule detection
    PARTNER_LISTED = 16  # on a partner country's known-bad list
    UNDER_ORDER = 32  # an active freeze order covers money in this account
    # Never stored: what a payer's TRACED reads as once its protection window has passed (``Knowledge.at``).
    # It keeps the payer "known" to features and the prior, and no longer holds everything the payer sends.
    TRACE_LAPSED = 64


@dataclass
class Knowledge:
    accounts: dict[str, AccountFlag] = field(default_factory=dict)
    flagged_phones: set[str] = field(default_factory=set)
    # When TRACED stops protecting an account as a payer (epoch seconds): money moves on within hours, so an
    # account a trace passed through, with no order on it and no corroboration as a drop, is not held for
    # everything it sends for weeks. No entry: protected for as long as it is TRACED.
    traced_until: dict[str, int] = field(default_factory=dict)
    # How many transfers into (out of) each account victims reported as fraud. Counted for every named
    # transfer, also where the account is not listed (an established business): the features weigh the
    # count against everything the account received, so a shop with one reported sale is scored, not held.
    reported_in: dict[str, int] = field(default_factory=dict)
    reported_out: dict[str, int] = field(default_factory=dict)

    def count_report(self, payer: str | None, payee: str | None) -> None:
        """One more reported transfer from ``payer`` to ``payee`` (either may be unknown)."""
        if payee:
            self.reported_in[payee] = self.reported_in.get(payee, 0) + 1
        if payer:
            self.reported_out[payer] = self.reported_out.get(payer, 0) + 1

    def flag(self, account_id: str, flag: AccountFlag) -> None:
        self.accounts[account_id] = self.accounts.get(account_id, AccountFlag.NONE) | flag

    def mark_traced(self, account_id: str, until_s: int) -> None:
        """TRACED, protecting the account as a payer until ``until_s`` (a later trace extends it)."""
        self.flag(account_id, AccountFlag.TRACED)
        self.traced_until[account_id] = max(until_s, self.traced_until.get(account_id, until_s))

    def at(self, account_id: str, ts_s: int) -> AccountFlag:
        """The account's flags as a payer at ``ts_s``: TRACED reads TRACE_LAPSED after its window."""
        f = self.flags(account_id)
        if f & AccountFlag.TRACED and ts_s > self.traced_until.get(account_id, ts_s):
            f = (f & ~AccountFlag.TRACED) | AccountFlag.TRACE_LAPSED
        return f

    def unflag(self, account_id: str, flag: AccountFlag | None = None) -> None:
        """Remove ``flag`` (or every flag, on a delisting) from ``account_id``."""
        if flag is None:
            self.accounts.pop(account_id, None)
            self.traced_until.pop(account_id, None)
            return
        if flag & AccountFlag.TRACED:
            self.traced_until.pop(account_id, None)
        left = self.accounts.get(account_id, AccountFlag.NONE) & ~flag
        if left:
            self.accounts[account_id] = left
        else:
            self.accounts.pop(account_id, None)

    def flags(self, account_id: str) -> AccountFlag:
        return self.accounts.get(account_id, AccountFlag.NONE)
