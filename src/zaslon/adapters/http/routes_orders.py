"""Freeze orders: banks list and read those addressed to them, acknowledge, freeze (and top up), return (in
tranches), fetch them as ISO 20022, and set the webhook orders are pushed to. The police desk (scopes
``orders:read_all``, ``orders:control``) reads every order, confirms those that waited for it, extends and
releases them, and watches the cash-out alerts live.

A bank sees only orders addressed to its BIC, once they went out; another bank's order answers 404 exactly like
a missing one. Acknowledging twice, freezing before acknowledging and the like are 409; an amount out of range
is 422; a bank releasing an order is 403; nothing is written on an error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.auth import Principal, require_scope
from zaslon.adapters.http.state import state_of
from zaslon.adapters.iso20022.camt056 import render_camt056
from zaslon.adapters.iso20022.pacs004 import render_pacs004
from zaslon.core.types import OrderStatus
from zaslon.errors import Forbidden, NotFound
from zaslon.flow.freeze import order_json

router = APIRouter(tags=["orders"])
ALERT_POLL_S = 0.5  # the live alert stream looks for new alerts this often
XML = "application/xml"


class AtIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime | None = Field(default=None, description="when the bank did it (default: now); not ahead of "
                                     "the exchange's clock by more than 5 minutes")


class AmountIn(AtIn):
    amount: int = Field(ge=0, le=10**15, description="minor units of the order's currency")


class ReleaseIn(AtIn):
    reason: str | None = Field(default=None, max_length=1000)


class ExtendIn(ReleaseIn):
    until: AwareDatetime = Field(description="the new deadline, later than the current one")


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000, description="an absolute http(s) URL orders are POSTed to")
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="the HMAC key of the Zaslon-Signature header (default: generated, "
                                           "shown once in the answer)")


def _reader_bank(p: Principal) -> str | None:
    """The BIC whose orders ``p`` may read; None means every order (the police desk)."""
    if "orders:read_all" in p.scopes:
        return None
    if p.bank_id is None:
        raise Forbidden("freeze orders are addressed to banks; this organisation has no BIC")
    return p.bank_id


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/v1/orders")
def list_orders(
    request: Request,
    status: OrderStatus | None = Query(None),
    incident_id: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    principal: Principal = Depends(require_scope("orders:read")),
) -> dict[str, Any]:
    """Orders addressed to the caller's bank (all orders for the police desk), oldest first."""
    orders = state_of(request).exchange.list_orders(_reader_bank(principal), status=status, incident_id=incident_id,
                                  limit=limit, offset=offset)
    return {"orders": [order_json(o) for o in orders], "limit": limit, "offset": offset}


@router.get("/v1/orders/{order_id}")
def read_order(
    order_id: str, request: Request, principal: Principal = Depends(require_scope("orders:read"))
) -> dict[str, Any]:
    return order_json(state_of(request).exchange.order(order_id, _reader_bank(principal)))


@router.get("/v1/orders/{order_id}/camt056", response_class=Response)
def order_camt056(
    order_id: str, request: Request, principal: Principal = Depends(require_scope("orders:read"))
) -> Response:
    """The order as an ISO 20022 camt.056.001.12 recall request (reason FRAD), quoting the original payment."""
    exchange = state_of(request).exchange
    order = exchange.order(order_id, _reader_bank(principal))
    origin = exchange.orders.origin(order.order_id)
    return Response(render_camt056(order, created_at=order.issued_at, origin=origin), media_type=XML)


@router.get("/v1/orders/{order_id}/pacs004", response_class=Response)
def order_pacs004(
    order_id: str, request: Request, principal: Principal = Depends(require_scope("orders:read"))
) -> Response:
    """The return to the victim as ISO 20022 pacs.004.001.09 (409 until the bank reported a return)."""
    exchange = state_of(request).exchange
    order = exchange.order(order_id, _reader_bank(principal))
    origin = exchange.orders.origin(order.order_id)
    return Response(render_pacs004(order, created_at=_now(), origin=origin), media_type=XML)


@router.post("/v1/orders/{order_id}/ack")
def ack_order(
    order_id: str, request: Request, body: AtIn | None = None,
    principal: Principal = Depends(require_scope("orders:write")),
) -> dict[str, Any]:
    """Acknowledge receipt. A second acknowledgement is 409 (the first one stands)."""
    return order_json(state_of(request).exchange.acknowledge(principal, order_id, at=body.at if body else None))


@router.post("/v1/orders/{order_id}/frozen")
def frozen_order(
    order_id: str, body: AmountIn, request: Request,
    principal: Principal = Depends(require_scope("orders:write")),
) -> dict[str, Any]:
    """Report the amount actually frozen (0 if the money had already left)."""
    return order_json(state_of(request).exchange.frozen(principal, order_id, body.amount, at=body.at))


@router.post("/v1/orders/{order_id}/returned")
def returned_order(
    order_id: str, body: AmountIn, request: Request,
    principal: Principal = Depends(require_scope("orders:write")),
) -> dict[str, Any]:
    """Report the amount returned to the victim (at most the frozen amount)."""
    return order_json(state_of(request).exchange.returned(principal, order_id, body.amount, at=body.at))


@router.post("/v1/orders/{order_id}/released")
def released_order(
    order_id: str, request: Request, body: ReleaseIn | None = None,
    principal: Principal = Depends(require_scope("orders:control")),
) -> dict[str, Any]:
    """The police lift the order; the money is free again. Only the police desk releases (a bank gets 403)."""
    return order_json(state_of(request).exchange.release(principal, order_id, reason=body.reason if body else None,
                                                         at=body.at if body else None))


@router.post("/v1/orders/{order_id}/confirm")
def confirm_order(
    order_id: str, request: Request, body: AtIn | None = None,
    principal: Principal = Depends(require_scope("orders:control")),
) -> dict[str, Any]:
    """Send out an order that waited for the desk (``pending_confirmation``: an established business's account)."""
    return order_json(state_of(request).exchange.confirm_order(principal, order_id, at=body.at if body else None))


@router.post("/v1/orders/{order_id}/extend")
def extend_order(
    order_id: str, body: ExtendIn, request: Request,
    principal: Principal = Depends(require_scope("orders:control")),
) -> dict[str, Any]:
    """Move an open order's deadline later (a court's extension)."""
    return order_json(state_of(request).exchange.extend_order(principal, order_id, body.until, reason=body.reason,
                                                              at=body.at))


@router.put("/v1/webhook", tags=["webhooks"])
def set_webhook(body: WebhookIn, request: Request,
                principal: Principal = Depends(require_scope("orders:write"))) -> dict[str, Any]:
    """Where the exchange POSTs your bank's orders, signed with HMAC-SHA-256 (``Zaslon-Signature: t=…,v1=…``
    over ``"<t>.<body>"``); failed deliveries are retried with backoff. The secret is shown only here."""
    return state_of(request).exchange.set_webhook(principal, body.url, body.secret)


@router.get("/v1/webhook", tags=["webhooks"])
def get_webhook(request: Request, principal: Principal = Depends(require_scope("orders:write"))) -> dict[str, Any]:
    hook = state_of(request).exchange.webhook(principal)
    if hook is None:
        raise NotFound("no webhook is set for this organisation", field="webhook")
    return hook


@router.delete("/v1/webhook", tags=["webhooks"], status_code=204)
def delete_webhook(request: Request, principal: Principal = Depends(require_scope("orders:write"))) -> Response:
    state_of(request).exchange.remove_webhook(principal)
    return Response(status_code=204)


@router.get("/v1/alerts/cashout", tags=["orders"])
def cashout_alerts_list(
    request: Request, limit: int = Query(200, ge=1, le=1000),
    _p: Principal = Depends(require_scope("orders:read_all")),
) -> dict[str, Any]:
    """The desk's cash-out alerts: protected accounts paying out to cash, abroad or crypto (newest first), each
    with the ATM, the order and case behind the account, and whether the exchange stopped an attempt
    (``outcome`` hold / block) or a bank reported it executed."""
    return {"alerts": state_of(request).exchange.orders.alerts(limit=limit)}


@router.get("/v1/alerts/cashout/stream", tags=["orders"], response_class=StreamingResponse)
async def cashout_alerts_stream(
    request: Request,
    max_seconds: float = Query(300.0, gt=0, le=3600, description="the stream closes after this long; an "
                               "EventSource reconnects by itself"),
    _p: Principal = Depends(require_scope("orders:read_all")),
) -> StreamingResponse:
    """The same alerts live, as server-sent events (``event: cashout``), from the moment of connecting."""
    state = state_of(request)

    async def events() -> AsyncIterator[str]:
        since = datetime.now(UTC)
        ends = asyncio.get_running_loop().time() + max_seconds
        yield ": connected\n\n"
        while asyncio.get_running_loop().time() < ends and not await request.is_disconnected():
            rows = await run_in_threadpool(state.exchange.orders.alerts, created_after=since, limit=1000)
            for row in reversed(rows):
                since = max(since, datetime.fromisoformat(row["created_at"]))
                yield f"event: cashout\ndata: {json.dumps(row, sort_keys=True)}\n\n"
            await asyncio.sleep(ALERT_POLL_S)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
