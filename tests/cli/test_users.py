"""`zaslon users create|disable|reset-password` (a one-time password printed, or read from stdin; stored only as
an argon2 hash; bad input exits 2 and writes nothing) and `zaslon bench desk --json` (the figures' shape)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from zaslon.adapters.db.engine import make_engine
from zaslon.adapters.db.tables_desk import desk_users
from zaslon.cli import app
from zaslon.flow.desk import Desk

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'z.db'}"
    monkeypatch.setenv("ZASLON_DATABASE_URL", url)
    assert runner.invoke(app, ["orgs", "create", "--kind", "police", "--name", "Desk"]).exit_code == 0
    bank = ["orgs", "create", "--kind", "bank", "--name", "Bank", "--bank-id", "AKBBBY2X"]
    assert runner.invoke(app, bank).exit_code == 0
    return url


def _users(url: str) -> int:
    with make_engine(url).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(desk_users)).scalar_one())


def test_create_prints_a_one_time_password_that_signs_in(url: str) -> None:
    r = runner.invoke(app, ["users", "create", "--org", "police-desk", "--role", "analyst", "--name", "ivanov"])
    assert r.exit_code == 0, r.output
    password = next(line.split()[1] for line in r.stdout.splitlines() if line.startswith("password:"))
    with make_engine(url).connect() as conn:
        stored = conn.execute(select(desk_users.c.password_hash)).scalar_one()
    assert password not in stored and stored.startswith("$argon2id$")
    assert Desk(make_engine(url)).login("ivanov", password)[0]
    r = runner.invoke(app, ["users", "create", "--org", "police-desk", "--role", "supervisor", "--name", "petrova",
                            "--password-stdin"], input="a long enough passphrase\n")
    assert r.exit_code == 0 and "password:" not in r.stdout
    assert Desk(make_engine(url)).login("petrova", "a long enough passphrase")[0]
    r = runner.invoke(app, ["users", "create", "--org", "police-desk", "--role", "analyst", "--name", "sidorov"],
                      input="piped in, no flag needed\n")
    assert r.exit_code == 0 and "password:" not in r.stdout
    assert Desk(make_engine(url)).login("sidorov", "piped in, no flag needed")[0]
    r = runner.invoke(app, ["users", "reset-password", "ivanov"])
    new = r.stdout.split()[1]
    assert r.exit_code == 0 and new != password and Desk(make_engine(url)).login("ivanov", new)[0]
    assert runner.invoke(app, ["users", "disable", "ivanov"]).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "ivanov"]).exit_code == 2  # disabled already


def test_a_district_officer_gets_their_district_and_no_other_role_has_one(url: str) -> None:
    r = runner.invoke(app, ["users", "create", "--org", "police-desk", "--role", "district_officer", "--name",
                            "sidorov", "--district", " Frunzensky "], input="a long enough passphrase\n")
    assert r.exit_code == 0 and "district Frunzensky" in r.stdout, r.output
    with make_engine(url).connect() as conn:
        assert conn.execute(select(desk_users.c.district)).scalar_one() == "Frunzensky"
    r = runner.invoke(app, ["users", "create", "--org", "police-desk", "--role", "analyst", "--name", "ivanov",
                            "--district", "Leninsky"], input="a long enough passphrase\n")
    assert r.exit_code == 2 and _users(url) == 1


def test_bad_input_exits_2_and_writes_nothing(url: str) -> None:
    for args, stdin in ((["--org", "police-desk", "--role", "chief", "--name", "x1"], None),
                        (["--org", "nobody", "--role", "analyst", "--name", "x2"], None),
                        (["--org", "bank-bank", "--role", "analyst", "--name", "x3"], None),
                        (["--org", "police-desk", "--role", "analyst", "--name", "Bad Name!"], None),
                        (["--org", "police-desk", "--role", "analyst", "--name", "x4", "--password-stdin"], "short\n"),
                        (["--org", "police-desk", "--role", "analyst", "--name", "x5", "--password-stdin"], "")):
        r = runner.invoke(app, ["users", "create", *args], input=stdin)
        assert r.exit_code == 2, (args, r.output)
    assert _users(url) == 0
    assert runner.invoke(app, ["users", "disable", "nobody"]).exit_code == 2
    one_letter = ["users", "create", "--org", "police-desk", "--role", "analyst", "--name", "a"]
    assert runner.invoke(app, one_letter).exit_code == 2
    ok = ["users", "create", "--org", "police-desk", "--role", "analyst", "--name", "anna"]
    assert runner.invoke(app, ok).exit_code == 0
    assert runner.invoke(app, ok).exit_code == 2 and _users(url) == 1  # the name is taken


def test_bench_desk_writes_its_figures(url: str, tmp_path: Path) -> None:
    out = tmp_path / "desk.json"
    r = runner.invoke(app, ["bench", "desk", "--json", str(out), "--requests", "5"])
    assert r.exit_code == 0, r.output
    figures = json.loads(out.read_text())
    assert {"queue", "orders", "couriers", "appeals", "district", "audit", "login"} <= set(figures["pages"])
    assert all(set(v) == {"p50_ms", "p95_ms"} for v in figures["pages"].values())
    assert figures["p95_ms_max"] == max(v["p95_ms"] for v in figures["pages"].values())
