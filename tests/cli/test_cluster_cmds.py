"""The scale-out commands refuse what cannot work, with exit code 2 and nothing started or written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from zaslon.adapters.bus.worker import parse_partitions
from zaslon.cli import app
from zaslon.errors import InvalidInput

runner = CliRunner()


@pytest.mark.parametrize(("env", "args", "says"), [
    ({}, ["worker"], "ZASLON_BUS_URL"),
    ({"ZASLON_BUS_URL": "nats://127.0.0.1:9"}, ["worker"], "PostgreSQL"),
    ({"ZASLON_BUS_URL": "nats://127.0.0.1:9"}, ["worker", "--partitions", "0-99"], "outside 0-15"),
    ({"ZASLON_BUS_URL": "nats://127.0.0.1:9"}, ["worker", "--partitions", "3-1"], "ranges like"),
    ({}, ["serve", "--role", "api"], "scale-out"),
    ({}, ["serve", "--role", "bogus"], "choose api, worker or all"),
    ({"ZASLON_BUS_URL": "nats://127.0.0.1:9"}, ["serve", "--role", "api"], "PostgreSQL"),
    ({}, ["serve", "--workers", "2"], "split the embedded default"),
])
def test_bad_topology_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                              args: list[str], says: str) -> None:
    db = tmp_path / "z.db"
    monkeypatch.setenv("ZASLON_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.delenv("ZASLON_BUS_URL", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert not db.exists()  # nothing migrated, nothing started


def test_partitions_spec() -> None:
    assert parse_partitions("all", 4) == [0, 1, 2, 3]
    assert parse_partitions("0-2,7, 5", 8) == [0, 1, 2, 5, 7]
    with pytest.raises(InvalidInput):
        parse_partitions("x", 8)
