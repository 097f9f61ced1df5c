"""Freeze orders for banks: list and read those addressed to you, move them on, fetch them as ISO 20022.

A bank sees only orders addressed to its BIC; another bank's order answers 404 exactly like a missing
one. The police desk (scope ``orders:read_all``) reads every order. Acknowledging twice, freezing before
acknowledging and the like are 409; an amount out of range is 422; nothing is written on an error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from zaslon.adapters.http.auth import Principal, require_scope
from zaslon.adapters.http.state import state_of
from zaslon.adapters.iso20022.camt056 import render_camt056
from zaslon.adapters.iso20022.pacs004 import render_pacs004
from zaslon.core.types import OrderStatus
from zaslon.errors import Forbidden
from zaslon.flow.freeze import order_json

router = APIRouter(tags=["orders"])
XML = "application/xml"


class AtIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime | None = Field(default=None, description="when the bank did it (default: now); not ahead of "
                                     "the exchange's clock by more than 5 minutes")


class AmountIn(AtIn):
    amount: int = Field(ge=0, le=10**15, description="minor units of the order's currency")


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
    order_id: str, request: Request, body: AtIn | None = None,
    principal: Principal = Depends(require_scope("orders:write")),
) -> dict[str, Any]:
    """Release the order (e.g. the investigator lifted it); the money is free again."""
    return order_json(state_of(request).exchange.release(principal, order_id, at=body.at if body else None))


@router.get("/v1/alerts/cashout", tags=["orders"])
def cashout_alerts_list(
    request: Request, limit: int = Query(200, ge=1, le=1000),
    _p: Principal = Depends(require_scope("orders:read_all")),
) -> dict[str, Any]:
    """The desk's cash-out alerts: traced accounts paying out to cash, abroad or crypto (newest first)."""
    return {"alerts": state_of(request).exchange.orders.alerts(limit=limit)}
