"""SQL rule store (``zaslon.flow.ports.rules``) on ``rule_sets``, ``rule_slots`` and ``rule_events``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from zaslon.adapters.db.tables_rules import rule_events, rule_sets, rule_slots
from zaslon.errors import Conflict, NotFound
from zaslon.flow.ports.rules import DRAFT, LIVE, PUBLISHED, SHADOW, Deployment, RuleSetInfo


class SqlRuleStore:
    """On an ``Engine``; reads may also go through a caller's ``Connection`` (its transaction), writes may not."""

    def __init__(self, db: Engine | Connection) -> None:
        self.db = db

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        if isinstance(self.db, Connection):
            yield self.db
            return
        with self.db.connect() as conn:
            yield conn

    def _writing(self) -> Any:
        if isinstance(self.db, Connection):
            raise TypeError("the rule store writes through an Engine: each write is its own transaction")
        return self.db.begin()

    def deployment(self) -> Deployment:
        with self._reading() as conn:
            return _deployment(conn)

    def get(self, version: str) -> RuleSetInfo:
        with self._reading() as conn:
            return _info(_row(conn, version), _deployment(conn))

    def versions(self) -> list[RuleSetInfo]:
        with self._reading() as conn:
            dep = _deployment(conn)
            rows = conn.execute(select(rule_sets).order_by(rule_sets.c.created_at, rule_sets.c.version)).all()
            return [_info(r, dep) for r in rows]

    def add_draft(self, *, version: str | None, rules_json: str, content_hash: str, description: str,
                  parent_version: str | None, actor: str, at: datetime, detail: str) -> str:
        with self._writing() as conn:
            if parent_version is not None and conn.execute(
                select(rule_sets.c.version).where(rule_sets.c.version == parent_version)
            ).first() is None:
                raise NotFound(f"no rule set version {parent_version!r}", field="parent_version")
            if version is None:
                count = conn.execute(select(func.count()).select_from(rule_sets)).scalar_one()
                version = f"v{int(count) + 1}"
                while conn.execute(select(rule_sets.c.version).where(rule_sets.c.version == version)).first():
                    count += 1
                    version = f"v{int(count) + 1}"
            elif conn.execute(select(rule_sets.c.version).where(rule_sets.c.version == version)).first():
                raise Conflict(f"rule set version {version!r} already exists", field="version")
            conn.execute(
                insert(rule_sets).values(
                    version=version, status=DRAFT, description=description, rules_json=rules_json,
                    content_hash=content_hash, parent_version=parent_version,
                    created_at=at, created_by=actor, updated_at=at,
                )
            )
            _event(conn, at, actor, "draft", version, detail)
        return version

    def update_draft(self, version: str, *, rules_json: str, content_hash: str, description: str | None,
                     actor: str, at: datetime, detail: str) -> None:
        with self._writing() as conn:
            row = _row(conn, version)
            if row.status != DRAFT:
                raise Conflict(f"version {version!r} is published and cannot change; draft a new one", field="version")
            values: dict[str, Any] = {"rules_json": rules_json, "content_hash": content_hash, "updated_at": at}
            if description is not None:
                values["description"] = description
            conn.execute(update(rule_sets).where(rule_sets.c.version == version).values(**values))
            _event(conn, at, actor, "update", version, detail)

    def publish(self, version: str, *, actor: str, at: datetime,
                check: Callable[[list[dict[str, Any]]], None]) -> None:
        with self._writing() as conn:
            row = _row(conn, version)
            if row.status != DRAFT:
                raise Conflict(f"version {version!r} is already published", field="version")
            check(json.loads(row.rules_json))
            conn.execute(
                update(rule_sets)
                .where(rule_sets.c.version == version, rule_sets.c.status == DRAFT)
                .values(status=PUBLISHED, published_at=at, published_by=actor, updated_at=at)
            )
            _event(conn, at, actor, "publish", version)

    def activate(self, version: str, *, actor: str, at: datetime) -> Deployment:
        with self._writing() as conn:
            _published(conn, version, "live")
            _set_slot(conn, LIVE, version, actor, at)
            if _deployment(conn).shadow == version:  # shadowing the live version would only double the work
                _set_slot(conn, SHADOW, None, actor, at)
            _event(conn, at, actor, "activate", version)
            return _deployment(conn)

    def set_shadow(self, version: str | None, *, actor: str, at: datetime) -> Deployment:
        with self._writing() as conn:
            if version is not None:
                _published(conn, version, "the shadow")
                if _deployment(conn).live == version:
                    raise Conflict(f"version {version!r} is live; shadow another version", field="version")
            _set_slot(conn, SHADOW, version, actor, at)
            _event(conn, at, actor, "shadow" if version else "unshadow", version)
            return _deployment(conn)


def _deployment(conn: Connection) -> Deployment:
    rows = conn.execute(select(rule_slots.c.slot, rule_slots.c.version, rule_slots.c.generation)).all()
    slots = {r.slot: r.version for r in rows}
    return Deployment(max((int(r.generation) for r in rows), default=0), slots.get(LIVE), slots.get(SHADOW))


def _event(conn: Connection, at: datetime, actor: str, action: str, version: str | None, detail: str = "") -> None:
    conn.execute(insert(rule_events).values(at=at, actor=actor, action=action, version=version, detail=detail))


def _row(conn: Connection, version: str) -> Any:
    row = conn.execute(select(rule_sets).where(rule_sets.c.version == version)).first()
    if row is None:
        raise NotFound(f"no rule set version {version!r}", field="version")
    return row


def _info(row: Any, dep: Deployment) -> RuleSetInfo:
    return RuleSetInfo(
        version=row.version,
        status=row.status,
        description=row.description or "",
        rules=json.loads(row.rules_json),
        content_hash=row.content_hash,
        parent_version=row.parent_version,
        created_at=row.created_at,
        created_by=row.created_by,
        published_at=row.published_at,
        published_by=row.published_by,
        live=dep.live == row.version,
        shadow=dep.shadow == row.version,
    )


def _published(conn: Connection, version: str, what: str) -> None:
    row = _row(conn, version)
    if row.status != PUBLISHED:
        raise Conflict(f"version {version!r} is a draft: publish it before making it {what}", field="version")


def _set_slot(conn: Connection, slot: str, version: str | None, actor: str, at: datetime) -> None:
    gen = conn.execute(select(func.max(rule_slots.c.generation))).scalar_one_or_none() or 0
    conn.execute(update(rule_slots).values(generation=int(gen) + 1))  # every watcher sees any change
    conn.execute(delete(rule_slots).where(rule_slots.c.slot == slot))
    if version is not None:
        conn.execute(
            insert(rule_slots).values(
                slot=slot, version=version, generation=int(gen) + 1, changed_at=at, changed_by=actor
            )
        )
