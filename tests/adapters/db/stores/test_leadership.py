"""One node of several on one database leads housekeeping; the next takes over when it stops."""

from __future__ import annotations

from sqlalchemy import Engine

from zaslon.adapters.db.engine import make_engine
from zaslon.adapters.db.stores.leadership import AdvisoryLeadership
from zaslon.flow.exchange import HOUSEKEEPING_LOCK, Exchange
from zaslon.settings import Settings


def test_one_node_leads_and_another_takes_over_when_it_stops(engine: Engine, db_url: str) -> None:
    other = make_engine(db_url)  # a second node: its own connection pool
    try:
        first, second = AdvisoryLeadership(engine, 7), AdvisoryLeadership(other, 7)
        assert first.leads()
        if engine.dialect.name == "postgresql":
            assert not second.leads()
            assert first.leads()  # holding it is stable
            first.release()
            assert second.leads()
            assert not first.leads()
        else:  # one process owns a SQLite file: it always leads
            assert second.leads()
        second.release()
    finally:
        other.dispose()


def test_a_second_exchange_on_the_same_database_skips_housekeeping(engine: Engine, db_url: str) -> None:
    other = make_engine(db_url)
    a, b = Exchange(engine, Settings(database_url=db_url)), Exchange(other, Settings(database_url=db_url))
    try:
        assert a.housekeep_once()
        assert b.housekeep_once() is (engine.dialect.name != "postgresql")
        a.close()  # the leader stops: the other node runs the next round
        assert b.housekeep_once()
    finally:
        b.close()
        other.dispose()
    assert HOUSEKEEPING_LOCK != 7
