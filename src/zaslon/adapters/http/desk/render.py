"""Rendering the desk's pages: the templates, the language, the error page, and a form action's answer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.desk import views
from zaslon.adapters.http.desk.i18n import DEFAULT_LANGUAGE, LANGUAGES, translator
from zaslon.adapters.http.desk.session import CSRF_FIELD
from zaslon.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated, ZaslonError
from zaslon.flow.ports.desk import DeskSession

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(money=views.money, minsk=views.minsk)


def language_of(request: Request, session: DeskSession | None) -> str:
    if session is not None:
        return session.language
    lang = request.cookies.get("zaslon_lang", DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def render(request: Request, name: str, session: DeskSession | None, status_code: int = 200,
           **ctx: Any) -> HTMLResponse:
    lang = language_of(request, session)
    ctx.update(request=request, session=session, user=session.user if session else None, lang=lang,
               _=translator(lang), csrf=session.csrf_token if session else "", now=datetime.now(UTC),
               csrf_field=CSRF_FIELD)
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def error_page(request: Request, status: int, message: str, back: str | None = None) -> HTMLResponse:
    session = getattr(request.state, "desk_session", None)
    return render(request, "error.html", session, status_code=status, message=message, status=status,
                  back=back or "/desk/queue")


_STATUS = {InvalidInput: 422, Conflict: 409, NotFound: 404, Forbidden: 403, Unauthenticated: 401}


async def act(request: Request, back: str, fn: Any, *args: Any, **kw: Any) -> Response:
    """Run a desk action; on success back to ``back`` (303), on a refused one an error page saying why."""
    try:
        await run_in_threadpool(fn, *args, **kw)
    except ZaslonError as exc:
        status = next((s for t, s in _STATUS.items() if isinstance(exc, t)), 400)
        return error_page(request, status, str(exc), back)
    return RedirectResponse(back, status_code=303)
