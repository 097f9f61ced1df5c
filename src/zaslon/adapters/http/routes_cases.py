"""Cases for the police desk (`cases:read` / `cases:write`) and suspected-drop signals for banks."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from zaslon.adapters.http.auth import require_scope
from zaslon.adapters.http.state import state_of
from zaslon.core.access import sees_everything
from zaslon.errors import Forbidden
from zaslon.flow.cases import CaseService
from zaslon.flow.orgs import Principal

router = APIRouter(tags=["cases"])


def _service(request: Request) -> CaseService:
    return state_of(request).exchange.cases


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VersionIn(_Body):
    version: int = Field(ge=1, le=2**31 - 1, description="the case version you read; a stale one gets 409")


class SplitIn(VersionIn):
    incident_ids: list[str] = Field(min_length=1, max_length=10_000)
    reason: str = Field("analyst split", max_length=1000)


class MergeIn(VersionIn):
    other_case_id: str = Field(min_length=1, max_length=32)
    other_version: int = Field(ge=1, le=2**31 - 1)
    reason: str = Field("analyst merge", max_length=1000)


class LinkIn(_Body):
    incident_id: str = Field(min_length=1, max_length=64)


@router.get("/v1/cases")
def list_cases(
    request: Request,
    status: Literal["open", "confirmed", "closed", "merged"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    _p: Principal = Depends(require_scope("cases:read")),
) -> dict[str, Any]:
    return {"cases": _service(request).list(status, limit, offset)}


@router.get("/v1/cases/{case_id}")
def get_case(request: Request, case_id: str, _p: Principal = Depends(require_scope("cases:read"))) -> dict[str, Any]:
    service = _service(request)
    out = service.get(case_id).to_dict()
    out["history"] = service.history(case_id)
    return out


@router.post("/v1/cases/link")
def link_incident(request: Request, body: LinkIn, _p: Principal = Depends(require_scope("cases:write"))
                  ) -> dict[str, Any]:
    """Link a stored incident into cases now (intake normally does this itself)."""
    return dict(state_of(request).exchange.link_incident(body.incident_id).to_dict())


@router.post("/v1/cases/{case_id}/confirm")
def confirm_case(request: Request, case_id: str, body: VersionIn,
                 p: Principal = Depends(require_scope("cases:write"))) -> dict[str, Any]:
    """Confirm the case: its drops are IN_CASE from now on (scoring reviews payments to them; the default
    block rule reads it)."""
    return state_of(request).exchange.confirm_case(p, case_id, body.version).to_dict()


@router.post("/v1/cases/{case_id}/split")
def split_case(request: Request, case_id: str, body: SplitIn,
               p: Principal = Depends(require_scope("cases:write"))) -> dict[str, Any]:
    service = _service(request)
    kept, new = service.split(case_id, body.incident_ids, body.version, p.org_id, body.reason)
    return {"case": service.get(kept).to_dict(), "new_case": service.get(new).to_dict()}


@router.post("/v1/cases/{case_id}/merge")
def merge_case(request: Request, case_id: str, body: MergeIn,
               p: Principal = Depends(require_scope("cases:write"))) -> dict[str, Any]:
    service = _service(request)
    kept = service.merge(case_id, body.other_case_id, body.version, body.other_version, p.org_id, body.reason)
    return {"case": service.get(kept).to_dict()}


@router.get("/v1/cases/{case_id}/report", response_model=None)
def case_report(request: Request, case_id: str, format: Literal["json", "csv"] = "json",
                _p: Principal = Depends(require_scope("cases:read"))) -> Response:
    from zaslon.flow.groups import export_case

    text = export_case(_service(request).engine, case_id, format)
    if format == "csv":
        return PlainTextResponse(text, media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{case_id}.csv"'})
    return Response(text, media_type="application/json")


@router.post("/v1/signals/suspected-drops/refresh", tags=["signals"])
def refresh_suspected(request: Request, top_k: int = Query(500, ge=1, le=100_000),
                      _p: Principal = Depends(require_scope("cases:write"))) -> dict[str, Any]:
    """Re-rank every account now and replace the published list (and the Knowledge flags)."""
    rows = state_of(request).exchange.publish_suspected_drops(top_k=top_k)
    return {"published": len(rows)}


@router.get("/v1/signals/suspected-drops", tags=["signals"])
def suspected(request: Request, limit: int = Query(1000, ge=1, le=10_000),
              p: Principal = Depends(require_scope("signals:read"))) -> dict[str, Any]:
    """Accounts ranked as likely drops. A bank sees only accounts at its own BIC; the police see all."""
    bank_id = None
    if not sees_everything(p.kind):
        if p.bank_id is None:
            raise Forbidden("suspected-drop signals go to banks (an organisation with a BIC) and the police")
        bank_id = p.bank_id
    rows = _service(request).store.suspected_drops(bank_id, limit)
    return {"accounts": [
        {"account_id": r["account_id"], "bank_id": r["bank_id"], "score": round(r["score"], 4), "rank": r["rank"],
         "reasons": json.loads(r["reasons"]), "ranked_at": r["ranked_at"].isoformat()} for r in rows
    ]}
