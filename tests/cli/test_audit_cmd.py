"""`zaslon audit verify --db URL`: 0 on an intact log, 1 naming the first broken entry, 2 on bad input."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.db.tables_audit import audit_log
from zaslon.cli import app
from zaslon.flow.audit import AuditLog

runner = CliRunner()


def _log(tmp_path: Path, n: int = 4) -> str:
    url = f"sqlite:///{tmp_path / 'zaslon.db'}"
    upgrade(url)
    log = AuditLog(make_engine(url))
    for i in range(n):
        log.record(org_id="bank-a", actor=f"key:k{i}", person="Анна Иванова", action="POST /v1/orders/{order_id}/ack",
                   subject=f"order_id=FO-{i}", detail={"status": 200})
    return url


def test_intact_log_exits_0(tmp_path: Path) -> None:
    url = _log(tmp_path)
    r = runner.invoke(app, ["audit", "verify", "--db", url])
    assert r.exit_code == 0, r.output
    assert "intact: 4 entries" in r.output


def test_tampered_log_exits_1_naming_the_first_broken_entry(tmp_path: Path) -> None:
    url = _log(tmp_path)
    with make_engine(url).begin() as conn:  # someone edits the database behind the exchange's back
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(person="nobody"))
    r = runner.invoke(app, ["audit", "verify", "--db", url])
    assert r.exit_code == 1
    assert "broken at entry 3" in r.output and "the 2 entries before it hold" in r.output


def test_a_deleted_entry_is_found(tmp_path: Path) -> None:
    url = _log(tmp_path)
    with make_engine(url).begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 2))
    r = runner.invoke(app, ["audit", "verify", "--db", url])
    assert r.exit_code == 1 and "broken at entry 3" in r.output


def test_bad_input_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    r = runner.invoke(app, ["audit", "verify", "--db", f"sqlite:///{missing}"])
    assert r.exit_code == 2 and "no SQLite database" in r.output
    assert not missing.exists()
    r = runner.invoke(app, ["audit", "verify", "--db", "not a url"])
    assert r.exit_code == 2 and "not a database URL" in r.output


def test_list_prints_the_entries(tmp_path: Path) -> None:
    url = _log(tmp_path, 2)
    r = runner.invoke(app, ["audit", "list", "--db", url])
    assert r.exit_code == 0 and r.output.count('"person": "Анна Иванова"') == 2


def test_operators_cli_changes_are_entered(tmp_path: Path) -> None:
    url = _log(tmp_path, 0)
    assert runner.invoke(app, ["rules", "init", "--db", url]).exit_code == 0
    entries = AuditLog(make_engine(url)).entries()
    assert [e.action for e in entries] == ["cli rules init"] and entries[0].actor.startswith("cli:")
    assert runner.invoke(app, ["audit", "verify", "--db", url]).exit_code == 0
