"""Freeze requests across borders on the desk's order board: ours to partners and partners' to us."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.auth import Principal, require_scope
from zaslon.adapters.http.state import state_of

router = APIRouter()


def _iso(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


@router.get("/v1/freeze-requests", tags=["orders"])
async def list_freeze_requests(
    request: Request, direction: str | None = Query(None, pattern="^(in|out)$"),
    principal: Principal = Depends(require_scope("orders:read_all")),
) -> dict[str, Any]:
    """Status as the requested side reported it: sent, received, orders_issued, frozen, refused, returned."""
    rows = await run_in_threadpool(state_of(request).exchange.sharing.freeze_requests, direction)
    return {"freeze_requests": [_iso(r) for r in rows]}


@router.get("/v1/case-links", tags=["cases"])
async def list_case_links(
    request: Request, partner: str | None = Query(None, max_length=200),
    principal: Principal = Depends(require_scope("cases:read")),
) -> dict[str, Any]:
    """Our cases linked with partner countries' cases: the partner's case joins identifiers we hold too."""
    rows = await run_in_threadpool(state_of(request).exchange.sharing.case_links, partner)
    return {"case_links": rows}
