"""Every decision the exchange returned, kept for audit: outcome, score, reasons, and the versions used.

A shadow rule set's verdict on the same transfer is stored beside the real one (it never decides), so an
analyst can compare before activating it. ``body_hash`` makes scoring idempotent: the same transfer sent
again gets the stored decision back; a different body under a known id is a conflict.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.types import UtcDateTime

decisions = Table(
    "decisions",
    metadata,
    Column("decision_id", Integer, primary_key=True, autoincrement=True),
    Column("transfer_id", String(64), nullable=False),
    Column("org_id", String(64), ForeignKey("orgs.org_id"), nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("transfer_ts", UtcDateTime(), nullable=False),
    Column("decided_at", UtcDateTime(), nullable=False),
    Column("outcome", String(8), nullable=False),  # allow / review / hold / block
    Column("score", Float, nullable=False),
    Column("hold_until", UtcDateTime(), nullable=True),
    Column("reasons", Text, nullable=False),  # JSON list of {code, detail, weight}
    Column("ruleset_version", String(64), nullable=True),
    Column("model_version", String(64), nullable=True),
    Column("shadow_version", String(64), nullable=True),
    Column("shadow_outcome", String(8), nullable=True),
    Column("shadow_hits", Text, nullable=True),  # JSON list of rule ids
    Column("source", String(16), nullable=False),  # json / batch / pacs008
    Column("message_id", String(64), nullable=True),  # pacs.008 MsgId
    # The order in which the engine folded the transfer into its feature state (zaslon.flow.feature_snapshot):
    # a restart replays the transfers after the last snapshot in this order. Null for rows from before it.
    Column("feature_seq", BigInteger, nullable=True),
    # One decision per transfer, and transfer ids are per submitting organisation.
    UniqueConstraint("transfer_id", "org_id", name="uq_decisions_transfer_id_org"),
)
Index("ix_decisions_decided_at", decisions.c.decided_at)
Index("ix_decisions_org_decided", decisions.c.org_id, decisions.c.decided_at)
Index("ix_decisions_feature_seq", decisions.c.feature_seq)
