"""The FastAPI application: one factory over one ``Exchange``, its state typed, routers included by name.

``create_app`` composes: the Exchange (unless given), the key store, the real-time micro-batcher, the metrics,
all in one ``AppState`` (``zaslon.adapters.http.state``); then the error handlers (``errors``), the routers by
name, the scoring fast lane (``scoring_lane``), the middleware. The lifespan warms up at start-up and at
shutdown closes what the factory made: the Exchange (its recorder's threads and connections, the rules
watcher) and the engine; a given Exchange or engine stays open, the caller's to close.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zaslon import __version__
from zaslon.adapters.db.engine import make_engine
from zaslon.adapters.http import (
    desk,
    routes_cases,
    routes_customers,
    routes_district,
    routes_incidents,
    routes_models,
    routes_orders,
    routes_protection,
    routes_scoring,
    routes_sharing,
    routes_stats,
    routes_telecom,
    routes_transfers,
)
from zaslon.adapters.http.audit import AuditTrail
from zaslon.adapters.http.errors import error_response, install_error_handlers
from zaslon.adapters.http.lanes import ZaslonAPI
from zaslon.adapters.http.observability import HttpMetrics, instrument
from zaslon.adapters.http.ratelimit import KeyRateLimiter
from zaslon.adapters.http.scoring_lane import score_lane
from zaslon.adapters.http.state import AppState, app_state
from zaslon.adapters.taxii import server as taxii_server
from zaslon.errors import PayloadTooLarge
from zaslon.flow.audit import AuditLog
from zaslon.flow.exchange import Exchange
from zaslon.flow.orgs import KeyStore
from zaslon.flow.score_batcher import ScoreBatcher
from zaslon.settings import Settings

__all__ = ["AppState", "ZaslonAPI", "create_app", "serve_app"]


def create_app(settings: Settings | None = None, *, db: Engine | None = None, exchange: Exchange | None = None,
               freeze_heap: bool = False, follow_ledger: bool = False, housekeeping: bool = False) -> ZaslonAPI:
    """The API over one ``Exchange`` (built here from ``settings``, on ``db`` or a new engine, unless given).
    What is given stays the caller's to close; what is built here is closed when the app shuts down.
    ``housekeeping``: expire orders past their deadline and retry webhooks in the background."""
    settings = settings or (exchange.settings if exchange is not None else Settings())
    owns_exchange, owns_db = exchange is None, exchange is None and db is None
    if exchange is None:
        exchange = Exchange(db if db is not None else make_engine(settings.database_url), settings,
                            follow_ledger=follow_ledger)
        exchange.restore()  # Knowledge lives in memory: what the store says was learnt counts again
    if housekeeping:
        exchange.start_housekeeping(settings.order_expiry_interval_s)
        exchange.start_partner_sync()
    state = AppState(
        settings=settings,
        exchange=exchange,
        keys=KeyStore(exchange.db),
        score_batcher=ScoreBatcher(exchange.recorder, exchange.batch_context, max_batch=256,
                                   window=settings.score_window_ms / 1000),
        metrics=HttpMetrics(),
        freeze_heap=freeze_heap,
        owns_exchange=owns_exchange,
        owns_db=owns_db,
        limiter=KeyRateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
        audit=(audit := AuditLog(exchange.db)),
        bus=_bus_node(settings, exchange),
    )
    app = ZaslonAPI(title="Zaslon", version=__version__, description="National anti-fraud exchange API.",
                    lifespan=_lifespan)
    app.state.zaslon = state
    install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        with state.db.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    for module in (routes_transfers, routes_scoring, routes_incidents, routes_orders, routes_cases, routes_customers,
                   routes_models, routes_sharing, routes_protection, routes_telecom, routes_stats):
        app.include_router(module.router)
    app.include_router(routes_district.router)  # district officers' list, at-door courier risks
    taxii_server.install(app, settings.taxii_requests_per_minute)  # /taxii2/: partner exchanges
    app.fast_lanes[("POST", routes_scoring.SCORE_PATH)] = score_lane
    desk.install(app, settings)  # the police desk's pages, and `/` -> its sign-in
    instrument(app, state.metrics)
    app.add_middleware(AuditTrail, audit=audit)
    app.add_middleware(BodyLimit, settings=settings)
    if state.bus is not None:
        app.add_middleware(KnowledgeNotice, bus=state.bus)
    return app


def _bus_node(settings: Settings, exchange: Exchange) -> object | None:
    """The scale-out shape's API node when ``ZASLON_BUS_URL`` names a NATS server (docs/deployment.md)."""
    if not settings.bus_url.startswith("nats://"):
        return None
    from zaslon.adapters.bus.api_node import BusScorer

    return BusScorer(settings.bus_url, exchange.db, partitions=settings.bus_partitions,
                     reply_timeout_s=settings.bus_reply_timeout_s)


class KnowledgeNotice:
    """Scale-out: after a successful write other than scoring (an incident, an appeal, customers, rules), tell
    the workers to reload what the exchange learnt, so scoring sees it as the embedded default does."""

    def __init__(self, app: ASGIApp, bus: object) -> None:
        self.app, self.bus = app, bus

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD") or scope["path"].startswith(
                "/v1/transfers/score"):
            await self.app(scope, receive, send)
            return
        status = [0]

        async def watching(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        await self.app(scope, receive, watching)
        if 200 <= status[0] < 300:
            await self.bus.knowledge_changed()  # type: ignore[attr-defined]


def serve_app() -> ZaslonAPI:
    """The factory ``zaslon serve`` runs: settings from the environment, the heap frozen after start-up, the
    trace's ledger kept in step and orders expired (webhooks retried) in the background."""
    return create_app(freeze_heap=True, follow_ledger=True, housekeeping=True)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = app_state(app)
    if state.bus is not None:
        await state.bus.start()
    state.exchange.warm_up()  # compile (numba) and touch the hot paths before the first request
    if state.freeze_heap:
        # What start-up loaded (modules, the model, compiled code, feature state) lives as long as the server.
        # Frozen, it is left out of every later full garbage collection, each of which would otherwise scan it
        # all again: a pause of a tenth of a second in answering, measured under load. Only for `zaslon serve`:
        # a test or an embedding process must not have its heap frozen behind its back.
        gc.collect()
        gc.freeze()
    try:
        yield
    finally:
        state.keys.forget()  # no verified key outlives the server in memory
        if state.bus is not None:
            await state.bus.close()
        if state.owns_exchange:
            state.exchange.close()  # the rules watcher, the recorder's writer and checkpointer, its connections
        if state.owns_db:
            state.db.dispose()


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
    answer = error_response(PayloadTooLarge(f"request body exceeds {limit} bytes"))
    await answer({"type": "http"}, _noop_receive, send)


async def _noop_receive() -> Message:
    return {"type": "http.disconnect"}
