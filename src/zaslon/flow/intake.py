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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from zaslon.adapters.db.stores.incidents import SqlIncidentStore
from zaslon.core.access import OrgKind, sees_everything
from zaslon.core.corroborate import is_established
from zaslon.core.indicators import extract_indicators, normalise_phone, redact_cards
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.core.types import CASH_SINK, Incident, Indicator, IndicatorKind, Scheme, require_utc, transfer_key
from zaslon.errors import Forbidden, InvalidInput, NotFound
from zaslon.flow.isolation import resolve_disputed
from zaslon.flow.orgs import Principal
from zaslon.flow.ports.incidents import LISTED_KINDS

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from zaslon.flow.ports.incidents import IncidentStore

REPORTER_KINDS = frozenset({OrgKind.BANK, OrgKind.POLICE, OrgKind.TELECOM})
MAX_TRANSFERS = 1000
MAX_TEXT = 20_000
# A report may be dated a little ahead of the server clock (clock skew), never more.
MAX_FUTURE = timedelta(minutes=5)
_FLAGGED_KINDS = LISTED_KINDS


@dataclass(frozen=True, slots=True)
class Victim:
    party_id: str | None = None
    name: str | None = None
    phone: str | None = None  # E.164 once normalised
    age: int | None = None
    lives_alone: bool | None = None
    # Where the victim lives (the report's or the bank's word): the statistics count by region and district.
    region: str | None = None
    district: str | None = None

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
    # Each of ``transfer_ids`` as (submitting org, its id): set by intake, which decides what a reporter may name.
    transfer_keys: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class IntakeResult:
    incident: Incident  # text with cards masked; card indicators hashed
    created: bool
    duplicate_of: str | None = None
    flagged_accounts: tuple[str, ...] = ()
    flagged_phones: tuple[str, ...] = ()
    payees: dict[str, str] = field(default_factory=dict)  # disputed transfer id -> payee account
    payers: dict[str, str] = field(default_factory=dict)  # disputed transfer id -> payer account


def _body_hash(report: IncidentReport) -> str:
    victim = report.victim
    body = {
        "scheme": report.scheme.value,
        "victim": None if victim is None else [victim.party_id, victim.name, victim.phone, victim.age,
                                               victim.lives_alone]
        # Appended only when given, so a report stored before the fields existed hashes as it did.
        + ([victim.region, victim.district] if victim.region or victim.district else []),
        "transfer_ids": sorted(report.transfer_ids),
        "text": report.text,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _dedup_key(report: IncidentReport) -> str | None:
    who = report.victim.key() if report.victim else None
    if who is None or not report.transfer_keys:
        return None
    # By the transfers disputed, not the ids named: two banks' "tx-1" are two transfers.
    named = sorted(transfer_key(o, t) for o, t in report.transfer_keys)
    return hashlib.sha256("\n".join([who, *named]).encode()).hexdigest()


def normalise_victim(victim: Victim | None) -> Victim | None:
    if victim is None or victim.phone is None:
        return victim
    phone = normalise_phone(victim.phone)
    if phone is None:
        raise InvalidInput(f"{victim.phone!r} is not a valid phone number", field="victim.phone")
    return Victim(victim.party_id, victim.name, phone, victim.age, victim.lives_alone, victim.region,
                  victim.district)


def intake_incident(
    engine: Engine,
    knowledge: Knowledge,
    report: IncidentReport,
    *,
    card_pepper: bytes,
    now: datetime | None = None,
    incident_id: str | None = None,
    kind_of: Callable[[str], str | None] | None = None,
    reporter_bic: str | None = None,
) -> IntakeResult:
    """Validate, deduplicate and store ``report``; flag what it names in ``knowledge`` once committed.
    ``kind_of`` tells what a bank registered an account as (a merchant paid by ten people is established).
    ``reporter_bic``: a reporting bank's BIC; it may name only transfers it submitted or is a party to
    (``zaslon.flow.isolation.resolve_disputed``)."""
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
    resolved = resolve_disputed(engine, report.reporter_org, report.reporter_kind, reporter_bic, ids)
    report = IncidentReport(report.reporter_org, report.reporter_kind, report.scheme, reported_at, victim, ids,
                            report.text, report.external_ref, report.language, tuple(resolved[i] for i in ids))
    store: IncidentStore = SqlIncidentStore(engine)
    result = _store(store, report, found, now, incident_id)
    if result.created:
        for account in _uncorroborated_listable(store, result.flagged_accounts, reported_at, kind_of):
            knowledge.flag(account, AccountFlag.REPORTED)
        knowledge.flagged_phones.update(result.flagged_phones)
        for ref, payee in result.payees.items():
            knowledge.count_report(result.payers.get(ref), None if payee == CASH_SINK else payee)
    return result


def _uncorroborated_listable(store: IncidentStore, accounts: Iterable[str], at: datetime,
                             kind_of: Callable[[str], str | None] | None = None) -> list[str]:
    """The accounts one report may list at once: not an established business that many people pay
    (``core.corroborate``): listing one on a single, possibly mistaken report would hold every customer's
    payment. Its incident and indicators are still stored for the desk to confirm."""
    accounts = list(accounts)
    if not accounts:
        return []
    payers = store.distinct_payers(accounts, at)
    kind = kind_of or (lambda _a: None)
    return [a for a in accounts if not is_established(kind(a), int(payers.get(a, 0)))]


def _store(
    store: IncidentStore,
    report: IncidentReport,
    found: Sequence[Indicator],
    now: datetime,
    incident_id: str | None,
) -> IntakeResult:
    """Store ``report`` in one transaction (a concurrent writer of the same key: tried again, up to 5 times)."""
    victim_phone = report.victim.phone if report.victim else None
    phones = tuple(dict.fromkeys(i.value for i in found if i.kind is IndicatorKind.PHONE and i.value != victim_phone))
    stored = store.add(report, found, text=redact_cards(report.text), body_hash=_body_hash(report),
                       dedup_key=_dedup_key(report), phones=phones, now=now, incident_id=incident_id)
    if not stored.created:
        return IntakeResult(stored.incident, False, stored.incident.incident_id)
    accounts = [p for p in stored.payees.values() if p != CASH_SINK]
    accounts += [i.value for i in found if i.kind in _FLAGGED_KINDS]
    return IntakeResult(stored.incident, True, None, tuple(dict.fromkeys(accounts)), phones, stored.payees,
                        stored.payers)


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
    reported, and a bank also those naming its accounts (without the victim's personal details). Any other
    incident answers ``NotFound``, exactly as one that does not exist."""
    store: IncidentStore = SqlIncidentStore(engine)
    details = store.details(incident_id)
    incident = details.incident
    full = sees_everything(principal.kind) or principal.org_id in details.reporters
    if not full and not (principal.kind == OrgKind.BANK and _bank_names(principal, incident.indicators,
                                                                        details.banks)):
        # Another organisation's incident answers as a missing one: its existence is not revealed.
        raise NotFound(f"no incident {incident_id!r}", field="incident_id")
    out: dict[str, Any] = {
        "incident_id": incident.incident_id,
        "reported_at": incident.reported_at.isoformat(),
        "reporter_org": incident.reporter_org,
        "scheme": incident.scheme.value,
        "transfer_ids": list(incident.transfer_ids),
        "indicators": [{"kind": i.kind.value, "value": i.value, "display": i.display} for i in incident.indicators],
        "repeat_reports": details.repeat_reports,
    }
    if full:
        out["text"] = incident.text
        out["language"] = details.language
        out["victim"] = dict(details.victim)
    return out


def load_knowledge(engine: Engine, knowledge: Knowledge,
                   kind_of: Callable[[str], str | None] | None = None) -> tuple[int, int]:
    """Rebuild what intake taught ``knowledge`` from the store (after a restart): REPORTED on every payee
    and account/wallet indicator of an incident, unless an upheld appeal delisted the account after its
    last incident, and with intake's corroboration check: an established business (``core.corroborate``,
    counted as intake counted it, up to the earliest report since any delisting) is not listed from a report
    alone. Every stored fraud number goes into ``flagged_phones``. Returns (accounts, phones) flagged."""
    store: IncidentStore = SqlIncidentStore(engine)
    sources = store.knowledge_sources()
    last_named: dict[str, datetime] = {}
    for account, at in sources.named:
        if account != CASH_SINK and (account not in last_named or at > last_named[account]):
            last_named[account] = at
    delisted = sources.delisted
    listable = [a for a, at in last_named.items() if not (a in delisted and delisted[a] >= at)]
    # Intake lists an account when one report finds it not established. Payers only grow, so that is the
    # earliest report naming it (since its last delisting). Most accounts have too few payers even now.
    kind = kind_of or (lambda _a: None)
    now_payers = store.distinct_payers(listable, datetime.now(UTC))
    maybe = {a for a in listable if is_established(kind(a), int(now_payers.get(a, 0)))}
    first: dict[str, datetime] = {}
    reported = sources.reported or [at for _, at in sources.named]
    for (account, received), at in zip(sources.named, reported, strict=True):
        if account in maybe and not (account in delisted and delisted[account] >= received):
            first[account] = min(first.get(account, at), at)
    established = {a for a, at in first.items()
                   if is_established(kind(a), int(store.distinct_payers([a], at).get(a, 0)))}
    flagged = 0
    for account in listable:
        if account in established:
            continue
        knowledge.flag(account, AccountFlag.REPORTED)
        flagged += 1
    knowledge.flagged_phones.update(sources.phones)
    knowledge.reported_in.clear()
    knowledge.reported_out.clear()
    for payer, payee in sources.disputed:
        knowledge.count_report(payer, None if payee == CASH_SINK else payee)
    return flagged, len(sources.phones)
