"""CLI for scoring: `zaslon replay`, `zaslon eval scoring`, `zaslon bench scoring` (the model: ``cli.model``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from zaslon.cli.output import check_eval_target, write_json_atomic
from zaslon.errors import InvalidInput


@contextmanager
def _bar(total: int, label: str) -> Iterator[Callable[[int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True,
        console=None,
    ) as p:
        task = p.add_task(label, total=total)
        yield lambda k: p.advance(task, k)


def _world_for(preset: str, seed: int, world: Path | None) -> Path:
    """An existing world directory, or one generated (once) under data/worlds."""
    if world is not None:
        if not (world / "transfers.parquet").exists():
            raise InvalidInput(f"{world} holds no transfers.parquet (not a simulated world)", field="world")
        return world
    target = Path("data") / "worlds" / f"{preset}-{seed}"  # data/ is git-ignored
    if not (target / "manifest.json").exists():
        from zaslon.simulate.world import generate

        print(f"generating the {preset} world (seed {seed}) into {target} ...", file=sys.stderr)
        generate(preset, seed, target, force=True)
    return target


def _write_json(path: Path | None, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, sort_keys=True)
    if path is not None:
        write_json_atomic(path, text)
    print(text)


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    @app.command()
    def replay(
        transfers: Path = typer.Option(..., help="Parquet or CSV: transfer_id, ts, payer, payee, amount + currency "
                                                 "(decimal major units) or amount_minor [, channel, device, ...]"),
        incidents: Path = typer.Option(..., help="Parquet or CSV: transfer_id, reported_at"),
        out: Path = typer.Option(..., help="Parquet to write: transfer_id, score, decision (+ model_version)"),
        column_map: list[str] = typer.Option([], "--map", help="NEW=OLD: rename the bank's column OLD to NEW "
                                                               "(repeatable), e.g. --map payer=customer_id"),
        retrain_days: float = typer.Option(7.0, min=0.25, help="retrain on reports known so far every N days"),
        home_country: str = typer.Option("BY", help="country whose payees are not cross-border"),
        drift_retrain: bool = typer.Option(True, "--drift-retrain/--no-drift-retrain",
                                           help="also retrain early when the drift rule fires (docs/models.md)"),
    ) -> None:
        """Score a bank's own history in event-time order, learning only from reports already made."""
        from zaslon.flow.bank_export import apply_map, bank_incidents, bank_transfers, parse_map, read_table
        from zaslon.flow.replay import DEFAULT_DRIFT, friction_summary, write_atomic
        from zaslon.flow.replay import replay as run_replay

        mapping = parse_map(column_map)
        frames = apply_map({"transfers": read_table(transfers, "transfers"),
                            "incidents": read_table(incidents, "incidents")}, mapping)
        t, profiles = bank_transfers(frames["transfers"])
        i = bank_incidents(frames["incidents"])
        with _bar(len(t), "replay") as advance:
            res = run_replay(t, i, retrain_days=retrain_days, progress=advance, home_country=home_country,
                             profiles=profiles, drift=DEFAULT_DRIFT if drift_retrain else None)
        write_atomic(res.out, out)
        counts = res.out["decision"].value_counts().sort("decision").rows()
        held = int(res.out["decision"].is_in(["hold", "block"]).sum())
        print(json.dumps({"transfers": len(res.out), "models": [m["model_id"] for m in res.models],
                          "model_triggers": [m["trigger"] for m in res.models],
                          "decisions": dict(counts), "hold_rate": held / len(res.out) if len(res.out) else 0.0,
                          "friction": friction_summary(res), "out": str(out)}))

    @evaluate.command("replay")
    def eval_replay(
        preset: str = typer.Option("small", help="simulator preset of the world to export"),
        seed: int = typer.Option(1, min=0, help="world seed, and the seed of the random ids"),
        world: Path | None = typer.Option(None, help="use this world directory instead of generating one"),
        json_path: Path | None = typer.Option(None, "--json", help="write the figures here"),
        eval_days: float = typer.Option(7.0, min=1.0, help="length of the measured last period"),
    ) -> None:
        """Export a world as a foreign bank would (random ids, no opening dates, no device, decimal EUR, CSV),
        run `zaslon replay`'s code on it, then measure the last week against truth."""
        import polars as pl

        from zaslon.lab.foreign_replay import evaluate_foreign_replay

        check_eval_target(preset, world, json_path)
        w = _world_for(preset, seed, world)
        n = pl.scan_parquet(w / "transfers.parquet").select(pl.len()).collect().item()
        with _bar(int(n), "replay") as advance:
            out = evaluate_foreign_replay(w, seed=seed, eval_days=eval_days, progress=advance)
        out["preset"] = preset if world is None else None
        _write_json(json_path, out)

    @evaluate.command("scoring")
    def eval_scoring(
        preset: str = typer.Option("small", help="simulator preset of the world to evaluate on"),
        seed: int = typer.Option(1, min=0),
        world: Path | None = typer.Option(None, help="use this world directory instead of generating one"),
        json_path: Path | None = typer.Option(None, "--json", help="write the figures here"),
        eval_days: float = typer.Option(7.0, min=1.0, help="length of the scored last period"),
        model_dir: Path | None = typer.Option(None, help="also store the trained model here"),
    ) -> None:
        """Train on reports made before the last week, score the last week, then measure against truth."""
        import polars as pl

        from zaslon.lab.scoring_eval import evaluate_world

        check_eval_target(preset, world, json_path)
        w = _world_for(preset, seed, world)
        n = pl.scan_parquet(w / "transfers.parquet").select(pl.len()).collect().item()
        with _bar(int(n), "features") as advance:
            out = evaluate_world(w, eval_days=eval_days, model_dir=model_dir, progress=advance)
        out["preset"], out["seed"] = (preset if world is None else None), seed
        _write_json(json_path, out)

    @bench.command("scoring")
    def bench_scoring(
        json_path: Path | None = typer.Option(None, "--json", help="write the figures here"),
        preset: str = typer.Option("small", help="world the transfers come from"),
        seed: int = typer.Option(1, min=0),
        world: Path | None = typer.Option(None, help="use this world directory"),
        transfers: int = typer.Option(300_000, min=1000, help="transfers scored in-process"),
        http: bool = typer.Option(True, help="also start the API and load it over loopback"),
        http_rps: int = typer.Option(1000, min=1, help="offered HTTP load, requests per second"),
        http_seconds: float = typer.Option(10.0, min=1.0, max=120.0, help="length of the HTTP load"),
    ) -> None:
        """In-process and HTTP scoring speed, JSON parse speed, and feature-state size per account."""
        from zaslon.lab.scoring_bench import run_bench

        w = _world_for(preset, seed, world)
        out = run_bench(w, transfers=transfers, http=http, http_rps=http_rps, http_seconds=http_seconds)
        out["world"] = str(w)
        _write_json(json_path, out)
