"""SQL decision store (``zaslon.flow.ports.decisions``) on ``transfers`` and ``decisions``.

On a SQLite file the id probe and the inserts go through the driver (``zaslon.adapters.db.sqlite_fast``);
everything else is SQLAlchemy Core, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.sqlite_fast import IdProbe, RawWriter, fast_paths_apply
from zaslon.adapters.db.stores.transfers import stored_bodies
from zaslon.adapters.db.tables_core import transfers as transfers_table
from zaslon.adapters.db.tables_decisions import decisions as decisions_table
from zaslon.adapters.db.wal_checkpoint import WalCheckpointer
from zaslon.flow.ports.transfers import AlreadyStored

_CHUNK = 500


class SqlDecisionStore:
    def __init__(self, db: Engine) -> None:
        self._db = db
        self.probe = IdProbe(db)
        self._fast = fast_paths_apply(db)
        self._writer = RawWriter(db)

    def stored(self, keys: list[tuple[str, str]]
               ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], dict[str, Any]]]:
        d_rows: dict[tuple[str, str], dict[str, Any]] = {}
        wanted = set(keys)
        ids = list(dict.fromkeys(tid for _, tid in keys))
        with self._db.connect() as conn:  # readers never wait for the writer (WAL / MVCC)
            t_rows = stored_bodies(conn, keys)
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                for row in conn.execute(select(*decisions_table.c).where(decisions_table.c.transfer_id.in_(chunk))):
                    if (row.org_id, row.transfer_id) in wanted:
                        d_rows[(row.org_id, row.transfer_id)] = dict(row._mapping)
        return t_rows, d_rows

    def insert(self, t_rows: Sequence[dict[str, Any]], d_rows: Sequence[dict[str, Any]]) -> None:
        try:
            with self._db.begin() as conn:
                if t_rows:
                    conn.execute(insert(transfers_table), t_rows)
                if d_rows:
                    conn.execute(insert(decisions_table), d_rows)
        except IntegrityError as exc:
            raise AlreadyStored(str(exc.orig)) from exc

    def insert_fast(self, t_rows: Sequence[dict[str, Any]], d_rows: Sequence[dict[str, Any]]) -> None:
        if self._fast and self.probe.enabled and _uniform(t_rows) and _uniform(d_rows):
            self._writer.insert(t_rows, d_rows)
        else:
            self.insert(t_rows, d_rows)

    def close(self) -> None:
        self.probe.close()  # and with the probe off, no later insert takes the writer's connection again
        self._writer.close()

    @property
    def writer_connection(self) -> Any:
        return self._writer.conn

    @property
    def checkpointer(self) -> WalCheckpointer | None:
        return self._writer.checkpointer


def _uniform(rows: Sequence[dict[str, Any]]) -> bool:
    """Every row has the same keys in the same order (one fixed INSERT fits them all)."""
    if not rows:
        return True
    keys = tuple(rows[0])
    return all(tuple(r) == keys for r in rows)
