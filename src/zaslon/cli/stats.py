"""``zaslon bench stats``: how fast the ministry's statistics answer on a real database."""

from __future__ import annotations

import json
from pathlib import Path

import typer

DEFAULT_WORLD = Path("data/worlds/small-42")


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    del app, evaluate

    @bench.command("stats")
    def bench_stats(
        json_path: Path = typer.Option(None, "--json", help="write the figures here"),
        world: Path = typer.Option(DEFAULT_WORLD, help="the world whose simulated history is imported if the "
                                   "database holds none (written from the world's files if missing)"),
        db: str = typer.Option(None, help="the database's URL (default: the world's demo.db, as `zaslon demo` "
                               "leaves it)"),
        requests: int = typer.Option(30, min=5, max=10_000, help="requests per period"),
    ) -> None:
        """Time GET /v1/stats (p50, p95) over several periods, regions and districts, in-process."""
        from zaslon.errors import InvalidInput
        from zaslon.lab.stats_bench import run_stats_bench
        from zaslon.settings import Settings

        if db is None:
            file = world / "demo.db"
            if not file.is_file():
                raise InvalidInput(f"no {file}: run `zaslon demo --no-serve` first, or name --db", field="db")
            db = f"sqlite:///{file}"
        out = run_stats_bench(Settings(database_url=db), world=world, requests=requests)
        for name, fig in out["periods"].items():
            print(f"{name:<15} {fig['incidents']:>7} incidents   p50 {fig['p50_ms']:7.1f} ms   "
                  f"p95 {fig['p95_ms']:7.1f} ms")
        print(f"all periods: p50 {out['p50_ms']:.1f} ms, p95 {out['p95_ms']:.1f} ms (target p95 <= 300 ms); "
              f"{out['incidents']} incidents ({out['incidents_simulated_history']} simulated history)")
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
