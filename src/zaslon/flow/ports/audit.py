"""The audit store: append entries to the hash-chained audit log, read them back in order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from zaslon.core.audit import AuditEntry


class AuditStore(Protocol):
    def append(self, make: Callable[[AuditEntry | None], AuditEntry]) -> AuditEntry:
        """In one transaction: read the newest entry, ``make`` the next one from it and insert it. A writer
        that raced for the same place is retried on the new newest entry, so the chain never forks."""
        ...

    def entries(self, *, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditEntry]:
        """Entries in ``seq`` order, from ``after_seq`` on."""
        ...
