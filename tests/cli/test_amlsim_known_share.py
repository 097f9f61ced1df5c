"""`zaslon eval amlsim --known-share F --seed N`: revealed accounts are not scored, draws are seeded, bad F exits 2."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from zaslon.cli import app

runner = CliRunner()
KEYS = {"accounts", "transfers", "known_share", "evaluated", "average_precision", "precision_at_100", "base_rate"}


def archive(path: Path) -> Path:
    """Sixty accounts: 40..49 feed collector 50 (fan-in), which pays 51; 52..55 form a ring. These 16 are
    labelled laundering; 0..39 trade at random."""
    rng = np.random.default_rng(0)
    bad = set(range(40, 56))
    nodes = "nodeid,isFraud,init_balance,fraudStep\n" + "".join(
        f"{i},{1 if i in bad else 0},100.0,-1\n" for i in range(60))
    rows = [(i, 50, 300.0, 5) for i in range(40, 50)] + [(50, 51, 2900.0, 6)]
    rows += [(52, 53, 500.0, 1), (53, 54, 490.0, 2), (54, 55, 480.0, 3), (55, 52, 470.0, 4)]
    rows += [(int(a), int(b), float(rng.uniform(10, 90)), int(rng.integers(1, 30)))
             for a, b in rng.integers(0, 40, size=(120, 2)) if a != b]
    tx = "sourceNodeId,targetNodeId,value,time\n" + "".join(f"{a},{b},{v},{t}\n" for a, b, v, t in rows)
    out = path / "small.tgz"
    with tarfile.open(out, "w:gz") as tar:
        for name, text in (("small/nodes.csv", nodes), ("small/transactions.csv", tx)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def run(path: Path, out: Path, *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["eval", "amlsim", str(path), "--json", str(out), *args])
    assert result.exit_code == 0, result.output
    figures: dict[str, object] = json.loads(out.read_text())
    return figures


def test_contract_keys_and_revealed_accounts_not_evaluated(tmp_path: Path) -> None:
    path = archive(tmp_path)
    unsupervised = run(path, tmp_path / "a.json", "--known-share", "0", "--seed", "1")
    assert set(unsupervised) >= KEYS
    assert unsupervised["known_share"] == 0.0 and unsupervised["evaluated"] == unsupervised["accounts"] == 60
    reported = run(path, tmp_path / "b.json", "--known-share", "0.5", "--seed", "1")
    assert set(reported) >= KEYS and reported["known_share"] == 0.5
    assert reported["revealed"] == 8 and reported["evaluated"] == 60 - 8  # half of the 16 labelled accounts
    # Only 8 labelled accounts are left among the 52 evaluated.
    assert reported["base_rate"] == round(8 / 52, 4)
    assert 0.0 <= float(reported["average_precision"]) <= 1.0  # type: ignore[arg-type]


def test_same_seed_same_figures_other_seed_other_draw(tmp_path: Path) -> None:
    path = archive(tmp_path)
    first = run(path, tmp_path / "a.json", "--known-share", "0.5", "--seed", "2")
    again = run(path, tmp_path / "b.json", "--known-share", "0.5", "--seed", "2")
    assert first == again
    others = [run(path, tmp_path / f"s{s}.json", "--known-share", "0.5", "--seed", str(s)) for s in (3, 4, 5)]
    assert any(o["average_precision"] != first["average_precision"] for o in others)  # the draw depends on it


@pytest.mark.parametrize("share", ["1", "1.5", "-0.1", "nan"])
def test_known_share_outside_0_1_exits_2_and_writes_nothing(tmp_path: Path, share: str) -> None:
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["eval", "amlsim", str(archive(tmp_path)), "--known-share", share, "--json", str(out)])
    assert result.exit_code == 2
    assert "known-share" in result.output
    assert not out.exists()
