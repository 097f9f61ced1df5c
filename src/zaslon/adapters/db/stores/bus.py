"""SQL store of the scale-out shape's bookkeeping (``tables_bus``): inbox, outbox, partition snapshots, and
the one transaction that commits a scored micro-batch with everything it caused."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, Table, any_, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import String

from zaslon.adapters.db.stores.decisions import SqlDecisionStore
from zaslon.adapters.db.stores.transfers import stored_bodies
from zaslon.adapters.db.tables_bus import bus_inbox, bus_outbox, partition_snapshots
from zaslon.adapters.db.tables_core import transfers as transfers_table
from zaslon.adapters.db.tables_decisions import decisions as decisions_table
from zaslon.adapters.db.types import UtcDateTime
from zaslon.flow.ports.transfers import AlreadyStored

_CHUNK = 500

# PostgreSQL: each look-up of a round is one statement with one array parameter (``= ANY(:keys)``), compiled
# once and cached, however many keys a round has (an ``IN (...)`` list is expanded and bound key by key).
_KEYS = bindparam("keys", type_=ARRAY(String))
_INBOX_BY_KEY = select(bus_inbox).where(bus_inbox.c.consumer == bindparam("consumer"),
                                        bus_inbox.c.msg_key == any_(_KEYS))
_BODIES_BY_ID = select(transfers_table.c.transfer_id, transfers_table.c.body_hash,
                       transfers_table.c.org_id).where(transfers_table.c.transfer_id == any_(_KEYS))
_DECISIONS_BY_ID = select(*decisions_table.c).where(decisions_table.c.transfer_id == any_(_KEYS))
_UTC = UtcDateTime()


class SqlBusStore:
    def __init__(self, db: Engine) -> None:
        self.db = db
        self._decisions = SqlDecisionStore(db)
        self._postgres = db.dialect.name == "postgresql"

    # ---- scoring -------------------------------------------------------------------------------------------
    def handled(self, consumer: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The inbox rows of ``keys`` already handled by ``consumer``."""
        out: dict[str, dict[str, Any]] = {}
        with self.db.connect() as conn:
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start : start + _CHUNK])
                q = select(bus_inbox).where(bus_inbox.c.consumer == consumer, bus_inbox.c.msg_key.in_(chunk))
                for row in conn.execute(q):
                    out[row.msg_key] = dict(row._mapping)
        return out

    def lookup(self, consumer: str, keys: Sequence[str], transfers: list[tuple[str, str]]) -> tuple[
            dict[str, dict[str, Any]], dict[tuple[str, str], str], dict[tuple[str, str], dict[str, Any]]]:
        """``handled(consumer, keys)`` and ``stored(transfers)`` on one connection (a worker's round asks both).
        ``transfers``: ``(org_id, transfer_id)`` keys, each bank's ids being its own."""
        handled: dict[str, dict[str, Any]] = {}
        d_rows: dict[tuple[str, str], dict[str, Any]] = {}
        wanted = set(transfers)
        ids = list(dict.fromkeys(tid for _, tid in transfers))
        if self._postgres:
            with self.db.connect() as conn:
                handled = {row.msg_key: dict(row._mapping)
                           for row in conn.execute(_INBOX_BY_KEY, {"consumer": consumer, "keys": list(keys)})}
                # by id alone (the indexes' leading column), then kept for the bank asked about
                t_rows = {(row.org_id, row.transfer_id): row.body_hash
                          for row in conn.execute(_BODIES_BY_ID, {"keys": ids})
                          if (row.org_id, row.transfer_id) in wanted}
                d_rows = {(row.org_id, row.transfer_id): dict(row._mapping)
                          for row in conn.execute(_DECISIONS_BY_ID, {"keys": ids})
                          if (row.org_id, row.transfer_id) in wanted}
            return handled, t_rows, d_rows
        with self.db.connect() as conn:
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start : start + _CHUNK])
                q = select(bus_inbox).where(bus_inbox.c.consumer == consumer, bus_inbox.c.msg_key.in_(chunk))
                handled.update({row.msg_key: dict(row._mapping) for row in conn.execute(q)})
            t_rows = stored_bodies(conn, transfers)
            for start in range(0, len(ids), _CHUNK):  # by id alone (the index's leading column), then by bank
                q = select(*decisions_table.c).where(decisions_table.c.transfer_id.in_(ids[start : start + _CHUNK]))
                d_rows.update({(row.org_id, row.transfer_id): dict(row._mapping) for row in conn.execute(q)
                               if (row.org_id, row.transfer_id) in wanted})
        return handled, t_rows, d_rows

    def stored(self, transfers: list[tuple[str, str]]
               ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], dict[str, Any]]]:
        return self._decisions.stored(transfers)

    def commit_batch(self, t_rows: Sequence[dict[str, Any]], d_rows: Sequence[dict[str, Any]],
                     inbox_rows: Sequence[dict[str, Any]], outbox_rows: Sequence[dict[str, Any]]) -> None:
        """Transfers, decisions, inbox rows and outbox events of one micro-batch: all of them or none."""
        try:
            with self.db.begin() as conn:
                if self._postgres:  # COPY: a fraction of the per-row cost of INSERTs, in Python and in PostgreSQL
                    for table, rows in ((transfers_table, t_rows), (decisions_table, d_rows),
                                        (bus_inbox, inbox_rows), (bus_outbox, outbox_rows)):
                        _copy(conn, table, rows)
                    return
                if t_rows:
                    conn.execute(insert(transfers_table), list(t_rows))
                if d_rows:
                    conn.execute(insert(decisions_table), list(d_rows))
                if inbox_rows:
                    conn.execute(insert(bus_inbox), list(inbox_rows))
                if outbox_rows:
                    conn.execute(insert(bus_outbox), list(outbox_rows))
        except IntegrityError as exc:
            raise AlreadyStored(str(exc.orig)) from exc
        except psycopg.IntegrityError as exc:  # raised by COPY, on the driver's cursor
            raise AlreadyStored(str(exc)) from exc

    def scored_tail(self, consumer: str, partition: int, after_batch: int) -> list[tuple[int, int, bool]]:
        """(stream seq, batch number, call flag) of every message scored in ``partition`` in a micro-batch after
        ``after_batch``, in the order they were folded into the state."""
        q = (select(bus_inbox.c.stream_seq, bus_inbox.c.batch_seq, bus_inbox.c.on_call)
             .where(bus_inbox.c.consumer == consumer, bus_inbox.c.partition == partition,
                    bus_inbox.c.batch_seq > after_batch, bus_inbox.c.status == "scored")
             .order_by(bus_inbox.c.batch_seq, bus_inbox.c.stream_seq))
        with self.db.connect() as conn:
            return [(int(r.stream_seq), int(r.batch_seq), bool(r.on_call)) for r in conn.execute(q)]

    def record_dead(self, consumer: str, key: str, partition: int | None, seq: int | None, at: datetime) -> None:
        """A message sent to the dead-letter subject: handled, once."""
        try:
            with self.db.begin() as conn:
                conn.execute(insert(bus_inbox).values(consumer=consumer, msg_key=key, partition=partition,
                                                      stream_seq=seq, status="dead", handled_at=at))
        except IntegrityError:
            pass  # recorded by an earlier delivery

    # ---- snapshots -----------------------------------------------------------------------------------------
    def load_snapshot(self, partition: int) -> tuple[int, bytes] | None:
        with self.db.connect() as conn:
            row = conn.execute(select(partition_snapshots.c.batch_seq, partition_snapshots.c.state)
                               .where(partition_snapshots.c.partition == partition)).first()
        return None if row is None else (int(row.batch_seq), bytes(row.state))

    def save_snapshot(self, partition: int, batch_no: int, state: bytes, at: datetime) -> None:
        with self.db.begin() as conn:
            conn.execute(delete(partition_snapshots).where(partition_snapshots.c.partition == partition))
            conn.execute(insert(partition_snapshots).values(partition=partition, batch_seq=batch_no, state=state,
                                                            taken_at=at))

    # ---- outbox --------------------------------------------------------------------------------------------
    def unpublished(self, limit: int = 500) -> list[dict[str, Any]]:
        q = (select(bus_outbox.c.outbox_id, bus_outbox.c.subject, bus_outbox.c.payload)
             .where(bus_outbox.c.published_at.is_(None)).order_by(bus_outbox.c.outbox_id).limit(limit))
        with self.db.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def mark_published(self, ids: Sequence[int], at: datetime) -> None:
        if ids:
            with self.db.begin() as conn:
                conn.execute(update(bus_outbox).where(bus_outbox.c.outbox_id.in_(list(ids))).values(published_at=at))

    # ---- event consumers ------------------------------------------------------------------------------------
    def mark_handled(self, consumer: str, key: str, transfer_id: str | None, at: datetime) -> bool:
        """The inbox row of an event whose effect is done; False if it was there already."""
        try:
            with self.db.begin() as conn:
                conn.execute(insert(bus_inbox).values(consumer=consumer, msg_key=key, status="done",
                                                      transfer_id=transfer_id, handled_at=at))
        except IntegrityError:
            return False
        return True


def _copy(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` into ``table`` with COPY on the connection's transaction. Every row names the same columns; a
    column left out gets its server default (no column of these tables has a Python-side default)."""
    if not rows:
        return
    names = list(rows[0])
    cols = [table.c[n] for n in names]
    if any(c.default is not None for c in table.c if c.name not in names) or any(len(r) != len(names) for r in rows):
        conn.execute(insert(table), list(rows))  # not the rows COPY is written for: the plain INSERT
        return
    times = [i for i, c in enumerate(cols) if isinstance(c.type, UtcDateTime)]
    raw = conn.connection.driver_connection
    assert raw is not None
    columns = ", ".join(f'"{n}"' for n in names)
    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for r in rows:
            values = [r[n] for n in names]
            for i in times:  # as UtcDateTime binds them: aware, in UTC (a naive datetime is refused)
                values[i] = _UTC.process_bind_param(values[i], conn.dialect)
            copy.write_row(values)
