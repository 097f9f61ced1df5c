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


@dataclass
class Knowledge:
    accounts: dict[str, AccountFlag] = field(default_factory=dict)
    flagged_phones: set[str] = field(default_factory=set)

    def flag(self, account_id: str, flag: AccountFlag) -> None:
        self.accounts[account_id] = self.accounts.get(account_id, AccountFlag.NONE) | flag

    def unflag(self, account_id: str, flag: AccountFlag | None = None) -> None:
        """Remove ``flag`` (or every flag, on a delisting) from ``account_id``."""
        if flag is None:
            self.accounts.pop(account_id, None)
            return
        left = self.accounts.get(account_id, AccountFlag.NONE) & ~flag
        if left:
            self.accounts[account_id] = left
        else:
            self.accounts.pop(account_id, None)

    def flags(self, account_id: str) -> AccountFlag:
        return self.accounts.get(account_id, AccountFlag.NONE)
