"""The one ``zaslon`` command. Domain commands live in ``zaslon.cli.*`` and register here."""

from __future__ import annotations

import importlib

import typer

from zaslon.cli.errors import ZaslonGroup

# ZaslonGroup maps the errors any command raises to exit codes (zaslon.cli.errors), once for all of them.
app = typer.Typer(cls=ZaslonGroup, no_args_is_help=True, add_completion=False,
                  help="Zaslon, the national anti-fraud exchange.")
bench = typer.Typer(no_args_is_help=True, help="Benchmarks: each writes its measured figures as JSON.")
evaluate = typer.Typer(no_args_is_help=True, help="Quality against ground truth (never fed to the engine).")
app.add_typer(bench, name="bench")
app.add_typer(evaluate, name="eval")

# Each module adds its commands; a module that is not there yet is simply skipped.
_COMMAND_MODULES = ("core_cmds", "simulate", "scoring", "rules", "incidents", "trace", "demo", "linking", "audit",
                    "model", "state", "users", "sharing", "cluster", "stats", "drift")

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"zaslon.cli.{_name}")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a domain is not written yet
        if exc.name != f"zaslon.cli.{_name}":
            raise
        continue
    _module.register(app, bench, evaluate)


def main() -> None:
    app()
