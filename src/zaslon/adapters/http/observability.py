"""Request logging with bound context and Prometheus metrics at /metrics.

Plain ASGI middleware (not BaseHTTPMiddleware): it adds microseconds, not a task per request.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("zaslon.http")


class Observe:
    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency
        # Resolving a labelled child is a lock and a dict lookup inside prometheus_client: keep them.
        self._counters: dict[tuple[str, str, str], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

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
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope.get("method", "")
            key = (method, route, str(status))
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = self.requests.labels(*key)
            counter.inc()
            timer = self._timers.get(key[:2])
            if timer is None:
                timer = self._timers[key[:2]] = self.latency.labels(method, route)
            timer.observe(elapsed)
            if status >= 400:
                log.info("request", method=method, route=route, status=status, ms=round(elapsed * 1000, 2))


def instrument(app: FastAPI) -> None:
    registry = CollectorRegistry()
    requests = Counter("zaslon_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram(
        "zaslon_http_request_seconds", "HTTP request latency", ["method", "route"], registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    )
    app.state.metrics = registry
    app.add_middleware(Observe, requests=requests, latency=latency)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
