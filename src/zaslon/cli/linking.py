"""Linking commands: `eval linking`, `eval amlsim`, `bench link`, `cases export`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from zaslon.errors import InvalidInput


def _write(result: dict[str, Any], json_path: Path | None) -> None:
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text + "\n", encoding="utf-8")
    print(text)


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    cases = typer.Typer(no_args_is_help=True, help="Cases: linked incidents and their group reports.")
    app.add_typer(cases, name="cases")

    @evaluate.command("amlsim")
    def eval_amlsim(
        path: Path = typer.Argument(..., help="AMLSim archive (.tgz) with nodes.csv and transactions.csv"),
        known_share: float = typer.Option(
            0.0, "--known-share", help="share in [0, 1) of the labelled accounts revealed as reported first"),
        seed: int = typer.Option(1, help="seed drawing the revealed accounts"),
        json_path: Path = typer.Option(None, "--json", help="write the figures here as JSON"),
    ) -> None:
        """Rank AMLSim accounts by drop likelihood from the transfers (and the revealed reports); score the
        accounts not revealed with isFraud afterwards."""
        from zaslon.lab.mule_eval import check_known_share
        from zaslon.lab.mule_eval import eval_amlsim as run

        check_known_share(known_share)
        if not path.is_file():
            raise InvalidInput(f"no such file: {path}", field="path")
        _write(run(path, known_share, seed), json_path)

    @evaluate.command("linking")
    def eval_linking(
        preset: str = typer.Option("small", help="simulator preset to generate (tiny, small, large)"),
        seed: int = typer.Option(1, help="simulator seed"),
        world: Path = typer.Option(None, help="use this already simulated world instead of generating one"),
        json_path: Path = typer.Option(None, "--json", help="write the figures here as JSON"),
    ) -> None:
        """Link a simulated world's incidents into cases and rank its drops; score against ground truth."""
        import shutil

        from zaslon.lab.linking_eval import eval_world, simulate_world

        directory = world
        try:
            if directory is None:
                directory = simulate_world(preset, seed)
            if not (directory / "incidents.parquet").is_file():
                raise InvalidInput(f"{directory} holds no incidents.parquet", field="world")
            result = eval_world(directory)
        finally:
            if world is None and directory is not None:
                shutil.rmtree(directory, ignore_errors=True)  # the world we simulated for this run
        result["preset"] = preset if world is None else str(world)
        _write(result, json_path)

    @bench.command("link")
    def bench_link(
        incidents: int = typer.Option(1_000_000, min=1, help="how many synthetic incidents to link"),
        seed: int = typer.Option(7, help="generator seed"),
        json_path: Path = typer.Option(None, "--json", help="write the figures here as JSON"),
    ) -> None:
        """Incremental linking speed on synthetic incidents with realistic indicator overlap."""
        from zaslon.lab.linking_bench import run_bench

        _write(run_bench(incidents, seed), json_path)

    @cases.command("export")
    def cases_export(
        case: str = typer.Option(..., "--case", help="case id"),
        fmt: str = typer.Option("json", "--format", help="json or csv"),
        out: Path = typer.Option(None, help="write here instead of stdout"),
    ) -> None:
        """Export one case's organised-group report (victims, money, drops, infrastructure, cash-out)."""
        from zaslon.adapters.db.engine import make_engine
        from zaslon.flow.groups import export_case
        from zaslon.settings import Settings

        if fmt not in ("json", "csv"):
            raise InvalidInput(f"--format must be json or csv, not {fmt!r}", field="format")
        text = export_case(make_engine(Settings().database_url), case, fmt)
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text, encoding="utf-8")
