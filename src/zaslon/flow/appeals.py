"""Appeals: an account holder says it was listed wrongly; a police analyst upholds (delists) or rejects.

A delisting removes the account's flags from Knowledge at once, so scoring stops holding its transfers on
the next request. The trail (the appeal, the decision, who took it and when, the flags removed) stays in
the ``appeals`` table.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, insert, select, update

from zaslon.adapters.db.tables_incidents import appeals, indicators
from zaslon.core.access import sees_everything
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.errors import Conflict, Forbidden, InvalidInput, NotFound
from zaslon.flow.orgs import Principal


class AppealStatus(StrEnum):
    PENDING = "pending"
    UPHELD = "upheld"
    REJECTED = "rejected"


class Verdict(StrEnum):
    UPHOLD = "uphold"
    REJECT = "reject"


def _is_listed(engine: Engine, knowledge: Knowledge, account_id: str) -> bool:
    if knowledge.flags(account_id) != AccountFlag.NONE:
        return True
    with engine.connect() as conn:
        return conn.execute(select(indicators.c.indicator_id).where(
            indicators.c.kind.in_(("account", "wallet")), indicators.c.value == account_id)).first() is not None


def file_appeal(
    engine: Engine, knowledge: Knowledge, principal: Principal, *, account_id: str, reason: str, contact: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    if not _is_listed(engine, knowledge, account_id):
        raise InvalidInput(f"account {account_id!r} is not listed: there is nothing to appeal", field="account_id")
    appeal_id = f"apl-{uuid.uuid4().hex[:20]}"
    with engine.begin() as conn:
        pending = conn.execute(select(appeals.c.appeal_id).where(
            appeals.c.account_id == account_id, appeals.c.status == AppealStatus.PENDING.value)).first()
        if pending is not None:
            raise Conflict(f"account {account_id!r} already has a pending appeal {pending.appeal_id!r}",
                           field="account_id")
        conn.execute(insert(appeals).values(
            appeal_id=appeal_id, account_id=account_id, reason=reason, contact=contact,
            filed_by=principal.org_id, filed_at=now, flags_at_filing=int(knowledge.flags(account_id)),
            status=AppealStatus.PENDING.value,
        ))
    return get_appeal(engine, principal, appeal_id)


def decide_appeal(
    engine: Engine, knowledge: Knowledge, principal: Principal, appeal_id: str, *, verdict: Verdict, note: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Uphold (delist at once) or reject. Deciding twice is a conflict; an unknown appeal is not found."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        row = conn.execute(select(appeals.c.account_id, appeals.c.status).where(
            appeals.c.appeal_id == appeal_id)).first()
        if row is None:
            raise NotFound(f"no appeal {appeal_id!r}", field="appeal_id")
        if row.status != AppealStatus.PENDING.value:
            raise Conflict(f"appeal {appeal_id!r} was already decided ({row.status})", field="appeal_id")
        previous = knowledge.flags(row.account_id)
        status = AppealStatus.UPHELD if verdict is Verdict.UPHOLD else AppealStatus.REJECTED
        # The status condition makes a concurrent second decision update nothing instead of overwriting.
        done = conn.execute(update(appeals).where(
            appeals.c.appeal_id == appeal_id, appeals.c.status == AppealStatus.PENDING.value
        ).values(status=status.value, decided_by=principal.org_id, decided_at=now, decision_note=note,
                 previous_flags=int(previous) if status is AppealStatus.UPHELD else None))
        if done.rowcount != 1:
            raise Conflict(f"appeal {appeal_id!r} was already decided", field="appeal_id")
    if status is AppealStatus.UPHELD:
        knowledge.unflag(row.account_id)
    return get_appeal(engine, principal, appeal_id)


def get_appeal(engine: Engine, principal: Principal, appeal_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(appeals).where(appeals.c.appeal_id == appeal_id)).mappings().first()
    if row is None:
        raise NotFound(f"no appeal {appeal_id!r}", field="appeal_id")
    if row["filed_by"] != principal.org_id and not sees_everything(principal.kind):
        raise Forbidden("this appeal was filed by another organisation")
    out = dict(row)
    for key in ("filed_at", "decided_at"):
        if out[key] is not None:
            out[key] = out[key].isoformat()
    for key in ("flags_at_filing", "previous_flags"):
        if out[key] is not None:
            out[key] = [(f.name or "").lower() for f in AccountFlag if f and f in AccountFlag(out[key])]
    return out
