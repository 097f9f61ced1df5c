"""The scale-out shape's bookkeeping in PostgreSQL (``zaslon.adapters.bus``): inbox, outbox, snapshots.

- ``bus_inbox``: one row per message a consumer has handled, unique on ``(consumer, msg_key)``, written in the
  same transaction as the message's effects; a redelivered message finds its row and changes nothing. For the
  scoring consumer it also records where the message sits in its partition's stream (``stream_seq``), the number
  of the micro-batch it was scored in (``batch_seq``) and the call flag it was scored with: what a new owner of
  the partition needs to fold the stream tail into its feature state exactly as the old owner did.
- ``bus_outbox``: events to publish, written with the effects that cause them; published with
  ``Nats-Msg-Id`` = ``outbox_id`` (JetStream drops a second publication of the same row), then marked.
- ``partition_snapshots``: a partition's feature state as of a micro-batch number.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, LargeBinary, String, Table, Text

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

bus_inbox = Table(
    "bus_inbox",
    metadata,
    Column("consumer", String(32), primary_key=True),
    Column("msg_key", String(160), primary_key=True),
    Column("partition", Integer, nullable=True),
    Column("stream_seq", BigInteger, nullable=True),
    Column("batch_seq", BigInteger, nullable=True),  # scoring: the partition's micro-batch number (fold order)
    Column("status", String(16), nullable=False),  # scored / replayed / conflict / dead / done
    Column("on_call", Boolean, nullable=False, server_default="0"),
    Column("transfer_id", String(64), nullable=True),
    Column("handled_at", UtcDateTime(), nullable=False),
)
Index("ix_bus_inbox_partition_seq", bus_inbox.c.consumer, bus_inbox.c.partition, bus_inbox.c.stream_seq)

bus_outbox = Table(
    "bus_outbox",
    metadata,
    Column("outbox_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("subject", String(128), nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    Column("created_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime(), nullable=True),
)
Index("ix_bus_outbox_unpublished", bus_outbox.c.published_at, bus_outbox.c.outbox_id)

partition_snapshots = Table(
    "partition_snapshots",
    metadata,
    Column("partition", Integer, primary_key=True),
    Column("batch_seq", BigInteger, nullable=False),  # the state includes the partition's batches up to this one
    Column("state", LargeBinary, nullable=False),
    Column("taken_at", UtcDateTime(), nullable=False),
)
