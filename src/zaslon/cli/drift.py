"""CLI: `zaslon eval drift` (per-week precision/recall and recovery after a scheme change, trigger on and off)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from zaslon.cli.output import check_eval_target, write_json_atomic
from zaslon.errors import InvalidInput


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
        check_eval_target(preset, world, json_path)
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
