"""Cross-border sharing: partner exchanges, their pair keys, the TAXII objects, statuses, matches and marks.

``taxii_objects`` holds every version of every object in every collection: our outbox per partner (objects
built for that partner, already marked and pseudonymised for it) and the inbox partners write to. Its
``row_id`` orders rows as they were added, which is what TAXII paging (``added_after``, ``next``) walks.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

partners = Table(
    "partners",
    metadata,
    Column("org_id", String(64), ForeignKey("orgs.org_id"), primary_key=True),  # an org of kind partner
    Column("country", String(2), nullable=False),
    Column("may_read", Boolean, nullable=False),  # may read its outbox collection here
    Column("may_write", Boolean, nullable=False),  # may add objects to our inbox
    Column("taxii_url", Text, nullable=True),  # the partner's own TAXII API root, for sync
    Column("remote_read", String(64), nullable=True),  # its collection we pull from
    Column("remote_write", String(64), nullable=True),  # its collection we push to
    Column("remote_token", Text, nullable=True),  # the credential its server issued to us
    Column("verify_key", String(64), nullable=True),  # its Ed25519 public key (hex): signed freeze requests
    Column("created_at", UtcDateTime(), nullable=False),
    Column("pulled_until", UtcDateTime(), nullable=True),  # added_after for the next pull
    Column("pushed_row", BigInteger, nullable=False, server_default="0"),  # last outbox row pushed
    Column("last_sync_error", Text, nullable=True),
)

partner_keys = Table(
    "partner_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("orgs.org_id"), nullable=False, index=True),
    # The HMAC key both exchanges hold (exchanged out of band). It must be usable, so it is kept, like a
    # TLS private key, in the database the exchange already protects; never logged, never sent.
    Column("secret_hex", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("retired_at", UtcDateTime(), nullable=True),  # still matches incoming hashes, no longer sent
)

taxii_objects = Table(
    "taxii_objects",
    metadata,
    Column("row_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("collection_id", String(64), nullable=False),
    Column("stix_id", String(128), nullable=False),
    Column("version", String(32), nullable=False),  # modified, else created, else date_added
    Column("stix_type", String(64), nullable=False),
    Column("spec_version", String(8), nullable=False, server_default="2.1"),
    Column("tlp", String(16), nullable=True),
    Column("named", Text, nullable=False, server_default=""),  # partners an AMBER object may go to
    Column("source_org", String(64), nullable=True),  # the partner who sent it; NULL: ours
    Column("local_ref", String(200), nullable=True),
    Column("body", Text, nullable=False),
    Column("date_added", UtcDateTime(), nullable=False),
    UniqueConstraint("collection_id", "stix_id", "version", name="uq_taxii_objects_coll_id_version"),
)
Index("ix_taxii_objects_coll_row", taxii_objects.c.collection_id, taxii_objects.c.row_id)
Index("ix_taxii_objects_coll_stix", taxii_objects.c.collection_id, taxii_objects.c.stix_id)

taxii_status = Table(
    "taxii_status",
    metadata,
    Column("status_id", String(64), primary_key=True),
    Column("org_id", String(64), nullable=False, index=True),  # only its sender may read it
    Column("body", Text, nullable=False),  # the TAXII status resource, JSON
    Column("created_at", UtcDateTime(), nullable=False),
)

partner_matches = Table(
    "partner_matches",
    metadata,
    Column("match_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("partner_org", String(64), nullable=False, index=True),
    Column("partner_object", String(128), nullable=False),  # the partner's indicator id
    Column("kind", String(16), nullable=False),
    Column("value", String(512), nullable=False),  # our own value it matched (never sent unless disclosed)
    Column("key_id", String(64), nullable=True),  # the pair key of a hashed match; NULL: a clear one
    Column("matched_at", UtcDateTime(), nullable=False),
    Column("disclosed_at", UtcDateTime(), nullable=True),
    Column("disclosed_by", String(64), nullable=True),
    Column("disclosure_reason", Text, nullable=True),
    UniqueConstraint("partner_org", "partner_object", "value", name="uq_partner_matches_partner_object_value"),
)

sharing_marks = Table(
    "sharing_marks",
    metadata,
    Column("local_ref", String(200), primary_key=True),  # incident:<id>, case:<id>, indicator:<kind>:<value>
    Column("tlp", String(16), nullable=False),
    Column("named", Text, nullable=False, server_default=""),
    Column("set_by", String(64), nullable=False),
    Column("set_at", UtcDateTime(), nullable=False),
)

# Freeze requests across borders, both ways: ours to a partner ("out") and a partner's to us ("in"), with the
# status the requested side reports (received, orders_issued, frozen, refused, returned).
freeze_requests = Table(
    "freeze_requests",
    metadata,
    Column("request_id", String(128), primary_key=True),  # the freeze-request object's STIX id
    Column("direction", String(3), nullable=False),  # out / in
    Column("partner_org", String(64), nullable=False, index=True),
    Column("body", Text, nullable=False),  # the signed request, JSON
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("orders_issued", Integer, nullable=False, server_default="0"),
    Column("frozen_amount", BigInteger, nullable=False, server_default="0"),
    Column("returned_amount", BigInteger, nullable=False, server_default="0"),
    Column("reason", Text, nullable=True),
    Column("requested_by", String(64), nullable=True),  # who asked (ours), recorded
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

SHARING_TABLES = (partners, partner_keys, taxii_objects, taxii_status, partner_matches, sharing_marks,
                  freeze_requests)
