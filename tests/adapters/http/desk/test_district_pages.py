"""District officers at the desk: each sees their own district's list only (another is 403, page and CSV, and
nothing is written), records outreach tasks and their outcomes; the analysts see every district and the
at-door courier risks on the couriers page; the police's API answers the same list."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.adapters.http.desk.forms import csrf_token
from zaslon.adapters.db.tables_district import outreach_tasks
from zaslon.adapters.http.state import app_state
from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.flow.customers import Customer
from zaslon.flow.desk import Desk
from zaslon.flow.orgs import Principal
from zaslon.flow.telecom import CallReport

PASSWORD = "correct horse battery staple"
FRAUD = "+79001234567"


def sign_in(app, login: str) -> TestClient:  # type: ignore[no-untyped-def]
    c = TestClient(app, raise_server_exceptions=False)
    r = c.post("/desk/login", data={"login": login, "password": PASSWORD,
                                    "csrf_token": csrf_token(c.get("/desk/login").text)}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return c


def _tasks(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outreach_tasks)).scalar_one())


@pytest.fixture
def district_world(app, engine, make_org):  # type: ignore[no-untyped-def]
    x = app_state(app).exchange
    police, bank, telecom = make_org("police"), make_org("bank", bank_id="AKBBBY2X"), make_org("telecom")
    as_bank = Principal(bank.org_id, OrgKind.BANK, DEFAULT_SCOPES[OrgKind.BANK], "AKBBBY2X")
    as_telecom = Principal(telecom.org_id, OrgKind.TELECOM, DEFAULT_SCOPES[OrgKind.TELECOM])
    x.register_customers(as_bank, [
        Customer("BY10AKBB0001", "personal", "p-gran", None, date(1947, 5, 1), True, ("+375291112233",),
                 region="Minsk", district="Frunzensky", address="ul. Pritytskogo 10-5"),
        Customer("BY10AKBB0002", "personal", "p-len", None, date(1950, 2, 2), True, ("+375292223344",),
                 region="Minsk", district="Leninsky", address="pr. Nezavisimosti 1-1"),
    ])
    x.report_fraud_numbers(as_telecom, [FRAUD])
    called = datetime.now(UTC) - timedelta(hours=2)
    x.report_calls(as_telecom, [CallReport("c1", called, FRAUD, "+375291112233", None, 900),
                                CallReport("c2", called, FRAUD, "+375292223344", None, 900)])
    assert len(x.raise_courier_risks()) == 2  # two hours and no transfer: a courier may be on the way to both
    desk = Desk(engine)
    for login, role, district in (("ivanov", "district_officer", "Frunzensky"),
                                  ("petrov", "district_officer", "Leninsky"), ("anna", "analyst", None)):
        desk.create_user(org_id=police.org_id, role=role, login=login, password=PASSWORD, district=district)
    return app, police, bank


def test_an_officer_sees_only_their_own_district(district_world, engine) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = district_world
    ivanov = sign_in(app, "ivanov")
    page = ivanov.get("/desk/district")
    assert page.status_code == 200
    assert 'data-person="p-gran"' in page.text and "p-len" not in page.text
    assert "+375291112233" in page.text and "ul. Pritytskogo 10-5" in page.text  # the contact details
    assert 'class="courier-risk"' in page.text
    assert ivanov.get("/desk/district", params={"district": "Frunzensky"}).status_code == 200
    other = ivanov.get("/desk/district", params={"district": "Leninsky"})
    assert other.status_code == 403 and "p-len" not in other.text
    export = ivanov.get("/desk/district.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(export.text)))
    assert (row["person"], row["district"], row["lives_alone"], row["phones"]) == (
        "p-gran", "Frunzensky", "true", "+375291112233")
    assert row["reasons"] == "courier_risk=1 flagged_call=1"
    assert ivanov.get("/desk/district.csv", params={"district": "Leninsky"}).status_code == 403
    # An analyst's pages stay closed to an officer.
    assert ivanov.get("/desk/queue").status_code == 403
    # Nor can an officer make a task in another district: 403, nothing written.
    token = csrf_token(page.text)
    r = ivanov.post("/desk/district/tasks", data={"csrf_token": token, "district": "Leninsky", "person": "p-len",
                                                  "kind": "visit"}, follow_redirects=False)
    assert r.status_code == 403 and _tasks(engine) == 0


def test_outreach_task_and_its_outcome(district_world, engine) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = district_world
    ivanov, petrov = sign_in(app, "ivanov"), sign_in(app, "petrov")
    token = csrf_token(ivanov.get("/desk/district").text)
    r = ivanov.post("/desk/district/tasks", data={"csrf_token": token, "district": "Frunzensky", "person": "p-gran",
                                                  "kind": "call_blocking"}, follow_redirects=False)
    assert r.status_code == 303 and _tasks(engine) == 1
    bad = ivanov.post("/desk/district/tasks", data={"csrf_token": token, "district": "Frunzensky",
                                                    "person": "p-gran", "kind": "tea"}, follow_redirects=False)
    assert bad.status_code == 422 and _tasks(engine) == 1
    [task_id] = re.findall(r'data-task="([^"]+)"', ivanov.get("/desk/district").text)
    # Another district's officer cannot record its outcome.
    r = petrov.post(f"/desk/district/tasks/{task_id}/outcome",
                    data={"csrf_token": csrf_token(petrov.get("/desk/district").text), "outcome": "visited"},
                    follow_redirects=False)
    assert r.status_code == 403
    r = ivanov.post(f"/desk/district/tasks/{task_id}/outcome",
                    data={"csrf_token": token, "outcome": "blocking_installed", "note": "set up on her phone"},
                    follow_redirects=False)
    assert r.status_code == 303
    again = ivanov.post(f"/desk/district/tasks/{task_id}/outcome", data={"csrf_token": token, "outcome": "visited"},
                        follow_redirects=False)
    assert again.status_code == 409
    with engine.connect() as conn:
        row = conn.execute(select(outreach_tasks)).mappings().one()
    assert (row["outcome"], row["done_by"], row["kind"]) == ("blocking_installed", "ivanov", "call_blocking")
    assert row["done_at"] is not None
    assert "set up on her phone" in ivanov.get("/desk/district").text
    [row_csv] = list(csv.DictReader(io.StringIO(ivanov.get("/desk/district.csv").text)))
    assert (row_csv["open_tasks"], row_csv["done_tasks"]) == ("", "call_blocking:blocking_installed")


def test_analysts_see_every_district_and_the_courier_risks(district_world) -> None:  # type: ignore[no-untyped-def]
    app, police, bank = district_world
    anna = sign_in(app, "anna")
    page = anna.get("/desk/district", params={"district": "Leninsky"})
    assert page.status_code == 200 and 'data-person="p-len"' in page.text
    couriers = anna.get("/desk/couriers").text
    assert 'data-risk="p-gran"' in couriers and 'data-risk="p-len"' in couriers
    c = TestClient(app)
    r = c.get("/v1/district/Frunzensky/targets", headers=police.headers)
    assert r.status_code == 200
    [entry] = r.json()["targets"]
    assert entry["person"] == "p-gran" and entry["reasons"] == {"flagged_call": 1, "courier_risk": 1}
    assert entry["phones"] == ["+375291112233"] and entry["address"] == "ul. Pritytskogo 10-5"
    export = c.get("/v1/district/Frunzensky/targets", params={"format": "csv"}, headers=police.headers)
    assert export.status_code == 200 and "p-gran" in export.text
    assert c.get("/v1/district/Frunzensky/targets", headers=bank.headers).status_code == 403
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert c.post("/v1/district/courier-risks/evaluate", json={"at": future},
                  headers=police.headers).status_code == 422
