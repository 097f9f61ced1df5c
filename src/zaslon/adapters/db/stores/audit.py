"""SQL audit store (``zaslon.flow.ports.audit``) on ``audit_log``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.tables_audit import audit_log
from zaslon.core.audit import AuditEntry
from zaslon.errors import Unavailable

_RETRIES = 20


class SqlAuditStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, make: Callable[[AuditEntry | None], AuditEntry]) -> AuditEntry:
        for _ in range(_RETRIES):
            try:
                with self.engine.begin() as conn:
                    row = conn.execute(select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)).mappings().first()
                    entry = make(AuditEntry(**row) if row is not None else None)
                    conn.execute(insert(audit_log).values(**asdict(entry)))
                return entry
            except IntegrityError:  # another writer took this place (same seq or prev_hash): chain on after it
                continue
        raise Unavailable("the audit log is busy; nothing was recorded, try again")

    def entries(self, *, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditEntry]:
        q = select(audit_log).where(audit_log.c.seq > after_seq).order_by(audit_log.c.seq)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            for row in conn.execute(q).mappings():
                yield AuditEntry(**row)
