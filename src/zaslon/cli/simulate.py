"""``zaslon simulate`` and ``zaslon bench simulate``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer


def print_report(manifest: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()

    def table(title: str, rows: dict[str, Any], key: str = "", value: str = "") -> None:
        t = Table(title=title)
        t.add_column(key or "what")
        t.add_column(value or "value", justify="right")
        for k, v in rows.items():
            t.add_row(str(k), str(v))
        console.print(t)

    table(f"World '{manifest['preset']}' seed {manifest['seed']} from {manifest['start']}, {manifest['days']} days",
          manifest["counts"], "table", "rows")
    table("Victims per scheme", manifest["schemes"], "scheme", "victims")
    table("Fraud transfers per typology", manifest["typology"], "label", "transfers")
    table("Fraud transfers per scheme", manifest["fraud_transfers_by_scheme"], "scheme", "transfers")
    table("Hop histogram (0 = victim's own transfer)", manifest["hop_histogram"], "hop", "transfers")
    table("Chain length (hop of the cash-out or exit)", manifest["chain_length_histogram"], "hops", "chains")
    table("Report delay after the last fraudulent payment", manifest["report_delay"]["buckets"], "delay",
          "incidents")
    table("Shares", {
        "fraud share of transfers": f"{manifest['fraud_share']:.4%}",
        "victims who reported": f"{manifest['victims_reported_share']:.1%}",
        "cash-out within 1 h of the victim's transfer": f"{manifest['cash_out_within_1h_share']:.1%}",
        "aged 65+": f"{manifest['elderly_share']:.1%}",
        "65+ living alone": f"{manifest['elderly_living_alone_share']:.1%}",
        "median report delay (min)": manifest["report_delay"]["median_minutes"],
        "max hops": manifest["max_hops"],
    })
    table("Drops and controlled accounts", manifest["drops"], "accounts", "count")
    t = Table(title="Groups")
    for col in ("group", "schemes", "victims", "drops", "pattern change"):
        t.add_column(col)
    for name, g in manifest["groups"].items():
        t.add_row(name, ", ".join(g["schemes"]), str(g["victims"]), str(g["drops"]), g["pattern_change_at"] or "")
    console.print(t)


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    del evaluate

    @app.command()
    def simulate(
        preset: str = typer.Option("small", help="tiny | small | large"),
        seed: int = typer.Option(1, help="Same seed and preset give byte-identical files."),
        out: Path = typer.Option(..., help="Output directory (created; must be empty unless --force)."),
        force: bool = typer.Option(False, "--force", help="Replace a non-empty output directory."),
        report: bool = typer.Option(False, "--report", help="Print the distributions as tables."),
        history_years: int = typer.Option(0, "--history-years", min=0, max=10,
                                          help="Also write this many years of reported incidents before the "
                                          "window (incidents_history.parquet), with the seed's yearly trend."),
    ) -> None:
        """Generate a synthetic country: people, banks, transfers, fraud groups, victims' reports."""
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from zaslon.simulate.world import generate

        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      transient=True, disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task("simulate", total=1.0)

            def progress(stage: str, frac: float) -> None:
                bar.update(task, completed=frac, description=stage)

            manifest = generate(preset, seed, out, force=force, progress=progress, history_years=history_years)
        if report:
            print_report(manifest)
        c = manifest["counts"]
        typer.echo(f"wrote {out}: {c['persons']} persons, {c['transfers']} transfers "
                   f"({c['fraud_transfers']} fraud), {c['incidents']} incidents, {c['calls']} calls")
        if "history" in manifest:
            h = manifest["history"]
            typer.echo(f"history: {h['incidents']} reported incidents over {h['years']} years before the window "
                       f"({h['from']} to {h['to']}; per year back: {h['incidents_per_year_back']})")

    @bench.command("simulate")
    def bench_simulate(
        json_path: Path = typer.Option(..., "--json", help="Where to write the measured figures."),
        preset: str = typer.Option("large"),
        seed: int = typer.Option(1),
    ) -> None:
        """Time the generator on one core (Arrow limited to one thread) and record peak memory."""
        import os
        import resource
        import shutil
        import tempfile
        import time

        import pyarrow as pa

        from zaslon.simulate.world import generate

        threads = (pa.cpu_count(), pa.io_thread_count())
        pa.set_cpu_count(1)  # one core: Arrow would otherwise spread compression over threads
        pa.set_io_thread_count(1)
        tmp = Path(tempfile.mkdtemp(prefix="zaslon-bench-sim-"))
        try:
            start = time.perf_counter()
            cpu0 = time.process_time()
            manifest = generate(preset, seed, tmp / "world")
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu0
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            pa.set_cpu_count(threads[0])
            pa.set_io_thread_count(threads[1])
        n = manifest["counts"]["transfers"]
        result = {
            "preset": preset, "seed": seed, "transfers": n, "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3), "transfers_per_s": round(n / seconds, 1),
            # On a shared machine wall time includes waiting for a core; CPU time shows the work itself.
            "transfers_per_cpu_s": round(n / max(cpu, 1e-9), 1),
            "load_avg_1m_after": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "target": {"transfers_per_s": 300_000, "peak_rss_mb": 4096},
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n")
        typer.echo(json.dumps(result))
