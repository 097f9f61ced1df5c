"""What the app holds, typed: one ``AppState``, built by the factory, stored once as ``app.state.zaslon``.

Routes read it through ``state_of(request)``; tests and the fast lane through ``app_state(app)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy import Engine
from starlette.applications import Starlette

from zaslon.adapters.http.observability import HttpMetrics
from zaslon.adapters.http.ratelimit import KeyRateLimiter
from zaslon.flow.audit import AuditLog
from zaslon.flow.exchange import Exchange
from zaslon.flow.orgs import KeyStore
from zaslon.flow.score_batcher import ScoreBatcher
from zaslon.settings import Settings

__all__ = ["AppState", "app_state", "state_of"]


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    exchange: Exchange
    keys: KeyStore  # API keys verified (cached in memory)
    score_batcher: ScoreBatcher  # the real-time micro-batches over the exchange's recorder
    metrics: HttpMetrics  # what /metrics shows, recorded by the middleware and the fast lane alike
    freeze_heap: bool = False  # gc.freeze after start-up: only `zaslon serve`
    owns_exchange: bool = True  # built by the factory: closed at shutdown (a given one is the caller's)
    owns_db: bool = False  # the engine made by the factory: disposed at shutdown
    limiter: KeyRateLimiter = field(default_factory=lambda: KeyRateLimiter(0, 1))  # per API key (0: off)
    audit: AuditLog | None = None  # who changed what through the API, hash-chained (None: not recorded)
    bus: Any = None  # the scale-out shape's API node (zaslon.adapters.bus.api_node.BusScorer): workers decide

    @property
    def db(self) -> Engine:
        return self.exchange.db


def app_state(app: Starlette) -> AppState:
    state: AppState = app.state.zaslon
    return state


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.zaslon
    return state
