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


def test_a_workers_round_timings_are_read_from_its_stop_line(tmp_path: Path) -> None:
    from zaslon.lab.cluster_bench import _round_timings

    log = tmp_path / "worker-0.log"
    log.write_text("2026-12-02T03:28:40Z [info     ] partition owned   partition=3 batches=0\n"
                   "2026-12-02T03:28:44Z [info     ] worker stopped    round_commit_ms_p50=9.2 "
                   "round_took_ms_p99=99.0 rounds=1043 scored=20200\n")
    assert _round_timings(log) == {"round_commit_ms_p50": 9.2, "round_took_ms_p99": 99.0, "rounds": 1043.0,
                                   "scored": 20200.0}
    json_log = tmp_path / "worker-1.log"
    json_log.write_text('{"event": "worker stopped", "rounds": 5, "round_score_ms_p50": 1.5, "partition": 2}\n')
    assert _round_timings(json_log) == {"rounds": 5.0, "round_score_ms_p50": 1.5}
    assert _round_timings(tmp_path / "missing.log") == {}
