"""``zaslon bench stats`` on a small database: the contract's keys, every period answered, the key revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.db.tables_core import api_keys
from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.core.types import Scheme
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport, Victim
from zaslon.flow.orgs import Principal, create_org
from zaslon.flow.ports.stats import HistoryRow
from zaslon.lab.stats_bench import run_stats_bench
from zaslon.settings import Settings


def test_the_bench_writes_the_contract_and_leaves_no_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'z.db'}"
    upgrade(url)
    engine = make_engine(url)
    org = create_org(engine, name="Desk", kind="police").org_id
    police = Principal(org, OrgKind.POLICE, DEFAULT_SCOPES[OrgKind.POLICE])
    x = Exchange(engine, Settings(database_url=url))
    at = datetime(2026, 3, 5, 10, tzinfo=UTC)
    x.report_incident(police, IncidentReport(org, "police", Scheme.VISHING, at,
                                             Victim("p1", age=80, region="Minsk", district="Leninsky"), (),
                                             "the caller used +375291234567"), now=at)
    x.import_incident_history(police, [HistoryRow(f"h{k}", "vishing", at - timedelta(days=365 + k), "Minsk")
                                       for k in range(3)], label="simulated")
    x.close()
    out = run_stats_bench(Settings(database_url=url), requests=5)
    assert {"p50_ms", "p95_ms", "incidents"} <= set(out) and out["p95_ms"] >= out["p50_ms"] > 0
    assert out["incidents"] == 4 and out["incidents_simulated_history"] == 3
    assert out["periods"]["month"] == {**out["periods"]["month"], "from": "2026-03-01", "to": "2026-03-31",
                                       "incidents": 1}
    assert out["periods"]["month_district"]["district"] == "Leninsky"
    with engine.connect() as conn:  # the bench's own key is revoked: only its revocation remains
        keys = conn.execute(select(api_keys.c.person, api_keys.c.revoked_at)).all()
    assert all(revoked is not None for person, revoked in keys if person == "stats bench")
