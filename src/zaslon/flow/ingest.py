"""Store transfers idempotently: a replay returns the first result, a different body under a known id conflicts.

A batch is one transaction: if any transfer in it conflicts, nothing of the batch is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.tables_core import transfers
from zaslon.core.access import sees_everything
from zaslon.core.types import Transfer
from zaslon.errors import Conflict, Forbidden, InvalidInput, NotFound
from zaslon.flow.orgs import Principal


@dataclass(frozen=True, slots=True)
class Stored:
    transfer_id: str
    created: bool  # False: an identical replay, nothing written


def body_hash(t: Transfer) -> str:
    return hash_row_body(row_body(t))


def hash_row_body(body: dict[str, Any]) -> str:
    """The idempotency hash of a transfer's stored body (see ``row_body``)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def row_body(t: Transfer) -> dict[str, Any]:
    return {
        "transfer_id": t.transfer_id,
        "ts": t.ts.astimezone(UTC).isoformat(),
        "payer": t.payer,
        "payee": t.payee,
        "amount": t.amount,
        "currency": t.currency,
        "channel": t.channel.value,
        "device": t.device,
        "ip": t.ip,
        "payer_bank": t.payer_bank,
        "payee_bank": t.payee_bank,
        "payee_country": t.payee_country,
        "atm_id": t.atm.atm_id if t.atm else None,
        "atm_lat": repr(t.atm.lat) if t.atm else None,
        "atm_lon": repr(t.atm.lon) if t.atm else None,
        "atm_city": t.atm.city if t.atm else None,
    }


def store_transfers(
    engine: Engine, org_id: str, batch: Sequence[Transfer], now: datetime | None = None
) -> list[Stored]:
    ids = [t.transfer_id for t in batch]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidInput(f"duplicate transfer ids in one batch: {dupes[:10]}", field="transfer_id")
    now = now or datetime.now(UTC)
    hashes = {t.transfer_id: body_hash(t) for t in batch}
    for attempt in range(2):
        try:
            return _store_once(engine, org_id, batch, hashes, now)
        except IntegrityError:
            # Someone stored one of these ids between our read and our insert: read again and decide.
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


def _store_once(
    engine: Engine, org_id: str, batch: Sequence[Transfer], hashes: dict[str, str], now: datetime
) -> list[Stored]:
    with engine.begin() as conn:
        known: dict[str, tuple[str, str]] = {}
        ids = list(hashes)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in conn.execute(
                select(transfers.c.transfer_id, transfers.c.body_hash, transfers.c.org_id).where(
                    transfers.c.transfer_id.in_(chunk)
                )
            ):
                known[row.transfer_id] = (row.body_hash, row.org_id)
        for tid, (stored_hash, stored_org) in known.items():
            if stored_hash != hashes[tid] or stored_org != org_id:
                raise Conflict(f"transfer {tid!r} was already stored with a different body", field="transfer_id")
        new_rows = [
            {**row_body(t), "org_id": org_id, "ts": t.ts, "body_hash": hashes[t.transfer_id], "received_at": now}
            for t in batch
            if t.transfer_id not in known
        ]
        if new_rows:
            conn.execute(insert(transfers), new_rows)
    return [Stored(t.transfer_id, t.transfer_id not in known) for t in batch]


def get_transfer(engine: Engine, principal: Principal, transfer_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(transfers).where(transfers.c.transfer_id == transfer_id)).mappings().first()
    if row is None:
        raise NotFound(f"no transfer {transfer_id!r}", field="transfer_id")
    if row["org_id"] != principal.org_id and not sees_everything(principal.kind):
        raise Forbidden("this transfer belongs to another organisation")
    out = dict(row)
    out.pop("body_hash")
    return out
