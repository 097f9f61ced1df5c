"""The sharing store: partners and their pair keys, TAXII objects and statuses, matches, sharing marks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class PartnerRow:
    org_id: str
    name: str
    country: str
    may_read: bool
    may_write: bool
    taxii_url: str | None
    remote_read: str | None
    remote_write: str | None
    remote_token: str | None
    pulled_until: datetime | None
    pushed_row: int
    last_sync_error: str | None
    verify_key: str | None = None  # its Ed25519 public key (hex), for signed freeze requests


@dataclass(frozen=True, slots=True)
class KeyRow:
    key_id: str
    org_id: str
    secret_hex: str
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True, slots=True)
class ObjectRow:
    """One version of one object in one collection."""

    collection_id: str
    stix_id: str
    version: str
    stix_type: str
    body: str  # JSON
    tlp: str | None = None
    named: str = ""  # space-separated partners
    source_org: str | None = None
    local_ref: str | None = None
    spec_version: str = "2.1"
    row_id: int = 0  # set when read
    date_added: datetime | None = None  # set when read


@dataclass(frozen=True, slots=True)
class MatchRow:
    partner_org: str
    partner_object: str
    kind: str
    value: str
    key_id: str | None
    matched_at: datetime
    match_id: int = 0
    disclosed_at: datetime | None = None
    disclosed_by: str | None = None
    disclosure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Shareable:
    """What the exchange could share, as stored: indicators with their incidents, incidents, cases."""

    indicators: list[tuple[str, str, str | None, datetime, tuple[str, ...]]]  # kind, value, display, first, incs
    incidents: list[tuple[str, str, datetime, tuple[tuple[str, str], ...]]]  # id, scheme, reported_at, indicators
    cases: list[tuple[str, str, str | None, datetime, datetime, tuple[str, ...]]]  # id, status, title, ..., incs


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[ObjectRow]
    more: bool


class SharingStore(Protocol):
    def add_partner(self, row: PartnerRow, key: KeyRow, now: datetime) -> None:
        """The partner and its first pair key, in one transaction: ``InvalidInput`` unless ``org_id`` is an
        organisation of kind partner, ``Conflict`` if it is a partner already."""
        ...

    def partner(self, org_id: str) -> PartnerRow | None: ...

    def partners(self) -> list[PartnerRow]: ...

    def keys(self, org_id: str) -> list[KeyRow]:
        """The partner's pair keys, newest first (retired ones included)."""
        ...

    def key(self, key_id: str) -> KeyRow | None: ...

    def rotate_key(self, org_id: str, key: KeyRow, now: datetime) -> None:
        """Retire the partner's current keys and add ``key``, in one transaction."""
        ...

    def shareable(self) -> Shareable: ...

    def local_values(self, kinds: Sequence[str]) -> list[tuple[str, str]]:
        """Every stored indicator (kind, value) of ``kinds``."""
        ...

    def marks(self) -> dict[str, tuple[str, str]]:
        """local_ref -> (tlp, named partners, space-separated)."""
        ...

    def set_mark(self, local_ref: str, tlp: str, named: str, by: str, now: datetime) -> None: ...

    def commit(self, *, objects: Sequence[ObjectRow], matches: Sequence[MatchRow], now: datetime,
               status: tuple[str, str, str] | None = None) -> list[bool]:
        """In one transaction: add the objects a collection does not hold at that id and version (a held one
        is a no-op), the matches not recorded yet, and the status (id, org, JSON). Per object: added?"""
        ...

    def page(self, collection_id: str, *, after_row: int = 0, added_after: datetime | None = None,
             ids: Sequence[str] = (), types: Sequence[str] = (), limit: int = 100) -> Page:
        """Rows of the collection in the order they were added."""
        ...

    def versions_of(self, collection_id: str, stix_id: str) -> list[ObjectRow]: ...

    def version_span(self, collection_id: str, stix_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Per id: its first and last version in the collection."""
        ...

    def status(self, status_id: str) -> tuple[str, str] | None:
        """(org, JSON body) of a status resource."""
        ...

    def matches(self, partner_org: str | None = None) -> list[MatchRow]: ...

    def disclose(self, match_id: int, by: str, reason: str, now: datetime) -> MatchRow:
        """Record the disclosure of a match (compare-and-set: ``Conflict`` if disclosed already,
        ``NotFound`` if there is no such match)."""
        ...

    def set_verify_key(self, org_id: str, public_hex: str) -> None: ...

    def bank_exists(self, bic: str) -> bool:
        """Is there a bank organisation with this BIC here?"""
        ...

    def add_freeze_request(self, row: dict[str, Any]) -> bool:
        """Record a freeze request (a ``freeze_requests`` row); False if its id is recorded already."""
        ...

    def freeze_request(self, request_id: str) -> dict[str, Any] | None: ...

    def update_freeze_request(self, request_id: str, values: dict[str, Any]) -> None: ...

    def freeze_requests(self, direction: str | None = None) -> list[dict[str, Any]]: ...

    def set_sync(self, org_id: str, *, pulled_until: datetime | None = None, pushed_row: int | None = None,
                 error: str | None = None) -> None: ...
