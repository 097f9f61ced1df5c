"""Exchanges for the TAXII tests: a migrated SQLite exchange, its app served by uvicorn on a loopback port."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.http.app import create_app
from zaslon.adapters.http.lanes import ZaslonAPI
from zaslon.adapters.http.state import app_state
from zaslon.core.access import OrgKind
from zaslon.core.types import Scheme
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport
from zaslon.flow.orgs import CreatedOrg, Principal, create_org
from zaslon.settings import Settings


@dataclass
class Country:
    """One country's exchange: its store, its app (and Exchange), a bank that reports to it."""

    settings: Settings
    engine: Engine
    app: ZaslonAPI
    bank: CreatedOrg

    @property
    def exchange(self) -> Exchange:
        return app_state(self.app).exchange

    def report(self, text: str, at: datetime | None = None, scheme: Scheme = Scheme.VISHING) -> str:
        principal = Principal(self.bank.org_id, OrgKind.BANK, frozenset({"incidents:write"}), None)
        out = self.exchange.report_incident(principal, IncidentReport(
            self.bank.org_id, "bank", scheme, at or datetime.now(UTC), text=text))
        return out.intake.incident.incident_id


def country(tmp_path: Path, code: str, **settings: object) -> Country:
    url = f"sqlite:///{tmp_path / f'{code.lower()}.db'}"
    upgrade(url)
    cfg = Settings(database_url=url, exchange_name=f"Zaslon {code}", country=code, **settings)  # type: ignore[arg-type]
    engine = make_engine(url)
    # Belarusbank: the tests' transfers are its customers' (a bank submits only those).
    bank = create_org(engine, name=f"Bank of {code}", kind="bank", bank_id={"BY": "AKBBBY2X"}.get(code))
    return Country(cfg, engine, create_app(cfg, db=engine), bank)


