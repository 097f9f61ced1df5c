"""The rule store: rule-set versions (drafts, immutable published versions), the live and shadow slots, and the
audit trail of every change. Every write is one transaction and appends its event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

DRAFT, PUBLISHED = "draft", "published"
LIVE, SHADOW = "live", "shadow"


@dataclass(frozen=True, slots=True)
class RuleSetInfo:
    version: str
    status: str
    description: str
    rules: list[dict[str, Any]]
    content_hash: str
    parent_version: str | None
    created_at: datetime
    created_by: str
    published_at: datetime | None
    published_by: str | None
    live: bool = False
    shadow: bool = False

    def to_dict(self, *, with_rules: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "status": self.status,
            "description": self.description,
            "content_hash": self.content_hash,
            "parent_version": self.parent_version,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "published_by": self.published_by,
            "live": self.live,
            "shadow": self.shadow,
            "n_rules": len(self.rules),
        }
        if with_rules:
            out["rules"] = self.rules
        return out


@dataclass(frozen=True, slots=True)
class Deployment:
    generation: int
    live: str | None
    shadow: str | None


class RuleStore(Protocol):
    def deployment(self) -> Deployment:
        """Which versions are live and in shadow, and the generation of that state (one query)."""
        ...

    def get(self, version: str) -> RuleSetInfo:
        """The version, with whether it is live or in shadow; ``NotFound`` if there is none."""
        ...

    def versions(self) -> list[RuleSetInfo]:
        """Every version, oldest first."""
        ...

    def add_draft(self, *, version: str | None, rules_json: str, content_hash: str, description: str,
                  parent_version: str | None, actor: str, at: datetime, detail: str) -> str:
        """Store a new draft and its event; returns its version. ``version`` None: the next free ``v<n>``; a
        taken one is a ``Conflict``; an unknown ``parent_version`` is ``NotFound``."""
        ...

    def update_draft(self, version: str, *, rules_json: str, content_hash: str, description: str | None,
                     actor: str, at: datetime, detail: str) -> None:
        """Replace a draft's rules (and description, unless None) and record the event; ``NotFound``, or
        ``Conflict`` if the version is published."""
        ...

    def publish(self, version: str, *, actor: str, at: datetime,
                check: Callable[[list[dict[str, Any]]], None]) -> None:
        """Freeze a draft and record the event; ``NotFound``, ``Conflict`` if already published. ``check`` sees
        the stored rules first, in the same transaction: what it raises aborts the publication."""
        ...

    def activate(self, version: str, *, actor: str, at: datetime) -> Deployment:
        """Make a published version live (``Conflict`` for a draft; a version in shadow leaves the shadow slot),
        bump the generation, record the event; returns the new deployment."""
        ...

    def set_shadow(self, version: str | None, *, actor: str, at: datetime) -> Deployment:
        """Put a published version (``Conflict`` for a draft or the live one) in the shadow slot, or empty it
        (``None``); bump the generation, record the event; returns the new deployment."""
        ...
