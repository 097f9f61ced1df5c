"""Organised fraud: groups with their own phones, links, wallets, devices and drop pools, reused across
victims and rotated weekly; victims chosen the way each scheme chooses them; the victims' own transfers.

Scheme mix follows Kazakhstan's anti-fraud centre (DESIGN.md): phone fraud 25.5% and credit fraud 9.6%
(-> vishing, a fifth of phone fraud as door-step couriers), fake investments 18.9%, social networks 17.6%
+ fake shops 7.5% + mirror sites 5.6% (-> phishing / account takeover). Fake-director (BEC) and
phone-locking extortion have their published sizes: one group hit ~300 Belarusian and ~100 Russian
companies; an extortion community locked the phones of 40 victims.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zaslon.simulate import strs
from zaslon.simulate.banks import EXCHANGES, Finance, add_foreign
from zaslon.simulate.laundering import (
    CASHOUT,
    CONTROLLED,
    ORIGIN,
    TRANSIT,
    Drop,
    FraudBook,
    Group,
    Launderer,
    Parcel,
)
from zaslon.simulate.legit import BRANCH, MOBILE, WEB, device1, ip1, pick
from zaslon.simulate.population import DAY_US, HOUR_US, MIN_US, PHONE_CODES, Population, day_start_us
from zaslon.simulate.presets import Preset
from zaslon.simulate.registry import COUNTRIES, CRYPTO, CURRENCIES, PERSONAL

SCHEMES = ["vishing", "phishing", "investment", "fake_director", "extortion", "courier"]
VISHING, PHISHING, INVESTMENT, FAKE_DIRECTOR, EXTORTION, COURIER = range(6)
ROTATING_MIX = {VISHING: 0.354, PHISHING: 0.362, INVESTMENT: 0.224, COURIER: 0.06}
_RU_VPN = [95 << 24 | 24 << 16, 188 << 24 | 162 << 16, 185 << 24 | 220 << 16, 91 << 24 | 219 << 16]
_TLDS = ["top", "site", "online", "xyz", "shop", "info", "ru", "com"]
_LURES = {PHISHING: ["kufar-dostavka", "kufar-pay", "belpost-oplata", "onliner-safe", "evropochta-pay"],
          INVESTMENT: ["belneft-invest", "gazprom-dohod", "nbrb-token", "belarus-capital", "kali-trade"],
          VISHING: ["nbrb-zashchita", "bank-security-by"]}


@dataclass
class Victim:
    party: int
    scheme: int
    group: int
    first: int  # first contact / first transfer, µs UTC
    last: int
    origin: list[int] = field(default_factory=list)  # indices into the fraud book
    payees: list[int] = field(default_factory=list)  # accounts the victim paid
    cash: int = 0  # handed to a courier, BYN minor
    phone: str | None = None
    url: str | None = None
    wallet: str | None = None
    email: str | None = None


@dataclass
class Campaigns:
    """A group's weekly rotating infrastructure: new numbers, links and wallets each week, one or two
    carried over (groups reuse what still works)."""

    phones: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    urls: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    wallets: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    emails: dict[tuple[int, int], list[str]] = field(default_factory=dict)


class FraudWorld:
    def __init__(self, pre: Preset, pop: Population, fin: Finance, rng: np.random.Generator) -> None:
        self.pre, self.pop, self.fin, self.rng = pre, pop, fin, rng
        self.t0 = day_start_us(pre, 0)
        self.end = day_start_us(pre, pre.days)
        self.book = FraudBook()
        self.groups: list[Group] = []
        self.victims: list[Victim] = []
        self.camp = Campaigns()
        self.used_people: set[int] = set()
        self.serial = 0
        self.phone_set = set(pop.phone.to_pylist())
        n = pop.n_persons
        age = pop.age[:n]
        has_acc = fin.primary[:n] >= 0
        young = np.flatnonzero(has_acc & (age >= 18) & (age <= 30))
        self.recruitable = rng.permutation(young)
        self.next_recruit = 0
        self.laund = Launderer(pop, fin, self.book, rng, self.end, self._recruit)
        self.new_drop_accounts: list[int] = []

    # ---- infrastructure -------------------------------------------------------------------------
    def _phone(self) -> str:
        while True:
            if self.rng.random() < 0.6:  # spoofed or SIM-box Belarusian numbers
                code = PHONE_CODES[int(self.rng.integers(0, len(PHONE_CODES)))][0]
                num = f"+375{code}{int(self.rng.integers(10 ** (8 - len(code)), 10 ** (9 - len(code))))}"
            else:  # Russian mobile numbers from call centres abroad
                num = f"+79{int(self.rng.integers(10**8, 10**9))}"
            if num not in self.phone_set:
                self.phone_set.add(num)
                return num

    def _infra(self, g: Group, week: int, what: str) -> list[str]:
        store = getattr(self.camp, what)
        key = (g.gid, week)
        if key not in store:
            prev = store.get((g.gid, week - 1), [])
            self.serial += 1
            s = self.serial
            k = int(self.rng.integers(2, 5))
            if what == "phones":
                new = [self._phone() for _ in range(k)]
            elif what == "urls":
                lure = _LURES.get(g.schemes[0], _LURES[PHISHING])
                new = [f"https://{lure[(s + i) % len(lure)]}{s}{i}.{_TLDS[(s * 3 + i) % len(_TLDS)]}/pay"
                       for i in range(k)]
            elif what == "wallets":
                new = [strs.wallet("tron" if i % 3 else "btc", f"w-{g.gid}-{s}-{i}".encode()) for i in range(k)]
            else:
                new = [f"director.{s}{i}@{['mail-by', 'gmaii', 'corp-mail', 'yandex-ru'][i % 4]}.com"
                       for i in range(k)]
            carried = prev[:1] if prev and self.rng.random() < 0.5 else []
            store[key] = carried + new
        return store[key]  # type: ignore[no-any-return]

    def pick(self, g: Group, t: int, what: str) -> str:
        week = int((t - self.t0) // (7 * DAY_US))
        items = self._infra(g, week, what)
        return items[int(self.rng.integers(0, len(items)))]

    def _recruit(self, g: Group, role: int, t: int) -> Drop:
        """A young person joins as a drop: half open a fresh account (often at an online-friendly bank),
        half hand over (sell) the account they already have."""
        if self.next_recruit >= self.recruitable.size:
            self.next_recruit = 0
        person = int(self.recruitable[self.next_recruit])
        self.next_recruit += 1
        while person in self.used_people and self.next_recruit < self.recruitable.size:
            person = int(self.recruitable[self.next_recruit])
            self.next_recruit += 1
        self.used_people.add(person)  # a drop is not also picked as a victim
        acc = self.fin.accounts
        if self.rng.random() < 0.5 or int(self.fin.primary[person]) in self.book.role:
            bank = pick(self.rng, [2, 3, 7, 12, 0], [0.25, 0.25, 0.2, 0.1, 0.2])
            opened = t - int(self.rng.integers(1, 72)) * HOUR_US
            account = int(acc.add_by(self.rng, np.array([bank], np.int32), np.array([person], np.int32),
                                     np.array([opened], np.int64), PERSONAL)[0])
            self.new_drop_accounts.append(account)
        else:
            account = int(self.fin.primary[person])
        hours = (np.exp(self.rng.normal(np.log(3.0), 0.8)) if role == CASHOUT  # "a couple of hours"
                 else np.exp(self.rng.normal(np.log(30.0), 0.8)))  # transit: hours to days
        life = int(min(max(hours, 1.0), 120.0) * HOUR_US)
        self.book.role[account] = (role, g.gid)
        return Drop(account, role, t, t + life)

    def _exits(self, g: Group) -> None:
        """Accounts the group controls outright: nominees' accounts abroad, exchange deposit wallets."""
        pop, fin = self.pop, self.fin
        fp0 = pop.first_company + pop.n_companies
        nominees = fp0 + self.rng.choice(pop.n_foreign_persons, 3, replace=False)
        opened = self.t0 - int(self.rng.integers(5, 60)) * DAY_US
        acc = add_foreign(fin, pop, self.rng, nominees, opened, PERSONAL)
        g.exits["foreign"] = [int(a) for a in acc]
        ids, banks, parties = [], [], []
        for i in range(3):
            self.serial += 1
            ids.append(strs.wallet("tron", f"x-{g.gid}-{self.serial}".encode()))
            banks.append(len(fin.bank_ids) - len(EXCHANGES) + i % len(EXCHANGES))
            parties.append(int(nominees[i % nominees.size]))
        cx = fin.accounts.add_ext(ids, np.array(banks, np.int32), np.array(parties, np.int32),
                                  np.full(3, opened, np.int64), CURRENCIES.index("USDT"), CRYPTO,
                                  np.array([COUNTRIES.index(EXCHANGES[b - banks[0]][2]) for b in banks], np.int8))
        g.exits["crypto"] = [int(a) for a in cx]
        for a in g.exits["foreign"] + g.exits["crypto"]:
            self.book.role[a] = (CONTROLLED, g.gid)

    def _group(self, name: str, schemes: list[int], pool: int = 2) -> Group:
        gid = len(self.groups)
        g = Group(gid, name, schemes, device=3_000_000_000 + gid * 101, pool=pool,
                  ips=[int(_RU_VPN[i % 4] + self.rng.integers(256, 65_000)) for i in range(3)])
        self._exits(g)
        self.groups.append(g)
        return g

    # ---- victims ----------------------------------------------------------------------------------
    def _choose(self, weights: np.ndarray, k: int) -> np.ndarray:
        w = weights.astype(float).copy()
        if self.used_people:
            w[np.fromiter(self.used_people, np.int64)] = 0.0
        k = min(k, int((w > 0).sum()))
        out = self.rng.choice(w.size, size=k, replace=False, p=w / w.sum())
        self.used_people.update(int(x) for x in out)
        return out

    def _when(self, hours: tuple[int, int], last_day_margin: int = 1) -> int:
        day = int(self.rng.integers(0, max(1, self.pre.days - last_day_margin)))
        h = int(self.rng.integers(*hours))
        return day_start_us(self.pre, day) + h * HOUR_US + int(self.rng.integers(0, HOUR_US))

    def build(self) -> None:
        pre, pop, fin, rng = self.pre, self.pop, self.fin, self.rng
        n = pop.n_persons
        age = pop.age[:n].astype(int)
        acc_ok = fin.primary[:n] >= 0
        # Rotating groups; the first vishing group changes its pattern halfway through the run (drift).
        kinds = [VISHING, PHISHING, INVESTMENT]
        rot = [self._group(f"G{i + 1:02d}", [kinds[i % 3]] + ([COURIER] if kinds[i % 3] == VISHING else []))
               for i in range(pre.groups)]
        rot[0].switch_at = self.t0 + (pre.days // 2) * DAY_US
        bec = self._group("BEC-2017", [FAKE_DIRECTOR], pool=3)  # the long-running fake-director group
        bec2 = self._group("BEC-X", [FAKE_DIRECTOR], pool=2)
        lock = self._group("LOCK", [EXTORTION], pool=2)
        elderly_w = (1 + 8 * (age >= 65) + 6 * ((age >= 65) & pop.lives_alone[:n])) * (age >= 55)
        w_by_scheme = {
            VISHING: elderly_w * acc_ok,
            COURIER: elderly_w * (age >= 65),
            PHISHING: ((age >= 18) & (age <= 60)) * acc_ok * 1.0,
            INVESTMENT: ((age >= 28) & (age <= 66)) * acc_ok * 1.0,
        }
        counts = {s: round(pre.victims * f) for s, f in ROTATING_MIX.items()}
        for s, k in counts.items():
            groups = [g for g in rot if s in g.schemes]
            gw = rng.pareto(1.5, len(groups)) + 1
            for p in self._choose(w_by_scheme[s], k):
                g = groups[int(rng.choice(len(groups), p=gw / gw.sum()))]
                {VISHING: self._vishing, COURIER: self._courier, PHISHING: self._phishing,
                 INVESTMENT: self._investment}[s](g, int(p))
        comps = np.arange(pop.first_company + 8, pop.first_company + pop.n_companies)
        fc0 = pop.first_company + pop.n_companies + pop.n_foreign_persons
        domestic = rng.choice(comps, size=min(pre.bec_domestic, comps.size), replace=False)
        for c in domestic:
            self._bec(bec, int(c))
        for c in range(fc0, fc0 + pre.bec_foreign):
            self._bec(bec, int(c))
        for c in rng.choice(np.setdiff1d(comps, domestic), size=max(2, pre.bec_domestic // 10), replace=False):
            self._bec(bec2, int(c))
        lock_w = ((age >= 16) & (age <= 50)) * acc_ok * 1.0
        for p in self._choose(lock_w, pre.extortion):
            self._extortion(lock, int(p))
        self.laund.run()

    def _pay(self, v: Victim, g: Group, t: int, amount: int, channel: int, device: int, ip: int,
             r: int, ending: str, fast: bool, payer: int | None = None, role: int = TRANSIT) -> None:
        payer = int(self.fin.primary[v.party]) if payer is None else payer
        dest = self.laund.drop(g, CASHOUT if (r == 1 and ending == "cash") else role, t)
        i = self.book.add(self.fin, t, payer, dest, amount, channel, device, ip, ORIGIN, 0, v.scheme, g.gid, v.party)
        v.origin.append(i)
        v.payees.append(dest)
        v.last = t
        amount_byn = amount
        self.laund.deposit(g, t, dest, Parcel(amount_byn, v.party, v.scheme, 0, r, ending, fast, t))

    def _plan(self, g: Group, t: int, fast_share: float) -> tuple[int, str, bool]:
        """Chain length and ending. The drifting group moves from short cash-out chains to long chains
        ending in crypto once its cash-out drops start getting blocked."""
        if g.switch_at is not None and t >= g.switch_at:
            r = pick(self.rng, [1, 2, 3, 4, 5], [0.05, 0.15, 0.3, 0.3, 0.2])
            ending = pick(self.rng, ["cash", "foreign", "crypto"], [0.1, 0.25, 0.65])
        else:
            r = pick(self.rng, [1, 2, 3, 4, 5], [0.3, 0.38, 0.2, 0.08, 0.04])
            ending = pick(self.rng, ["cash", "foreign", "crypto"], [0.72, 0.16, 0.12])
        fast = ending == "cash" or self.rng.random() < fast_share
        return r, ending, fast

    def _calls_before(self, v: Victim, g: Group, t: int) -> None:
        v.phone = self.pick(g, t, "phones")

    def _vishing(self, g: Group, p: int) -> None:
        t = self._when((9, 20))
        v = Victim(p, 0, g.gid, t, t)
        self._calls_before(v, g, t)
        savings = int(np.exp(self.rng.normal(np.log(6_000_00), 0.8)))
        k = pick(self.rng, [1, 2, 3], [0.5, 0.35, 0.15])
        branch = self.pop.age[p] >= 70 and self.rng.random() < 0.4
        for j in range(k):
            t += int(self.rng.integers(3, 40)) * MIN_US if j else int(self.rng.integers(10, 50)) * MIN_US
            r, ending, fast = self._plan(g, t, 0.6)
            dev = -1 if branch else device1(p)
            ip = -1 if branch else ip1(p)
            self._pay(v, g, t, savings // k, BRANCH if branch else MOBILE, dev, ip, r, ending, fast)
        self.victims.append(v)

    def _courier(self, g: Group, p: int) -> None:
        t = self._when((9, 19))
        v = Victim(p, 5, g.gid, t, t + int(self.rng.integers(60, 240)) * MIN_US)
        self._calls_before(v, g, t)
        v.cash = int(np.exp(self.rng.normal(np.log(7_000_00), 0.7)))
        self.victims.append(v)

    def _phishing(self, g: Group, p: int) -> None:
        t = self._when((8, 23))
        v = Victim(p, 1, g.gid, t, t)
        v.url = self.pick(g, t, "urls")
        if self.rng.random() < 0.5:
            v.phone = self.pick(g, t, "phones")  # the fake buyer's messenger number
        # Account takeover: the group's own phone and a foreign/VPN address drain the account in minutes.
        t += int(self.rng.integers(5, 90)) * MIN_US
        total = int(np.exp(self.rng.normal(np.log(1_500_00), 0.9)))
        k = pick(self.rng, [1, 2, 3, 4], [0.4, 0.3, 0.2, 0.1])
        for j in range(k):
            t += int(self.rng.integers(1, 6)) * MIN_US if j else 0
            r, ending, fast = self._plan(g, t, 0.7)
            self._pay(v, g, t, total // k, MOBILE, g.device, g.ips[j % len(g.ips)], r, ending, fast)
        self.victims.append(v)

    def _investment(self, g: Group, p: int) -> None:
        t = self._when((10, 22), last_day_margin=max(2, self.pre.days // 2))
        v = Victim(p, 2, g.gid, t, t)
        v.url = self.pick(g, t, "urls")
        v.phone = self.pick(g, t, "phones")
        amount = int(self.rng.integers(200, 1_000)) * 100
        growth = float(self.rng.uniform(1.4, 2.2))
        for _ in range(int(self.rng.integers(3, 9))):
            if t >= self.end:
                break
            r = pick(self.rng, [2, 3, 4, 5], [0.3, 0.35, 0.2, 0.15])
            ending = pick(self.rng, ["crypto", "foreign", "cash"], [0.6, 0.25, 0.15])
            self._pay(v, g, t, amount, WEB if self.rng.random() < 0.4 else MOBILE,
                      device1(p, True), ip1(p), r, ending,
                      ending == "cash")
            amount = int(amount * growth)
            t += int(np.exp(self.rng.normal(np.log(2.5), 0.5)) * DAY_US)
        v.wallet = self.pick(g, v.first, "wallets")
        self.victims.append(v)

    def _bec(self, g: Group, company: int) -> None:
        t = self._when((9, 17))
        v = Victim(company, 3, g.gid, t, t)
        v.email = self.pick(g, t, "emails")
        amount = int(np.exp(self.rng.normal(np.log(45_000_00), 0.9)))
        r = pick(self.rng, [1, 2, 3, 4], [0.15, 0.4, 0.3, 0.15])
        ending = pick(self.rng, ["cash", "foreign", "crypto"], [0.35, 0.45, 0.2])
        self._pay(v, g, t, amount, WEB, device1(company),
                  ip1(company), r, ending, ending == "cash")
        self.victims.append(v)

    def _extortion(self, g: Group, p: int) -> None:
        t = self._when((0, 24))
        v = Victim(p, 4, g.gid, t, t)
        v.email = f"unlock.{self.serial % 97}{g.gid}@icloud.com"  # the Apple ID the group takes over with
        v.phone = self.pick(g, t, "phones")
        v.wallet = self.pick(g, t, "wallets")
        t += int(self.rng.integers(20, 240)) * MIN_US
        ransom = int(self.rng.integers(150, 700)) * 100
        self._pay(v, g, t, ransom, MOBILE, device1(p, True),
                  ip1(p), pick(self.rng, [1, 2], [0.6, 0.4]), "cash", True)
        self.victims.append(v)


__all__ = ["CASHOUT", "SCHEMES", "FraudWorld", "Victim"]
