"""Snapshots of the scoring engine's per-account feature state, so a restart scores as if it had not happened.

A snapshot is the state after the engine folded in every transfer numbered below ``folded`` (the decisions'
``feature_seq``). It is written in one transaction: a header row and the accounts in chunks, each chunk the
account ids and their state rows, compressed. ``pending`` lists the numbers that were folded in but not yet
committed when it was taken: the snapshot counts only if every one of them was committed in the end.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, LargeBinary, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

feature_snapshots = Table(
    "feature_snapshots",
    metadata,
    Column("snapshot_id", Integer, primary_key=True, autoincrement=True),
    Column("taken_at", UtcDateTime(), nullable=False),
    Column("folded", BigInteger, nullable=False),  # transfers numbered below this are in the state
    Column("pending", Text, nullable=False),  # JSON list of feature_seq folded in but uncommitted when taken
    Column("accounts", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),  # compressed size of all chunks
    Column("layout", Text, nullable=False),  # JSON: array dtypes and shapes, currencies, home country
    Column("currency_stats", LargeBinary, nullable=False),  # float64[currencies, 2]
)

feature_snapshot_chunks = Table(
    "feature_snapshot_chunks",
    metadata,
    Column("snapshot_id", Integer, ForeignKey("feature_snapshots.snapshot_id", ondelete="CASCADE"),
           primary_key=True),
    Column("chunk", Integer, primary_key=True),
    Column("account_ids", LargeBinary, nullable=False),  # zlib of the ids joined by newlines
    Column("state", LargeBinary, nullable=False),  # zlib of each state array's rows for these accounts, in order
)
