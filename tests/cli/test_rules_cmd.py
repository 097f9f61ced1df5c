"""`zaslon rules ...` end to end on a SQLite file and a micro world; bad rules exit 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.cli import app

runner = CliRunner()
GOOD = {"version": "r1", "description": "test", "rules": [
    {"rule_id": "rep", "expression": "payee_reported", "action": "hold", "reason": "reported payee"},
]}


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'z.db'}"
    eng = make_engine(url)
    upgrade(url)
    eng.dispose()
    return url


def write(tmp_path: Path, doc: object, name: str = "rules.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


def test_validate(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["rules", "validate", str(write(tmp_path, GOOD))])
    assert ok.exit_code == 0 and "ok: 1 rules" in ok.output
    bad = {"rules": [{"rule_id": "x", "expression": "payee_reported >", "action": "hold", "reason": "r"}]}
    res = runner.invoke(app, ["rules", "validate", str(write(tmp_path, bad))])
    assert res.exit_code == 2 and "position 16" in res.output
    res = runner.invoke(app, ["rules", "validate", str(tmp_path / "missing.json")])
    assert res.exit_code == 2


def test_lifecycle(tmp_path: Path, db: str) -> None:
    f = str(write(tmp_path, GOOD))
    assert runner.invoke(app, ["rules", "draft", f, "--db", db]).exit_code == 0
    assert runner.invoke(app, ["rules", "activate", "r1", "--db", db]).exit_code == 1  # a draft: conflict
    assert runner.invoke(app, ["rules", "publish", "r1", "--db", db]).exit_code == 0
    res = runner.invoke(app, ["rules", "activate", "r1", "--db", db])
    assert res.exit_code == 0 and "live: r1" in res.output
    assert runner.invoke(app, ["rules", "draft", f, "--db", db]).exit_code == 1  # version exists
    assert runner.invoke(app, ["rules", "draft", f, "--version", "r2", "--from", "r1", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["rules", "publish", "r2", "--db", db]).exit_code == 0
    res = runner.invoke(app, ["rules", "shadow", "r2", "--db", db])
    assert res.exit_code == 0 and "shadow: r2" in res.output
    listing = runner.invoke(app, ["rules", "list", "--json", "--db", db])
    rows = {r["version"]: r for r in json.loads(listing.output)}
    assert rows["r1"]["live"] and rows["r2"]["shadow"]
    shown = json.loads(runner.invoke(app, ["rules", "show", "r2", "--db", db]).output)
    assert shown["parent_version"] == "r1" and shown["rules"][0]["rule_id"] == "rep"
    assert runner.invoke(app, ["rules", "shadow", "--off", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["rules", "shadow", "--db", db]).exit_code == 2
    bad = {"rules": [{"rule_id": "x", "expression": "nosuch > 1", "action": "hold", "reason": "r"}]}
    res = runner.invoke(app, ["rules", "draft", str(write(tmp_path, bad, "bad.json")), "--db", db])
    assert res.exit_code == 2 and "unknown feature 'nosuch'" in res.output


def micro_world(path: Path) -> Path:
    """The smallest world load_world accepts: a drop M receives from two victims, one reported early."""
    path.mkdir()
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [("t1", 0, "V1", "M", 90_000), ("t2", 600, "V2", "M", 50_000), ("t3", 700, "P", "Q", 1_000)]
    pl.DataFrame({
        "transfer_id": [r[0] for r in rows], "ts": [t0 + timedelta(minutes=r[1]) for r in rows],
        "payer": [r[2] for r in rows], "payee": [r[3] for r in rows], "amount": [r[4] for r in rows],
        "currency": ["BYN"] * 3, "channel": ["mobile"] * 3, "device": [None] * 3, "ip": [None] * 3,
        "payer_bank": [None] * 3, "payee_bank": [None] * 3, "payee_country": ["BY"] * 3, "atm_id": [None] * 3,
    }, schema_overrides={"ts": pl.Datetime("us", "UTC"), "device": pl.String, "ip": pl.String,
                         "payer_bank": pl.String, "payee_bank": pl.String, "atm_id": pl.String}
    ).write_parquet(path / "transfers.parquet")
    pl.DataFrame({"incident_id": ["I1"], "reported_at": [t0 + timedelta(hours=1)], "transfer_ids": [["t1"]]},
                 schema_overrides={"reported_at": pl.Datetime("us", "UTC")}).write_parquet(path / "incidents.parquet")
    accts = ["V1", "V2", "M", "P", "Q"]
    pl.DataFrame({"account_id": accts, "party_id": accts, "opened_at": [t0 - timedelta(days=400)] * 5},
                 schema_overrides={"opened_at": pl.Datetime("us", "UTC")}).write_parquet(path / "accounts.parquet")
    pl.DataFrame({"bank_id": ["AKBBBY2X"]}).write_parquet(path / "banks.parquet")
    pl.DataFrame({"atm_id": ["A1"]}).write_parquet(path / "atms.parquet")
    pl.DataFrame({"transfer_id": ["t1", "t2", "t3"], "label": ["fraud_origin", "fraud_origin", "legit"]}
                 ).write_parquet(path / "truth_transfers.parquet")
    return path


def test_backtest_on_a_world(tmp_path: Path) -> None:
    world = micro_world(tmp_path / "w")
    f = str(write(tmp_path, GOOD))
    out = tmp_path / "bt.json"
    res = runner.invoke(app, ["rules", "backtest", "--file", f, "--world", str(world), "--json", str(out)])
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert rep["judged_against"] == "reported incidents" and rep["positives"] == 1
    assert rep["held"] == 1  # t2 to M, after the report on t1
    truth = runner.invoke(app, ["rules", "backtest", "--file", f, "--world", str(world), "--truth",
                                "--json", str(out)])
    assert truth.exit_code == 0, truth.output
    rep = json.loads(out.read_text())
    assert rep["judged_against"] == "truth" and rep["positives"] == 2
    assert rep["precision_held"] == 1.0 and rep["recall_held"] == 0.5
    assert rep["money_saved"] == {"BYN": 500.0}


def test_backtest_bad_input(tmp_path: Path) -> None:
    world = micro_world(tmp_path / "w")
    bad = {"rules": [{"rule_id": "x", "expression": "1 +", "action": "hold", "reason": "r"}]}
    res = runner.invoke(app, ["rules", "backtest", "--file", str(write(tmp_path, bad)), "--world", str(world)])
    assert res.exit_code == 2
    assert runner.invoke(app, ["rules", "backtest", "--default"]).exit_code == 2  # no history named
    res = runner.invoke(app, ["rules", "backtest", "--default", "--world", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert runner.invoke(app, ["rules", "backtest", "--default", "--from-db", "--truth"]).exit_code == 2
