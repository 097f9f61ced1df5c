"""The FastAPI application: one factory over one ``Exchange``, routers included by name.

Only this layer maps the error tree to HTTP status codes. A route module may define
``install(app, settings)`` to register what it needs (the scoring fast lane, its micro-batcher).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zaslon import __version__
from zaslon.adapters.db.engine import make_engine
from zaslon.adapters.http.observability import instrument
from zaslon.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    Unavailable,
    ZaslonError,
)
from zaslon.flow.exchange import Exchange
from zaslon.flow.orgs import KeyStore
from zaslon.settings import Settings

STATUS = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    PayloadTooLarge: 413,
    Unavailable: 503,
}


def status_for(exc: ZaslonError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


class BodyLimit:
    """Refuse bodies over the limit before they are read into memory (413)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.settings.max_body_bytes
        declared = None
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                declared = value  # the last one wins, as before
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send, limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = PayloadTooLarge(f"request body exceeds {limit} bytes").to_dict()
    await JSONResponse(body, status_code=413)({"type": "http"}, _noop_receive, send)


async def _noop_receive() -> Message:
    return {"type": "http.disconnect"}


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


FastLane = Callable[["ZaslonAPI", Scope, Receive, Send], Awaitable[Receive | None]]


class ZaslonAPI(FastAPI):
    """FastAPI with fast lanes: the hottest requests answered before the middleware stack and router.

    A lane registered for ``(method, path)`` sees the raw ASGI request first. It answers the common, valid
    case itself and returns None; anything else (no cached key, a body that does not validate, XML, too
    large) it hands back by returning a ``receive`` that replays whatever body it read, and the full stack
    (the FastAPI route, its validation and error handlers) answers exactly as if the lane did not exist.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_lanes: dict[tuple[str, str], FastLane] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.fast_lanes:
            lane = self.fast_lanes.get((scope["method"], scope["path"]))
            if lane is not None:
                handed_back = await lane(self, scope, receive, send)
                if handed_back is None:
                    return
                receive = handed_back
        await super().__call__(scope, receive, send)


def replay(body: bytes, more_body: bool, receive: Receive) -> Receive:
    """A ``receive`` that first yields ``body`` (already read from ``receive``), then reads on from it."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more_body}
        return await receive()

    return replaying


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    exchange: Exchange = app.state.exchange
    exchange.warm_up()  # compile (numba) and touch the hot paths before the first request
    if app.state.freeze_heap:
        # What start-up loaded (modules, the model, compiled code, feature state) lives as long as the server.
        # Frozen, it is left out of every later full garbage collection, each of which would otherwise scan it
        # all again: a pause of a tenth of a second in answering, measured under load. Only for `zaslon serve`:
        # a test or an embedding process must not have its heap frozen behind its back.
        gc.collect()
        gc.freeze()
    try:
        yield
    finally:
        if app.state.owns_exchange:
            exchange.close()


def create_app(settings: Settings | None = None, *, db: Engine | None = None, exchange: Exchange | None = None,
               freeze_heap: bool = False) -> ZaslonAPI:
    """The API over one ``Exchange`` (built here from ``settings`` unless given; a given one is the caller's
    to close). Routers are included by name below."""
    settings = settings or (exchange.settings if exchange is not None else Settings())
    app = ZaslonAPI(title="Zaslon", version=__version__, description="National anti-fraud exchange API.",
                    lifespan=_lifespan)
    app.state.settings = settings
    app.state.owns_exchange = exchange is None
    if exchange is None:
        exchange = Exchange(db if db is not None else make_engine(settings.database_url), settings)
        exchange.restore()  # Knowledge lives in memory: what the store says was learnt counts again
    app.state.exchange = exchange
    app.state.db = exchange.db
    app.state.keys = KeyStore(exchange.db)
    app.state.freeze_heap = freeze_heap

    @app.exception_handler(ZaslonError)
    async def _zaslon_error(_request: Request, exc: ZaslonError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        return JSONResponse(exc.to_dict(), status_code=status_for(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = [dict(e) for e in exc.errors()]
        errors = [
            {"field": _field(tuple(e.get("loc", ()))), "reason": str(e.get("msg"))} for e in _relevant(raw, exc.body)
        ]
        first = errors[0] if errors else {"field": "body", "reason": "invalid"}
        body = {
            "error": "InvalidInput",
            "message": f"{first['field']}: {first['reason']}",
            "field": first["field"],
            "errors": errors[:50],
        }
        return JSONResponse(body, status_code=422)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        with app.state.db.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    _include_routes(app, settings)
    instrument(app)
    app.add_middleware(BodyLimit, settings=settings)
    return app


def serve_app() -> ZaslonAPI:
    """The factory ``zaslon serve`` runs: settings from the environment, the heap frozen after start-up."""
    return create_app(freeze_heap=True)


def _include_routes(app: ZaslonAPI, settings: Settings) -> None:
    from zaslon.adapters.http import (
        routes_cases,
        routes_customers,
        routes_incidents,
        routes_orders,
        routes_scoring,
        routes_transfers,
    )

    for module in (routes_transfers, routes_scoring, routes_incidents, routes_orders, routes_cases, routes_customers):
        install = getattr(module, "install", None)
        if install is not None:
            install(app, settings)
        app.include_router(module.router)
