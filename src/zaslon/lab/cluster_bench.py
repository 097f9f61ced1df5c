"""``zaslon bench cluster``: the scale-out shape under open-loop load, on a real nats-server and PostgreSQL on
loopback, for each worker count asked for.

Per worker count: a fresh database and a fresh nats-server (JetStream, file storage); ``workers`` scoring
worker processes splitting the partitions evenly; ``api_nodes`` API node processes (``zaslon serve --role
api``); the load generator (``zaslon.lab.loadgen``: open loop, latency from when each request was due) sends
distinct transfers for ``seconds`` at ``rate``. Figures:

- ``rps``, ``p50_ms``, ``p99_ms``, ``errors`` (non-200 answers and broken connections);
- ``cpu_ms_per_transfer``: the CPU time (user + system, from /proc) of every process of the cluster together —
  workers, API nodes, nats-server, the PostgreSQL server and its backends — divided by the transfers decided
  (the load generator's own CPU is reported apart, ``loadgen_cpu_ms_per_transfer``);
- ``lost``: answered 200 but no decision stored; ``duplicates``: decision rows beyond one per transfer id;
- over a run longer than a minute, ``rss_growth_after_first_minute_pct``: the workers' and API nodes' resident
  memory at the end against a minute in (issue 15's sustained load).

``run_embedded_soak`` (``zaslon bench soak``) puts the same load on the embedded default, for the same figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parents[3]
PARTITIONS = 16


def run_cluster_bench(counts: list[int], *, seconds: float, rate: float, api_nodes: int = 1,
                      json_path: str | None = None) -> dict[str, Any]:
    from zaslon.errors import InvalidInput

    if not counts or any(c < 1 or c > PARTITIONS for c in counts):
        raise InvalidInput(f"--workers takes counts between 1 and {PARTITIONS}", field="workers")
    pg = os.environ.get("ZASLON_TEST_POSTGRES_URL")
    nats_bin = os.environ.get("ZASLON_TEST_NATS_BIN") or shutil.which("nats-server")
    if not pg or not nats_bin:
        wrap = [str(REPO / "scripts" / s) for s in ("with-postgres.sh", "with-nats.sh")]
        if all(Path(w).exists() for w in wrap) and not os.environ.get("ZASLON_BENCH_WRAPPED"):
            # Start the throwaway PostgreSQL and nats-server the tests use, and run this command inside them.
            env = {**os.environ, "ZASLON_BENCH_WRAPPED": "1"}
            done = subprocess.run([*wrap, sys.executable, "-m", "zaslon", *sys.argv[1:]], env=env, check=False)
            raise SystemExit(done.returncode)
        raise InvalidInput("needs PostgreSQL and nats-server on loopback: run it under scripts/with-postgres.sh "
                           "scripts/with-nats.sh (or set ZASLON_TEST_POSTGRES_URL, and nats-server on PATH)",
                           field="environment")
    results: dict[str, Any] = {"machine": _machine(), "rate": rate, "seconds": seconds, "api_nodes": api_nodes,
                               "partitions": PARTITIONS, "runs": {}}
    for k in counts:
        load_before = os.getloadavg()[0]
        res = _one(pg, nats_bin, k, seconds=seconds, rate=rate, api_nodes=api_nodes)
        # Other work on the machine takes CPU from the cluster: what the 1-minute load average was around it.
        res["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        results["runs"][str(k)] = res
        print(json.dumps({"workers": k, **res}), flush=True)
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2) + "\n")
    return results


def _machine() -> dict[str, Any]:
    import platform

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def _port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = int(s.getsockname()[1])
    s.close()
    return p


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def _stop(procs: list[subprocess.Popen[bytes]], timeout_s: float = 30.0) -> None:
    """SIGTERM to each in turn (a worker snapshots and lets its partitions go), SIGKILL to one that outstays it."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()


def _children_cpu_s() -> float:
    import resource

    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def _round_timings(log: Path) -> dict[str, float]:
    """What a worker logs when it stops: its rounds, and the round phases' medians and 99th percentiles (ms)."""
    import re

    with contextlib.suppress(OSError):
        for line in reversed(log.read_text(errors="replace").splitlines()):
            if "worker stopped" in line:
                return {k: float(v) for k, v in re.findall(r'"?(\w+)"?[=:]\s*([-\d.]+)', line)
                        if k.startswith("round") or k in ("rounds", "scored")}
    return {}


def _split(k: int) -> list[str]:
    per = PARTITIONS // k
    specs, lo = [], 0
    for i in range(k):
        hi = PARTITIONS - 1 if i == k - 1 else lo + per - 1
        specs.append(f"{lo}-{hi}")
        lo = hi + 1
    return specs


def _bodies(n: int, run: str) -> list[bytes]:
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    return [json.dumps({"transfer_id": f"{run}-{i}", "ts": (t0 + timedelta(milliseconds=50 * i)).isoformat(),
                        "payer": f"BY{(i * 7919) % 20_000:08d}", "payee": f"BY{(i * 104_729 + 13) % 20_000:08d}a",
                        "amount": 1_000 + (i * 37) % 250_000,
                        "payer_bank": "AKBBBY2X"}).encode()  # the bench bank's own customers (it submits only those)
            for i in range(n)]


def _one(pg_base: str, nats_bin: str, k: int, *, seconds: float, rate: float, api_nodes: int) -> dict[str, Any]:
    from sqlalchemy import func, select, text

    from zaslon.adapters.db.engine import make_engine, upgrade
    from zaslon.adapters.db.tables_decisions import decisions
    from zaslon.flow.orgs import create_org
    from zaslon.lab.loadgen import run_load

    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        backend = int(conn.execute(text("SELECT pg_backend_pid()")).scalar() or 0)
    postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    url = pg_base.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    db = make_engine(url)
    key = create_org(db, name="Bench bank", kind="bank", bank_id="AKBBBY2X").api_key
    tmp = Path(tempfile.mkdtemp(prefix="zaslon-bench-"))
    nats_port = _port()
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    rounds: list[dict[str, float]] = []  # each worker's round timings, from its log once it has stopped
    try:
        procs.append(subprocess.Popen([nats_bin, "-a", "127.0.0.1", "-p", str(nats_port), "-js", "-sd",
                                       str(tmp / "js")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        env = {**os.environ, "ZASLON_DATABASE_URL": url, "ZASLON_BUS_URL": f"nats://127.0.0.1:{nats_port}",
               "ZASLON_BUS_PARTITIONS": str(PARTITIONS)}
        for i, spec in enumerate(_split(k)):
            log = tmp / f"worker-{i}.log"
            logs.append(log)
            procs.append(subprocess.Popen([sys.executable, "-m", "zaslon", "worker", "--partitions", spec], env=env,
                                          stdout=log.open("wb"), stderr=subprocess.STDOUT))
        ports = [_port() for _ in range(api_nodes)]
        for p in ports:
            procs.append(subprocess.Popen([sys.executable, "-m", "zaslon", "serve", "--role", "api"],
                                          env={**env, "ZASLON_PORT": str(p)}, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        _wait_ready(ports, logs, procs)
        # A short warm-up (connections, the first batches), not measured.
        run_load(ports[0], key, _bodies(200, f"warm{k}"), rps=100, seconds=2, path="/v1/transfers/score",
                 connections=16)
        roles = {"nats": [procs[0].pid], "workers": [p.pid for p in procs[1 : 1 + k]],
                 "api": [p.pid for p in procs[1 + k :]]}
        cluster = [p.pid for p in procs] + [postmaster, *_children(postmaster)]
        before = sum(_cpu_s(p) for p in cluster)
        role_before = {r: sum(_cpu_s(p) for p in pids) for r, pids in roles.items()}
        # The load generator is a child process this one waits for: its CPU is in RUSAGE_CHILDREN when it is done.
        loadgen_before = _children_cpu_s()
        bodies = _bodies(int(rate * seconds) + 1, f"run{k}")
        sampler = _RssSampler([p.pid for p in procs[1:]])  # the workers and API nodes
        sampler.start()
        t0 = time.monotonic()
        load = run_load(ports[0], key, bodies, rps=rate, seconds=seconds, path="/v1/transfers/score",
                        connections=64) if api_nodes == 1 else _spread(ports, key, bodies, rate, seconds)
        wall = time.monotonic() - t0
        sampler.stop()
        cluster_now = [p.pid for p in procs] + [postmaster, *_children(postmaster)]
        after = sum(_cpu_s(p) for p in set(cluster) | set(cluster_now))
        by_role = {r: sum(_cpu_s(p) for p in pids) - role_before[r] for r, pids in roles.items()}
        by_role["postgres"] = (after - before) - sum(by_role.values())
        loadgen_cpu = _children_cpu_s() - loadgen_before
        with db.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(decisions)
                                .where(decisions.c.transfer_id.like(f"run{k}-%"))).scalar() or 0
            distinct = conn.execute(select(func.count(func.distinct(decisions.c.transfer_id)))
                                    .where(decisions.c.transfer_id.like(f"run{k}-%"))).scalar() or 0
        ok = int(load.get("status", {}).get("200", 0))
        decided = max(int(distinct), 1)
        return {
            "rps": load.get("achieved_rps"), "p50_ms": load.get("p50_ms"), "p99_ms": load.get("p99_ms"),
            "max_ms": load.get("max_ms"), "errors": load.get("errors"), "sent": load.get("sent"),
            "answered_200": ok, "decisions_stored": int(distinct),
            "cpu_ms_per_transfer": round((after - before) * 1000 / decided, 3),
            "cluster_cpu_s": round(after - before, 2), "wall_s": round(wall, 2),
            "cpu_ms_per_transfer_by_role": {r: round(v * 1000 / decided, 3) for r, v in by_role.items()},
            "loadgen_cpu_ms_per_transfer": round(loadgen_cpu * 1000 / decided, 3),
            "duplicates": int(rows) - int(distinct), "lost": max(0, ok - int(distinct)),
            "workers": k, "status": load.get("status"), **sampler.figures(), "worker_rounds": rounds,
        }
    finally:
        # The API nodes and workers first, while the bus is still there (a worker snapshots its partitions on
        # the way out), then nats-server.
        _stop(list(reversed(procs[1:])))
        _stop(procs[:1])
        rounds.extend(_round_timings(log) for log in logs)
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if not os.environ.get("ZASLON_BENCH_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", flush=True)


def run_embedded_soak(*, seconds: float, rate: float, json_path: str | None = None) -> dict[str, Any]:
    """The embedded default under the same load as ``run_cluster_bench``: one ``zaslon serve`` (SQLite in a
    temporary directory, the in-process bus), the same distinct transfers from the same bank, open loop. Issue
    15's sustained-load figures: errors, and the server's resident memory after the first minute."""
    from zaslon.adapters.db.engine import make_engine, upgrade
    from zaslon.flow.orgs import create_org
    from zaslon.lab.loadgen import run_load

    tmp = Path(tempfile.mkdtemp(prefix="zaslon-soak-"))
    url = f"sqlite:///{tmp}/soak.db"
    upgrade(url)
    key = create_org(make_engine(url), name="Bench bank", kind="bank", bank_id="AKBBBY2X").api_key
    port = _port()
    env = {k: v for k, v in os.environ.items() if k not in ("ZASLON_BUS_URL", "ZASLON_DATABASE_URL")}
    server = subprocess.Popen([sys.executable, "-m", "zaslon", "serve"],
                              env={**env, "ZASLON_DATABASE_URL": url, "ZASLON_PORT": str(port)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready([port], [], [server], partitions=0)  # no workers: the embedded default scores in-process
        run_load(port, key, _bodies(200, "warm"), rps=100, seconds=2, path="/v1/transfers/score", connections=16)
        load_before = os.getloadavg()[0]
        cpu_before, loadgen_before = _cpu_s(server.pid), _children_cpu_s()
        sampler = _RssSampler([server.pid])
        sampler.start()
        t0 = time.monotonic()
        load = run_load(port, key, _bodies(int(rate * seconds) + 1, "soak"), rps=rate, seconds=seconds,
                        path="/v1/transfers/score", connections=64)
        wall = time.monotonic() - t0
        sampler.stop()
        cpu = _cpu_s(server.pid) - cpu_before
        loadgen_cpu = _children_cpu_s() - loadgen_before
        answered = max(int(load.get("status", {}).get("200", 0)), 1)
        res: dict[str, Any] = {
            "shape": "embedded", "rate": rate, "seconds": seconds, "machine": _machine(),
            "rps": load.get("achieved_rps"), "p50_ms": load.get("p50_ms"), "p99_ms": load.get("p99_ms"),
            "max_ms": load.get("max_ms"), "errors": load.get("errors"), "sent": load.get("sent"),
            "status": load.get("status"), "wall_s": round(wall, 2),
            "cpu_ms_per_transfer": round(cpu * 1000 / answered, 3),
            "loadgen_cpu_ms_per_transfer": round(loadgen_cpu * 1000 / answered, 3),
            **sampler.figures(), "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
    finally:
        _stop([server])
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(res), flush=True)
    if json_path:
        Path(json_path).write_text(json.dumps(res, indent=2) + "\n")
    return res


class _RssSampler:
    """Resident memory of the cluster's Python processes every 5 s: the soak's "growth after the first minute"."""

    def __init__(self, pids: list[int]) -> None:
        import threading

        self.pids = pids
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.samples.append((time.monotonic() - self._t0, self._rss()))

    def _rss(self) -> int:
        total = 0
        for pid in self.pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.wait(5.0):
            self.samples.append((time.monotonic() - self._t0, self._rss()))

    def figures(self) -> dict[str, Any]:
        if not self.samples:
            return {}
        out: dict[str, Any] = {"rss_mb_end": round(self.samples[-1][1] / 2**20, 1)}
        after_minute = [r for t, r in self.samples if t >= 60.0]
        if len(after_minute) >= 2:
            out["rss_mb_at_1_min"] = round(after_minute[0] / 2**20, 1)
            out["rss_growth_after_first_minute_pct"] = round(100.0 * (after_minute[-1] / after_minute[0] - 1), 2)
        return out


def _spread(ports: list[int], key: str, bodies: list[bytes], rate: float, seconds: float) -> dict[str, Any]:
    """Several API nodes: one load generator per node, each with its share of the rate and of the transfers."""
    from concurrent.futures import ThreadPoolExecutor

    from zaslon.lab.loadgen import run_load

    n = len(ports)
    with ThreadPoolExecutor(n) as ex:
        parts = list(ex.map(lambda i: run_load(ports[i], key, bodies[i::n], rps=rate / n, seconds=seconds,
                                               path="/v1/transfers/score", connections=32), range(n)))
    status: dict[str, int] = {}
    for p in parts:
        for c, v in p.get("status", {}).items():
            status[c] = status.get(c, 0) + v
    return {"achieved_rps": round(sum(p.get("achieved_rps") or 0 for p in parts), 1),
            "p50_ms": max(p.get("p50_ms") or 0 for p in parts), "p99_ms": max(p.get("p99_ms") or 0 for p in parts),
            "max_ms": max(p.get("max_ms") or 0 for p in parts), "errors": sum(p.get("errors") or 0 for p in parts),
            "sent": sum(p.get("sent") or 0 for p in parts), "status": status}


def _wait_ready(ports: list[int], logs: list[Path], procs: list[subprocess.Popen[bytes]],
                partitions: int = PARTITIONS) -> None:
    """Until every API node answers /healthz and the workers (their logs) own ``partitions`` partitions."""
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"a cluster process exited ({dead[0].args!r}): "
                               + " ".join(log.read_text(errors="replace")[-500:] for log in logs))
        owned = sum(log.read_text(errors="replace").count("partition owned") for log in logs if log.exists())
        up = 0
        for p in ports:
            with contextlib.suppress(httpx.HTTPError):
                up += httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=1).status_code == 200
        if owned >= partitions and up == len(ports):
            return
        time.sleep(0.3)
    raise TimeoutError("the cluster did not come up")
