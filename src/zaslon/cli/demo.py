"""`zaslon demo`: a simulated country through the exchange, its money outcome beside two baselines, then the API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import typer

from zaslon.errors import InvalidInput

SCENARIOS = (("zaslon", "Zaslon"), ("list_only", "list-only"), ("no_exchange", "no exchange"))
# The simulated banks send each chunk of up to 30 minutes of transfers bank by bank: the exchange's ledger follower
# stays an hour behind the newest transfer, so it never takes one bank's batch before another's older one.
DEMO_LEDGER_LAG_S = 3600.0
DEMO_HISTORY_YEARS = 2


def _money(v: float) -> str:
    """Whole BYN; millions as 1.23M so a column never needs more than nine characters."""
    return f"{v / 1e6:.2f}M" if abs(v) >= 10_000_000 else f"{v:,.0f}"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.1f} ms" if v < 10 else f"{v / 60:.1f} min"


_SHORT = {"fake_director": "fake dir.", "investment": "invest.", "extortion": "extort.", "vishing": "vishing",
          "phishing": "phishing", "courier": "courier"}


def _print(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=80)
    table = Table(title="Money outcome (BYN)", show_lines=False)
    table.add_column("")
    for _, label in SCENARIOS:
        table.add_column(label, justify="right", no_wrap=True)
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
    for col in ("scheme", "stolen", "prevented", "frozen", "saved", "lost", "saved"):
        per.add_column(col, justify="left" if col == "scheme" else "right", no_wrap=True)
    for scheme, s in summary["by_scheme"].items():
        per.add_row(_SHORT.get(scheme, scheme[:9]),
                    *(_money(s[k]) for k in ("stolen", "prevented", "frozen", "saved", "lost")),
                    f"{s['saved_share']:.1%}")
    old = summary.get("elderly_alone")
    if old is not None:  # victims aged 65+ living alone, every scheme (courier cash included)
        per.add_row("65+ alone", *(_money(old[k]) for k in ("stolen", "prevented", "frozen", "saved", "lost")),
                    f"{old['saved_share']:.1%}")
    console.print(per)
    if old is not None:
        console.print(f"65+ living alone: vishing saved {old['vishing_saved_share']:.1%}, legit held "
                      f"{old['legit_hold_rate']:.3%} ({old['legit_held']} transfers)")
    courier = summary.get("courier")
    if courier is not None:
        console.print(f"courier pickups {courier['pickups']}, an alert to the district officer before "
                      f"{courier['alerted_before_pickup']} ({courier['alerted_before_pickup_share']:.0%}); "
                      f"at-door alerts {courier['alerts']}")
    run = summary["run"]
    console.print(f"transport: {summary['transport']}; transfers {run['transfers']:,}, incidents {run['incidents']}"
                  f" ({run['duplicates']} duplicates, {run['rejected']} rejected), orders {run['orders']},"
                  f" declined by banks (frozen money) {run['declined']}")
    z = summary["zaslon"]
    precision = "n/a" if z.get("order_precision") is None else f"{z['order_precision']:.1%}"
    console.print(f"orders on drops or fraudsters' accounts: {precision} of the ordered amount; cash withdrawals "
                  f"allowed after an order: {z.get('cashouts_allowed_after_order', 0)}")
    if "frozen_abroad" in z:
        p99 = z.get("partner_freeze_p99_s")
        console.print(f"partner {z['partner_country']}: {z['partner_requests']} freeze requests "
                      f"({z['partner_refused']} refused), frozen abroad {_money(z['frozen_abroad'])} BYN; report -> "
                      f"request accepted there p99 {'-' if p99 is None else f'{p99:.2f} s'}")
        if "partner_case_links" in z:
            groups = ", ".join(z["partner_groups_linked_both_sides"]) or "none"
            console.print(f"cases linked with {z['partner_country']}'s: {z['partner_case_links']} here, "
                          f"{z['partner_case_links_there']} there ({z['partner_case_links_wrong']} joining no "
                          f"common group); groups one case on both sides: {groups}")
    link, drops = summary["linking"], summary["drops"]
    console.print(f"cases: {link['cases']} (pairwise F1 {link['pairwise_f1']:.3f}); suspected drops published "
                  f"{drops['published']} (true drops among them {drops['true']})")
    console.print("no-exchange freeze time is the modelled bank delay; Zaslon's is the measured time of reporting "
                  "the incident.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _served(url: str, extra_env: dict[str, str] | None = None) -> Any:
    """``zaslon serve``'s app (``serve_app``) in its own process on a loopback port, until the block ends."""
    import httpx

    port = _free_port()
    env = {**os.environ, "ZASLON_DATABASE_URL": url, "ZASLON_LEDGER_LAG_S": str(DEMO_LEDGER_LAG_S),
           **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "zaslon.adapters.http.app:serve_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log",
         # A bank's client may sit idle for minutes while the others send: past uvicorn's default 5 s the server
         # closes the connection, and a request sent just then meets "server disconnected".
         "--timeout-keep-alive", "600"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise InvalidInput(f"the API server exited at start-up ({proc.returncode})", field="via-http")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise InvalidInput("the API server did not start within 120 s", field="via-http")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def demo(
    world: Path = typer.Option(None, help="world directory (default: data/worlds/<preset>-<seed>)"),
    preset: str = typer.Option("small", help="simulator preset to generate if the world is missing"),
    seed: int = typer.Option(42, help="world seed (generation) and demo seed (bank delays)"),
    db: str = typer.Option(None, help="an empty database's URL (default: a fresh SQLite file beside the world)"),
    via_http: bool = typer.Option(False, "--via-http", help="the simulated banks talk to `zaslon serve` over "
                                  "HTTP on loopback, each with its own API key (default: in-process calls)"),
    no_serve: bool = typer.Option(False, "--no-serve", help="exit after printing the outcome"),
    summary_json: Path = typer.Option(None, "--summary-json", help="write the outcome figures here"),
    partners: str = typer.Option(None, "--partners", help="a partner country (ISO code, e.g. ru) run as a second "
                                 "exchange on loopback: money traced to its banks is frozen there on request"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
) -> None:
    """Run a simulated world through the exchange and show the money outcome against the baselines."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from sqlalchemy import text

    from zaslon.adapters.db.engine import make_engine, upgrade
    from zaslon.lab.demo import DemoConfig, run_demo
    from zaslon.lab.outcome import score_run
    from zaslon.lab.parties import Parties
    from zaslon.lab.transport import InProcess, OverHttp
    from zaslon.settings import Settings
    from zaslon.simulate.load import ensure_world, load_world

    countries = [c.strip().upper() for c in (partners or "").split(",") if c.strip()]
    if len(countries) > 1:
        raise InvalidInput("one partner country at a time", field="partners")
    # A world the demo generates has two years of reported incidents before it: the desk's statistics then show
    # year-over-year change (labelled simulated history).
    path = ensure_world(world or Path("data/worlds") / f"{preset}-{seed}", preset=preset, seed=seed,
                        history_years=DEMO_HISTORY_YEARS)
    w = load_world(path)
    if countries and countries[0] not in set(w.banks["country"].to_list()) - {"BY"}:
        raise InvalidInput(f"the world has no banks in {countries[0]!r} to be a partner country "
                           f"(it has {sorted(set(w.banks['country'].to_list()) - {'BY'})})", field="partners")
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
        raise InvalidInput("the demo needs an empty database (this one already holds freeze orders)", field="db")
    parties = Parties.create(engine, w)
    settings = Settings(database_url=url, host=host, port=port, ledger_lag_s=DEMO_LEDGER_LAG_S)
    exchange = None
    stack = ExitStack()
    partner = None
    if countries:
        from zaslon.lab.partners import partner_country

        partner = stack.enter_context(partner_country(countries[0], w.banks, engine, settings, path, seed))
    with stack, Progress(TextColumn("[bold]demo"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("transfers", total=len(w.transfers))

        def go(transport: Any) -> Any:
            return run_demo(w, transport, banks=parties.banks, desk=parties.desk, telecom_of=parties.telecoms,
                            cfg=DemoConfig(seed=seed), progress=lambda n: bar.advance(task, n), partner=partner)

        if via_http:
            # With a partner, the served exchange syncs every second: the answers abroad come back in the run.
            with _served(url, {"ZASLON_PARTNER_SYNC_INTERVAL_S": "1"} if partner else None) as base:
                client = OverHttp(base, parties.keys, parties.desk)
                try:
                    run = go(client)
                finally:
                    client.close()
        else:
            from zaslon.flow.exchange import Exchange

            exchange = Exchange(engine, settings, follow_ledger=True)
            exchange.restore()
            if partner is not None:
                exchange.start_partner_sync()
            run = go(InProcess(exchange, parties.principals, parties.desk))
    summary = score_run(run, path)
    _print(summary)
    if summary_json is not None:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(json.dumps(summary, indent=2, sort_keys=True))
    if no_serve:
        if exchange is not None:
            exchange.close()
        return
    _serve(exchange, settings, parties, host, port)


def _serve(exchange: Any, settings: Any, parties: Any, host: str, port: int) -> None:
    import uvicorn

    from zaslon.adapters.http.app import create_app

    # After an HTTP run the server process is gone: a new Exchange restores what it learnt from the store.
    app = create_app(settings, exchange=exchange, freeze_heap=True, housekeeping=True)
    typer.echo(f"police desk key: {parties.keys[parties.desk]}")
    from zaslon.adapters.http.state import app_state
    from zaslon.flow.desk import Desk

    # The duty analyst's desk login, made for this run (the demo's database is fresh each time).
    _analyst, password = Desk(app_state(app).db).create_user(org_id=parties.desk, role="analyst", login="duty")
    typer.echo(f"desk: http://{host}:{port}/  sign in as duty / {password}")
    busiest = parties.busiest_bank()
    if busiest is not None:
        typer.echo(f"bank {busiest} key: {parties.keys[busiest]}  (curl -H 'Authorization: Bearer <key>' "
                   f"http://{host}:{port}/v1/orders)")
    typer.echo(f"serving http://{host}:{port} until Ctrl-C", err=sys.stderr.isatty())
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    app.command("demo")(demo)
