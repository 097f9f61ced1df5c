"""SQL district store (``zaslon.flow.ports.district``) on ``district_signals`` and ``outreach_tasks``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.engine import RowMapping

from zaslon.adapters.db.tables_customers import customers
from zaslon.adapters.db.tables_district import district_signals, outreach_tasks
from zaslon.core.outreach import Reason
from zaslon.errors import Conflict, NotFound
from zaslon.flow.ports.district import Signal, Task


def _signal(r: Any) -> Signal:
    return Signal(r.district, r.person, r.account_id, r.reason, r.at, r.detail)


def _task(r: RowMapping) -> Task:
    return Task(*(r[f.name] for f in fields(Task)))


class SqlDistrictStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_signals(self, signals: Sequence[Signal], now: datetime) -> None:
        if not signals:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(district_signals), [
                {"district": s.district, "person": s.person, "account_id": s.account_id, "reason": s.reason,
                 "at": s.at, "detail": s.detail, "recorded_at": now} for s in signals])

    def signals(self, district: str, *, since: datetime, until: datetime,
                reasons: Sequence[str] | None = None) -> list[Signal]:
        q = (select(district_signals)
             .where(district_signals.c.district == district, district_signals.c.at >= since,
                    district_signals.c.at <= until)
             .order_by(district_signals.c.at, district_signals.c.signal_id))
        if reasons is not None:
            q = q.where(district_signals.c.reason.in_(list(reasons)))
        with self.engine.connect() as conn:
            return [_signal(r) for r in conn.execute(q)]

    def courier_risks(self, *, limit: int = 200) -> list[Signal]:
        q = (select(district_signals).where(district_signals.c.reason == Reason.COURIER_RISK.value)
             .order_by(district_signals.c.at.desc(), district_signals.c.signal_id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [_signal(r) for r in conn.execute(q)]

    def add_task(self, task: Task) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(outreach_tasks).values(dict(zip((f.name for f in fields(Task)), astuple(task),
                                                                strict=True))))

    def task(self, task_id: str) -> Task | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(outreach_tasks).where(outreach_tasks.c.task_id == task_id)).mappings().first()
        return None if row is None else _task(row)

    def finish_task(self, task_id: str, *, outcome: str, note: str, at: datetime, by: str) -> Task:
        with self.engine.begin() as conn:
            done = conn.execute(update(outreach_tasks)
                                .where(outreach_tasks.c.task_id == task_id, outreach_tasks.c.outcome.is_(None))
                                .values(outcome=outcome, outcome_note=note, done_at=at, done_by=by)).rowcount
            row = conn.execute(select(outreach_tasks).where(outreach_tasks.c.task_id == task_id)).mappings().first()
        if row is None:
            raise NotFound(f"no outreach task {task_id!r}", field="task_id")
        if not done:
            raise Conflict(f"outreach task {task_id!r} has its outcome already ({row['outcome']})", field="task_id")
        return _task(row)

    def tasks(self, district: str, *, persons: Sequence[str] | None = None) -> list[Task]:
        q = select(outreach_tasks).where(outreach_tasks.c.district == district)
        if persons is not None:
            q = q.where(outreach_tasks.c.person.in_(list(persons)))
        with self.engine.connect() as conn:
            return [_task(r) for r in conn.execute(q.order_by(outreach_tasks.c.created_at)).mappings()]

    def districts(self) -> list[dict[str, Any]]:
        q = (select(customers.c.district, func.max(customers.c.region).label("region"),
                    func.count().label("customers"))
             .where(customers.c.district.is_not(None)).group_by(customers.c.district)
             .order_by(customers.c.district))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]
