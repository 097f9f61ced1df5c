"""The decision store's SQLite fast paths: an id probe and group commits through the driver.

Both run fixed SQL on a DB-API connection held for the purpose, because building SQLAlchemy statements and
transactions costs far more than SQLite's own index look-up, insert and commit. They are the real-time
scoring path's p99. Only a SQLite file uses them; other databases (and in-memory SQLite) take the general
SQLAlchemy path. WAL checkpoints of the writer's connection run in ``zaslon.adapters.db.wal_checkpoint``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from zaslon.adapters.db.bulk import bound_rows, insert_plan
from zaslon.adapters.db.tables_core import transfers as transfers_table
from zaslon.adapters.db.tables_decisions import decisions as decisions_table
from zaslon.adapters.db.wal_checkpoint import AUTOCHECKPOINT_PAGES, WalCheckpointer
from zaslon.flow.ports.transfers import AlreadyStored

__all__ = ["IdProbe", "RawWriter", "fast_paths_apply"]


def fast_paths_apply(db: Engine) -> bool:
    """A SQLite file: the probe and the driver-level writer may be used (not other databases, not :memory:)."""
    name = db.url.database or ""
    return db.dialect.name == "sqlite" and name not in ("", ":memory:") and "memory" not in str(db.url)


class IdProbe:
    """Which of some transfer ids the database already holds, by fixed SQL on one held SQLite connection.

    Nearly every id scored is new, and building a SQLAlchemy ``select ... IN`` costs far more than SQLite's
    index look-up itself. This answers "any of these stored?" in microseconds; only ids it finds are read
    (with their types) through SQLAlchemy. In autocommit-style pysqlite a SELECT opens no transaction, so
    each probe sees everything committed so far. Other databases (and in-memory SQLite) use the general path.
    """

    MAX_IDS = 200

    def __init__(self, db: Engine) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._conn: Any = None
        self.enabled = fast_paths_apply(db)
        t, d = transfers_table.name, decisions_table.name
        self._sql = {
            n: (f"SELECT org_id, transfer_id FROM {t} WHERE transfer_id IN ({','.join('?' * n)}) UNION ALL "
                f"SELECT org_id, transfer_id FROM {d} WHERE transfer_id IN ({','.join('?' * n)})")
            for n in (1, 2, 4, 8)
        }

    def known(self, ids: list[str]) -> set[tuple[str, str]] | None:
        """``(org_id, transfer_id)`` of what is stored under one of ``ids`` by any organisation (ids are each
        submitter's own: the caller keeps its own organisation's); None when this cannot tell (the general path).
        By id alone, the leading column of both tables' keys: the same index look-up as before ids were scoped."""
        if not self.enabled or len(ids) > self.MAX_IDS:
            return None
        sql = self._sql.get(len(ids))
        if sql is None:
            marks = ",".join("?" * len(ids))
            sql = (f"SELECT org_id, transfer_id FROM {transfers_table.name} WHERE transfer_id IN ({marks}) UNION ALL "
                   f"SELECT org_id, transfer_id FROM {decisions_table.name} WHERE transfer_id IN ({marks})")
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._db.raw_connection()
                cur = self._conn.cursor()
                try:
                    cur.execute(sql, (*ids, *ids))
                    return {(row[0], row[1]) for row in cur.fetchall()}
                finally:
                    cur.close()
            except Exception:  # the probe is an optimisation: on any trouble, the general path decides
                self._close_locked()
                return None

    def close(self) -> None:
        with self._lock:
            self.enabled = False  # from now on the general path decides: no connection is taken again
            self._close_locked()

    def _close_locked(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too; nothing to do
                conn.close()  # back to the pool


class RawWriter:
    """Inserts transfer and decision rows as one SQLite transaction through the driver, on a connection only
    its writer uses (callers serialise their calls: one committer at a time).

    SQLAlchemy's statement and transaction machinery costs far more than SQLite's insert and commit
    themselves. Values are converted by the bind processors SQLAlchemy would use, so rows are stored
    exactly as SQLAlchemy stores them (and read back by it). The connection's own WAL checkpoints are
    turned off; a ``WalCheckpointer`` thread does them, off the answering path.
    """

    def __init__(self, db: Engine) -> None:
        self._db = db
        self.conn: Any = None  # the writer's own SQLite connection, taken at the first insert
        self.checkpointer: WalCheckpointer | None = None

    def insert(self, t_rows: Sequence[dict[str, Any]], d_rows: Sequence[dict[str, Any]]) -> None:
        """Every row of both lists in one transaction (each list's rows with the same keys in the same order);
        ``AlreadyStored`` when a unique key refuses one, and then nothing is written."""
        if self.conn is None:
            self.conn = self._db.raw_connection()
            cur = self.conn.cursor()
            cur.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it, off this path
            # Inline commits run on the event loop: wait at most 5 s for another writer's lock, not 30.
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()
            if self.checkpointer is None:
                self.checkpointer = WalCheckpointer(self._db)
        conn = self.conn
        try:
            cur = conn.cursor()
            try:
                for table, rows in ((transfers_table, t_rows), (decisions_table, d_rows)):
                    if rows:
                        plan = insert_plan(self._db.dialect, table, tuple(rows[0]))
                        assert plan is not None  # pysqlite's qmark style
                        sql, procs = plan
                        cur.executemany(sql, bound_rows(procs, rows))
            finally:
                cur.close()
            conn.commit()
            if self.checkpointer is not None:
                self.checkpointer.wrote()
        except Exception as exc:
            try:
                conn.rollback()
            except Exception:  # a broken connection: the next commit takes a fresh one
                self.conn = None
                with contextlib.suppress(Exception):
                    conn.close()
            if isinstance(exc, self._db.dialect.dbapi.IntegrityError):  # type: ignore[union-attr]
                raise AlreadyStored(str(exc)) from exc
            raise

    def close(self) -> None:
        """Stop the checkpointer thread and give the connection back, with SQLite's own checkpoints again."""
        if self.checkpointer is not None:
            self.checkpointer.close()
            self.checkpointer = None
        if self.conn is not None:
            with contextlib.suppress(Exception):  # back to the pool with SQLite's own checkpoints again
                self.conn.cursor().execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
