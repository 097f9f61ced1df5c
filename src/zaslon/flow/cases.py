"""Cases in the store: incremental linking of incidents, and analysts' confirm / split / merge.

The in-memory ``Linker`` is rebuilt by replaying ``case_link_log``; every operation first catches up
with log rows written by other processes, applies itself to the linker, appends its log row and rewrites
the changed cases -- all in one transaction, so a failure leaves nothing half-written (the linker is then
rebuilt from the log). Each case carries a ``version``: an analyst's change names the version they saw,
and a stale one (an incident linked in meanwhile, another analyst's change) is refused with ``Conflict``
before anything is written. Automatic linking never needs a version: it is a fact, not an opinion.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from zaslon.adapters.db.tables_cases import case_events, case_incidents, case_link_log, cases
from zaslon.core.linking import Linker, LinkEvent
from zaslon.errors import Conflict, InvalidInput, NotFound


def case_id_of(number: int) -> str:
    return f"case-{number}"


def case_number(case_id: str) -> int:
    if not case_id.startswith("case-") or not case_id[5:].isdigit():
        raise NotFound(f"case {case_id!r} does not exist", field="case_id")
    return int(case_id[5:])


@dataclass(frozen=True, slots=True)
class CaseView:
    case_id: str
    status: str
    version: int
    incident_ids: tuple[str, ...]
    merged_into: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "status": self.status, "version": self.version,
                "incident_ids": list(self.incident_ids), "merged_into": self.merged_into}


class CaseService:
    """One per process. Thread-safe: operations are serialised by a lock; processes meet in the log."""

    def __init__(self, engine: Engine, caps: dict[str, int] | None = None) -> None:
        self.engine = engine
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

    def _catch_up(self, conn: Connection) -> None:
        rows = conn.execute(
            select(case_link_log.c.seq, case_link_log.c.op, case_link_log.c.payload)
            .where(case_link_log.c.seq > self._seq).order_by(case_link_log.c.seq)
        ).all()
        for row in rows:
            self._apply(row.op, json.loads(row.payload))
            self._seq = row.seq
        if rows:
            self._known = {no: set(ids) for no, ids in self.linker.cases().items()}

    def _run(self, op: str, payload: dict[str, Any], actor: str | None, now: datetime,
             check: Any = None) -> list[LinkEvent]:
        with self._lock:
            try:
                with self.engine.begin() as conn:
                    self._catch_up(conn)
                    if check is not None:
                        check(conn)
                    events = self._apply(op, payload)
                    res = conn.execute(insert(case_link_log).values(op=op, payload=json.dumps(payload), at=now))
                    self._seq = int(res.inserted_primary_key[0])  # type: ignore[index]
                    self._write(conn, events, actor, now)
                    return events
            except Exception:
                self._reset()  # the transaction rolled back: forget what the linker did, replay later
                raise

    # -- materialised view -------------------------------------------------------------------------
    def _write(self, conn: Connection, events: Sequence[LinkEvent], actor: str | None, now: datetime) -> None:
        current = self.linker.cases()
        touched = {e.case for e in events} | {e.other for e in events if e.other is not None}
        touched |= {no for no in self._known if no not in current}
        for no in sorted(touched):
            members = set(current.get(no, ()))
            before = self._known.get(no)
            cid = case_id_of(no)
            if before is None and members:
                conn.execute(insert(cases).values(case_id=cid, status="open", version=1, created_at=now,
                                                  updated_at=now))
            elif before is not None and before != members:
                merged_into = None
                status: str | None = None
                if not members:
                    merged_into = next((case_id_of(e.case) for e in events if e.other == no), None)
                    status = "merged" if merged_into else "closed"
                values: dict[str, Any] = {"version": cases.c.version + 1, "updated_at": now}
                if status:
                    values.update(status=status, merged_into=merged_into)
                conn.execute(update(cases).where(cases.c.case_id == cid).values(**values))
            gone = (before or set()) - members
            came = members - (before or set())
            if came:
                conn.execute(case_incidents.delete().where(case_incidents.c.incident_id.in_(sorted(came))))
                conn.execute(insert(case_incidents), [
                    {"incident_id": i, "case_id": cid, "added_at": now} for i in sorted(came)])
            del gone  # moved incidents are re-inserted under their new case above
            if members:
                self._known[no] = members
            else:
                self._known.pop(no, None)
        rows = [
            {"case_id": case_id_of(e.case), "kind": e.kind,
             "other_case_id": None if e.other is None else case_id_of(e.other),
             "incident_id": e.incident, "reason": e.reason,
             "actor": actor if e.kind.startswith("manual") else None, "at": now}
            for e in events
        ]
        if rows:
            conn.execute(insert(case_events), rows)

    # -- operations --------------------------------------------------------------------------------
    def link(self, incident_id: str, keys: Iterable[str], now: datetime | None = None) -> str:
        """Link a new incident; returns its case id. Joining or merging cases bumps their versions."""
        now = now or datetime.now(UTC)
        payload = {"incident": incident_id, "keys": sorted({k for k in keys if k})}

        def check(_conn: Connection) -> None:
            if incident_id in self.linker.index:
                raise Conflict(f"incident {incident_id!r} is already linked, to "
                               f"{case_id_of(self.linker.case_of(incident_id))}", field="incident_id")

        self._run("add", payload, None, now, check)
        return case_id_of(self.linker.case_of(incident_id))

    def _expect(self, conn: Connection, case_id: str, version: int) -> Any:
        row = conn.execute(select(cases).where(cases.c.case_id == case_id)).first()
        if row is None:
            raise NotFound(f"case {case_id!r} does not exist", field="case_id")
        if row.status in ("merged", "closed"):
            raise Conflict(f"case {case_id} is {row.status}" + (f" into {row.merged_into}" if row.merged_into else "")
                           + "; work on the surviving case", field="case_id")
        # Compare-and-set under the row lock: a change committed by another writer after our read fails here.
        res = conn.execute(update(cases).where((cases.c.case_id == case_id) & (cases.c.version == version))
                           .values(updated_at=cases.c.updated_at))
        if res.rowcount != 1:
            raise Conflict(f"case {case_id} changed since you read it (now version {row.version}, you sent "
                           f"{version}): reload it and decide again", field="version")
        return row

    def split(self, case_id: str, incident_ids: Sequence[str], version: int, actor: str,
              reason: str = "analyst split", now: datetime | None = None) -> tuple[str, str]:
        """Move ``incident_ids`` out of ``case_id`` into a new case; returns (case_id, new case id)."""
        now = now or datetime.now(UTC)
        number = case_number(case_id)
        wanted = sorted(set(incident_ids))

        def check(conn: Connection) -> None:
            self._expect(conn, case_id, version)
            members = set(self.linker.cases().get(number, ()))
            strangers = [i for i in wanted if i not in members]
            if not wanted or strangers:
                raise InvalidInput(f"not in {case_id}: {strangers or 'no incidents given'}", field="incident_ids")
            if len(wanted) == len(members):
                raise InvalidInput("a split must leave at least one incident in the case", field="incident_ids")

        self._run("split", {"incidents": wanted, "reason": reason}, actor, now, check)
        return case_id, case_id_of(self.linker.case_of(wanted[0]))

    def merge(self, case_id: str, other_case_id: str, version: int, other_version: int, actor: str,
              reason: str = "analyst merge", now: datetime | None = None) -> str:
        """Merge two cases by hand (both versions must be current); returns the surviving case id."""
        now = now or datetime.now(UTC)
        a, b = case_number(case_id), case_number(other_case_id)
        if a == b:
            raise InvalidInput("a case cannot be merged with itself", field="other_case_id")

        def check(conn: Connection) -> None:
            self._expect(conn, case_id, version)
            self._expect(conn, other_case_id, other_version)

        self._run("merge", {"cases": [a, b], "reason": reason}, actor, now, check)
        return case_id_of(min(a, b))  # the older case keeps its number

    def confirm(self, case_id: str, version: int, actor: str, now: datetime | None = None) -> CaseView:
        now = now or datetime.now(UTC)
        with self._lock, self.engine.begin() as conn:
            self._expect(conn, case_id, version)
            res = conn.execute(update(cases).where((cases.c.case_id == case_id) & (cases.c.version == version))
                               .values(status="confirmed", version=version + 1, updated_at=now, confirmed_by=actor))
            if res.rowcount != 1:
                raise Conflict(f"case {case_id} changed meanwhile: reload it", field="version")
            conn.execute(insert(case_events).values(case_id=case_id, kind="confirm", reason="analyst confirmed",
                                                    actor=actor, at=now))
        return self.get(case_id)

    # -- reading -----------------------------------------------------------------------------------
    def get(self, case_id: str) -> CaseView:
        with self.engine.connect() as conn:
            row = conn.execute(select(cases).where(cases.c.case_id == case_id)).first()
            if row is None:
                raise NotFound(f"case {case_id!r} does not exist", field="case_id")
            ids = conn.execute(select(case_incidents.c.incident_id).where(case_incidents.c.case_id == case_id)
                               .order_by(case_incidents.c.incident_id)).scalars().all()
        return CaseView(row.case_id, row.status, row.version, tuple(ids), row.merged_into)

    def history(self, case_id: str) -> list[dict[str, Any]]:
        self.get(case_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(case_events).where((case_events.c.case_id == case_id) | (case_events.c.other_case_id == case_id))
                .order_by(case_events.c.event_id)
            ).all()
        return [{"kind": r.kind, "case_id": r.case_id, "other_case_id": r.other_case_id, "incident_id": r.incident_id,
                 "reason": r.reason, "actor": r.actor, "at": r.at.isoformat() if r.at else None} for r in rows]

    def list(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        q = select(cases).order_by(cases.c.updated_at.desc(), cases.c.case_id).limit(limit).offset(offset)
        q = q.where(cases.c.status != "merged") if status is None else q.where(cases.c.status == status)
        with self.engine.connect() as conn:
            return [{"case_id": r.case_id, "status": r.status, "version": r.version} for r in conn.execute(q)]
