"""The driver-level insert binds values exactly as SQLAlchemy's own insert would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select

from zaslon.adapters.db.bulk import insert_plan, insert_rows
from zaslon.adapters.db.types import UtcDateTime

_meta = MetaData()
_t = Table("t", _meta, Column("id", Integer, primary_key=True), Column("at", UtcDateTime(), nullable=True))

_TIMES = [
    datetime(2026, 3, 1, 21, 0, 12, 814393, tzinfo=UTC),
    datetime(2026, 3, 1, 21, 0, 12, tzinfo=UTC),  # no microseconds: still written with six zeros
    datetime(2026, 3, 2, 0, 30, tzinfo=timezone(timedelta(hours=3))),  # another zone: stored as its UTC
    datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-5))),
    datetime(9, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a year below 1000 keeps its four digits
]


def test_utc_times_bind_to_the_text_sqlalchemy_writes() -> None:
    engine = create_engine("sqlite://")
    dialect = engine.dialect
    plan = insert_plan(dialect, _t, ("id", "at"))
    assert plan is not None
    fast = plan[1][1]
    assert fast is not None
    general = _t.c.at.type.dialect_impl(dialect).bind_processor(dialect)
    for at in _TIMES:
        assert fast(at) == general(at)


def test_rows_written_fast_read_back_like_those_of_an_ordinary_insert() -> None:
    engine = create_engine("sqlite://")
    _meta.create_all(engine)
    with engine.begin() as conn:
        insert_rows(conn, _t, [{"id": i, "at": at} for i, at in enumerate(_TIMES)] + [{"id": 99, "at": None}])
        conn.execute(insert(_t), [{"id": 100 + i, "at": at} for i, at in enumerate(_TIMES)])
    with engine.connect() as conn:
        got = dict(conn.execute(select(_t.c.id, _t.c.at)).all())
    assert got[99] is None
    for i, at in enumerate(_TIMES):
        assert got[i] == got[100 + i] == at.astimezone(UTC)


@pytest.mark.parametrize(("value", "error"), [(datetime(2026, 3, 1, 21, 0), ValueError), ("2026-03-01", TypeError)])
def test_a_naive_time_or_a_string_is_refused_and_nothing_is_written(value: object, error: type[Exception]) -> None:
    engine = create_engine("sqlite://")
    _meta.create_all(engine)
    with pytest.raises(error), engine.begin() as conn:
        insert_rows(conn, _t, [{"id": 1, "at": _TIMES[0]}, {"id": 2, "at": value}])
    with engine.connect() as conn:
        assert conn.execute(select(_t.c.id)).all() == []
