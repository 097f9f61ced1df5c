"""The one mapping of the error tree to HTTP: a status code per error class and one JSON error body.

Only the HTTP adapter maps errors to status codes. The routes' exception handlers and the scoring fast lane
(``zaslon.adapters.http.scoring_lane``) answer through ``error_response``, so an error is answered the same
whichever path a request took.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from zaslon.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    Unavailable,
    ZaslonError,
)

__all__ = ["error_response", "install_error_handlers", "status_for"]

STATUS = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    PayloadTooLarge: 413,
    RateLimited: 429,
    Unavailable: 503,
}
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def status_for(exc: ZaslonError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(exc: ZaslonError) -> JSONResponse:
    """``exc`` as the API answers it: its status, its JSON body, and the Bearer challenge on a 401."""
    headers = _CHALLENGE if isinstance(exc, Unauthenticated) else None
    if isinstance(exc, RateLimited):  # whole seconds (RFC 9110), never 0: "now" would invite a retry storm
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    elif isinstance(exc, Unavailable):  # nothing was stored: the client retries (with the same ids) after this
        headers = {"Retry-After": "1"}
    return JSONResponse(exc.to_dict(), status_code=status_for(exc), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ZaslonError)
    async def _zaslon_error(_request: Request, exc: ZaslonError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc)


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """A request that does not validate: 422 naming the first field at fault (and up to 50 of them)."""
    raw = [dict(e) for e in exc.errors()]
    errors = [{"field": _field(tuple(e.get("loc", ()))), "reason": str(e.get("msg"))} for e in _relevant(raw, exc.body)]
    first = errors[0] if errors else {"field": "body", "reason": "invalid"}
    body = {
        "error": "InvalidInput",
        "message": f"{first['field']}: {first['reason']}",
        "field": first["field"],
        "errors": errors[:50],
    }
    return JSONResponse(body, status_code=422)


def _is_union_tag(part: Any) -> bool:
    # pydantic names the branch of a union in the error location: "TransferIn", "list[...]", "function-after[...]"
    return isinstance(part, str) and ("[" in part or (part[:1].isupper() and part.isidentifier()))


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p != "body" and not _is_union_tag(p)) or "body"


def _relevant(errors: list[dict[str, Any]], body: Any) -> list[dict[str, Any]]:
    """For a one-or-many body keep only the errors of the branch the client actually sent."""
    want_list = isinstance(body, list)
    kept = [
        e for e in errors
        if not any(_is_union_tag(p) for p in e.get("loc", ()))
        or any(isinstance(p, str) and p.startswith("list[") for p in e.get("loc", ())) == want_list
    ]
    return kept or errors
