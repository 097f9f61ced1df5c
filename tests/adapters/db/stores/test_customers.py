"""The SQL customer store on both databases: a batch replaced in one transaction, owned by its first bank."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from zaslon.adapters.db.stores.customers import SqlCustomerStore
from zaslon.errors import InvalidInput
from zaslon.flow.ports.customers import Customer, CustomerStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_profiles_round_trip_and_belong_to_their_bank(engine: Engine) -> None:
    store: CustomerStore = SqlCustomerStore(engine)
    a = Customer("acc-1", "personal", "cust-1", NOW, date(1950, 1, 2), True, ("+375291112233", "+375291112234"),
                 (), ("h1", "h2"))
    b = Customer("acc-2")
    store.replace("AKBBBY2X", "bank-a", [a, b], NOW)
    assert sorted(store.load(), key=lambda c: c.account_id) == [a, b]
    a2 = Customer("acc-1", "merchant")
    store.replace("AKBBBY2X", "bank-a", [a2], NOW)
    with pytest.raises(InvalidInput, match="acc-1"):  # another bank's customer: the body is refused
        store.replace("PJCBBY2X", "bank-b", [Customer("acc-3"), Customer("acc-1")], NOW)
    assert sorted(store.load(), key=lambda c: c.account_id) == [a2, b]  # acc-3 not written either
