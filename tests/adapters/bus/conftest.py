"""The scale-out shape on real components: a nats-server per test (JetStream, file storage, loopback), a fresh
PostgreSQL database, scoring workers as real processes (so kill -9 is real), API nodes in-process."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

from zaslon.adapters.db.engine import make_engine, upgrade

PG_URL = os.environ.get("ZASLON_TEST_POSTGRES_URL")
SRC = str(Path(__file__).resolve().parents[3] / "src")


def _need(what: str, value: str | None) -> str:
    if not value:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing: run the scale-out tests through `make test-scaleout`")
        pytest.skip(f"no {what}: run through `make test-scaleout` (scripts/with-postgres.sh scripts/with-nats.sh)")
    return value


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


class NatsServer:
    """A throwaway nats-server with JetStream on file storage; ``restart`` keeps its store and port."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary, self.root, self.port = binary, root, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js",
                                      "-sd", str(self.root / "js")], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@contextlib.contextmanager
def _nats(root: Path) -> Iterator[NatsServer]:
    binary = os.environ.get("ZASLON_TEST_NATS_BIN") or shutil.which("nats-server")
    server = NatsServer(_need("nats-server", binary), root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def _database() -> Iterator[str]:
    base = _need("PostgreSQL (ZASLON_TEST_POSTGRES_URL)", PG_URL)
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    with _nats(tmp_path) as server:
        yield server


@pytest.fixture
def pg_url() -> Iterator[str]:
    with _database() as url:
        yield url


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    log: Path
    partitions: int

    def owned(self) -> int:
        return self.log.read_text(errors="replace").count("partition owned") if self.log.exists() else 0

    def wait_owned(self, n: int | None = None, timeout: float = 60.0) -> None:
        want = self.partitions if n is None else n
        deadline = time.monotonic() + timeout
        while self.owned() < want:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker owns {self.owned()} of {want}: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@dataclass
class Cluster:
    pg_url: str
    nats: NatsServer
    tmp: Path
    partitions: int = 4
    workers: list[Worker] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": SRC, "ZASLON_DATABASE_URL": self.pg_url, "ZASLON_BUS_URL": self.nats.url,
               "ZASLON_BUS_PARTITIONS": str(self.partitions), "ZASLON_BUS_ACK_WAIT_S": "1.5",
               "ZASLON_BUS_SNAPSHOT_EVERY": "4"}
        env.update(extra)
        return env

    def worker(self, partitions: str = "all", **extra: str) -> Worker:
        log = self.tmp / f"worker-{len(self.workers)}.log"
        proc = subprocess.Popen([sys.executable, "-m", "zaslon", "worker", "--partitions", partitions],
                                env=self.env(**extra), stdout=log.open("wb"), stderr=subprocess.STDOUT)
        n = self.partitions if partitions == "all" else _count(partitions)
        w = Worker(proc, log, n)
        self.workers.append(w)
        return w

    def settings(self, **kw: object):  # type: ignore[no-untyped-def]
        from zaslon.settings import Settings

        return Settings(database_url=self.pg_url, bus_url=self.nats.url, bus_partitions=self.partitions,
                        **kw)  # type: ignore[arg-type]


def _count(spec: str) -> int:
    n = 0
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        n += int(hi or lo) - int(lo) + 1
    return n


@contextlib.contextmanager
def _cluster(pg_url: str, nats: NatsServer, tmp: Path) -> Iterator[Cluster]:
    c = Cluster(pg_url, nats, tmp)
    try:
        yield c
    finally:
        for w in c.workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait(10)


@pytest.fixture
def cluster(pg_url: str, nats_server: NatsServer, tmp_path: Path) -> Iterator[Cluster]:
    with _cluster(pg_url, nats_server, tmp_path) as c:
        yield c


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for the tests of a module that need no fault of their own (each uses its own transfer ids):
    one worker, started once, with a poisoned transfer id ``poison-3`` and 3 deliveries at most."""
    tmp = tmp_path_factory.mktemp("cluster")
    with _database() as url, _nats(tmp) as nats, _cluster(url, nats, tmp) as c:
        c.worker(ZASLON_BUS_FAULT="poison:poison-3", ZASLON_BUS_MAX_DELIVER="3").wait_owned()
        yield c
