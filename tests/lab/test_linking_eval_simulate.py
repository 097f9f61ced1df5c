"""``simulate_world`` generates in this process (no ``zaslon`` subprocess); failures are ``InvalidInput``."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from zaslon.errors import InvalidInput
from zaslon.lab.linking_eval import simulate_world


def _no_subprocess(*_a: object, **_k: object) -> None:
    raise AssertionError("simulate_world must not shell out to the CLI")


def test_generates_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", _no_subprocess)
    out = simulate_world("tiny", 7)
    try:
        assert (out / "incidents.parquet").is_file() and (out / "manifest.json").is_file()
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_failure_is_invalid_input_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(InvalidInput, match="simulate failed") as err:
        simulate_world("nonesuch", 1)
    assert err.value.field == "preset"
    assert list(tmp_path.iterdir()) == []
