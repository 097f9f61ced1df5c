"""UtcDateTime: aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, Table, func, insert, select
from sqlalchemy.exc import StatementError

from zaslon.adapters.db.types import UtcDateTime

_meta = MetaData()
_stamps = Table(
    "utc_stamps", _meta,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=True),
)
# The same column as the migrations create it: what was stored before UtcDateTime, or by other code.
_plain = Table("utc_stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", DateTime(timezone=True)))

MINSK = timezone(timedelta(hours=3))


@pytest.fixture
def db(engine: Engine) -> Engine:
    _meta.create_all(engine)
    return engine


def test_reads_back_aware_utc(db: Engine) -> None:
    at = datetime(2026, 3, 4, 12, 15, 30, 250_000, tzinfo=MINSK)
    with db.begin() as conn:
        conn.execute(insert(_stamps), [{"id": 1, "at": at}, {"id": 2, "at": None}])
    with db.connect() as conn:
        if db.dialect.name == "postgresql":  # timestamptz comes back in the session's zone: UtcDateTime makes it UTC
            conn.exec_driver_sql("SET TIME ZONE 'Europe/Minsk'")
        got = dict(conn.execute(select(_stamps.c.id, _stamps.c.at)).all())
        latest = conn.execute(select(func.max(_stamps.c.at))).scalar_one()  # an aggregate keeps the type
        found = conn.execute(select(_stamps.c.id).where(_stamps.c.at == at)).scalars().all()
    assert got[1] == at and got[1].tzinfo is UTC and got[1].hour == 9
    assert got[2] is None
    assert latest == at and latest.tzinfo is UTC
    assert found == [1]


def test_refuses_a_naive_datetime(db: Engine) -> None:
    with pytest.raises(StatementError) as err, db.begin() as conn:
        conn.execute(insert(_stamps).values(id=1, at=datetime(2026, 3, 4, 9, 15)))
    assert isinstance(err.value.orig, ValueError)
    with pytest.raises(StatementError) as err, db.connect() as conn:
        conn.execute(select(_stamps.c.id).where(_stamps.c.at < datetime(2026, 3, 4)))
    assert isinstance(err.value.orig, ValueError)


def test_stores_what_datetime_stores(db: Engine) -> None:
    """Rows written as DateTime(timezone=True) writes them read back right, and the other way round."""
    at = datetime(2026, 3, 4, 9, 15, 30, 250_000, tzinfo=UTC)
    with db.begin() as conn:
        conn.execute(insert(_plain).values(id=1, at=at))
        conn.execute(insert(_stamps).values(id=2, at=at))
    with db.connect() as conn:
        mine = dict(conn.execute(select(_stamps.c.id, _stamps.c.at)).all())
        plain = dict(conn.execute(select(_plain.c.id, _plain.c.at)).all())
        if db.dialect.name == "sqlite":
            raw = {r[0]: r[1] for r in conn.exec_driver_sql("SELECT id, at FROM utc_stamps")}
            assert raw == {1: "2026-03-04 09:15:30.250000", 2: "2026-03-04 09:15:30.250000"}
    assert mine == {1: at, 2: at} and all(v.tzinfo is UTC for v in mine.values())
    assert plain[1].replace(tzinfo=plain[1].tzinfo or UTC) == plain[2].replace(tzinfo=plain[2].tzinfo or UTC) == at


def test_a_timedelta_next_to_the_column_is_not_bound_as_a_datetime() -> None:
    assert isinstance(_stamps.c.at.type.coerce_compared_value(None, datetime.now(UTC)), UtcDateTime)
    assert not isinstance(_stamps.c.at.type.coerce_compared_value(None, timedelta(days=1)), UtcDateTime)
