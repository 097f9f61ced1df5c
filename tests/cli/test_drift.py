"""`zaslon eval drift` refuses bad input with exit code 2, before any world is generated, and writes nothing."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from zaslon.cli import app

runner = CliRunner()


def test_unknown_preset_exits_2_before_generating(tmp_path: Path) -> None:
    out = tmp_path / "d.json"
    r = runner.invoke(app, ["eval", "drift", "--preset", "huge", "--json", str(out)])
    assert r.exit_code == 2 and "unknown preset 'huge'" in r.output
    assert not out.exists()


def test_json_path_that_is_a_directory_exits_2(tmp_path: Path) -> None:
    r = runner.invoke(app, ["eval", "drift", "--world", str(tmp_path), "--json", str(tmp_path)])
    assert r.exit_code == 2 and "is a directory" in r.output


def test_json_path_under_a_file_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "bench"
    blocker.write_text("not a directory")
    r = runner.invoke(app, ["eval", "drift", "--world", str(tmp_path), "--json", str(blocker / "drift.json")])
    assert r.exit_code == 2 and "is a file, not a directory" in r.output
    assert blocker.read_text() == "not a directory"


def test_world_without_transfers_exits_2(tmp_path: Path) -> None:
    r = runner.invoke(app, ["eval", "drift", "--world", str(tmp_path), "--json", str(tmp_path / "d.json")])
    assert r.exit_code == 2 and "not a simulated world" in r.output
    assert not (tmp_path / "d.json").exists()


def test_nonsense_options_exit_2(tmp_path: Path) -> None:
    for opt in (["--tolerance", "1.5"], ["--max-psi", "0"], ["--missed-share", "-0.1"], ["--window-days", "0"]):
        r = runner.invoke(app, ["eval", "drift", "--world", str(tmp_path), *opt])
        assert r.exit_code == 2, opt
