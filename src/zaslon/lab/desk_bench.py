"""How fast the desk's pages render on a real database: each page requested ``requests`` times in-process
(the whole app: middleware, session check, store reads, templates), signed in as a temporary supervisor who is
disabled afterwards. The incident page is timed on the incident with the most freeze orders."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.db.tables_core import orgs
from zaslon.adapters.db.tables_orders import freeze_orders
from zaslon.adapters.http.app import create_app
from zaslon.flow.desk import Desk
from zaslon.flow.orgs import create_org
from zaslon.settings import Settings


def run_desk_bench(settings: Settings, *, requests: int = 40) -> dict[str, Any]:
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        police = conn.execute(select(orgs.c.org_id).where(orgs.c.kind == "police").order_by(orgs.c.org_id)).first()
        busiest = conn.execute(select(freeze_orders.c.incident_id).group_by(freeze_orders.c.incident_id)
                               .order_by(func.count().desc()).limit(1)).scalar_one_or_none()
    org_id = police[0] if police else create_org(engine, name="Desk bench", kind="police").org_id
    desk = Desk(engine)
    login, password = f"bench-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    desk.create_user(org_id=org_id, role="supervisor", login=login, password=password)
    pages = {"queue": "/desk/queue", "queue_p2": "/desk/queue?page=2",
             "orders": "/desk/orders", "couriers": "/desk/couriers", "appeals": "/desk/appeals",
             "district": "/desk/district", "audit": "/desk/audit"}
    if busiest is not None:
        pages["incident"] = f"/desk/incidents/{busiest}"
    out: dict[str, dict[str, float]] = {}
    try:
        with TestClient(create_app(settings, db=engine)) as client:
            out["login"] = _time(client, "/desk/login", requests)
            form = client.get("/desk/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token is not None
            signed = client.post("/desk/login", data={"login": login, "password": password,
                                                      "csrf_token": token.group(1)})
            assert signed.status_code == 200, signed.status_code
            for name, path in pages.items():
                out[name] = _time(client, path, requests)
    finally:
        desk.disable_user(login)
        engine.dispose()
    return {"pages": out, "p95_ms_max": max(v["p95_ms"] for v in out.values()), "requests_per_page": requests}


def _time(client: TestClient, path: str, requests: int) -> dict[str, float]:
    client.get(path)  # warm: templates compiled, caches filled
    took = []
    for _ in range(requests):
        t0 = time.perf_counter()
        r = client.get(path, follow_redirects=False)
        took.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{path} answered {r.status_code}")
    return {"p50_ms": round(float(np.percentile(took, 50)), 2), "p95_ms": round(float(np.percentile(took, 95)), 2)}
