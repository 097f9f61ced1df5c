"""``zaslon bench soak`` (the embedded default under the cluster bench's load), shortened: its figures are
measured, every transfer is answered, and the JSON is written. (The scale-out shape's bench needs nats-server
and PostgreSQL: it runs in BENCHMARKS.md, not here.)"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from zaslon.lab.cluster_bench import run_embedded_soak


def test_a_short_soak_answers_every_transfer_and_writes_its_figures(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the soak keeps its SQLite database
    out = tmp_path / "soak.json"
    res = run_embedded_soak(seconds=2, rate=50, json_path=str(out))
    assert res["shape"] == "embedded" and res["errors"] == 0
    assert res["status"] == {"200": 100} and res["sent"] == 100
    assert res["p99_ms"] >= res["p50_ms"] > 0 and res["cpu_ms_per_transfer"] > 0 and res["rss_mb_end"] > 0
    assert "rss_growth_after_first_minute_pct" not in res  # two seconds have no "after the first minute"
    assert json.loads(out.read_text()) == res
    assert list(scratch.iterdir()) == []  # its database is gone
