"""SQL organisation store (``zaslon.flow.ports.orgs``) on ``orgs`` and ``api_keys``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.tables_core import api_keys, orgs
from zaslon.errors import Conflict, InvalidInput
from zaslon.flow.ports.orgs import NewKey, StoredKey


class SqlOrgStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_org(self, *, org_id: str, name: str, kind: str, bank_id: str | None, created_at: datetime,
                key: NewKey) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(orgs).values(org_id=org_id, name=name, kind=kind, bank_id=bank_id, created_at=created_at)
                )
                _insert_key(conn, key)
        except IntegrityError:
            raise Conflict(f"an organisation named {name!r} already exists", field="name") from None

    def add_key(self, key: NewKey) -> None:
        with self.engine.begin() as conn:
            if conn.execute(select(orgs.c.org_id).where(orgs.c.org_id == key.org_id)).first() is None:
                raise InvalidInput(f"no organisation {key.org_id!r}", field="org_id")
            _insert_key(conn, key)

    def revoke_key(self, key_id: str, at: datetime) -> str:
        with self.engine.begin() as conn:
            row = conn.execute(
                select(api_keys.c.org_id, api_keys.c.revoked_at).where(api_keys.c.key_id == key_id)
            ).first()
            if row is None:
                raise InvalidInput(f"no API key {key_id!r}", field="key_id")
            if row.revoked_at is not None:
                raise Conflict(f"API key {key_id!r} was already revoked at {row.revoked_at}", field="key_id")
            conn.execute(update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_at=at))
        return str(row.org_id)

    def key(self, key_id: str) -> StoredKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_keys.c.key_id, api_keys.c.secret_hash, api_keys.c.scopes, api_keys.c.revoked_at,
                       api_keys.c.person, orgs.c.org_id, orgs.c.kind, orgs.c.bank_id)
                .join(orgs, orgs.c.org_id == api_keys.c.org_id)
                .where(api_keys.c.key_id == key_id)
            ).first()
        if row is None:
            return None
        return StoredKey(key_id=row.key_id, secret_hash=row.secret_hash, scopes=frozenset(row.scopes.split()),
                         revoked_at=row.revoked_at, org_id=row.org_id, kind=row.kind, bank_id=row.bank_id,
                         person=row.person)

    def org(self, org_id: str) -> tuple[str, str | None] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(orgs.c.kind, orgs.c.bank_id).where(orgs.c.org_id == org_id)).first()
        return None if row is None else (str(row.kind), row.bank_id)

    def revoked(self, key_ids: Collection[str]) -> set[str]:
        with self.engine.connect() as conn:
            return {r.key_id for r in conn.execute(
                select(api_keys.c.key_id).where(api_keys.c.key_id.in_(key_ids), api_keys.c.revoked_at.is_not(None))
            )}


def _insert_key(conn: Connection, key: NewKey) -> None:
    conn.execute(
        insert(api_keys).values(
            key_id=key.key_id, org_id=key.org_id, secret_hash=key.secret_hash,
            scopes=" ".join(sorted(key.scopes)), created_at=key.created_at, person=key.person,
        )
    )
