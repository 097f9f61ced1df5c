"""The desk's statistics page: who may open it, its charts and filters, the CSV export, and a bad period."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.adapters.http.desk.forms import csrf_token
from zaslon.adapters.http.state import app_state
from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.flow.orgs import Principal
from zaslon.flow.ports.stats import HistoryRow

PASSWORD = "correct horse battery staple"


def sign_in(app, login: str) -> TestClient:  # type: ignore[no-untyped-def]
    c = TestClient(app, raise_server_exceptions=False)
    token = csrf_token(c.get("/desk/login").text)
    r = c.post("/desk/login", data={"login": login, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 200, r.status_code
    return c


def _period() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}


def test_the_page_draws_its_charts_and_labels_the_simulated_history(desk_world) -> None:  # type: ignore[no-untyped-def]
    exchange = app_state(desk_world.app).exchange
    police = Principal(desk_world.police.org_id, OrgKind.POLICE, DEFAULT_SCOPES[OrgKind.POLICE])
    a_week_ago = datetime.now(UTC) - timedelta(days=7)
    exchange.import_incident_history(police, [HistoryRow("h1", "vishing", a_week_ago, "Minsk", "Frunzensky", 81,
                                                         True, 120_000)], label="simulated")
    anna = sign_in(desk_world.app, "anna")
    assert 'href="/desk/stats"' in anna.get("/desk/queue").text  # in the navigation
    r = anna.get("/desk/stats", params=_period())
    assert r.status_code == 200
    page = r.text
    assert page.count("<svg") >= 4 and 'id="simulated"' in page and "@media print" not in page
    # Three reported vishing incidents and the simulated one: four of the type, one of them simulated.
    assert '<text class="val"' in page and ">4<" in page.replace(" ", "")
    assert "Frunzensky" in page and "PJCBBY2X" in page  # the district table and the banks table
    assert anna.get("/desk/static/desk.css").text.count("@media print") == 1
    # The default period (the last year) opens too.
    assert anna.get("/desk/stats").status_code == 200


def test_the_csv_export_holds_the_same_figures(desk_world) -> None:  # type: ignore[no-untyped-def]
    sofia = sign_in(desk_world.app, "sofia")
    r = sofia.get("/desk/stats.csv", params=_period())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["section", "key", "field", "value"]
    cells = {(s, k, f): v for s, k, f, v in rows[1:]}
    assert cells[("incidents", "total", "")] == "3" and cells[("incidents_by_type", "vishing", "")] == "3"
    assert cells[("incidents_by_region", "unknown", "")] == "3"
    api = sofia.get("/v1/stats", params=_period(), headers=desk_world.police.headers).json()
    assert int(cells[("money_byn_minor", "stolen", "")]) == api["money"]["stolen"] > 0
    assert ("bank_ack_sla", "PJCBBY2X", "orders") in cells


def test_a_bad_period_is_422_and_a_district_officer_is_refused(desk_world) -> None:  # type: ignore[no-untyped-def]
    anna = sign_in(desk_world.app, "anna")
    r = anna.get("/desk/stats", params={"from": "2026-03-31", "to": "2026-03-01"})
    assert r.status_code == 422 and "inverted" in r.text
    assert anna.get("/desk/stats.csv", params={"from": "2026-03-31", "to": "2026-03-01"}).status_code == 422
    dmitry = TestClient(desk_world.app, raise_server_exceptions=False)
    dmitry.post("/desk/login", data={"login": "dmitry", "password": PASSWORD,
                                     "csrf_token": csrf_token(dmitry.get("/desk/login").text)})
    assert dmitry.get("/desk/stats").status_code == 403
    assert dmitry.get("/desk/stats.csv").status_code == 403
