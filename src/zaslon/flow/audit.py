"""The audit log of people: who changed what, hash-chained (``zaslon.core.audit``).

Every state change made through the API is appended by the HTTP adapter (``adapters/http/audit.py``) with
the acting API key, the person it was issued to and the organisation; the operator's CLI commands that
change organisations and keys append theirs as ``cli:<os user>``. ``verify`` walks the chain.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zaslon.adapters.db.stores.audit import SqlAuditStore
from zaslon.core.audit import AuditEntry, Broken, chained, verify_chain
from zaslon.flow.ports.audit import AuditStore

if TYPE_CHECKING:
    from sqlalchemy import Engine


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.store: AuditStore = SqlAuditStore(engine)
        self._lock = threading.Lock()  # threads of one process take turns; other processes retry in the store

    def record(self, *, org_id: str | None, actor: str, person: str | None, action: str, subject: str | None,
               detail: dict[str, Any], at: datetime | None = None) -> AuditEntry:
        when = at or datetime.now(UTC)
        with self._lock:
            return self.store.append(lambda prev: chained(prev, at=when, org_id=org_id, actor=actor,
                                                          person=person, action=action, subject=subject,
                                                          detail=detail))

    def verify(self) -> tuple[int, str, Broken | None]:
        """(entries that hold, the head hash, the first broken entry or None)."""
        return verify_chain(self.store.entries())

    def entries(self, *, after_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        return list(self.store.entries(after_seq=after_seq, limit=limit))
