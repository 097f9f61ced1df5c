"""What the desk's pages show, computed before a template sees it: money in major units, times in Minsk,
stage clocks and their colours, and the money-flow graph laid out in columns (one per hop)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from zaslon.core.ledger import FROZEN_SINK
from zaslon.core.trace import ExitKind, TraceResult
from zaslon.core.types import CASH_SINK, FreezeOrder, OrderStatus
from zaslon.flow.ports.desk import QueueItem

MINSK = ZoneInfo("Europe/Minsk")
SINKS = (CASH_SINK, FROZEN_SINK)  # the ledger's pseudo-accounts for cash taken out and money frozen
# Minor units per major unit; every currency the exchange sees today has two decimals.
_DECIMALS = {"BYN": 2, "RUB": 2, "USD": 2, "EUR": 2, "KZT": 2, "UZS": 2, "PLN": 2}


def money(minor: int | None, currency: str = "BYN") -> str:
    """1234567 BYN -> '12 345,67 BYN' (the thin space and comma of Russian and Belarusian usage)."""
    if minor is None:
        return "—"
    d = _DECIMALS.get(currency, 2)
    sign = "−" if minor < 0 else ""
    major, cents = divmod(abs(int(minor)), 10**d)
    return f"{sign}{major:,}".replace(",", "\u202f") + (f",{cents:0{d}d}" if d else "") + f" {currency}"


def minsk(dt: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    """A stored UTC time as a Minsk wall-clock time."""
    return "—" if dt is None else dt.astimezone(MINSK).strftime(fmt)


def duration(delta: timedelta) -> str:
    s = max(0, int(delta.total_seconds()))
    if s < 3600:
        return f"{s // 60}m"
    if s < 86_400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86_400}d{(s % 86_400) // 3600}h"


@dataclass(frozen=True, slots=True)
class Clock:
    stage: str  # order / ack / freeze
    text: str
    level: str  # done / ok / amber / red / wait (the stage before it is not reached)


def clocks(item: QueueItem, limits: Mapping[str, tuple[int, int]], now: datetime) -> list[Clock]:
    """Report received -> first order, first order -> first acknowledgement, acknowledgement -> first freeze. A clock
    that is still running turns amber, then red, at the stage's limits (minutes); a stopped one shows its time."""
    stages = (("order", item.received_at or item.reported_at, item.first_order_at),
              ("ack", item.first_order_at, item.first_ack_at),
              ("freeze", item.first_ack_at, item.first_frozen_at))
    out = []
    for stage, start, end in stages:
        if start is None:
            out.append(Clock(stage, "—", "wait"))
            continue
        took = (end or now) - start
        amber, red = limits.get(stage, (30, 60))
        mins = took.total_seconds() / 60
        level = "done" if end is not None else "red" if mins >= red else "amber" if mins >= amber else "ok"
        out.append(Clock(stage, duration(took), level))
    return out


# ---------------------------------------------------------------- the money-flow graph
@dataclass
class Node:
    account: str
    column: int
    bank: str | None = None
    row: int = 0
    ends: list[tuple[str, str]] = field(default_factory=list)  # (kind, label): frozen / held / cash_out / ...
    victim: bool = False
    x: int = 0
    y: int = 0


@dataclass(frozen=True, slots=True)
class Edge:
    source: Node
    target: Node
    amount: int
    label: str


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    hidden: int  # accounts left out to keep the picture readable (they are still in the table)


COL_W, ROW_H, NODE_W, NODE_H, PAD = 330, 74, 210, 50, 16
MAX_PER_COLUMN = 10


def money_flow(result: TraceResult, victims: Sequence[str], orders: Sequence[FreezeOrder],
               bank_of: Mapping[str, str | None], currency: str = "BYN",
               t: Callable[[str], str] = lambda s: s) -> Graph:
    """Accounts in columns by hop (the victim's on the left), edges with the traced amounts, and each end
    marked: frozen (an order froze money there), still in an account, cashed out (ATM, time), abroad
    (bank, country), crypto, spent."""
    nodes: dict[str, Node] = {}

    def node(account: str, column: int, *, move: bool = True) -> Node:
        """An account's column is the first hop that reached it (an end never moves it)."""
        n = nodes.get(account)
        if n is None:
            n = nodes[account] = Node(account, column, bank_of.get(account))
        elif move and column < n.column:
            n.column = column
        return n

    for v in victims:
        node(v, 0).victim = True
    pair: dict[tuple[str, str], int] = defaultdict(int)
    for h in result.hops:
        if h.to_account in SINKS:  # a withdrawal or a freeze is an end of the money (below), not an account
            continue
        node(h.from_account, h.depth - 1)
        node(h.to_account, h.depth)
        pair[(h.from_account, h.to_account)] += h.amount
    frozen_at = {o.account_id: o for o in orders if o.status in (OrderStatus.FROZEN, OrderStatus.RETURNED)}
    for hold in result.holdings:
        n = node(hold.account_id, 1, move=False)
        o = frozen_at.get(hold.account_id)
        if o is not None:
            n.ends.append(("frozen", f"{t('frozen')} {money(o.frozen_amount, o.currency)}"))
        else:
            n.ends.append(("held", f"{t('in account')} {money(hold.amount, currency)}"))
    for e in result.exits:
        n = node(e.from_account, max(e.depth - 1, 0), move=False)
        when = minsk(datetime.fromtimestamp(e.ts_us / 1e6, UTC), "%d.%m %H:%M") if e.ts_us else ""
        if e.kind is ExitKind.CASH_OUT:
            label = f"{t('cashed out')} {money(e.amount, currency)} {e.atm_id or '?'} {when}"
        elif e.kind is ExitKind.ABROAD:
            label = f"{t('abroad')} {money(e.amount, currency)} {e.bank_id or ''} {e.country or ''}"
        elif e.kind is ExitKind.FROZEN:
            label = f"{t('frozen')} {money(e.amount, currency)}"
        else:
            label = f"{t(e.kind.value)} {money(e.amount, currency)}"
        n.ends.append((e.kind.value, label.strip()))
    columns: dict[int, list[Node]] = defaultdict(list)
    for n in nodes.values():
        columns[n.column].append(n)
    shown: dict[str, Node] = {}
    hidden = 0
    for col, members in columns.items():
        members.sort(key=lambda n: (not n.victim, -len(n.ends), n.account))
        for i, n in enumerate(members):
            if i >= MAX_PER_COLUMN:
                hidden += 1
                continue
            n.row, n.x, n.y = i, PAD + col * COL_W, PAD + i * ROW_H
            shown[n.account] = n
    edges = [Edge(shown[a], shown[b], amt, money(amt, currency)) for (a, b), amt in sorted(pair.items())
             if a in shown and b in shown]
    width = PAD * 2 + (max(columns, default=0) + 1) * COL_W
    height = PAD * 2 + max((min(len(m), MAX_PER_COLUMN) for m in columns.values()), default=1) * ROW_H
    return Graph(list(shown.values()), edges, width, height, hidden)


def order_stage_times(events: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, datetime]]:
    """order id -> status -> when it first got there."""
    out: dict[str, dict[str, datetime]] = defaultdict(dict)
    for e in events:
        out[e["order_id"]].setdefault(e["status"], e["at"])
    return out
