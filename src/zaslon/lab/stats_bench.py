"""How fast ``GET /v1/stats`` answers on a real database: the whole app in-process (auth, route, store, JSON),
with a temporary police key (``stats:read``) revoked afterwards.

The database is the small demo's by default, with the world's simulated history imported first when it holds
none (``incidents_history.parquet``, written from the world's files if the world has none yet). Each period
is asked ``requests`` times after one warm-up: the demo's month, the whole span (two years and the window),
a year, and the month for one region and for one of its districts."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.db.tables_core import orgs
from zaslon.adapters.db.tables_incidents import incident_history, incidents
from zaslon.adapters.http.app import create_app
from zaslon.flow.orgs import create_key, create_org, revoke_key
from zaslon.flow.ports.stats import HistoryRow
from zaslon.flow.stats import import_history
from zaslon.settings import Settings
from zaslon.simulate import history as sim_history


def ensure_history(engine: Any, world: Path | None, police_org: str, *, years: int = 2) -> int:
    """Import the world's simulated history if the database holds none; returns how many were imported."""
    from zaslon.adapters.db.stores.stats import SqlStatsStore

    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(incident_history)).scalar_one():
            return 0
    if world is None or not (world / "incidents.parquet").is_file():
        return 0
    if not (world / sim_history.FILE).is_file():
        import json

        manifest = json.loads((world / "manifest.json").read_text())
        start = datetime.fromisoformat(manifest["start"].replace("Z", "+00:00"))
        sim_history.write_history(world, years=years, seed=int(manifest["seed"]), start=start,
                                  days=int(manifest["days"]), preset=str(manifest["preset"]))
    h = pl.read_parquet(world / sim_history.FILE)
    rows = [HistoryRow(hid, scheme, at, region, district, None if age is None else int(age), alone,
                       None if stolen is None else int(stolen))
            for hid, scheme, at, region, district, age, alone, stolen in h.select(
                "history_id", "scheme", "reported_at", "region", "district", "victim_age", "victim_lives_alone",
                "stolen").iter_rows()]
    return import_history(SqlStatsStore(engine), rows, label="simulated", by_org=police_org,
                          now=datetime.now(UTC))["added"]


def _periods(engine: Any) -> dict[str, dict[str, str]]:
    with engine.connect() as conn:
        first = min(v for v in (conn.execute(select(func.min(t.c.reported_at))).scalar()
                                for t in (incidents, incident_history)) if v is not None)
        last = conn.execute(select(func.max(incidents.c.reported_at))).scalar()
        reported = [str(v)[:7] for v in conn.execute(select(incidents.c.reported_at)).scalars()]
        top = conn.execute(select(incidents.c.victim_region, incidents.c.victim_district)
                           .where(incidents.c.victim_district.is_not(None))
                           .group_by(incidents.c.victim_region, incidents.c.victim_district)
                           .order_by(func.count().desc()).limit(1)).first()
    first_day = str(first)[:10]
    last_day = str(last or first)[:10]
    # The month most incidents were reported in (the demo's window), first to last day.
    busiest = Counter(reported).most_common(1)[0][0] if reported else last_day[:7]
    y, m = int(busiest[:4]), int(busiest[5:7])
    month = {"from": f"{busiest}-01",
             "to": (date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)).isoformat()}
    end = datetime.fromisoformat(last_day)
    year_ago = (end - timedelta(days=364)).date().isoformat()
    out = {"month": month, "all": {"from": first_day, "to": last_day}, "year": {"from": year_ago, "to": last_day}}
    if top is not None:
        out["month_region"] = {**month, "region": top[0]}
        out["month_district"] = {**month, "region": top[0], "district": top[1]}
    return out


def run_stats_bench(settings: Settings, *, world: Path | None = None, requests: int = 30) -> dict[str, Any]:
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        police = conn.execute(select(orgs.c.org_id).where(orgs.c.kind == "police").order_by(orgs.c.org_id)).first()
    org_id = police[0] if police else create_org(engine, name="Stats bench", kind="police").org_id
    imported = ensure_history(engine, world, org_id)
    key = create_key(engine, org_id, frozenset({"stats:read"}), person="stats bench")
    periods = _periods(engine)
    took: dict[str, list[float]] = {}
    sample: dict[str, Any] = {}
    try:
        with TestClient(create_app(settings, db=engine)) as client:
            headers = {"Authorization": f"Bearer {key.api_key}"}
            for name, params in periods.items():
                r = client.get("/v1/stats", params=params, headers=headers)  # warm: key cached, code loaded
                if r.status_code != 200:
                    raise RuntimeError(f"/v1/stats {params} answered {r.status_code}: {r.text[:200]}")
                sample[name] = r.json()
                took[name] = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    r = client.get("/v1/stats", params=params, headers=headers)
                    took[name].append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 200:
                        raise RuntimeError(f"/v1/stats answered {r.status_code}")
    finally:
        revoke_key(engine, key.key_id)
        engine.dispose()
    every = [t for ts in took.values() for t in ts]
    whole = sample["all"]
    return {
        "p50_ms": round(float(np.percentile(every, 50)), 2),
        "p95_ms": round(float(np.percentile(every, 95)), 2),
        "incidents": whole["incidents"],
        "incidents_reported": whole["incidents_reported"],
        "incidents_simulated_history": (whole["simulated_history"] or {}).get("incidents", 0),
        "history_imported_now": imported,
        "requests_per_period": requests,
        "periods": {name: {**periods[name], "incidents": sample[name]["incidents"],
                           "p50_ms": round(float(np.percentile(ts, 50)), 2),
                           "p95_ms": round(float(np.percentile(ts, 95)), 2)} for name, ts in took.items()},
        "target": {"p95_ms": 300},
        "database": settings.database_url.split("://", 1)[0],
    }
