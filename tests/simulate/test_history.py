"""The simulated history of reported incidents: deterministic, along the seed's yearly trend, victims drawn from
the population, and nothing that could be traced."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from zaslon.errors import InvalidInput
from zaslon.simulate.history import FILE, write_history
from zaslon.simulate.world import generate


def _history(tiny_dir: Path, out: Path) -> tuple[pl.DataFrame, dict[str, object]]:
    out.mkdir()
    for name in ("incidents", "parties", "transfers"):
        shutil.copy(tiny_dir / f"{name}.parquet", out / f"{name}.parquet")
    manifest = json.loads((tiny_dir / "manifest.json").read_text())
    start = datetime.fromisoformat(manifest["start"].replace("Z", "+00:00"))
    meta = write_history(out, years=2, seed=7, start=start, days=manifest["days"], preset="tiny")
    return pl.read_parquet(out / FILE), meta


def test_two_years_before_the_window_along_the_trend(tiny_dir: Path, tmp_path: Path) -> None:
    h, meta = _history(tiny_dir, tmp_path / "a")
    again, _ = _history(tiny_dir, tmp_path / "b")
    assert h.equals(again)  # the same seed: the same history
    start = datetime.fromisoformat(str(meta["to"]).replace("Z", "+00:00"))
    assert h["reported_at"].max() < start and h["reported_at"].min() >= start - timedelta(days=730)
    assert set(h.columns) == {"history_id", "scheme", "reported_at", "victim_party", "region", "district",
                              "victim_age", "victim_lives_alone", "stolen"}  # no transfer, no indicator
    assert h["history_id"].n_unique() == h.height
    fraud = h.filter(pl.col("scheme") != "extortion")
    last = fraud.filter(pl.col("reported_at") >= start - timedelta(days=365)).height
    before = fraud.height - last
    assert 0.72 < last / before < 0.88  # fraud fell by about 20% a year
    persons = h.filter(pl.col("victim_age").is_not_null())
    assert persons["victim_age"].min() >= 16 and persons["region"].null_count() == 0
    # Vishing aims at the elderly in the window, so it does in the past too.
    vishing = persons.filter(pl.col("scheme") == "vishing")
    assert (vishing["victim_age"] >= 65).mean() > (persons.filter(pl.col("scheme") == "phishing")["victim_age"]
                                                   >= 65).mean()


def test_a_bad_number_of_years_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        generate("tiny", 1, tmp_path / "w", history_years=11)
    assert not (tmp_path / "w").exists()
