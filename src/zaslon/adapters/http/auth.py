"""API-key authentication and scope checks, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from zaslon.errors import Forbidden, Unauthenticated
from zaslon.flow.orgs import Principal

__all__ = ["Principal", "authenticate", "require_scope"]


def _key_of(request: Request) -> str:
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("x-api-key", "").strip()
    if not key:
        raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    return key


def authenticate(request: Request) -> Principal:
    key = _key_of(request)
    principal: Principal | None = request.app.state.keys.verify(key)
    if principal is None:
        raise Unauthenticated("unknown or revoked API key")
    return principal


def _cached(request: Request, key: str) -> Principal | None:
    """A key the store verified already (an in-memory hit, no I/O); None: it must be checked the slow way."""
    principal: Principal | None = request.app.state.keys.cached(key)
    return principal


def require_scope(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    # An async dependency runs on the event loop: a sync one costs a thread-pool hop on every request.
    # Only a key seen for the first time (a database read and a slow password hash) goes to a thread.
    async def dependency(request: Request) -> Principal:
        principal = _cached(request, _key_of(request))
        if principal is None:
            principal = await run_in_threadpool(authenticate, request)
        if scope not in principal.scopes:
            raise Forbidden(f"this key lacks the scope {scope!r}")
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency
