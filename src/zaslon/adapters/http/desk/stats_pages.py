"""Statistics at the desk: the ministry's figures (``Exchange.stats``) as a page with server-drawn SVG charts,
filters (period, region, district), a CSV export and a print stylesheet for a report to the minister.

The charts are plain SVG computed here (bar geometry) and drawn by the template: no charting library, no
JavaScript. The CSV is long format (section, key, field, value), one figure a row, for a spreadsheet's pivot."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.desk.render import error_page, render
from zaslon.adapters.http.desk.session import ANALYSTS, desk_of, require
from zaslon.adapters.http.state import state_of
from zaslon.errors import InvalidInput
from zaslon.flow.ports.desk import DeskSession
from zaslon.flow.stats import parse_query

router = APIRouter(prefix="/desk/stats", include_in_schema=False)
CHART_W = 560
BAR_H = 18
MONTHS_H = 180


def _default_period() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return (today - timedelta(days=364)).isoformat(), today.isoformat()


def _figures(request: Request, session: DeskSession, first: str, last: str, region: str,
             district: str) -> dict[str, Any]:
    default = _default_period()
    query = parse_query(first or default[0], last or default[1], region, district)
    principal = desk_of(request).principal(session.user)
    return state_of(request).exchange.stats(principal, query)


def hbars(rows: list[tuple[str, float]], width: int = CHART_W) -> dict[str, Any]:
    """Horizontal bars, one per (label, value), scaled to the largest: geometry for the template."""
    top = max((v for _, v in rows), default=0) or 1
    label_w, room = 170, width - 170 - 90
    bars = [{"label": label, "value": v, "y": k * (BAR_H + 6), "w": max(1.0, room * v / top) if v else 0.0}
            for k, (label, v) in enumerate(rows)]
    return {"bars": bars, "height": max(len(rows), 1) * (BAR_H + 6), "width": width, "label_w": label_w,
            "bar_h": BAR_H}


def month_bars(stats: dict[str, Any], width: int = CHART_W) -> dict[str, Any]:
    """Incidents per month, the history's part drawn apart (labelled: simulated, or a register's)."""
    months = list(stats["incidents_by_month"].items())
    hist = stats["history_by_month"]
    top = max((n for _, n in months), default=0) or 1
    step = (width - 40) / max(len(months), 1)
    bars = []
    for k, (month, n) in enumerate(months):
        h_all = MONTHS_H * n / top
        h_hist = MONTHS_H * hist.get(month, 0) / top
        bars.append({"month": month, "n": n, "history": hist.get(month, 0), "x": 30 + k * step,
                     "w": max(step - 2, 1), "h_hist": h_hist, "h_rep": h_all - h_hist,
                     "y_rep": MONTHS_H - h_all, "y_hist": MONTHS_H - h_hist,
                     "tick": k == 0 or month.endswith("-01") or len(months) <= 12})
    return {"bars": bars, "height": MONTHS_H, "width": width, "top": top}


@router.get("")
async def stats_page(request: Request, region: str = "", district: str = "",
                     session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    # The form's names are the API's (?from=&to=); "from" cannot be a Python parameter's name.
    first, last = request.query_params.get("from", ""), request.query_params.get("to", "")
    try:
        stats = await run_in_threadpool(_figures, request, session, first, last, region, district)
    except InvalidInput as exc:
        return error_page(request, 422, str(exc), "/desk/stats")
    money = stats["money"]
    charts = {
        "months": month_bars(stats),
        "types": hbars([(k, v) for k, v in sorted(stats["incidents_by_type"].items(), key=lambda kv: -kv[1])]),
        "regions": hbars([(k, v) for k, v in sorted(stats["incidents_by_region"].items(), key=lambda kv: -kv[1])]),
        "money": hbars([(k, money[k] / 100) for k in ("stolen", "prevented", "frozen", "returned")]),
    }
    return render(request, "stats.html", session, s=stats, charts=charts,
                  query=request.url.query, districts=stats["incidents_by_district"][:40])


@router.get(".csv")
async def stats_csv(request: Request, region: str = "", district: str = "",
                    session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    try:
        stats = await run_in_threadpool(_figures, request, session, request.query_params.get("from", ""),
                                        request.query_params.get("to", ""), region, district)
    except InvalidInput as exc:
        return Response(f"{exc}\n", status_code=422, media_type="text/plain")
    name = f"zaslon-stats-{stats['period']['from']}-{stats['period']['to']}.csv"
    return Response(to_csv(stats), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def to_csv(stats: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "key", "field", "value"])
    p = stats["period"]
    for k in ("from", "to", "region", "district"):
        w.writerow(["period", k, "", "" if p[k] is None else p[k]])
    w.writerow(["incidents", "total", "", stats["incidents"]])
    w.writerow(["incidents", "reported", "", stats["incidents_reported"]])
    sim = stats["simulated_history"]
    w.writerow(["incidents", "simulated_history", "", sim["incidents"] if sim else 0])
    for section in ("incidents_by_type", "incidents_by_region", "incidents_by_month", "history_by_month"):
        for k, v in stats[section].items():
            w.writerow([section, k, "", v])
    for row in stats["incidents_by_district"]:
        w.writerow(["incidents_by_district", row["region"], row["district"], row["incidents"]])
    yoy = stats["yoy_change"]
    for k, v in [("total", yoy["total"]), *yoy["by_type"].items()]:
        for field in ("current", "previous", "change"):
            w.writerow(["yoy_change", k, field, "" if v[field] is None else v[field]])
    for k in ("stolen", "prevented", "frozen", "returned", "saved", "stolen_from_history"):
        w.writerow(["money_byn_minor", k, "", stats["money"][k]])
    for section in ("time_to_first_order_s", "time_to_frozen_s"):
        for field in ("p50", "p95", "n"):
            v = stats[section][field]
            w.writerow([section, "", field, "" if v is None else v])
    for bank, b in stats["bank_ack_sla"].items():
        for field, v in b.items():
            w.writerow(["bank_ack_sla", bank, field, "" if v is None else v])
    for field, v in stats["elderly_victims"].items():
        w.writerow(["elderly_victims", "", field, "" if v is None else v])
    w.writerow(["couriers", "detained", "", stats["couriers"]["detained"]])
    w.writerow(["couriers", "patrol_dispatches", "", stats["couriers"]["patrol_dispatches"]])
    return out.getvalue()
