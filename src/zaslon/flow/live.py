"""The API's trace-and-freeze step: a ledger kept in step with the stored transfers, and the intake hook.

``POST /v1/incidents`` commits the incident, then calls ``trace_and_freeze``: the disputed transfers are
traced through every transfer stored before the report time, the accounts reached are flagged TRACED,
and freeze orders are issued (and pushed to banks' webhooks). The ledger is refreshed from the store
before each trace: new transfers are appended; a transfer that arrived late (dated before the newest
one already indexed) makes it rebuild, so the time order the trace relies on always holds.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import httpx
import polars as pl
from sqlalchemy import Engine, distinct, func, select

from zaslon.adapters.db.tables_core import transfers
from zaslon.core.corroborate import is_established
from zaslon.core.fx import to_byn_minor
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.core.ledger import Ledger, distinct_payers, to_us
from zaslon.core.trace import trace
from zaslon.flow.freeze import FreezeStore
from zaslon.flow.ledger import build_ledger

_COLS = (transfers.c.transfer_id, transfers.c.ts, transfers.c.payer, transfers.c.payee, transfers.c.amount,
         transfers.c.currency, transfers.c.payer_bank, transfers.c.payee_bank, transfers.c.payee_country,
         transfers.c.atm_id)


class LiveLedger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ledger = Ledger()
        self.row_of: dict[str, int] = {}
        self._lock = threading.Lock()

    def current(self) -> Ledger:
        with self._lock, self.engine.connect() as conn:
            stored = int(conn.execute(select(func.count()).select_from(transfers)).scalar_one())
            if stored == len(self.row_of):
                return self.ledger
            last = int(self.ledger.ts[-1]) if self.ledger.n_rows else None
            q = select(*_COLS).order_by(transfers.c.ts, transfers.c.transfer_id)
            if last is not None:
                q = q.where(transfers.c.ts >= datetime.fromtimestamp(last / 1e6, tz=UTC))
            new = [r for r in conn.execute(q) if r.transfer_id not in self.row_of]
            if last is None or len(new) != stored - len(self.row_of):
                new = list(conn.execute(select(*_COLS).order_by(transfers.c.ts, transfers.c.transfer_id)))
                self._rebuild(new)
            else:
                amounts = to_byn_minor(pl.Series([r.amount for r in new], dtype=pl.Int64).to_numpy(),
                                       [r.currency for r in new])
                for r, amount in zip(new, amounts.tolist(), strict=True):
                    self.row_of[r.transfer_id] = self.ledger.append(
                        r.transfer_id, to_us(_utc(r.ts)), r.payer, r.payee, int(amount),
                        payer_bank=r.payer_bank, payee_bank=r.payee_bank, payee_country=r.payee_country,
                        atm_id=r.atm_id)
            return self.ledger

    def _rebuild(self, rows: list[Any]) -> None:
        frame = pl.DataFrame(
            [{**r._asdict(), "ts": _utc(r.ts)} for r in rows],
            schema={"transfer_id": pl.String, "ts": pl.Datetime("us", "UTC"), "payer": pl.String,
                    "payee": pl.String, "amount": pl.Int64, "currency": pl.String, "payer_bank": pl.String,
                    "payee_bank": pl.String, "payee_country": pl.String, "atm_id": pl.String},
        )
        self.ledger = build_ledger(frame)
        self.row_of = {t: i for i, t in enumerate(self.ledger.transfer_ids)}


def restore_traced_flags(engine: Engine, knowledge: Knowledge) -> int:
    """After a restart: TRACED again on the accounts freeze orders name, as ``trace_and_freeze`` flags them
    (not an established account, a shop many people pay; not an account an upheld appeal cleared after its
    last order). Accounts the trace only passed through, which named in no order, are not restored: the
    traced set itself is not stored. Distinct payers are counted in SQL, for those accounts only."""
    from zaslon.adapters.db.tables_orders import freeze_orders
    from zaslon.flow.intake import upheld_appeals

    with engine.connect() as conn:
        issued = {r.account_id: _utc(r.last) for r in conn.execute(
            select(freeze_orders.c.account_id, func.max(freeze_orders.c.issued_at).label("last"))
            .group_by(freeze_orders.c.account_id))}
        if not issued:
            return 0
        delisted = upheld_appeals(conn)
        accounts = sorted(issued)
        payers: dict[str, int] = {}
        for start in range(0, len(accounts), 500):
            chunk = accounts[start : start + 500]
            for r in conn.execute(select(transfers.c.payee, func.count(distinct(transfers.c.payer)).label("n"))
                                  .where(transfers.c.payee.in_(chunk)).group_by(transfers.c.payee)):
                payers[r.payee] = int(r.n)
    flagged = 0
    for acc in accounts:
        if acc in delisted and delisted[acc] >= issued[acc]:
            continue
        if not is_established(None, payers.get(acc, 0)):
            knowledge.flag(acc, AccountFlag.TRACED)
            flagged += 1
    return flagged


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def trace_and_freeze(
    live: LiveLedger, store: FreezeStore, knowledge: Knowledge, incident_id: str, transfer_ids: tuple[str, ...],
    reported_at: datetime, *, now: datetime, transport: httpx.BaseTransport | None = None,
    max_depth: int = 6,
) -> dict[str, Any]:
    """Trace an incident's disputed transfers, flag what the trace reached, issue and push orders."""
    led = live.current()
    seeds = [(live.row_of[t], int(led.amount[live.row_of[t]])) for t in transfer_ids if t in live.row_of]
    res = trace(led, seeds, upto=led.upto(to_us(reported_at)), max_depth=max_depth)
    for acc in res.accounts:
        idx = led.account_index[acc]
        if not is_established(None, distinct_payers(led, idx, led.n_rows)):
            knowledge.flag(acc, AccountFlag.TRACED)
    issued = store.issue(incident_id, res, now=now)
    if issued.created:
        store.deliver(issued.created, transport=transport, now=now)
    return {
        "trace": {
            "traced": res.traced, "still_in_accounts": res.held,
            "exits": [{"kind": e.kind.value, "amount": e.amount, "from_account": e.from_account,
                       "transfer_id": e.transfer_id, "atm_id": e.atm_id, "country": e.country,
                       "bank_id": e.bank_id} for e in res.exits],
            "other_victims": [{"payer": f.payer, "into_account": f.into_account, "transfer_id": f.transfer_id,
                               "amount": f.amount} for f in res.feeders[:50]],
        },
        "orders": [o.order_id for o in issued.created] + issued.existing,
    }
