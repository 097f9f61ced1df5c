"""Money movement after a victim pays: drops recruited over time and abandoned, chains of 1 to 5 hops
with splits and merges, cash-out at ATMs (mostly within an hour of the first transfer, as published),
and exits to foreign banks and crypto exchanges."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from zaslon.simulate.banks import Finance
from zaslon.simulate.legit import ATM, CARD, FX_PER_BYN, MOBILE, WEB, device1, ip1, pick
from zaslon.simulate.population import DAY_US, HOUR_US, MIN_US, Population
from zaslon.simulate.registry import PERSONAL

LABELS = ["legit", "fraud_origin", "hop", "cash_out", "exit"]
ORIGIN, HOP, CASH_OUT, EXIT = 1, 2, 3, 4
ROLES = ["normal", "transit_drop", "cashout_drop", "fraud_controlled"]
TRANSIT, CASHOUT, CONTROLLED = 1, 2, 3
ENDINGS = ("cash", "foreign", "crypto")
ATM_LIMIT = 3_000_00  # per withdrawal, BYN minor units
_FX = list(FX_PER_BYN.values())


@dataclass
class FraudBook:
    """Every fraud transfer, in the order made (sorted by time when written)."""

    cols: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in (
        "ts", "payer", "payee", "amount", "currency", "channel", "device", "ip", "atm",
        "label", "hop", "scheme", "group", "victim", "origin_ts")})
    role: dict[int, tuple[int, int]] = field(default_factory=dict)  # account -> (role, group)

    def add(self, fin: Finance, ts: int, payer: int, payee: int, amount_byn: int, channel: int, device: int,
            ip: int, label: int, hop: int, scheme: int, group: int, victim: int, atm: int = -1,
            origin_ts: int = -1) -> int:
        cur = int(fin.accounts.currency[payer])
        c = self.cols
        c["ts"].append(ts)
        c["payer"].append(payer)
        c["payee"].append(payee)
        c["amount"].append(int(amount_byn * _FX[cur]))
        c["currency"].append(cur)
        c["channel"].append(channel)
        c["device"].append(device)
        c["ip"].append(ip)
        c["atm"].append(atm)
        c["label"].append(label)
        c["hop"].append(hop)
        c["scheme"].append(scheme)
        c["group"].append(group)
        c["victim"].append(victim)
        c["origin_ts"].append(ts if origin_ts < 0 else origin_ts)
        return len(c["ts"]) - 1

    def arrays(self) -> dict[str, np.ndarray]:
        dt = {"ts": np.int64, "amount": np.int64, "device": np.int64, "ip": np.int64, "origin_ts": np.int64}
        return {k: np.asarray(v, dtype=dt.get(k, np.int32)) for k, v in self.cols.items()}


@dataclass
class Parcel:
    amount: int  # BYN minor units
    victim: int
    scheme: int
    h: int  # hop number of the transfer that brought it here (0 = the victim's own transfer)
    r: int  # planned final hop, 1..5
    ending: str
    fast: bool  # cash-bound chains move in minutes; others wait hours
    origin_ts: int  # when the victim's transfer that started this money was made


@dataclass
class Drop:
    account: int
    role: int
    start: int
    end: int


@dataclass
class Group:
    gid: int
    name: str
    schemes: list[int]
    device: int
    ips: list[int]
    transit: list[Drop] = field(default_factory=list)
    cashout: list[Drop] = field(default_factory=list)
    exits: dict[str, list[int]] = field(default_factory=lambda: {"foreign": [], "crypto": []})
    pool: int = 3  # active drops it likes to keep per role
    switch_at: int | None = None  # when its laundering pattern changes (drift)
    by_day: dict[tuple[int, int], list[Drop]] = field(default_factory=dict)


class Launderer:
    def __init__(self, pop: Population, fin: Finance, book: FraudBook, rng: np.random.Generator, end: int,
                 recruit: object) -> None:
        self.pop, self.fin, self.book, self.rng, self.end = pop, fin, book, rng, end
        self.recruit = recruit  # callable(group, role, t) -> Drop
        self.pending: dict[int, list[Parcel]] = {}
        self.owner: dict[int, Group] = {}
        self.heap: list[tuple[int, int, int, Parcel | None]] = []
        self.next_flush: dict[int, int] = {}
        self.seq = 0

    def drop(self, g: Group, role: int, t: int) -> int:
        """An active drop of ``g`` at ``t``: reuse one (victims share drops) or recruit a new one."""
        pool = g.transit if role == TRANSIT else g.cashout
        day = t // DAY_US
        active = [d for d in g.by_day.get((role, day), []) if d.start <= t < d.end]
        if len(active) < g.pool or self.rng.random() < 0.06:
            d = self.recruit(g, role, t)  # type: ignore[operator]
            pool.append(d)
            for k in range(d.start // DAY_US, d.end // DAY_US + 1):  # index by the days it is active
                g.by_day.setdefault((role, k), []).append(d)
            active.append(d)
        return active[int(self.rng.integers(0, len(active)))].account

    def deposit(self, g: Group, t: int, account: int, parcel: Parcel) -> None:
        """Money reaches ``account`` at ``t``. Victims are generated in any order, so arrivals are
        events too: the run handles them in time order and money never leaves before it arrived."""
        self.owner[account] = g
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, account, parcel))

    def _arrive(self, t: int, account: int, parcel: Parcel) -> None:
        self.pending.setdefault(account, []).append(parcel)
        # The drop moves the money on after a pause (minutes when couriers wait for cash, hours
        # otherwise); whatever else arrives before that moment leaves with it (a merge).
        delay = (int(self.rng.integers(2, 16)) * MIN_US if parcel.fast
                 else int(np.exp(self.rng.normal(np.log(2.0), 0.9)) * HOUR_US))
        due = self.next_flush.get(account)
        if due is None or t + delay < due:
            self.next_flush[account] = t + delay
            self.seq += 1
            heapq.heappush(self.heap, (t + delay, self.seq, account, None))

    def run(self) -> None:
        while self.heap:
            t, _, account, parcel = heapq.heappop(self.heap)
            if t >= self.end:
                break  # money still sitting in drops when the run ends
            if parcel is not None:
                self._arrive(t, account, parcel)
                continue
            if self.next_flush.get(account) != t:
                continue  # superseded by an earlier move
            del self.next_flush[account]
            parcels = self.pending.pop(account, [])
            if parcels:
                self._flush(t, account, parcels)

    def _meta(self, g: Group, account: int, t: int) -> tuple[int, int, int]:
        """Channel, device, ip of a drop's move: often the group's own phone, from its IP pool."""
        party = int(self.fin.accounts.party[account])
        if self.rng.random() < 0.6 or self.pop.kind[party] != 0:
            return MOBILE, g.device, g.ips[int(self.rng.integers(0, len(g.ips)))]
        return MOBILE, device1(party), ip1(party)

    def _flush(self, t: int, account: int, parcels: list[Parcel]) -> None:
        g = self.owner[account]
        role = self.book.role.get(account, (TRANSIT, g.gid))[0]
        finals = [p for p in parcels if p.h + 1 >= p.r]
        onward = [p for p in parcels if p.h + 1 < p.r]
        if finals:
            self._final(g, t, account, role, finals)
        by_role: dict[int, list[Parcel]] = {}
        for p in onward:
            nxt = CASHOUT if (p.h + 2 == p.r and p.ending == "cash") else TRANSIT
            by_role.setdefault(nxt, []).append(p)
        for nxt, group_parcels in sorted(by_role.items()):
            total = sum(p.amount for p in group_parcels)
            k = pick(self.rng, [1, 2, 3], [0.55, 0.3, 0.15]) if total > 400_00 else 1
            shares = self.rng.dirichlet(np.full(k, 3.0))
            hop = max(p.h for p in group_parcels) + 1
            dom = max(group_parcels, key=lambda p: p.amount)
            ts = t
            for s in shares:
                ts += int(self.rng.integers(1, 4)) * MIN_US
                dest = self.drop(g, nxt, ts)
                pieces = [Parcel(int(p.amount * s), p.victim, p.scheme, p.h + 1, p.r, p.ending, p.fast, p.origin_ts)
                          for p in group_parcels]
                amount = sum(q.amount for q in pieces)
                if amount <= 0 or dest == account:
                    continue
                ch, dev, ip = self._meta(g, account, ts)
                self.book.add(self.fin, ts, account, dest, amount, ch, dev, ip, HOP, hop, dom.scheme, g.gid, dom.victim,
                              origin_ts=dom.origin_ts)
                for q in pieces:
                    self.deposit(g, ts, dest, q)

    def _final(self, g: Group, t: int, account: int, role: int, parcels: list[Parcel]) -> None:
        hop = max(p.h for p in parcels) + 1
        dom = max(parcels, key=lambda p: p.amount)
        cash = [p for p in parcels if p.ending == "cash" and role == CASHOUT]
        rest = [p for p in parcels if not (p.ending == "cash" and role == CASHOUT)]
        if cash:
            # ATMs pay whole tens of roubles; the odd kopecks stay behind in the abandoned card.
            total = sum(p.amount for p in cash) // 1000 * 1000
            cdom = max(cash, key=lambda p: p.amount)
            party = int(self.fin.accounts.party[account])
            d = int(self.pop.district[party])
            atms = self.fin.district_atms[d] if d >= 0 else self.fin.border_atms
            # Couriers often empty cards at the border, then carry the cash across.
            if self.rng.random() < 0.3:
                atms = self.fin.border_atms
            atm = int(atms[int(self.rng.integers(0, atms.size))])
            ts = t
            while total > 0:
                amt = min(total, ATM_LIMIT)
                ts += int(self.rng.integers(30, 90)) * 1_000_000  # back-to-back withdrawals
                self.book.add(self.fin, ts, account, -1, amt, ATM, -1, -1, CASH_OUT, hop, dom.scheme, g.gid,
                              dom.victim, atm, cdom.origin_ts)
                total -= amt
        if rest:
            total = sum(p.amount for p in rest)
            crypto = sum(p.amount for p in rest if p.ending == "crypto")
            kind = "crypto" if crypto * 2 >= total else "foreign"
            dest = g.exits[kind][int(self.rng.integers(0, len(g.exits[kind])))]
            ch, dev, ip = self._meta(g, account, t)
            self.book.add(self.fin, t + MIN_US, account, dest, total, WEB if kind == "crypto" else ch, dev, ip,
                          EXIT, hop, dom.scheme, g.gid, dom.victim, origin_ts=dom.origin_ts)


def personal(fin: Finance, account: int) -> bool:
    return int(fin.accounts.kind[account]) == PERSONAL


__all__ = ["CARD", "ENDINGS", "Drop", "FraudBook", "Group", "Launderer", "Parcel"]
