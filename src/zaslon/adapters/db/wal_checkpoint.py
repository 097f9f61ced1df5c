"""SQLite WAL checkpoints off the answering path.

By default SQLite checkpoints inside whichever commit pushes the write-ahead log past 1,000 pages: that
commit then copies the log into the database file, tens of milliseconds measured under load, and every
real-time request waiting for it waits that long. The decision writer turns that off on its own
connection and this thread checkpoints instead, every ``interval`` seconds when something was written,
in PASSIVE mode (it never waits for readers or writers). SQLite does the copying without holding the
Python interpreter lock.

The log starts over only when a checkpoint has copied all of it before the next commit. Checkpointing
once a second never achieved that under steady load (a commit lands during nearly every long
checkpoint): the file grew by about 8 MB/s at 850 decisions/s. Every 50 ms each checkpoint is small and
usually finishes between two commits, and the file stays at about 3 MB. As a backstop, once the log
holds ``restart_pages`` pages a RESTART checkpoint waits for a gap between writers and makes the next
commit write from the start of the file again (a pause of the writer of some 50 ms).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from sqlalchemy import Engine

__all__ = ["AUTOCHECKPOINT_PAGES", "WalCheckpointer"]

# Every other connection's own checkpoints (``PRAGMA wal_autocheckpoint``): only past twice the thread's
# RESTART mark. At SQLite's default (1,000 pages) a commit of whichever connection writes next -- operators'
# call events, an incident -- copied the decisions' log into the database inside that commit whenever the
# log had not started over yet (under a bulk load: nearly every commit; 8 % of the demo's main thread,
# py-spy). A process that writes no decisions runs no thread: its log is copied past this mark, or when its
# last connection closes.
AUTOCHECKPOINT_PAGES = 32_768


class WalCheckpointer:
    def __init__(self, db: Engine, *, interval: float = 0.05, restart_pages: int = 16_384) -> None:
        self._db = db
        self._interval = interval
        self._restart_pages = restart_pages
        self.restarts = 0
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self.checkpoints = 0  # for tests and diagnostics
        self._thread = threading.Thread(target=self._run, name="zaslon-wal-checkpoint", daemon=True)
        self._thread.start()

    def wrote(self) -> None:
        """Something was committed: checkpoint at the next tick."""
        self._dirty.set()

    def _run(self) -> None:
        conn: Any = None
        try:
            while not self._stop.wait(self._interval):
                if not self._dirty.is_set():
                    continue
                self._dirty.clear()
                try:
                    if conn is None:
                        conn = self._db.raw_connection()
                    self.checkpoint(conn)
                    self.checkpoints += 1
                except Exception:  # a busy or broken connection: try again next tick with a fresh one
                    self._dirty.set()
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            conn.close()
                    conn = None
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def checkpoint(self, conn: Any) -> None:
        """One PASSIVE checkpoint on ``conn`` (a DB-API connection); a RESTART one too if the log is long."""
        cur = conn.cursor()
        try:
            row = cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if row is not None and int(row[1]) >= self._restart_pages:
                cur.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                self.restarts += 1
        finally:
            cur.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
