"""Column types shared by the table modules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, always UTC: aware datetimes in, aware UTC datetimes out, on every database.

    Stored as ``DateTime(timezone=True)`` (what the migrations create): ``timestamptz`` on PostgreSQL, which
    hands back the session's zone; on SQLite the text SQLAlchemy's DateTime writes, without a zone, which
    comes back naive. Binding converts to UTC first (SQLite's text would otherwise keep the wall-clock time
    of any other zone) and refuses a naive datetime, whose zone nobody knows; reading marks SQLite's naive
    values as the UTC they were written in and converts PostgreSQL's to UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UtcDateTime takes a datetime, not {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give it a time zone (UTC) before storing it")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        """A datetime compared with (or added to) this column is bound as one; anything else (a timedelta
        in ``ts + interval``, say) keeps the type DateTime itself would give it."""
        if isinstance(value, datetime):
            return self
        return self.impl_instance.coerce_compared_value(op, value)


__all__ = ["UtcDateTime"]
