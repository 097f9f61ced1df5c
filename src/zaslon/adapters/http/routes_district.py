"""District officers' list over the API, for the police (scope ``cases:read``): the elderly people living alone
in a district who were recently targeted, with the reasons, contact details and outreach tasks; JSON or CSV.

``POST /v1/district/courier-risks/evaluate`` (scope ``cases:write``) raises the at-door courier risks due by
``at`` (housekeeping does it every few seconds with the clock; a simulation drives it with its event time).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict

from zaslon.adapters.http.auth import Principal, require_scope
from zaslon.adapters.http.state import state_of

router = APIRouter(tags=["district"])
District = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/v1/district/{district}/targets")
def district_targets(request: Request, district: District, format: Literal["json", "csv"] = "json",
                     at: AwareDatetime | None = None,
                     principal: Principal = Depends(require_scope("cases:read"))) -> Any:
    """The district's list as of ``at`` (default now): the most urgent first (an at-door courier risk)."""
    del principal
    watch = state_of(request).exchange.district
    if format == "csv":
        return Response(watch.targets_csv(district, now=at), media_type="text/csv; charset=utf-8")
    entries = watch.targets(district, now=at)
    return {"district": " ".join(district.split()), "targets": [e.as_json() for e in entries]}


class EvaluateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime | None = None


@router.post("/v1/district/courier-risks/evaluate")
def evaluate_courier_risks(body: EvaluateIn, request: Request,
                           principal: Principal = Depends(require_scope("cases:write"))) -> dict[str, Any]:
    """Raise the at-door courier risks due by ``at`` (default now; never later than now): those raised, and
    when the next watch falls due."""
    del principal
    exchange = state_of(request).exchange
    raised = exchange.raise_courier_risks(now=body.at)
    due = exchange.district.next_due()
    return {"raised": [{"district": s.district, "person": s.person, "account_id": s.account_id,
                        "at": s.at.isoformat()} for s in raised],
            "next_due": None if due is None else due.isoformat()}
