"""`zaslon bench scoring`: in-process speed, JSON parse speed, HTTP latency under load, state size.

In-process: the engine is warmed with the world's history (features of 60% of the transfers, a model
trained on the reports known by then, the packaged rule set), then the next transfers are scored in
micro-batches of 4,096 on one thread. Two figures: the columnar path (features, rules, model with
per-feature contributions, policy, top-3 reasons as arrays: what a stream consumer uses) and the
Decision-object path (what the HTTP route uses). Rates are transfers per second of that thread's CPU time,
so other processes on a shared machine do not distort them; wall-clock rates are reported beside them.

HTTP: the real app (uvicorn, one worker, SQLite) on 127.0.0.1 with that model, and an open-loop load
generator in another process: requests are sent on a fixed schedule at the offered rate over keep-alive
connections; latency is measured from the scheduled send time, so a stalled server is not hidden.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from zaslon.core.types import Channel, Transfer
from zaslon.flow.model import ModelStore, labels_known_by, train
from zaslon.flow.replay import columns_of_frame, stream_pass, validate_incidents, validate_transfers
from zaslon.flow.scoring import ScoringEngine
from zaslon.lab.scoring_eval import profiles_of, reports_of

BATCH = 4096


def _rules() -> Any:
    try:
        from zaslon.flow.rules import default_ruleset

        return default_ruleset()
    except ImportError:  # pragma: no cover - the rules package not installed
        return None


def _transfers(df: pl.DataFrame) -> list[Transfer]:
    out = []
    for r in df.iter_rows(named=True):
        out.append(Transfer(r["transfer_id"], r["ts"], r["payer"], r["payee"], int(r["amount"]), r["currency"],
                            Channel(r["channel"]) if r.get("channel") else Channel.MOBILE, r.get("device"),
                            r.get("ip"), None, None, r.get("payee_country")))
    return out


def _json_bodies(df: pl.DataFrame) -> list[bytes]:
    # the API refuses what a bank would never send for scoring: self-transfers, zero amounts, cash without an ATM
    ok = (pl.col("payee") != "CASH") & (pl.col("payer") != pl.col("payee")) & (pl.col("amount") > 0)
    rows = df.filter(ok).select(
        "transfer_id", "ts", "payer", "payee", "amount", "currency", "channel", "device", "ip", "payee_country"
    )
    out = []
    for r in rows.iter_rows(named=True):
        r["ts"] = r["ts"].isoformat()
        out.append(json.dumps({k: v for k, v in r.items() if v is not None}).encode())
    return out


def run_bench(world: Path, *, transfers: int, http: bool, http_rps: int, http_seconds: float) -> dict[str, Any]:
    t = validate_transfers(pl.read_parquet(world / "transfers.parquet"))
    n_all = len(t)
    split = int(n_all * 0.6)
    n = min(transfers, n_all - split)
    hist = t.head(split)
    cut = hist["ts"][-1]
    cutoff = datetime.fromtimestamp(cut.timestamp() + 1, tz=UTC)
    rep = reports_of(world)
    rep = validate_incidents(rep.filter(pl.col("reported_at") < cutoff), hist)
    engine = ScoringEngine(profiles=profiles_of(world))
    st = stream_pass(engine, hist, rep)
    y = labels_known_by(st.frame["transfer_id"].to_list(), [(a, [i]) for i, a in rep.iter_rows()], cutoff)
    model = train(st.x, y, cutoff=cutoff)
    engine.set_model(model.compiled)
    engine.set_ruleset(_rules())
    seg = t.slice(split, n)
    cols = columns_of_frame(seg)
    objs = _transfers(seg)
    twin = engine.clone()  # same state, for the Decision-object path over the same transfers
    from zaslon.flow.replay import slice_cols

    # warm-up: compile and touch everything once, outside the timing, on a throwaway copy
    engine.clone().score_batch(objs[:64])

    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for lo in range(0, n, BATCH):
        res = engine.score_columns(slice_cols(cols, lo, min(n, lo + BATCH)))
        engine.top_contributions(res)
    cpu_col, wall_col = time.thread_time() - cpu0, time.perf_counter() - wall0

    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for lo in range(0, n, BATCH):
        twin.score_batch(objs[lo : lo + BATCH])
    cpu_obj, wall_obj = time.thread_time() - cpu0, time.perf_counter() - wall0

    bodies = _json_bodies(seg.head(100_000))
    from zaslon.adapters.http.schemas import TransferIn

    parse = TransferIn.model_validate_json
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for b in bodies:
        parse(b).to_domain()
    cpu_parse, wall_parse = time.thread_time() - cpu0, time.perf_counter() - wall0

    out: dict[str, Any] = {
        "transfers": n,
        "inprocess_tx_per_s": round(n / cpu_col),
        "inprocess_wall_tx_per_s": round(n / wall_col),
        "inprocess_decisions_tx_per_s": round(n / cpu_obj),
        "inprocess_decisions_wall_tx_per_s": round(n / wall_obj),
        "parse_only_tx_per_s": round(len(bodies) / cpu_parse),
        "parse_only_wall_tx_per_s": round(len(bodies) / wall_parse),
        "parse_only_transfers": len(bodies),
        "state_bytes_per_account": round(engine.state.state_bytes_per_account(), 1),
        "state_array_bytes_per_account": engine.state.array_bytes_per_account(),
        # arrays grow by doubling: what is allocated (incl. spare rows) over the accounts actually held
        "state_allocated_bytes_per_account": round(
            sum(a.nbytes for a in engine.state.arrays) / max(1, len(engine.state))
            + engine.state.index_bytes_per_account(), 1
        ),
        "accounts": len(engine.state),
        "history_transfers": split,
        "model_id": model.model_id,
        "ruleset_version": engine.ruleset_version,
        "batch": BATCH,
        "http_rps": None,
        "http_p50_ms": None,
        "http_p99_ms": None,
    }
    if http:
        # A bank submits only its own customers' transfers: the load is the busiest bank's, sent with its BIC.
        bic = str(seg["payer_bank"].drop_nulls().mode().sort()[0]) if "payer_bank" in seg.columns else None
        own = seg if bic is None else seg.filter((pl.col("payer_bank") == bic) | (pl.col("payee_bank") == bic))
        out.update(_http_bench(model, _json_bodies(own.head(100_000)), http_rps, http_seconds, bic))
        out["http_bank"] = bic
    return out


def _create_missing_tables(url: str) -> None:
    """Tables registered on the shared metadata that no migration creates yet (only while they are new)."""
    import importlib
    import pkgutil

    from zaslon.adapters import db as dbpkg
    from zaslon.adapters.db.base import metadata
    from zaslon.adapters.db.engine import make_engine

    for info in pkgutil.iter_modules(dbpkg.__path__):
        if info.name.startswith("tables_"):
            importlib.import_module(f"zaslon.adapters.db.{info.name}")
    metadata.create_all(make_engine(url))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_bench(model: Any, bodies: list[bytes], rps: int, seconds: float, bic: str | None) -> dict[str, Any]:
    from zaslon.adapters.db.engine import make_engine, upgrade
    from zaslon.flow.orgs import create_org

    with tempfile.TemporaryDirectory(prefix="zaslon-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        _create_missing_tables(url)
        key = create_org(make_engine(url), name="Bench Bank", kind="bank", bank_id=bic).api_key
        store = Path(tmp) / "models"
        ModelStore(store).save(model)
        port = _free_port()
        env = {**os.environ, "ZASLON_DATABASE_URL": url, "ZASLON_MODEL_DIR": str(store), "ZASLON_PORT": str(port)}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "zaslon.adapters.http.app:serve_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            if not _wait_ready(port, 60.0):
                err = server.stderr.read().decode()[-2000:] if server.stderr and server.poll() is not None else ""
                return {"http_error": f"server did not start: {err}"}
            from zaslon.lab.loadgen import run_load

            # warm-up (model, rules, numba) outside the measurement
            run_load(port, key, bodies[:300], rps=100, seconds=3.0, path="/v1/transfers/score")
            cpu0 = _process_cpu_s(server.pid)
            res = run_load(port, key, bodies[300:], rps=rps, seconds=seconds, path="/v1/transfers/score")
            cpu1 = _process_cpu_s(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        return {
            "http_rps": res["achieved_rps"],
            "http_offered_rps": rps,
            "http_p50_ms": res["p50_ms"],
            "http_p99_ms": res["p99_ms"],
            "http_requests": res["sent"],
            "http_errors": res["errors"],
            "http_status_counts": res["status"],
            # The server's own CPU time per answered request: what the rate costs, whatever else the
            # machine is running (the wall-clock figures above depend on that too).
            "http_server_cpu_ms_per_request": (
                round((cpu1 - cpu0) * 1000 / res["sent"], 3)
                if cpu0 is not None and cpu1 is not None and res["sent"] else None
            ),
        }


def _process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc); None where that is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _wait_ready(port: int, timeout: float) -> bool:
    import httpx

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False

