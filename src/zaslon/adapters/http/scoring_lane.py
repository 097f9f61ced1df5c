"""The real-time scoring fast lane: ``POST /v1/transfers/score`` before the middleware stack (see
``zaslon.adapters.http.lanes.ZaslonAPI``), answering exactly as the documented route in ``routes_scoring``.

Only the dispatch is the lane's own; everything else is the routes': the key and scope check
(``auth.bearer_key``, ``AppState.keys``, ``auth.permits``), the body limit (``settings.max_body_bytes``;
over it the full stack answers 413), the decision (``routes_scoring.decide``, ``decision_json``), the metrics
(``AppState.metrics``, as the middleware records them) and the error mapping (``errors.error_response``).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from zaslon.adapters.http.auth import bearer_key, permits
from zaslon.adapters.http.errors import error_response
from zaslon.adapters.http.lanes import ZaslonAPI, replay
from zaslon.adapters.http.routes_scoring import (
    SCORE_PATH,
    SCORE_SCOPE,
    ScoreIn,
    awaits_trusted_person,
    decide,
    decision_json,
)
from zaslon.adapters.http.state import app_state
from zaslon.errors import ZaslonError

__all__ = ["score_lane"]


_JSON_HEADERS = [(b"content-type", b"application/json")]


async def score_lane(app: ZaslonAPI, scope: Scope, receive: Receive, send: Send) -> Receive | None:
    """``score_transfer`` for the common case, before the middleware stack (see ``ZaslonAPI``).

    It answers a JSON transfer sent with a key already verified and holding the scope, that validates;
    every other request (and every one it could not finish reading) goes back to the full stack, body
    included, so errors, XML and first-time keys are answered exactly as the documented route answers them.
    """
    ctype = auth = length = b""
    seen = 0
    for name, value in scope["headers"]:
        if name == b"content-type":
            ctype, seen = value, seen + 1
        elif name == b"authorization":
            auth, seen = value, seen + 1
        elif name == b"content-length":
            length, seen = value, seen + 1
    if seen != 3:  # one of them missing or sent twice: the route decides (it reads the first of duplicates)
        return receive
    state = app_state(app)
    limit = state.settings.max_body_bytes
    if ctype.split(b";")[0].strip().lower() != b"application/json" or not length.isdigit() or int(length) > limit:
        return receive
    key = bearer_key(auth.decode("latin-1"))  # as Starlette decodes headers for the route
    principal = state.keys.cached(key) if key else None
    if principal is None or not permits(principal, SCORE_SCOPE):
        return receive
    if principal.key_id is not None and state.limiter.wait(principal.key_id) > 0:
        return receive  # over its rate: the full stack answers the 429 (with Retry-After)
    started = time.perf_counter()
    raw = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left: nothing to answer
            return None
        raw += message.get("body", b"")
        more = bool(message.get("more_body", False))
        if len(raw) > limit or not more:
            break
    if more:
        return replay(raw, True, receive)  # over the limit: the full stack answers 413
    try:
        item = ScoreIn.model_validate_json(raw)
    except ValidationError:
        return replay(raw, False, receive)  # the full stack re-derives the precise 422
    try:
        transfer = item.to_domain()
        recorded = await decide(state, principal.org_id, transfer, item.on_flagged_call)
        body = decision_json(recorded)
        # (in the scale-out shape the worker raises the desk's cash-out alerts, through its outbox)
        alerts: list[Any] = ([] if recorded.replayed or state.bus is not None
                             else state.exchange.cashout_attempts([transfer], [recorded.decision.outcome.value]))
    except ZaslonError as exc:  # a conflicting replay of a known id, say: the same answer the route gives
        answer = error_response(exc)
        await answer(scope, receive, send)
        state.metrics.record("POST", SCORE_PATH, answer.status_code, time.perf_counter() - started)
        return None
    except Exception:  # uvicorn answers 500 and logs it; the metrics count it as the middleware would
        state.metrics.record("POST", SCORE_PATH, 500, time.perf_counter() - started)
        raise
    await send({"type": "http.response.start", "status": 200,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
    state.metrics.record("POST", SCORE_PATH, 200, time.perf_counter() - started)
    if not recorded.replayed and recorded.decision.outcome.value in ("hold", "block"):  # their district officer
        await run_in_threadpool(state.exchange.district.on_transfers, [transfer], [recorded.decision.outcome.value])
    if alerts:  # after the answer: the bank is not kept waiting for the desk's alert
        await run_in_threadpool(state.exchange.record_cashout_attempts, [transfer], alerts)
    if not recorded.replayed and awaits_trusted_person(recorded):  # after the answer, as the alerts
        await run_in_threadpool(state.exchange.request_confirmations, principal.org_id, [transfer], [recorded])
    return None
