"""The district officers' pages: the list of elderly people living alone in a district who were recently
targeted (``zaslon.flow.district``), as a page and as CSV, and the outreach tasks made from it.

A district officer sees their own district only: another district is 403, whatever the address asks for. The
desk's analysts choose any district (they back the officers up)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.desk.render import act, error_page, render
from zaslon.adapters.http.desk.session import EVERYONE, desk_of, require
from zaslon.adapters.http.state import state_of
from zaslon.core.outreach import Reason, TaskKind, TaskOutcome
from zaslon.flow.ports.desk import DeskSession, Role

router = APIRouter(prefix="/desk", include_in_schema=False)
OTHER_DISTRICT = "A district officer sees their own district's list only."


def _district(session: DeskSession, asked: str) -> str | None:
    """The district this person may see: an officer's own (None: they have none yet), else the one asked for.
    ``PermissionError`` when an officer asks for another."""
    asked = " ".join(asked.split())
    if session.user.role is Role.DISTRICT_OFFICER:
        if asked and asked != session.user.district:
            raise PermissionError(OTHER_DISTRICT)
        return session.user.district
    return asked or None


@router.get("/district")
async def district_page(request: Request, district: str = "", msg: str = "",
                        session: DeskSession = Depends(require(EVERYONE))) -> Response:
    try:
        chosen = _district(session, district[:64])
    except PermissionError as exc:
        return error_page(request, 403, str(exc), "/desk/district")

    def ctx() -> dict[str, Any]:
        watch = state_of(request).exchange.district
        now = datetime.now(UTC)
        entries = watch.targets(chosen, now=now) if chosen else []
        districts = watch.districts() if session.user.role is not Role.DISTRICT_OFFICER else []
        return {"entries": entries, "district": chosen, "districts": districts,
                "kinds": [k.value for k in TaskKind], "outcomes": [o.value for o in TaskOutcome],
                "courier_reason": Reason.COURIER_RISK.value, "message": msg[:200] or None}

    return render(request, "district.html", session, **await run_in_threadpool(ctx))


@router.get("/district.csv")
async def district_csv(request: Request, district: str = "",
                       session: DeskSession = Depends(require(EVERYONE))) -> Response:
    try:
        chosen = _district(session, district[:64])
    except PermissionError as exc:
        return error_page(request, 403, str(exc), "/desk/district")
    if not chosen:
        return error_page(request, 422, "choose a district", "/desk/district")
    body = await run_in_threadpool(state_of(request).exchange.district.targets_csv, chosen)
    desk_of(request).audit(session.user.user_id, "district.export", chosen, org_id=session.user.org_id)
    name = "".join(ch if ch.isalnum() else "-" for ch in chosen)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="district-{name}.csv"'})


def _back(district: str) -> str:
    return f"/desk/district?district={quote(district)}"


@router.post("/district/tasks")
async def create_task(request: Request, district: str = Form("", max_length=64), person: str = Form("", max_length=64),
                      kind: str = Form("", max_length=24), note: str = Form("", max_length=2000),
                      session: DeskSession = Depends(require(EVERYONE))) -> Response:
    try:
        chosen = _district(session, district)
    except PermissionError as exc:
        return error_page(request, 403, str(exc), "/desk/district")
    if not chosen:
        return error_page(request, 422, "choose a district", "/desk/district")
    desk = desk_of(request)

    def go() -> None:
        task = state_of(request).exchange.district.create_task(chosen, person, kind, by=session.user.login,
                                                                note=note)
        desk.audit(session.user.user_id, "outreach.create", task.task_id, f"{task.kind} {person} ({chosen})",
                   org_id=session.user.org_id)

    return await act(request, _back(chosen), go)


@router.post("/district/tasks/{task_id}/outcome")
async def task_outcome(request: Request, task_id: str, outcome: str = Form("", max_length=24),
                       note: str = Form("", max_length=2000),
                       session: DeskSession = Depends(require(EVERYONE))) -> Response:
    desk = desk_of(request)
    officer = session.user.role is Role.DISTRICT_OFFICER
    watch = state_of(request).exchange.district
    task = await run_in_threadpool(watch.store.task, task_id[:32])
    back = _back(task.district) if task is not None else "/desk/district"
    if officer and session.user.district is None:
        return error_page(request, 403, OTHER_DISTRICT, back)

    def go() -> None:
        done = watch.finish_task(task_id[:32], outcome, by=session.user.login,
                                 district=session.user.district if officer else None, note=note)
        desk.audit(session.user.user_id, "outreach.outcome", done.task_id, f"{done.outcome} {done.person}",
                   org_id=session.user.org_id)

    return await act(request, back, go)

