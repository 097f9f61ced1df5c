"""SQL sharing store (``zaslon.flow.ports.sharing``) on the tables of ``tables_sharing`` (and reads of the
incidents, indicators and cases it shares)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.tables_cases import case_incidents, cases
from zaslon.adapters.db.tables_core import orgs
from zaslon.adapters.db.tables_incidents import incident_indicators, incidents, indicators
from zaslon.adapters.db.tables_sharing import (
    freeze_requests,
    partner_keys,
    partner_matches,
    partners,
    sharing_marks,
    taxii_objects,
    taxii_status,
)
from zaslon.errors import Conflict, InvalidInput, NotFound
from zaslon.flow.ports.sharing import KeyRow, MatchRow, ObjectRow, Page, PartnerRow, Shareable


class SqlSharingStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ partners and keys
    def add_partner(self, row: PartnerRow, key: KeyRow, now: datetime) -> None:
        with self.engine.begin() as conn:
            kind = conn.execute(select(orgs.c.kind).where(orgs.c.org_id == row.org_id)).scalar()
            if kind is None:
                raise InvalidInput(f"no organisation {row.org_id!r}", field="org_id")
            if kind != "partner":
                raise InvalidInput(f"{row.org_id!r} is a {kind}, not a partner", field="org_id")
            if conn.execute(select(partners.c.org_id).where(partners.c.org_id == row.org_id)).first():
                raise Conflict(f"{row.org_id!r} is a partner already", field="org_id")
            conn.execute(insert(partners).values(
                org_id=row.org_id, country=row.country, may_read=row.may_read, may_write=row.may_write,
                taxii_url=row.taxii_url, remote_read=row.remote_read, remote_write=row.remote_write,
                remote_token=row.remote_token, verify_key=row.verify_key, created_at=now,
            ))
            conn.execute(insert(partner_keys).values(key_id=key.key_id, org_id=key.org_id, secret_hex=key.secret_hex,
                                                     created_at=key.created_at))

    def _partner_rows(self, where: Any = None) -> list[PartnerRow]:
        q = select(partners, orgs.c.name).join(orgs, orgs.c.org_id == partners.c.org_id).order_by(partners.c.org_id)
        if where is not None:
            q = q.where(where)
        with self.engine.connect() as conn:
            return [PartnerRow(org_id=r.org_id, name=r.name, country=r.country, may_read=bool(r.may_read),
                               may_write=bool(r.may_write), taxii_url=r.taxii_url, remote_read=r.remote_read,
                               remote_write=r.remote_write, remote_token=r.remote_token,
                               pulled_until=r.pulled_until, pushed_row=int(r.pushed_row or 0),
                               last_sync_error=r.last_sync_error, verify_key=r.verify_key)
                    for r in conn.execute(q)]

    def partner(self, org_id: str) -> PartnerRow | None:
        rows = self._partner_rows(partners.c.org_id == org_id)
        return rows[0] if rows else None

    def partners(self) -> list[PartnerRow]:
        return self._partner_rows()

    @staticmethod
    def _key(r: Any) -> KeyRow:
        return KeyRow(key_id=r.key_id, org_id=r.org_id, secret_hex=r.secret_hex, created_at=r.created_at,
                      retired_at=r.retired_at)

    def keys(self, org_id: str) -> list[KeyRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(partner_keys).where(partner_keys.c.org_id == org_id)
                                .order_by(partner_keys.c.created_at.desc(), partner_keys.c.key_id))
            return [self._key(r) for r in rows]

    def key(self, key_id: str) -> KeyRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(partner_keys).where(partner_keys.c.key_id == key_id)).first()
        return None if r is None else self._key(r)

    def rotate_key(self, org_id: str, key: KeyRow, now: datetime) -> None:
        with self.engine.begin() as conn:
            if conn.execute(select(partners.c.org_id).where(partners.c.org_id == org_id)).first() is None:
                raise NotFound(f"no partner {org_id!r}", field="partner")
            if conn.execute(select(partner_keys.c.key_id).where(partner_keys.c.key_id == key.key_id)).first():
                raise Conflict(f"a pair key {key.key_id!r} exists already", field="key_id")
            conn.execute(update(partner_keys).where(partner_keys.c.org_id == org_id,
                                                    partner_keys.c.retired_at.is_(None)).values(retired_at=now))
            conn.execute(insert(partner_keys).values(key_id=key.key_id, org_id=org_id, secret_hex=key.secret_hex,
                                                     created_at=key.created_at))

    # ------------------------------------------------------------------ what we hold
    def shareable(self) -> Shareable:
        with self.engine.connect() as conn:
            links = conn.execute(
                select(incident_indicators.c.incident_id, indicators.c.kind, indicators.c.value)
                .join(indicators, indicators.c.indicator_id == incident_indicators.c.indicator_id)
            ).all()
            incs_of: dict[tuple[str, str], list[str]] = defaultdict(list)
            inds_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for r in links:
                incs_of[(r.kind, r.value)].append(r.incident_id)
                inds_of[r.incident_id].append((r.kind, r.value))
            inds = [(r.kind, r.value, r.display, r.first_seen_at, tuple(sorted(incs_of[(r.kind, r.value)])))
                    for r in conn.execute(select(indicators).order_by(indicators.c.indicator_id))]
            incs = [(r.incident_id, r.scheme, r.reported_at, tuple(sorted(inds_of[r.incident_id])))
                    for r in conn.execute(select(incidents.c.incident_id, incidents.c.scheme, incidents.c.reported_at)
                                          .order_by(incidents.c.reported_at, incidents.c.incident_id))]
            members: dict[str, list[str]] = defaultdict(list)
            for m in conn.execute(select(case_incidents.c.case_id, case_incidents.c.incident_id)):
                members[m.case_id].append(m.incident_id)
            case_rows = [(r.case_id, r.status, r.title, r.created_at, r.updated_at, tuple(sorted(members[r.case_id])))
                         for r in conn.execute(select(cases).where(cases.c.status != "merged")
                                               .order_by(cases.c.case_id))]
        return Shareable(inds, incs, case_rows)

    def local_values(self, kinds: Sequence[str]) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return [(r.kind, r.value) for r in
                    conn.execute(select(indicators.c.kind, indicators.c.value).where(indicators.c.kind.in_(kinds)))]

    def marks(self) -> dict[str, tuple[str, str]]:
        with self.engine.connect() as conn:
            return {r.local_ref: (r.tlp, r.named) for r in conn.execute(select(sharing_marks))}

    def set_mark(self, local_ref: str, tlp: str, named: str, by: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(update(sharing_marks).where(sharing_marks.c.local_ref == local_ref)
                                .values(tlp=tlp, named=named, set_by=by, set_at=now)).rowcount
            if not done:
                conn.execute(insert(sharing_marks).values(local_ref=local_ref, tlp=tlp, named=named, set_by=by,
                                                          set_at=now))

    # ------------------------------------------------------------------ TAXII objects
    def commit(self, *, objects: Sequence[ObjectRow], matches: Sequence[MatchRow], now: datetime,
               status: tuple[str, str, str] | None = None) -> list[bool]:
        for attempt in range(3):
            try:
                return self._commit(objects, matches, now, status)
            except IntegrityError:  # a concurrent import added some of the same versions first: read again
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _commit(self, objects: Sequence[ObjectRow], matches: Sequence[MatchRow], now: datetime,
                status: tuple[str, str, str] | None) -> list[bool]:
        added: list[bool] = []
        with self.engine.begin() as conn:
            by_coll: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for o in objects:
                by_coll[o.collection_id].append((o.stix_id, o.version))
            held: set[tuple[str, str, str]] = set()
            for coll, keys in by_coll.items():
                ids = sorted({k[0] for k in keys})
                for i in range(0, len(ids), 500):
                    rows = conn.execute(select(taxii_objects.c.stix_id, taxii_objects.c.version).where(
                        taxii_objects.c.collection_id == coll, taxii_objects.c.stix_id.in_(ids[i:i + 500])))
                    for r in rows:
                        held.add((coll, r.stix_id, r.version))
                        held.add((coll, r.stix_id, ""))  # an unversioned object (an SCO) is held once at all
            # ``date_added`` is when this server added the object, by its own clock, whatever time the caller
            # acts at (a bank's back-dated action, a replay in event time): TAXII clients page on it with
            # ``added_after``, so a row dated before the ones already served would never be pulled.
            added_at = datetime.now(UTC)
            stamp = added_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            fresh = []
            for o in objects:
                k = (o.collection_id, o.stix_id, o.version)
                new = k not in held
                added.append(new)
                if new:
                    held.add(k)
                    held.add((o.collection_id, o.stix_id, ""))
                    fresh.append({"collection_id": o.collection_id, "stix_id": o.stix_id,
                                  "version": o.version or stamp,
                                  "stix_type": o.stix_type, "spec_version": o.spec_version, "tlp": o.tlp,
                                  "named": o.named, "source_org": o.source_org, "local_ref": o.local_ref,
                                  "body": o.body, "date_added": added_at})
            if fresh:
                conn.execute(insert(taxii_objects), fresh)
            # The matches already recorded, read in chunks; the new ones inserted in one statement.
            known: set[tuple[str, str, str]] = set()
            by_org: dict[str, list[str]] = defaultdict(list)
            for m in matches:
                by_org[m.partner_org].append(m.partner_object)
            for org, objs in by_org.items():
                ids = sorted(set(objs))
                for i in range(0, len(ids), 500):
                    known.update((r.partner_org, r.partner_object, r.value) for r in conn.execute(
                        select(partner_matches.c.partner_org, partner_matches.c.partner_object,
                               partner_matches.c.value).where(partner_matches.c.partner_org == org,
                                                              partner_matches.c.partner_object.in_(ids[i:i + 500]))))
            new_matches = []
            for m in matches:
                if (m.partner_org, m.partner_object, m.value) not in known:
                    known.add((m.partner_org, m.partner_object, m.value))
                    new_matches.append({"partner_org": m.partner_org, "partner_object": m.partner_object,
                                        "kind": m.kind, "value": m.value, "key_id": m.key_id,
                                        "matched_at": m.matched_at})
            if new_matches:
                conn.execute(insert(partner_matches), new_matches)
            if status is not None:
                conn.execute(insert(taxii_status).values(status_id=status[0], org_id=status[1], body=status[2],
                                                         created_at=now))
        return added

    @staticmethod
    def _object(r: Any) -> ObjectRow:
        return ObjectRow(collection_id=r.collection_id, stix_id=r.stix_id, version=r.version, stix_type=r.stix_type,
                         body=r.body, tlp=r.tlp, named=r.named, source_org=r.source_org, local_ref=r.local_ref,
                         spec_version=r.spec_version, row_id=int(r.row_id), date_added=r.date_added)

    def page(self, collection_id: str, *, after_row: int = 0, added_after: datetime | None = None,
             ids: Sequence[str] = (), types: Sequence[str] = (), limit: int = 100) -> Page:
        q = select(taxii_objects).where(taxii_objects.c.collection_id == collection_id,
                                        taxii_objects.c.row_id > after_row)
        if added_after is not None:
            q = q.where(taxii_objects.c.date_added > added_after)
        if ids:
            q = q.where(taxii_objects.c.stix_id.in_(list(ids)))
        if types:
            q = q.where(taxii_objects.c.stix_type.in_(list(types)))
        with self.engine.connect() as conn:
            rows = [self._object(r) for r in conn.execute(q.order_by(taxii_objects.c.row_id).limit(limit + 1))]
        return Page(rows[:limit], len(rows) > limit)

    def versions_of(self, collection_id: str, stix_id: str) -> list[ObjectRow]:
        with self.engine.connect() as conn:
            return [self._object(r) for r in conn.execute(
                select(taxii_objects).where(taxii_objects.c.collection_id == collection_id,
                                            taxii_objects.c.stix_id == stix_id).order_by(taxii_objects.c.row_id))]

    def version_span(self, collection_id: str, stix_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        ids = sorted(set(stix_ids))
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = (select(taxii_objects.c.stix_id, func.min(taxii_objects.c.version).label("first"),
                            func.max(taxii_objects.c.version).label("last"))
                     .where(taxii_objects.c.collection_id == collection_id,
                            taxii_objects.c.stix_id.in_(ids[i:i + 500]))
                     .group_by(taxii_objects.c.stix_id))
                out.update({r.stix_id: (r.first, r.last) for r in conn.execute(q)})
        return out

    def status(self, status_id: str) -> tuple[str, str] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(taxii_status).where(taxii_status.c.status_id == status_id)).first()
        return None if r is None else (r.org_id, r.body)

    # ------------------------------------------------------------------ matches
    @staticmethod
    def _match(r: Any) -> MatchRow:
        return MatchRow(partner_org=r.partner_org, partner_object=r.partner_object, kind=r.kind, value=r.value,
                        key_id=r.key_id, matched_at=r.matched_at, match_id=int(r.match_id),
                        disclosed_at=r.disclosed_at, disclosed_by=r.disclosed_by,
                        disclosure_reason=r.disclosure_reason)

    def matches(self, partner_org: str | None = None) -> list[MatchRow]:
        q = select(partner_matches).order_by(partner_matches.c.match_id)
        if partner_org is not None:
            q = q.where(partner_matches.c.partner_org == partner_org)
        with self.engine.connect() as conn:
            return [self._match(r) for r in conn.execute(q)]

    def disclose(self, match_id: int, by: str, reason: str, now: datetime) -> MatchRow:
        with self.engine.begin() as conn:
            r = conn.execute(select(partner_matches).where(partner_matches.c.match_id == match_id)).first()
            if r is None:
                raise NotFound(f"no match {match_id}", field="match_id")
            done = conn.execute(update(partner_matches).where(
                and_(partner_matches.c.match_id == match_id, partner_matches.c.disclosed_at.is_(None)))
                .values(disclosed_at=now, disclosed_by=by, disclosure_reason=reason)).rowcount
            if not done:
                raise Conflict(f"match {match_id} was disclosed already at {r.disclosed_at}", field="match_id")
            r = conn.execute(select(partner_matches).where(partner_matches.c.match_id == match_id)).first()
        return self._match(r)

    def set_verify_key(self, org_id: str, public_hex: str) -> None:
        with self.engine.begin() as conn:
            if not conn.execute(update(partners).where(partners.c.org_id == org_id)
                                .values(verify_key=public_hex)).rowcount:
                raise NotFound(f"no partner {org_id!r}", field="partner")

    def bank_exists(self, bic: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(orgs.c.org_id).where(orgs.c.bank_id == bic, orgs.c.kind == "bank")).first() \
                is not None

    def add_freeze_request(self, row: dict[str, Any]) -> bool:
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(freeze_requests.c.request_id)
                                .where(freeze_requests.c.request_id == row["request_id"])).first():
                    return False
                conn.execute(insert(freeze_requests).values(**row))
        except IntegrityError:  # the same request recorded by a concurrent import (two pushes of it at once)
            return False
        return True

    def freeze_request(self, request_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(freeze_requests).where(freeze_requests.c.request_id == request_id)).first()
        return None if r is None else dict(r._mapping)

    def update_freeze_request(self, request_id: str, values: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(freeze_requests).where(freeze_requests.c.request_id == request_id).values(**values))

    def freeze_requests(self, direction: str | None = None) -> list[dict[str, Any]]:
        q = select(freeze_requests).order_by(freeze_requests.c.created_at, freeze_requests.c.request_id)
        if direction is not None:
            q = q.where(freeze_requests.c.direction == direction)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def set_sync(self, org_id: str, *, pulled_until: datetime | None = None, pushed_row: int | None = None,
                 error: str | None = None) -> None:
        values: dict[str, Any] = {"last_sync_error": error}
        if pulled_until is not None:
            values["pulled_until"] = pulled_until
        if pushed_row is not None:
            values["pushed_row"] = pushed_row
        with self.engine.begin() as conn:
            conn.execute(update(partners).where(or_(partners.c.org_id == org_id)).values(**values))
