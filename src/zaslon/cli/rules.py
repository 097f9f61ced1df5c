"""``zaslon rules ...``: draft, validate, publish, activate, shadow and backtest rule sets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from zaslon.errors import InvalidInput

ACTOR = "cli"


def _db(url: str | None) -> Any:
    from zaslon.adapters.db.engine import make_engine
    from zaslon.settings import Settings

    return make_engine(url or Settings().database_url)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    from zaslon.cli.audit import record_cli

    rules = typer.Typer(no_args_is_help=True, help="Rule sets: drafts, versions, live and shadow, backtests.")
    app.add_typer(rules, name="rules")
    db_opt = typer.Option(None, "--db", help="database URL (default ZASLON_DATABASE_URL)")

    @rules.command("list")
    def list_cmd(db: str = db_opt, as_json: bool = typer.Option(False, "--json")) -> None:
        """Every version, with its status and whether it is live or in shadow."""
        from zaslon.flow.rules import list_versions

        infos = list_versions(_db(db))
        if as_json:
            _print_json([i.to_dict(with_rules=False) for i in infos])
            return
        from rich.console import Console
        from rich.table import Table

        table = Table("version", "status", "rules", "live", "shadow", "created", "by", "description")
        for i in infos:
            table.add_row(
                i.version, i.status, str(len(i.rules)), "LIVE" if i.live else "", "shadow" if i.shadow else "",
                i.created_at.strftime("%Y-%m-%d %H:%M"), i.created_by, i.description[:50],
            )
        Console().print(table)

    @rules.command("show")
    def show_cmd(version: str, db: str = db_opt) -> None:
        """A version with all its rules, as JSON (the format `draft` reads)."""
        from zaslon.flow.rules import get_version

        _print_json(get_version(_db(db), version).to_dict())

    @rules.command("validate")
    def validate_cmd(file: Path = typer.Argument(..., help="a rules JSON file")) -> None:
        """Check that every rule parses and names known features (no database needed)."""
        from zaslon.flow.rules import compile_rules, load_rules_file

        version, _desc, raw = load_rules_file(file)
        rs = compile_rules(version or file.stem, raw)
        print(f"ok: {len(rs.rules)} rules, reading {len(rs.features)} features: {', '.join(sorted(rs.features))}")

    @rules.command("draft")
    def draft_cmd(
        file: Path = typer.Argument(..., help="a rules JSON file: {version?, description?, rules: [...]}"),
        version: str = typer.Option(None, help="version name (default: the file's, else v<N>)"),
        description: str = typer.Option(None, help="what changed and why"),
        parent: str = typer.Option(None, "--from", help="the version this draft changes"),
        update: bool = typer.Option(False, "--update", help="replace the rules of an existing draft"),
        db: str = db_opt,
    ) -> None:
        """Store a draft version from a file (validated first; nothing is stored if any rule is bad)."""
        from zaslon.flow.rules import create_draft, load_rules_file, update_draft

        file_version, file_desc, raw = load_rules_file(file)
        name = version or file_version
        engine = _db(db)
        if update:
            if not name:
                raise InvalidInput("--update needs --version (or a version in the file)")
            info = update_draft(engine, name, raw, actor=ACTOR, description=description)
        else:
            info = create_draft(
                engine, raw, actor=ACTOR, version=name, description=description or file_desc,
                parent_version=parent,
            )
        record_cli(db, "cli rules draft", f"version={info.version}",
                   {"rules": len(info.rules), "sha256": info.content_hash, "update": update})
        print(f"draft {info.version}: {len(info.rules)} rules (sha256 {info.content_hash[:12]})")

    @rules.command("publish")
    def publish_cmd(version: str, db: str = db_opt) -> None:
        """Freeze a draft: a published version never changes."""
        from zaslon.flow.rules import publish

        info = publish(_db(db), version, actor=ACTOR)
        record_cli(db, "cli rules publish", f"version={version}", {})
        print(f"published {info.version} at {info.published_at}")

    @rules.command("activate")
    def activate_cmd(version: str, db: str = db_opt) -> None:
        """Make a published version live; running engines switch at their next poll (no restart)."""
        from zaslon.flow.rules import activate

        dep = activate(_db(db), version, actor=ACTOR)
        record_cli(db, "cli rules activate", f"version={version}", {"generation": dep.generation})
        print(f"live: {dep.live} (generation {dep.generation}); shadow: {dep.shadow or '-'}")

    @rules.command("shadow")
    def shadow_cmd(
        version: str = typer.Argument(None, help="published version to evaluate beside the live one"),
        off: bool = typer.Option(False, "--off", help="stop shadowing"),
        db: str = db_opt,
    ) -> None:
        """Evaluate a version in shadow: its hits are recorded with each decision but never decide."""
        from zaslon.flow.rules import set_shadow

        if (version is None) == (not off):
            raise InvalidInput("give a VERSION, or --off")
        dep = set_shadow(_db(db), None if off else version, actor=ACTOR)
        record_cli(db, "cli rules shadow", f"version={version}" if version else None, {"off": off})
        print(f"live: {dep.live or '-'}; shadow: {dep.shadow or '-'} (generation {dep.generation})")

    @rules.command("init")
    def init_cmd(db: str = db_opt) -> None:
        """Publish and activate the packaged default rule set if nothing is live yet."""
        from zaslon.flow.rules import ensure_default

        dep = ensure_default(_db(db), actor=ACTOR)
        record_cli(db, "cli rules init", None, {"live": dep.live})
        print(f"live: {dep.live}; shadow: {dep.shadow or '-'}")

    @rules.command("backtest")
    def backtest_cmd(
        version: str = typer.Argument(None, help="stored version to test (default: --file, else the live one)"),
        file: Path = typer.Option(None, "--file", help="test a rules JSON file instead of a stored version"),
        default: bool = typer.Option(False, "--default", help="test the packaged default rule set"),
        world: Path = typer.Option(None, "--world", help="a simulated world directory"),
        use_db: bool = typer.Option(False, "--from-db", help="also (or only) the transfers stored in the DB"),
        truth: bool = typer.Option(False, "--truth", help="judge against simulator ground truth (worlds only)"),
        days: float = typer.Option(None, min=0.0, help="report only the last N days (features use all)"),
        out: Path = typer.Option(None, "--json", help="also write the report as JSON here"),
        db: str = db_opt,
    ) -> None:
        """Run a rule set over past transfers in event-time order: hits, precision, recall, money, friction."""
        if world is None and not use_db:
            raise InvalidInput("give --world DIR and/or --from-db")
        if truth and world is None:
            raise InvalidInput("--truth needs --world (ground truth exists only for simulated worlds)")
        if sum(x is not None and x is not False for x in (version, file, default)) > 1:
            raise InvalidInput("give one of VERSION, --file, --default")
        rs = _ruleset(version, file, default, db)
        history = _history(world, use_db, truth, db)
        since = None
        if days is not None:
            last = history.transfers["ts"].max()
            assert isinstance(last, datetime)
            since = last.astimezone(UTC) - timedelta(days=days)
        report = _backtest(rs, history, since)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        _print_report(report)


def _ruleset(version: str | None, file: Path | None, default: bool, db: str | None) -> Any:
    from zaslon.flow import rules as pr

    if default:
        return pr.default_ruleset()
    if file is not None:
        v, _d, raw = pr.load_rules_file(file)
        return pr.compile_rules(v or file.stem, raw)
    engine = _db(db)
    if version is None:
        version = pr.deployment(engine).live
        if version is None:
            raise InvalidInput("no live rule set: give VERSION, --file or --default", field="version")
    return pr.load_ruleset(engine, version)


def _history(world: Path | None, use_db: bool, truth: bool, db: str | None) -> Any:
    from zaslon.flow.backtest import history_from_db, history_from_world, merge

    hist = history_from_world(world, truth=truth) if world is not None else None
    if use_db:
        from_db = history_from_db(_db(db))
        hist = from_db if hist is None else merge(hist, from_db)
    return hist


def _backtest(rs: Any, history: Any, since: datetime | None) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from zaslon.flow.backtest import backtest

    n = len(history.transfers)
    with Progress(
        TextColumn("features"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("features", total=n)
        return backtest(rs, history, since=since, progress=lambda k: bar.advance(task, k))


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _print_report(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(
        f"rule set [bold]{r['ruleset_version']}[/] on {r['source']}: {r['transfers']} transfers, "
        f"{r['positives']} positives (judged against {r['judged_against']})"
    )
    con.print(
        f"flagged {r['flagged']} (precision {_fmt(r['precision_flagged'])}, recall {_fmt(r['recall_flagged'])}); "
        f"held/blocked {r['held']} (precision {_fmt(r['precision_held'])}, recall {_fmt(r['recall_held'])})"
    )
    con.print(f"money saved (held/blocked fraud): {r['money_saved']} of {r['fraud_money']}")
    f = r["friction"]
    con.print(
        f"friction: {f['legit_held']} legit transfers held/blocked ({_fmt(f['legit_held_share'])} of legit), "
        f"{f['legit_reviewed']} reviewed; legit amount delayed {f['legit_amount_delayed']}"
    )
    table = Table("rule", "action", "hits", "true pos.", "precision", "recall", "legit hits")
    for row in r["rules"]:
        table.add_row(
            row["rule_id"], row["action"], str(row["hits"]), str(row["true_positives"]),
            _fmt(row["precision"]), _fmt(row["recall"]), str(row["legit_hits"]),
        )
    con.print(table)
    if r["rule_errors"]:
        con.print(f"[red]rules that failed to evaluate:[/] {r['rule_errors']}")
