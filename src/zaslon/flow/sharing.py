"""Sharing with partner countries' exchanges: what goes out (built, marked, pseudonymised, validated), what
comes in (validated, stored idempotently, matched), partners and their pair keys, disclosure on a match.

    our incidents, indicators, cases ──► build (stix) ──► TLP egress rule ──► outbox collection per partner
    partner's envelope ──► validate (stix2-validator, strict) ──► inbox ──► match (keyed hashes) ──► sighting back

The TAXII server (``zaslon.adapters.taxii``) and the CLI call this service and nothing else implements these
steps. Collections: one *outbox* per partner (what that partner may read: objects built for it, already
filtered by their marking and pseudonymised with that pair's key) and one *inbox* all partners write to.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import stix2

from zaslon.adapters.db.stores.sharing import SqlSharingStore
from zaslon.adapters.stix import content as stix
from zaslon.adapters.stix import signing
from zaslon.adapters.stix.tlp import LEVEL_OF_MARKING, Tlp, may_leave, parse_tlp
from zaslon.adapters.stix.validate import problems
from zaslon.core.access import OrgKind
from zaslon.core.pseudonym import KEY_BYTES, PairKey, keyed_hash, parse_secret
from zaslon.core.types import split_transfer_key
from zaslon.errors import Forbidden, InvalidInput, NotFound
from zaslon.flow.orgs import Principal
from zaslon.flow.ports.sharing import KeyRow, MatchRow, ObjectRow, PartnerRow, SharingStore
from zaslon.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

SIGNED_TYPES = frozenset({"freeze-request", "freeze-response"})
_BIC_RE = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
TLP_ORDER = [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED]
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# The two pattern shapes we write (and so can match): a keyed hash of a sensitive identifier, a clear value.
_HASHED = re.compile(r"^\[(bank-account|phone-number|payment-card):(value_hmac|number_hmac) = '([0-9a-f]{64})'"
                     r" AND \1:hmac_key_id = '([A-Za-z0-9_.-]{1,64})'\]$")
_CLEAR = re.compile(r"^\[(bank-account|phone-number|cryptocurrency-wallet|url|domain-name|email-addr|ipv4-addr"
                    r"|ipv6-addr):(value|iban|account_number) = '((?:[^'\\]|\\.)*)'\]$")
_KIND_OF_SCO = {"bank-account": "account", "phone-number": "phone", "payment-card": "card",
                "cryptocurrency-wallet": "wallet", "url": "url", "domain-name": "domain", "email-addr": "email",
                "ipv4-addr": "ip", "ipv6-addr": "ip"}


@dataclass(frozen=True, slots=True)
class NewPartner:
    partner: PartnerRow
    key_id: str
    secret_hex: str  # shown once: give it to the partner out of band (or it gave it to us)


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    title: str
    description: str
    can_read: bool
    can_write: bool


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def version_of(obj: Mapping[str, Any], date_added: datetime) -> str:
    """TAXII's version of an object: its ``modified``, else its ``created``, else when it was added."""
    v = obj.get("modified") or obj.get("created")
    # One fixed format (microseconds, Z), so versions compare as text in the store. An object with neither
    # (an SCO) is unversioned (""): the store keeps its first copy and dates it when it was added.
    return _taxii_ts(stix2.utils.parse_into_datetime(v)) if v else ""


class Sharing:
    def __init__(self, db: Engine, settings: Settings | None = None, store: SharingStore | None = None) -> None:
        self.db = db
        self.settings = settings or Settings()
        self.store: SharingStore = store or SqlSharingStore(db)
        tlp_of = {k: parse_tlp(v, f"stix_tlp_defaults.{k}") for k, v in self.settings.stix_tlp_defaults.items()}
        self.author = stix.Author(self.settings.exchange_name, self.settings.country, tlp_of)
        self._built: dict[tuple[Any, ...], list[stix.Built]] = {}
        self._rematched_values = -1  # how many identifiers we held at the last ``rematch``
        # The Exchange's hook for orders a partner's request issued here: they protect the account and reach the
        # bank's webhook exactly as the orders of our own reports do.
        self.on_new_orders: Callable[[Sequence[Any], datetime], None] | None = None
        # (partner, outbox row) of signed objects ``push_urgent`` already sent ahead of the bulk sync's cursor.
        self._pushed_early: set[tuple[str, int]] = set()
        self._early_lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the validator's schemas and pattern grammar now, not on a partner's first request (~1 s)."""
        at = datetime(2026, 1, 1, tzinfo=UTC)
        built = stix.build_indicator(self.author, stix.ShareIndicator("url", "https://warm.example/", at), None)
        ask = stix.FreezeAsk("warm-up", at, 1, "BYN", "BY00WARM0000", "WARMBY2X", "warm-up", at)
        request = self._sign(stix.build_freeze_request(self.author, ask, partner="-", at=at))
        problems(stix.bundle(self.author, [*(b.obj for b in built), request])["objects"])
        signing.verify(request, self.signing_public_key())

    # ------------------------------------------------------------------ collections
    def _uuid(self, key: str) -> str:
        return stix.derived_id("collection", self.author.name, key).split("--", 1)[1]

    @property
    def inbox_id(self) -> str:
        return self._uuid("inbox")

    def outbox_id(self, partner: str) -> str:
        return self._uuid(f"outbox|{partner}")

    def partner_of(self, principal: Principal) -> PartnerRow:
        """The registered partner behind a key; ``Forbidden`` for any other organisation."""
        if principal.kind != OrgKind.PARTNER:
            raise Forbidden("only partner exchanges use the TAXII API")
        row = self.store.partner(principal.org_id)
        if row is None:
            raise Forbidden(f"{principal.org_id!r} is not registered as a partner (zaslon partners add)")
        return row

    def collections(self, principal: Principal) -> list[Collection]:
        p = self.partner_of(principal)
        return [
            Collection(self.outbox_id(p.org_id), f"{self.author.name} for {p.name}",
                       "Indicators, incidents, cases and sightings this exchange shares with you", p.may_read, False),
            Collection(self.inbox_id, f"{self.author.name} inbox",
                       "Add your indicators, incidents and sightings here", False, p.may_write),
        ]

    def collection(self, principal: Principal, collection_id: str) -> Collection:
        """One of the partner's collections; another partner's outbox is as unknown as a made-up id (404)."""
        for c in self.collections(principal):
            if c.id == collection_id:
                return c
        raise NotFound(f"no collection {collection_id!r}", field="collection_id")

    # ------------------------------------------------------------------ partners and pair keys
    def add_partner(self, org_id: str, *, country: str, may_read: bool = True, may_write: bool = True,
                    taxii_url: str | None = None, remote_read: str | None = None, remote_write: str | None = None,
                    remote_token: str | None = None, key_id: str | None = None, secret_hex: str | None = None,
                    verify_key: str | None = None, now: datetime | None = None) -> NewPartner:
        """Register an organisation of kind partner for exchange, with its first pair key (ours, drawn now, or
        the one the partner sent us)."""
        country = self.check_new_partner(country, key_id, secret_hex, verify_key)
        at = _now(now)
        key = self._new_key(org_id, key_id, secret_hex, at)
        row = PartnerRow(org_id=org_id, name=org_id, country=country, may_read=may_read, may_write=may_write,
                         taxii_url=taxii_url, remote_read=remote_read, remote_write=remote_write,
                         remote_token=remote_token, pulled_until=None, pushed_row=0, last_sync_error=None)
        self.store.add_partner(row, key, at)
        if verify_key is not None:
            self.set_verify_key(org_id, verify_key)
        return NewPartner(self.store.partner(org_id) or row, key.key_id, key.secret_hex)

    def check_new_partner(self, country: str, key_id: str | None = None, secret_hex: str | None = None,
                          verify_key: str | None = None) -> str:
        """What ``add_partner`` checks before it writes anything (so a caller can check before making the org)."""
        country = country.strip().upper()
        if not _COUNTRY_RE.match(country):
            raise InvalidInput(f"{country!r} is not an ISO 3166 alpha-2 country code", field="country")
        self._new_key("-", key_id, secret_hex, datetime.now(UTC))
        if verify_key is not None:
            try:
                ok = len(bytes.fromhex(verify_key.strip())) == 32
            except ValueError:
                ok = False
            if not ok:
                raise InvalidInput("a public key is 32 bytes in hex", field="verify_key")
        return country

    def rotate_key(self, org_id: str, *, key_id: str | None = None, secret_hex: str | None = None,
                   now: datetime | None = None) -> tuple[str, str]:
        """A new pair key; the old ones are retired: no longer used for what we send, still matched on what
        arrives (a partner's objects hashed before the rotation keep matching)."""
        at = _now(now)
        key = self._new_key(org_id, key_id, secret_hex, at)
        self.store.rotate_key(org_id, key, at)
        return key.key_id, key.secret_hex

    @staticmethod
    def _new_key(org_id: str, key_id: str | None, secret_hex: str | None, at: datetime) -> KeyRow:
        if key_id is not None and not _KEY_ID_RE.match(key_id):
            raise InvalidInput("a key id is 1-64 letters, digits, '.', '_' or '-'", field="key_id")
        if secret_hex is None:
            secret = secrets.token_bytes(KEY_BYTES)
        else:
            try:
                secret = parse_secret(secret_hex)
            except ValueError as exc:  # not hex, or too short
                raise InvalidInput(f"pair key: {exc}", field="secret") from None
        kid = key_id or f"k{at:%Y%m%d}-{secrets.token_hex(4)}"
        return KeyRow(key_id=kid, org_id=org_id, secret_hex=secret.hex(), created_at=at, retired_at=None)

    def current_key(self, org_id: str) -> PairKey | None:
        for k in self.store.keys(org_id):
            if k.retired_at is None:
                return PairKey(k.key_id, bytes.fromhex(k.secret_hex))
        return None

    def partners(self) -> list[PartnerRow]:
        return self.store.partners()

    def mark(self, local_ref: str, tlp: str, partners: Sequence[str] = (), *, by: str,
             now: datetime | None = None) -> None:
        """Mark one of our objects (``incident:<id>``, ``case:<id>``, ``indicator:<kind>:<value>``): its TLP and,
        for AMBER, the partners it may go to."""
        level = parse_tlp(tlp)
        if not re.match(r"^(incident|case|indicator):.+", local_ref):
            raise InvalidInput("a mark names incident:<id>, case:<id> or indicator:<kind>:<value>", field="ref")
        known = {p.org_id for p in self.store.partners()}
        unknown = [p for p in partners if p not in known]
        if unknown:
            raise InvalidInput(f"not partners: {unknown}", field="partner")
        self.store.set_mark(local_ref, level.value, " ".join(sorted(set(partners))), by, _now(now))

    # ------------------------------------------------------------------ what goes out
    def build(self, partner: str | None, *, max_tlp: Tlp = Tlp.AMBER_STRICT) -> list[stix.Built]:
        """Every object that may go to ``partner`` (None: an export for no one in particular), marked and, for a
        partner, with sensitive identifiers as keyed hashes under the pair's current key. Objects their marking
        keeps from the partner are left out here and refused again before anything is sent."""
        key = self.current_key(partner) if partner else None
        if partner and key is None:
            raise InvalidInput(f"partner {partner!r} has no current pair key", field="partner")
        marks = self.store.marks()
        data = self.store.shareable()
        ceiling = TLP_ORDER.index(max_tlp)

        def allowed(b: stix.Built) -> bool:
            if b.local_ref in marks:
                tlp, named = marks[b.local_ref]
                b.tlp, b.named = Tlp(tlp), frozenset(named.split())
                b.obj["object_marking_refs"] = [stix.MARKING_IDS[b.tlp]]
            return TLP_ORDER.index(b.tlp) <= ceiling and may_leave(b.tlp, partner, b.named)

        out: list[stix.Built] = []
        ids: dict[tuple[str, str], str] = {}
        for kind, value, display, first, incs in data.indicators:
            built = [b for b in self._indicator(stix.ShareIndicator(kind, value, first, display, incs), key)
                     if allowed(b)]
            if len(built) == 2:  # the observable and its indicator go together or not at all
                out += built
                ids[(kind, value)] = built[1].obj["id"]
        incident_ids: dict[str, str] = {}
        for inc_id, scheme, reported_at, inds in data.incidents:
            built = stix.build_incident(self.author, stix.ShareIncident(inc_id, scheme, reported_at, inds), ids)
            kept = [b for b in built if allowed(b)]
            if kept and kept[0].obj["type"] == "incident":
                out += kept
                incident_ids[inc_id] = kept[0].obj["id"]
        # What this partner holds too (its indicators matched ours, or it sighted ours): a case built on one of
        # those identifiers goes to it, AMBER and named to it alone, unless an analyst marked the case otherwise.
        # It learns that one case here joins the identifiers it already holds, so both sides can link theirs.
        held_there = {(m.kind, m.value) for m in self.store.matches(partner)} if partner else set()
        kvs_of = {i_id: kvs for i_id, _, _, kvs in data.incidents}
        for case_id, status, title, created, updated, incs in data.cases:
            refs = [incident_ids[i] for i in incs if i in incident_ids]
            case_kvs = {kv for i in incs for kv in kvs_of.get(i, ())}
            refs += sorted({ids[kv] for kv in case_kvs if kv in ids})
            case = stix.build_case(self.author, stix.ShareCase(case_id, status, created, updated, incs, title), refs)
            if case is None:
                continue
            if partner and case.local_ref not in marks and case_kvs & held_there and case.tlp in (
                    Tlp.AMBER, Tlp.AMBER_STRICT):
                case.named = case.named | {partner}
            if allowed(case):
                out.append(case)
        return out

    def case_links(self, partner: str | None = None) -> list[dict[str, Any]]:
        """Our cases linked with partners' cases: a partner's case (a grouping it shared with us) joins
        identifiers that we hold too (its indicators that matched ours, by keyed hash or clear value), and our
        incidents holding them are in these cases of ours. One partner case may join several of ours (the
        desk can merge them); nothing is merged here. Newest version of each partner case; no simulator or
        partner-side knowledge beyond what it sent."""
        data = self.store.shareable()
        case_of = {i: case_id for case_id, _, _, _, _, incs in data.cases for i in incs}
        incs_of = {(kind, value): incs for kind, value, _, _, incs in data.indicators}
        by_org = {p.org_id: p for p in self.store.partners()}
        held: dict[str, dict[str, set[tuple[str, str]]]] = {}  # partner -> its object id -> our (kind, value)
        for m in self.store.matches(partner):
            held.setdefault(m.partner_org, {}).setdefault(m.partner_object, set()).add((m.kind, m.value))
        newest: dict[str, tuple[str, dict[str, Any], str]] = {}  # grouping id -> (version, body, partner)
        after = 0
        while True:
            page = self.store.page(self.inbox_id, after_row=after, types=["grouping"], limit=1000)
            for r in page.rows:
                if r.source_org is None or (partner is not None and r.source_org != partner):
                    continue
                if r.stix_id not in newest or r.version > newest[r.stix_id][0]:
                    newest[r.stix_id] = (r.version, json.loads(r.body), r.source_org)
            if not page.rows or not page.more:
                break
            after = page.rows[-1].row_id
        out: list[dict[str, Any]] = []
        for gid, (_, body, org) in sorted(newest.items()):
            mine = held.get(org, {})
            shared = sorted({kv for ref in body.get("object_refs", ()) for kv in mine.get(ref, ())})
            ours = sorted({case_of[i] for kv in shared for i in incs_of.get(kv, ()) if i in case_of})
            if not ours:
                continue
            p = by_org.get(org)
            out.append({"partner": org, "partner_country": p.country if p else None, "partner_case": gid,
                        "partner_case_name": body.get("name"), "our_cases": ours,
                        "shared": [{"kind": k, "value": v} for k, v in shared]})
        return out

    def _indicator(self, ind: stix.ShareIndicator, key: PairKey | None) -> list[stix.Built]:
        """``build_indicator``, remembered: building with stix2 costs milliseconds an object (it parses each
        pattern), and every publish rebuilds every indicator. A copy each time: marks change what is returned."""
        cache_key = (ind.kind, ind.value, ind.display, ind.first_seen, key.key_id if key else None,
                     self.author.tlp("indicator"))
        built = self._built.get(cache_key)
        if built is None:
            if len(self._built) > 200_000:
                self._built.clear()
            built = stix.build_indicator(self.author, ind, key)
            self._built[cache_key] = built
        return [stix.Built(copy.deepcopy(b.obj), b.local_ref, b.tlp, b.named) for b in built]

    def export_bundle(self, partner: str | None = None, *, max_tlp: Tlp = Tlp.AMBER_STRICT) -> dict[str, Any]:
        """The bundle that would be shared with ``partner``, validated (strict) before it is returned."""
        if partner is not None and self.store.partner(partner) is None:
            raise InvalidInput(f"no partner {partner!r}", field="partner")
        built = self.build(partner, max_tlp=max_tlp)
        self.check_egress([(b.obj["id"], b.tlp, b.named) for b in built], partner)
        bundle = stix.bundle(self.author, [b.obj for b in built])
        found = problems(bundle["objects"])
        if found:  # ours is wrong, not the caller's input: fail loudly rather than send it
            raise RuntimeError(f"the outgoing bundle does not validate: {found[:5]}")
        return bundle

    @staticmethod
    def check_egress(objects: Sequence[tuple[str, Tlp, frozenset[str]]], partner: str | None) -> None:
        """The last gate before anything leaves: ``Forbidden`` (and nothing is sent) if any object is RED, or
        AMBER for someone else."""
        from zaslon.adapters.stix.tlp import check_may_leave

        for object_id, level, named in objects:
            check_may_leave(object_id, level, partner, named)

    def publish(self, *, now: datetime | None = None) -> dict[str, int]:
        """Refresh every readable partner's outbox: objects new or newer than what it holds are added (same id
        and version: nothing). Returns per partner how many object versions were added."""
        at = _now(now)
        self.refresh_freeze_answers(now=at)
        self.rematch(now=at)  # before the cases are built: a new match may name a case to its partner
        added: dict[str, int] = {}
        for p in self.store.partners():
            if not p.may_read or self.current_key(p.org_id) is None:
                continue
            built = self.build(p.org_id)
            self.check_egress([(b.obj["id"], b.tlp, b.named) for b in built], p.org_id)
            support = [o for o in stix.bundle(self.author, [b.obj for b in built])["objects"]
                       if o["type"] in ("identity", "extension-definition", "marking-definition")]
            rows = [self._row(self.outbox_id(p.org_id), o, Tlp.CLEAR, frozenset(), None, at) for o in support]
            rows += [self._row(self.outbox_id(p.org_id), b.obj, b.tlp, b.named, b.local_ref, at) for b in built]
            added[p.org_id] = sum(self.store.commit(objects=rows, matches=[], now=at))
        return added

    def rematch(self, *, now: datetime | None = None) -> int:
        """The partners' indicators already in our inbox that matched nothing, matched again against what we
        hold now: an identifier a partner shared before our own report named it matches when the report comes
        (and a sighting goes back), as one that arrives after the report does. Only when we hold identifiers we
        did not hold at the last look. Returns how many matches were new."""
        at = _now(now)
        held = len(self.store.local_values(sorted(set(_KIND_OF_SCO.values()))))
        if held == self._rematched_values:
            return 0
        partners = {p.org_id: p for p in self.store.partners()}
        matched = {(m.partner_org, m.partner_object) for m in self.store.matches()}
        waiting: dict[str, dict[str, dict[str, Any]]] = {}  # partner -> indicator id -> its newest version
        after = 0
        while True:
            page = self.store.page(self.inbox_id, after_row=after, types=["indicator"], limit=1000)
            for r in page.rows:
                if r.source_org in partners and (r.source_org, r.stix_id) not in matched:
                    waiting.setdefault(r.source_org, {})[r.stix_id] = json.loads(r.body)
            if not page.rows or not page.more:
                break
            after = page.rows[-1].row_id
        new = 0
        for org, objects in sorted(waiting.items()):
            matches, sightings = self._match(partners[org], list(objects.values()), at)
            if matches:
                self.store.commit(objects=sightings, matches=matches, now=at)
                new += len(matches)
        self._rematched_values = held
        return new

    @staticmethod
    def _row(collection_id: str, obj: dict[str, Any], tlp: Tlp | None, named: frozenset[str], local_ref: str | None,
             at: datetime, source: str | None = None, version: str | None = None) -> ObjectRow:
        return ObjectRow(collection_id=collection_id, stix_id=obj["id"],
                         version=version_of(obj, at) if version is None else version,
                         stix_type=obj["type"], body=json.dumps(obj, sort_keys=True, separators=(",", ":")),
                         tlp=tlp.value if tlp else None, named=" ".join(sorted(named)), source_org=source,
                         local_ref=local_ref, spec_version=str(obj.get("spec_version", "2.1")))

    # ------------------------------------------------------------------ what comes in
    def import_envelope(self, principal: Principal, collection_id: str, envelope: Any, *,
                        now: datetime | None = None) -> dict[str, Any]:
        """A partner adds objects to our inbox: all validated first (422 with the validator's messages and
        nothing stored if any fails), then stored (the same id and version again: a no-op; a newer version
        is added beside the older ones and supersedes them), matched against what we hold, and a status
        resource recorded, all in one transaction. Returns the status resource."""
        partner = self.partner_of(principal)
        coll = self.collection(principal, collection_id)
        if not coll.can_write:
            raise Forbidden(f"collection {collection_id!r} is not writable for {partner.org_id!r}")
        objects = envelope.get("objects") if isinstance(envelope, dict) else None
        if not isinstance(objects, list) or not objects:
            raise InvalidInput("a TAXII envelope with a non-empty 'objects' list is required", field="objects")
        if len(objects) > self.settings.taxii_max_objects:
            raise InvalidInput(f"at most {self.settings.taxii_max_objects} objects per request", field="objects")
        return self._ingest(partner, objects, _now(now))

    def _ingest(self, partner: PartnerRow, objects: Sequence[dict[str, Any]], at: datetime) -> dict[str, Any]:
        found = problems(objects)
        if found:
            raise InvalidInput("; ".join(found[:5]), field="objects")
        try:
            for obj in objects:
                stix2.parse(obj, allow_custom=True)
        except Exception as exc:  # stix2 raises its own exception classes for each kind of fault
            raise InvalidInput(f"stix2: {exc}", field="objects") from None
        signed = [o for o in objects if o.get("type") in SIGNED_TYPES]
        for obj in signed:  # a forged or copied signature: 401, and nothing of the envelope is stored
            signing.verify(obj, partner.verify_key)
        matches, sightings = self._match(partner, objects, at)
        versions = [version_of(o, at) for o in objects]
        rows = [self._row(self.inbox_id, o, self._tlp_of(o), frozenset(), None, at, partner.org_id, v)
                for o, v in zip(objects, versions, strict=True)]
        rows += sightings
        status_id = str(uuid.uuid4())
        status = {
            "id": status_id, "status": "complete", "request_timestamp": _taxii_ts(at),
            "total_count": len(objects), "success_count": len(objects), "failure_count": 0, "pending_count": 0,
            "successes": [{"id": o["id"], "version": v or _taxii_ts(at)}
                          for o, v in zip(objects, versions, strict=True)],
            "failures": [], "pendings": [],
        }
        self.store.commit(objects=rows, matches=matches, now=at,
                          status=(status_id, partner.org_id, json.dumps(status)))
        for obj in signed:  # after the commit; each step is idempotent, so a repeat (or a retry) changes nothing
            if obj["type"] == "freeze-request":
                self._received_freeze_request(partner, obj, at)
            else:
                self._received_freeze_response(partner, obj, at)
        return status

    # ------------------------------------------------------------------ freeze requests across borders
    def signing_public_key(self) -> str:
        return signing.public_key(self.settings.signing_key.get_secret_value())

    def set_verify_key(self, org_id: str, public_hex: str) -> None:
        """Register the partner's Ed25519 public key (hex), which its freeze requests and answers must verify by."""
        try:
            raw = bytes.fromhex(public_hex.strip())
        except ValueError:
            raise InvalidInput("a public key is 32 bytes in hex", field="verify_key") from None
        if len(raw) != 32:
            raise InvalidInput("a public key is 32 bytes in hex", field="verify_key")
        self.store.set_verify_key(org_id, raw.hex())

    def _sign(self, obj: dict[str, Any]) -> dict[str, Any]:
        return signing.sign(obj, self.settings.signing_key.get_secret_value(), self.settings.signing_key_id)

    def request_freeze(self, partner: str, ask: stix.FreezeAsk, *, by: str, now: datetime | None = None) -> str:
        """Ask a partner's exchange to freeze money in an account at one of its banks: a signed freeze-request
        in its outbox (AMBER+STRICT, named to it), recorded here as sent. The same payment and account again:
        the same request, nothing new. Returns the request's id."""
        at = _now(now)
        if self.store.partner(partner) is None:
            raise InvalidInput(f"no partner {partner!r}", field="partner")
        if ask.amount <= 0:
            raise InvalidInput("amount must be positive (minor units)", field="amount")
        if not re.match(r"^[A-Z]{3}$", ask.currency):
            raise InvalidInput(f"{ask.currency!r} is not an ISO 4217 currency", field="currency")
        if not _BIC_RE.match(ask.creditor_agent):
            raise InvalidInput(f"{ask.creditor_agent!r} is not a BIC", field="creditor_agent")
        if not re.match(r"^[0-9A-Za-z]{5,34}$", ask.creditor_account):
            raise InvalidInput("creditor_account is 5-34 letters and digits", field="creditor_account")
        if len(ask.legal_basis.strip()) < 3:
            raise InvalidInput("a freeze request states its legal basis", field="legal_basis")
        if ask.deadline <= at:
            raise InvalidInput("the deadline has passed", field="deadline")
        if not by.strip():
            raise InvalidInput("a freeze request names who asked", field="by")
        obj = self._sign(stix.build_freeze_request(self.author, ask, partner=partner, at=at))
        found = problems([obj])
        if found:
            raise RuntimeError(f"our freeze request does not validate: {found[:3]}")
        self.check_egress([(obj["id"], Tlp.AMBER_STRICT, frozenset({partner}))], partner)
        created = self.store.add_freeze_request({
            "request_id": obj["id"], "direction": "out", "partner_org": partner, "body": json.dumps(obj),
            "amount": ask.amount, "currency": ask.currency, "status": "sent", "requested_by": by.strip(),
            "created_at": at, "updated_at": at})
        if created:
            self.store.commit(objects=[self._row(self.outbox_id(partner), obj, Tlp.AMBER_STRICT,
                                                 frozenset({partner}), f"freeze:{obj['id']}", at)], matches=[], now=at)
        return str(obj["id"])

    def freeze_abroad(self, incident_id: str, exits: Sequence[Any], *, now: datetime | None = None) -> list[str]:
        """A trace's money that left for an account in a partner's country (an ``abroad`` exit with the account
        and its bank): a freeze request to that partner for each. Exits to countries we have no partner in, or
        without an account or bank, ask nothing. Returns the requests' ids (one already sent: the same id)."""
        at = _now(now)
        by_country = {p.country: p.org_id for p in self.store.partners()}
        asked: list[str] = []
        for e in exits:
            partner = by_country.get(str(e.country or "").upper())
            if str(e.kind) != "abroad" or partner is None or not (e.to_account and e.bank_id and e.transfer_id):
                continue
            paid = datetime.fromtimestamp(e.ts_us / 1e6, UTC) if e.ts_us else at
            # The partner's bank knows the payment by the submitting bank's own id, not the exchange's key.
            tid = str(e.transfer_id)
            own_id = split_transfer_key(tid)[1] if "/" in tid else tid
            ask = stix.FreezeAsk(
                own_id, paid, int(e.amount), self.settings.freeze_abroad_currency, str(e.to_account),
                str(e.bank_id), f"{self.settings.freeze_abroad_legal_basis} (incident {incident_id})",
                at + timedelta(hours=self.settings.freeze_abroad_hours), case_ref=incident_id)
            try:
                asked.append(self.request_freeze(partner, ask, by=self.author.name, now=at))
            except InvalidInput:
                continue  # an account or bank code the request cannot carry: the desk sees the exit in the trace
        return asked

    @staticmethod
    def _incident_ref(request_id: str) -> str:
        """The local incident id a partner's request's freeze orders hang on."""
        return "xb-" + request_id.split("--", 1)[1]

    def _received_freeze_request(self, partner: PartnerRow, obj: dict[str, Any], at: datetime) -> None:
        """A partner's verified request: freeze orders at our bank that holds the account, and an answer back."""
        if self.store.freeze_request(obj["id"]) is not None:
            return  # a replay: the same request, already turned into orders
        from zaslon.core.orders import order_id_for
        from zaslon.core.types import FreezeOrder
        from zaslon.flow.freeze import FreezeStore

        bic, account = str(obj["creditor_agent"]), str(obj["creditor_account"])
        status, reason, orders = "orders_issued", None, 0
        if not self.store.bank_exists(bic):
            status, reason = "refused", f"no bank with BIC {bic} is connected to {self.author.name}"
        else:
            incident = self._incident_ref(obj["id"])
            order = FreezeOrder(
                order_id=order_id_for(incident, bic, account), incident_id=incident, bank_id=bic, account_id=account,
                amount=int(obj["amount"]), currency=str(obj["currency"]),
                legal_reference=f"{obj['legal_basis']} (request {obj['id']} from {partner.name})",
                issued_at=at, deadline=stix2.utils.parse_into_datetime(obj["deadline"]))
            fresh, _ = FreezeStore(self.db).store.add_new(incident, [order], now=at)
            orders = 1
            if fresh and self.on_new_orders is not None:
                self.on_new_orders(fresh, at)
        recorded = self.store.add_freeze_request({
            "request_id": obj["id"], "direction": "in", "partner_org": partner.org_id, "body": json.dumps(obj),
            "amount": int(obj["amount"]), "currency": str(obj["currency"]), "status": status,
            "orders_issued": orders, "reason": reason, "created_at": at, "updated_at": at})
        if not recorded:
            return  # a concurrent import of the same request recorded it (and answers it)
        self._answer(partner.org_id, obj["id"], status=status, orders=orders, currency=str(obj["currency"]),
                     reason=reason, at=at)

    def _answer(self, partner: str, request_id: str, *, status: str, at: datetime, orders: int = 0,
                frozen: int = 0, returned: int = 0, currency: str | None = None, reason: str | None = None) -> None:
        obj = stix.build_freeze_response(self.author, request_id, status=status, at=at, orders=orders,
                                         frozen_amount=frozen, returned_amount=returned, currency=currency,
                                         reason=reason)
        # A new version of the same answer: the same ``created``, and a ``modified`` after the one it supersedes
        # even when ``at`` is behind it (another node's clock, a bank's back-dated action), or the requesting
        # side takes it for an older answer arriving late and keeps showing the old status.
        prior = [json.loads(r.body) for r in self.store.versions_of(self.outbox_id(partner), obj["id"])]
        if prior:
            last = max(prior, key=lambda o: stix2.utils.parse_into_datetime(o["modified"]))
            obj["created"] = min(prior, key=lambda o: stix2.utils.parse_into_datetime(o["created"]))["created"]
            after = stix2.utils.parse_into_datetime(last["modified"]) + timedelta(milliseconds=1)
            if stix2.utils.parse_into_datetime(obj["modified"]) < after:
                obj["modified"] = stix2.utils.format_datetime(stix2.utils.STIXdatetime(after, precision="millisecond"))
        obj = self._sign(obj)
        self.store.commit(objects=[self._row(self.outbox_id(partner), obj, Tlp.AMBER_STRICT, frozenset({partner}),
                                             f"freeze:{request_id}", at)], matches=[], now=at)

    def _received_freeze_response(self, partner: PartnerRow, obj: dict[str, Any], at: datetime) -> None:
        """The requested exchange's answer: what our order board shows for the request (the newest wins)."""
        ours = self.store.freeze_request(str(obj.get("request_ref", "")))
        if ours is None or ours["direction"] != "out" or ours["partner_org"] != partner.org_id:
            return  # not a request of ours to this partner: nothing to update
        answered = stix2.utils.parse_into_datetime(obj["modified"])
        if ours["updated_at"] > answered and ours["status"] != "sent":
            return  # an older answer arriving late
        self.store.update_freeze_request(ours["request_id"], {
            "status": obj["status"], "orders_issued": int(obj.get("orders_issued", 0)),
            "frozen_amount": int(obj.get("frozen_amount", 0)), "returned_amount": int(obj.get("returned_amount", 0)),
            "reason": obj.get("reason"), "updated_at": answered})

    def refresh_freeze_answers(self, *, now: datetime | None = None) -> int:
        """Answer again every partner's request whose orders moved (frozen, returned) since our last answer."""
        from zaslon.flow.freeze import FreezeStore

        at = _now(now)
        store = FreezeStore(self.db).store
        changed = 0
        for req in self.store.freeze_requests("in"):
            if req["status"] == "refused":
                continue
            orders = store.of_incidents([self._incident_ref(req["request_id"])])
            frozen = sum(o.frozen_amount for o in orders)
            returned = sum(o.returned_amount for o in orders)
            status = "returned" if returned else ("frozen" if frozen else req["status"])
            if (status, frozen, returned) == (req["status"], req["frozen_amount"], req["returned_amount"]):
                continue
            self.store.update_freeze_request(req["request_id"], {"status": status, "frozen_amount": frozen,
                                                                 "returned_amount": returned, "updated_at": at})
            self._answer(req["partner_org"], req["request_id"], status=status, orders=len(orders), frozen=frozen,
                         returned=returned, currency=req["currency"], at=at)
            changed += 1
        return changed

    def freeze_requests(self, direction: str | None = None) -> list[dict[str, Any]]:
        """Freeze requests, ours ("out") and partners' ("in"), with the status the requested side reported."""
        out = []
        for r in self.store.freeze_requests(direction):
            body = json.loads(r.pop("body"))
            r.update({k: body.get(k) for k in ("original_payment_id", "creditor_account", "creditor_agent",
                                                "legal_basis", "deadline", "case_ref")})
            out.append(r)
        return out

    # ------------------------------------------------------------------ sync with partners' servers
    def sync(self, partner: str | None = None, *, now: datetime | None = None, timeout_s: float = 10.0,
             attempts: int = 3, backoff_s: float = 0.5, publish: bool = True) -> dict[str, dict[str, Any]]:
        """Publish (unless ``publish`` is false: what is already in the outboxes goes, e.g. a new freeze
        request), then for each partner with a TAXII server: pull its collection for us into our inbox (all
        through the same validation and matching as a push to us), push our outbox for it to its inbox.
        Partners are synced side by side, each with timeouts and retries: one that is down delays no other."""
        from concurrent.futures import ThreadPoolExecutor

        at = _now(now)
        if publish:
            self.publish(now=at)
        chosen = [p for p in self.store.partners() if p.taxii_url and (partner is None or p.org_id == partner)]
        if partner is not None and not chosen:
            raise InvalidInput(f"no partner {partner!r} with a TAXII server to sync with", field="partner")
        results: dict[str, dict[str, Any]] = {}
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(chosen)))) as pool:
            futures = {p.org_id: pool.submit(self._sync_one, p, at, timeout_s, attempts, backoff_s) for p in chosen}
            for org_id, fut in futures.items():
                try:
                    results[org_id] = fut.result()
                    self.store.set_sync(org_id, error=None)
                except Exception as exc:  # recorded per partner; the others go on
                    results[org_id] = {"error": f"{type(exc).__name__}: {exc}"}
                    self.store.set_sync(org_id, error=results[org_id]["error"])
        return results

    def _sync_one(self, p: PartnerRow, at: datetime, timeout_s: float, attempts: int,
                  backoff_s: float) -> dict[str, Any]:
        from zaslon.adapters.taxii import sync as client

        pulled = pushed = 0
        assert p.taxii_url is not None
        if p.remote_read:
            # The partner's clock dates what it added; ours cannot read its date_added from the objects, so we
            # ask from a little before our previous pull (clock skew) and rely on import being idempotent.
            since = None if p.pulled_until is None else _taxii_ts(p.pulled_until - timedelta(minutes=5))
            for got in client.pull(p.taxii_url, p.remote_read, p.remote_token, added_after=since,
                                   timeout_s=timeout_s, attempts=attempts, backoff_s=backoff_s):
                if got:
                    self._ingest(p, got, _now(None))
                    pulled += len(got)
            self.store.set_sync(p.org_id, pulled_until=at)
        if p.remote_write:
            after = p.pushed_row
            while True:
                page = self.store.page(self.outbox_id(p.org_id), after_row=after, limit=1000)
                if not page.rows:
                    break
                with self._early_lock:  # what push_urgent delivered already does not go twice
                    rows = [r for r in page.rows if (p.org_id, r.row_id) not in self._pushed_early]
                if rows:
                    self._push_rows(p, rows, timeout_s, attempts, backoff_s)
                pushed += len(rows)
                after = page.rows[-1].row_id
                self.store.set_sync(p.org_id, pushed_row=after)
                if not page.more:
                    break
        return {"pulled": pulled, "pushed": pushed}

    def _push_rows(self, p: PartnerRow, rows: Sequence[ObjectRow], timeout_s: float, attempts: int,
                   backoff_s: float) -> None:
        from zaslon.adapters.taxii import sync as client

        assert p.taxii_url is not None and p.remote_write is not None
        self.check_egress([(r.stix_id, Tlp(r.tlp), frozenset(r.named.split())) for r in rows if r.tlp], p.org_id)
        client.push(p.taxii_url, p.remote_write, p.remote_token, [json.loads(r.body) for r in rows],
                    timeout_s=timeout_s, attempts=attempts, backoff_s=backoff_s)

    def push_urgent(self, *, timeout_s: float = 10.0, attempts: int = 3,
                    backoff_s: float = 0.5) -> dict[str, dict[str, Any]]:
        """Push the signed freeze requests and answers that wait in each partner's outbox, and nothing else:
        ahead of the bulk sync (``sync``), which may be busy with thousands of indicators. The bulk sync's
        cursor is left where it is, so it pushes them again in their turn (a no-op at the partner: the same id
        and version, and a request it holds already). Partners side by side, as in ``sync``; each object is
        pushed early once (retried on the next call if its push failed)."""
        from concurrent.futures import ThreadPoolExecutor

        chosen = [p for p in self.store.partners() if p.taxii_url and p.remote_write]
        results: dict[str, dict[str, Any]] = {}
        if not chosen:
            return results

        def one(p: PartnerRow) -> dict[str, Any]:
            page = self.store.page(self.outbox_id(p.org_id), after_row=p.pushed_row, types=sorted(SIGNED_TYPES),
                                   limit=1000)
            with self._early_lock:
                self._pushed_early = {k for k in self._pushed_early if k[0] != p.org_id or k[1] > p.pushed_row}
                rows = [r for r in page.rows if (p.org_id, r.row_id) not in self._pushed_early]
            if rows:
                self._push_rows(p, rows, timeout_s, attempts, backoff_s)
                with self._early_lock:
                    self._pushed_early.update((p.org_id, r.row_id) for r in rows)
            return {"pushed": len(rows)}

        if len(chosen) == 1:  # in the caller's thread, whose kept-alive connection to the partner is reused
            try:
                results[chosen[0].org_id] = one(chosen[0])
            except Exception as exc:  # its bulk round records and retries it
                results[chosen[0].org_id] = {"error": f"{type(exc).__name__}: {exc}"}
            return results
        with ThreadPoolExecutor(max_workers=min(8, len(chosen))) as pool:
            futures = {p.org_id: pool.submit(one, p) for p in chosen}
            for org_id, fut in futures.items():
                try:
                    results[org_id] = fut.result()
                except Exception as exc:  # this partner's bulk round records and retries it; the others go on
                    results[org_id] = {"error": f"{type(exc).__name__}: {exc}"}
        return results

    @staticmethod
    def _tlp_of(obj: Mapping[str, Any]) -> Tlp | None:
        levels = [LEVEL_OF_MARKING[m] for m in obj.get("object_marking_refs", ()) if m in LEVEL_OF_MARKING]
        return max(levels, key=TLP_ORDER.index) if levels else None

    def _match(self, partner: PartnerRow, objects: Sequence[Mapping[str, Any]],
               at: datetime) -> tuple[list[MatchRow], list[ObjectRow]]:
        """Matches of the partner's indicators with what we hold (by keyed hash or clear value) and of its
        sightings with our indicators; a sighting of each matched indicator goes back to the partner."""
        digests: dict[tuple[str, str], dict[str, str]] = {}  # (key id, kind) -> digest -> our value
        keys: dict[str, KeyRow | None] = {}  # one look-up per key id, not one per indicator
        clear: dict[str, set[str]] | None = None
        matches: list[MatchRow] = []
        for obj in objects:
            if obj.get("type") == "sighting":
                matches += self._sighting_match(partner, obj, at)
                continue
            if obj.get("type") != "indicator" or obj.get("pattern_type") != "stix":
                continue
            pattern = str(obj.get("pattern", ""))
            hashed = _HASHED.match(pattern)
            if hashed:
                kind, digest, key_id = _KIND_OF_SCO[hashed.group(1)], hashed.group(3), hashed.group(4)
                if key_id not in keys:
                    keys[key_id] = self.store.key(key_id)
                key = keys[key_id]
                if key is None or key.org_id != partner.org_id:
                    continue  # hashed under a key we do not share with this partner: nothing can match
                table = digests.get((key_id, kind))
                if table is None:
                    pk = PairKey(key_id, bytes.fromhex(key.secret_hex))
                    table = {keyed_hash(pk, k, v): v for k, v in self.store.local_values([kind])}
                    digests[(key_id, kind)] = table
                if digest in table:
                    matches.append(MatchRow(partner.org_id, obj["id"], kind, table[digest], key_id, at))
                continue
            plain = _CLEAR.match(pattern)
            if plain:
                if clear is None:
                    clear = {}
                    for k, v in self.store.local_values(sorted(set(_KIND_OF_SCO.values()))):
                        clear.setdefault(k, set()).add(v)
                kind = _KIND_OF_SCO[plain.group(1)]
                value = plain.group(3).replace("\\'", "'").replace("\\\\", "\\")
                if value in clear.get(kind, ()):
                    matches.append(MatchRow(partner.org_id, obj["id"], kind, value, None, at))
        sightings: list[ObjectRow] = []
        if partner.may_read:
            for m in matches:
                if m.partner_object.startswith("indicator--"):
                    s = stix.build_sighting(self.author, m.partner_object, local_ref=f"indicator:{m.kind}:{m.value}",
                                            first_seen=at, last_seen=at, count=1, partner=partner.org_id)
                    sightings.append(self._row(self.outbox_id(partner.org_id), s.obj, s.tlp, s.named, s.local_ref, at))
        return matches, sightings

    def _sighting_match(self, partner: PartnerRow, obj: Mapping[str, Any], at: datetime) -> list[MatchRow]:
        """A partner sighted one of the indicators we gave it: record which of our identifiers it holds."""
        ref = str(obj.get("sighting_of_ref", ""))
        for row in self.store.versions_of(self.outbox_id(partner.org_id), ref)[-1:]:
            if row.local_ref and row.local_ref.startswith("indicator:"):
                _, kind, value = row.local_ref.split(":", 2)
                return [MatchRow(partner.org_id, str(obj["id"]), kind, value, None, at)]
        return []

    # ------------------------------------------------------------------ TAXII reads
    def read_page(self, principal: Principal, collection_id: str, *, after_row: int = 0,
                  added_after: datetime | None = None, ids: Sequence[str] = (), types: Sequence[str] = (),
                  version: str = "last", limit: int = 100) -> tuple[list[ObjectRow], bool, int]:
        """A page of the collection in the order objects were added: (rows, more, the row to page on from).
        ``version``: last (default), first, all, or one version's timestamp."""
        partner = self.partner_of(principal)
        coll = self.collection(principal, collection_id)
        if not coll.can_read:
            raise Forbidden(f"collection {collection_id!r} is not readable for {partner.org_id!r}")
        wanted = None
        if version not in ("last", "first", "all"):
            try:
                wanted = _taxii_ts(stix2.utils.parse_into_datetime(version))
            except Exception:
                raise InvalidInput(f"match[version] is last, first, all or a timestamp, not {version!r}",
                                   field="match[version]") from None
        page = self.store.page(collection_id, after_row=after_row, added_after=added_after, ids=ids, types=types,
                               limit=limit)
        rows = page.rows
        if version in ("last", "first"):
            span = self.store.version_span(collection_id, [r.stix_id for r in rows])
            pick = 1 if version == "last" else 0
            rows = [r for r in rows if r.version == span[r.stix_id][pick]]
        elif wanted is not None:
            rows = [r for r in rows if r.version == wanted]
        # The outbox was filtered when it was built; the rule is checked again on the way out all the same.
        self.check_egress([(r.stix_id, Tlp(r.tlp), frozenset(r.named.split())) for r in rows
                           if r.tlp and r.source_org is None], partner.org_id)
        return rows, page.more, page.rows[-1].row_id if page.rows else after_row

    def versions(self, principal: Principal, collection_id: str, stix_id: str) -> list[ObjectRow]:
        rows, _, _ = self.read_page(principal, collection_id, ids=[stix_id], version="all", limit=10_000)
        return rows

    def status(self, principal: Principal, status_id: str) -> dict[str, Any]:
        partner = self.partner_of(principal)
        found = self.store.status(status_id)
        if found is None or found[0] != partner.org_id:
            raise NotFound(f"no status {status_id!r}", field="status_id")
        body: dict[str, Any] = json.loads(found[1])
        return body

    # ------------------------------------------------------------------ matches and disclosure
    def matches(self, partner: str | None = None) -> list[MatchRow]:
        return self.store.matches(partner)

    def disclose(self, match_id: int, *, by: str, reason: str, now: datetime | None = None) -> dict[str, Any]:
        """Disclose the clear value behind a match to its partner: an explicit step, recorded with who and why,
        and the value published to that partner only (TLP:AMBER+STRICT, named)."""
        if not reason.strip():
            raise InvalidInput("a disclosure states its reason", field="reason")
        if not by.strip():
            raise InvalidInput("a disclosure names who made it", field="by")
        at = _now(now)
        match = self.store.disclose(match_id, by.strip(), reason.strip(), at)
        if match.kind == "card":
            return {"match_id": match_id, "published": None, "note": "a card is never disclosed: we hold no number"}
        ind = stix.ShareIndicator(match.kind, match.value, at)
        built = stix.build_indicator(self.author, ind, None)
        named = frozenset({match.partner_org})
        for b in built:
            b.tlp, b.named = Tlp.AMBER_STRICT, named
            b.obj["object_marking_refs"] = [stix.MARKING_IDS[Tlp.AMBER_STRICT]]
        self.check_egress([(b.obj["id"], b.tlp, b.named) for b in built], match.partner_org)
        rows = [self._row(self.outbox_id(match.partner_org), b.obj, b.tlp, b.named, b.local_ref, at) for b in built]
        self.store.commit(objects=rows, matches=[], now=at)
        return {"match_id": match_id, "published": built[-1].obj["id"] if built else None}


def _taxii_ts(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
