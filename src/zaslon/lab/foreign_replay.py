"""`zaslon eval replay`: our own world exported as a foreign bank would, replayed through `zaslon replay`'s code.

The export strips what our simulator gives the engine and a foreign bank's file would not: account and
transfer ids become random tokens (nothing in them says bank, country or kind), there are no opening dates,
no device, and amounts are decimal strings in EUR at the reference rate. Reports keep only the named transfer
and when it was reported. The files are CSV, read back by the same functions `zaslon replay` uses
(``flow.bank_export`` then ``flow.replay.replay``), so this measures the command a bank runs, not a copy.

The ground truth is opened only after the replay has scored everything. Positives are fraud-origin
transfers (the victims' own payments); a drop's onward moves are left out of AP, as in ``eval scoring``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from zaslon.core.fx import PER_BYN
from zaslon.core.money import minor_exponent
from zaslon.flow.bank_export import bank_incidents, bank_transfers, read_table
from zaslon.flow.replay import friction_summary, replay
from zaslon.lab.scoring_eval import average_precision, reports_of

Progress = Callable[[int], None]
EXPORT_CURRENCY = "EUR"


def _tokens(values: pl.Series, rng: np.random.Generator, prefix: str) -> pl.Series:
    """A random, unrevealing token per distinct value (same value, same token)."""
    uniq = values.unique(maintain_order=True)
    perm = rng.permutation(len(uniq))
    mapping = dict(zip(uniq.to_list(), [f"{prefix}{int(p):08x}{int(r):06x}" for p, r in
                                        zip(perm, rng.integers(0, 1 << 24, len(uniq)), strict=True)], strict=True))
    return values.replace_strict(mapping, return_dtype=pl.String)


def _eur_text(amount: pl.Series, currency: pl.Series) -> pl.Series:
    """Minor units of each row's currency -> a decimal string in EUR with two decimals."""
    rate = currency.replace_strict({c: PER_BYN[EXPORT_CURRENCY] / PER_BYN[c] for c in currency.unique().to_list()},
                                   return_dtype=pl.Float64)
    exp = currency.replace_strict({c: float(10 ** minor_exponent(c)) for c in currency.unique().to_list()},
                                  return_dtype=pl.Float64)
    cents = (amount.cast(pl.Float64) / exp * rate * 100).round(0).cast(pl.Int64).clip(lower_bound=1)
    return (cents // 100).cast(pl.String) + "." + (cents % 100).cast(pl.String).str.zfill(2)


def export_foreign(world: Path, out: Path, *, seed: int = 1) -> dict[str, pl.DataFrame]:
    """Write ``out/transfers.csv`` and ``out/incidents.csv`` as a foreign bank would export them.

    Returns the id keys (``transfers``: token -> our transfer_id) so only the lab can map the truth back.
    """
    rng = np.random.default_rng(seed)
    t = pl.read_parquet(world / "transfers.parquet",
                        columns=["transfer_id", "ts", "payer", "payee", "amount", "currency", "channel",
                                 "payee_country"])
    accounts = pl.concat([t["payer"], t["payee"]]).unique(maintain_order=True)
    acc_map = pl.DataFrame({"account": accounts, "token": _tokens(accounts, rng, "a")})
    tid = _tokens(t["transfer_id"], rng, "t")
    exported = (
        t.with_columns(tid.alias("token"), _eur_text(t["amount"], t["currency"]).alias("amount_eur"))
        .join(acc_map.rename({"account": "payer", "token": "payer_token"}), on="payer", how="left")
        .join(acc_map.rename({"account": "payee", "token": "payee_token"}), on="payee", how="left")
    )
    out.mkdir(parents=True, exist_ok=True)
    exported.select(
        pl.col("token").alias("transfer_id"), pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").alias("ts"),
        pl.col("payer_token").alias("payer"), pl.col("payee_token").alias("payee"),
        pl.col("amount_eur").alias("amount"), pl.lit(EXPORT_CURRENCY).alias("currency"), "channel", "payee_country",
    ).write_csv(out / "transfers.csv")
    key = exported.select(pl.col("token"), pl.col("transfer_id"))
    reports = reports_of(world).join(key, on="transfer_id", how="inner")
    reports.select(pl.col("token").alias("transfer_id"),
                   pl.col("reported_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").alias("reported_at")
                   ).write_csv(out / "incidents.csv")
    return {"transfers": key}


def _world_end(world: Path, last_ts: datetime) -> datetime:
    manifest = world / "manifest.json"
    if not manifest.exists():
        return last_ts
    m = json.loads(manifest.read_text())
    start = datetime.fromisoformat(str(m["start"]))
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    return start + timedelta(days=float(m["days"]))


def evaluate_foreign_replay(world: Path, *, seed: int = 1, eval_days: float = 7.0, retrain_days: float = 7.0,
                            progress: Progress | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="zaslon-foreign-") as tmp:
        key = export_foreign(world, Path(tmp), seed=seed)["transfers"]
        t, profiles = bank_transfers(read_table(Path(tmp) / "transfers.csv", "transfers"))
        i = bank_incidents(read_table(Path(tmp) / "incidents.csv", "incidents"))
    res = replay(t, i, retrain_days=retrain_days, profiles=profiles, progress=progress)
    # ---- only now is the ground truth opened ----
    truth = pl.read_parquet(world / "truth_transfers.parquet", columns=["transfer_id", "label"])
    j = (res.out.join(key.rename({"transfer_id": "ours"}), left_on="transfer_id", right_on="token", how="left")
         .join(t.select("transfer_id", "ts"), on="transfer_id", how="left")
         .join(truth.rename({"transfer_id": "ours"}), on="ours", how="left")
         .with_columns(pl.col("label").fill_null("legit")))
    end = _world_end(world, j["ts"].max())  # type: ignore[arg-type]
    last = j.filter(pl.col("ts") >= end - timedelta(days=eval_days))
    held = pl.col("decision").is_in(["hold", "block"])
    lab, score = last["label"].to_numpy(), last["score"].to_numpy()
    fraud, legit = lab == "fraud_origin", lab == "legit"
    keep = fraud | legit
    return {
        "average_precision_last_week": round(average_precision(fraud[keep], score[keep]), 4),
        "hold_rate": round(float(j.select(held.mean()).item()), 6),
        "hold_rate_last_week": round(float(last.select(held.mean()).item()), 6),
        "legit_hold_rate_last_week": round(float(last.filter(pl.col("label") == "legit").select(held.mean()).item()),
                                           6),
        "fraud_origin_held_share_last_week": round(float(
            last.filter(pl.col("label") == "fraud_origin").select(held.mean()).item()), 4) if fraud.any() else None,
        "transfers": len(j),
        "last_week_transfers": len(last),
        "last_week_fraud_origin": int(fraud.sum()),
        "reports": len(i),
        "models": len(res.models),
        "friction": friction_summary(res),
        "export": {"ids": "random tokens", "amounts": f"decimal {EXPORT_CURRENCY}", "opening_dates": False,
                   "device": False, "format": "csv"},
        "world": str(world),
        "seed": seed,
    }
