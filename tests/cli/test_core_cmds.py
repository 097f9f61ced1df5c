"""The operating commands: db upgrade, orgs create (key printed once, stored hashed), bad input exits 2."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from zaslon.adapters.db.engine import make_engine
from zaslon.adapters.db.tables_core import api_keys, orgs
from zaslon.cli import app

runner = CliRunner()


def test_orgs_create_prints_key_once_and_stores_only_its_hash(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'z.db'}"
    monkeypatch.setenv("ZASLON_DATABASE_URL", url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["orgs", "create", "--kind", "bank", "--name", "Belarusbank", "--bank-id", "AKBBBY2X"])
    assert result.exit_code == 0, result.output
    key = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("api_key:"))
    with make_engine(url).connect() as conn:
        stored = conn.execute(select(api_keys.c.secret_hash, api_keys.c.scopes)).one()
        assert conn.execute(select(orgs.c.kind)).scalar_one() == "bank"
    assert key not in stored.secret_hash and stored.secret_hash.startswith("$argon2id$")
    assert "transfers:write" in stored.scopes.split()
    listing = runner.invoke(app, ["orgs", "list"])
    assert "bank-belarusbank" in listing.stdout and key not in listing.stdout


def test_orgs_create_bad_input_exits_2_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'z.db'}"
    monkeypatch.setenv("ZASLON_DATABASE_URL", url)
    assert runner.invoke(app, ["orgs", "create", "--kind", "casino", "--name", "X"]).exit_code == 2
    assert runner.invoke(app, ["orgs", "create", "--kind", "bank", "--name", "X", "--bank-id", "nope"]).exit_code == 2
    bad_scope = runner.invoke(app, ["orgs", "create", "--kind", "bank", "--name", "X", "--scopes", "root:all"])
    assert bad_scope.exit_code == 2
    assert runner.invoke(app, ["orgs", "create", "--kind", "police", "--name", "Desk"]).exit_code == 0
    assert runner.invoke(app, ["orgs", "create", "--kind", "police", "--name", "Desk"]).exit_code == 2
    with make_engine(url).connect() as conn:
        assert conn.execute(select(orgs.c.org_id)).scalars().all() == ["police-desk"]
        assert len(conn.execute(select(api_keys.c.key_id)).all()) == 1


def test_db_upgrade_to_unknown_revision_exits_2(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ZASLON_DATABASE_URL", f"sqlite:///{tmp_path / 'z.db'}")
    assert runner.invoke(app, ["db", "upgrade", "nope"]).exit_code == 2


def test_revoke_key_once_then_409_like_exit_2(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'z.db'}"
    monkeypatch.setenv("ZASLON_DATABASE_URL", url)
    created = runner.invoke(app, ["orgs", "create", "--kind", "bank", "--name", "Priorbank"])
    key = next(line.split()[1] for line in created.stdout.splitlines() if line.startswith("api_key:"))
    key_id = key.split("_")[1]
    assert runner.invoke(app, ["orgs", "revoke-key", "nosuchkey123"]).exit_code == 2
    done = runner.invoke(app, ["orgs", "revoke-key", key_id])
    assert done.exit_code == 0 and "bank-priorbank" in done.stdout
    again = runner.invoke(app, ["orgs", "revoke-key", key_id])
    assert again.exit_code == 2 and "already revoked" in again.stderr
    with make_engine(url).connect() as conn:
        assert conn.execute(select(api_keys.c.revoked_at)).scalar_one() is not None


def test_orgs_ranges_registers_an_operators_prefixes_and_bad_input_exits_2(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from zaslon.adapters.db.tables_telecom import number_ranges

    url = f"sqlite:///{tmp_path / 'z.db'}"
    monkeypatch.setenv("ZASLON_DATABASE_URL", url)
    for kind, name in (("telecom", "A1"), ("telecom", "MTS"), ("bank", "Belarusbank")):
        assert runner.invoke(app, ["orgs", "create", "--kind", kind, "--name", name]).exit_code == 0
    ok = runner.invoke(app, ["orgs", "ranges", "telecom-a1", "--add", "+375 29", "--add", "+37544"])
    assert ok.exit_code == 0 and ok.stdout.split() == ["+37529", "+37544"], ok.output
    for bad in (["telecom-mts", "--add", "+37529"],  # A1's
                ["telecom-mts", "--add", "+37533", "--add", "37525"],  # no "+": nothing of the call is written
                ["telecom-mts", "--add", "+999"],  # no such country code
                ["bank-belarusbank", "--add", "+37525"],  # a bank serves no numbers
                ["telecom-nope", "--add", "+37525"]):
        assert runner.invoke(app, ["orgs", "ranges", *bad]).exit_code == 2, bad
    with make_engine(url).connect() as conn:
        assert sorted(conn.execute(select(number_ranges.c.prefix)).scalars()) == ["+37529", "+37544"]
    left = runner.invoke(app, ["orgs", "ranges", "telecom-a1", "--remove", "+37544"])
    assert left.exit_code == 0 and left.stdout.split() == ["+37529"]
