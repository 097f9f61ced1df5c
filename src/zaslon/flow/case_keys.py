"""The keys an incident brings to linking: its indicators, its disputed payees, where the money went.

* indicators from the report's text (``zaslon.core.indicators``), as ``kind:value``;
* ``account:<payee>`` for every disputed transfer: the first drop;
* ``flow:<account>`` for accounts the money reached in the next hops, following only transfers made
  before the report (the exchange cannot see the future). Common downstream accounts link incidents
  whose first drops differ but feed the same collector.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, select

from zaslon.adapters.db.tables_core import transfers
from zaslon.adapters.db.tables_incidents import incident_indicators, incident_transfers, incidents, indicators
from zaslon.core.types import CASH_SINK, Indicator, IndicatorKind
from zaslon.errors import NotFound

FLOW_HOPS = 2  # hops followed beyond the first drop; deeper hops reach exchanges and shared cash-out
FLOW_WINDOW_S = 3 * 86400  # an onward move counts if made within three days of the money arriving
FLOW_FANOUT = 20  # an account sending to more payees than this in the window is not a drop chain


def keys_from_indicators(found: Iterable[Indicator]) -> list[str]:
    """``kind:value`` per indicator, plus the domain of every e-mail address (``email_domain:``): a
    lookalike sender domain recurs across a group's reports while the mailbox names change."""
    keys = []
    for ind in found:
        keys.append(f"{ind.kind.value}:{ind.value}")
        if ind.kind is IndicatorKind.EMAIL and "@" in ind.value:
            keys.append(f"email_domain:{ind.value.rsplit('@', 1)[1]}")
    return keys


def incident_keys(engine: Engine, incident_id: str) -> list[str]:
    """Keys of a stored incident, read through the store at its report time."""
    with engine.connect() as conn:
        inc = conn.execute(select(incidents.c.reported_at).where(incidents.c.incident_id == incident_id)).first()
        if inc is None:
            raise NotFound(f"incident {incident_id!r} does not exist", field="incident_id")
        reported_at: datetime = inc.reported_at
        inds = conn.execute(
            select(indicators.c.kind, indicators.c.value)
            .join(incident_indicators, incident_indicators.c.indicator_id == indicators.c.indicator_id)
            .where(incident_indicators.c.incident_id == incident_id)
        ).all()
        keys = [f"{r.kind}:{r.value}" for r in inds]
        disputed = conn.execute(
            select(transfers.c.payee, transfers.c.ts)
            .join(incident_transfers, incident_transfers.c.transfer_id == transfers.c.transfer_id)
            .where(incident_transfers.c.incident_id == incident_id)
        ).all()
        frontier = {(r.payee, r.ts) for r in disputed if r.payee != CASH_SINK}
        keys += [f"account:{payee}" for payee, _ in frontier]
        seen = {payee for payee, _ in frontier}
        for _ in range(FLOW_HOPS):
            nxt: set[tuple[str, datetime]] = set()
            for account, since in frontier:
                rows = conn.execute(
                    select(transfers.c.payee, transfers.c.ts)
                    .where((transfers.c.payer == account) & (transfers.c.ts >= since)
                           & (transfers.c.ts < reported_at))
                    .order_by(transfers.c.ts).limit(FLOW_FANOUT + 1)
                ).all()
                if len(rows) > FLOW_FANOUT:
                    continue
                for r in rows:
                    if r.payee != CASH_SINK and r.payee not in seen and \
                            (r.ts - since).total_seconds() <= FLOW_WINDOW_S:
                        nxt.add((r.payee, r.ts))
                        seen.add(r.payee)
            keys += [f"flow:{payee}" for payee, _ in nxt]
            frontier = nxt
    return sorted(set(keys))
