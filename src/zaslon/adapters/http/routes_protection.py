"""Protection profiles: a trusted person confirms the operations an (elderly) customer chose, relayed by the bank.

``PUT /v1/customers/{account}/protection`` (scope ``customers:write``) registers, with the customer's consent, the
age band, living alone, the customer's phones, a trusted person and which operations need them; ``GET`` reads it.
Removing or replacing the trusted person takes effect after 24 h (``pending_change.takes_effect_at``). Another
bank's account answers 404 as a missing one; a trusted person who is the customer is 422; nothing is written on
an error.

A transfer that matches is held (reason ``awaiting_trusted_person``) and pushed to the bank's webhook as
``trusted_person.confirmation_requested``; the bank relays the answer with ``POST
/v1/transfers/{transfer_id}/trusted-person`` (once: a second answer is 409). Unanswered within 12 h, it is declined
(``expired``). See docs/protection.md.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from zaslon.adapters.http.auth import Principal, require_scope
from zaslon.adapters.http.state import state_of
from zaslon.core.protection import BAND_NAMES, Confirm, TrustedPerson
from zaslon.flow.protection import ProtectionRequest

router = APIRouter(tags=["protection"])

ID_PATTERN = r"^[A-Za-z0-9._:/+-]+$"
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
Phone = Annotated[str, Field(min_length=3, max_length=32)]
AgeBand = Literal["under_65", "65-74", "75-84", "85+"]  # zaslon.core.protection.BAND_NAMES


class TrustedPersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200)
    phone: Phone
    relation: str | None = Field(default=None, max_length=64, description="e.g. daughter, son, neighbour")
    customer_id: Id | None = Field(default=None, description="the bank's id of the trusted person, if a customer")


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    new_payee: bool = Field(default=False, description="a payee this customer never paid before")
    amount_above: int | None = Field(default=None, ge=0, le=10**15,
                                     description="a transfer of more than this, in minor units of currency")
    currency: str = Field(default="BYN", pattern=r"^[A-Z]{3}$")
    cash_withdrawal: bool = False
    during_call: bool = Field(default=False, description="any transfer while the customer is on a call")


class ProtectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    consent_at: AwareDatetime = Field(description="when the customer consented to this profile")
    customer_id: Id | None = Field(default=None, description="the bank's own id of the customer")
    age_band: AgeBand | None = Field(default=None, description=f"one of {list(BAND_NAMES)} (or give birth_date)")
    birth_date: date | None = None
    lives_alone: bool = False
    phones: list[Phone] = Field(default_factory=list, max_length=5,
                                description="the customer's numbers (default: those registered with PUT /v1/customers)")
    trusted_person: TrustedPersonIn | None = Field(
        default=None, description="null removes the trusted person (after the 24 h cooling-off)")
    confirm: ConfirmIn = Field(default_factory=ConfirmIn)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["confirm", "decline"]
    at: AwareDatetime | None = Field(default=None, description="when the trusted person answered (default: now)")


Account = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]


@router.put("/v1/customers/{account}/protection")
def put_protection(account: Account, body: ProtectionIn, request: Request,
                   principal: Principal = Depends(require_scope("customers:write"))) -> dict[str, Any]:
    """Register or change the calling bank's customer's protection profile (with the customer's consent)."""
    t = body.trusted_person
    c = body.confirm
    req = ProtectionRequest(
        account_id=account, consent_at=body.consent_at, age_band=body.age_band, birth_date=body.birth_date,
        lives_alone=body.lives_alone, phones=tuple(body.phones),
        trusted=None if t is None else TrustedPerson(t.name, t.phone, t.relation, t.customer_id),
        confirm=Confirm(c.new_payee, c.amount_above, c.currency, c.cash_withdrawal, c.during_call),
        customer_id=body.customer_id)
    return state_of(request).exchange.set_protection(principal, req)


@router.get("/v1/customers/{account}/protection")
def get_protection(account: Account, request: Request,
                   principal: Principal = Depends(require_scope("customers:write"))) -> dict[str, Any]:
    """The calling bank's customer's protection profile as in force now, with any change still cooling off."""
    return state_of(request).exchange.protection(principal, account)


@router.get("/v1/transfers/{transfer_id}/trusted-person")
def get_trusted_person(
    transfer_id: str, request: Request,
    org_id: str | None = Query(None, max_length=64, description="the submitting organisation (the police name it)"),
    principal: Principal = Depends(require_scope("transfers:read")),
) -> dict[str, Any]:
    """The trusted person's confirmation of a held transfer: pending, confirmed, declined or expired; when, by whom."""
    return state_of(request).exchange.trusted_person(principal, transfer_id, org_id)


@router.post("/v1/transfers/{transfer_id}/trusted-person")
def answer_trusted_person(transfer_id: str, body: AnswerIn, request: Request,
                          principal: Principal = Depends(require_scope("transfers:write"))) -> dict[str, Any]:
    """The bank relays the trusted person's answer for a transfer it submitted (once)."""
    return state_of(request).exchange.answer_trusted_person(principal, transfer_id, confirm=body.decision == "confirm",
                                                            at=body.at)
