"""Cases at the desk: the list, one case with its incidents and history, confirm, split and merge (each on the
version the page showed: a stale one is refused with 409), and the group report exported as JSON or CSV."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.desk.render import act, error_page, render
from zaslon.adapters.http.desk.session import ANALYSTS, desk_of, require
from zaslon.adapters.http.state import state_of
from zaslon.errors import InvalidInput, ZaslonError
from zaslon.flow.groups import export_case
from zaslon.flow.ports.desk import DeskSession

router = APIRouter(prefix="/desk/cases", include_in_schema=False)
PAGE = 50
STATUSES = ("open", "confirmed", "closed", "merged")


def _int(raw: str, field: str) -> int:
    if not raw.isdigit():
        raise InvalidInput("the form lacks the case's version: reload the page", field=field)
    return int(raw)


@router.get("")
async def cases_index(request: Request, status: str = "", page: int = 1,
                      session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    if status and status not in STATUSES:
        return error_page(request, 422, f"status must be one of {list(STATUSES)}", "/desk/cases")
    page = max(page, 1)

    def ctx() -> dict[str, Any]:
        service = state_of(request).exchange.cases
        rows = service.list(status or None, limit=PAGE, offset=(page - 1) * PAGE)
        views = [service.get(r["case_id"]) for r in rows]
        return {"cases": views, "status": status, "page": page, "statuses": STATUSES, "more": len(rows) == PAGE}

    return render(request, "cases.html", session, **await run_in_threadpool(ctx))


@router.get("/{case_id}")
async def case_page(request: Request, case_id: str, session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def ctx() -> dict[str, Any]:
        service = state_of(request).exchange.cases
        view = service.get(case_id[:32])
        queue = [desk_of(request).item(i) for i in view.incident_ids[:200]]
        history = service.history(view.case_id)
        for h in history:
            h["at"] = datetime.fromisoformat(h["at"]) if h["at"] else None
        group = json.loads(export_case(state_of(request).db, view.case_id, "json"))  # the group report
        return {"case": view, "items": queue, "history": history, "group": group}

    try:
        data = await run_in_threadpool(ctx)
    except ZaslonError as exc:
        return error_page(request, 404, str(exc), "/desk/cases")
    return render(request, "case.html", session, **data)


@router.get("/{case_id}/export.{fmt}")
async def export(request: Request, case_id: str, fmt: str,
                 session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    if fmt not in ("json", "csv"):
        return error_page(request, 404, "export as json or csv", f"/desk/cases/{case_id}")
    try:
        text = await run_in_threadpool(export_case, state_of(request).db, case_id[:32], fmt)
    except ZaslonError as exc:
        return error_page(request, 404, str(exc), "/desk/cases")
    desk_of(request).audit(session.user.user_id, "case.export", case_id, fmt, org_id=session.user.org_id)
    return PlainTextResponse(text, media_type="text/csv" if fmt == "csv" else "application/json",
                             headers={"Content-Disposition": f'attachment; filename="{case_id}.{fmt}"'})


@router.post("/{case_id}/confirm")
async def confirm(request: Request, case_id: str, version: str = Form("", max_length=12),
                  session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def go() -> None:
        state_of(request).exchange.cases.confirm(case_id, _int(version, "version"), session.user.org_id)
        desk_of(request).audit(session.user.user_id, "case.confirm", case_id, org_id=session.user.org_id)

    return await act(request, f"/desk/cases/{case_id}", go)


@router.post("/{case_id}/split")
async def split(request: Request, case_id: str, session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    form = await request.form()
    chosen = [str(v) for v in form.getlist("incident")][:1000]
    version, reason = str(form.get("version", "")), str(form.get("reason", "")).strip()[:500]

    def go() -> None:
        if not reason:
            raise InvalidInput("say why the incidents do not belong together", field="reason")
        _, new = state_of(request).exchange.cases.split(case_id, chosen, _int(version, "version"),
                                                         session.user.org_id, reason=reason)
        desk_of(request).audit(session.user.user_id, "case.split", case_id, f"{len(chosen)} to {new}: {reason}",
                               org_id=session.user.org_id)

    return await act(request, f"/desk/cases/{case_id}", go)


@router.post("/{case_id}/merge")
async def merge(request: Request, case_id: str, other: str = Form("", max_length=32),
                version: str = Form("", max_length=12), reason: str = Form("", max_length=500),
                session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def go() -> None:
        service = state_of(request).exchange.cases
        if not reason.strip():
            raise InvalidInput("say why the cases belong together", field="reason")
        other_view = service.get(other.strip())
        kept = service.merge(case_id, other_view.case_id, _int(version, "version"), other_view.version,
                             session.user.org_id, reason=reason.strip())
        desk_of(request).audit(session.user.user_id, "case.merge", case_id,
                               f"with {other_view.case_id} into {kept}: {reason.strip()}", org_id=session.user.org_id)

    return await act(request, f"/desk/cases/{case_id}", go)
