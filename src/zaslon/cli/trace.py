"""`zaslon bench trace`: trace latency over a whole world's ledger, one trace per reported incident."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import typer


def bench_trace(
    json_path: Path = typer.Option(..., "--json", help="write the figures here"),
    world: Path = typer.Option(None, help="world directory (default: data/worlds/<preset>-<seed>)"),
    preset: str = typer.Option("large", help="preset to generate if the world is missing"),
    seed: int = typer.Option(42),
    traces: int = typer.Option(2000, min=1, help="how many traces to time (incidents are cycled)"),
    max_depth: int = typer.Option(6, min=1),
    method: str = typer.Option("fifo", help="fifo or haircut"),
) -> None:
    """Time traces at each incident's report time over the full ledger (index build reported apart)."""
    import time

    import numpy as np
    import polars as pl
    from rich.progress import Progress

    from zaslon.core.trace import Method, trace
    from zaslon.errors import InvalidInput
    from zaslon.flow.ledger import load_ledger
    from zaslon.simulate.load import ensure_world

    try:
        how = Method(method)
    except ValueError:
        raise InvalidInput("--method must be fifo or haircut", field="method") from None
    path = ensure_world(world or Path("data/worlds") / f"{preset}-{seed}", preset=preset, seed=seed)
    t0 = time.perf_counter()
    ledger = load_ledger(path)
    build_s = time.perf_counter() - t0
    inc = pl.read_parquet(path / "incidents.parquet", columns=["reported_at", "transfer_ids"])
    row_of = pl.DataFrame({"tid": ledger.transfer_ids}).with_row_index("row")
    cases: list[tuple[int, list[tuple[int, int]]]] = []
    exploded = inc.with_row_index("k").explode("transfer_ids").rename({"transfer_ids": "tid"})
    joined = exploded.join(row_of, on="tid", how="inner").group_by("k", maintain_order=True).agg(
        pl.col("row"), pl.col("reported_at").first())
    amount = ledger.amount
    for rows, at in joined.select("row", "reported_at").iter_rows():
        at_us = int(at.timestamp() * 1_000_000)
        cases.append((ledger.upto(at_us), [(int(r), int(amount[r])) for r in rows]))
    if not cases:
        raise InvalidInput("the world has no incidents naming known transfers", field="world")
    for upto, seeds in cases[:20]:  # warm the per-account caches' code paths, not the timed ones
        trace(ledger, seeds, upto=upto, max_depth=max_depth, method=how)
    ledger._views.clear()  # every timed trace starts cold: no FIFO positions cached from warm-up
    times: list[float] = []
    hops: list[int] = []
    with Progress(transient=True) as bar:
        task = bar.add_task("tracing", total=traces)
        for i in range(traces):
            upto, seeds = cases[i % len(cases)]
            if i % len(cases) == 0:
                ledger._views.clear()
            s = time.perf_counter()
            res = trace(ledger, seeds, upto=upto, max_depth=max_depth, method=how)
            times.append((time.perf_counter() - s) * 1000)
            hops.append(len(res.hops))
            bar.advance(task)
    manifest = path / "manifest.json"
    label = json.loads(manifest.read_text()).get("preset") if manifest.is_file() else None
    out = {
        "transfers": ledger.n_rows,
        "traces": traces,
        "distinct_incidents": len(cases),
        "trace_p50_ms": round(float(np.percentile(times, 50)), 3),
        "trace_p99_ms": round(float(np.percentile(times, 99)), 3),
        "trace_max_ms": round(max(times), 3),
        "mean_hops_per_trace": round(float(np.mean(hops)), 2),
        "index_build_s": round(build_s, 2),
        "method": how.value,
        "max_depth": max_depth,
        "world": str(path),
        "preset": label,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.python_implementation()} "
                   f"{platform.python_version()}",
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(out, indent=2))
    typer.echo(json.dumps(out))


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    bench.command("trace")(bench_trace)
