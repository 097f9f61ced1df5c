"""`zaslon demo`: the small world through the exchange, its money outcome beside two baselines, then the API."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

SCENARIOS = (("zaslon", "Zaslon"), ("list_only", "list-only"), ("no_exchange", "no exchange"))


def _money(v: float) -> str:
    return f"{v:,.0f}"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.1f} ms" if v < 10 else f"{v / 60:.1f} min"


def _print(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Money outcome (BYN)", show_lines=False)
    table.add_column("")
    for _, label in SCENARIOS:
        table.add_column(label, justify="right")
    for key, label in (("stolen", "stolen"), ("prevented", "prevented"), ("frozen", "frozen"),
                       ("saved", "saved"), ("lost", "lost")):
        table.add_row(label, *(_money(summary[k][key]) for k, _ in SCENARIOS))
    table.add_row("saved share", *(f"{summary[k]['saved_share']:.1%}" for k, _ in SCENARIOS))
    table.add_row("legit held (friction)", *(f"{summary[k]['legit_hold_rate']:.3%}" for k, _ in SCENARIOS))
    table.add_row("legit amount delayed", *(_money(summary[k]["legit_held_amount"]) for k, _ in SCENARIOS))
    table.add_row("report -> orders p50", *(_ms(summary[k]["time_to_freeze_p50_s"]) for k, _ in SCENARIOS))
    table.add_row("report -> orders p99", *(_ms(summary[k]["time_to_freeze_p99_s"]) for k, _ in SCENARIOS))
    console.print(table)
    per = Table(title="Zaslon by scheme (BYN)")
    for col in ("scheme", "stolen", "prevented", "frozen", "saved", "lost", "saved share"):
        per.add_column(col, justify="left" if col == "scheme" else "right")
    for scheme, s in summary["by_scheme"].items():
        per.add_row(scheme, *(_money(s[k]) for k in ("stolen", "prevented", "frozen", "saved", "lost")),
                    f"{s['saved_share']:.1%}")
    console.print(per)
    console.print(f"run: {summary['run']}")
    console.print("no-exchange freeze time is the modelled bank delay; Zaslon's is measured processing time.")


def demo(
    world: Path = typer.Option(None, help="world directory (default: data/worlds/<preset>-<seed>)"),
    preset: str = typer.Option("small", help="simulator preset to generate if the world is missing"),
    seed: int = typer.Option(42, help="world seed (generation) and demo seed (bank delays)"),
    db: str = typer.Option(None, help="an empty database's URL (default: a fresh SQLite file beside the world)"),
    no_serve: bool = typer.Option(False, "--no-serve", help="exit after printing the outcome"),
    summary_json: Path = typer.Option(None, "--summary-json", help="write the outcome figures here"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
) -> None:
    """Run a simulated world through the exchange and show the money outcome against the baselines."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from sqlalchemy import text

    from zaslon.adapters.db.engine import make_engine, upgrade
    from zaslon.errors import ZaslonError
    from zaslon.flow.scoring import ScoringEngine
    from zaslon.lab.demo import DemoConfig, run_demo
    from zaslon.lab.outcome import score_run
    from zaslon.simulate.load import ensure_world, load_world, profiles

    try:
        path = ensure_world(world or Path("data/worlds") / f"{preset}-{seed}", preset=preset, seed=seed)
        w = load_world(path)
    except ZaslonError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    url = db
    if url is None:
        file = path / "demo.db"
        for extra in ("", "-wal", "-shm"):
            Path(f"{file}{extra}").unlink(missing_ok=True)
        url = f"sqlite:///{file}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        used = conn.execute(text("SELECT count(*) FROM freeze_orders")).scalar_one()
    if used:
        typer.echo("error: the demo needs an empty database (this one already holds freeze orders)", err=True)
        raise typer.Exit(2)
    prof = profiles(w)
    with Progress(TextColumn("[bold]demo"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("transfers", total=len(w.transfers))
        run = run_demo(
            w, engine, engine_factory=lambda k: ScoringEngine(k, profiles=prof),  # type: ignore[arg-type]
            cfg=DemoConfig(seed=seed), progress=lambda n: bar.advance(task, n),
        )
    summary = score_run(run, path)
    _print(summary)
    if summary_json is not None:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(json.dumps(summary, indent=2, sort_keys=True))
    if no_serve:
        return
    _serve(engine, url, run.knowledge, host, port)


def _serve(engine: Any, url: str, knowledge: Any, host: str, port: int) -> None:
    import uvicorn
    from sqlalchemy import text

    from zaslon.adapters.http.app import create_app
    from zaslon.core.access import DEFAULT_SCOPES, OrgKind
    from zaslon.errors import Conflict
    from zaslon.flow.orgs import create_key, create_org
    from zaslon.settings import Settings

    try:
        police_key = create_org(engine, name="Cyber unit 24/7 desk (demo)", kind="police").api_key
    except Conflict:  # a reused demo database: give the existing desk a fresh key
        police_key = create_key(engine, "police-cyber-unit-24-7-desk-demo", DEFAULT_SCOPES[OrgKind.POLICE]).api_key

    with engine.connect() as conn:
        bank = conn.execute(text(
            "SELECT o.org_id, count(*) AS n FROM freeze_orders f JOIN orgs o ON o.bank_id = f.bank_id "
            "GROUP BY o.org_id ORDER BY n DESC LIMIT 1")).first()
    app = create_app(Settings(database_url=url, host=host, port=port), db=engine)
    app.state.knowledge = knowledge
    typer.echo(f"police desk key: {police_key}")
    if bank is not None:
        key = create_key(engine, bank.org_id, DEFAULT_SCOPES[OrgKind.BANK])
        typer.echo(f"bank {bank.org_id} key: {key.api_key}  (curl -H 'Authorization: Bearer <key>' "
                   f"http://{host}:{port}/v1/orders)")
    typer.echo(f"serving http://{host}:{port} until Ctrl-C", err=sys.stderr.isatty())
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    app.command("demo")(demo)
