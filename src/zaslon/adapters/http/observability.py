"""Request logging with bound context and Prometheus metrics at /metrics.

Plain ASGI middleware (not BaseHTTPMiddleware): it adds microseconds, not a task per request.
"""

from __future__ import annotations

import time

import structlog
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("zaslon.http")


class Observe:
    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency

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
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(elapsed)
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
