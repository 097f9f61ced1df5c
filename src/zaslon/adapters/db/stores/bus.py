"""SQL store of the scale-out shape's bookkeeping (``tables_bus``): inbox, outbox, partition snapshots, and
the one transaction that commits a scored micro-batch with everything it caused."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.stores.decisions import SqlDecisionStore
from zaslon.adapters.db.stores.transfers import stored_bodies
from zaslon.adapters.db.tables_bus import bus_inbox, bus_outbox, partition_snapshots
from zaslon.adapters.db.tables_core import transfers as transfers_table
from zaslon.adapters.db.tables_decisions import decisions as decisions_table
from zaslon.adapters.db.types import UtcDateTime
from zaslon.flow.ports.transfers import AlreadyStored

_CHUNK = 500

_UTC = UtcDateTime()


class _RoundConnection:
    """PostgreSQL: a worker's rounds (look-up, then commit) on connections of their own, through the driver, on
    the worker's event loop (psycopg's asynchronous connection). Per round SQLAlchemy's pool check-out and ping,
    statement compilation and result processing cost more than the statements, and handing each step to a
    thread cost the event loop more than the step itself (measured, py-spy). Each is ONE statement (the
    driver's work per statement is most of a round's fixed cost in the worker; measured): the look-up three
    sub-queries with array parameters (``= ANY(%s)``), each giving its rows as one JSON array (nearly always
    none), and the commit one ``INSERT … SELECT FROM unnest(<a column's array>, …)`` per table, the tables
    after the first in data-modifying ``WITH`` clauses — one statement in autocommit mode, so all of its rows or
    none. Results are what SQLAlchemy returns (times as aware UTC datetimes); a connection that fails is
    dropped and the next round opens another. The look-ups and the commits have a connection each: a round's
    look-up runs while the round before it commits."""

    _LOOKUP = (f'SELECT (SELECT json_agg(i) FROM "{bus_inbox.name}" i'
               f' WHERE i."consumer" = %s AND i."msg_key" = ANY(%s)),'
               f' (SELECT json_agg(json_build_array(t."org_id", t."transfer_id", t."body_hash"))'
               f' FROM "{transfers_table.name}" t WHERE t."transfer_id" = ANY(%s)),'
               f' (SELECT json_agg(d) FROM "{decisions_table.name}" d WHERE d."transfer_id" = ANY(%s))')
    _INBOX_TIMES = tuple(c.name for c in bus_inbox.c if isinstance(c.type, UtcDateTime))
    _DECISION_TIMES = tuple(c.name for c in decisions_table.c if isinstance(c.type, UtcDateTime))

    def __init__(self, db: Engine) -> None:
        # libpq's form of the engine's URL (without SQLAlchemy's "+psycopg" driver name)
        self._conninfo = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conns: dict[str, psycopg.AsyncConnection[Any]] = {}  # "lookup", "commit"

    async def _connection(self, role: str) -> psycopg.AsyncConnection[Any]:
        conn = self._conns.get(role)
        if conn is None or conn.closed:
            # look-ups need no transaction; the commit opens its own
            conn = self._conns[role] = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        return conn

    async def close(self) -> None:
        for role in list(self._conns):
            await self._drop(role)

    async def _drop(self, role: str) -> None:
        conn = self._conns.pop(role, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def lookup(self, consumer: str, keys: Sequence[str], transfers: list[tuple[str, str]]) -> tuple[
            dict[str, dict[str, Any]], dict[tuple[str, str], str], dict[tuple[str, str], dict[str, Any]]]:
        wanted = set(transfers)
        ids = list(dict.fromkeys(tid for _, tid in transfers))
        try:
            conn = await self._connection("lookup")
            # Planned each time (not prepared): a plan made while a table was small (a sequential scan) would be
            # kept, and cost more with every row stored.
            cur = await conn.execute(self._LOOKUP, (consumer, list(keys), ids, ids), prepare=False)
            inbox, bodies, found = await cur.fetchone() or (None, None, None)
        except Exception:
            await self._drop("lookup")
            raise
        handled = {r["msg_key"]: _times(r, self._INBOX_TIMES) for r in inbox or ()}
        t_rows = {(r[0], r[1]): r[2] for r in bodies or () if (r[0], r[1]) in wanted}
        d_rows = {}
        for r in found or ():
            if (r["org_id"], r["transfer_id"]) in wanted:
                d_rows[(r["org_id"], r["transfer_id"])] = _times(r, self._DECISION_TIMES)
        return handled, t_rows, d_rows

    async def commit(self, tables: Sequence[tuple[Table, Sequence[dict[str, Any]]]]) -> None:
        statement = _insert_all([(table, rows) for table, rows in tables if rows])
        if statement is None:
            return
        try:
            conn = await self._connection("commit")
            await conn.execute(*statement)  # autocommit: the statement is its own transaction
        except psycopg.IntegrityError as exc:  # rolled back; the connection is fine
            raise AlreadyStored(str(exc)) from exc
        except Exception:
            await self._drop("commit")
            raise


def _times(row: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """A row read as JSON with its times as UtcDateTime reads them: aware datetimes, in UTC."""
    for k in names:
        v = row.get(k)
        if isinstance(v, str):
            t = datetime.fromisoformat(v)
            row[k] = t.astimezone(UTC) if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return row


_ARRAY_OF = {"String": "text", "Text": "text", "UtcDateTime": "timestamptz", "BigInteger": "int8",
             "Integer": "int4", "Float": "float8", "Boolean": "bool"}


def _insert_all(tables: Sequence[tuple[Table, Sequence[dict[str, Any]]]]) -> tuple[str, list[list[Any]]] | None:
    """ONE statement writing every table's rows (none: None): per table an ``INSERT … SELECT FROM unnest(…)``
    of one array parameter per column (the values as ``_copy_rows`` takes them: every row the same columns,
    times aware and stored in UTC), all but the last in data-modifying ``WITH`` clauses, which PostgreSQL runs
    to completion whether or not the statement reads them."""
    inserts: list[str] = []
    params: list[list[Any]] = []
    for table, rows in tables:
        _, values = _copy_rows(table, rows)
        names = list(rows[0])
        columns = ", ".join(f'"{n}"' for n in names)
        arrays = ", ".join(f"%s::{_ARRAY_OF[type(table.c[n].type).__name__]}[]" for n in names)
        inserts.append(f'INSERT INTO "{table.name}" ({columns}) SELECT * FROM unnest({arrays})')
        params.extend([list(col) for col in zip(*values, strict=True)])
    if not inserts:
        return None
    head = "".join(f"{'WITH' if i == 0 else ','} w{i} AS ({q}) " for i, q in enumerate(inserts[:-1]))
    return head + inserts[-1], params


class SqlBusStore:
    def __init__(self, db: Engine) -> None:
        self.db = db
        self._decisions = SqlDecisionStore(db)
        self._rounds = _RoundConnection(db) if db.dialect.name == "postgresql" else None

    async def close_rounds(self) -> None:
        """Close the connection of the rounds (the engine's pool has the others)."""
        if self._rounds is not None:
            await self._rounds.close()

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

    async def lookup_round(self, consumer: str, keys: Sequence[str], transfers: list[tuple[str, str]]) -> tuple[
            dict[str, dict[str, Any]], dict[tuple[str, str], str], dict[tuple[str, str], dict[str, Any]]]:
        """``lookup`` for a worker's round, from its event loop (PostgreSQL: on the rounds' own connection)."""
        if self._rounds is not None:
            return await self._rounds.lookup(consumer, keys, transfers)
        return await asyncio.to_thread(self.lookup, consumer, keys, transfers)

    async def commit_round(self, t_rows: Sequence[dict[str, Any]], d_rows: Sequence[dict[str, Any]],
                           inbox_rows: Sequence[dict[str, Any]], outbox_rows: Sequence[dict[str, Any]]) -> None:
        """``commit_batch`` for a worker's round, from its event loop (PostgreSQL: one statement on the rounds'
        own connection, its rows from one array per column: a fraction of the cost of a row-by-row INSERT)."""
        if self._rounds is not None:
            await self._rounds.commit([(transfers_table, t_rows), (decisions_table, d_rows),
                                       (bus_inbox, inbox_rows), (bus_outbox, outbox_rows)])
            return
        await asyncio.to_thread(self.commit_batch, t_rows, d_rows, inbox_rows, outbox_rows)

    def lookup(self, consumer: str, keys: Sequence[str], transfers: list[tuple[str, str]]) -> tuple[
            dict[str, dict[str, Any]], dict[tuple[str, str], str], dict[tuple[str, str], dict[str, Any]]]:
        """``handled(consumer, keys)`` and ``stored(transfers)`` on one connection (a worker's round asks both).
        ``transfers``: ``(org_id, transfer_id)`` keys, each bank's ids being its own."""
        handled: dict[str, dict[str, Any]] = {}
        d_rows: dict[tuple[str, str], dict[str, Any]] = {}
        wanted = set(transfers)
        ids = list(dict.fromkeys(tid for _, tid in transfers))
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


def _copy_rows(table: Table, rows: Sequence[dict[str, Any]]) -> tuple[str, list[list[Any]]]:
    """The COPY statement and the values that write ``rows`` into ``table``. Every row names the same columns,
    those of the first; a column left out gets its server default."""
    names = list(rows[0])
    missing = [c.name for c in table.c if c.name not in names and c.default is not None]
    if missing or any(len(r) != len(names) for r in rows):  # not what the scorer writes: a mistake to surface
        raise ValueError(f"rows for {table.name} must all name the same columns (Python defaults: {missing})")
    times = [i for i, n in enumerate(names) if isinstance(table.c[n].type, UtcDateTime)]
    columns = ", ".join(f'"{n}"' for n in names)
    out = []
    for r in rows:
        values = [r[n] for n in names]
        for i in times:  # as UtcDateTime binds them: aware, in UTC (a naive datetime is refused)
            values[i] = _UTC.process_bind_param(values[i], None)  # type: ignore[arg-type]
        out.append(values)
    return f'COPY "{table.name}" ({columns}) FROM STDIN', out
