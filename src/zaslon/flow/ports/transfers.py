"""The transfer store: the transfers banks submit, stored idempotently, and what the trace and backtests read.

A transfer id is the submitting organisation's own: a transfer is stored once per ``(org_id, transfer_id)``; the
same body again from the same organisation is a replay, another body under an id it used a ``Conflict``; another
organisation's use of the same id is another transfer. Rows passed in are transfers as stored
(``zaslon.flow.ingest.row_body`` plus ``org_id``, ``ts``, ``body_hash``, ``received_at``), plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol


class LedgerRow(NamedTuple):
    """A stored transfer as the trace ledger takes it in, with the exchange's decision on it (if it scored it)."""

    transfer_id: str
    ts: datetime
    payer: str
    payee: str
    amount: int
    currency: str
    payer_bank: str | None
    payee_bank: str | None
    payee_country: str | None
    atm_id: str | None
    outcome: str | None
    org_id: str  # the submitting organisation: ids are its own


class Submitted(NamedTuple):
    """Who submitted a stored transfer and its two sides: what deciding who may name it takes."""

    org_id: str
    transfer_id: str
    payer: str
    payee: str
    payer_bank: str | None
    payee_bank: str | None


class FreezeRow(NamedTuple):
    """A freeze a bank reported (an order's ``frozen`` event with an amount), with the account it froze."""

    event_id: int
    at: datetime
    amount: int
    account_id: str
    bank_id: str


class AlreadyStored(Exception):
    """An insert met an id that another writer stored meanwhile (a unique key); nothing of it was written."""


class TransferStore(Protocol):
    def add_new(self, org_id: str, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        """In one transaction: read which ids of ``rows`` ``org_id`` already stored; one stored with another body
        hash is a ``Conflict`` (nothing written); insert the others. Returns the ids already stored (identical
        replays). A concurrent writer storing one of the ids between the read and
        the insert: read and decided again, once (then ``AlreadyStored``)."""
        ...

    def get(self, org_id: str | None, transfer_id: str) -> list[dict[str, Any]]:
        """The transfers stored under ``transfer_id`` by ``org_id`` (at most one), or by any organisation if None
        (every column, ``org_id`` and ``body_hash`` included), ordered by organisation."""
        ...

    def submitted_under(self, ids: Sequence[str]) -> list[Submitted]:
        """Every stored transfer under one of ``ids``, by whichever organisation submitted it (ordered by it)."""
        ...

    def count(self, *, after: datetime | None = None) -> int:
        """How many transfers are stored (only those dated after ``after``, if given)."""
        ...

    def newest(self) -> datetime | None:
        """The date of the newest stored transfer (None when there is none)."""
        ...

    def ledger_rows(self, since: datetime | None = None, until: datetime | None = None) -> list[LedgerRow]:
        """Stored transfers dated from ``since`` to ``until`` (inclusive; open if None), in time order (then id)."""
        ...

    def freezes(self, after_event: int | None = None) -> list[FreezeRow]:
        """Freezes reported (amount above zero), in event order; only events after ``after_event`` if given."""
        ...

    def last_order_per_account(self) -> dict[str, datetime]:
        """Each account a freeze order names, with the time of its latest order."""
        ...

    def distinct_payers(self, accounts: Sequence[str]) -> dict[str, int]:
        """How many distinct payers paid each of ``accounts`` (accounts nobody paid are absent)."""
        ...

    def history_columns(self, columns: Sequence[str]) -> dict[str, list[Any]]:
        """Every stored transfer in time order (then id), as one list per column of ``columns``."""
        ...

    def reported(self) -> list[tuple[str, str, datetime]]:
        """(submitting organisation, transfer id, report time) for every transfer an incident names, once per
        incident."""
        ...
