"""Incidents, the telecom side and appeals: thin routes over the Exchange.

``POST /v1/incidents`` runs ``Exchange.report_incident``: intake, then trace, freeze orders and linking into
a case; the answer carries all of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from zaslon.adapters.http.auth import Principal, authenticate, require_scope
from zaslon.adapters.http.state import state_of
from zaslon.core.types import Scheme
from zaslon.errors import InvalidInput
from zaslon.flow.appeals import Verdict, get_appeal
from zaslon.flow.exchange import IncidentOutcome
from zaslon.flow.intake import MAX_TEXT, MAX_TRANSFERS, IncidentReport, Victim, get_incident
from zaslon.flow.telecom import CallReport

router = APIRouter()

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/+-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class VictimIn(Strict):
    party_id: Id | None = None
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    age: int | None = Field(default=None, ge=0, le=130)
    lives_alone: bool | None = None
    region: str | None = Field(default=None, min_length=1, max_length=64, description="where the victim lives")
    district: str | None = Field(default=None, min_length=1, max_length=64)


class IncidentIn(Strict):
    scheme: Scheme
    victim: VictimIn | None = None
    transfer_ids: list[Id] = Field(default_factory=list, max_length=MAX_TRANSFERS)
    text: str = Field(default="", max_length=MAX_TEXT)
    external_ref: str | None = Field(default=None, min_length=1, max_length=128)
    reported_at: AwareDatetime | None = None
    language: Literal["ru", "be", "en"] | None = None


def _incident_body(outcome: IncidentOutcome) -> dict[str, Any]:
    result = outcome.intake
    inc = result.incident
    body: dict[str, Any] = {
        "incident_id": inc.incident_id,
        "status": "created" if result.created else "duplicate",
        "reported_at": inc.reported_at.isoformat(),
        "scheme": inc.scheme.value,
        "transfer_ids": list(inc.transfer_ids),
        "indicators": [{"kind": i.kind.value, "value": i.value, "display": i.display} for i in inc.indicators],
    }
    if not result.created:
        body["duplicate_of"] = result.duplicate_of
        return body
    body["flagged_accounts"] = list(result.flagged_accounts)
    body["flagged_phones"] = list(result.flagged_phones)
    if outcome.trace is not None:
        body["trace"] = outcome.trace
        body["orders"] = [o.order_id for o in outcome.orders] + list(outcome.existing_orders)
        body["linked_transfers"] = outcome.linked_transfers
    if outcome.case is not None:
        view = outcome.case
        body["case"] = {"case_id": view.case_id, "version": view.version, "incidents": len(view.incident_ids)}
    if outcome.followup_errors:
        body["followup_errors"] = list(outcome.followup_errors)
    return body


@router.post("/v1/incidents", tags=["incidents"], status_code=201)
def post_incident(
    body: IncidentIn,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    principal: Principal = Depends(require_scope("incidents:write")),
) -> dict[str, Any]:
    """Report an incident: 201 with the extracted indicators, the trace, the freeze orders issued and the case
    it was linked into; a repeat gets 200 with ``duplicate_of``; unknown transfer ids, or no transfer and no
    indicator in the text: 422, nothing written."""
    ref = body.external_ref
    if idempotency_key and ref and idempotency_key != ref:
        raise InvalidInput("Idempotency-Key and external_ref differ", field="external_ref")
    v = body.victim
    report = IncidentReport(
        reporter_org=principal.org_id,
        reporter_kind=str(principal.kind),
        scheme=body.scheme,
        reported_at=body.reported_at or datetime.now(UTC),
        victim=None if v is None else Victim(v.party_id, v.name, v.phone, v.age, v.lives_alone,
                                                  v.region, v.district),
        transfer_ids=tuple(body.transfer_ids),
        text=body.text,
        external_ref=ref or idempotency_key,
        language=body.language,
    )
    outcome = state_of(request).exchange.report_incident(principal, report)
    if not outcome.intake.created:
        response.status_code = 200
    return _incident_body(outcome)


@router.get("/v1/incidents/{incident_id}", tags=["incidents"])
def read_incident(
    incident_id: str, request: Request, principal: Principal = Depends(require_scope("incidents:read"))
) -> dict[str, Any]:
    """Police read any incident; a bank those it reported or that name its accounts; a telecom its own."""
    return get_incident(state_of(request).db, principal, incident_id)


# --- telecom ------------------------------------------------------------------------------------------
class FraudNumbersIn(Strict):
    numbers: list[Annotated[str, Field(min_length=3, max_length=32)]] = Field(min_length=1, max_length=10_000)
    note: str | None = Field(default=None, max_length=500)


class CallIn(Strict):
    call_id: Id
    ts: AwareDatetime
    caller: str = Field(min_length=3, max_length=32)
    callee: str = Field(min_length=3, max_length=32)
    callee_party: Id | None = None
    duration_s: int | None = Field(default=None, ge=0, le=86_400)


class CallsIn(Strict):
    calls: list[CallIn] = Field(min_length=1, max_length=10_000)


@router.post("/v1/telecom/fraud-numbers", tags=["telecom"])
def post_fraud_numbers(
    body: FraudNumbersIn, request: Request, principal: Principal = Depends(require_scope("telecom:write"))
) -> dict[str, Any]:
    phones, new = state_of(request).exchange.report_fraud_numbers(principal, body.numbers, body.note)
    return {"accepted": phones, "new": new}


@router.post("/v1/telecom/calls", tags=["telecom"])
def post_calls(
    body: CallsIn, request: Request, principal: Principal = Depends(require_scope("telecom:write"))
) -> dict[str, Any]:
    calls = [CallReport(c.call_id, c.ts, c.caller, c.callee, c.callee_party, c.duration_s) for c in body.calls]
    return state_of(request).exchange.report_calls(principal, calls)


@router.get("/v1/telecom/block-list", tags=["telecom"])
def get_block_list(
    request: Request,
    since: Annotated[str | None, Query(max_length=64, description="a cursor (`next`) or an ISO 8601 time")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    principal: Principal = Depends(require_scope("telecom:read")),
) -> dict[str, Any]:
    """Numbers to block: only those two independent reports or the police confirmed. Without ``since``, the
    whole list and its cursor ``next``; with ``since``, the additions and removals after it (``more``: page on
    from ``next``)."""
    del principal
    return state_of(request).exchange.block_list(since, limit)


# --- appeals ------------------------------------------------------------------------------------------
class AppealIn(Strict):
    account_id: Id
    reason: str = Field(min_length=1, max_length=5000)
    contact: str = Field(min_length=1, max_length=200)


class DecisionIn(Strict):
    decision: Verdict
    note: str = Field(min_length=1, max_length=5000)


@router.post("/v1/appeals", tags=["appeals"], status_code=201)
def post_appeal(body: AppealIn, request: Request, principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    """File an appeal against a listing (any connected organisation, on behalf of its customer)."""
    return state_of(request).exchange.file_appeal(principal, account_id=body.account_id, reason=body.reason,
                                                  contact=body.contact)


@router.post("/v1/appeals/{appeal_id}/decision", tags=["appeals"])
def post_decision(
    appeal_id: str, body: DecisionIn, request: Request,
    principal: Principal = Depends(require_scope("appeals:decide")),
) -> dict[str, Any]:
    """Uphold (delist at once) or reject. A decided appeal: 409; an unknown one: 404."""
    return state_of(request).exchange.decide_appeal(principal, appeal_id, verdict=body.decision, note=body.note)


@router.get("/v1/appeals/{appeal_id}", tags=["appeals"])
def read_appeal(appeal_id: str, request: Request, principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    return get_appeal(state_of(request).db, principal, appeal_id)
