"""SQL webhook store (``zaslon.flow.ports.webhooks``): the organisations' hook columns and the delivery queue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from zaslon.adapters.db.tables_core import orgs
from zaslon.adapters.db.tables_orders import webhook_deliveries
from zaslon.flow.ports.webhooks import Delivery, Hook

_D = webhook_deliveries.c


class SqlWebhookStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set_hook(self, org_id: str, url: str | None, secret: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(orgs).where(orgs.c.org_id == org_id).values(webhook_url=url, webhook_secret=secret))

    def hook_of(self, org_id: str) -> Hook | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(orgs.c.webhook_url, orgs.c.webhook_secret).where(orgs.c.org_id == org_id)).first()
        return None if r is None or r.webhook_url is None else Hook(r.webhook_url, r.webhook_secret)

    def hooks(self, bank_ids: Iterable[str]) -> dict[str, Hook]:
        with self.engine.connect() as conn:
            return {r.bank_id: Hook(r.webhook_url, r.webhook_secret) for r in conn.execute(
                select(orgs.c.bank_id, orgs.c.webhook_url, orgs.c.webhook_secret).where(
                    orgs.c.bank_id.in_(list(bank_ids)), orgs.c.webhook_url.is_not(None)))}

    def enqueue(self, rows: Sequence[tuple[str, str, str]], *, now: datetime) -> list[int]:
        if not rows:
            return []
        with self.engine.begin() as conn:
            return [int(conn.execute(insert(webhook_deliveries).values(
                bank_id=b, order_id=o, payload=p, attempts=0, next_at=now, state="pending", created_at=now)
            ).inserted_primary_key[0]) for b, o, p in rows]  # type: ignore[index]

    def due(self, now: datetime, *, ids: Sequence[int] | None = None, limit: int = 200) -> list[Delivery]:
        q = (select(_D.delivery_id, _D.bank_id, _D.order_id, _D.payload, _D.attempts)
             .where(_D.state == "pending", _D.next_at <= now).order_by(_D.delivery_id).limit(limit))
        if ids is not None:
            q = q.where(_D.delivery_id.in_(list(ids)))
        with self.engine.connect() as conn:
            return [Delivery._make(r) for r in conn.execute(q)]

    def settle(self, delivery_id: int, *, ok: bool, error: str | None, next_at: datetime | None,
               now: datetime) -> None:
        state = "delivered" if ok else ("pending" if next_at is not None else "failed")
        with self.engine.begin() as conn:
            conn.execute(update(webhook_deliveries).where(_D.delivery_id == delivery_id).values(
                attempts=_D.attempts + 1, state=state, last_error=error, next_at=next_at or now))
