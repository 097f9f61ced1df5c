"""``zaslon bench feature-state``: snapshot size and restore time of the durable feature state."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    del app, evaluate

    @bench.command("feature-state")
    def bench_feature_state(
        world: Path = typer.Option(..., help="a simulated world directory (read only)"),
        db: Path = typer.Option(Path("/tmp/zaslon-state-bench.db"), help="SQLite file to create (replaced)"),
        limit: int | None = typer.Option(None, min=1, help="only the first N transfers"),
        tail: int = typer.Option(50_000, min=0, help="transfers scored after the snapshot (replayed at restore)"),
        json_path: Path | None = typer.Option(None, "--json", help="write the figures here"),
    ) -> None:
        """Score a world through the Exchange, snapshot, stop as if killed, restore; print the figures."""
        from zaslon.lab.state_bench import run

        out = run(world, db, limit=limit, tail=tail)
        text = json.dumps(out, indent=2)
        if json_path is not None:
            json_path.write_text(text + "\n")
        print(text)
