"""Shared fixtures: every storage/API test runs on SQLite and, under `make test`, on PostgreSQL too."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.http.app import create_app
from zaslon.adapters.http.state import app_state
from zaslon.flow.orgs import create_org
from zaslon.settings import Settings

PG_URL = os.environ.get("ZASLON_TEST_POSTGRES_URL")
_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=_BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or a new schema in the throwaway PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'zaslon.db'}"
        upgrade(url)
        yield url
        return
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("ZASLON_TEST_POSTGRES_URL is not set: run the tests through `make test`")
        pytest.skip("no PostgreSQL: run through `make test` (scripts/with-postgres.sh)")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url)


@pytest.fixture
def app(settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    app = create_app(settings, db=engine)
    yield app
    app_state(app).exchange.close()  # an app the test never started has no shutdown to close it (idempotent)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@dataclass
class Org:
    org_id: str
    key: str
    bank_id: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def make_org(engine: Engine):  # type: ignore[no-untyped-def]
    """make_org(kind, name=None, bank_id=None, scopes=None) -> Org with a fresh API key."""

    def _make(kind: str, name: str | None = None, bank_id: str | None = None,
              scopes: frozenset[str] | None = None) -> Org:
        created = create_org(engine, name=name or f"{kind} {uuid.uuid4().hex[:6]}", kind=kind,
                             bank_id=bank_id, scopes=scopes)
        return Org(created.org_id, created.api_key, bank_id)

    return _make


@pytest.fixture
def bank(make_org) -> Org:  # type: ignore[no-untyped-def]
    return make_org("bank", "Belarusbank", bank_id="AKBBBY2X")


@pytest.fixture
def other_bank(make_org) -> Org:  # type: ignore[no-untyped-def]
    return make_org("bank", "Priorbank", bank_id="PJCBBY2X")


@pytest.fixture
def police(make_org) -> Org:  # type: ignore[no-untyped-def]
    return make_org("police", "Cyber unit 24/7 desk")
