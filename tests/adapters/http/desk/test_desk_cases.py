"""Cases at the desk: merge and split with a reason and on the version shown (stale: 409, nothing changes),
confirm, and export as JSON and CSV."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from zaslon.adapters.http.state import app_state

PASSWORD = "correct horse battery staple"


def _sign_in(app) -> TestClient:  # type: ignore[no-untyped-def]
    c = TestClient(app, raise_server_exceptions=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/desk/login").text).group(1)  # type: ignore[union-attr]
    assert c.post("/desk/login", data={"login": "anna", "password": PASSWORD, "csrf_token": token}).status_code == 200
    return c


def test_merge_split_confirm_and_export(desk_world) -> None:  # type: ignore[no-untyped-def]
    cases = app_state(desk_world.app).exchange.cases
    anna = _sign_in(desk_world.app)
    listing = anna.get("/desk/cases")
    assert listing.status_code == 200
    ids = re.findall(r'data-case="([^"]+)"', listing.text)
    assert len(ids) == 3  # one case per incident: nothing links them
    a, b = sorted(ids)[:2]
    page = anna.get(f"/desk/cases/{a}")
    assert page.status_code == 200 and 'id="infrastructure"' in page.text  # the group report, as tables
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    va = cases.get(a).version
    r = anna.post(f"/desk/cases/{a}/merge", data={"csrf_token": token, "other": b, "version": va, "reason": ""})
    assert r.status_code == 422 and len(cases.get(a).incident_ids) == 1
    r = anna.post(f"/desk/cases/{a}/merge", data={"csrf_token": token, "other": b, "version": va + 5,
                                                  "reason": "same caller"})
    assert r.status_code == 409 and len(cases.get(a).incident_ids) == 1
    r = anna.post(f"/desk/cases/{a}/merge", data={"csrf_token": token, "other": b, "version": va,
                                                  "reason": "same caller"})
    assert r.status_code == 200
    merged = cases.get(a)
    assert len(merged.incident_ids) == 2 and cases.get(b).status == "merged"
    moved = merged.incident_ids[1]
    r = anna.post(f"/desk/cases/{a}/split", data={"csrf_token": token, "incident": moved, "version": merged.version,
                                                  "reason": "different scheme"})
    assert r.status_code == 200 and moved not in cases.get(a).incident_ids
    r = anna.post(f"/desk/cases/{a}/confirm", data={"csrf_token": token, "version": cases.get(a).version})
    assert r.status_code == 200 and cases.get(a).status == "confirmed"
    exported = anna.get(f"/desk/cases/{a}/export.json")
    assert exported.status_code == 200 and json.loads(exported.text)
    csv = anna.get(f"/desk/cases/{a}/export.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv") and "," in csv.text
    assert anna.get("/desk/cases/case-999999").status_code == 404
    assert anna.get("/desk/cases?status=lost").status_code == 422
