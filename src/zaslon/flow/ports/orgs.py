"""The organisation store: organisations and their API keys (stored as argon2id hashes, never in clear)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class NewKey:
    """An API key to store: its id, its organisation, the hash of the full key and its scopes."""

    key_id: str
    org_id: str
    secret_hash: str
    scopes: frozenset[str]
    created_at: datetime
    person: str | None = None  # the person the key is issued to, named in the audit log


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A stored API key with what its principal is made of: the organisation's id, kind and BIC."""

    key_id: str
    secret_hash: str
    scopes: frozenset[str]
    revoked_at: datetime | None
    org_id: str
    kind: str
    bank_id: str | None
    person: str | None = None


class OrgStore(Protocol):
    def add_org(self, *, org_id: str, name: str, kind: str, bank_id: str | None, created_at: datetime,
                key: NewKey) -> None:
        """The organisation and its first key, in one transaction; ``Conflict`` (nothing written) if an
        organisation of that name (or id) exists."""
        ...

    def add_key(self, key: NewKey) -> None:
        """Another key for an organisation; ``InvalidInput`` if there is no such organisation."""
        ...

    def revoke_key(self, key_id: str, at: datetime) -> str:
        """Revoke a key, in one transaction; returns its organisation. ``InvalidInput`` for an unknown key,
        ``Conflict`` for one revoked already."""
        ...

    def key(self, key_id: str) -> StoredKey | None:
        """The key with its organisation, revoked or not; None if there is none."""
        ...

    def org(self, org_id: str) -> tuple[str, str | None] | None:
        """The organisation's kind and BIC (None: it has none); None if there is no such organisation."""
        ...

    def revoked(self, key_ids: Collection[str]) -> set[str]:
        """Those of ``key_ids`` that are revoked."""
        ...
