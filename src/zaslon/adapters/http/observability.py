"""Request logging with bound context and Prometheus metrics at /metrics."""

from __future__ import annotations

import time

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

log = structlog.get_logger("zaslon.http")


def instrument(app: FastAPI) -> None:
    registry = CollectorRegistry()
    requests = Counter("zaslon_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram(
        "zaslon_http_request_seconds", "HTTP request latency", ["method", "route"], registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    )
    app.state.metrics = registry

    @app.middleware("http")
    async def _observe(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response: Response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = getattr(request.scope.get("route"), "path", "unmatched")
        requests.labels(request.method, route, str(response.status_code)).inc()
        latency.labels(request.method, route).observe(elapsed)
        if response.status_code >= 400:
            log.info("request", method=request.method, route=route, status=response.status_code,
                     ms=round(elapsed * 1000, 2))
        return response

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
