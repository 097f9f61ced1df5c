"""API-key authentication and scope checks, as FastAPI dependencies.

The scoring fast lane (``zaslon.adapters.http.scoring_lane``) authenticates with the same pieces: the
key of ``Authorization: Bearer <key>`` (``bearer_key``), the same ``KeyStore`` (``AppState.keys``) and the
same scope check (``permits``); what it cannot settle from memory it hands to these dependencies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.state import state_of
from zaslon.errors import Forbidden, Unauthenticated
from zaslon.flow.orgs import Principal

__all__ = ["Principal", "admit", "authenticate", "bearer_key", "permits", "require_scope"]


def bearer_key(authorization: str) -> str | None:
    """The key of an ``Authorization`` header value ``Bearer <key>``; None for any other scheme."""
    return authorization[7:].strip() if authorization[:7].lower() == "bearer " else None


def permits(principal: Principal, scope: str) -> bool:
    return scope in principal.scopes


def _key_of(request: Request) -> str:
    key = bearer_key(request.headers.get("authorization", ""))
    if key is None:
        key = request.headers.get("x-api-key", "").strip()
    if not key:
        raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    return key


def _verify(request: Request) -> Principal:
    principal = state_of(request).keys.verify(_key_of(request))
    if principal is None:
        raise Unauthenticated("unknown or revoked API key")
    return principal


def admit(request: Request, principal: Principal) -> Principal:
    """Count the request against its key's rate (429 over it) and keep who acts for the audit trail."""
    state_of(request).limiter.check(principal.key_id)
    request.state.principal = principal  # read by the audit trail (adapters/http/audit.py) once answered
    return principal


def authenticate(request: Request) -> Principal:
    return admit(request, _verify(request))


def require_scope(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    # An async dependency runs on the event loop: a sync one costs a thread-pool hop on every request.
    # Only a key seen for the first time (a database read and a slow password hash) goes to a thread.
    async def dependency(request: Request) -> Principal:
        principal = state_of(request).keys.cached(_key_of(request))  # an in-memory hit, no I/O
        if principal is None:
            principal = await run_in_threadpool(_verify, request)
        admit(request, principal)
        if not permits(principal, scope):
            raise Forbidden(f"this key lacks the scope {scope!r}")
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency
