"""The SQL telecom store on both databases: fraud numbers per reporter, calls idempotent per batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from zaslon.adapters.db.stores.telecom import SqlTelecomStore
from zaslon.errors import Conflict
from zaslon.flow.ports.telecom import FraudNumberReport, TelecomStore
from zaslon.flow.telecom import CallReport

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def tel(make_org) -> str:  # type: ignore[no-untyped-def]
    return str(make_org("telecom", "A1").org_id)


def test_fraud_numbers_are_new_once_per_reporter(engine: Engine, tel: str, make_org) -> None:  # type: ignore[no-untyped-def]
    other = make_org("telecom", "MTS").org_id
    store: TelecomStore = SqlTelecomStore(engine)
    assert store.add_fraud_numbers(tel, ["+375291112233", "+375447654321"], "calls", NOW) == 2
    assert store.add_fraud_numbers(tel, ["+375291112233"], None, NOW + timedelta(hours=1)) == 0
    assert store.add_fraud_numbers(other, ["+375291112233"], None, NOW + timedelta(hours=1)) == 1
    assert store.add_fraud_numbers(other, [], None, NOW) == 0
    reports = store.fraud_number_reports()
    assert [r.phone for r in reports] == ["+375291112233", "+375291112233", "+375447654321"]
    assert FraudNumberReport("+375447654321", tel, "telecom", NOW) in reports


def test_calls_are_stored_once_and_a_changed_body_conflicts(engine: Engine, tel: str) -> None:
    store: TelecomStore = SqlTelecomStore(engine)
    a = CallReport("c1", NOW, "+375291112233", "+375297654321", "p-1", 60)
    b = CallReport("c2", NOW, "+375291112233", "+375297654322")
    assert store.add_calls(tel, [a], {"c1": "h1"}, NOW) == [a]
    assert store.add_calls(tel, [a, b], {"c1": "h1", "c2": "h2"}, NOW) == [b]
    c = CallReport("c3", NOW, "+375291112233", "+375297654323")
    with pytest.raises(Conflict, match="c1"):
        store.add_calls(tel, [a, c], {"c1": "changed", "c3": "h3"}, NOW)
    assert store.add_calls(tel, [c], {"c3": "h3"}, NOW) == [c]  # the failed batch wrote nothing
