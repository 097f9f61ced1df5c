"""Suspected-drop signals: rank the store's accounts with ``core.mules`` and publish the top to banks.

Seeds are what the exchange already knows: accounts flagged REPORTED or TRACED in Knowledge and the payees
of disputed transfers that are not established accounts (``core.corroborate``). The top ``top_k`` non-seed
accounts above ``min_score`` are written to ``suspected_drops`` (a bank reads only rows at its own BIC) and
flagged SUSPECTED_DROP in Knowledge, which scoring reads on every transfer. Each run replaces the previous
list: a signal that no longer holds goes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from zaslon.adapters.db.stores.cases import SqlCaseStore
from zaslon.core.corroborate import is_established
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.core.mules import MuleParams, MuleRanking, TransferArrays, rank_mules
from zaslon.core.types import CASH_SINK
from zaslon.flow.ports.cases import CaseStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

# The product's drop-ranking parameters (seconds): the fixed noisy-OR of the world's signals. The learned
# ranking (``MuleParams.learn_min_seeds``, gradient boosting on the known drops) stays off here: measured on the
# simulated world (``zaslon eval linking``, small seed 1) it ranked drops worse, AP 0.860 against the fixed
# weights' 0.881 (BENCHMARKS.md); ``lab.mule_eval`` measures these parameters on AMLSim with it on, changing
# otherwise only the time unit and the no-report fallback (docs/linking.md).
DROP_PARAMS = MuleParams()


@dataclass(frozen=True)
class DropRanking:
    ids: list[str]
    bank: dict[str, str | None]
    ranking: MuleRanking
    seeds: list[int]  # what the exchange already knows: reported, traced, disputed payees

    def scores(self) -> dict[str, float]:
        return {a: float(self.ranking.scores[i]) for i, a in enumerate(self.ids)}


def rank_accounts(engine: Engine, knowledge: Knowledge, *, now: datetime | None = None,
                  params: MuleParams | None = None,
                  opened_at: Mapping[str, datetime] | None = None) -> DropRanking:
    """Rank every account of the store's transfers before ``now``; ``opened_at`` is what banks registered of
    their accounts' opening dates (a young account receiving and passing on money is a drop's mark)."""
    now = now or datetime.now(UTC)
    store: CaseStore = SqlCaseStore(engine)
    rows = store.moves_before(now)
    disputed = store.disputed_payees()
    index: dict[str, int] = {}
    bank: dict[str, str | None] = {}
    for r in rows:
        for acct, b in ((r.payer, r.payer_bank), (r.payee, r.payee_bank)):
            if acct != CASH_SINK:
                if acct not in index:
                    index[acct] = len(index)
                bank[acct] = bank.get(acct) or b
    ids = list(index)
    cash = np.array([r.payee == CASH_SINK for r in rows], dtype=np.bool_)
    arrays = TransferArrays.build(
        [index[r.payer] for r in rows],
        [-1 if r.payee == CASH_SINK else index[r.payee] for r in rows],
        [float(r.amount) for r in rows],
        [r.ts.timestamp() for r in rows],
        cash,
    )
    # A disputed payee that many people paid (a shop named in a mistaken report) is not known-bad on a
    # report's word (core.corroborate, as intake lists it); Knowledge's flags already follow that rule.
    payers_of: dict[str, set[str]] = {}
    for r in rows:
        if r.payee in disputed:
            payers_of.setdefault(r.payee, set()).add(r.payer)
    disputed = {a for a in disputed if not is_established(None, len(payers_of.get(a, ())))}
    known = {a for a, f in knowledge.accounts.items() if f & (AccountFlag.REPORTED | AccountFlag.TRACED)}
    seeds = sorted(index[a] for a in (known | disputed) if a in index)
    opened = np.full(len(ids), np.nan)
    for acct, at in (opened_at or {}).items():
        i = index.get(acct)
        if i is not None:
            opened[i] = at.timestamp()
    ranking = rank_mules(len(ids), arrays, params or DROP_PARAMS, opened_at=opened, seeds=seeds)
    return DropRanking(ids, bank, ranking, seeds)


def publish_suspected_drops(engine: Engine, knowledge: Knowledge, *, now: datetime | None = None,
                            top_k: int = 500, min_score: float = 0.5,
                            params: MuleParams | None = None,
                            opened_at: Mapping[str, datetime] | None = None) -> list[dict[str, object]]:
    """Rank, publish the top ``top_k`` non-seed accounts above ``min_score``, and flag them."""
    now = now or datetime.now(UTC)
    ranked = rank_accounts(engine, knowledge, now=now, params=params, opened_at=opened_at)
    ids, bank, ranking, seeds = ranked.ids, ranked.bank, ranked.ranking, ranked.seeds
    seed_set = set(seeds)
    chosen = [int(i) for i in ranking.order() if int(i) not in seed_set and ranking.scores[i] >= min_score][:top_k]
    out: list[dict[str, object]] = []
    for rank, i in enumerate(chosen, start=1):
        reasons = [{"code": x.code, "detail": x.detail, "weight": x.weight} for x in ranking.reasons(i)]
        out.append({"account_id": ids[i], "bank_id": bank.get(ids[i]), "score": float(ranking.scores[i]),
                    "rank": rank, "reasons": json.dumps(reasons, ensure_ascii=False), "ranked_at": now})
    store: CaseStore = SqlCaseStore(engine)
    store.publish_drops(out)
    for acct, flags in list(knowledge.accounts.items()):
        if flags & AccountFlag.SUSPECTED_DROP:
            knowledge.unflag(acct, AccountFlag.SUSPECTED_DROP)
    for row in out:
        knowledge.flag(str(row["account_id"]), AccountFlag.SUSPECTED_DROP)
    return out


def restore_suspected_flags(engine: Engine, knowledge: Knowledge) -> int:
    """After a restart: SUSPECTED_DROP again on the accounts of the last published ranking, except those an
    upheld appeal cleared after that ranking."""
    store: CaseStore = SqlCaseStore(engine)
    published = store.published_drops()
    delisted = published.delisted
    flagged = 0
    for acct, at in published.ranked:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        if acct in delisted and delisted[acct] >= at:
            continue
        knowledge.flag(acct, AccountFlag.SUSPECTED_DROP)
        flagged += 1
    return flagged
