"""The real-time scoring fast lane: ``POST /v1/transfers/score`` before the middleware stack (see
``zaslon.adapters.http.app.ZaslonAPI``), answering exactly as the documented route in ``routes_scoring``."""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from zaslon.adapters.http.app import replay, status_for
from zaslon.adapters.http.routes_scoring import COMPACT, ScoreIn, decision_json
from zaslon.errors import ZaslonError

__all__ = ["score_lane"]


_SCORE_ROUTE = "/v1/transfers/score"
_JSON_HEADERS = [(b"content-type", b"application/json")]


async def score_lane(app: Any, scope: Scope, receive: Receive, send: Send) -> Receive | None:
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
    limit = app.state.settings.max_body_bytes
    if (ctype.split(b";")[0].strip().lower() != b"application/json" or auth[:7].lower() != b"bearer "
            or not length.isdigit() or int(length) > limit):
        return receive
    principal = app.state.keys.cached(auth[7:].strip().decode("latin-1"))
    batcher = getattr(app.state, "score_batcher", None)
    if principal is None or "transfers:score" not in principal.scopes or batcher is None:
        return receive
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
    status = 200
    alerts: list[Any] = []
    try:
        transfer = item.to_domain()
        exchange = app.state.exchange
        [flag] = exchange.on_call([transfer], [item.on_flagged_call])
        recorded = await batcher.score(principal.org_id, transfer, flag)
        body = decision_json(recorded)
        if not recorded.replayed:
            alerts = exchange.cashout_attempts([transfer])
    except ZaslonError as exc:  # a conflicting replay of a known id, say: the same answer the route gives
        status = status_for(exc)
        body = COMPACT.encode(exc.to_dict()).encode()
    except Exception:  # uvicorn answers 500 and logs it; the metrics count it as the middleware would
        app.state.http_metrics.record("POST", _SCORE_ROUTE, 500, time.perf_counter() - started)
        raise
    await send({"type": "http.response.start", "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
    app.state.http_metrics.record("POST", _SCORE_ROUTE, status, time.perf_counter() - started)
    if alerts:  # after the answer: the bank is not kept waiting for the desk's alert
        await run_in_threadpool(app.state.exchange.record_cashout_attempts, [transfer], alerts)
    return None
