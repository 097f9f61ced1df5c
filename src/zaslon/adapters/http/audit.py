"""The audit trail of the API: every state change answered with success is appended to the audit log.

Plain ASGI middleware. A request that may change state (any method but GET, HEAD, OPTIONS) and is answered
with a status below 400 gets one entry, written before the answer leaves: the organisation, the acting API
key (``key:<key id>``) and the person it was issued to, the route (``POST /v1/orders/{order_id}/ack``),
its path parameters as the subject, and in the detail the status, the path, the query and the SHA-256 of
the request body (the body itself may hold personal data and stays out of the log).

Transfers submitted and scored are not entered one by one (thousands a second): the transfers and decisions
tables keep each of them with the submitting organisation. Validating a rule set changes nothing.

The change is committed by the route before the entry is written. Should the entry fail, the answer is a
500 naming the audit log, so a change is never silently left out of it (the client learns, the operator is
alerted by the error log).
"""

from __future__ import annotations

import hashlib
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zaslon.flow.audit import AuditLog

log = structlog.get_logger("zaslon.audit")

READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})
NOT_AUDITED = frozenset({
    ("POST", "/v1/transfers"), ("POST", "/v1/transfers/score"), ("POST", "/v1/transfers/score/batch"),
    ("POST", "/v1/rules/validate"),
})
_FAILED = b'{"error":"Unavailable","message":"the change was made but the audit log could not record it"}'


class AuditTrail:
    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app, self.audit = app, audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in READ_ONLY:
            await self.app(scope, receive, send)
            return
        body = hashlib.sha256()
        failed = False

        async def hashing_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.update(message.get("body", b""))
            return message

        async def recording_send(message: Message) -> None:
            nonlocal failed
            if failed:
                return  # the route's own answer is replaced by the 500 already sent
            if message["type"] == "http.response.start" and message["status"] < 400:
                entry = _entry(scope, message["status"], body.hexdigest())
                if entry is not None:
                    try:
                        await run_in_threadpool(lambda: self.audit.record(**entry))
                    except Exception:
                        log.exception("audit_append_failed", action=entry["action"], org=entry["org_id"])
                        failed = True
                        await send({"type": "http.response.start", "status": 500,
                                    "headers": [(b"content-type", b"application/json")]})
                        await send({"type": "http.response.body", "body": _FAILED})
                        return
            await send(message)

        await self.app(scope, hashing_receive, recording_send)


def _entry(scope: Scope, status: int, body_sha256: str) -> dict[str, Any] | None:
    route = getattr(scope.get("route"), "path", None)
    principal = (scope.get("state") or {}).get("principal")
    method = scope.get("method", "")
    if route is None or principal is None or (method, route) in NOT_AUDITED:
        return None  # unrouted, or no key acted (nothing a person did), or not entered one by one
    params = scope.get("path_params") or {}
    return {
        "org_id": principal.org_id,
        "actor": f"key:{principal.key_id}" if principal.key_id else "key:unknown",
        "person": principal.person,
        "action": f"{method} {route}",
        "subject": " ".join(f"{k}={v}" for k, v in sorted(params.items()))[:200] or None,
        "detail": {"status": status, "path": scope.get("path", ""),
                   "query": scope.get("query_string", b"").decode("latin-1"), "body_sha256": body_sha256},
    }
