"""``zaslon simulate``: bad input gets exit code 2, a clear message and nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zaslon.cli import app

runner = CliRunner()


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_writes_a_world_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "w"
    res = runner.invoke(app, ["simulate", "--preset", "tiny", "--seed", "3", "--out", str(out), "--report"])
    assert res.exit_code == 0, res.output
    assert "Hop histogram" in res.output and "Victims per scheme" in res.output
    m = json.loads((out / "manifest.json").read_text())
    assert m["preset"] == "tiny" and m["seed"] == 3
    assert (out / "transfers.parquet").exists() and (out / "truth_transfers.parquet").exists()
    assert _leftovers(tmp_path) == []


def test_unknown_preset(tmp_path: Path) -> None:
    res = runner.invoke(app, ["simulate", "--preset", "huge", "--out", str(tmp_path / "w")])
    assert res.exit_code == 2
    assert "unknown preset" in res.output
    assert not (tmp_path / "w").exists()


def test_non_empty_dir_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "w"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    res = runner.invoke(app, ["simulate", "--preset", "tiny", "--out", str(out)])
    assert res.exit_code == 2 and "--force" in res.output
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    res = runner.invoke(app, ["simulate", "--preset", "tiny", "--out", str(out), "--force"])
    assert res.exit_code == 0, res.output
    assert not (out / "keep.txt").exists() and (out / "manifest.json").exists()
    assert _leftovers(tmp_path) == []


def test_empty_existing_dir_is_fine(tmp_path: Path) -> None:
    out = tmp_path / "w"
    out.mkdir()
    assert runner.invoke(app, ["simulate", "--preset", "tiny", "--out", str(out)]).exit_code == 0


def test_unwritable_output(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    res = runner.invoke(app, ["simulate", "--preset", "tiny", "--out", str(blocker / "w")])
    assert res.exit_code == 2 and "cannot write" in res.output
    res = runner.invoke(app, ["simulate", "--preset", "tiny", "--out", str(blocker)])
    assert res.exit_code == 2 and "not a directory" in res.output
    assert blocker.read_text() == "not a directory"


def test_failure_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zaslon.simulate import world

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(world, "_static_tables", boom)
    out = tmp_path / "w"
    with pytest.raises(RuntimeError):
        world.generate("tiny", 1, out)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_failure_with_force_keeps_the_old_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zaslon.simulate import world

    out = tmp_path / "w"
    out.mkdir()
    (out / "old.txt").write_text("old")
    monkeypatch.setattr(world, "_static_tables", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        world.generate("tiny", 1, out, force=True)
    assert (out / "old.txt").read_text() == "old" and _leftovers(tmp_path) == []


def test_bench_rejects_unknown_preset(tmp_path: Path) -> None:
    res = runner.invoke(app, ["bench", "simulate", "--json", str(tmp_path / "b.json"), "--preset", "nope"])
    assert res.exit_code == 2 and not (tmp_path / "b.json").exists()


def test_bench_writes_json(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    res = runner.invoke(app, ["bench", "simulate", "--json", str(path), "--preset", "tiny"])
    assert res.exit_code == 0, res.output
    b = json.loads(path.read_text())
    assert {"transfers", "seconds", "transfers_per_s", "peak_rss_mb"} <= set(b)
    assert b["transfers"] > 0 and b["transfers_per_s"] > 0
