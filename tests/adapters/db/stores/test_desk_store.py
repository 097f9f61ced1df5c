"""The desk store on SQLite and PostgreSQL: "take next" never hands one incident to two analysts (racing
threads), and an edit made on a stale version is refused with nothing written."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from zaslon.core.knowledge import Knowledge
from zaslon.core.types import Scheme
from zaslon.errors import Conflict
from zaslon.flow.desk import Desk
from zaslon.flow.intake import IncidentReport, Victim, intake_incident
from zaslon.flow.orgs import create_org


@pytest.fixture
def desk(engine: Engine) -> tuple[Desk, list[str]]:
    police = create_org(engine, name="Cyber unit", kind="police").org_id
    now = datetime.now(UTC)
    incidents = []
    for i in range(6):
        report = IncidentReport(police, "police", Scheme.VISHING, now - timedelta(minutes=60 - i),
                                Victim(f"p-{i}", f"Victim {i}", None, 80 if i == 4 else 40, i == 4), (),
                                f"called from +37529{i:07d}", external_ref=f"r{i}")
        incidents.append(intake_incident(engine, Knowledge(), report, card_pepper=b"x").incident.incident_id)
    d = Desk(engine)
    for name in ("anna", "boris", "sofia"):
        d.create_user(org_id=police, role="analyst", login=name, password="correct horse battery staple")
    return d, incidents


def test_take_next_under_racing_analysts_hands_each_incident_out_once(desk) -> None:  # type: ignore[no-untyped-def]
    d, incidents = desk
    users = [d.store.user_by_login(n) for n in ("anna", "boris", "sofia")]
    got: list[str | None] = []
    lock = threading.Lock()

    def grab(user) -> None:  # type: ignore[no-untyped-def]
        for _ in range(4):
            x = d.take_next(user)
            with lock:
                got.append(x)

    threads = [threading.Thread(target=grab, args=(u,)) for u in users for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    claimed = [x for x in got if x is not None]
    assert sorted(claimed) == sorted(incidents)  # all taken, none twice
    assert got.count(None) == len(got) - len(incidents)


def test_priority_then_age_and_a_stale_edit(desk) -> None:  # type: ignore[no-untyped-def]
    d, incidents = desk
    anna = d.store.user_by_login("anna")
    assert anna is not None
    assert d.take_next(anna) == incidents[4]  # 80 and living alone first
    assert d.take_next(anna) == incidents[0]  # then the oldest
    item = d.item(incidents[1])
    d.snooze(anna, incidents[1], until=datetime.now(UTC) + timedelta(hours=1), version=item.version)
    with pytest.raises(Conflict):
        d.close(anna, incidents[1], reason="duplicate", version=item.version)
    assert d.item(incidents[1]).closed_at is None
    assert d.take_next(anna) == incidents[2]  # the snoozed one is skipped
