"""Domain types shared by every part of the exchange.

Money is integer minor units plus an ISO 4217 code; every timestamp is timezone-aware UTC; ids are
strings. Types are frozen dataclasses: cheap to build on the hot path, and values, not entities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum

from zaslon.errors import InvalidInput

CASH_SINK = "CASH"
"""Payee of every ATM cash withdrawal: money that left the rails as banknotes."""


def require_utc(ts: datetime, field_name: str = "ts") -> datetime:
    """Reject naive timestamps; normalise aware ones to UTC."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise InvalidInput("timestamp must carry a time zone", field=field_name)
    return ts if ts.tzinfo is UTC else ts.astimezone(UTC)


class PartyKind(StrEnum):
    PERSON = "person"
    LEGAL_ENTITY = "legal_entity"


@dataclass(frozen=True, slots=True)
class Party:
    party_id: str
    kind: PartyKind
    name: str
    country: str = "BY"
    birth_date: date | None = None
    region: str | None = None
    district: str | None = None
    lives_alone: bool = False
    phone: str | None = None

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


@dataclass(frozen=True, slots=True)
class Bank:
    bank_id: str  # BIC
    name: str
    country: str = "BY"


class AccountKind(StrEnum):
    PERSONAL = "personal"
    BUSINESS = "business"
    CRYPTO_EXCHANGE = "crypto_exchange"
    MERCHANT = "merchant"


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str  # IBAN where one exists
    bank_id: str
    party_id: str
    opened_at: datetime
    currency: str = "BYN"
    kind: AccountKind = AccountKind.PERSONAL
    country: str = "BY"


class Channel(StrEnum):
    MOBILE = "mobile"
    WEB = "web"
    BRANCH = "branch"
    CARD = "card"
    ATM = "atm"
    BATCH = "batch"  # salary, pension and invoice runs


@dataclass(frozen=True, slots=True)
class Atm:
    atm_id: str
    lat: float
    lon: float
    city: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """One movement of money. An ATM withdrawal is a transfer to CASH_SINK with ``atm`` set."""

    transfer_id: str
    ts: datetime
    payer: str
    payee: str
    amount: int
    currency: str = "BYN"
    channel: Channel = Channel.MOBILE
    device: str | None = None
    ip: str | None = None
    payer_bank: str | None = None
    payee_bank: str | None = None
    payee_country: str | None = None
    atm: Atm | None = None

    @property
    def is_cash_out(self) -> bool:
        return self.payee == CASH_SINK


def transfer_key(org_id: str, transfer_id: str) -> str:
    """A transfer's key across the exchange. Ids are the submitting organisation's own (two banks may both use
    ``tx-1``), so the exchange keys every transfer by its submitter too. Organisation ids hold no ``/``."""
    return f"{org_id}/{transfer_id}"


def split_transfer_key(key: str) -> tuple[str, str]:
    """``(org_id, transfer_id)`` of a ``transfer_key``."""
    org_id, _, transfer_id = key.partition("/")
    return org_id, transfer_id


class IndicatorKind(StrEnum):
    ACCOUNT = "account"
    CARD = "card"  # stored as a salted hash plus mask, never in the clear
    PHONE = "phone"  # E.164
    WALLET = "wallet"
    URL = "url"
    DOMAIN = "domain"
    EMAIL = "email"
    IP = "ip"
    DEVICE = "device"
    APPLE_ID = "apple_id"


@dataclass(frozen=True, slots=True)
class Indicator:
    kind: IndicatorKind
    value: str  # normalised
    display: str | None = None  # a masked form for people, where the value is a hash


class Scheme(StrEnum):
    VISHING = "vishing"
    PHISHING = "phishing"
    INVESTMENT = "investment"
    FAKE_DIRECTOR = "fake_director"
    EXTORTION = "extortion"
    COURIER = "courier"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Incident:
    incident_id: str
    reported_at: datetime
    reporter_org: str
    scheme: Scheme
    victim_party: str | None = None
    transfer_ids: tuple[str, ...] = ()  # as the reporter named them: each its submitter's own id
    text: str = ""
    indicators: tuple[Indicator, ...] = ()
    transfer_keys: tuple[str, ...] = ()  # the same transfers by ``transfer_key`` (submitter and id)


class Outcome(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    HOLD = "hold"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    detail: str
    weight: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    transfer_id: str
    outcome: Outcome
    score: float
    reasons: tuple[Reason, ...] = ()
    hold_until: datetime | None = None
    ruleset_version: str | None = None
    model_version: str | None = None


class OrderStatus(StrEnum):
    PENDING_CONFIRMATION = "pending_confirmation"  # an established business: the desk confirms before it goes out
    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    FROZEN = "frozen"
    RETURNED = "returned"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class FreezeOrder:
    order_id: str
    incident_id: str
    bank_id: str
    account_id: str
    amount: int
    currency: str
    legal_reference: str
    issued_at: datetime
    deadline: datetime
    status: OrderStatus = OrderStatus.ISSUED
    frozen_amount: int = 0
    returned_amount: int = 0
    order_type: str = "freeze"


class CaseStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    incident_ids: frozenset[str] = field(default_factory=frozenset)
    status: CaseStatus = CaseStatus.OPEN
