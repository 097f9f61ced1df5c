"""SQL statistics store (``zaslon.flow.ports.stats``): GROUP BY aggregates over incidents, orders and the desk.

Reported incidents and the imported history are one UNION ALL, so every count covers both. Each query is
bounded by the period on an indexed ``reported_at`` and touches transfers and decisions by primary key only
through the incidents' disputed transfers, so its cost follows the period's incidents, not the database size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    case,
    distinct,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.db.tables_decisions import decisions
from zaslon.adapters.db.tables_desk import desk_audit
from zaslon.adapters.db.tables_incidents import incident_history, incident_transfers, incidents
from zaslon.adapters.db.tables_orders import freeze_orders, order_events
from zaslon.adapters.db.types import UtcDateTime
from zaslon.flow.ports.stats import (
    HistoryRow,
    HistorySpan,
    IncidentCounts,
    MoneyRows,
    OrderAck,
    OrderTimes,
    StatsFilter,
)

ELDERLY_AGE = 65
REPORTED = "reported"
_CHUNK = 500
_STOPPED = ("hold", "block")


def _where(table: Any, f: StatsFilter) -> ColumnElement[bool]:
    c = table.c
    cond = and_(c.reported_at >= f.start, c.reported_at < f.end)
    if f.region is not None:
        cond = and_(cond, c.victim_region == f.region)
    if f.district is not None:
        cond = and_(cond, c.victim_district == f.district)
    return cond


class SqlStatsStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _month(self, col: Any) -> Any:
        if self.engine.dialect.name == "postgresql":
            return func.to_char(func.timezone("UTC", col), "YYYY-MM")
        return func.substr(col, 1, 7)  # SQLite stores UTC text, "YYYY-MM-DD HH:MM:SS.ffffff"

    def _both(self, f: StatsFilter, *columns: str) -> Any:
        """Reported incidents and the history in the filter, as one subquery of ``columns`` (and ``origin``)."""
        def part(table: Any, origin: Any) -> Any:
            return select(origin.label("origin"), *(table.c[c] for c in columns)).where(_where(table, f))
        return union_all(part(incidents, literal(REPORTED)), part(incident_history, incident_history.c.label)
                         ).subquery("both")

    def counts(self, f: StatsFilter) -> IncidentCounts:
        # Two narrow GROUP BYs (type and place; month and ages), each a small answer, rather than one over every
        # combination (tens of thousands of rows for two years of districts and months).
        u = self._both(f, "scheme", "victim_region", "victim_district", "reported_at", "victim_age",
                       "victim_lives_alone")
        month = self._month(u.c.reported_at)
        elderly = u.c.victim_age >= ELDERLY_AGE
        with self.engine.connect() as conn:
            places = conn.execute(select(u.c.origin, u.c.scheme, u.c.victim_region, u.c.victim_district, func.count())
                                  .group_by(u.c.origin, u.c.scheme, u.c.victim_region, u.c.victim_district)).all()
            months = conn.execute(select(
                u.c.origin, month, func.count(), func.count(u.c.victim_age), func.sum(case((elderly, 1), else_=0)),
                func.sum(case((and_(elderly, u.c.victim_lives_alone.is_(True)), 1), else_=0)))
                .group_by(u.c.origin, month)).all()
        out = IncidentCounts()
        for origin, scheme, region, district, n in places:
            out.by_type[scheme] = out.by_type.get(scheme, 0) + int(n)
            out.by_origin[origin] = out.by_origin.get(origin, 0) + int(n)
            out.by_district[(region, district)] = out.by_district.get((region, district), 0) + int(n)
        with_age = elderly_n = alone = 0
        for origin, m, n, aged, old, old_alone in months:
            out.by_month[(origin, str(m))] = int(n)
            with_age, elderly_n, alone = with_age + int(aged), elderly_n + int(old or 0), alone + int(old_alone or 0)
        return IncidentCounts(out.by_type, out.by_origin, out.by_district, out.by_month, with_age, elderly_n, alone)

    def type_counts(self, f: StatsFilter) -> dict[str, int]:
        u = self._both(f, "scheme")
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for _origin, scheme, n in conn.execute(select(u.c.origin, u.c.scheme, func.count())
                                                   .group_by(u.c.origin, u.c.scheme)):
                out[scheme] = out.get(scheme, 0) + int(n)
        return out

    def history_spans(self, f: StatsFilter) -> list[HistorySpan]:
        h = incident_history.c
        q = (select(h.label, func.count(), func.min(h.reported_at), func.max(h.reported_at))
             .where(_where(incident_history, f)).group_by(h.label).order_by(h.label))
        ts = UtcDateTime()
        with self.engine.connect() as conn:
            return [HistorySpan(label, int(n), _utc(ts, first, self.engine), _utc(ts, last, self.engine))
                    for label, n, first, last in conn.execute(q)]

    def span(self) -> tuple[datetime, datetime] | None:
        ts = UtcDateTime()
        found: list[datetime] = []
        with self.engine.connect() as conn:
            for table in (incidents, incident_history):  # min and max each read one end of the index
                for agg in (func.min, func.max):
                    v = conn.execute(select(agg(table.c.reported_at))).scalar()
                    if v is not None:
                        found.append(_utc(ts, v, self.engine))
        return (min(found), max(found)) if found else None

    def money(self, f: StatsFilter) -> MoneyRows:
        i, it, t, d = incidents.c, incident_transfers.c, transfers.c, decisions.c
        # Each disputed transfer once, however many incidents of the period name it.
        disputed = (select(it.transfer_id, it.transfer_org).distinct()
                    .join_from(incident_transfers, incidents, it.incident_id == i.incident_id)
                    .where(_where(incidents, f)).subquery("disputed"))
        on_transfer = and_(t.transfer_id == disputed.c.transfer_id, t.org_id == disputed.c.transfer_org)
        stopped = case((d.outcome.in_(_STOPPED), t.amount), else_=0)
        amounts = (select(t.currency, func.sum(t.amount), func.sum(stopped))
                   .join_from(disputed, transfers, on_transfer)
                   .outerjoin(decisions, and_(d.transfer_id == t.transfer_id, d.org_id == t.org_id))
                   .group_by(t.currency))
        o = freeze_orders.c
        held = (select(o.currency, func.sum(o.frozen_amount), func.sum(o.returned_amount))
                .join_from(freeze_orders, incidents, o.incident_id == i.incident_id)
                .where(_where(incidents, f)).group_by(o.currency))
        hist = select(func.coalesce(func.sum(incident_history.c.stolen), 0)).where(_where(incident_history, f))
        with self.engine.connect() as conn:
            frozen: dict[str, int] = {}
            returned: dict[str, int] = {}
            for cur, fz, rt in conn.execute(held):
                frozen[cur], returned[cur] = int(fz or 0), int(rt or 0)
            stolen: dict[str, int] = {}
            prevented: dict[str, int] = {}
            for cur, total, held_back in conn.execute(amounts):
                stolen[cur] = int(total or 0)
                if held_back:
                    prevented[cur] = int(held_back)
            return MoneyRows(stolen=stolen, prevented=prevented, frozen=frozen, returned=returned,
                             stolen_history=int(conn.execute(hist).scalar_one()))

    def order_times(self, f: StatsFilter) -> list[OrderTimes]:
        i, o, e = incidents.c, freeze_orders.c, order_events.c
        first = (select(i.incident_id, i.reported_at, func.min(o.issued_at).label("first_order"))
                 .join_from(incidents, freeze_orders, o.incident_id == i.incident_id)
                 .where(_where(incidents, f)).group_by(i.incident_id, i.reported_at))
        frozen = (select(o.incident_id, func.min(e.at))
                  .join_from(order_events, freeze_orders, e.order_id == o.order_id)
                  .join(incidents, i.incident_id == o.incident_id)
                  .where(_where(incidents, f), e.status == "frozen", e.amount > 0)
                  .group_by(o.incident_id))
        ts = UtcDateTime()
        with self.engine.connect() as conn:
            when = {inc: _utc(ts, at, self.engine) for inc, at in conn.execute(frozen)}
            return [OrderTimes(r.reported_at, _utc(ts, r.first_order, self.engine), when.get(r.incident_id))
                    for r in conn.execute(first)]

    def acknowledgements(self, f: StatsFilter) -> list[OrderAck]:
        i, o, e = incidents.c, freeze_orders.c, order_events.c
        acked = (select(e.order_id, func.min(e.at).label("at")).where(e.status == "acknowledged")
                 .group_by(e.order_id).subquery("acked"))
        q = (select(o.bank_id, o.issued_at, o.deadline, acked.c.at, o.status)
             .join_from(freeze_orders, incidents, o.incident_id == i.incident_id)
             .outerjoin(acked, acked.c.order_id == o.order_id)
             .where(_where(incidents, f), o.status != "pending_confirmation"))
        ts = UtcDateTime()
        with self.engine.connect() as conn:
            return [OrderAck(bank, issued, deadline, None if at is None else _utc(ts, at, self.engine), status)
                    for bank, issued, deadline, at, status in conn.execute(q)]

    def courier_steps(self, start: datetime, end: datetime) -> dict[str, int]:
        a = desk_audit.c
        q = (select(a.action, func.count(distinct(a.target)))
             .where(a.action.in_(("courier.patrol", "courier.detained")), a.at >= start, a.at < end)
             .group_by(a.action))
        with self.engine.connect() as conn:
            return {action.removeprefix("courier."): int(n) for action, n in conn.execute(q)}

    def add_history(self, rows: Sequence[HistoryRow], *, label: str, by_org: str, now: datetime) -> int:
        ids = [r.history_id for r in rows]
        with self.engine.begin() as conn:
            have: set[str] = set()
            for k in range(0, len(ids), _CHUNK):
                have.update(conn.execute(select(incident_history.c.history_id)
                                         .where(incident_history.c.history_id.in_(ids[k:k + _CHUNK]))).scalars())
            fresh = [{"history_id": r.history_id, "scheme": r.scheme, "reported_at": r.reported_at,
                      "victim_region": r.region, "victim_district": r.district, "victim_age": r.victim_age,
                      "victim_lives_alone": r.victim_lives_alone, "stolen": r.stolen, "label": label,
                      "imported_by": by_org, "imported_at": now}
                     for r in {r.history_id: r for r in rows}.values() if r.history_id not in have]
            if fresh:
                conn.execute(insert(incident_history), fresh)
        return len(fresh)


def _utc(ts: UtcDateTime, value: Any, engine: Engine) -> datetime:
    """An aggregate (min/max) loses the column's type on SQLite and comes back as text: parse it as the column
    would have been read."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    out = ts.process_result_value(value, engine.dialect)
    assert out is not None
    return out
