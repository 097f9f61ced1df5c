"""Cases in the store: incremental linking of incidents, and analysts' confirm / split / merge.

The in-memory ``Linker`` is rebuilt by replaying ``case_link_log``; every operation first catches up
with log rows written by other processes, applies itself to the linker, appends its log row and rewrites
the changed cases -- all in one transaction, so a failure leaves nothing half-written (the linker is then
rebuilt from the log). Each case carries a ``version``: an analyst's change names the version they saw,
and a stale one (an incident linked in meanwhile, another analyst's change) is refused with ``Conflict``
before anything is written. Automatic linking never needs a version: it is a fact, not an opinion.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zaslon.adapters.db.stores.cases import SqlCaseStore
from zaslon.core.linking import Linker, LinkEvent
from zaslon.errors import Conflict, InvalidInput, NotFound
from zaslon.flow.ports.cases import CaseChange, CaseEvent, CaseStore, CaseView, CaseWrites, LogEntry

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["CaseService", "CaseView", "case_id_of", "case_number"]


def case_id_of(number: int) -> str:
    return f"case-{number}"


def case_number(case_id: str) -> int:
    if not case_id.startswith("case-") or not case_id[5:].isdigit():
        raise NotFound(f"case {case_id!r} does not exist", field="case_id")
    return int(case_id[5:])


class CaseService:
    """One per process. Thread-safe: operations are serialised by a lock; processes meet in the log."""

    def __init__(self, engine: Engine, caps: dict[str, int] | None = None) -> None:
        self.engine = engine
        self.store: CaseStore = SqlCaseStore(engine)
        self.caps = caps
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.linker = Linker(self.caps)
        self._seq = 0
        self._known: dict[int, set[str]] = {}  # case number -> incidents, as last written

    # -- log replay ------------------------------------------------------------------------------
    def _apply(self, op: str, payload: dict[str, Any]) -> list[LinkEvent]:
        start = self.linker.n_events
        if op == "add":
            self.linker.add_quiet(payload["incident"], payload["keys"])
        elif op == "split":
            self.linker.split(payload["incidents"], payload.get("reason", "analyst split"))
        elif op == "merge":
            a, b = payload["cases"]
            self.linker.merge(a, b, payload.get("reason", "analyst merge"))
        return self.linker.events_since(start)

    def _catch_up(self, entries: Sequence[LogEntry]) -> None:
        for entry in entries:
            self._apply(entry.op, entry.payload)
            self._seq = entry.seq
        if entries:
            self._known = {no: set(ids) for no, ids in self.linker.cases().items()}

    def _run(self, op: str, payload: dict[str, Any], actor: str | None, now: datetime,
             check: Any = None, expect: Sequence[tuple[str, int]] = ()) -> list[LinkEvent]:
        """Catch up with the log, check the versions in ``expect``, run ``check``, apply the op to the linker,
        log it and write out the changed cases: one transaction in the store."""
        events: list[LinkEvent] = []

        def apply() -> CaseWrites:
            if check is not None:
                check()
            events.extend(self._apply(op, payload))
            return self._write(events, actor)

        with self._lock:
            try:
                self._seq = self.store.append(op, payload, after_seq=self._seq, now=now, replay=self._catch_up,
                                              expect=expect, apply=apply)
                return events
            except Exception:
                self._reset()  # the transaction rolled back: forget what the linker did, replay later
                raise

    # -- materialised view -------------------------------------------------------------------------
    def _write(self, events: Sequence[LinkEvent], actor: str | None) -> CaseWrites:
        """The view's changes for ``events`` (``_known`` moves on to them)."""
        current = self.linker.cases()
        touched = {e.case for e in events} | {e.other for e in events if e.other is not None}
        touched |= {no for no in self._known if no not in current}
        changes: list[CaseChange] = []
        for no in sorted(touched):
            members = set(current.get(no, ()))
            before = self._known.get(no)
            cid = case_id_of(no)
            created = before is None and bool(members)
            changed = before is not None and before != members
            merged_into = None
            status: str | None = None
            if changed and not members:
                merged_into = next((case_id_of(e.case) for e in events if e.other == no), None)
                status = "merged" if merged_into else "closed"
            came = members - (before or set())  # moved incidents are re-inserted under their new case
            if created or changed or came:
                changes.append(CaseChange(cid, created=created, changed=changed, status=status,
                                          merged_into=merged_into, joined=tuple(sorted(came))))
            if members:
                self._known[no] = members
            else:
                self._known.pop(no, None)
        rows = [
            CaseEvent(case_id=case_id_of(e.case), kind=e.kind,
                      other_case_id=None if e.other is None else case_id_of(e.other),
                      incident_id=e.incident, reason=e.reason,
                      actor=actor if e.kind.startswith("manual") else None)
            for e in events
        ]
        return CaseWrites(changes, rows)

    # -- operations --------------------------------------------------------------------------------
    def link(self, incident_id: str, keys: Iterable[str], now: datetime | None = None) -> str:
        """Link a new incident; returns its case id. Joining or merging cases bumps their versions."""
        now = now or datetime.now(UTC)
        payload = {"incident": incident_id, "keys": sorted({k for k in keys if k})}

        def check() -> None:
            if incident_id in self.linker.index:
                raise Conflict(f"incident {incident_id!r} is already linked, to "
                               f"{case_id_of(self.linker.case_of(incident_id))}", field="incident_id")

        self._run("add", payload, None, now, check)
        return case_id_of(self.linker.case_of(incident_id))

    def split(self, case_id: str, incident_ids: Sequence[str], version: int, actor: str,
              reason: str = "analyst split", now: datetime | None = None) -> tuple[str, str]:
        """Move ``incident_ids`` out of ``case_id`` into a new case; returns (case_id, new case id)."""
        now = now or datetime.now(UTC)
        number = case_number(case_id)
        wanted = sorted(set(incident_ids))

        def check() -> None:
            members = set(self.linker.cases().get(number, ()))
            strangers = [i for i in wanted if i not in members]
            if not wanted or strangers:
                raise InvalidInput(f"not in {case_id}: {strangers or 'no incidents given'}", field="incident_ids")
            if len(wanted) == len(members):
                raise InvalidInput("a split must leave at least one incident in the case", field="incident_ids")

        self._run("split", {"incidents": wanted, "reason": reason}, actor, now, check, expect=[(case_id, version)])
        return case_id, case_id_of(self.linker.case_of(wanted[0]))

    def merge(self, case_id: str, other_case_id: str, version: int, other_version: int, actor: str,
              reason: str = "analyst merge", now: datetime | None = None) -> str:
        """Merge two cases by hand (both versions must be current); returns the surviving case id."""
        now = now or datetime.now(UTC)
        a, b = case_number(case_id), case_number(other_case_id)
        if a == b:
            raise InvalidInput("a case cannot be merged with itself", field="other_case_id")

        self._run("merge", {"cases": [a, b], "reason": reason}, actor, now,
                  expect=[(case_id, version), (other_case_id, other_version)])
        return case_id_of(min(a, b))  # the older case keeps its number

    def confirm(self, case_id: str, version: int, actor: str, now: datetime | None = None) -> CaseView:
        now = now or datetime.now(UTC)
        with self._lock:
            self.store.confirm(case_id, version, actor, now)
        return self.get(case_id)

    # -- reading -----------------------------------------------------------------------------------
    def get(self, case_id: str) -> CaseView:
        return self.store.case(case_id)

    def history(self, case_id: str) -> list[dict[str, Any]]:
        self.get(case_id)
        rows = self.store.history(case_id)
        for r in rows:
            r["at"] = r["at"].isoformat() if r["at"] else None
        return rows

    def list(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        return self.store.cases(status, limit, offset)
