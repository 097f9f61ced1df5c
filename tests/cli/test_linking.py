"""The linking commands: AMLSim evaluation on a tiny archive, bench, case export, and bad input exits 2."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.cli import app
from zaslon.flow.cases import CaseService

runner = CliRunner()


def amlsim_archive(path: Path) -> Path:
    """Twenty accounts; 10..13 form a cycle passing money on within a step, the rest trade at random."""
    nodes = "nodeid,isFraud,init_balance,fraudStep\n" + "".join(
        f"{i},{1 if 10 <= i <= 13 else 0},100.0,-1\n" for i in range(20))
    rows = [(10, 11, 500.0, 1), (11, 12, 490.0, 2), (12, 13, 480.0, 3), (13, 10, 470.0, 4)]
    rows += [(i, (i * 7 + 3) % 10, 20.0 + i, 1 + i * 3) for i in range(10)]
    tx = "sourceNodeId,targetNodeId,value,time\n" + "".join(f"{a},{b},{v},{t}\n" for a, b, v, t in rows)
    out = path / "tiny.tgz"
    with tarfile.open(out, "w:gz") as tar:
        for name, text in (("tiny/nodes.csv", nodes), ("tiny/transactions.csv", tx)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def test_eval_amlsim_writes_the_figures(tmp_path: Path) -> None:
    out = tmp_path / "aml.json"
    result = runner.invoke(app, ["eval", "amlsim", str(amlsim_archive(tmp_path)), "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["accounts"] == 20 and figures["transfers"] == 14 and figures["positives"] == 4
    assert 0.0 <= figures["average_precision"] <= 1.0 and 0.0 <= figures["precision_at_100"] <= 1.0
    assert figures["average_precision"] > figures["base_rate"]  # the cycle ranks above random trading


def test_bad_input_exits_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["eval", "amlsim", str(tmp_path / "missing.tgz")]).exit_code == 2
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"not an archive")
    assert runner.invoke(app, ["eval", "amlsim", str(junk)]).exit_code == 2
    assert runner.invoke(app, ["cases", "export", "--case", "case-1", "--format", "xml"]).exit_code == 2
    assert runner.invoke(app, ["eval", "linking", "--world", str(tmp_path)]).exit_code == 2


def test_bench_link_small(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    result = runner.invoke(app, ["bench", "link", "--incidents", "2000", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["incidents"] == 2000 and 0 < figures["cases"] < 2000 and figures["seconds"] > 0


def test_cases_export_json_and_csv(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'z.db'}"
    monkeypatch.setenv("ZASLON_DATABASE_URL", url)
    upgrade(url)
    engine = make_engine(url)
    service = CaseService(engine)
    case_id = service.link("i1", ["phone:+375291111111"], datetime(2026, 3, 2, tzinfo=UTC))
    got = runner.invoke(app, ["cases", "export", "--case", case_id, "--format", "json"])
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout)["case_id"] == case_id
    csv_out = tmp_path / "c.csv"
    assert runner.invoke(app, ["cases", "export", "--case", case_id, "--format", "csv", "--out", str(csv_out)]
                         ).exit_code == 0
    assert csv_out.read_text().startswith("section,id,kind")
    assert runner.invoke(app, ["cases", "export", "--case", "case-99"]).exit_code == 2
