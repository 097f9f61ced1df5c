"""Checkpoints run off the answering path: the writer's connection never checkpoints, the thread does."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.db.wal_checkpoint import AUTOCHECKPOINT_PAGES, WalCheckpointer
from zaslon.core.types import Transfer
from zaslon.flow.decide import DecisionRecorder
from zaslon.flow.orgs import create_org
from zaslon.flow.scoring import ScoringEngine


def test_checkpointer_empties_the_log_only_after_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    upgrade(url)
    db = make_engine(url)
    cp = WalCheckpointer(db, interval=0.05)
    try:
        time.sleep(0.2)
        assert cp.checkpoints == 0  # nothing written: nothing to do
        with db.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        cp.wrote()
        deadline = time.monotonic() + 5
        while cp.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cp.checkpoints == 1
    finally:
        cp.close()


def test_recorder_turns_off_autocheckpoint_on_its_connection_and_restores_it(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    url = f"sqlite:///{tmp_path}/r.db"
    upgrade(url)
    db = make_engine(url, pool_size=2, max_overflow=0)  # the id probe's connection and the writer's
    org = create_org(db, name="Bank", kind="bank").org_id
    rec = DecisionRecorder(db, inline=True)
    t = Transfer("T-1", datetime(2026, 1, 1, tzinfo=UTC), "A", "B", 100)
    out = rec.record_each(ScoringEngine(), [(org, t, False)])
    assert not isinstance(out[0], Exception) and out[0][1].done()
    assert rec._wconn.cursor().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    assert rec._checkpointer is not None
    rec.close()
    with db.connect() as a, db.connect() as b:  # both pooled connections: their own checkpoints again, as a backstop
        for conn in (a, b):
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == AUTOCHECKPOINT_PAGES


def test_a_long_log_is_restarted_so_the_file_stops_growing(tmp_path: Path) -> None:
    # Under steady load a PASSIVE checkpoint never lets the log start over (measured with the recorder at
    # 850 decisions/s: the file grew by about 8 MB/s; with this, it stays at about 68 MB). Here: only a log
    # past ``restart_pages`` gets the RESTART checkpoint.
    import os

    url = f"sqlite:///{tmp_path}/g.db"
    db = make_engine(url)
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER, pad TEXT)"))
    writer = db.raw_connection()
    writer.cursor().execute("PRAGMA wal_autocheckpoint=0")  # as the decision writer's connection

    def write(n: int) -> int:
        writer.cursor().executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * 500) for i in range(n)])
        writer.commit()
        return os.path.getsize(f"{tmp_path}/g.db-wal")

    checker = db.raw_connection()
    lazy, eager = WalCheckpointer(db, restart_pages=10**9), WalCheckpointer(db, restart_pages=10)
    try:
        grown = write(500)
        lazy.checkpoint(checker)
        assert lazy.restarts == 0
        eager.checkpoint(checker)
        assert eager.restarts == 1
        assert write(5) <= grown  # and writing goes on from the start of the (not longer) file
    finally:
        lazy.close()
        eager.close()
        checker.close()
        writer.close()


def test_other_connections_checkpoint_only_past_the_backstop(tmp_path: Path) -> None:
    # A commit of any other connection (call events, incidents) would otherwise copy the decisions' log into
    # the database inside that commit whenever the log is past SQLite's default 1,000 pages.
    url = f"sqlite:///{tmp_path}/b.db"
    upgrade(url)
    db = make_engine(url)
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == AUTOCHECKPOINT_PAGES > 16_384
