"""The decision store: every decision returned, kept for audit, written with its transfer in one transaction.

Rows are plain dicts, exactly as stored: a transfer row (see ``zaslon.flow.ports.transfers``) and a decision
row (``zaslon.flow.decide._decision_row``: transfer id, organisation, body hash, times, outcome, score,
reasons and versions as JSON text). The recorder keeps the last of them in memory as they are, so they hold
no objects the garbage collector would have to track.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class IdProbe(Protocol):
    """A fast answer to "which of these transfer ids are stored?" (where the store has one)."""

    enabled: bool  # False: ``known`` always answers None

    def known(self, ids: list[str]) -> set[tuple[str, str]] | None:
        """``(org_id, transfer_id)`` of every transfer or decision stored under one of ``ids`` by any organisation
        (ids are each submitter's own); None when it cannot tell (ask ``stored``)."""
        ...

    def close(self) -> None:
        """Off for good, its connection given back."""
        ...


class DecisionStore(Protocol):
    @property
    def probe(self) -> IdProbe:
        """Asked first which ids are stored: on a SQLite file it answers without SQLAlchemy, in microseconds."""
        ...

    def stored(self, keys: list[tuple[str, str]]
               ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], dict[str, Any]]]:
        """Of ``keys`` (``(org_id, transfer_id)``): the stored transfers' body hashes, and the stored decision rows
        (with ``decision_id``)."""
        ...

    def insert(self, t_rows: Sequence[dict[str, Any]], d_rows: Sequence[dict[str, Any]]) -> None:
        """Transfer rows and decision rows in one transaction; ``AlreadyStored`` (nothing written) when an id
        was stored meanwhile. Errors of a busy store pass through as the driver raised them."""
        ...

    def insert_fast(self, t_rows: Sequence[dict[str, Any]], d_rows: Sequence[dict[str, Any]]) -> None:
        """As ``insert``, through the store's fast path where it has one (on one connection held for it: callers
        serialise their calls), else as ``insert``. Only worth calling while ``probe.enabled``."""
        ...

    def close(self) -> None:
        """Turn the probe off and give back the connections held (the fast path's, its checkpointer thread);
        ``insert`` still works afterwards, the fast path is not taken again."""
        ...

    # For diagnostics and tests: what the fast path holds right now.
    @property
    def writer_connection(self) -> Any:
        """The fast path's own DB-API connection (None when none is held)."""
        ...

    @property
    def checkpointer(self) -> object | None:
        """The thread checkpointing the fast path's write-ahead log (None when none runs)."""
        ...
