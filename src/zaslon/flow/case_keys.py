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
from typing import TYPE_CHECKING

from zaslon.adapters.db.stores.cases import SqlCaseStore
from zaslon.core.types import CASH_SINK, Indicator, IndicatorKind
from zaslon.flow.ports.cases import CaseStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

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
    store: CaseStore = SqlCaseStore(engine)
    facts = store.incident_key_facts(incident_id)  # NotFound if there is no such incident
    reported_at: datetime = facts.reported_at
    inds = facts.indicators
    keys = [f"{kind}:{value}" for kind, value in inds]
    # A card its bank registered is that account (cards are compared as keyed hashes, as intake stores them).
    cards = card_accounts or {}
    keys += [f"account:{cards[value]}" for kind, value in inds if kind == "card" and value in cards]
    keys += [f"email_domain:{value.rsplit('@', 1)[1]}" for kind, value in inds if kind == "email" and "@" in value]
    frontier = [(payee, ts, amount) for payee, ts, amount in facts.disputed if payee != CASH_SINK]
    keys += [f"account:{payee}" for payee, _, _ in frontier]
    seen = {payee for payee, _, _ in frontier}
    for _ in range(FLOW_HOPS):
        nxt: list[tuple[str, datetime, int]] = []
        windows = [(account, since, min(reported_at, since + timedelta(seconds=FLOW_WINDOW_S)))
                   for account, since, _ in frontier]
        for (_, _, amount), rows in zip(frontier, store.outflows(windows, FLOW_FANOUT), strict=True):
            left = amount
            for r in rows:
                if left <= 0:
                    break
                carried = min(left, r.amount)
                left -= carried
                keys += [f"device:{r.device}"] if r.device else []
                keys += [f"ip:{r.ip}"] if r.ip else []
                if r.payee != CASH_SINK and r.payee not in seen and r.payee not in terminal:
                    seen.add(r.payee)
                    nxt.append((r.payee, r.ts, carried))
        keys += [f"flow:{payee}" for payee, _, _ in nxt]
        frontier = nxt
    return sorted(set(keys))
