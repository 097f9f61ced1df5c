"""The audit log's hash chain: each entry holds the hash of the one before, over a canonical serialisation.

An entry's hash is SHA-256 over the canonical JSON (keys sorted, no spaces, UTF-8) of all its fields but
the hash itself, ``prev_hash`` included; the first entry's ``prev_hash`` is 64 zeros. Changing any field of
any entry, deleting an entry or inserting one breaks the chain at that entry, and ``verify_chain`` names
the first entry that does not hold. Truncating the newest entries leaves a valid shorter chain: an operator
who keeps the head hash (``zaslon audit verify`` prints it) elsewhere detects that too. Pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    org_id: str | None
    actor: str  # "key:<key id>", "cli:<os user>" or "system"
    person: str | None
    action: str
    subject: str | None
    detail: str  # canonical JSON text, hashed as stored
    prev_hash: str
    hash: str = ""


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(e: AuditEntry) -> str:
    body = {"seq": e.seq, "at": _time(e.at), "org_id": e.org_id, "actor": e.actor, "person": e.person,
            "action": e.action, "subject": e.subject, "detail": e.detail, "prev_hash": e.prev_hash}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def chained(prev: AuditEntry | None, *, at: datetime, org_id: str | None, actor: str, person: str | None,
            action: str, subject: str | None, detail: dict[str, Any]) -> AuditEntry:
    """The entry that follows ``prev`` (None: the first), its hash computed."""
    e = AuditEntry(seq=(prev.seq + 1) if prev else 1, at=at, org_id=org_id, actor=actor, person=person,
                   action=action, subject=subject, detail=canonical_json(detail),
                   prev_hash=prev.hash if prev else GENESIS)
    return replace(e, hash=entry_hash(e))


@dataclass(frozen=True, slots=True)
class Broken:
    seq: int
    reason: str


def verify_chain(entries: Iterable[AuditEntry]) -> tuple[int, str, Broken | None]:
    """Walk the entries in ``seq`` order: (how many hold, the last good hash, the first broken entry or None)."""
    good, prev_hash, expected = 0, GENESIS, 1
    for e in entries:
        if e.seq != expected:
            return good, prev_hash, Broken(e.seq, f"expected entry {expected} next, found {e.seq} "
                                                  "(an entry was removed or inserted)")
        if e.prev_hash != prev_hash:
            return good, prev_hash, Broken(e.seq, "its prev_hash is not the hash of the entry before it")
        if entry_hash(e) != e.hash:
            return good, prev_hash, Broken(e.seq, "its hash does not match its contents (it was changed)")
        good, prev_hash, expected = good + 1, e.hash, expected + 1
    return good, prev_hash, None
