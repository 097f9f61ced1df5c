"""`zaslon eval replay`: a world exported as a foreign bank would, replayed by `zaslon replay`'s code."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from zaslon.cli import app
from zaslon.lab.foreign_replay import export_foreign
from zaslon.simulate.world import generate


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    generate("tiny", 3, out, force=True)
    return out


def test_the_export_reveals_nothing_our_simulator_gives(world: Path, tmp_path: Path) -> None:
    key = export_foreign(world, tmp_path, seed=5)["transfers"]
    t = pl.read_csv(tmp_path / "transfers.csv", infer_schema=False)
    i = pl.read_csv(tmp_path / "incidents.csv", infer_schema=False)
    ours = pl.read_parquet(world / "transfers.parquet")
    assert t.columns == ["transfer_id", "ts", "payer", "payee", "amount", "currency", "channel", "payee_country"]
    assert len(t) == len(ours) == len(key) and i.columns == ["transfer_id", "reported_at"]
    assert not set(t["payer"]) & set(ours["payer"]) and not set(t["transfer_id"]) & set(ours["transfer_id"])
    assert t["payer"].str.contains("BY").sum() == 0  # no IBAN, no country, no bank in an id
    assert (t["currency"] == "EUR").all() and t["amount"].str.contains(r"^\d+\.\d\d$").all()
    assert set(i["transfer_id"]) <= set(t["transfer_id"])
    # the same account is the same token everywhere (a bank's export keeps its own customer ids)
    both = t.join(key.rename({"transfer_id": "ours"}), left_on="transfer_id", right_on="token").join(
        ours.select(pl.col("transfer_id").alias("ours"), pl.col("payer").alias("our_payer")), on="ours")
    assert len(both) == len(t)
    assert both.group_by("our_payer").agg(pl.col("payer").n_unique())["payer"].max() == 1


def test_eval_replay_writes_its_figures(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = CliRunner().invoke(app, ["eval", "replay", "--world", str(world), "--json", str(out)])
    assert r.exit_code == 0, r.output
    got = json.loads(out.read_text())
    assert 0.0 <= got["average_precision_last_week"] <= 1.0 and got["transfers"] > 0
    assert 0.0 <= got["hold_rate"] <= 1.0 and got["friction"]["max_hold_rate"] == 0.005
    assert got["export"]["opening_dates"] is False and got["export"]["device"] is False


def test_eval_replay_refuses_a_directory_that_is_not_a_world(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["eval", "replay", "--world", str(tmp_path)])
    assert r.exit_code == 2 and "not a simulated world" in r.output


@pytest.mark.parametrize("args", [["--preset", "nope"], ["--json", "DIR"]])
def test_eval_replay_refuses_bad_targets_before_any_work(tmp_path: Path, args: list[str]) -> None:
    args = [str(tmp_path) if a == "DIR" else a for a in args]
    r = CliRunner().invoke(app, ["eval", "replay", *args])
    assert r.exit_code == 2 and ("unknown preset" in r.output or "is a directory" in r.output)
    assert not Path("data/worlds/nope-1").exists() and list(tmp_path.iterdir()) == []
