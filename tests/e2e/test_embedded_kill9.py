"""The embedded default: kill -9 of `zaslon serve` mid-stream loses no acknowledged decision (SQLite WAL:
a decision is answered only after its commit)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.flow.orgs import create_org

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = int(s.getsockname()[1])
    s.close()
    return p


def test_kill_9_of_serve_loses_no_acknowledged_decision(tmp_path: Path) -> None:
    db_path = tmp_path / "zaslon.db"
    url = f"sqlite:///{db_path}"
    upgrade(url)
    eng = make_engine(url)
    key = create_org(eng, name="Belarusbank", kind="bank", bank_id="AKBBBY2X").api_key
    eng.dispose()
    port = _port()
    env = {**os.environ, "PYTHONPATH": SRC, "ZASLON_DATABASE_URL": url, "ZASLON_PORT": str(port)}
    env.pop("ZASLON_BUS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "zaslon", "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    acked: dict[str, str] = {}
    stop = threading.Event()

    def stream(lane: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5,
                          headers={"Authorization": f"Bearer {key}"}) as c:
            i = 0
            while not stop.is_set():
                tid = f"k{lane}-{i}"
                body = {"transfer_id": tid, "ts": f"2026-03-01T08:{(i // 60) % 60:02d}:{i % 60:02d}Z",
                        "payer": f"P{i % 50}", "payee": f"Q{(i * 3) % 41}", "amount": 1000 + i,
                        "payer_bank": "AKBBBY2X"}  # the bank's own customers (a bank submits only those)
                try:
                    r = c.post("/v1/transfers/score", json=body)
                except httpx.HTTPError:
                    return  # the server is gone: this request was never acknowledged
                if r.status_code == 200:
                    acked[tid] = r.json()["outcome"]
                i += 1

    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "serve exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
        lanes = [threading.Thread(target=stream, args=(n,)) for n in range(4)]
        for t in lanes:
            t.start()
        deadline = time.monotonic() + 120
        while len(acked) < 300:  # mid-stream: requests in flight on every lane
            assert time.monotonic() < deadline, f"only {len(acked)} decisions acknowledged in 120 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for t in lanes:
            t.join(10)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    conn = sqlite3.connect(db_path)  # opened after the crash: what the WAL holds counts
    stored = dict(conn.execute("SELECT transfer_id, outcome FROM decisions").fetchall())
    conn.close()
    assert len(acked) >= 300
    missing = [t for t in acked if t not in stored]
    assert missing == [], f"{len(missing)} acknowledged decisions lost: {missing[:5]}"
    assert all(stored[t] == o for t, o in acked.items())
