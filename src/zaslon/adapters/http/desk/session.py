"""Who is at the desk: the session cookie, the CSRF check on every form, and the role a page needs.

The cookie is HttpOnly and SameSite=Strict, Secure when the desk is served over TLS; it holds a random token
whose sha256 finds the session. Each session has its own CSRF token, sent back in every form (hidden field
``csrf_token``) or, from htmx, in the ``X-CSRF-Token`` header. The sign-in form, before any session, uses a
double-submit token: a cookie and the same value in the form.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from zaslon.flow.desk import Desk
from zaslon.flow.ports.desk import DeskSession, Role

COOKIE = "zaslon_desk"
LOGIN_COOKIE = "zaslon_desk_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
ANALYSTS = frozenset({Role.ANALYST, Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
EVERYONE = frozenset(Role)


class NotSignedIn(Exception):
    """No live session: a page redirects to the sign-in form (an htmx request is told to)."""


class NotAllowed(Exception):
    """Signed in, but this page is not for the person's role: 403."""


class BadCsrf(Exception):
    """A form without the session's CSRF token: 403, nothing done."""


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def cookie_flags(request: Request) -> dict[str, object]:
    return {"httponly": True, "samesite": "strict", "secure": request.url.scheme == "https", "path": "/"}


def require(roles: frozenset[Role]) -> Callable[[Request], Awaitable[DeskSession]]:
    async def dependency(request: Request) -> DeskSession:
        token = request.cookies.get(COOKIE)
        if not token:
            raise NotSignedIn
        session = await run_in_threadpool(desk_of(request).session, token)
        if session is None:
            raise NotSignedIn
        if session.user.role not in roles:
            raise NotAllowed
        if request.method == "POST":
            sent = request.headers.get(CSRF_HEADER)
            if sent is None:
                form = await request.form()
                value = form.get(CSRF_FIELD)
                sent = value if isinstance(value, str) else None
            if not sent or not secrets.compare_digest(sent, session.csrf_token):
                raise BadCsrf
        request.state.desk_session = session
        return session

    return dependency
