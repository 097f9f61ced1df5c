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


def _select(table: Table, columns: Sequence[str], where: str) -> str:
    quoted = ", ".join(f'"{c}"' for c in columns)
    return f'SELECT {quoted} FROM "{table.name}" WHERE {where}'


class _RoundConnection:
    """PostgreSQL: a worker's rounds (look-up, then commit) on one connection of their own, through the driver,
    on the worker's event loop (psycopg's asynchronous connection). Per round SQLAlchemy's pool check-out and
    ping, statement compilation and result processing cost more than the statements, and handing each step to
    a thread cost the event loop more than the step itself (measured, py-spy): here the look-up is three
    statements with one array parameter each (``= ANY(%s)``) in one pipeline, and the rows are written with
    COPY. Results are what SQLAlchemy returns (times as aware UTC datetimes); a connection that fails is
    dropped and the next round opens another. The look-ups and the commits have a connection each: a round's
    look-up runs while the round before it commits."""

    _INBOX_COLS = tuple(c.name for c in bus_inbox.c)
    _DECISION_COLS = tuple(c.name for c in decisions_table.c)
    _INBOX = _select(bus_inbox, _INBOX_COLS, '"consumer" = %s AND "msg_key" = ANY(%s)')
    _BODIES = _select(transfers_table, ["org_id", "transfer_id", "body_hash"], '"transfer_id" = ANY(%s)')
    _DECISIONS = _select(decisions_table, _DECISION_COLS, '"transfer_id" = ANY(%s)')

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
            # kept, and cost more with every row stored. One pipeline: one round trip per round, not three.
            async with conn.pipeline():
                cursors = [await conn.execute(self._INBOX, (consumer, list(keys)), prepare=False),
                           await conn.execute(self._BODIES, (ids,), prepare=False),
                           await conn.execute(self._DECISIONS, (ids,), prepare=False)]
            inbox, bodies, found = [await c.fetchall() for c in cursors]
        except Exception:
            await self._drop("lookup")
            raise
        handled = {r[1]: _utc(dict(zip(self._INBOX_COLS, r, strict=True))) for r in inbox}
        t_rows = {(r[0], r[1]): r[2] for r in bodies if (r[0], r[1]) in wanted}
        d_rows = {}
        for r in found:
            row = _utc(dict(zip(self._DECISION_COLS, r, strict=True)))
            if (row["org_id"], row["transfer_id"]) in wanted:
                d_rows[(row["org_id"], row["transfer_id"])] = row
        return handled, t_rows, d_rows

    async def commit(self, tables: Sequence[tuple[Table, Sequence[dict[str, Any]]]]) -> None:
        try:
            conn = await self._connection("commit")
            async with conn.transaction(), conn.cursor() as cur:
                for table, rows in tables:
                    if rows:
                        sql, values = _copy_rows(table, rows)
                        async with cur.copy(sql) as copy:
                            for v in values:
                                await copy.write_row(v)
        except psycopg.IntegrityError as exc:  # rolled back; the connection is fine
            raise AlreadyStored(str(exc)) from exc
        except Exception:
            await self._drop("commit")
            raise


def _utc(row: dict[str, Any]) -> dict[str, Any]:
    """As UtcDateTime reads times: aware, in UTC."""
    for k, v in row.items():
        if isinstance(v, datetime):
            row[k] = v.astimezone(UTC) if v.tzinfo is not None else v.replace(tzinfo=UTC)
    return row


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
        """``commit_batch`` for a worker's round, from its event loop (PostgreSQL: COPY, on the rounds' own
        connection: a fraction of the per-row cost of INSERTs, in Python and PostgreSQL)."""
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
