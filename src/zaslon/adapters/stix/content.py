"""STIX 2.1 content the exchange shares, built and parsed with the OASIS ``stix2`` library.

What goes out:
- **indicators** with STIX patterns over observables: our own SCO types (``bank-account``, ``phone-number``,
  ``payment-card``, ``cryptocurrency-wallet``; modelled on OpenCTI's and ``stix2extensions``' types, each
  declared by an ``extension-definition`` that ships in every bundle using it) and the standard ``url``,
  ``domain-name``, ``email-addr``, ``ipv4-addr`` and ``ipv6-addr``. The observable goes along with its indicator.
- **incidents** with the Incident Core property extension (``determination``, ``investigation_status``,
  ``incident_types``), related to the indicators they named; no victim's name, phone or text ever.
- **cases** as ``grouping`` objects over their incidents and indicators.
- **sightings** of a partner's indicator that matched here.

Sensitive identifiers (accounts, phones, cards) travel as keyed hashes (``zaslon.core.pseudonym``) when the
bundle is for one partner: the observable carries ``value_hmac`` and ``hmac_key_id`` instead of the value, and
the indicator's pattern matches on them. A card never travels in the clear: we do not hold it in the clear.

Object ids: every object gets the same id each time it is built (so republishing is idempotent and a newer
``modified`` supersedes). The id is UUID-4 shaped (``stix2-validator --strict`` requires v4 ids for SDOs and for
custom SCOs), made from SHA-256 over our exchange's name and the object's key. For a hashed identifier the key
is the digest, never the clear value: an id derived from a phone number could be brute-forced back to it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import stix2
from stix2.properties import StringProperty
from stix2.v21 import CustomObservable

from zaslon.adapters.stix.tlp import MARKING_IDS, Tlp, marking_object

__all__ = ["MARKING_IDS", "Author", "Built", "ShareCase", "ShareIncident", "ShareIndicator", "bundle"]
from zaslon.core.pseudonym import PairKey, keyed_hash

# Our extension definitions: fixed ids (random UUID-4s drawn once), one per SCO type we define.
EXT_BANK_ACCOUNT = "extension-definition--9b3e08c3-d572-415d-a431-c3a93426fb71"
EXT_PHONE_NUMBER = "extension-definition--e1191eb9-f704-45f7-9796-b1a8947a49d0"
EXT_PAYMENT_CARD = "extension-definition--f89761d6-a808-4d87-ab64-a304bea0f63a"
EXT_CRYPTO_WALLET = "extension-definition--d346b8ad-05ba-49cc-a22d-810c4f8baf32"
# The OASIS Incident Core extension (cti-stix-common-objects, extension-definition-specifications/incident-core).
EXT_INCIDENT_CORE = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
# Who defines our extensions: the Zaslon project (not any one country's exchange).
PROJECT_IDENTITY = "identity--5f0e9a43-7f0c-4d5a-9c1e-0f5a3b6a9c21"
SCHEMA_BASE = "https://github.com/zaslon/zaslon/blob/main/src/zaslon/adapters/stix/schemas/"
_DEFINED = "2026-12-01T00:00:00.000Z"


@CustomObservable("bank-account", [
    ("iban", StringProperty()),
    ("account_number", StringProperty()),
    ("value_hmac", StringProperty()),
    ("hmac_key_id", StringProperty()),
], extension_name=EXT_BANK_ACCOUNT)
class BankAccount:
    pass


@CustomObservable("phone-number", [
    ("value", StringProperty()),
    ("value_hmac", StringProperty()),
    ("hmac_key_id", StringProperty()),
], extension_name=EXT_PHONE_NUMBER)
class PhoneNumber:
    pass


@CustomObservable("payment-card", [
    ("number_hmac", StringProperty()),
    ("hmac_key_id", StringProperty()),
    ("masked_number", StringProperty()),
], extension_name=EXT_PAYMENT_CARD)
class PaymentCard:
    pass


@CustomObservable("cryptocurrency-wallet", [
    ("value", StringProperty(required=True)),
], extension_name=EXT_CRYPTO_WALLET)
class CryptocurrencyWallet:
    pass


EXTENSIONS: dict[str, tuple[str, str, str]] = {
    # sco type -> (extension id, name, description)
    "bank-account": (EXT_BANK_ACCOUNT, "bank-account",
                     "A bank account: IBAN or national account number, or its keyed hash for pseudonymised matching"),
    "phone-number": (EXT_PHONE_NUMBER, "phone-number",
                     "A phone number in E.164, or its keyed hash for pseudonymised matching"),
    "payment-card": (EXT_PAYMENT_CARD, "payment-card",
                     "A payment card, only ever as a keyed hash of its number and a masked number"),
    "cryptocurrency-wallet": (EXT_CRYPTO_WALLET, "cryptocurrency-wallet", "A cryptocurrency wallet address"),
}
SENSITIVE_KINDS = frozenset({"account", "phone", "card"})
_INCIDENT_TYPES = {  # our schemes in the Incident Core extension's open vocabulary words
    "vishing": "social-engineering", "phishing": "phishing", "investment": "fraud",
    "fake_director": "social-engineering", "social": "social-engineering", "credit": "fraud",
    "fake_shop": "fraud", "drops": "fraud", "extortion": "extortion",
}


@dataclass(frozen=True, slots=True)
class ShareIndicator:
    kind: str  # an IndicatorKind value
    value: str  # normalised; a card's is our keyed hash of it
    first_seen: datetime
    display: str | None = None  # a card's mask
    incident_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ShareIncident:
    incident_id: str
    scheme: str
    reported_at: datetime
    indicators: tuple[tuple[str, str], ...] = ()  # (kind, value)


@dataclass(frozen=True, slots=True)
class ShareCase:
    case_id: str
    status: str
    created_at: datetime
    updated_at: datetime
    incident_ids: tuple[str, ...] = ()
    title: str | None = None


@dataclass(slots=True)
class Built:
    """One object to share, with its local key (what the sharing marks name) and its marking."""

    obj: dict[str, Any]
    local_ref: str
    tlp: Tlp
    named: frozenset[str] = frozenset()


@dataclass(slots=True)
class Author:
    """The exchange that authors the objects (one per country) and how its objects are marked."""

    name: str  # e.g. "Zaslon BY"
    country: str
    tlp_of: dict[str, Tlp] = field(default_factory=dict)  # object type -> its default marking

    @property
    def identity_id(self) -> str:
        return derived_id("identity", self.name, "identity")

    def identity(self) -> dict[str, Any]:
        return _dump(stix2.Identity(
            id=self.identity_id, name=self.name, identity_class="organization", sectors=["government-public-services"],
            description=f"National anti-fraud exchange ({self.country})", created=_DEFINED, modified=_DEFINED,
            object_marking_refs=[MARKING_IDS[Tlp.CLEAR]],
        ))

    def tlp(self, stix_type: str) -> Tlp:
        return self.tlp_of.get(stix_type, Tlp.AMBER)


def derived_id(stix_type: str, namespace: str, key: str) -> str:
    """A stable UUID-4 shaped id for ``key`` of ``stix_type`` under ``namespace`` (see the module doc)."""
    digest = hashlib.sha256(f"{namespace}\x00{stix_type}\x00{key}".encode()).digest()
    return f"{stix_type}--{uuid.UUID(bytes=digest[:16], version=4)}"


def _ts(at: datetime) -> str:
    out: str = stix2.utils.format_datetime(stix2.utils.STIXdatetime(at, precision="millisecond"))
    return out


def _dump(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(obj.serialize())
    return out


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _observable(ind: ShareIndicator, key: PairKey | None) -> tuple[str, dict[str, Any], str] | None:
    """(sco type, properties, pattern) for an indicator; None when it cannot be shared this way (a card with
    no pair key to hash it with, a sensitive value with no key when pseudonymising)."""
    kind, value = ind.kind, ind.value
    if kind in SENSITIVE_KINDS and key is not None:
        digest = keyed_hash(key, kind, value)
        sco = {"account": "bank-account", "phone": "phone-number", "card": "payment-card"}[kind]
        prop = "number_hmac" if kind == "card" else "value_hmac"
        props: dict[str, Any] = {prop: digest, "hmac_key_id": key.key_id}
        if kind == "card" and ind.display:
            props["masked_number"] = ind.display
        pattern = f"[{sco}:{prop} = {_quote(digest)} AND {sco}:hmac_key_id = {_quote(key.key_id)}]"
        return sco, props, pattern
    if kind == "card":
        return None
    if kind == "account":
        prop = "iban" if value[:2].isalpha() else "account_number"
        return "bank-account", {prop: value}, f"[bank-account:{prop} = {_quote(value)}]"
    simple = {"phone": "phone-number", "wallet": "cryptocurrency-wallet", "url": "url", "domain": "domain-name",
              "email": "email-addr"}
    if kind in simple:
        sco = simple[kind]
        return sco, {"value": value}, f"[{sco}:value = {_quote(value)}]"
    if kind == "ip":
        sco = "ipv6-addr" if ":" in value else "ipv4-addr"
        return sco, {"value": value}, f"[{sco}:value = {_quote(value)}]"
    return None  # device ids and Apple IDs stay at home: no agreed observable for them


_SCO_CLASSES: dict[str, Any] = {
    "bank-account": BankAccount, "phone-number": PhoneNumber, "payment-card": PaymentCard,
    "cryptocurrency-wallet": CryptocurrencyWallet, "url": stix2.URL, "domain-name": stix2.DomainName,
    "email-addr": stix2.EmailAddress, "ipv4-addr": stix2.IPv4Address, "ipv6-addr": stix2.IPv6Address,
}
_KIND_WORD = {"account": "bank account", "phone": "phone number", "card": "payment card", "wallet": "crypto wallet",
              "url": "URL", "domain": "domain", "email": "e-mail address", "ip": "IP address"}


def indicator_key(kind: str, value: str, key: PairKey | None) -> str:
    """The id key of an indicator: the digest for a hashed identifier (never its clear value)."""
    if kind in SENSITIVE_KINDS and key is not None:
        return f"{kind}:hmac:{key.key_id}:{keyed_hash(key, kind, value)}"
    return f"{kind}:{value}"


def build_indicator(author: Author, ind: ShareIndicator, key: PairKey | None) -> list[Built]:
    """The observable and the indicator that points at it (empty if it cannot be shared, see _observable)."""
    found = _observable(ind, key)
    if found is None:
        return []
    sco_type, props, pattern = found
    id_key = indicator_key(ind.kind, ind.value, key)
    local = f"indicator:{ind.kind}:{ind.value}"
    sco_tlp = author.tlp("indicator")
    # Standard SCOs get the specification's deterministic UUID-5 from their value (stix2 derives it); our
    # custom types get a derived UUID-4 id, which is what the validator accepts for them.
    own_id = {"id": derived_id(sco_type, author.name, id_key)} if sco_type in EXTENSIONS else {}
    sco = _SCO_CLASSES[sco_type](**own_id, **props, object_marking_refs=[MARKING_IDS[sco_tlp]], allow_custom=True)
    at = _ts(ind.first_seen)
    hashed = "hmac_key_id" in props
    indicator = stix2.Indicator(
        id=derived_id("indicator", author.name, id_key), created=at, modified=at, valid_from=at,
        created_by_ref=author.identity_id,
        name=f"Fraud {_KIND_WORD[ind.kind]}" + (" (keyed hash)" if hashed else ""),
        description=f"A {_KIND_WORD[ind.kind]} named in {len(ind.incident_ids) or 1} fraud report(s) to "
                    f"{author.name}" + ("; shared as a keyed hash for pseudonymised matching" if hashed else ""),
        indicator_types=["malicious-activity"], pattern=pattern, pattern_type="stix", pattern_version="2.1",
        object_marking_refs=[MARKING_IDS[author.tlp("indicator")]], allow_custom=True,
    )
    return [Built(_dump(sco), local, sco_tlp), Built(_dump(indicator), local, author.tlp("indicator"))]


def build_incident(author: Author, inc: ShareIncident, indicator_ids: dict[tuple[str, str], str]) -> list[Built]:
    """The incident (Incident Core extension) and a ``related-to`` from each indicator it named that is shared."""
    at = _ts(inc.reported_at)
    tlp = author.tlp("incident")
    incident = stix2.Incident(
        id=derived_id("incident", author.name, inc.incident_id), created=at, modified=at,
        created_by_ref=author.identity_id, name=f"Fraud report {inc.incident_id} ({inc.scheme.replace('_', ' ')})",
        description=f"A {inc.scheme.replace('_', ' ')} fraud reported to {author.name}. Victims' details stay "
                    f"at the reporting exchange.",
        extensions={EXT_INCIDENT_CORE: {
            "extension_type": "property-extension", "determination": "confirmed", "investigation_status": "open",
            "incident_types": [_INCIDENT_TYPES.get(inc.scheme, "fraud")],
        }},
        object_marking_refs=[MARKING_IDS[tlp]], allow_custom=True,
    )
    out = [Built(_dump(incident), f"incident:{inc.incident_id}", tlp)]
    for kind_value in inc.indicators:
        ind_id = indicator_ids.get(kind_value)
        if ind_id is None:
            continue
        rel = stix2.Relationship(
            id=derived_id("relationship", author.name, f"{inc.incident_id}|{ind_id}"), created=at, modified=at,
            created_by_ref=author.identity_id, relationship_type="related-to", source_ref=ind_id,
            target_ref=incident.id, description="The indicator was named in this fraud report",
            object_marking_refs=[MARKING_IDS[tlp]],
        )
        out.append(Built(_dump(rel), f"incident:{inc.incident_id}", tlp))
    return out


def build_case(author: Author, case: ShareCase, refs: Sequence[str]) -> Built | None:
    """A case as a ``grouping`` of its incidents and their indicators (None if none of them is shared)."""
    if not refs:
        return None
    tlp = author.tlp("grouping")
    grouping = stix2.Grouping(
        id=derived_id("grouping", author.name, case.case_id), created=_ts(case.created_at),
        modified=_ts(max(case.updated_at, case.created_at)), created_by_ref=author.identity_id,
        name=case.title or f"Case {case.case_id}",
        description=f"{len(case.incident_ids)} fraud report(s) linked by shared identifiers and money flow "
                    f"({case.status})",
        context="suspicious-activity", object_refs=list(refs), object_marking_refs=[MARKING_IDS[tlp]],
    )
    return Built(_dump(grouping), f"case:{case.case_id}", tlp)


def build_sighting(author: Author, partner_indicator_id: str, *, local_ref: str, first_seen: datetime,
                   last_seen: datetime, count: int, partner: str) -> Built:
    """We hold an identifier a partner's indicator names: a sighting, shared back to that partner only."""
    tlp = Tlp.AMBER
    sighting = stix2.Sighting(
        id=derived_id("sighting", author.name, f"{partner}|{partner_indicator_id}"), created=_ts(first_seen),
        modified=_ts(last_seen), created_by_ref=author.identity_id, sighting_of_ref=partner_indicator_id,
        where_sighted_refs=[author.identity_id], first_seen=_ts(first_seen), last_seen=_ts(last_seen), count=count,
        description=f"{author.name} holds the identifier this indicator names (in {count} fraud report(s))",
        object_marking_refs=[MARKING_IDS[tlp]],
    )
    return Built(_dump(sighting), local_ref, tlp, frozenset({partner}))


def extension_definitions(sco_types: Iterable[str]) -> list[dict[str, Any]]:
    """The definitions of the extensions objects of ``sco_types`` use (ours: new SCO and SDO types)."""
    wanted = sorted({t for t in sco_types if t in EXTENSIONS})
    out: list[dict[str, Any]] = []
    for sco_type in wanted:
        ext_id, name, description = EXTENSIONS[sco_type]
        out.append(_dump(stix2.ExtensionDefinition(
            id=ext_id, created=_DEFINED, modified=_DEFINED, created_by_ref=PROJECT_IDENTITY, name=name,
            description=description, schema=f"{SCHEMA_BASE}{ext_id}.json", version="1.0.0",
            extension_types=["new-sdo" if sco_type in _NEW_SDO else "new-sco"],
            object_marking_refs=[MARKING_IDS[Tlp.CLEAR]],
        )))
    return out


def project_identity() -> dict[str, Any]:
    return _dump(stix2.Identity(
        id=PROJECT_IDENTITY, name="Zaslon project", identity_class="organization", created=_DEFINED,
        modified=_DEFINED, description="The open-source national anti-fraud exchange; defines its STIX extensions",
        object_marking_refs=[MARKING_IDS[Tlp.CLEAR]],
    ))


def incident_core_definition() -> dict[str, Any]:
    """The Incident Core extension's definition as shipped with our bundles (the schema we validate it by is
    ours: it checks only the properties we write)."""
    return _dump(stix2.ExtensionDefinition(
        id=EXT_INCIDENT_CORE, created=_DEFINED, modified=_DEFINED, created_by_ref=PROJECT_IDENTITY,
        name="Incident Core", description="Incident Core extension properties Zaslon writes on incidents",
        schema=f"{SCHEMA_BASE}{EXT_INCIDENT_CORE}.json", version="1.0.0", extension_types=["property-extension"],
        object_marking_refs=[MARKING_IDS[Tlp.CLEAR]],
    ))


def bundle(author: Author, objects: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A bundle of ``objects`` with everything they reference that a reader needs: our identity, the project
    identity, the extension definitions used and the TLP markings used."""
    types = {o["type"] for o in objects}
    support: list[dict[str, Any]] = [author.identity(), project_identity()]
    support += extension_definitions(types)
    if any(EXT_INCIDENT_CORE in (o.get("extensions") or {}) for o in objects):
        support.append(incident_core_definition())
    levels = {m for o in [*support, *objects] for m in o.get("object_marking_refs", ())}
    support += [marking_object(t) for t in Tlp if MARKING_IDS[t] in levels]
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for o in [*support, *objects]:
        if o["id"] not in seen:
            seen.add(o["id"])
            out.append(o)
    return {"type": "bundle", "id": derived_id("bundle", author.name, "|".join(sorted(seen))), "objects": out}


# ---------------------------------------------------------------------------------------------- freeze requests
EXT_FREEZE_REQUEST = "extension-definition--c2185a53-ddcd-4e28-9c76-2156393a0335"
EXT_FREEZE_RESPONSE = "extension-definition--c7621940-276d-4846-9c56-8aa755e0187c"
EXTENSIONS["freeze-request"] = (
    EXT_FREEZE_REQUEST, "freeze-request",
    "A request to freeze money abroad, carrying what a camt.056 recall carries; signed (Ed25519 JWS over JCS)")
EXTENSIONS["freeze-response"] = (
    EXT_FREEZE_RESPONSE, "freeze-response",
    "The requested exchange's answer to a freeze request: its status and amounts; signed like the request")
_NEW_SDO = frozenset({"freeze-request", "freeze-response"})


@dataclass(frozen=True, slots=True)
class FreezeAsk:
    """What a camt.056 carries: the original payment, its amount and currency, the account abroad and its
    bank, the legal basis and a deadline."""

    original_payment_id: str
    original_payment_date: datetime
    amount: int  # minor units
    currency: str
    creditor_account: str
    creditor_agent: str  # the BIC of the bank abroad holding the account
    legal_basis: str
    deadline: datetime
    case_ref: str | None = None


def build_freeze_request(author: Author, ask: FreezeAsk, *, partner: str, at: datetime) -> dict[str, Any]:
    """The request object (unsigned), AMBER+STRICT: it names a person's account and goes to ``partner`` only."""
    obj: dict[str, Any] = {
        "type": "freeze-request", "spec_version": "2.1",
        "id": derived_id("freeze-request", author.name, f"{partner}|{ask.original_payment_id}|{ask.creditor_account}"),
        "created": _ts(at), "modified": _ts(at), "created_by_ref": author.identity_id,
        "original_payment_id": ask.original_payment_id, "original_payment_date": _ts(ask.original_payment_date),
        "amount": ask.amount, "currency": ask.currency, "creditor_account": ask.creditor_account,
        "creditor_agent": ask.creditor_agent, "legal_basis": ask.legal_basis, "deadline": _ts(ask.deadline),
        "extensions": {EXT_FREEZE_REQUEST: {"extension_type": "new-sdo"}},
        "object_marking_refs": [MARKING_IDS[Tlp.AMBER_STRICT]],
    }
    if ask.case_ref:
        obj["case_ref"] = ask.case_ref
    return obj


def build_freeze_response(author: Author, request_id: str, *, status: str, at: datetime, orders: int = 0,
                          frozen_amount: int = 0, returned_amount: int = 0, currency: str | None = None,
                          reason: str | None = None) -> dict[str, Any]:
    """Our answer to a partner's request (unsigned); a new version (``modified``) each time it changes."""
    obj: dict[str, Any] = {
        "type": "freeze-response", "spec_version": "2.1",
        "id": derived_id("freeze-response", author.name, request_id), "created": _ts(at), "modified": _ts(at),
        "created_by_ref": author.identity_id, "request_ref": request_id, "status": status, "orders_issued": orders,
        "frozen_amount": frozen_amount, "returned_amount": returned_amount,
        "extensions": {EXT_FREEZE_RESPONSE: {"extension_type": "new-sdo"}},
        "object_marking_refs": [MARKING_IDS[Tlp.AMBER_STRICT]],
    }
    if currency:
        obj["currency"] = currency
    if reason:
        obj["reason"] = reason
    return obj
