"""Telecom risk signals, shaped like the CAMARA network APIs: call events, operators' number ranges, police
confirmations of fraud numbers and appeals of listed numbers (thin routes over the Exchange).

``POST /v1/telecom/call-events`` takes start and end events of calls to the operator's subscribers with what
the network knows: Number Verification of the caller (``devicePhoneNumberVerified``; false = spoofed), the
operator's suspect registry, Call Forwarding Signal and SIM Swap (``latestSimChange``) of the callee's line.
Scoring reads them through the payer account's registered phones. docs/telecom.md explains each field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from zaslon.adapters.http.auth import Principal, authenticate, require_scope
from zaslon.adapters.http.routes_incidents import DecisionIn  # the same verdict and note as an account appeal's
from zaslon.adapters.http.state import state_of
from zaslon.flow.ports.telecom import CallEvent

router = APIRouter()

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/+-]+$")]
Number = Annotated[str, Field(min_length=3, max_length=32)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NumberVerificationIn(Strict):
    """CAMARA Number Verification of the calling line: is it really the number it presents?"""

    devicePhoneNumberVerified: bool


class CallForwardingIn(Strict):
    """CAMARA Call Forwarding Signal on the callee's line (unconditional forwarding)."""

    active: bool


class SimSwapIn(Strict):
    """CAMARA SIM Swap of the callee's line: when its SIM last changed (null: never, as far as known)."""

    latestSimChange: AwareDatetime | None = None


class CallEventIn(Strict):
    call_id: Id
    event: Literal["start", "end"]
    ts: AwareDatetime
    caller: Number
    callee: Number
    callee_party: Id | None = None
    duration_s: int | None = Field(default=None, ge=0, le=86_400)
    number_verification: NumberVerificationIn | None = None
    caller_in_suspect_registry: bool = False
    call_forwarding: CallForwardingIn | None = None
    sim_swap: SimSwapIn | None = None


class CallEventsIn(Strict):
    events: list[CallEventIn] = Field(min_length=1, max_length=10_000)


def _event(e: CallEventIn) -> CallEvent:
    return CallEvent(
        e.call_id, e.event, e.ts, e.caller, e.callee, e.callee_party, e.duration_s,
        caller_verified=None if e.number_verification is None else e.number_verification.devicePhoneNumberVerified,
        caller_in_registry=e.caller_in_suspect_registry,
        forwarding_active=None if e.call_forwarding is None else e.call_forwarding.active,
        latest_sim_change=None if e.sim_swap is None else e.sim_swap.latestSimChange,
    )


@router.post("/v1/telecom/call-events", tags=["telecom"])
def post_call_events(
    body: CallEventsIn, request: Request, principal: Principal = Depends(require_scope("telecom:write"))
) -> dict[str, Any]:
    """Start and end events of calls to the operator's own subscribers, all of the batch or nothing: a callee
    outside its registered number ranges, an end without its duration or a bad number: 422; an event stored
    with another body: 409. A repeat is counted in ``duplicates``. ``risky``: calls from a flagged, spoofed,
    registry-listed or unverified international number."""
    return state_of(request).exchange.report_call_events(principal, [_event(e) for e in body.events])


@router.get("/v1/telecom/number-ranges", tags=["telecom"])
def get_number_ranges(
    request: Request, principal: Principal = Depends(require_scope("telecom:write"))
) -> dict[str, Any]:
    """The E.164 prefixes registered to the operator (``zaslon orgs ranges``): the callees it may report."""
    return {"prefixes": state_of(request).exchange.number_ranges(principal)}


class ConfirmIn(Strict):
    numbers: list[Number] = Field(min_length=1, max_length=10_000)
    note: str | None = Field(default=None, max_length=500)


@router.post("/v1/telecom/block-list/confirmations", tags=["telecom"])
def post_confirmations(
    body: ConfirmIn, request: Request, principal: Principal = Depends(require_scope("appeals:decide"))
) -> dict[str, Any]:
    """The police confirm numbers as fraudulent: listed at once, without a second report."""
    phones, new = state_of(request).exchange.confirm_numbers(principal, body.numbers, body.note)
    return {"confirmed": phones, "new": new}


class NumberAppealIn(Strict):
    phone: Number
    reason: str = Field(min_length=1, max_length=5000)
    contact: str = Field(min_length=1, max_length=200)


@router.post("/v1/telecom/block-list/appeals", tags=["telecom"], status_code=201)
def post_number_appeal(
    body: NumberAppealIn, request: Request, principal: Principal = Depends(authenticate)
) -> dict[str, Any]:
    """Appeal a listed number (its operator or any connected organisation, for the subscriber); a number not on
    the block list: 422, nothing written."""
    return state_of(request).exchange.file_number_appeal(principal, phone=body.phone, reason=body.reason,
                                                         contact=body.contact)


@router.get("/v1/telecom/block-list/appeals/{appeal_id}", tags=["telecom"])
def read_number_appeal(
    appeal_id: str, request: Request, principal: Principal = Depends(authenticate)
) -> dict[str, Any]:
    """The police read any; the filer its own; another's answers 404, as a missing one."""
    return state_of(request).exchange.number_appeal(principal, appeal_id)


@router.post("/v1/telecom/block-list/appeals/{appeal_id}/decision", tags=["telecom"])
def post_number_decision(
    appeal_id: str, body: DecisionIn, request: Request,
    principal: Principal = Depends(require_scope("appeals:decide")),
) -> dict[str, Any]:
    """Uphold (de-listed at once, a removal in the block list's changes) or reject; twice: 409."""
    return state_of(request).exchange.decide_number_appeal(principal, appeal_id, verdict=body.decision,
                                                           note=body.note)
