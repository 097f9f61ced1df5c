"""Webhooks to banks: each order pushed to the bank's own address, signed, and retried until it lands.

The body is signed with the bank's secret like Stripe's and GitHub's webhooks, so the bank can tell the
exchange's call from a forgery and a replay: the header ``Zaslon-Signature: t=<unix seconds>,v1=<hex>`` carries
HMAC-SHA-256 over ``"<t>.<body>"``. A delivery that fails (no answer, not 2xx) is retried with exponential
backoff (``webhook_backoff_s`` doubling) up to ``webhook_max_attempts``; the bank still finds every order through
``GET /v1/orders`` whatever happens to its webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import structlog

from zaslon.adapters.db.stores.webhooks import SqlWebhookStore
from zaslon.errors import InvalidInput
from zaslon.flow.ports.webhooks import Hook, WebhookStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "Zaslon-Signature"


def sign(secret: str, body: bytes, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, now: int, tolerance_s: int = 300) -> bool:
    """What a bank runs on its side (and the tests do): the signature matches and is fresh."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        at = int(parts["t"])
    except (KeyError, ValueError):
        return False
    return abs(now - at) <= tolerance_s and hmac.compare_digest(sign(secret, body, at), header)


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("a webhook URL must be an absolute http(s) URL", field="url")
    if len(url) > 2000:
        raise InvalidInput("a webhook URL must be at most 2000 characters", field="url")
    return url


class Webhooks:
    def __init__(self, engine: Engine, *, max_attempts: int = 8, backoff_s: float = 2.0,
                 transport: httpx.BaseTransport | None = None, timeout_s: float = 5.0) -> None:
        self.store: WebhookStore = SqlWebhookStore(engine)
        self.max_attempts, self.backoff_s = max_attempts, backoff_s
        self.transport, self.timeout_s = transport, timeout_s

    # ------------------------------------------------------------------ a bank's own settings
    def set(self, org_id: str, url: str, secret: str | None = None) -> dict[str, Any]:
        """Set the organisation's webhook; a secret is generated when none is given (shown once, here)."""
        check_url(url)
        if secret is not None and not 16 <= len(secret) <= 200:
            raise InvalidInput("a webhook secret must be 16 to 200 characters", field="secret")
        secret = secret or secrets.token_urlsafe(32)
        self.store.set_hook(org_id, url, secret)
        return {"url": url, "secret": secret, "signature_header": SIGNATURE_HEADER}

    def get(self, org_id: str) -> dict[str, Any] | None:
        hook = self.store.hook_of(org_id)
        return None if hook is None else {"url": hook.url, "signed": hook.secret is not None,
                                          "signature_header": SIGNATURE_HEADER}

    def remove(self, org_id: str) -> None:
        self.store.set_hook(org_id, None, None)

    # ------------------------------------------------------------------ deliveries
    def enqueue(self, events: Iterable[tuple[str, str, dict[str, Any]]], *, now: datetime) -> list[int]:
        """Owe each (bank_id, order_id, body) to banks that set a webhook (the others poll)."""
        rows = list(events)
        hooks = self.store.hooks({b for b, _, _ in rows}) if rows else {}
        return self.store.enqueue([(b, o, json.dumps(body, separators=(",", ":"), sort_keys=True))
                                   for b, o, body in rows if b in hooks], now=now)

    def deliver_due(self, now: datetime, *, ids: list[int] | None = None) -> int:
        """Attempt the deliveries due now (only ``ids`` if given); returns how many landed."""
        due = self.store.due(now, ids=ids)
        if not due:
            return 0
        hooks = self.store.hooks({d.bank_id for d in due})
        ok = 0
        with httpx.Client(transport=self.transport, timeout=self.timeout_s) as client:
            for d in due:
                hook: Hook | None = hooks.get(d.bank_id)
                if hook is None:  # the bank removed its webhook meanwhile: it polls
                    self.store.settle(d.delivery_id, ok=False, error="webhook removed", next_at=None, now=now)
                    continue
                body = d.payload.encode()
                headers = {"Content-Type": "application/json", "Zaslon-Delivery": str(d.delivery_id)}
                if hook.secret:
                    headers[SIGNATURE_HEADER] = sign(hook.secret, body, int(now.timestamp()))
                try:
                    resp = client.post(hook.url, content=body, headers=headers)
                    good, error = resp.is_success, None if resp.is_success else f"HTTP {resp.status_code}"
                except httpx.HTTPError as exc:
                    good, error = False, type(exc).__name__
                attempt = d.attempts + 1
                retry = None if good or attempt >= self.max_attempts else now + timedelta(
                    seconds=self.backoff_s * 2 ** (attempt - 1))
                self.store.settle(d.delivery_id, ok=good, error=error, next_at=retry, now=now)
                if not good:
                    log.warning("webhook_failed", order_id=d.order_id, bank=d.bank_id, error=error,
                                attempt=attempt, retry_at=None if retry is None else retry.isoformat())
                ok += good
        return ok
