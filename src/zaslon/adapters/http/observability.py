"""Request logging with bound context and Prometheus metrics at /metrics.

Plain ASGI middleware (not BaseHTTPMiddleware): it adds microseconds, not a task per request. A fast lane
(see ``zaslon.adapters.http.lanes.ZaslonAPI``) answers outside the middleware stack and records through the
same ``HttpMetrics`` (``AppState.metrics``), so /metrics counts every request once.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("zaslon.http")


class HttpMetrics:
    """Request counts by (method, route, status) and latency by (method, route); 4xx/5xx are logged."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter("zaslon_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=registry)
        self.latency = Histogram(
            "zaslon_http_request_seconds", "HTTP request latency", ["method", "route"], registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        # Resolving a labelled child is a lock and a dict lookup inside prometheus_client: keep them.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(method, route, str(status))
        counter.inc()
        timer = self._timers.get(key[:2])
        if timer is None:
            timer = self._timers[key[:2]] = self.latency.labels(method, route)
        timer.observe(seconds)
        if status >= 400:
            log.info("request", method=method, route=route, status=status, ms=round(seconds * 1000, 2))


class Observe:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.record(scope.get("method", ""), route, status, time.perf_counter() - started)


def instrument(app: FastAPI, metrics: HttpMetrics) -> None:
    """Record every request through ``metrics`` and show them at /metrics."""
    app.add_middleware(Observe, metrics=metrics)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        """Prometheus metrics, for a key with the scope ``metrics:read``; without a key only to a client on
        the loopback when ``ZASLON_METRICS_OPEN_ON_LOOPBACK`` is set (a scraper on the same host)."""
        from zaslon.adapters.http.auth import require_scope  # auth needs the app state, which needs this module
        from zaslon.adapters.http.state import state_of

        open_here = state_of(request).settings.metrics_open_on_loopback and _loopback(request)
        if not open_here:
            await require_scope(METRICS_SCOPE)(request)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


METRICS_SCOPE = "metrics:read"


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # "testclient", a unix socket: not an address on the loopback
        return False
