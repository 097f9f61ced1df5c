"""`zaslon replay` on foreign-looking data (unknown accounts, EUR and JPY) and its bad-input cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from zaslon.cli import app
from zaslon.flow.replay import replay

START = datetime(2025, 6, 2, tzinfo=UTC)


def foreign_history(seed: int = 0, days: int = 15) -> tuple[pl.DataFrame, pl.DataFrame, set[str]]:
    """Households pay usual payees; mules receive victims' money and forward it within the hour."""
    rng = np.random.default_rng(seed)
    people = [f"FR76{i:010d}" for i in range(300)]
    usual = {p: [people[j] for j in rng.integers(0, 300, 3)] for p in people}
    rows: list[tuple[str, datetime, str, str, int, str, str]] = []
    for k in range(2500):
        p = people[int(rng.integers(0, 300))]
        q = usual[p][int(rng.integers(0, 3))]
        t = START + timedelta(seconds=int(rng.integers(0, days * 86_400)))
        cur = "JPY" if k % 3 == 0 else "EUR"
        amt = int(rng.lognormal(3, 0.7) * (150 if cur == "JPY" else 100))  # yen vs euro cents
        rows.append((f"n{k}", t, p, q, amt, cur, "mobile"))
    fraud: set[str] = set()
    reports: list[tuple[str, datetime]] = []
    for k in range(120):
        v = people[int(rng.integers(0, 300))]
        m = f"MULE{int(rng.integers(0, 8))}"
        t = START + timedelta(seconds=int(rng.integers(86_400, days * 86_400)))
        rows.append((f"f{k}", t, v, m, int(rng.lognormal(6.5, 0.4) * 100), "EUR", "web"))
        out_amt = int(rng.lognormal(6.4, 0.4) * 100)
        rows.append((f"h{k}", t + timedelta(minutes=20), m, f"X{k}", out_amt, "EUR", "web"))
        fraud.add(f"f{k}")
        if k % 4:
            reports.append((f"f{k}", t + timedelta(hours=float(rng.uniform(1, 48)))))
    names = ["transfer_id", "ts", "payer", "payee", "amount", "currency", "channel"]
    t_df = pl.DataFrame(rows, schema=names, orient="row")
    t_df = t_df.with_columns(pl.col("ts").dt.cast_time_unit("us")).sample(fraction=1.0, shuffle=True, seed=1)
    i_df = pl.DataFrame(reports, schema=["transfer_id", "reported_at"], orient="row")
    return t_df, i_df, fraud


def test_replay_scores_every_row_in_event_time_and_learns_from_reports() -> None:
    t, i, fraud = foreign_history()
    res = replay(t, i, retrain_days=3)
    out = res.out
    assert out["transfer_id"].to_list() == t["transfer_id"].to_list()  # every row, in T's order
    assert set(out["decision"].unique().to_list()) <= {"allow", "review", "hold", "block"}
    assert res.models, "reports were known, so models were trained"
    for m in res.models:  # each model was trained on reports made before its cut-off only
        cutoff = datetime.fromisoformat(m["cutoff"])
        assert m["positives"] == int((i["reported_at"] < cutoff).sum())
    scored = out.with_columns(pl.col("transfer_id").is_in(list(fraud)).alias("fraud"))
    late = scored.join(t.select("transfer_id", "ts"), on="transfer_id")
    late = late.filter(pl.col("ts") > START + timedelta(days=10))
    mean_fraud = late.filter(pl.col("fraud"))["score"].mean()
    mean_legit = late.filter(~pl.col("fraud"))["score"].mean()
    assert mean_fraud > 10 * mean_legit  # type: ignore[operator]


def _write(tmp: Path, t: pl.DataFrame, i: pl.DataFrame) -> tuple[Path, Path, Path]:
    tp, ip, op = tmp / "t.parquet", tmp / "i.parquet", tmp / "s.parquet"
    t.rename({"amount": "amount_minor"}).write_parquet(tp)  # the CLI reads `amount` as decimal major units
    i.write_parquet(ip)
    return tp, ip, op


def test_replay_cli_writes_scores(tmp_path: Path) -> None:
    t, i, _ = foreign_history(days=9)
    tp, ip, op = _write(tmp_path, t, i)
    r = CliRunner().invoke(app, ["replay", "--transfers", str(tp), "--incidents", str(ip), "--out", str(op)])
    assert r.exit_code == 0, r.output
    s = pl.read_parquet(op)
    assert s.columns[:3] == ["transfer_id", "score", "decision"] and len(s) == len(t)
    assert s["score"].is_between(0, 1).all()
    summary = json.loads(r.output.strip().splitlines()[-1])
    held = float(s["decision"].is_in(["hold", "block"]).mean())
    assert summary["hold_rate"] == pytest.approx(held)
    friction = summary["friction"]
    assert friction["max_hold_rate"] == 0.005 and friction["by_model"]
    for m in friction["by_model"]:  # each model's bars and the share it held in the days it scored
        assert m["bars"]["hold_at"] >= 0.1 and m["scored"] > 0 and 0.0 <= m["realised_hold_rate"] <= 1.0


def test_each_model_is_calibrated_to_the_friction_cap_on_the_week_before_it() -> None:
    """A cap far below what the data needs raises every model's hold bar above the floor."""
    from zaslon.core.policy import PolicyConfig

    t, i, _ = foreign_history()
    loose = replay(t, i, retrain_days=3)
    tight = replay(t, i, retrain_days=3, policy=PolicyConfig(max_hold_rate=0.0005, max_review_rate=0.001))
    for a, b in zip(loose.models, tight.models, strict=True):
        assert b["bars"]["hold_at"] >= a["bars"]["hold_at"]
    assert any(b["bars"]["hold_at"] > 0.1 for b in tight.models)
    assert (tight.out["decision"] == "hold").sum() <= (loose.out["decision"] == "hold").sum()


def test_a_report_counts_against_its_payee_for_later_transfers() -> None:
    from zaslon.core.features import FEATURE_INDEX
    from zaslon.flow.replay import stream_pass, validate_incidents, validate_transfers
    from zaslon.flow.scoring import ScoringEngine

    t, i, _ = foreign_history()
    tv = validate_transfers(t)
    st = stream_pass(ScoringEngine(), tv, validate_incidents(i, tv))
    col = FEATURE_INDEX["payee_reported_n"]
    first_report = i["reported_at"].min()
    ts = st.frame["ts"]
    mule = np.array([str(p).startswith("MULE") for p in st.frame["payee"].to_list()])
    before = (ts < first_report).to_numpy()
    assert st.x[before & mule, col].max() == 0  # nothing from the future
    assert st.x[~before & mule, col].max() >= 5  # mules collect reports as they come
    assert st.x[~mule, col].max() == 0  # households' payees were never reported


def _bad_cases() -> list[tuple[str, pl.DataFrame | None, pl.DataFrame | None, str]]:
    t, i, _ = foreign_history(days=3)
    negative = pl.when(pl.col("transfer_id") == "n1").then(-5).otherwise(pl.col("amount")).alias("amount")
    stranger = pl.DataFrame({"transfer_id": ["zzz"], "reported_at": [START]})
    stranger = stranger.with_columns(pl.col("reported_at").dt.cast_time_unit("us"))
    return [
        ("missing column", t.drop("payee"), None, "missing required columns ['payee']"),
        ("naive ts", t.with_columns(pl.col("ts").dt.replace_time_zone(None)), None, "timezone-aware"),
        ("negative amount", t.with_columns(negative), None, "negative"),
        ("duplicate ids", pl.concat([t, t.head(1)]), None, "duplicate transfer_id"),
        ("unknown currency", t.with_columns(pl.lit("EUX").alias("currency")), None, "ISO 4217"),
        ("unknown column", t.with_columns(pl.lit(1).alias("colour")), None, "unknown columns"),
        ("naive reported_at", None, i.with_columns(pl.col("reported_at").dt.replace_time_zone(None)), "timezone-aware"),
        ("report of an unknown transfer", None, pl.concat([i, stranger]), "not in transfers"),
    ]


Case = tuple[str, pl.DataFrame | None, pl.DataFrame | None, str]


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda c: c[0])
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, case: Case) -> None:
    _, bad_t, bad_i, message = case
    t, i, _ = foreign_history(days=3)
    tp, ip, op = _write(tmp_path, bad_t if bad_t is not None else t, bad_i if bad_i is not None else i)
    r = CliRunner().invoke(app, ["replay", "--transfers", str(tp), "--incidents", str(ip), "--out", str(op)])
    assert r.exit_code == 2
    assert message in r.output
    assert not op.exists() and not list(tmp_path.glob(".s.parquet*"))


def test_missing_file_exits_2(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["replay", "--transfers", str(tmp_path / "no.parquet"), "--incidents",
                                 str(tmp_path / "no2.parquet"), "--out", str(tmp_path / "s.parquet")])
    assert r.exit_code == 2 and "no such file" in r.output


def test_replay_cli_reports_why_each_model_was_trained(tmp_path: Path) -> None:
    t, i, _ = foreign_history(days=9)
    tp, ip, op = _write(tmp_path, t, i)
    args = ["replay", "--transfers", str(tp), "--incidents", str(ip), "--out", str(op), "--retrain-days", "3"]
    for flag in ("--drift-retrain", "--no-drift-retrain"):
        r = CliRunner().invoke(app, [*args, flag])
        assert r.exit_code == 0, r.output
        summary = json.loads(r.output.strip().splitlines()[-1])
        assert len(summary["model_triggers"]) == len(summary["models"]) > 0
        assert set(summary["model_triggers"]) <= ({"schedule", "drift"} if flag == "--drift-retrain" else {"schedule"})
