"""Statistics for the ministry: what the exchange recorded, over a period, a region and a district.

    period (dates, inclusive) ──► StatsStore aggregates ──► figures (counts, money in BYN, times, SLA shares)

Definitions (docs/statistics.md):
* incidents: reports the exchange took (a repeat of one incident counts once) plus the imported history
  (``incident_history``, e.g. the simulator's past years), by type (scheme), region, district and month;
* year-over-year: the same dates a year before; ``null`` where that period is not covered by the data or
  had no incident of the type;
* money (BYN kopecks at ``core.fx`` reference rates): stolen = the disputed transfers' amounts (each once) plus
  the history's reported losses; prevented = those of them the exchange held or blocked; frozen / returned =
  what the banks reported frozen and returned on the period's incidents' orders;
* times: report (``reported_at``) to the incident's first order, and to its first money frozen;
* bank acknowledgement: order issued to its first acknowledgement, against the order's own deadline.
Percentiles interpolate linearly between order statistics (numpy's default).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from zaslon.core.fx import to_byn_minor
from zaslon.core.types import Scheme
from zaslon.errors import InvalidInput
from zaslon.flow.ports.stats import HistoryRow, StatsFilter, StatsStore

MAX_DAYS = 366 * 20
MAX_NAME = 64
UNKNOWN = "unknown"
REPORTED = "reported"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class StatsQuery:
    first_day: date
    last_day: date  # inclusive
    region: str | None = None
    district: str | None = None

    def window(self) -> StatsFilter:
        return StatsFilter(_midnight(self.first_day), _midnight(self.last_day) + timedelta(days=1),
                           self.region, self.district)

    def year_before(self) -> StatsQuery:
        return StatsQuery(_year_before(self.first_day), _year_before(self.last_day), self.region, self.district)


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _year_before(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February: the year before has the 28th
        return d.replace(year=d.year - 1, day=28)


def _day(value: str | None, name: str) -> date:
    if value is None or not _DATE.match(value.strip()):
        raise InvalidInput(f"{name} is a date, YYYY-MM-DD (got {value!r})", field=name)
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{name} {value!r} is not a calendar date", field=name) from None


def _name(value: str | None, name: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{name} has at most {MAX_NAME} characters", field=name)
    return value.strip()


def parse_query(first: str | None, last: str | None, region: str | None = None,
                district: str | None = None) -> StatsQuery:
    """``from`` and ``to`` are dates, both inclusive (UTC days). An inverted or unparsable period is
    ``InvalidInput`` (422); an unknown region or district is no error: it has no incidents."""
    a, b = _day(first, "from"), _day(last, "to")
    if b < a:
        raise InvalidInput(f"the period is inverted: to {b} is before from {a}", field="to")
    if (b - a).days >= MAX_DAYS:
        raise InvalidInput(f"a period spans at most {MAX_DAYS} days", field="to")
    return StatsQuery(a, b, _name(region, "region"), _name(district, "district"))


def _byn(amounts: dict[str, int]) -> int:
    if not amounts:
        return 0
    cur = list(amounts)
    return int(to_byn_minor(np.array([amounts[c] for c in cur], dtype=np.int64), cur).sum())


def _percentiles(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"p50": None, "p95": None, "n": 0}
    arr = np.asarray(values, dtype=np.float64)
    return {"p50": round(float(np.percentile(arr, 50)), 1), "p95": round(float(np.percentile(arr, 95)), 1),
            "n": int(arr.size)}


def _change(now: int, before: int, covered: bool) -> dict[str, Any]:
    change = round((now - before) / before, 4) if covered and before > 0 else None
    return {"current": now, "previous": before if covered else None, "change": change}


def compute_stats(store: StatsStore, q: StatsQuery, *, now: datetime) -> dict[str, Any]:
    f = q.window()
    c = store.counts(f)
    by_region: Counter[str] = Counter()
    for (region, _district), n in c.by_district.items():
        by_region[region or UNKNOWN] += n
    total = sum(c.by_type.values())
    by_month: Counter[str] = Counter()
    history_by_month: Counter[str] = Counter()
    for (origin, month), n in c.by_month.items():
        by_month[month] += n
        if origin != REPORTED:
            history_by_month[month] += n
    prior_q = q.year_before()
    prior = store.type_counts(prior_q.window())
    span = store.span()
    covered = span is not None and span[0] <= prior_q.window().start

    money = store.money(f)
    stolen = _byn(money.stolen) + money.stolen_history
    prevented, frozen = _byn(money.prevented), _byn(money.frozen)

    times = store.order_times(f)
    to_order = [(t.first_order_at - t.reported_at).total_seconds() for t in times]
    to_frozen = [(t.first_frozen_at - t.reported_at).total_seconds() for t in times if t.first_frozen_at]

    as_of = min(now, f.end)
    banks: dict[str, dict[str, Any]] = {}
    acks: dict[str, list[float]] = {}
    slas: dict[str, list[float]] = {}
    for a in store.acknowledgements(f):
        b = banks.setdefault(a.bank_id, {"orders": 0, "acknowledged": 0, "due": 0, "within_sla": 0})
        b["orders"] += 1
        slas.setdefault(a.bank_id, []).append((a.deadline - a.issued_at).total_seconds())
        if a.acknowledged_at is not None:
            b["acknowledged"] += 1
            b["due"] += 1
            b["within_sla"] += int(a.acknowledged_at <= a.deadline)
            acks.setdefault(a.bank_id, []).append((a.acknowledged_at - a.issued_at).total_seconds())
        elif a.deadline <= as_of and a.status != "released":  # due and never acknowledged: missed
            b["due"] += 1
    for bank, b in banks.items():
        p = _percentiles(acks.get(bank, []))
        b["ack_p50_s"], b["ack_p95_s"] = p["p50"], p["p95"]
        b["sla_s"] = round(float(np.median(slas[bank])), 1)
        b["within_sla_share"] = round(b["within_sla"] / b["due"], 4) if b["due"] else None

    history = store.history_spans(f)
    simulated = [h for h in history if h.label == "simulated"]
    steps = store.courier_steps(f.start, f.end)
    return {
        "period": {"from": q.first_day.isoformat(), "to": q.last_day.isoformat(), "region": q.region,
                   "district": q.district, "days": (q.last_day - q.first_day).days + 1,
                   "timezone": "UTC"},
        # What the exchange holds at all: a period reaching beyond it counts only the part it holds.
        "data": None if span is None else {"first": span[0].isoformat(), "last": span[1].isoformat()},
        "incidents": total,
        "incidents_reported": c.by_origin.get(REPORTED, 0),
        "incidents_by_type": dict(sorted(c.by_type.items())),
        "incidents_by_region": dict(sorted(by_region.items())),
        "incidents_by_district": sorted(({"region": r or UNKNOWN, "district": d or UNKNOWN, "incidents": n}
                                         for (r, d), n in c.by_district.items()),
                                        key=lambda x: (x["region"], x["district"])),
        "incidents_by_month": dict(sorted(by_month.items())),
        # The part of each month that came from the imported history (simulated or a register), not reports.
        "history_by_month": dict(sorted(history_by_month.items())),
        "yoy_change": {
            "previous_period": {"from": prior_q.first_day.isoformat(), "to": prior_q.last_day.isoformat()},
            "covered": covered,
            "total": _change(total, sum(prior.values()), covered),
            "by_type": {s: _change(c.by_type.get(s, 0), prior.get(s, 0), covered)
                        for s in sorted(set(c.by_type) | set(prior))},
        },
        "money": {"currency": "BYN", "unit": "minor", "stolen": stolen, "prevented": prevented, "frozen": frozen,
                  "returned": _byn(money.returned), "saved": prevented + frozen,
                  "stolen_from_history": money.stolen_history},
        "time_to_first_order_s": _percentiles(to_order),
        "time_to_frozen_s": _percentiles(to_frozen),
        "bank_ack_sla": dict(sorted(banks.items())),
        "elderly_victims": {"with_age": c.with_age, "aged_65_plus": c.elderly, "aged_65_plus_alone": c.elderly_alone,
                            "share": round(c.elderly / c.with_age, 4) if c.with_age else None,
                            "alone_share": round(c.elderly_alone / c.with_age, 4) if c.with_age else None},
        "couriers": {"detained": steps.get("detained", 0), "patrol_dispatches": steps.get("patrol", 0),
                     "by_region": False},
        "history": [{"label": h.label, "incidents": h.incidents, "first": h.first.isoformat(),
                     "last": h.last.isoformat()} for h in history],
        "simulated_history": None if not simulated else {
            "incidents": simulated[0].incidents, "first": simulated[0].first.isoformat(),
            "last": simulated[0].last.isoformat()},
        "generated_at": now.isoformat(),
    }


HISTORY_LABELS = frozenset({"simulated", "register"})
MAX_HISTORY = 200_000


def import_history(store: StatsStore, rows: Sequence[HistoryRow], *, label: str, by_org: str,
                   now: datetime) -> dict[str, int]:
    """Past incidents for the statistics only (no transfer, no indicator): validated whole, then stored in one
    transaction, or nothing is. ``label`` says where they came from: "simulated" or "register"."""
    if label not in HISTORY_LABELS:
        raise InvalidInput(f"label is one of {sorted(HISTORY_LABELS)}", field="label")
    if len(rows) > MAX_HISTORY:
        raise InvalidInput(f"at most {MAX_HISTORY} incidents per import", field="incidents")
    known = {s.value for s in Scheme}
    for k, r in enumerate(rows):
        if r.scheme not in known:
            raise InvalidInput(f"scheme is one of {sorted(known)}", field=f"incidents[{k}].scheme")
        if r.reported_at.tzinfo is None:
            raise InvalidInput("reported_at needs a time zone", field=f"incidents[{k}].reported_at")
        if r.reported_at > now:
            raise InvalidInput("a past incident is not reported in the future", field=f"incidents[{k}].reported_at")
    added = store.add_history(rows, label=label, by_org=by_org, now=now)
    return {"added": added, "skipped": len(rows) - added}
