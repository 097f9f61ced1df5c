"""CLI: `zaslon eval drift` (per-week precision/recall and recovery after a scheme change, trigger on and off)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from zaslon.errors import InvalidInput


def check_json_target(path: Path) -> None:
    """Refuse, before any work, a ``--json`` path that cannot be written: a directory, a file standing where a
    directory should be, or a directory we may not write in."""
    if path.is_dir():
        raise InvalidInput(f"--json {path} is a directory; give a file name", field="json")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InvalidInput(f"--json {path}: {parent} is a file, not a directory", field="json")
    if not os.access(parent, os.W_OK):
        raise InvalidInput(f"--json {path}: cannot write in {parent}", field="json")


def write_json_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text + "\n")
    tmp.replace(path)  # a reader never sees half the figures


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    @evaluate.command("drift")
    def eval_drift(
        preset: str = typer.Option("small", help="simulator preset of the world to evaluate on"),
        seed: int = typer.Option(1, min=0),
        world: Path | None = typer.Option(None, help="use this world directory instead of generating one"),
        json_path: Path | None = typer.Option(None, "--json", help="write the figures here"),
        retrain_days: float = typer.Option(7.0, min=0.25, help="the fixed retrain schedule, in days"),
        window_days: int = typer.Option(3, min=1, help="trailing window of the daily recall after the change"),
        tolerance: float = typer.Option(0.1, min=0.0, max=1.0,
                                        help="recovered when the trailing recall is this close to the pre-change one"),
        missed_share: float = typer.Option(0.5, min=0.0, max=1.0,
                                           help="drift rule: retrain when more of the recent reports were allowed"),
        max_psi: float = typer.Option(0.25, min=0.0, help="drift rule: retrain when the score PSI exceeds this",
                                      show_default=True),
    ) -> None:
        """Replay a simulated world with and without the drift trigger; per-week precision/recall, recovery days."""
        from zaslon.cli.scoring import _bar, _world_for
        from zaslon.flow.drift import DriftRule
        from zaslon.lab.drift_eval import evaluate_drift
        from zaslon.simulate.presets import get_preset

        if world is None:
            get_preset(preset)  # an unknown preset is refused before anything is generated
        if json_path is not None:
            check_json_target(json_path)
        if max_psi <= 0:
            raise InvalidInput("--max-psi must be positive", field="max_psi")
        rule = DriftRule(max_missed_share=missed_share, max_psi=max_psi)
        w = _world_for(preset, seed, world)
        import polars as pl

        n = pl.scan_parquet(w / "transfers.parquet").select(pl.len()).collect().item()
        with _bar(int(n), "features") as advance:
            out = evaluate_drift(w, rule=rule, retrain_days=retrain_days, window_days=window_days,
                                 tolerance=tolerance, progress=advance)
        out["preset"], out["seed"] = (preset if world is None else None), seed
        text = json.dumps(out, indent=2, sort_keys=True)
        if json_path is not None:
            write_json_atomic(json_path, text)
        print(text)
