"""Incident intake: validate a report, extract its indicators, store it in one transaction, update Knowledge.

A repeat is linked to the first report and never double-counted: the same reporter sending the same
external reference again, or anyone reporting the same victim disputing the same transfers, gets the
earlier incident back (``duplicate_of``) and nothing new is flagged. Card numbers are stored only as an
HMAC plus a mask, and the stored text has every card masked.

What follows intake (trace, freeze orders) is not called from here: ``intake_incident`` returns the stored
incident and the caller runs its ``on_incident`` hooks after the commit, so a failing hook can never
half-write an incident.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, distinct, func, insert, select
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.db.tables_incidents import (
    fraud_numbers,
    incident_indicators,
    incident_reports,
    incident_transfers,
    incidents,
    indicators,
)
from zaslon.core.access import OrgKind, sees_everything
from zaslon.core.corroborate import is_established
from zaslon.core.indicators import extract_indicators, normalise_phone, redact_cards
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.core.types import CASH_SINK, Incident, Indicator, IndicatorKind, Scheme, require_utc
from zaslon.errors import Conflict, Forbidden, InvalidInput, NotFound
from zaslon.flow.orgs import Principal

REPORTER_KINDS = frozenset({OrgKind.BANK, OrgKind.POLICE, OrgKind.TELECOM})
MAX_TRANSFERS = 1000
MAX_TEXT = 20_000
# A report may be dated a little ahead of the server clock (clock skew), never more.
MAX_FUTURE = timedelta(minutes=5)
_FLAGGED_KINDS = (IndicatorKind.ACCOUNT, IndicatorKind.WALLET)
_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Victim:
    party_id: str | None = None
    name: str | None = None
    phone: str | None = None  # E.164 once normalised
    age: int | None = None
    lives_alone: bool | None = None

    def key(self) -> str | None:
        """Who the victim is, for deduplication: the party id, else the phone number."""
        return f"party:{self.party_id}" if self.party_id else (f"phone:{self.phone}" if self.phone else None)


@dataclass(frozen=True, slots=True)
class IncidentReport:
    reporter_org: str
    reporter_kind: str
    scheme: Scheme
    reported_at: datetime
    victim: Victim | None = None
    transfer_ids: tuple[str, ...] = ()
    text: str = ""
    external_ref: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class IntakeResult:
    incident: Incident  # text with cards masked; card indicators hashed
    created: bool
    duplicate_of: str | None = None
    flagged_accounts: tuple[str, ...] = ()
    flagged_phones: tuple[str, ...] = ()
    payees: dict[str, str] = field(default_factory=dict)  # disputed transfer id -> payee account


def _body_hash(report: IncidentReport) -> str:
    victim = report.victim
    body = {
        "scheme": report.scheme.value,
        "victim": None if victim is None else [victim.party_id, victim.name, victim.phone, victim.age,
                                               victim.lives_alone],
        "transfer_ids": sorted(report.transfer_ids),
        "text": report.text,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _dedup_key(report: IncidentReport) -> str | None:
    who = report.victim.key() if report.victim else None
    if who is None or not report.transfer_ids:
        return None
    return hashlib.sha256("\n".join([who, *sorted(report.transfer_ids)]).encode()).hexdigest()


def normalise_victim(victim: Victim | None) -> Victim | None:
    if victim is None or victim.phone is None:
        return victim
    phone = normalise_phone(victim.phone)
    if phone is None:
        raise InvalidInput(f"{victim.phone!r} is not a valid phone number", field="victim.phone")
    return Victim(victim.party_id, victim.name, phone, victim.age, victim.lives_alone)


def intake_incident(
    engine: Engine,
    knowledge: Knowledge,
    report: IncidentReport,
    *,
    card_pepper: bytes,
    now: datetime | None = None,
    incident_id: str | None = None,
    kind_of: Callable[[str], str | None] | None = None,
) -> IntakeResult:
    """Validate, deduplicate and store ``report``; flag what it names in ``knowledge`` once committed.
    ``kind_of`` tells what a bank registered an account as (a merchant paid by ten people is established)."""
    now = require_utc(now or datetime.now(UTC), "now")
    if report.reporter_kind not in REPORTER_KINDS:
        raise Forbidden("only banks, the police and telecoms report incidents")
    reported_at = require_utc(report.reported_at, "reported_at")
    if reported_at > now + MAX_FUTURE:
        raise InvalidInput("reported_at lies in the future", field="reported_at")
    if len(report.text) > MAX_TEXT:
        raise InvalidInput(f"text holds at most {MAX_TEXT} characters", field="text")
    ids = tuple(dict.fromkeys(report.transfer_ids))
    if len(ids) > MAX_TRANSFERS:
        raise InvalidInput(f"an incident disputes at most {MAX_TRANSFERS} transfers", field="transfer_ids")
    found = extract_indicators(report.text, card_pepper=card_pepper) if report.text else ()
    if not ids and not found:
        raise InvalidInput(
            "the report names no transfer and its text holds no indicator (account, card, phone, wallet, "
            "URL, e-mail...)",
            field="text",
        )
    victim = normalise_victim(report.victim)
    report = IncidentReport(report.reporter_org, report.reporter_kind, report.scheme, reported_at, victim, ids,
                            report.text, report.external_ref, report.language)
    for attempt in range(_ATTEMPTS):
        try:
            result = _store(engine, report, found, now, incident_id)
            break
        except IntegrityError:
            # A concurrent report with the same reference, dedup key or indicator won the race: the retry
            # sees what it committed. Each retry can only lose to a report that committed meanwhile.
            if attempt == _ATTEMPTS - 1:
                raise
    if result.created:
        for account in _uncorroborated_listable(engine, result.flagged_accounts, reported_at, kind_of):
            knowledge.flag(account, AccountFlag.REPORTED)
        knowledge.flagged_phones.update(result.flagged_phones)
    return result


def _uncorroborated_listable(engine: Engine, accounts: Iterable[str], at: datetime,
                             kind_of: Callable[[str], str | None] | None = None) -> list[str]:
    """The accounts one report may list at once: not an established business that many people pay
    (``core.corroborate``): listing one on a single, possibly mistaken report would hold every customer's
    payment. Its incident and indicators are still stored for the desk to confirm."""
    accounts = list(accounts)
    if not accounts:
        return []
    with engine.connect() as conn:
        payers: dict[str, int] = dict(conn.execute(
            select(transfers.c.payee, func.count(distinct(transfers.c.payer)))
            .where(transfers.c.payee.in_(accounts), transfers.c.ts <= at)
            .group_by(transfers.c.payee)
        ).all())
    kind = kind_of or (lambda _a: None)
    return [a for a in accounts if not is_established(kind(a), int(payers.get(a, 0)))]


def _store(
    engine: Engine,
    report: IncidentReport,
    found: Sequence[Indicator],
    now: datetime,
    incident_id: str | None,
) -> IntakeResult:
    body_hash = _body_hash(report)
    dedup_key = _dedup_key(report)
    with engine.begin() as conn:
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
                return _duplicate(conn, row.incident_id)
        payees = _known_transfers(conn, report.transfer_ids)
        if dedup_key is not None:
            earlier = conn.execute(select(incidents.c.incident_id).where(incidents.c.dedup_key == dedup_key)).first()
            if earlier is not None:
                _insert_report(conn, earlier.incident_id, report, body_hash, now, duplicate=True)
                return _duplicate(conn, earlier.incident_id)
        new_id = incident_id or f"inc-{uuid.uuid4().hex[:20]}"
        if conn.execute(select(incidents.c.incident_id).where(incidents.c.incident_id == new_id)).first():
            raise Conflict(f"incident {new_id!r} already exists", field="incident_id")
        victim = report.victim or Victim()
        text = redact_cards(report.text)
        conn.execute(insert(incidents).values(
            incident_id=new_id, reporter_org=report.reporter_org, reporter_kind=report.reporter_kind,
            scheme=report.scheme.value, victim_party=victim.party_id, victim_name=victim.name,
            victim_phone=victim.phone, victim_age=victim.age, victim_lives_alone=victim.lives_alone,
            text=text, language=report.language, reported_at=report.reported_at, received_at=now,
            dedup_key=dedup_key,
        ))
        _insert_report(conn, new_id, report, body_hash, now, duplicate=False)
        ind_ids = _upsert_indicators(conn, found, now)
        if ind_ids:
            conn.execute(insert(incident_indicators), [{"incident_id": new_id, "indicator_id": i} for i in ind_ids])
        if report.transfer_ids:
            conn.execute(insert(incident_transfers),
                         [{"incident_id": new_id, "transfer_id": t} for t in report.transfer_ids])
        accounts = [p for p in payees.values() if p != CASH_SINK]
        accounts += [i.value for i in found if i.kind in _FLAGGED_KINDS]
        phones = [i.value for i in found if i.kind is IndicatorKind.PHONE and i.value != victim.phone]
        _insert_fraud_numbers(conn, phones, report.reporter_org, now)
    incident = Incident(new_id, report.reported_at, report.reporter_org, report.scheme, victim.party_id,
                        report.transfer_ids, text, tuple(found))
    return IntakeResult(incident, True, None, tuple(dict.fromkeys(accounts)), tuple(dict.fromkeys(phones)), payees)


def _known_transfers(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    payees: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        for row in conn.execute(
            select(transfers.c.transfer_id, transfers.c.payee).where(transfers.c.transfer_id.in_(chunk))
        ):
            payees[row.transfer_id] = row.payee
    unknown = [t for t in ids if t not in payees]
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        raise InvalidInput(f"unknown transfer ids: {shown}", field="transfer_ids")
    return {t: payees[t] for t in ids}


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


def _insert_fraud_numbers(conn: Connection, phones: Iterable[str], org: str, now: datetime) -> None:
    phones = list(dict.fromkeys(phones))
    if not phones:
        return
    known = {r.phone for r in conn.execute(select(fraud_numbers.c.phone).where(
        fraud_numbers.c.reporter_org == org, fraud_numbers.c.phone.in_(phones)))}
    rows = [{"phone": p, "reporter_org": org, "source": "incident", "reported_at": now}
            for p in phones if p not in known]
    if rows:
        conn.execute(insert(fraud_numbers), rows)


def _duplicate(conn: Connection, incident_id: str) -> IntakeResult:
    return IntakeResult(_load(conn, incident_id), False, incident_id)


def _load(conn: Connection, incident_id: str) -> Incident:
    row = conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).mappings().first()
    if row is None:
        raise NotFound(f"no incident {incident_id!r}", field="incident_id")
    tids = tuple(r.transfer_id for r in conn.execute(
        select(incident_transfers.c.transfer_id).where(incident_transfers.c.incident_id == incident_id)
        .order_by(incident_transfers.c.transfer_id)))
    inds = tuple(Indicator(IndicatorKind(r.kind), r.value, r.display) for r in conn.execute(
        select(indicators.c.kind, indicators.c.value, indicators.c.display)
        .join(incident_indicators, incident_indicators.c.indicator_id == indicators.c.indicator_id)
        .where(incident_indicators.c.incident_id == incident_id).order_by(indicators.c.indicator_id)))
    return Incident(incident_id, row["reported_at"], row["reporter_org"], Scheme(row["scheme"]), row["victim_party"],
                    tids, row["text"], inds)


def _bank_names(principal: Principal, inds: Iterable[Indicator], banks: Iterable[str | None]) -> bool:
    """Does the incident name an account of the principal's bank? Via the disputed transfers' banks, or
    an IBAN whose country and bank code are the BIC's (Belarusian IBANs carry the BIC's first four letters)."""
    bic = principal.bank_id
    if not bic:
        return False
    if bic in banks:
        return True
    return any(i.kind is IndicatorKind.ACCOUNT and i.value[:2] == bic[4:6] and i.value[4:8] == bic[:4]
               for i in inds)


def get_incident(engine: Engine, principal: Principal, incident_id: str) -> dict[str, Any]:
    """An incident as its reader may see it: police see all; a bank or telecom sees the incidents it
    reported, and a bank also those naming its accounts (without the victim's personal details)."""
    with engine.connect() as conn:
        incident = _load(conn, incident_id)
        row = conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).mappings().one()
        reporters = {r.reporter_org for r in conn.execute(
            select(incident_reports.c.reporter_org).where(incident_reports.c.incident_id == incident_id))}
        banks: set[str | None] = set()
        if incident.transfer_ids:
            for r in conn.execute(select(transfers.c.payer_bank, transfers.c.payee_bank).where(
                transfers.c.transfer_id.in_(list(incident.transfer_ids)))):
                banks.update((r.payer_bank, r.payee_bank))
        repeats = conn.execute(select(incident_reports.c.report_id).where(
            incident_reports.c.incident_id == incident_id, incident_reports.c.duplicate.is_(True))).all()
    full = sees_everything(principal.kind) or principal.org_id in reporters
    if not full and not (principal.kind == OrgKind.BANK and _bank_names(principal, incident.indicators, banks)):
        raise Forbidden("this incident was reported by another organisation and names none of your accounts")
    out: dict[str, Any] = {
        "incident_id": incident.incident_id,
        "reported_at": incident.reported_at.isoformat(),
        "reporter_org": incident.reporter_org,
        "scheme": incident.scheme.value,
        "transfer_ids": list(incident.transfer_ids),
        "indicators": [{"kind": i.kind.value, "value": i.value, "display": i.display} for i in incident.indicators],
        "repeat_reports": len(repeats),
    }
    if full:
        out["text"] = incident.text
        out["language"] = row["language"]
        out["victim"] = {"party_id": row["victim_party"], "name": row["victim_name"], "phone": row["victim_phone"],
                         "age": row["victim_age"], "lives_alone": row["victim_lives_alone"]}
    return out


def upheld_appeals(conn: Connection) -> dict[str, datetime]:
    """Accounts cleared by an upheld appeal, with the latest such decision (UTC): a flag from before it is void."""
    from zaslon.adapters.db.tables_incidents import appeals

    delisted: dict[str, datetime] = {}
    for r in conn.execute(select(appeals.c.account_id, appeals.c.decided_at).where(appeals.c.status == "upheld")):
        delisted[r.account_id] = max(r.decided_at, delisted.get(r.account_id, r.decided_at))
    return delisted


def load_knowledge(engine: Engine, knowledge: Knowledge) -> tuple[int, int]:
    """Rebuild what intake taught ``knowledge`` from the store (after a restart): REPORTED on every payee
    and account/wallet indicator of an incident, unless an upheld appeal delisted the account after its
    last incident; every stored fraud number in ``flagged_phones``. Returns (accounts, phones) flagged."""

    last_named: dict[str, datetime] = {}

    def named(account: str, at: datetime) -> None:
        if account != CASH_SINK and (account not in last_named or at > last_named[account]):
            last_named[account] = at

    with engine.connect() as conn:
        for r in conn.execute(select(transfers.c.payee, incidents.c.received_at)
                              .join(incident_transfers, incident_transfers.c.transfer_id == transfers.c.transfer_id)
                              .join(incidents, incidents.c.incident_id == incident_transfers.c.incident_id)):
            named(r.payee, r.received_at)
        link = incident_indicators.c
        for r in conn.execute(select(indicators.c.value, incidents.c.received_at)
                              .join(incident_indicators, link.indicator_id == indicators.c.indicator_id)
                              .join(incidents, incidents.c.incident_id == link.incident_id)
                              .where(indicators.c.kind.in_([k.value for k in _FLAGGED_KINDS]))):
            named(r.value, r.received_at)
        delisted = upheld_appeals(conn)
        phones = {r.phone for r in conn.execute(select(fraud_numbers.c.phone))}
    flagged = 0
    for account, at in last_named.items():
        if account in delisted and delisted[account] >= at:
            continue
        knowledge.flag(account, AccountFlag.REPORTED)
        flagged += 1
    knowledge.flagged_phones.update(phones)
    return flagged, len(phones)
