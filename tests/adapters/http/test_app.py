"""The app factory and its lifespan: typed state, and a shutdown that closes what the app made, nothing else."""

from __future__ import annotations

import gc
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.engine import make_engine
from zaslon.adapters.db.tables_decisions import decisions
from zaslon.adapters.http.app import create_app, serve_app
from zaslon.adapters.http.routes_scoring import ScoreIn
from zaslon.adapters.http.state import AppState, app_state
from zaslon.flow.exchange import Exchange
from zaslon.settings import Settings

TS = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def tx(i: int) -> dict[str, Any]:
    return {"transfer_id": f"A-{i}", "ts": (TS + timedelta(minutes=i)).isoformat(),
            "payer": "BY86AKBB10100000002966000000", "payee": "DE89370400440532013000", "amount": 15000,
            "currency": "BYN"}


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def _settled(before: set[threading.Thread], timeout: float = 5.0) -> set[threading.Thread]:
    """The threads alive now that were not before (waiting a little for those on their way out)."""
    deadline = time.monotonic() + timeout
    while (extra := _threads() - before) and time.monotonic() < deadline:
        time.sleep(0.02)
    return extra


def _exercise(client: TestClient, headers: dict[str, str]) -> set[str]:
    """Every path that starts something: the route (a new key), the fast lane, a batch (the writer thread)."""
    assert client.get("/healthz").status_code == 200
    for i in (1, 2):
        assert client.post("/v1/transfers/score", json=tx(i), headers=headers).status_code == 200
    assert client.post("/v1/transfers/score/batch", json=[tx(3), tx(4)], headers=headers).status_code == 200
    return {t.name for t in _threads()}


def test_the_state_is_one_typed_object(app) -> None:  # type: ignore[no-untyped-def]
    state = app_state(app)
    assert isinstance(state, AppState) and isinstance(state.exchange, Exchange)
    assert state.db is state.exchange.db and state.owns_exchange and not state.owns_db and not state.freeze_heap
    with pytest.raises(AttributeError):
        state.exchange = state.exchange  # type: ignore[misc]  # frozen: built once by the factory


def test_starting_and_stopping_leaves_no_thread_behind(settings: Settings, engine: Engine, bank) -> None:  # type: ignore[no-untyped-def]
    before = _threads()
    frozen = gc.get_freeze_count()
    app = create_app(settings, db=engine)
    with TestClient(app) as client:
        running = _exercise(client, bank.headers)
        assert gc.get_freeze_count() == frozen  # gc.freeze only under `zaslon serve`
    assert "zaslon-decision-writer" in running
    if engine.dialect.name == "sqlite":
        assert "zaslon-wal-checkpoint" in running
    assert _settled(before) == set()
    with engine.connect() as conn:  # the engine was given: still open, and everything answered was stored
        assert conn.execute(select(func.count()).select_from(decisions)).scalar_one() == 4


def test_an_engine_the_app_made_is_disposed(db_url: str, engine: Engine, bank) -> None:  # type: ignore[no-untyped-def]
    before = _threads()
    app = create_app(Settings(database_url=db_url))
    state = app_state(app)
    assert state.owns_db and state.db is not engine
    pool: Any = state.db.pool
    with TestClient(app) as client:
        _exercise(client, bank.headers)
        assert pool.checkedin() + pool.checkedout() > 0
    assert state.db.pool is not pool  # disposed (a new, empty pool in its place) ...
    assert pool.checkedin() == pool.checkedout() == 0  # ... after every connection came back and was closed
    assert _settled(before) == set()


def test_a_given_exchange_stays_open_the_callers_to_close(settings: Settings, engine: Engine, bank) -> None:  # type: ignore[no-untyped-def]
    before = _threads()
    exchange = Exchange(engine, settings)
    app = create_app(exchange=exchange)
    assert not app_state(app).owns_exchange and app_state(app).settings is settings
    with TestClient(app) as client:
        _exercise(client, bank.headers)
    # The app has stopped; the Exchange has not: it still decides and stores.
    [later] = exchange.score(bank.org_id, [ScoreIn.model_validate(tx(9)).to_domain()])
    assert not later.replayed
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(decisions)).scalar_one() == 5
    exchange.close()
    assert _settled(before) == set()


def test_serve_app_freezes_the_heap_and_owns_what_it_builds(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZASLON_DATABASE_URL", db_url)
    app = serve_app()  # not started here: its lifespan would freeze this test process's heap
    state = app_state(app)
    try:
        assert state.freeze_heap and state.owns_exchange and state.owns_db
        assert str(state.db.url) == str(make_engine(db_url).url)
    finally:
        state.exchange.close()
        state.db.dispose()
