"""Store transfers idempotently: a replay returns the first result, a different body under a known id conflicts.

A batch is one transaction: if any transfer in it conflicts, nothing of the batch is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zaslon.adapters.db.stores.transfers import SqlTransferStore
from zaslon.core.access import sees_everything
from zaslon.core.types import Transfer
from zaslon.errors import InvalidInput, NotFound
from zaslon.flow.orgs import Principal
from zaslon.flow.ports.transfers import TransferStore

if TYPE_CHECKING:
    from sqlalchemy import Engine


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
    rows = []
    for t in batch:
        body = row_body(t)
        rows.append({**body, "org_id": org_id, "ts": t.ts, "body_hash": hash_row_body(body), "received_at": now})
    store: TransferStore = SqlTransferStore(engine)
    known = store.add_new(org_id, rows)  # all or nothing: a conflict anywhere writes none of the batch
    return [Stored(t.transfer_id, t.transfer_id not in known) for t in batch]


def get_transfer(engine: Engine, principal: Principal, transfer_id: str, org_id: str | None = None) -> dict[str, Any]:
    """A transfer as its reader may see it. Ids are each submitter's own: a bank reads the transfers it submitted,
    and another organisation's answers 404 exactly as a missing one (its existence is not revealed). The police
    read any; an id two organisations used needs ``org_id``, the submitter (422 without it)."""
    store: TransferStore = SqlTransferStore(engine)
    if sees_everything(principal.kind):
        rows = store.get(org_id, transfer_id)
    else:
        rows = store.get(principal.org_id, transfer_id) if org_id in (None, principal.org_id) else []
    if not rows:
        raise NotFound(f"no transfer {transfer_id!r}", field="transfer_id")
    if len(rows) > 1:
        orgs = ", ".join(r["org_id"] for r in rows)
        raise InvalidInput(f"{len(rows)} organisations submitted a transfer {transfer_id!r} ({orgs}): name the "
                           "submitter with org_id", field="org_id")
    row = rows[0]
    row.pop("body_hash")
    return row
