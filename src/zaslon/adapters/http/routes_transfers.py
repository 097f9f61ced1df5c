"""Banks submit transfers (one or a batch); stored idempotently."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from zaslon.adapters.http.auth import Principal, require_scope
from zaslon.adapters.http.schemas import BatchOut, StoredOut, TransferIn
from zaslon.adapters.http.state import state_of
from zaslon.errors import InvalidInput
from zaslon.flow.ingest import get_transfer

router = APIRouter(tags=["transfers"])


@router.post(
    "/v1/transfers",
    response_model=StoredOut | BatchOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"anyOf": [
                {"$ref": "#/components/schemas/TransferIn"},
                {"type": "array", "items": {"$ref": "#/components/schemas/TransferIn"}, "maxItems": 10000},
            ]}}},
        }
    },
)
def post_transfers(
    body: TransferIn | list[TransferIn],
    request: Request,
    response: Response,
    principal: Principal = Depends(require_scope("transfers:write")),
) -> Any:
    """Store one transfer (an object) or a batch (an array). Same id and body again: 200, nothing written;
    same id with another body: 409; any invalid item: 422 and nothing of the batch is stored."""
    settings = state_of(request).settings
    items = body if isinstance(body, list) else [body]
    if not items:
        raise InvalidInput("the batch is empty", field="body")
    if len(items) > settings.max_batch:
        raise InvalidInput(f"a batch holds at most {settings.max_batch} transfers", field="body")
    domain = [i.to_domain() for i in items]
    stored = state_of(request).exchange.store_transfers(principal.org_id, domain)
    outs = [StoredOut(transfer_id=s.transfer_id, status="created" if s.created else "duplicate") for s in stored]
    response.status_code = 201 if any(s.created for s in stored) else 200
    if isinstance(body, list):
        return BatchOut(results=outs)
    return outs[0]


@router.get("/v1/transfers/{transfer_id}")
def read_transfer(
    transfer_id: str, request: Request,
    org_id: str | None = Query(None, max_length=64, description="the submitting organisation (ids are its own)"),
    principal: Principal = Depends(require_scope("transfers:read")),
) -> dict[str, Any]:
    """A bank reads the transfers it submitted (another's answers 404, as a missing one); police read any, naming
    the submitter with ``org_id`` when two organisations used the same id."""
    exchange = state_of(request).exchange
    row = get_transfer(exchange.db, principal, transfer_id, org_id)
    asked = exchange.trusted_person_of(principal, str(row["org_id"]), transfer_id)  # held for a trusted person
    if asked is not None:
        row["trusted_person"] = asked
    return row
