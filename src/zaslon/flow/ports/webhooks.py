"""The webhook store: where each bank wants its orders pushed, and the deliveries still owed to it.

A delivery is a row written in the same moment the order is issued and moved through pending -> delivered (or
failed after the last attempt), so a crash between issuing and pushing loses no notification.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol


class Hook(NamedTuple):
    url: str
    secret: str | None


class Delivery(NamedTuple):
    delivery_id: int
    bank_id: str
    order_id: str
    payload: str
    attempts: int


class WebhookStore(Protocol):
    def set_hook(self, org_id: str, url: str | None, secret: str | None) -> None:
        """Set (or with ``url`` None, remove) an organisation's webhook address and signing secret."""
        ...

    def hook_of(self, org_id: str) -> Hook | None:
        ...

    def hooks(self, bank_ids: Iterable[str]) -> dict[str, Hook]:
        """BIC -> hook of those of ``bank_ids`` whose organisation set one."""
        ...

    def enqueue(self, rows: Sequence[tuple[str, str, str]], *, now: datetime) -> list[int]:
        """Owe a delivery per (bank_id, order_id, payload), due now; returns their ids."""
        ...

    def due(self, now: datetime, *, ids: Sequence[int] | None = None, limit: int = 200) -> list[Delivery]:
        """Pending deliveries due at ``now`` (only ``ids`` if given), oldest first."""
        ...

    def settle(self, delivery_id: int, *, ok: bool, error: str | None, next_at: datetime | None,
               now: datetime) -> None:
        """Record one attempt: delivered, or failed with ``error`` and retried at ``next_at`` (None: given up)."""
        ...
