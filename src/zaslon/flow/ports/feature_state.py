"""The store of feature-state snapshots and of the tail of folded transfers a restart replays."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    snapshot_id: int
    taken_at: datetime
    folded: int  # transfers numbered below this are in the state
    pending: tuple[int, ...]  # folded in but uncommitted when taken: the snapshot counts only if all committed
    accounts: int
    size: int  # bytes, compressed
    layout: dict[str, Any]
    currency_stats: bytes


@dataclass(frozen=True, slots=True)
class FoldedRow:
    """A stored transfer as the engine folded it in (what ``zaslon.flow.scoring.columns_of`` reads)."""

    feature_seq: int
    payer: str
    payee: str
    ts: datetime
    amount: int  # minor units
    currency: str
    payee_country: str | None
    device: str | None
    ip: str | None
    channel: str | None
    transfer_id: str | None = None
    org_id: str | None = None  # the submitter (transfer ids are per organisation)


class FeatureStateStore(Protocol):
    def save(self, *, taken_at: datetime, folded: int, pending: Sequence[int], accounts: int,
             layout: dict[str, Any], currency_stats: bytes, chunks: Sequence[tuple[bytes, bytes]],
             keep: int) -> int:
        """Store a snapshot (header and chunks) in one transaction, keeping the newest ``keep``; its id."""
        ...

    def snapshots(self) -> list[SnapshotHeader]:
        """Every stored snapshot, newest first."""
        ...

    def chunks(self, snapshot_id: int) -> Iterator[tuple[bytes, bytes]]:
        """A snapshot's (account ids, state) chunks, in order."""
        ...

    def committed(self, seqs: Sequence[int]) -> set[int]:
        """Which of these feature sequence numbers belong to a committed decision."""
        ...

    def tail(self, from_seq: int, page: int = 20_000) -> Iterator[list[FoldedRow]]:
        """The decided transfers numbered ``from_seq`` or later, in feature-sequence order, a page at a time."""
        ...
