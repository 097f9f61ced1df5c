"""``ensure_world`` generates in this process (no ``zaslon`` subprocess) and replaces a half-written world."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from zaslon.errors import InvalidInput
from zaslon.simulate.load import ensure_world


def _no_subprocess(*_a: object, **_k: object) -> None:
    raise AssertionError("ensure_world must not shell out to the CLI")


def test_generates_in_process_then_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", _no_subprocess)
    monkeypatch.setattr(subprocess, "Popen", _no_subprocess)
    out = tmp_path / "worlds" / "tiny-7"
    assert ensure_world(out, preset="tiny", seed=7) == out
    assert (out / "transfers.parquet").is_file() and (out / "manifest.json").is_file()
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert ensure_world(out, preset="tiny", seed=7) == out
    assert (out / "manifest.json").stat().st_mtime_ns == stamp  # reused, not regenerated


def test_half_written_world_is_replaced(tmp_path: Path, tiny_dir: Path) -> None:
    out = tmp_path / "tiny-7"
    out.mkdir()
    (out / "transfers.parquet").write_bytes(b"interrupted")  # no manifest: a run that did not finish
    ensure_world(out, preset="tiny", seed=7)
    assert (out / "manifest.json").is_file()
    assert (out / "transfers.parquet").read_bytes() == (tiny_dir / "transfers.parquet").read_bytes()


def test_errors_are_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="could not generate the nonesuch world") as err:
        ensure_world(tmp_path / "w", preset="nonesuch", seed=1)
    assert err.value.field == "world"
    assert not (tmp_path / "w").exists()
