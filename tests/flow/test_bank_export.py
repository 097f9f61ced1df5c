"""`zaslon replay` on a bank's own export: CSV, decimal major-unit amounts, renamed columns, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.flow.test_replay import foreign_history
from zaslon.cli import app
from zaslon.flow.bank_export import bank_transfers


def _as_bank_csv(t: pl.DataFrame) -> pl.DataFrame:
    """Amounts as the bank prints them: 12.30 EUR from 1230 cents, 150 JPY from 150 yen; times with offsets."""
    major = (
        pl.when(pl.col("currency") == "JPY")
        .then(pl.col("amount").cast(pl.String))
        .otherwise(pl.format("{}.{}", pl.col("amount") // 100, (pl.col("amount") % 100).cast(pl.String).str.zfill(2)))
    )
    return t.with_columns(major.alias("amount"), pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00"))


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["replay", *args])
    return r.exit_code, r.output


def _summary(output: str) -> dict[str, object]:
    return dict(json.loads(output.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def history() -> tuple[pl.DataFrame, pl.DataFrame]:
    t, i, _ = foreign_history(days=9)
    return t, i


def test_csv_with_decimal_amounts_scores_as_parquet_with_minor_units(
    tmp_path: Path, history: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    t, i = history
    t.rename({"amount": "amount_minor"}).write_parquet(tmp_path / "t.parquet")
    i.write_parquet(tmp_path / "i.parquet")
    _as_bank_csv(t).write_csv(tmp_path / "t.csv")
    i.with_columns(pl.col("reported_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")).write_csv(tmp_path / "i.csv")
    assert "." in (tmp_path / "t.csv").read_text().splitlines()[1]  # the CSV really holds decimals
    code_p, out_p = _run("--transfers", str(tmp_path / "t.parquet"), "--incidents", str(tmp_path / "i.parquet"),
                         "--out", str(tmp_path / "p.parquet"), "--retrain-days", "3")
    code_c, out_c = _run("--transfers", str(tmp_path / "t.csv"), "--incidents", str(tmp_path / "i.csv"),
                         "--out", str(tmp_path / "c.parquet"), "--retrain-days", "3")
    assert code_p == 0, out_p
    assert code_c == 0, out_c
    p, c = pl.read_parquet(tmp_path / "p.parquet"), pl.read_parquet(tmp_path / "c.parquet")
    assert p.columns[:3] == ["transfer_id", "score", "decision"]
    assert p["transfer_id"].to_list() == t["transfer_id"].to_list()
    assert p.equals(c)
    s = _summary(out_c)
    held = int(c["decision"].is_in(["hold", "block"]).sum())
    assert s["hold_rate"] == pytest.approx(held / len(c))
    assert s == {**_summary(out_p), "out": str(tmp_path / "c.parquet")}


def test_decimal_amounts_convert_exactly_with_each_currency_exponent() -> None:
    df = pl.DataFrame({
        "transfer_id": ["a", "b", "c", "d", "e"], "ts": ["2025-06-02T10:00:00Z"] * 5, "payer": ["p"] * 5,
        "payee": ["q"] * 5, "amount": ["0.29", "1234567.1", "150", "7.001", "2.500"],
        "currency": ["EUR", "EUR", "JPY", "KWD", "EUR"],
    })
    t, _ = bank_transfers(df)
    assert t["amount"].to_list() == [29, 123456710, 150, 7001, 250]  # 0.29 * 100 is 28.999... as a float
    floats = df.with_columns(pl.Series("amount", [0.29, 1234567.1, 150.0, 7.001, 2.5]))
    assert bank_transfers(floats)[0]["amount"].to_list() == [29, 123456710, 150, 7001, 250]


def test_map_renames_a_banks_columns(tmp_path: Path, history: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    t, i = history
    bank = _as_bank_csv(t).rename({"payer": "customer_id", "payee": "counterparty", "transfer_id": "txn"})
    bank.write_csv(tmp_path / "t.csv")
    i.rename({"transfer_id": "txn", "reported_at": "report_date"}).write_parquet(tmp_path / "i.parquet")
    code, output = _run("--transfers", str(tmp_path / "t.csv"), "--incidents", str(tmp_path / "i.parquet"),
                        "--out", str(tmp_path / "s.parquet"), "--map", "payer=customer_id",
                        "--map", "payee=counterparty", "--map", "transfer_id=txn", "--map", "reported_at=report_date")
    assert code == 0, output
    s = pl.read_parquet(tmp_path / "s.parquet")
    assert s["transfer_id"].to_list() == t["transfer_id"].to_list()
    assert _summary(output)["models"], "reports were read through the mapped names"


def test_opening_dates_and_mcc_are_optional_and_used(tmp_path: Path) -> None:
    t, _ = bank_transfers(pl.DataFrame({
        "transfer_id": ["a", "b"], "ts": ["2025-06-02T10:00:00Z"] * 2, "payer": ["p", "p"], "payee": ["q", "r"],
        "amount_minor": ["100", "200"], "mcc": ["5411", "5999"], "payer_opened_at": ["2020-03-01", "2019-01-31"],
    }))
    profiles = bank_transfers(pl.DataFrame({
        "transfer_id": ["a"], "ts": ["2025-06-02T10:00:00Z"], "payer": ["p"], "payee": ["q"], "amount_minor": ["1"],
        "payer_opened_at": ["2020-03-01"], "payee_opened_at": ["2024-05-06T07:00:00+02:00"],
    }))[1]
    assert t.columns == ["transfer_id", "ts", "payer", "payee", "amount", "mcc"]
    assert profiles["p"].opened_at is not None and profiles["p"].opened_at.isoformat() == "2020-03-01T00:00:00+00:00"
    assert profiles["q"].opened_at is not None and profiles["q"].opened_at.isoformat() == "2024-05-06T05:00:00+00:00"


BAD = [
    ("unknown --map column", {"extra": ["--map", "payer=customer_no"]}, "no column 'customer_no'"),
    ("malformed --map", {"extra": ["--map", "payer"]}, "expected NEW=OLD"),
    ("currency without a known exponent", {"currency": "XAU"}, "'XAU' has no ISO 4217 minor unit"),
    ("not a currency", {"currency": "EUX"}, "not an ISO 4217 currency code"),
    ("more decimals than the currency allows", {"amount": "12.345"}, "has more decimals than EUR allows (2)"),
    ("yen with decimals", {"currency": "JPY", "amount": "12.5"}, "has more decimals than JPY allows (0)"),
    ("decimal amounts without a currency column", {"drop": "currency"}, "needs a currency column"),
    ("not a number", {"amount": "12,50"}, "is not a decimal number"),
    ("both amount and amount_minor", {"minor_too": True}, "not both"),
    ("time without an offset", {"ts": "2025-06-02T10:00:00"}, "timezone-aware"),
    ("not a table", {"suffix": ".xlsx"}, "neither .parquet nor .csv"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_bank_input_exits_2_and_writes_nothing(tmp_path: Path, case: tuple[str, dict[str, object], str]) -> None:
    _, change, message = case
    t, i, _ = foreign_history(days=3)
    bank = _as_bank_csv(t).with_columns(pl.lit("EUR").alias("currency"))
    if "currency" in change:
        bank = bank.with_columns(pl.lit(change["currency"]).alias("currency"))
    if "amount" in change:
        bank = bank.with_columns(pl.when(pl.col("transfer_id") == "n5").then(pl.lit(change["amount"]))
                                 .otherwise(pl.col("amount")).alias("amount"))
    if "ts" in change:
        bank = bank.with_columns(pl.when(pl.col("transfer_id") == "n5").then(pl.lit(change["ts"]))
                                 .otherwise(pl.col("ts")).alias("ts"))
    if "drop" in change:
        bank = bank.drop(str(change["drop"]))
    if change.get("minor_too"):
        bank = bank.with_columns(pl.lit("1").alias("amount_minor"))
    tp = tmp_path / f"t{change.get('suffix', '.csv')}"
    bank.write_csv(tp)
    i.write_parquet(tmp_path / "i.parquet")
    op = tmp_path / "s.parquet"
    extra = change.get("extra", [])
    assert isinstance(extra, list)
    code, output = _run("--transfers", str(tp), "--incidents", str(tmp_path / "i.parquet"), "--out", str(op), *extra)
    assert code == 2, output
    assert message in " ".join(output.split())
    assert not op.exists() and not list(tmp_path.glob(".s.parquet*"))
