"""Leadership held as a PostgreSQL session advisory lock on a connection of its own.

Several API nodes on one PostgreSQL database (the scale-out shape) would otherwise each expire the same orders,
retry the same webhooks and raise the same courier risks. The node holding the lock runs them; if it dies, its
session ends, the lock goes with it and the next node to ask takes over. On SQLite one process owns the
database file (the embedded default), so that process always leads.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection, Engine, text


class AdvisoryLeadership:
    def __init__(self, engine: Engine, key: int) -> None:
        self.engine = engine
        self.key = key
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def leads(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        with self._lock:
            if self._conn is not None:
                try:  # still our session (a dropped connection has lost the lock)
                    self._conn.execute(text("select 1"))
                    return True
                except Exception:
                    self._conn.invalidate()
                    self._conn = None
            try:
                conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            except Exception:  # the database away for a moment: not leading until it is back
                return False
            if conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": self.key}).scalar():
                self._conn = conn
                return True
            conn.close()  # not ours: nothing to unlock
            return False

    def release(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            try:  # a pooled connection outlives close(): unlock first, or the pool keeps the lock held
                self._conn.execute(text("select pg_advisory_unlock(:k)"), {"k": self.key})
                self._conn.close()
            except Exception:  # the session is gone already, and its lock with it; do not pool what is left
                self._conn.invalidate()
            self._conn = None
