"""Appeals: an account holder says it was listed wrongly; a police analyst upholds (delists) or rejects.

A delisting removes the account's flags from Knowledge at once, so scoring stops holding its transfers on
the next request. The trail (the appeal, the decision, who took it and when, the flags removed) stays in
the ``appeals`` table.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from zaslon.adapters.db.stores.incidents import SqlAppealStore
from zaslon.core.access import sees_everything
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.errors import InvalidInput, NotFound
from zaslon.flow.orgs import Principal
from zaslon.flow.ports.incidents import AppealStatus

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from zaslon.flow.ports.incidents import AppealStore

__all__ = ["AppealStatus", "Verdict", "decide_appeal", "file_appeal", "get_appeal"]


class Verdict(StrEnum):
    UPHOLD = "uphold"
    REJECT = "reject"


def _is_listed(store: AppealStore, knowledge: Knowledge, account_id: str) -> bool:
    return knowledge.flags(account_id) != AccountFlag.NONE or store.names_listed_indicator(account_id)


def file_appeal(
    engine: Engine, knowledge: Knowledge, principal: Principal, *, account_id: str, reason: str, contact: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    store: AppealStore = SqlAppealStore(engine)
    if not _is_listed(store, knowledge, account_id):
        raise InvalidInput(f"account {account_id!r} is not listed: there is nothing to appeal", field="account_id")
    appeal_id = f"apl-{uuid.uuid4().hex[:20]}"
    store.add_appeal(appeal_id=appeal_id, account_id=account_id, reason=reason, contact=contact,
                     filed_by=principal.org_id, filed_at=now, flags_at_filing=int(knowledge.flags(account_id)))
    return get_appeal(engine, principal, appeal_id)


def decide_appeal(
    engine: Engine, knowledge: Knowledge, principal: Principal, appeal_id: str, *, verdict: Verdict, note: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Uphold (delist at once) or reject. Deciding twice is a conflict; an unknown appeal is not found."""
    now = now or datetime.now(UTC)
    status = AppealStatus.UPHELD if verdict is Verdict.UPHOLD else AppealStatus.REJECTED
    store: AppealStore = SqlAppealStore(engine)
    account_id = store.decide_appeal(appeal_id, status=status, decided_by=principal.org_id, decided_at=now,
                                     note=note, flags_of=lambda account: int(knowledge.flags(account)))
    if status is AppealStatus.UPHELD:
        knowledge.unflag(account_id)
    return get_appeal(engine, principal, appeal_id)


def get_appeal(engine: Engine, principal: Principal, appeal_id: str) -> dict[str, Any]:
    store: AppealStore = SqlAppealStore(engine)
    out = store.appeal(appeal_id)
    if out is None:
        raise NotFound(f"no appeal {appeal_id!r}", field="appeal_id")
    if out["filed_by"] != principal.org_id and not sees_everything(principal.kind):
        # Another organisation's appeal answers as a missing one: its existence is not revealed.
        raise NotFound(f"no appeal {appeal_id!r}", field="appeal_id")
    for key in ("filed_at", "decided_at"):
        if out[key] is not None:
            out[key] = out[key].isoformat()
    for key in ("flags_at_filing", "previous_flags"):
        if out[key] is not None:
            out[key] = [(f.name or "").lower() for f in AccountFlag if f and f in AccountFlag(out[key])]
    return out
