"""SQL store of feature-state snapshots (``zaslon.flow.ports.feature_state``) and the replay tail."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select

from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.db.tables_decisions import decisions
from zaslon.adapters.db.tables_state import feature_snapshot_chunks, feature_snapshots
from zaslon.flow.ports.feature_state import FoldedRow, SnapshotHeader

_IN_CHUNK = 500


class SqlFeatureStateStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, *, taken_at: datetime, folded: int, pending: Sequence[int], accounts: int,
             layout: dict[str, Any], currency_stats: bytes, chunks: Sequence[tuple[bytes, bytes]],
             keep: int) -> int:
        size = sum(len(a) + len(s) for a, s in chunks)
        with self.engine.begin() as conn:
            res = conn.execute(insert(feature_snapshots).values(
                taken_at=taken_at, folded=folded, pending=json.dumps(list(pending)), accounts=accounts,
                bytes=size, layout=json.dumps(layout), currency_stats=currency_stats))
            key = res.inserted_primary_key
            assert key is not None
            sid = int(key[0])
            if chunks:
                conn.execute(insert(feature_snapshot_chunks), [
                    {"snapshot_id": sid, "chunk": i, "account_ids": a, "state": s} for i, (a, s) in enumerate(chunks)])
            old = [r.snapshot_id for r in conn.execute(
                select(feature_snapshots.c.snapshot_id).order_by(feature_snapshots.c.snapshot_id.desc()).offset(keep))]
            if old:  # chunks first: SQLite enforces the foreign key but cascades only with its pragma on
                conn.execute(delete(feature_snapshot_chunks).where(feature_snapshot_chunks.c.snapshot_id.in_(old)))
                conn.execute(delete(feature_snapshots).where(feature_snapshots.c.snapshot_id.in_(old)))
        return sid

    def snapshots(self) -> list[SnapshotHeader]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(feature_snapshots).order_by(feature_snapshots.c.snapshot_id.desc())).all()
        return [SnapshotHeader(int(r.snapshot_id), r.taken_at, int(r.folded), tuple(json.loads(r.pending)),
                               int(r.accounts), int(r.bytes), json.loads(r.layout), bytes(r.currency_stats))
                for r in rows]

    def chunks(self, snapshot_id: int) -> Iterator[tuple[bytes, bytes]]:
        c = feature_snapshot_chunks.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.account_ids, c.state).where(c.snapshot_id == snapshot_id)
                                .order_by(c.chunk)).all()
        for r in rows:
            yield bytes(r.account_ids), bytes(r.state)

    def committed(self, seqs: Sequence[int]) -> set[int]:
        out: set[int] = set()
        seqs = list(seqs)
        with self.engine.connect() as conn:
            for i in range(0, len(seqs), _IN_CHUNK):
                out.update(int(s) for s in conn.execute(
                    select(decisions.c.feature_seq).where(decisions.c.feature_seq.in_(seqs[i:i + _IN_CHUNK])))
                    .scalars())
        return out

    def newest_seq(self) -> int | None:
        with self.engine.connect() as conn:
            v = conn.execute(select(func.max(decisions.c.feature_seq))).scalar()
        return None if v is None else int(v)

    def tail(self, from_seq: int, page: int = 20_000) -> Iterator[list[FoldedRow]]:
        d, t = decisions.c, transfers.c
        query = (select(d.feature_seq, t.payer, t.payee, t.ts, t.amount, t.currency, t.payee_country, t.device,
                        t.ip, t.channel, t.transfer_id, d.org_id)
                 .join(transfers, and_(t.transfer_id == d.transfer_id, t.org_id == d.org_id))
                 .order_by(d.feature_seq).limit(page))
        at = from_seq
        while True:
            with self.engine.connect() as conn:
                rows = [FoldedRow(int(r[0]), *r[1:]) for r in conn.execute(query.where(d.feature_seq >= at))]
            if not rows:
                return
            yield rows
            if len(rows) < page:
                return
            at = rows[-1].feature_seq + 1
