"""SQL incident and appeal stores (``zaslon.flow.ports.incidents``) on the incident tables."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, distinct, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.stores.telecom import insert_fraud_numbers
from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.db.tables_decisions import decisions
from zaslon.adapters.db.tables_incidents import (
    appeals,
    fraud_numbers,
    incident_indicators,
    incident_reports,
    incident_transfers,
    incidents,
    indicators,
)
from zaslon.core.types import Incident, Indicator, IndicatorKind, Scheme, transfer_key
from zaslon.errors import Conflict, InvalidInput, NotFound
from zaslon.flow.ports.incidents import (
    LISTED_KINDS,
    AppealStatus,
    IncidentDetails,
    KnowledgeSources,
    StoredIncident,
)

if TYPE_CHECKING:
    from zaslon.flow.intake import IncidentReport

_ATTEMPTS = 5
_CHUNK = 500


def upheld_appeals(conn: Connection) -> dict[str, datetime]:
    """Accounts cleared by an upheld appeal, with the latest such decision (UTC): a flag from before it is void.
    On the caller's connection, so another store's read can take it in its own transaction."""
    delisted: dict[str, datetime] = {}
    for r in conn.execute(select(appeals.c.account_id, appeals.c.decided_at)
                          .where(appeals.c.status == AppealStatus.UPHELD.value)):
        delisted[r.account_id] = max(r.decided_at, delisted.get(r.account_id, r.decided_at))
    return delisted


class SqlIncidentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, report: IncidentReport, found: Sequence[Indicator], *, text: str, body_hash: str,
            dedup_key: str | None, phones: Sequence[str], now: datetime, incident_id: str | None) -> StoredIncident:
        for attempt in range(_ATTEMPTS):
            try:
                return self._add_once(report, found, text, body_hash, dedup_key, phones, now, incident_id)
            except IntegrityError:
                # A concurrent report with the same reference, dedup key or indicator won the race: the retry
                # sees what it committed. Each retry can only lose to a report that committed meanwhile.
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _add_once(self, report: IncidentReport, found: Sequence[Indicator], text: str, body_hash: str,
                  dedup_key: str | None, phones: Sequence[str], now: datetime,
                  incident_id: str | None) -> StoredIncident:
        with self.engine.begin() as conn:
            if report.external_ref is not None:
                row = conn.execute(
                    select(incident_reports.c.incident_id, incident_reports.c.body_hash).where(
                        incident_reports.c.reporter_org == report.reporter_org,
                        incident_reports.c.external_ref == report.external_ref,
                    )
                ).first()
                if row is not None:
                    if row.body_hash != body_hash:
                        raise Conflict(
                            f"external_ref {report.external_ref!r} was already used for a different report",
                            field="external_ref",
                        )
                    return StoredIncident(_load(conn, row.incident_id), False)
            parties = _known_transfers(conn, report.transfer_ids, report.transfer_keys)
            if dedup_key is not None:
                earlier = conn.execute(
                    select(incidents.c.incident_id).where(incidents.c.dedup_key == dedup_key)).first()
                if earlier is not None:
                    _insert_report(conn, earlier.incident_id, report, body_hash, now, duplicate=True)
                    return StoredIncident(_load(conn, earlier.incident_id), False)
            new_id = incident_id or f"inc-{uuid.uuid4().hex[:20]}"
            if conn.execute(select(incidents.c.incident_id).where(incidents.c.incident_id == new_id)).first():
                raise Conflict(f"incident {new_id!r} already exists", field="incident_id")
            v = report.victim
            victim: dict[str, Any] = {} if v is None else {"victim_party": v.party_id, "victim_name": v.name,
                                           "victim_phone": v.phone, "victim_age": v.age,
                                           "victim_lives_alone": v.lives_alone,
                                           "victim_region": v.region, "victim_district": v.district}
            conn.execute(insert(incidents).values(
                incident_id=new_id, reporter_org=report.reporter_org, reporter_kind=report.reporter_kind,
                scheme=report.scheme.value, text=text, language=report.language, reported_at=report.reported_at,
                received_at=now, dedup_key=dedup_key, **victim,
            ))
            _insert_report(conn, new_id, report, body_hash, now, duplicate=False)
            ind_ids = _upsert_indicators(conn, found, now)
            if ind_ids:
                conn.execute(insert(incident_indicators),
                             [{"incident_id": new_id, "indicator_id": i} for i in ind_ids])
            if report.transfer_keys:
                conn.execute(insert(incident_transfers), [{"incident_id": new_id, "transfer_id": t, "transfer_org": o}
                                                          for o, t in report.transfer_keys])
            insert_fraud_numbers(conn, phones, report.reporter_org, source="incident", now=now)
        incident = Incident(new_id, report.reported_at, report.reporter_org, report.scheme,
                            None if v is None else v.party_id, report.transfer_ids, text, tuple(found),
                            tuple(transfer_key(o, t) for o, t in report.transfer_keys))
        return StoredIncident(incident, True, {r: p for r, (_, p) in parties.items()},
                              {r: payer for r, (payer, _) in parties.items()})

    def distinct_payers(self, accounts: Sequence[str], at: datetime) -> dict[str, int]:
        accounts = list(accounts)
        if not accounts:
            return {}
        with self.engine.connect() as conn:
            return {payee: int(n) for payee, n in conn.execute(
                select(transfers.c.payee, func.count(distinct(transfers.c.payer)))
                .where(transfers.c.payee.in_(accounts), transfers.c.ts <= at)
                .group_by(transfers.c.payee)
            ).all()}

    def details(self, incident_id: str) -> IncidentDetails:
        with self.engine.connect() as conn:
            incident = _load(conn, incident_id)
            row = conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).mappings().one()
            reporters = frozenset(r.reporter_org for r in conn.execute(
                select(incident_reports.c.reporter_org).where(incident_reports.c.incident_id == incident_id)))
            banks: set[str | None] = set()
            if incident.transfer_ids:
                for r in conn.execute(select(transfers.c.payer_bank, transfers.c.payee_bank).join(
                        incident_transfers, (incident_transfers.c.transfer_id == transfers.c.transfer_id)
                        & (incident_transfers.c.transfer_org == transfers.c.org_id))
                        .where(incident_transfers.c.incident_id == incident_id)):
                    banks.update((r.payer_bank, r.payee_bank))
            repeats = conn.execute(select(incident_reports.c.report_id).where(
                incident_reports.c.incident_id == incident_id, incident_reports.c.duplicate.is_(True))).all()
        victim = {"party_id": row["victim_party"], "name": row["victim_name"], "phone": row["victim_phone"],
                  "age": row["victim_age"], "lives_alone": row["victim_lives_alone"]}
        return IncidentDetails(incident, row["language"], victim, reporters, frozenset(banks), len(repeats))

    def knowledge_sources(self) -> KnowledgeSources:
        named: list[tuple[str, datetime]] = []
        reported: list[datetime] = []
        disputed: list[tuple[str, str]] = []
        with self.engine.connect() as conn:
            for r in conn.execute(select(transfers.c.payer, transfers.c.payee, incidents.c.received_at,
                                         incidents.c.reported_at)
                                  .join(incident_transfers, _disputed_join())
                                  .join(incidents, incidents.c.incident_id == incident_transfers.c.incident_id)):
                named.append((r.payee, r.received_at))
                reported.append(r.reported_at)
                disputed.append((r.payer, r.payee))
            link = incident_indicators.c
            for ind in conn.execute(select(indicators.c.value, incidents.c.received_at, incidents.c.reported_at)
                                    .join(incident_indicators, link.indicator_id == indicators.c.indicator_id)
                                    .join(incidents, incidents.c.incident_id == link.incident_id)
                                    .where(indicators.c.kind.in_([k.value for k in LISTED_KINDS]))):
                named.append((ind.value, ind.received_at))
                reported.append(ind.reported_at)
            delisted = upheld_appeals(conn)
            phones = {r.phone for r in conn.execute(select(fraud_numbers.c.phone))}
        return KnowledgeSources(named, delisted, phones, reported, disputed)

    def reported_outcomes(self, since: datetime, until: datetime, model_version: str) -> list[str]:
        it = incident_transfers.c
        q = (select(decisions.c.outcome)
             .select_from(incident_transfers)
             .join(incidents, incidents.c.incident_id == it.incident_id)
             .join(decisions, (decisions.c.transfer_id == it.transfer_id) & (decisions.c.org_id == it.transfer_org))
             .where(incidents.c.reported_at >= since, incidents.c.reported_at < until,
                    decisions.c.model_version == model_version))
        with self.engine.connect() as conn:
            return [r.outcome for r in conn.execute(q)]

    def disputed_before(self, cutoff: datetime) -> set[str]:
        with self.engine.connect() as conn:
            return {transfer_key(r.transfer_org, r.transfer_id) for r in conn.execute(
                select(incident_transfers.c.transfer_org, incident_transfers.c.transfer_id)
                .join(incidents, incidents.c.incident_id == incident_transfers.c.incident_id)
                .where(incidents.c.reported_at < cutoff))}


class SqlAppealStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def names_listed_indicator(self, account_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(indicators.c.indicator_id).where(
                indicators.c.kind.in_([k.value for k in LISTED_KINDS]), indicators.c.value == account_id,
            )).first() is not None

    def add_appeal(self, *, appeal_id: str, account_id: str, reason: str, contact: str, filed_by: str,
                   filed_at: datetime, flags_at_filing: int) -> None:
        with self.engine.begin() as conn:
            pending = conn.execute(select(appeals.c.appeal_id).where(
                appeals.c.account_id == account_id, appeals.c.status == AppealStatus.PENDING.value)).first()
            if pending is not None:
                raise Conflict(f"account {account_id!r} already has a pending appeal {pending.appeal_id!r}",
                               field="account_id")
            conn.execute(insert(appeals).values(
                appeal_id=appeal_id, account_id=account_id, reason=reason, contact=contact, filed_by=filed_by,
                filed_at=filed_at, flags_at_filing=flags_at_filing, status=AppealStatus.PENDING.value,
            ))

    def decide_appeal(self, appeal_id: str, *, status: AppealStatus, decided_by: str, decided_at: datetime,
                      note: str, flags_of: Callable[[str], int]) -> str:
        with self.engine.begin() as conn:
            row = conn.execute(select(appeals.c.account_id, appeals.c.status).where(
                appeals.c.appeal_id == appeal_id)).first()
            if row is None:
                raise NotFound(f"no appeal {appeal_id!r}", field="appeal_id")
            if row.status != AppealStatus.PENDING.value:
                raise Conflict(f"appeal {appeal_id!r} was already decided ({row.status})", field="appeal_id")
            previous = flags_of(row.account_id) if status is AppealStatus.UPHELD else None
            # The status condition makes a concurrent second decision update nothing instead of overwriting.
            done = conn.execute(update(appeals).where(
                appeals.c.appeal_id == appeal_id, appeals.c.status == AppealStatus.PENDING.value
            ).values(status=status.value, decided_by=decided_by, decided_at=decided_at, decision_note=note,
                     previous_flags=previous))
            if done.rowcount != 1:
                raise Conflict(f"appeal {appeal_id!r} was already decided", field="appeal_id")
        return str(row.account_id)

    def appeal(self, appeal_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(appeals).where(appeals.c.appeal_id == appeal_id)).mappings().first()
        return None if row is None else dict(row)

    def upheld_appeals(self) -> dict[str, datetime]:
        with self.engine.connect() as conn:
            return upheld_appeals(conn)


def _load(conn: Connection, incident_id: str) -> Incident:
    row = conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).mappings().first()
    if row is None:
        raise NotFound(f"no incident {incident_id!r}", field="incident_id")
    named = conn.execute(
        select(incident_transfers.c.transfer_id, incident_transfers.c.transfer_org)
        .where(incident_transfers.c.incident_id == incident_id)
        .order_by(incident_transfers.c.transfer_id, incident_transfers.c.transfer_org)).all()
    inds = tuple(Indicator(IndicatorKind(r.kind), r.value, r.display) for r in conn.execute(
        select(indicators.c.kind, indicators.c.value, indicators.c.display)
        .join(incident_indicators, incident_indicators.c.indicator_id == indicators.c.indicator_id)
        .where(incident_indicators.c.incident_id == incident_id).order_by(indicators.c.indicator_id)))
    return Incident(incident_id, row["reported_at"], row["reporter_org"], Scheme(row["scheme"]), row["victim_party"],
                    tuple(r.transfer_id for r in named), row["text"], inds,
                    tuple(transfer_key(r.transfer_org, r.transfer_id) for r in named))


def _disputed_join() -> Any:
    """A disputed transfer is the one its submitter stored under its id (ids are each submitter's own)."""
    return ((incident_transfers.c.transfer_id == transfers.c.transfer_id)
            & (incident_transfers.c.transfer_org == transfers.c.org_id))


def _known_transfers(conn: Connection, refs: Sequence[str],
                     keys: Sequence[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The payer and payee of each disputed transfer, by the id the report named it with (``keys``: resolved by
    intake)."""
    if len(refs) != len(keys):  # not resolved by intake: nothing tells whose transfers they are
        raise InvalidInput("disputed transfers not resolved to their submitters", field="transfer_ids")
    wanted = set(keys)
    payees: dict[tuple[str, str], tuple[str, str]] = {}
    ids = list(dict.fromkeys(t for _, t in keys))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in conn.execute(select(transfers.c.org_id, transfers.c.transfer_id, transfers.c.payer,
                                       transfers.c.payee)
                                .where(transfers.c.transfer_id.in_(chunk))):
            if (row.org_id, row.transfer_id) in wanted:
                payees[(row.org_id, row.transfer_id)] = (row.payer, row.payee)
    unknown = [r for r, k in zip(refs, keys, strict=True) if k not in payees]
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        raise InvalidInput(f"unknown transfer ids: {shown}", field="transfer_ids")
    return {r: payees[k] for r, k in zip(refs, keys, strict=True)}


def _insert_report(conn: Connection, incident_id: str, report: IncidentReport, body_hash: str, now: datetime,
                   *, duplicate: bool) -> None:
    conn.execute(insert(incident_reports).values(
        report_id=f"rep-{uuid.uuid4().hex[:20]}", incident_id=incident_id, reporter_org=report.reporter_org,
        external_ref=report.external_ref, body_hash=body_hash, duplicate=duplicate, received_at=now,
    ))


def _upsert_indicators(conn: Connection, found: Sequence[Indicator], now: datetime) -> list[int]:
    if not found:
        return []
    existing: dict[tuple[str, str], int] = {}
    for kind in {i.kind for i in found}:
        values = [i.value for i in found if i.kind is kind]
        for row in conn.execute(select(indicators.c.indicator_id, indicators.c.value).where(
            indicators.c.kind == kind.value, indicators.c.value.in_(values)
        )):
            existing[(kind.value, row.value)] = row.indicator_id
    missing = [i for i in found if (i.kind.value, i.value) not in existing]
    for ind in missing:
        result = conn.execute(insert(indicators).values(
            kind=ind.kind.value, value=ind.value, display=ind.display, first_seen_at=now
        ))
        key = result.inserted_primary_key
        assert key is not None
        existing[(ind.kind.value, ind.value)] = int(key[0])
    return [existing[(i.kind.value, i.value)] for i in found]
