"""Customers' profiles, registered by their bank with the customer's consent (scope ``customers:write``).

``PUT /v1/customers`` takes a batch: all of it is stored, or nothing (422 for a bad item, 403 when an account
is registered by another bank). Scoring uses a profile from the next transfer on.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from zaslon.adapters.http.auth import Principal, require_scope
from zaslon.adapters.http.state import state_of
from zaslon.flow.customers import MAX_BATCH, Customer

router = APIRouter(tags=["customers"])

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/+-]+$")]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    account_id: Id
    customer_id: Id | None = Field(default=None, description="the bank's own id of the owner (links their accounts)")
    kind: Literal["personal", "business", "merchant", "crypto_exchange"] | None = None
    opened_at: AwareDatetime | None = None
    birth_date: date | None = None
    lives_alone: bool = False
    phones: list[Annotated[str, Field(min_length=3, max_length=32)]] = Field(default_factory=list, max_length=5)
    cards: list[Annotated[str, Field(min_length=12, max_length=23)]] = Field(
        default_factory=list, max_length=10, description="card numbers; the exchange keeps only keyed hashes")
    region: str | None = Field(default=None, min_length=1, max_length=64, description="where the customer lives")
    district: str | None = Field(default=None, min_length=1, max_length=64,
                                 description="the customer's district: its district police officer sees them")
    address: str | None = Field(default=None, min_length=1, max_length=300,
                                description="the customer's address, for the district officer's visit")


class CustomersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customers: list[CustomerIn] = Field(min_length=1, max_length=MAX_BATCH)


@router.put("/v1/customers")
def put_customers(body: CustomersIn, request: Request,
                  principal: Principal = Depends(require_scope("customers:write"))) -> dict[str, Any]:
    """Register or update the calling bank's customers' profiles (all of the batch, or nothing)."""
    batch = [Customer(c.account_id, c.kind, c.customer_id, c.opened_at, c.birth_date, c.lives_alone, tuple(c.phones),
                      tuple(c.cards), region=c.region, district=c.district, address=c.address)
             for c in body.customers]
    return {"registered": state_of(request).exchange.register_customers(principal, batch)}
