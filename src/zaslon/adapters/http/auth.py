"""API-key authentication and scope checks, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from zaslon.errors import Forbidden, Unauthenticated
from zaslon.pipeline.orgs import Principal

__all__ = ["Principal", "authenticate", "require_scope"]


def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("x-api-key", "").strip()
    if not key:
        raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    principal: Principal | None = request.app.state.keys.verify(key)
    if principal is None:
        raise Unauthenticated("unknown or revoked API key")
    return principal


def require_scope(scope: str) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if scope not in principal.scopes:
            raise Forbidden(f"this key lacks the scope {scope!r}")
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency
