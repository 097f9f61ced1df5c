"""Organisations and API keys: keys are shown once at creation and stored only as argon2id hashes."""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from zaslon.adapters.db.stores.orgs import SqlOrgStore
from zaslon.core.access import ALL_SCOPES, DEFAULT_SCOPES, OrgKind
from zaslon.errors import InvalidInput
from zaslon.flow.ports.orgs import NewKey, OrgStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

_HASHER = PasswordHasher()
_KEY_RE = re.compile(r"^zsl_([a-z0-9]{12})_([A-Za-z0-9_-]{20,})$")
_BIC_RE = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")


@dataclass(frozen=True, slots=True)
class Principal:
    org_id: str
    kind: OrgKind
    scopes: frozenset[str]
    bank_id: str | None = None
    key_id: str | None = None  # the API key acting: recorded in the audit log and rate-limited
    person: str | None = None  # the person the key was issued to, if it names one


@dataclass(frozen=True, slots=True)
class CreatedOrg:
    org_id: str
    key_id: str
    api_key: str  # shown once


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:48] or "org"


def create_org(
    engine: Engine,
    *,
    name: str,
    kind: str,
    bank_id: str | None = None,
    scopes: frozenset[str] | None = None,
    now: datetime | None = None,
    person: str | None = None,
) -> CreatedOrg:
    try:
        org_kind = OrgKind(kind)
    except ValueError:
        raise InvalidInput(f"kind must be one of {[k.value for k in OrgKind]}", field="kind") from None
    if not name.strip():
        raise InvalidInput("name must not be empty", field="name")
    if bank_id is not None and not _BIC_RE.match(bank_id):
        raise InvalidInput(f"{bank_id!r} is not a BIC", field="bank_id")
    chosen = DEFAULT_SCOPES[org_kind] if scopes is None else scopes
    unknown = chosen - ALL_SCOPES
    if unknown:
        raise InvalidInput(f"unknown scopes: {sorted(unknown)}", field="scopes")
    now = now or datetime.now(UTC)
    org_id = f"{org_kind.value}-{_slug(name)}"
    key, api_key = _new_key(org_id, chosen, now, person)
    store: OrgStore = SqlOrgStore(engine)
    store.add_org(org_id=org_id, name=name.strip(), kind=org_kind.value, bank_id=bank_id, created_at=now, key=key)
    return CreatedOrg(org_id=org_id, key_id=key.key_id, api_key=api_key)


def create_key(engine: Engine, org_id: str, scopes: frozenset[str], now: datetime | None = None,
               person: str | None = None) -> CreatedOrg:
    unknown = scopes - ALL_SCOPES
    if unknown:
        raise InvalidInput(f"unknown scopes: {sorted(unknown)}", field="scopes")
    key, api_key = _new_key(org_id, scopes, now or datetime.now(UTC), person)
    store: OrgStore = SqlOrgStore(engine)
    store.add_key(key)
    return CreatedOrg(org_id=org_id, key_id=key.key_id, api_key=api_key)


def revoke_key(engine: Engine, key_id: str, now: datetime | None = None) -> str:
    """Revoke an API key by its id (the part after ``zsl_``); returns its organisation. Already revoked: 409."""
    store: OrgStore = SqlOrgStore(engine)
    return store.revoke_key(key_id, now or datetime.now(UTC))


def _new_key(org_id: str, scopes: frozenset[str], now: datetime, person: str | None = None) -> tuple[NewKey, str]:
    """A fresh key for ``org_id``: what the store keeps (its id, its argon2id hash) and the clear key, shown once."""
    if person is not None and not (0 < len(person.strip()) <= 200):
        raise InvalidInput("a key's person is 1 to 200 characters", field="person")
    key_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    api_key = f"zsl_{key_id}_{secrets.token_urlsafe(32)}"
    return NewKey(key_id, org_id, _HASHER.hash(api_key), scopes, now, person.strip() if person else None), api_key


class KeyStore:
    """Verifies API keys. argon2 is slow by design, so a verified key is remembered in memory.

    A remembered key must not outlive its revocation: every ``recheck_s`` seconds the first look-up reads
    which remembered keys were revoked since (one indexed query, no hashing) and forgets them, so a key
    revoked by `zaslon orgs revoke-key` in another process stops working here within that time.
    """

    def __init__(self, engine: Engine, *, recheck_s: float = 5.0) -> None:
        self._engine = engine
        self._store: OrgStore = SqlOrgStore(engine)
        self._verified: dict[str, Principal] = {}
        self._key_ids: dict[str, str] = {}  # api key -> its key_id, for the revocation check
        self._recheck_s = recheck_s
        self._checked = time.monotonic()
        self._recheck_lock = threading.Lock()  # the event loop and worker threads both look keys up

    def cached(self, api_key: str) -> Principal | None:
        """The principal of a key verified earlier (a dict look-up, no I/O); None: verify it the slow way."""
        if self._verified and time.monotonic() - self._checked >= self._recheck_s:
            self._forget_revoked()
        return self._verified.get(api_key)

    def _forget_revoked(self) -> None:
        with self._recheck_lock:
            if time.monotonic() - self._checked < self._recheck_s:
                return  # another thread just did it
            self._checked = time.monotonic()
            self._forget_revoked_locked()

    def _forget_revoked_locked(self) -> None:
        ids = set(self._key_ids.values())
        try:
            revoked = self._store.revoked(ids)
        except Exception:  # the store unreachable: forget everything rather than trust stale keys
            revoked = ids
        for key, key_id in list(self._key_ids.items()):
            if key_id in revoked:
                self._verified.pop(key, None)
                self._key_ids.pop(key, None)

    def verify(self, api_key: str) -> Principal | None:
        cached = self.cached(api_key)
        if cached is not None:
            return cached
        match = _KEY_RE.match(api_key)
        if match is None:
            return None
        row = self._store.key(match.group(1))
        if row is None or row.revoked_at is not None:
            return None
        try:
            _HASHER.verify(row.secret_hash, api_key)
        except VerificationError:
            return None
        principal = Principal(org_id=row.org_id, kind=OrgKind(row.kind), scopes=row.scopes, bank_id=row.bank_id,
                              key_id=row.key_id, person=row.person)
        self._verified[api_key] = principal
        self._key_ids[api_key] = match.group(1)
        return principal

    def forget(self) -> None:
        """Drop cached verifications (after a key is revoked)."""
        self._verified.clear()
        self._key_ids.clear()
