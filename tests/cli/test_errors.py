"""One mapping from errors to exit codes (zaslon.cli.errors), for every command."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from zaslon.cli import app
from zaslon.cli.errors import ZaslonGroup
from zaslon.errors import Conflict, InvalidInput, NotFound

runner = CliRunner()


def _toy() -> typer.Typer:
    toy = typer.Typer(cls=ZaslonGroup)
    rules = typer.Typer()
    other = typer.Typer()
    toy.add_typer(rules, name="rules")
    toy.add_typer(other, name="other")

    for group in (rules, other):
        @group.command("bad")
        def bad() -> None:
            raise InvalidInput("must be a number", field="amount")

        @group.command("missing")
        def missing() -> None:
            raise NotFound("no version 'v9'", field="version")

        @group.command("conflict")
        def conflict() -> None:
            raise Conflict("already published")

        @group.command("bug")
        def bug() -> None:
            raise KeyError("a bug keeps its traceback")

    return toy


@pytest.mark.parametrize(("args", "code", "text"), [
    (["other", "bad"], 2, "error: must be a number"),
    (["other", "missing"], 2, "error: no version 'v9'"),
    (["other", "conflict"], 2, "error: already published"),
    (["rules", "bad"], 2, "error: amount: must be a number"),
    (["rules", "missing"], 1, "error: no version 'v9'"),
    (["rules", "conflict"], 1, "error: already published"),
])
def test_errors_map_to_exit_codes(args: list[str], code: int, text: str) -> None:
    res = runner.invoke(_toy(), args)
    assert res.exit_code == code
    assert res.stderr.strip() == text
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_other_exceptions_are_not_swallowed() -> None:
    res = runner.invoke(_toy(), ["other", "bug"])
    assert isinstance(res.exception, KeyError)


def test_usage_errors_stay_clicks() -> None:
    res = runner.invoke(_toy(), ["other", "bad", "--nosuch"])
    assert res.exit_code == 2 and "No such option" in res.output


def test_a_database_not_migrated_is_exit_1_for_any_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    res = runner.invoke(app, ["rules", "list", "--db", url])
    assert res.exit_code == 1 and "database not ready" in res.stderr and "zaslon db upgrade" in res.stderr
    monkeypatch.setenv("ZASLON_DATABASE_URL", url)
    res = runner.invoke(app, ["cases", "export", "--case", "case-1"])
    assert res.exit_code == 1 and "database not ready" in res.stderr


def test_no_cli_module_maps_errors_itself() -> None:
    cli = Path(__file__).parents[2] / "src" / "zaslon" / "cli"
    for module in sorted(cli.glob("*.py")):
        if module.name in ("errors.py", "demo.py"):
            continue
        text = module.read_text()
        assert "except ZaslonError" not in text and "def _fail" not in text and "def fail" not in text, module.name
        assert "typer.Exit(" not in text, module.name
