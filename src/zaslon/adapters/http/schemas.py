"""Request and response bodies of the public API. Unknown fields are refused, not ignored."""

from __future__ import annotations

from datetime import UTC
from ipaddress import ip_address
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from zaslon.core.money import check_currency
from zaslon.core.types import CASH_SINK, Atm, Channel, Transfer
from zaslon.errors import InvalidInput

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/+-]+$")]
Bic = Annotated[str, Field(pattern=r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AtmIn(Strict):
    atm_id: Id
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    city: str = Field(default="", max_length=100)


class TransferIn(Strict):
    transfer_id: Id
    ts: AwareDatetime
    payer: Id
    payee: Id
    amount: int = Field(gt=0, lt=10**15, strict=True, description="integer minor units")
    currency: str = Field(default="BYN", min_length=3, max_length=3)
    channel: Channel = Channel.MOBILE
    device: str | None = Field(default=None, max_length=128)
    ip: str | None = Field(default=None, max_length=45)
    payer_bank: Bic | None = None
    payee_bank: Bic | None = None
    payee_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    atm: AtmIn | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        try:
            return check_currency(v)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @field_validator("ip")
    @classmethod
    def _ip(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                return str(ip_address(v))
            except ValueError:
                raise ValueError(f"{v!r} is not an IPv4 or IPv6 address") from None
        return v

    @model_validator(mode="after")
    def _cash(self) -> TransferIn:
        if self.payee == CASH_SINK and self.atm is None:
            raise ValueError(f"a cash withdrawal (payee {CASH_SINK!r}) needs the atm it was taken from")
        if self.atm is not None and self.payee != CASH_SINK:
            raise ValueError(f"atm is only allowed on a cash withdrawal (payee {CASH_SINK!r})")
        if self.payer == self.payee:
            raise ValueError("payer and payee are the same account")
        return self

    def to_domain(self) -> Transfer:
        atm = Atm(self.atm.atm_id, self.atm.lat, self.atm.lon, self.atm.city) if self.atm else None
        return Transfer(
            transfer_id=self.transfer_id, ts=self.ts.astimezone(UTC), payer=self.payer, payee=self.payee,
            amount=self.amount, currency=self.currency, channel=self.channel, device=self.device, ip=self.ip,
            payer_bank=self.payer_bank, payee_bank=self.payee_bank, payee_country=self.payee_country, atm=atm,
        )


class StoredOut(BaseModel):
    transfer_id: str
    status: str  # "created" or "duplicate"


class BatchOut(BaseModel):
    results: list[StoredOut]
