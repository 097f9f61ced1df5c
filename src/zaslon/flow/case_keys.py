"""The keys an incident brings to linking: its indicators, its disputed payees, where the money went.

* indicators from the report's text (``zaslon.core.indicators``), as ``kind:value``;
* ``account:<payee>`` for every disputed transfer: the first drop;
* ``flow:<account>`` for accounts the money reached in the next hops, following only transfers made
  before the report (the exchange cannot see the future). Common downstream accounts link incidents
  whose first drops differ but feed the same collector.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from datetime import datetime, timedelta

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


def incident_keys(engine: Engine, incident_id: str, terminal: Container[str] = (),
                  card_accounts: Mapping[str, str] | None = None) -> list[str]:
    """Keys of a stored incident, read through the store at its report time.

    From each account only the outflows that carry the arriving money on are followed: outflows in time order
    after it arrived, within ``FLOW_WINDOW_S``, until they add up to the amount (money leaves in the order it
    came, as in the FIFO trace). A drop's ordinary spending after that is not followed, so the shops and
    friends of a drop do not become "common downstream accounts"; nor are ``terminal`` accounts (merchants,
    companies, exchanges: spending or exit, not a drop). The devices and addresses the moves were made from
    are keys too: a group works its drops from its own phones. A card named in the report is the account its
    bank registered it for (``card_accounts``: keyed hash -> account)."""
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
        # A card its bank registered is that account (cards are compared as keyed hashes, as intake stores them).
        cards = card_accounts or {}
        keys += [f"account:{cards[r.value]}" for r in inds if r.kind == "card" and r.value in cards]
        keys += [f"email_domain:{r.value.rsplit('@', 1)[1]}" for r in inds if r.kind == "email" and "@" in r.value]
        disputed = conn.execute(
            select(transfers.c.payee, transfers.c.ts, transfers.c.amount)
            .join(incident_transfers, incident_transfers.c.transfer_id == transfers.c.transfer_id)
            .where(incident_transfers.c.incident_id == incident_id, transfers.c.ts < reported_at)
        ).all()
        frontier = [(r.payee, r.ts, int(r.amount)) for r in disputed if r.payee != CASH_SINK]
        keys += [f"account:{payee}" for payee, _, _ in frontier]
        seen = {payee for payee, _, _ in frontier}
        for _ in range(FLOW_HOPS):
            nxt: list[tuple[str, datetime, int]] = []
            for account, since, amount in frontier:
                until = min(reported_at, since + timedelta(seconds=FLOW_WINDOW_S))
                rows = conn.execute(
                    select(transfers.c.payee, transfers.c.ts, transfers.c.amount, transfers.c.device, transfers.c.ip)
                    .where((transfers.c.payer == account) & (transfers.c.ts >= since) & (transfers.c.ts < until))
                    .order_by(transfers.c.ts).limit(FLOW_FANOUT)
                ).all()
                left = amount
                for r in rows:
                    if left <= 0:
                        break
                    carried = min(left, int(r.amount))
                    left -= carried
                    keys += [f"device:{r.device}"] if r.device else []
                    keys += [f"ip:{r.ip}"] if r.ip else []
                    if r.payee != CASH_SINK and r.payee not in seen and r.payee not in terminal:
                        seen.add(r.payee)
                        nxt.append((r.payee, r.ts, carried))
            keys += [f"flow:{payee}" for payee, _, _ in nxt]
            frontier = nxt
    return sorted(set(keys))
