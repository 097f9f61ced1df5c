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


# ---------------------------------------------------------------- the police desk's small world
DESK_PASSWORD = "correct horse battery staple"


@dataclass
class DeskWorld:
    """Three reported incidents (the first traced through two drops to an ATM), their orders, a cash-out alert,
    a pending appeal, and desk users: anna and boris (analysts), sofia (supervisor), dmitry (district officer)."""

    app: object
    engine: Engine
    police: Org
    banks: dict[str, Org]
    incidents: list[str]
    orders: list[str]
    appeal_id: str


@pytest.fixture
def desk_world(app, engine: Engine, make_org) -> DeskWorld:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from zaslon.core.access import DEFAULT_SCOPES, OrgKind
    from zaslon.core.types import Atm, Channel, Scheme, Transfer
    from zaslon.flow.desk import Desk
    from zaslon.flow.intake import IncidentReport, Victim
    from zaslon.flow.orgs import Principal

    exchange = app_state(app).exchange
    police = make_org("police", "Cyber unit")
    banks = {"AKBBBY2X": make_org("bank", "Belarusbank", bank_id="AKBBBY2X"),
             "PJCBBY2X": make_org("bank", "Priorbank", bank_id="PJCBBY2X")}
    who = {bic: Principal(o.org_id, OrgKind.BANK, DEFAULT_SCOPES[OrgKind.BANK], bic) for bic, o in banks.items()}
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)

    def t(tid: str, minutes: float, payer: str, payee: str, amount: int, payer_bank: str, payee_bank: str | None,
          atm: Atm | None = None) -> Transfer:
        return Transfer(tid, t0 + timedelta(minutes=minutes), payer, payee, amount, "BYN",
                        Channel.ATM if atm else Channel.MOBILE, payer_bank=payer_bank, payee_bank=payee_bank,
                        payee_country="BY", atm=atm)

    bb, prior = "AKBBBY2X", "PJCBBY2X"
    exchange.score(banks[bb].org_id, [t("t1", 0, "BY10AKBB0001", "BY20PJCB0002", 500_000, bb, prior)])
    exchange.score(banks[prior].org_id, [t("t2", 10, "BY20PJCB0002", "BY30PJCB0003", 480_000, prior, prior)])
    exchange.score(banks[prior].org_id, [t("t3", 20, "BY30PJCB0003", "CASH", 100_000, prior, None,
                                           Atm("ATM-MINSK-17", 53.9, 27.56, "Minsk"))])
    exchange.score(banks[bb].org_id, [t("t10", 40, "BY11AKBB0011", "BY40PJCB0004", 200_000, bb, prior)])
    exchange.score(banks[bb].org_id, [t("t20", 60, "BY12AKBB0012", "BY50PJCB0005", 90_000, bb, prior)])
    victims = [Victim("p-ivanova", "Ivanova N. P.", "+375291112233", 78, True),
               Victim("p-petrov", "Petrov A. S.", "+375292223344", 45, False),
               Victim("p-sidorova", "Sidorova E. V.", None, 69, False)]
    incidents, orders = [], []
    for victim, tid, minutes in zip(victims, ("t1", "t10", "t20"), (30, 50, 70), strict=True):
        out = exchange.report_incident(who[bb], IncidentReport(
            banks[bb].org_id, "bank", Scheme.VISHING, t0 + timedelta(minutes=minutes), victim, (tid,),
            "Caller posing as bank security; paid to BY20PJCB0002", external_ref=f"ref-{tid}"))
        incidents.append(out.intake.incident.incident_id)
        orders += [o.order_id for o in out.orders]
    # After the trace the drop is known: its next withdrawal is a courier lead.
    exchange.score(banks[prior].org_id, [t("t4", 175, "BY30PJCB0003", "CASH", 50_000, prior, None,
                                           Atm("ATM-BREST-3", 52.1, 23.7, "Brest"))])
    appeal = exchange.file_appeal(who[prior], account_id="BY20PJCB0002", reason="my salary account",
                                  contact="+375290000000")
    desk = Desk(engine)
    for login, role in (("anna", "analyst"), ("boris", "analyst"), ("sofia", "supervisor"),
                        ("dmitry", "district_officer")):
        desk.create_user(org_id=police.org_id, role=role, login=login, password=DESK_PASSWORD)
    return DeskWorld(app, engine, police, banks, incidents, orders, appeal["appeal_id"])
