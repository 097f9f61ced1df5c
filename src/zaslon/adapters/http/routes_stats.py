"""Statistics for the ministry (``stats:read``) and the import of past incidents they compare with."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from zaslon.adapters.http.auth import Principal, require_scope
from zaslon.adapters.http.state import state_of
from zaslon.core.types import Scheme
from zaslon.flow.ports.stats import HistoryRow
from zaslon.flow.stats import MAX_NAME, parse_query

router = APIRouter(tags=["stats"])


@router.get("/v1/stats")
def get_stats(
    request: Request,
    first: str | None = Query(None, alias="from", description="first day, YYYY-MM-DD (UTC), inclusive"),
    last: str | None = Query(None, alias="to", description="last day, YYYY-MM-DD (UTC), inclusive"),
    region: str | None = Query(None, max_length=MAX_NAME),
    district: str | None = Query(None, max_length=MAX_NAME),
    principal: Principal = Depends(require_scope("stats:read")),
) -> dict[str, Any]:
    """Incidents by type, region, district and month, year over year, money stolen / prevented / frozen /
    returned, time to first order and to frozen, each bank's acknowledgement times against the orders'
    deadlines, elderly victims, couriers detained and patrols sent. An inverted or unparsable period: 422."""
    query = parse_query(first, last, region, district)
    return state_of(request).exchange.stats(principal, query)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PastIncidentIn(_Strict):
    history_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/+-]+$")
    scheme: Scheme
    reported_at: AwareDatetime
    region: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    district: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    victim_age: int | None = Field(None, ge=0, le=130)
    victim_lives_alone: bool | None = None
    stolen: int | None = Field(None, ge=0, le=10**15, description="BYN minor units the victim lost")


class HistoryIn(_Strict):
    label: Literal["simulated", "register"]
    incidents: list[PastIncidentIn] = Field(min_length=1, max_length=20_000)


@router.post("/v1/incidents/history", tags=["incidents"])
def post_history(body: HistoryIn, request: Request,
                 principal: Principal = Depends(require_scope("incidents:write"))) -> dict[str, int]:
    """Import past registered incidents (police only) for the statistics' year-over-year figures: they name
    no transfer and no indicator, so nothing is traced, flagged or queued. An id imported before is skipped."""
    rows = [HistoryRow(i.history_id, i.scheme.value, i.reported_at, i.region, i.district, i.victim_age,
                       i.victim_lives_alone, i.stolen) for i in body.incidents]
    return state_of(request).exchange.import_incident_history(principal, rows, label=body.label)
