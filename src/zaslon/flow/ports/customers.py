"""The customer store: banks' customers' profiles, a batch replaced in one transaction.

``Customer`` lives here because a store builds it when it loads the profiles; ``zaslon.flow.customers`` (which
validates a batch) exports it under its own name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from zaslon.core.features import AccountProfile


@dataclass(frozen=True, slots=True)
class Customer:
    account_id: str
    kind: str | None = None
    customer_id: str | None = None
    opened_at: datetime | None = None
    birth_date: date | None = None
    lives_alone: bool = False
    phones: tuple[str, ...] = ()
    cards: tuple[str, ...] = ()  # card numbers as given; stored only as keyed hashes (``card_hashes``)
    card_hashes: tuple[str, ...] = ()
    # Where the customer lives (the bank knows its customer's address): their district officer sees them.
    region: str | None = None
    district: str | None = None
    address: str | None = None

    def profile(self) -> AccountProfile:
        return AccountProfile(opened_at=self.opened_at, birth_date=self.birth_date, lives_alone=self.lives_alone,
                              kind=self.kind)


class CustomerStore(Protocol):
    def replace(self, bank_id: str, org_id: str, batch: Sequence[Customer], now: datetime) -> None:
        """Insert or replace the profiles of ``batch`` (validated: phones E.164, cards as hashes only) as the
        bank's, in one transaction; ``Forbidden`` and nothing written if another bank registered one of them."""
        ...

    def load(self) -> list[Customer]:
        """Every stored profile (``cards`` empty: only their hashes are stored)."""
        ...
