"""SQL transfer store (``zaslon.flow.ports.transfers``) on ``transfers``, with the trace's reads of decisions and
freeze orders and the backtest's of incident reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, distinct, func, insert, select
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.db.tables_decisions import decisions
from zaslon.adapters.db.tables_incidents import incident_transfers, incidents
from zaslon.adapters.db.tables_orders import freeze_orders, order_events
from zaslon.errors import Conflict
from zaslon.flow.ports.transfers import AlreadyStored, FreezeRow, LedgerRow, Submitted

_CHUNK = 500  # ids per IN (...): well below every driver's limit on bound parameters

_LEDGER_COLS = (transfers.c.transfer_id, transfers.c.ts, transfers.c.payer, transfers.c.payee, transfers.c.amount,
                transfers.c.currency, transfers.c.payer_bank, transfers.c.payee_bank, transfers.c.payee_country,
                transfers.c.atm_id, decisions.c.outcome, transfers.c.org_id)


def stored_bodies(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Body hash of those of ``keys`` (``(org_id, transfer_id)``) that are stored (read on the caller's connection).
    Read by id alone (the primary key's leading column), then kept only for the organisation asked about."""
    wanted = set(keys)
    ids = list(dict.fromkeys(tid for _, tid in keys))
    out: dict[tuple[str, str], str] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in conn.execute(select(transfers.c.transfer_id, transfers.c.body_hash, transfers.c.org_id)
                                .where(transfers.c.transfer_id.in_(chunk))):
            if (row.org_id, row.transfer_id) in wanted:
                out[(row.org_id, row.transfer_id)] = row.body_hash
    return out


class SqlTransferStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_new(self, org_id: str, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        for attempt in range(2):
            try:
                return self._add_once(org_id, rows)
            except IntegrityError as exc:
                # Someone stored one of these ids between our read and our insert: read again and decide.
                if attempt == 1:
                    raise AlreadyStored(str(exc.orig)) from exc
        raise AssertionError("unreachable")

    def _add_once(self, org_id: str, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        with self.engine.begin() as conn:
            known = {tid: h for (_, tid), h in stored_bodies(conn, [(org_id, r["transfer_id"]) for r in rows]).items()}
            sent = {r["transfer_id"]: r["body_hash"] for r in rows}
            for tid, stored_hash in known.items():
                if stored_hash != sent[tid]:
                    raise Conflict(f"transfer {tid!r} was already stored with a different body", field="transfer_id")
            new_rows = [r for r in rows if r["transfer_id"] not in known]
            if new_rows:
                conn.execute(insert(transfers), new_rows)
        return set(known)

    def get(self, org_id: str | None, transfer_id: str) -> list[dict[str, Any]]:
        q = select(transfers).where(transfers.c.transfer_id == transfer_id)
        if org_id is not None:
            q = q.where(transfers.c.org_id == org_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q.order_by(transfers.c.org_id)).mappings()]

    def submitted_under(self, ids: Sequence[str]) -> list[Submitted]:
        out: list[Submitted] = []
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = list(ids[start : start + _CHUNK])
                out += [Submitted._make(r) for r in conn.execute(
                    select(transfers.c.org_id, transfers.c.transfer_id, transfers.c.payer, transfers.c.payee,
                           transfers.c.payer_bank, transfers.c.payee_bank)
                    .where(transfers.c.transfer_id.in_(chunk)).order_by(transfers.c.org_id))]
        return out

    def count(self, *, after: datetime | None = None) -> int:
        q = select(func.count()).select_from(transfers)
        if after is not None:
            q = q.where(transfers.c.ts > after)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def newest(self) -> datetime | None:
        with self.engine.connect() as conn:
            newest: datetime | None = conn.execute(select(func.max(transfers.c.ts))).scalar_one()
        return newest

    def ledger_rows(self, since: datetime | None = None, until: datetime | None = None) -> list[LedgerRow]:
        # Every stored row, executed or not (the ledger counts them all and skips those held or blocked).
        q = (select(*_LEDGER_COLS)
             .select_from(transfers.outerjoin(decisions, (decisions.c.transfer_id == transfers.c.transfer_id)
                                              & (decisions.c.org_id == transfers.c.org_id)))
             .order_by(transfers.c.ts, transfers.c.transfer_id, transfers.c.org_id))
        if since is not None:
            q = q.where(transfers.c.ts >= since)
        if until is not None:
            q = q.where(transfers.c.ts <= until)
        with self.engine.connect() as conn:
            return [LedgerRow._make(r) for r in conn.execute(q)]

    def freezes(self, after_event: int | None = None) -> list[FreezeRow]:
        q = (select(order_events.c.event_id, order_events.c.at, order_events.c.amount, freeze_orders.c.account_id,
                    freeze_orders.c.bank_id)
             .join(freeze_orders, freeze_orders.c.order_id == order_events.c.order_id)
             .where(order_events.c.status == "frozen", order_events.c.amount > 0)
             .order_by(order_events.c.event_id))
        if after_event is not None:
            q = q.where(order_events.c.event_id > after_event)
        with self.engine.connect() as conn:
            return [FreezeRow._make(r) for r in conn.execute(q)]

    def last_order_per_account(self) -> dict[str, datetime]:
        with self.engine.connect() as conn:
            return {r.account_id: r.last for r in conn.execute(
                select(freeze_orders.c.account_id, func.max(freeze_orders.c.issued_at).label("last"))
                .group_by(freeze_orders.c.account_id))}

    def distinct_payers(self, accounts: Sequence[str]) -> dict[str, int]:
        payers: dict[str, int] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(accounts), _CHUNK):
                chunk = accounts[start : start + _CHUNK]
                for r in conn.execute(select(transfers.c.payee, func.count(distinct(transfers.c.payer)).label("n"))
                                      .where(transfers.c.payee.in_(chunk)).group_by(transfers.c.payee)):
                    payers[r.payee] = int(r.n)
        return payers

    def history_columns(self, columns: Sequence[str]) -> dict[str, list[Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*(transfers.c[c] for c in columns))
                                .order_by(transfers.c.ts, transfers.c.transfer_id, transfers.c.org_id)).all()
        return {c: [r[i] for r in rows] for i, c in enumerate(columns)}

    def reported(self) -> list[tuple[str, str, datetime]]:
        with self.engine.connect() as conn:
            return [(r.transfer_org, r.transfer_id, r.reported_at) for r in conn.execute(
                select(incident_transfers.c.transfer_org, incident_transfers.c.transfer_id, incidents.c.reported_at)
                .join(incidents, incidents.c.incident_id == incident_transfers.c.incident_id))]
