"""The protection store: customers' protection profiles and the confirmations asked of their trusted persons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from zaslon.core.protection import Profile
from zaslon.flow.ports.customers import Customer


@dataclass(frozen=True, slots=True)
class Confirmation:
    confirmation_id: str
    org_id: str  # the transfer's submitter
    transfer_id: str
    bank_id: str  # the bank whose profile matched (it relays the trusted person's answer)
    account_id: str
    payee: str
    amount: int
    currency: str
    transfer_ts: datetime
    triggers: tuple[str, ...]
    trusted_name: str
    trusted_phone: str
    trusted_relation: str | None
    deadline: datetime
    status: str
    created_at: datetime
    answered_at: datetime | None = None
    answered_by: str | None = None


class ProtectionStore(Protocol):
    def put(self, profile: Profile, org_id: str, now: datetime, *, scoring_birth: date | None) -> Customer:
        """Insert or replace ``profile`` and bring the account's customer profile in line with it (``scoring_birth``,
        living alone, phones) in one transaction; returns the customer profile as now stored. ``NotFound`` and
        nothing written when another bank registered the account."""
        ...

    def get(self, account_id: str) -> Profile | None: ...

    def load(self) -> list[Profile]: ...

    def add_confirmations(self, rows: Sequence[Confirmation]) -> list[Confirmation]:
        """Store the new ones (a transfer already asked about keeps its first); returns those stored."""
        ...

    def confirmation(self, org_id: str, transfer_id: str) -> Confirmation | None: ...

    def settle(self, confirmation_id: str, status: str, at: datetime, by: str) -> bool:
        """Pending -> ``status``; False (nothing changed) when it was no longer pending."""
        ...

    def due(self, now: datetime, limit: int = 500) -> list[Confirmation]:
        """Pending confirmations whose deadline has passed by ``now``."""
        ...
