"""SQL case store (``zaslon.flow.ports.cases``): the link log, the cases view, suspected drops, and the reads of
incidents and transfers that linking keys and the group report take.

A version check is a compare-and-set under the row lock: a change committed by another writer after our read
fails it, so a stale analyst's change is refused before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from zaslon.adapters.db.stores.incidents import upheld_appeals
from zaslon.adapters.db.tables_cases import case_events, case_incidents, case_link_log, cases, suspected_drops
from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.db.tables_incidents import incident_indicators, incident_transfers, incidents, indicators
from zaslon.errors import Conflict, NotFound
from zaslon.flow.ports.cases import (
    CaseView,
    CaseWrites,
    IncidentFact,
    IncidentKeyFacts,
    LogEntry,
    MoneyMove,
    Outflow,
    PublishedDrops,
    TransferFact,
)

_CHUNK = 500
_FACT_COLS = (transfers.c.transfer_id, transfers.c.ts, transfers.c.payer, transfers.c.payee, transfers.c.amount,
              transfers.c.currency, transfers.c.payee_bank, transfers.c.atm_id, transfers.c.atm_city)


def _chunks(items: Sequence[str], n: int = _CHUNK) -> list[Sequence[str]]:
    return [items[k:k + n] for k in range(0, len(items), n)]


def _disputed() -> Any:
    """A disputed transfer is the one its submitter stored under its id (ids are each submitter's own)."""
    return ((incident_transfers.c.transfer_id == transfers.c.transfer_id)
            & (incident_transfers.c.transfer_org == transfers.c.org_id))


def _fact(r: Any) -> TransferFact:
    return TransferFact(r.transfer_id, r.ts, r.payer, r.payee, int(r.amount), r.currency, r.payee_bank, r.atm_id,
                        r.atm_city)


class SqlCaseStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- changes ------------------------------------------------------------------------------------
    def append(self, op: str, payload: dict[str, Any], *, after_seq: int, now: datetime,
               replay: Callable[[Sequence[LogEntry]], None], expect: Sequence[tuple[str, int]],
               apply: Callable[[], CaseWrites]) -> int:
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(case_link_log.c.seq, case_link_log.c.op, case_link_log.c.payload)
                .where(case_link_log.c.seq > after_seq).order_by(case_link_log.c.seq)
            ).all()
            replay([LogEntry(int(r.seq), r.op, json.loads(r.payload)) for r in rows])
            for case_id, version in expect:
                _expect(conn, case_id, version)
            writes = apply()
            res = conn.execute(insert(case_link_log).values(op=op, payload=json.dumps(payload), at=now))
            seq = int(res.inserted_primary_key[0])  # type: ignore[index]
            _write(conn, writes, now)
            return seq

    def confirm(self, case_id: str, version: int, actor: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            _expect(conn, case_id, version)
            res = conn.execute(update(cases).where((cases.c.case_id == case_id) & (cases.c.version == version))
                               .values(status="confirmed", version=version + 1, updated_at=now, confirmed_by=actor))
            if res.rowcount != 1:
                raise Conflict(f"case {case_id} changed meanwhile: reload it", field="version")
            conn.execute(insert(case_events).values(case_id=case_id, kind="confirm", reason="analyst confirmed",
                                                    actor=actor, at=now))

    # -- cases ----------------------------------------------------------------------------------------
    def case(self, case_id: str) -> CaseView:
        with self.engine.connect() as conn:
            row = conn.execute(select(cases).where(cases.c.case_id == case_id)).first()
            if row is None:
                raise NotFound(f"case {case_id!r} does not exist", field="case_id")
            ids = conn.execute(select(case_incidents.c.incident_id).where(case_incidents.c.case_id == case_id)
                               .order_by(case_incidents.c.incident_id)).scalars().all()
        return CaseView(row.case_id, row.status, row.version, tuple(ids), row.merged_into)

    def history(self, case_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(case_events).where((case_events.c.case_id == case_id) | (case_events.c.other_case_id == case_id))
                .order_by(case_events.c.event_id)
            ).all()
        return [{"kind": r.kind, "case_id": r.case_id, "other_case_id": r.other_case_id, "incident_id": r.incident_id,
                 "reason": r.reason, "actor": r.actor, "at": r.at} for r in rows]

    def cases(self, status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        q = select(cases).order_by(cases.c.updated_at.desc(), cases.c.case_id).limit(limit).offset(offset)
        q = q.where(cases.c.status != "merged") if status is None else q.where(cases.c.status == status)
        with self.engine.connect() as conn:
            return [{"case_id": r.case_id, "status": r.status, "version": r.version} for r in conn.execute(q)]

    # -- linking keys -----------------------------------------------------------------------------------
    def incident_key_facts(self, incident_id: str) -> IncidentKeyFacts:
        with self.engine.connect() as conn:
            inc = conn.execute(select(incidents.c.reported_at).where(incidents.c.incident_id == incident_id)).first()
            if inc is None:
                raise NotFound(f"incident {incident_id!r} does not exist", field="incident_id")
            reported_at: datetime = inc.reported_at
            inds = conn.execute(
                select(indicators.c.kind, indicators.c.value)
                .join(incident_indicators, incident_indicators.c.indicator_id == indicators.c.indicator_id)
                .where(incident_indicators.c.incident_id == incident_id)
            ).all()
            disputed = conn.execute(
                select(transfers.c.payee, transfers.c.ts, transfers.c.amount)
                .join(incident_transfers, _disputed())
                .where(incident_transfers.c.incident_id == incident_id, transfers.c.ts < reported_at)
            ).all()
        return IncidentKeyFacts(reported_at, [(r.kind, r.value) for r in inds],
                                [(r.payee, r.ts, int(r.amount)) for r in disputed])

    def outflows(self, windows: Sequence[tuple[str, datetime, datetime]], limit: int) -> list[list[Outflow]]:
        out: list[list[Outflow]] = []
        if not windows:
            return out
        with self.engine.connect() as conn:
            for account, since, until in windows:
                rows = conn.execute(
                    select(transfers.c.payee, transfers.c.ts, transfers.c.amount, transfers.c.device, transfers.c.ip)
                    .where((transfers.c.payer == account) & (transfers.c.ts >= since) & (transfers.c.ts < until))
                    .order_by(transfers.c.ts, transfers.c.transfer_id, transfers.c.org_id).limit(limit)
                ).all()
                out.append([Outflow(r.payee, r.ts, int(r.amount), r.device, r.ip) for r in rows])
        return out

    # -- suspected drops ----------------------------------------------------------------------------------
    def moves_before(self, now: datetime) -> list[MoneyMove]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(transfers.c.ts, transfers.c.payer, transfers.c.payee, transfers.c.amount,
                       transfers.c.payer_bank, transfers.c.payee_bank)
                .where(transfers.c.ts < now).order_by(transfers.c.ts, transfers.c.transfer_id, transfers.c.org_id)
            ).all()
        return [MoneyMove(*r) for r in rows]

    def disputed_payees(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(
                select(transfers.c.payee).join(incident_transfers, _disputed())
            ).scalars())

    def publish_drops(self, rows: Sequence[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(suspected_drops))
            if rows:
                conn.execute(insert(suspected_drops), list(rows))

    def published_drops(self) -> PublishedDrops:
        with self.engine.connect() as conn:
            ranked = [(r.account_id, r.ranked_at) for r in conn.execute(
                select(suspected_drops.c.account_id, suspected_drops.c.ranked_at))]
            delisted = upheld_appeals(conn)
        return PublishedDrops(ranked, delisted)

    def suspected_drops(self, bank_id: str | None, limit: int) -> list[dict[str, Any]]:
        q = select(suspected_drops).order_by(suspected_drops.c.rank).limit(limit)
        if bank_id is not None:
            q = q.where(suspected_drops.c.bank_id == bank_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # -- the organised-group report ---------------------------------------------------------------------
    def incident_facts(self, incident_ids: Sequence[str]) -> list[IncidentFact]:
        out: list[IncidentFact] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(list(incident_ids)):
                incs = conn.execute(select(incidents).where(incidents.c.incident_id.in_(chunk))).all()
                disputed: dict[str, list[TransferFact]] = {}
                for r in conn.execute(select(incident_transfers.c.incident_id, *_FACT_COLS).join(
                        transfers, _disputed())
                        .where(incident_transfers.c.incident_id.in_(chunk))):
                    disputed.setdefault(r.incident_id, []).append(_fact(r))
                inds: dict[str, list[tuple[str, str]]] = {}
                for ind in conn.execute(select(incident_indicators.c.incident_id, indicators.c.kind, indicators.c.value)
                                        .join(indicators,
                                              indicators.c.indicator_id == incident_indicators.c.indicator_id)
                                        .where(incident_indicators.c.incident_id.in_(chunk))):
                    inds.setdefault(ind.incident_id, []).append((ind.kind, ind.value))
                for i in incs:
                    out.append(IncidentFact(
                        i.incident_id, i.reported_at, i.scheme, i.victim_party, i.victim_name,
                        tuple(sorted(disputed.get(i.incident_id, []), key=lambda t: (t.ts, t.transfer_id))),
                        tuple(sorted(inds.get(i.incident_id, [])))))
        return out

    def transfers_from(self, accounts: Sequence[str]) -> list[TransferFact]:
        out: list[TransferFact] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(list(accounts)):
                out += [_fact(r) for r in conn.execute(select(*_FACT_COLS).where(transfers.c.payer.in_(chunk)))]
        return out

    def mule_scores(self, accounts: Sequence[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(accounts)):
                for sd in conn.execute(select(suspected_drops.c.account_id, suspected_drops.c.score)
                                       .where(suspected_drops.c.account_id.in_(chunk))):
                    out[sd.account_id] = float(sd.score)
        return out


def _expect(conn: Connection, case_id: str, version: int) -> None:
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


def _write(conn: Connection, writes: CaseWrites, now: datetime) -> None:
    for c in writes.changes:
        if c.created:
            conn.execute(insert(cases).values(case_id=c.case_id, status="open", version=1, created_at=now,
                                              updated_at=now))
        elif c.changed:
            values: dict[str, Any] = {"version": cases.c.version + 1, "updated_at": now}
            if c.status:
                values.update(status=c.status, merged_into=c.merged_into)
            conn.execute(update(cases).where(cases.c.case_id == c.case_id).values(**values))
        if c.joined:
            conn.execute(case_incidents.delete().where(case_incidents.c.incident_id.in_(list(c.joined))))
            conn.execute(insert(case_incidents), [
                {"incident_id": i, "case_id": c.case_id, "added_at": now} for i in c.joined])
    rows = [
        {"case_id": e.case_id, "kind": e.kind, "other_case_id": e.other_case_id, "incident_id": e.incident_id,
         "reason": e.reason, "actor": e.actor, "at": now}
        for e in writes.events
    ]
    if rows:
        conn.execute(insert(case_events), rows)
