"""`zaslon incidents extract` and `zaslon eval indicators`."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from zaslon.cli import app

runner = CliRunner()
PAN = "4276380012345679"


def test_extract_prints_indicators_without_the_clear_card() -> None:
    result = runner.invoke(app, ["incidents", "extract", f"Звонили с 8 029 123-45-67, карта {PAN}"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["kind"] for r in rows] == ["phone", "card"]
    assert rows[0]["value"] == "+375291234567" and rows[1]["display"] == "4276 **** **** 5679"
    assert PAN not in result.stdout


def test_extract_without_text_and_eval_without_world_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["incidents", "extract"]).exit_code == 2
    assert runner.invoke(app, ["eval", "indicators", "--world", str(tmp_path / "none")]).exit_code == 2


def test_eval_indicators_counts_what_the_texts_name(tmp_path: Path) -> None:
    pl.DataFrame({"account_id": ["BY13NBRB3600900000002Z00AB00", "BY86AKBB10100000002966000000"]}).write_parquet(
        tmp_path / "accounts.parquet")
    pl.DataFrame({"text": [
        "Перевела на счёт BY13NBRB3600900000002Z00AB00, звонили с +375447654321",
        f"Paid to card {PAN} and to BY86AKBB10100000002966000000",
        None,
    ]}).write_parquet(tmp_path / "incidents.parquet")
    out = tmp_path / "eval.json"
    result = runner.invoke(app, ["eval", "indicators", "--world", str(tmp_path), "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["texts"] == 3 and figures["texts_without_indicators"] == 1
    assert figures["accounts_named"] == figures["accounts_named_extracted"] == 2
    assert figures["accounts_extracted_in_world"] == 2
    assert figures["phones_named_extracted"] == 1 and figures["cards_named_extracted"] == 1
