"""Fixtures shared by the flow tests: one Exchange on the parametrised test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from zaslon.flow.exchange import Exchange
from zaslon.settings import Settings


@pytest.fixture
def exchange(engine: Engine, db_url: str) -> Iterator[Exchange]:
    x = Exchange(engine, Settings(database_url=db_url))
    yield x
    x.close()
