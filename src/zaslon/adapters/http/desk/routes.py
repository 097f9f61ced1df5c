"""The desk's pages: thin handlers over the ``Exchange`` (incidents, orders, traces, appeals) and the desk's
own service (``zaslon.flow.desk``: people, sessions, audit, queue). Forms post plain HTML (they work from the
keyboard and without JavaScript); htmx refreshes the live parts when the server-sent events say something
changed."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.desk import belarus, cases_pages, district_pages, rules_pages, stats_pages, views
from zaslon.adapters.http.desk.i18n import LANGUAGES, translator
from zaslon.adapters.http.desk.render import act, error_page, language_of, render
from zaslon.adapters.http.desk.session import (
    ANALYSTS,
    COOKIE,
    EVERYONE,
    LOGIN_COOKIE,
    SUPERVISORS,
    BadCsrf,
    NotAllowed,
    NotSignedIn,
    cookie_flags,
    desk_of,
    require,
)
from zaslon.adapters.http.state import state_of
from zaslon.core.types import OrderStatus, transfer_key
from zaslon.errors import InvalidInput, NotFound, Unauthenticated
from zaslon.flow.appeals import Verdict
from zaslon.flow.desk import BAD_LOGIN, Desk, DeskPolicy
from zaslon.flow.intake import get_incident
from zaslon.flow.ports.desk import CloseReason, DeskSession, QueueView
from zaslon.settings import Settings

HERE = Path(__file__).parent
router = APIRouter(prefix="/desk", include_in_schema=False)
PAGE = 50
SSE_POLL_S = 1.0
# A stream ends after this long and the browser reconnects (after ``retry`` ms): no connection lives long enough
# to hold up a server's shutdown for more than this.
SSE_MAX_S = 30.0


def install(app: FastAPI, settings: Settings) -> None:
    """Add the desk to the API app: its service, pages, static files, error pages and ``/`` -> sign-in."""
    app.state.desk = Desk(state_of_app(app).db, DeskPolicy(idle=timedelta(minutes=settings.desk_idle_minutes)))
    app.include_router(router)
    app.include_router(rules_pages.router)
    app.include_router(cases_pages.router)
    app.include_router(stats_pages.router)
    app.include_router(district_pages.router)
    app.mount("/desk/static", StaticFiles(directory=str(HERE / "static")), name="desk-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/desk/login", status_code=303)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/desk/login"})
        return RedirectResponse("/desk/login", status_code=303)

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        return error_page(request, 403, "This page is not open to your role.")

    @app.exception_handler(BadCsrf)
    async def bad_csrf(request: Request, exc: BadCsrf) -> Response:
        return error_page(request, 403, "The form was missing its security token; nothing was changed. "
                                         "Reload the page and try again.")


def state_of_app(app: FastAPI) -> Any:
    return app.state.zaslon


# ---------------------------------------------------------------- sign-in
@router.get("/login")
async def login_page(request: Request) -> Response:
    token = request.cookies.get(COOKIE)
    if token and await run_in_threadpool(desk_of(request).session, token) is not None:
        return RedirectResponse("/desk/queue", status_code=303)
    return _login_form(request)


def _login_form(request: Request, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    pre = secrets.token_urlsafe(32)
    response = render(request, "login.html", None, status_code=status_code, login_csrf=pre, error=error)
    response.set_cookie(LOGIN_COOKIE, pre, max_age=3600, **cookie_flags(request))  # type: ignore[arg-type]
    return response


@router.post("/login")
async def login(request: Request, login: str = Form("", max_length=200), password: str = Form("", max_length=1024),
                csrf_token: str = Form("", max_length=200)) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE)
    if not expected or not csrf_token or not secrets.compare_digest(expected, csrf_token):
        return error_page(request, 403, "The form was missing its security token; nothing was changed. "
                                         "Reload the page and try again.", "/desk/login")
    try:
        token, _session = await run_in_threadpool(desk_of(request).login, login, password,
                                                  language=language_of(request, None))
    except Unauthenticated:
        return _login_form(request, BAD_LOGIN, 401)
    response = RedirectResponse("/desk/queue", status_code=303)
    response.set_cookie(COOKIE, token, **cookie_flags(request))  # type: ignore[arg-type]
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, session: DeskSession = Depends(require(EVERYONE))) -> Response:
    await run_in_threadpool(desk_of(request).logout, session)
    response = RedirectResponse("/desk/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/language")
async def language(request: Request, lang: str = Form(...), back: str = Form("/desk/queue"),
                   session: DeskSession = Depends(require(EVERYONE))) -> Response:
    if lang not in LANGUAGES:
        return error_page(request, 422, f"language must be one of {list(LANGUAGES)}")
    await run_in_threadpool(desk_of(request).set_language, session, lang)
    response = RedirectResponse(back if back.startswith("/desk/") else "/desk/queue", status_code=303)
    response.set_cookie("zaslon_lang", lang, **cookie_flags(request))  # type: ignore[arg-type]
    return response


# ---------------------------------------------------------------- queue
@router.get("")
@router.get("/")
async def home(session: DeskSession = Depends(require(EVERYONE))) -> Response:
    return RedirectResponse("/desk/queue" if session.user.role in ANALYSTS else "/desk/district", status_code=303)


def _queue_ctx(request: Request, session: DeskSession, view: str, scheme: str, page: int) -> dict[str, Any]:
    try:
        chosen = QueueView(view)
    except ValueError:
        raise InvalidInput(f"view must be one of {[v.value for v in QueueView]}", field="view") from None
    desk = desk_of(request)
    desk.store.sync_queue()
    now = datetime.now(UTC)
    items, total = desk.store.queue(chosen, user_id=session.user.user_id, now=now, scheme=scheme or None,
                                    limit=PAGE, offset=(page - 1) * PAGE)
    limits = state_of(request).settings.desk_clock_limits_min
    rows = [(i, views.clocks(i, limits, now)) for i in items]
    return {"rows": rows, "total": total, "view": chosen.value, "scheme": scheme, "page": page,
            "pages": max(1, -(-total // PAGE)), "views": [v.value for v in QueueView]}


@router.get("/queue")
async def queue(request: Request, view: str = "open", scheme: str = "", page: int = 1,
                session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    try:
        ctx = await run_in_threadpool(_queue_ctx, request, session, view, scheme[:32], max(page, 1))
    except InvalidInput as exc:
        return error_page(request, 422, str(exc))
    return render(request, "queue.html", session, message=request.query_params.get("msg"), **ctx)


@router.get("/queue/rows")
async def queue_rows(request: Request, view: str = "open", scheme: str = "", page: int = 1,
                     session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    try:
        ctx = await run_in_threadpool(_queue_ctx, request, session, view, scheme[:32], max(page, 1))
    except InvalidInput as exc:
        return error_page(request, 422, str(exc))
    return render(request, "_queue_rows.html", session, **ctx)


@router.post("/queue/take-next")
async def take_next(request: Request, session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    got = await run_in_threadpool(desk_of(request).take_next, session.user)
    if got is None:
        return RedirectResponse("/desk/queue?msg=empty", status_code=303)
    return RedirectResponse(f"/desk/incidents/{got}", status_code=303)


# ---------------------------------------------------------------- incident
def _incident_ctx(request: Request, session: DeskSession, incident_id: str) -> dict[str, Any]:
    state = state_of(request)
    desk = desk_of(request)
    exchange = state.exchange
    principal = desk.principal(session.user)
    incident = get_incident(state.db, principal, incident_id)
    item = desk.item(incident_id)
    orders = exchange.list_orders(None, incident_id=incident_id, limit=1000)
    events = desk.store.order_events([o.order_id for o in orders])
    stage = views.order_stage_times(events)
    disputed = desk.store.incident_transfers(incident_id)
    bank_of: dict[str, str | None] = {}
    for t in disputed:
        bank_of[t["payer"]] = t["payer_bank"]
        bank_of[t["payee"]] = t["payee_bank"]
    for o in orders:
        bank_of[o.account_id] = o.bank_id
    flow = exchange.money_flow([transfer_key(t["org_id"], t["transfer_id"]) for t in disputed])
    graph = views.money_flow(flow, sorted({t["payer"] for t in disputed}), orders, bank_of,
                             t=translator(session.language))
    timeline: list[tuple[datetime, str, str]] = []
    for t in disputed:
        timeline.append((t["ts"], "transfer", f"{t['payer']} → {t['payee']} {views.money(t['amount'], t['currency'])}"))
    timeline.append((datetime.fromisoformat(incident["reported_at"]), "report",
                     f"{incident['scheme']} reported by {incident['reporter_org']}"))
    for h in flow.hops:
        if h.depth > 1 and h.to_account not in views.SINKS:  # a withdrawal or freeze shows as its end below
            timeline.append((datetime.fromtimestamp(h.ts_us / 1e6, UTC), "hop",
                             f"hop {h.depth}: {h.from_account} → {h.to_account} {views.money(h.amount)}"))
    for e in flow.exits:
        if e.ts_us:
            timeline.append((datetime.fromtimestamp(e.ts_us / 1e6, UTC), e.kind.value,
                             f"{e.kind.value.replace('_', ' ')}: {e.from_account} {views.money(e.amount)}"
                             + (f" ATM {e.atm_id}" if e.atm_id else "") + (f" {e.country}" if e.country else "")))
    for ev in events:
        amount = f" {views.money(ev['amount'])}" if ev["amount"] is not None else ""
        timeline.append((ev["at"], f"order-{ev['status']}", f"order {ev['order_id']} {ev['status']}{amount}"
                         + (f" by {ev['by_org']}" if ev["by_org"] else "")))
    for a in desk.store.audit_log(limit=200, target=incident_id):
        timeline.append((a["at"], "desk", f"{a['action']} by {a['login'] or '-'} {a['detail'] or ''}".strip()))
    timeline.sort(key=lambda x: x[0])
    limits = state.settings.desk_clock_limits_min
    now = datetime.now(UTC)
    return {"incident": incident, "item": item, "clocks": views.clocks(item, limits, now), "orders": orders,
            "stage": stage, "graph": graph, "flow": flow, "timeline": timeline, "disputed": disputed,
            "reasons": [r.value for r in CloseReason], "now": now}


@router.get("/incidents/{incident_id}")
async def incident_page(request: Request, incident_id: str,
                        session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    try:
        ctx = await run_in_threadpool(_incident_ctx, request, session, incident_id[:64])
    except NotFound as exc:
        return error_page(request, 404, str(exc))
    return render(request, "incident.html", session, **ctx)


@router.get("/incidents/{incident_id}/orders")
async def incident_orders(request: Request, incident_id: str,
                          session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def ctx() -> dict[str, Any]:
        desk = desk_of(request)
        orders = state_of(request).exchange.list_orders(None, incident_id=incident_id, limit=1000)
        stage = views.order_stage_times(desk.store.order_events([o.order_id for o in orders]))
        return {"orders": orders, "stage": stage, "now": datetime.now(UTC)}

    return render(request, "_incident_orders.html", session, **await run_in_threadpool(ctx))


def _version(raw: str) -> int:
    if not raw.isdigit():
        raise InvalidInput("the form lacks the item's version: reload the page", field="version")
    return int(raw)


@router.post("/incidents/{incident_id}/assign")
async def assign(request: Request, incident_id: str, to: str = Form("", max_length=64),
                 version: str = Form("", max_length=12), session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    back = f"/desk/incidents/{incident_id}"
    desk = desk_of(request)
    target = session.user.login if to == "me" else to.strip() or None
    if target not in (None, session.user.login) and session.user.role not in SUPERVISORS:
        return error_page(request, 403, "Only a supervisor assigns incidents to someone else.", back)

    def go() -> None:
        desk.assign(session.user, incident_id, to_login=target, version=_version(version))

    return await act(request, back, go)


@router.post("/incidents/{incident_id}/snooze")
async def snooze(request: Request, incident_id: str, hours: str = Form("", max_length=6),
                 version: str = Form("", max_length=12), session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def go() -> None:
        try:
            h = float(hours)
        except ValueError:
            raise InvalidInput("snooze for a number of hours", field="hours") from None
        if not 0 < h <= 720:
            raise InvalidInput("snooze for more than 0 and at most 720 hours", field="hours")
        desk_of(request).snooze(session.user, incident_id, until=datetime.now(UTC) + timedelta(hours=h),
                                version=_version(version))

    return await act(request, f"/desk/incidents/{incident_id}", go)


@router.post("/incidents/{incident_id}/close")
async def close(request: Request, incident_id: str, reason: str = Form("", max_length=32),
                note: str = Form("", max_length=2000), version: str = Form("", max_length=12),
                session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def go() -> None:
        desk_of(request).close(session.user, incident_id, reason=reason, note=note, version=_version(version))

    return await act(request, f"/desk/incidents/{incident_id}", go)


# ---------------------------------------------------------------- orders, couriers, appeals, audit, district
@router.get("/orders")
async def orders_board(request: Request, status: str = "", bank: str = "", page: int = 1,
                       session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    page = max(page, 1)

    def ctx() -> dict[str, Any]:
        if status and status not in {s.value for s in OrderStatus}:
            raise InvalidInput(f"status must be one of {[s.value for s in OrderStatus]}", field="status")
        now = datetime.now(UTC)
        store = desk_of(request).store
        orders, total, counts = store.orders_board(now=now, status=status or None, bank_id=bank[:11] or None,
                                                   limit=PAGE, offset=(page - 1) * PAGE)
        stage = views.order_stage_times(store.order_events([o.order_id for o in orders]))
        by_bank: dict[str, dict[str, int]] = {}
        for b, st, n in counts:
            by_bank.setdefault(b, {})[st] = n
        return {"orders": orders, "stage": stage, "now": now, "status": status, "bank": bank, "page": page,
                "pages": max(1, -(-total // PAGE)), "total": total,
                "statuses": [s.value for s in OrderStatus], "by_bank": sorted(by_bank.items())}

    try:
        data = await run_in_threadpool(ctx)
    except InvalidInput as exc:
        return error_page(request, 422, str(exc))
    return render(request, "orders.html", session, **data)


@router.post("/orders/{order_id}/{step}")
async def order_step(request: Request, order_id: str, step: str, reason: str = Form("", max_length=2000),
                     hours: str = Form("", max_length=6), back: str = Form("/desk/orders", max_length=300),
                     session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    """The desk's hand on an order: confirm one waiting in pending_confirmation, extend its deadline, or lift
    (release) it; extending and lifting need a reason."""
    desk = desk_of(request)

    def go() -> None:
        exchange = state_of(request).exchange
        principal = desk.principal(session.user)
        why = reason.strip()
        if step == "confirm":
            exchange.confirm_order(principal, order_id)
        elif step in ("extend", "lift"):
            if not why:
                raise InvalidInput(f"give the reason to {step} the order", field="reason")
            if step == "lift":
                exchange.release(principal, order_id, reason=f"{why} (desk: {session.user.login})")
            else:
                try:
                    h = float(hours)
                except ValueError:
                    raise InvalidInput("extend by a number of hours", field="hours") from None
                if not 0 < h <= 24 * 90:
                    raise InvalidInput("extend by more than 0 and at most 2160 hours", field="hours")
                current = exchange.order(order_id, None)
                exchange.extend_order(principal, order_id, current.deadline + timedelta(hours=h),
                                      reason=f"{why} (desk: {session.user.login})")
        else:
            raise NotFound(f"no order action {step!r}", field="step")
        desk.audit(session.user.user_id, f"order.{step}", order_id, why or None, org_id=session.user.org_id)

    return await act(request, back if back.startswith("/desk/") else "/desk/orders", go)


@router.get("/couriers")
async def couriers(request: Request, session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def ctx() -> dict[str, Any]:
        alerts = desk_of(request).store.courier_alerts(limit=200)
        for a in alerts:
            a["place"] = a["crossing"] = None
            try:
                lat, lon = float(a["atm_lat"]), float(a["atm_lon"])
            except (TypeError, ValueError):
                continue
            a["place"] = belarus.xy(lat, lon)
            a["crossing"] = belarus.nearest_crossing(lat, lon)
        steps = [s["action"] for a in alerts for s in a["actions"]]
        return {"alerts": alerts, "map": belarus, "patrols": steps.count("courier.patrol"),
                "detained": steps.count("courier.detained"),
                "door_risks": state_of(request).exchange.district.courier_risks(limit=100)}

    return render(request, "couriers.html", session, **await run_in_threadpool(ctx))


@router.post("/couriers/{transfer_id}/{step}")
async def courier_step(request: Request, transfer_id: str, step: str,
                       session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    return await act(request, "/desk/couriers", desk_of(request).courier_step, session.user, transfer_id, step)


@router.get("/appeals")
async def appeals_page(request: Request, session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    rows = await run_in_threadpool(desk_of(request).store.appeals, pending_only=False, limit=200)
    return render(request, "appeals.html", session, appeals=rows, verdicts=[v.value for v in Verdict])


@router.post("/appeals/{appeal_id}/decide")
async def decide(request: Request, appeal_id: str, verdict: str = Form("", max_length=16),
                 note: str = Form("", max_length=5000), session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    desk = desk_of(request)

    def go() -> None:
        try:
            chosen = Verdict(verdict)
        except ValueError:
            raise InvalidInput(f"decision must be one of {[v.value for v in Verdict]}", field="verdict") from None
        if not note.strip():
            raise InvalidInput("give the reason for the decision", field="note")
        state_of(request).exchange.decide_appeal(desk.principal(session.user), appeal_id, verdict=chosen,
                                                 note=f"{note.strip()} (desk: {session.user.login})")
        desk.audit(session.user.user_id, "appeal.decide", appeal_id, f"{chosen.value}: {note.strip()}",
                   org_id=session.user.org_id)

    return await act(request, "/desk/appeals", go)


@router.get("/audit")
async def audit(request: Request, session: DeskSession = Depends(require(SUPERVISORS))) -> Response:
    rows = await run_in_threadpool(desk_of(request).store.audit_log, limit=300)
    return render(request, "audit.html", session, events=rows)


# ---------------------------------------------------------------- live updates
@router.get("/events")
async def events(request: Request, session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    """Server-sent events: ``pulse`` whenever incidents, order steps or cash-out alerts change."""
    del session
    store = desk_of(request).store

    async def stream() -> Any:
        last = await run_in_threadpool(store.pulse)
        yield f"retry: 1000\nevent: hello\ndata: {json.dumps(last)}\n\n"
        started = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() - started < SSE_MAX_S:
            await asyncio.sleep(SSE_POLL_S)
            if await request.is_disconnected():
                return
            now = await run_in_threadpool(store.pulse)
            if now != last:
                kinds = [k for k, a, b in zip(("incident", "order", "alert"), last, now, strict=True) if a != b]
                last = now
                yield f"event: pulse\ndata: {json.dumps({'changed': kinds, 'state': now})}\n\n"
            else:
                yield ": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
