"""SQL model store (``zaslon.flow.ports.models``): versions, the live slot, promotions and rollbacks."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from zaslon.adapters.db.tables_models import model_events, model_slots, models
from zaslon.errors import Conflict, NotFound
from zaslon.flow.ports.models import ModelDeployment, ModelInfo

LIVE = "live"


class SqlModelStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, info: ModelInfo, booster: str) -> bool:
        with self.engine.begin() as conn:
            if conn.execute(select(models.c.model_id).where(models.c.model_id == info.model_id)).first():
                return False
            conn.execute(insert(models).values(
                model_id=info.model_id, created_at=info.created_at, created_by=info.created_by, cutoff=info.cutoff,
                source=info.source, metrics=json.dumps(info.metrics), meta=json.dumps(info.meta), booster=booster))
            conn.execute(insert(model_events).values(at=info.created_at, actor=info.created_by, action="store",
                                                     model_id=info.model_id, previous=None))
        return True

    def get(self, model_id: str) -> ModelInfo:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_INFO).where(models.c.model_id == model_id)).first()
            if row is None:
                raise NotFound(f"no model version {model_id!r}", field="version")
            return _info(row, _deployment(conn).live)

    def booster(self, model_id: str) -> str:
        with self.engine.connect() as conn:
            text = conn.execute(select(models.c.booster).where(models.c.model_id == model_id)).scalar()
        if text is None:
            raise NotFound(f"no model version {model_id!r}", field="version")
        return str(text)

    def versions(self) -> list[ModelInfo]:
        with self.engine.connect() as conn:
            live = _deployment(conn).live
            rows = conn.execute(select(*_INFO).order_by(models.c.created_at.desc(), models.c.model_id)).all()
        return [_info(r, live) for r in rows]

    def deployment(self) -> ModelDeployment:
        with self.engine.connect() as conn:
            return _deployment(conn)

    def promote(self, model_id: str, *, actor: str, at: datetime) -> ModelDeployment:
        with self.engine.begin() as conn:
            if conn.execute(select(models.c.model_id).where(models.c.model_id == model_id)).first() is None:
                raise NotFound(f"no model version {model_id!r}", field="version")
            dep = _deployment(conn)
            if dep.live == model_id:
                raise Conflict(f"model version {model_id!r} is live already", field="version")
            _set_live(conn, dep, model_id, actor, at)
            conn.execute(insert(model_events).values(at=at, actor=actor, action="promote", model_id=model_id,
                                                     previous=dep.live))
            return _deployment(conn)

    def rollback(self, *, actor: str, at: datetime) -> ModelDeployment:
        with self.engine.begin() as conn:
            dep = _deployment(conn)
            if dep.live is None:
                raise Conflict("no model is live: nothing to roll back", field="version")
            e = model_events.c
            # The promotion that made the current version live (a rollback onto it counts as its promotion
            # back only for what was before *that*): so rollbacks walk back one step each time.
            made_live = conn.execute(select(e.previous).where(e.model_id == dep.live, e.action == "promote")
                                     .order_by(e.event_id.desc()).limit(1)).first()
            previous = made_live.previous if made_live is not None else None
            if previous is None:
                raise Conflict(f"model version {dep.live!r} was the first promoted: nothing before it to roll "
                               "back to", field="version")
            _set_live(conn, dep, previous, actor, at)
            conn.execute(insert(model_events).values(at=at, actor=actor, action="rollback", model_id=previous,
                                                     previous=dep.live))
            return _deployment(conn)


_INFO = (models.c.model_id, models.c.created_at, models.c.created_by, models.c.cutoff, models.c.source,
         models.c.metrics, models.c.meta)


def _info(row: Any, live: str | None) -> ModelInfo:
    return ModelInfo(row.model_id, row.created_at, row.created_by, row.cutoff, row.source, json.loads(row.metrics),
                     json.loads(row.meta), live=row.model_id == live)


def _deployment(conn: Connection) -> ModelDeployment:
    row = conn.execute(select(model_slots.c.model_id, model_slots.c.generation)
                       .where(model_slots.c.slot == LIVE)).first()
    return ModelDeployment(0, None) if row is None else ModelDeployment(int(row.generation), row.model_id)


def _set_live(conn: Connection, dep: ModelDeployment, model_id: str, actor: str, at: datetime) -> None:
    values = {"model_id": model_id, "generation": dep.generation + 1, "changed_at": at, "changed_by": actor}
    if dep.live is None and dep.generation == 0:
        conn.execute(insert(model_slots).values(slot=LIVE, **values))
    else:
        conn.execute(update(model_slots).where(model_slots.c.slot == LIVE).values(**values))
