"""Legitimate life, a day at a time and vectorised: card spending, person-to-person transfers within
social circles, utilities, salaries and pensions on their schedules, company invoices, cash at ATMs,
cross-border remittances, crypto purchases. Local (Minsk) time drives the daily and weekly rhythm."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from zaslon.simulate.banks import Finance
from zaslon.simulate.population import HOUR_US, Population, day_start_us
from zaslon.simulate.presets import Preset

CHANNELS = ["mobile", "web", "branch", "card", "atm", "batch"]
MOBILE, WEB, BRANCH, CARD, ATM, BATCH = range(6)
# Fixed conversion used to express foreign-currency amounts (minor units per BYN minor unit).
FX_PER_BYN = {"BYN": 1.0, "RUB": 28.0, "KZT": 160.0, "UZS": 4000.0, "PLN": 1.25, "EUR": 0.29, "USDT": 0.31}

RETAIL_HOURS = np.array([0.2, 0.1, 0.05, 0.05, 0.05, 0.2, 0.6, 1.5, 2.5, 3, 3.5, 4, 4.5, 4.2, 4, 4, 4.2, 5,
                         5.5, 5, 4, 3, 1.8, 0.8])
P2P_HOURS = np.array([0.4, 0.2, 0.1, 0.05, 0.05, 0.1, 0.4, 1.2, 2, 2.5, 2.8, 3, 3.2, 3, 3, 3, 3.2, 3.6, 4.2,
                      4.6, 4.6, 4, 2.6, 1.2])
OFFICE_HOURS = np.array([0, 0, 0, 0, 0, 0, 0, 0.2, 1.5, 3, 3.5, 3.5, 2.5, 3, 3.5, 3.5, 3, 2, 0.8, 0.2, 0, 0, 0, 0])
CARD_WEEK = np.array([0.95, 0.95, 1.0, 1.0, 1.1, 1.2, 0.9])
P2P_WEEK = np.array([1.0, 0.95, 0.95, 1.0, 1.1, 1.15, 1.0])

COLS = ("ts", "payer", "payee", "amount", "currency", "channel", "device", "ip", "atm")


def device_of(person: np.ndarray, second: np.ndarray | bool = False) -> np.ndarray:
    """A person's phone (or, with ``second``, computer): a fixed bijection of the person index."""
    idx = person.astype(np.int64) + np.where(second, 1_000_000_000, 0)
    return (idx * 2_654_435_761 + 12_345) % 10**10


def device1(person: int, second: bool = False) -> int:
    """``device_of`` for one person, in plain integers (the fraud loop calls it per transfer)."""
    return ((person + (1_000_000_000 if second else 0)) * 2_654_435_761 + 12_345) % 10**10


def ip1(person: int) -> int:
    """``home_ip`` for one person."""
    return int(_ISP[person % _ISP.size]) + (person * 40_503) % 65_000 + 256


def pick(rng: np.random.Generator, items: list, probs: list[float]):  # type: ignore[no-untyped-def,type-arg]
    """One weighted choice; ``Generator.choice`` costs tens of microseconds for a single draw."""
    u = rng.random()
    acc = 0.0
    for item, p in zip(items, probs, strict=True):
        acc += p
        if u < acc:
            return item
    return items[-1]


_ISP = np.array([178 << 24 | 120 << 16, 178 << 24 | 121 << 16, 37 << 24 | 214 << 16, 93 << 24 | 84 << 16,
                 86 << 24 | 57 << 16, 46 << 24 | 56 << 16, 134 << 24 | 17 << 16, 82 << 24 | 209 << 16], np.int64)
_MOBILE_NAT = np.array([37 << 24 | 45 << 16, 46 << 24 | 216 << 16, 93 << 24 | 125 << 16, 46 << 24 | 53 << 16],
                       np.int64)


def home_ip(person: np.ndarray) -> np.ndarray:
    p = person.astype(np.int64)
    return _ISP[p % _ISP.size] + (p * 40_503) % 65_000 + 256


@dataclass
class LegitModel:
    pre: Preset
    pop: Population
    fin: Finance
    holder: np.ndarray  # persons with an account
    card_rate: np.ndarray
    p2p_rate: np.ndarray
    cash_rate: np.ndarray
    util_day: np.ndarray
    util_payer: np.ndarray
    pay_adv: np.ndarray  # per company: advance and salary day of month
    pay_sal: np.ndarray
    salary: np.ndarray  # per person, monthly BYN minor
    pension: np.ndarray
    pension_day: np.ndarray  # per district
    relative: np.ndarray  # foreign person -> Belarusian relative (person index)
    crypto_owner: np.ndarray
    elderly_mobile: np.ndarray
    district_region: np.ndarray


def build(pre: Preset, pop: Population, fin: Finance, rng: np.random.Generator) -> LegitModel:
    n = pop.n_persons
    age = pop.age[:n]
    holder = np.flatnonzero(fin.primary[:n] >= 0)
    a = age[holder]
    card = np.where(a >= 75, 0.22, np.where(a >= 65, 0.38, np.where(a >= 18, 0.78, 0.2)))
    card = card * rng.gamma(2.0, 0.5, holder.size)  # some people pay by card far more than others
    p2p = np.where(a >= 65, 0.035, np.where((a >= 18) & (a <= 45), 0.11, 0.07))
    cash = np.where(a >= 65, 0.07, 0.045)
    util_payer = holder[(a >= 25) & (rng.random(holder.size) < 0.55)]
    salary = np.exp(rng.normal(np.log(2_000_00), 0.45, n)).astype(np.int64)
    pension = np.exp(rng.normal(np.log(850_00), 0.22, n)).astype(np.int64)
    nd = len(pop.district_names)
    fp0 = pop.first_company + pop.n_companies
    relative = rng.choice(holder, pop.n_foreign_persons)
    return LegitModel(
        pre=pre, pop=pop, fin=fin, holder=holder, card_rate=card, p2p_rate=p2p, cash_rate=cash,
        util_day=rng.integers(1, 26, util_payer.size), util_payer=util_payer,
        pay_adv=rng.integers(15, 23, pop.n_companies), pay_sal=rng.integers(1, 11, pop.n_companies),
        salary=salary, pension=pension, pension_day=(np.arange(nd) * 7) % 20 + 3,
        relative=np.concatenate([np.full(fp0, -1), relative]).astype(np.int64),
        crypto_owner=fin.accounts.party[fin.crypto_accounts].astype(np.int64),
        elderly_mobile=rng.random(n) < 0.35,
        district_region=np.array([list(dict.fromkeys(pop.district_regions)).index(r) for r in pop.district_regions]),
    )


def _times(rng: np.random.Generator, t0: int, n: int, hours: np.ndarray) -> np.ndarray:
    h = rng.choice(24, size=n, p=hours / hours.sum())
    return t0 + h * HOUR_US + rng.integers(0, HOUR_US, n)


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return np.maximum(100, (np.exp(rng.normal(np.log(median), sigma, n)))).astype(np.int64)


def _pay_day(day_of_month: np.ndarray, date_ord: int) -> np.ndarray:
    """Shift a scheduled day to the Friday before when it falls on a weekend."""
    d = date.fromordinal(date_ord)
    wd = d.weekday()
    dom = d.day
    hit = day_of_month == dom
    if wd == 4:  # Friday also pays Saturday's and Sunday's schedules
        hit |= (day_of_month == dom + 1) | (day_of_month == dom + 2)
    elif wd >= 5:
        hit[:] = False
    out: np.ndarray = hit
    return out


def day(m: LegitModel, d: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    pop, fin = m.pop, m.fin
    acc = fin.accounts
    t0 = day_start_us(m.pre, d)
    date_ord = m.pre.start.toordinal() + d
    wd = (m.pre.start.weekday() + d) % 7
    parts: list[dict[str, np.ndarray]] = []

    def add(ts: np.ndarray, payer: np.ndarray, payee: np.ndarray, amount: np.ndarray, channel: np.ndarray | int,
            device: np.ndarray | int = -1, ip: np.ndarray | int = -1, atm: np.ndarray | int = -1) -> None:
        k = ts.size
        cur = acc.currency[payer]
        amt = amount if np.all(cur == 0) else (amount * np.array(list(FX_PER_BYN.values()))[cur]).astype(np.int64)
        parts.append({"ts": ts, "payer": payer.astype(np.int32), "payee": payee.astype(np.int32), "amount": amt,
                      "currency": cur.astype(np.int8), "channel": np.broadcast_to(channel, (k,)).astype(np.int8),
                      "device": np.broadcast_to(device, (k,)).astype(np.int64),
                      "ip": np.broadcast_to(ip, (k,)).astype(np.int64),
                      "atm": np.broadcast_to(atm, (k,)).astype(np.int32)})

    holder = m.holder
    age = pop.age
    # Card spending at merchants; a fifth online (with the phone as device).
    who = np.repeat(holder, rng.poisson(m.card_rate * CARD_WEEK[wd]))
    k = who.size
    merchant = fin.merchant_accounts[np.searchsorted(np.cumsum(fin.merchant_weight), rng.random(k) * 0.999999)]
    online = rng.random(k) < 0.2
    add(_times(rng, t0, k, RETAIL_HOURS), fin.primary[who], merchant, _lognormal(rng, 2_400, 1.0, k),
        CARD, np.where(online, device_of(who), -1), np.where(online, home_ip(who), -1))
    # Person to person within the social circle.
    who = np.repeat(holder, rng.poisson(m.p2p_rate * P2P_WEEK[wd]))
    friend = pop.friends[who, rng.integers(0, pop.friends.shape[1], who.size)]
    ok = fin.primary[friend] >= 0
    who, friend = who[ok], friend[ok]
    k = who.size
    old = age[who] >= 65
    ch = np.where(old & ~m.elderly_mobile[who], np.where(rng.random(k) < 0.5, BRANCH, WEB),
                  np.where(rng.random(k) < 0.85, MOBILE, WEB))
    add(_times(rng, t0, k, P2P_HOURS), fin.primary[who], fin.primary[friend], _lognormal(rng, 5_000, 1.1, k),
        ch, np.where(ch == BRANCH, -1, device_of(who, ch == WEB)),
        np.where(ch == BRANCH, -1,
                 np.where(ch == WEB, home_ip(who), _MOBILE_NAT[who % 4] + rng.integers(0, 65_000, k))))
    # Utilities once a month, to the region's utility company.
    dom = date.fromordinal(date_ord).day
    who = m.util_payer[m.util_day == dom]
    k = who.size
    util = fin.utility_accounts[m.district_region[pop.district[who]]]
    ch = np.where(age[who] >= 65, BRANCH, WEB)
    add(_times(rng, t0, k, P2P_HOURS), fin.primary[who], util, _lognormal(rng, 11_000, 0.4, k), ch,
        np.where(ch == BRANCH, -1, device_of(who, True)), np.where(ch == BRANCH, -1, home_ip(who)))
    # Salaries: an advance and the rest, twice a month as the labour code requires; a batch per company.
    comp_idx = np.arange(pop.n_companies)
    for col, frac in ((m.pay_adv, 0.4), (m.pay_sal, 0.6)):
        paying = comp_idx[_pay_day(col, date_ord)]
        if paying.size == 0:
            continue
        emp = np.flatnonzero(np.isin(pop.employer, paying + pop.first_company) & (fin.primary[: pop.n_persons] >= 0))
        k = emp.size
        batch_t = t0 + 8 * HOUR_US + (pop.employer[emp].astype(np.int64) * 7919 % 240) * 60_000_000
        add(batch_t + rng.integers(0, 60_000_000, k), fin.primary[pop.employer[emp]], fin.primary[emp],
            (m.salary[emp] * frac).astype(np.int64), BATCH)
    # Pensions from the Social Protection Fund, on each district's schedule.
    pd = _pay_day(m.pension_day, date_ord)
    who = holder[pop.pensioner[holder] & pd[pop.district[holder]]]
    k = who.size
    add(t0 + 6 * HOUR_US + rng.integers(0, 3 * HOUR_US, k), np.full(k, fin.fund_account), fin.primary[who],
        m.pension[who], BATCH)
    # Cash at ATMs in one's own district; pension days send many of the elderly to the ATM.
    rate = m.cash_rate + np.where(pop.pensioner[holder] & pd[pop.district[holder]], 0.45, 0.0)
    who = np.repeat(holder, rng.poisson(rate))
    k = who.size
    dist = pop.district[who]
    pick = rng.random(k)
    atm = _atm_vec(fin, dist, pick)
    notes = np.array([20, 50, 100, 200, 300, 500]) * 100
    add(_times(rng, t0, k, RETAIL_HOURS), fin.primary[who], np.full(k, -1),
        notes[rng.choice(6, k, p=[0.15, 0.3, 0.25, 0.15, 0.08, 0.07])], ATM, -1, -1, atm)
    # Invoices between companies, on working days; 3% to foreign suppliers.
    if wd < 5:
        payer = np.repeat(comp_idx + pop.first_company, rng.poisson(0.8, pop.n_companies))
        k = payer.size
        foreign = rng.random(k) < 0.03
        payee = np.where(foreign, fin.foreign_company_accounts[rng.integers(0, fin.foreign_company_accounts.size, k)],
                         fin.primary[pop.first_company + rng.integers(8, pop.n_companies, k)])
        add(_times(rng, t0, k, OFFICE_HOURS), fin.primary[payer], payee, _lognormal(rng, 300_000, 1.2, k),
            np.where(rng.random(k) < 0.7, WEB, BATCH))
    # Remittances: relatives abroad send money home; people here send some back.
    fp = fin.foreign_person_accounts
    sender = fp[rng.random(fp.size) < 0.02]
    rel = m.relative[acc.party[sender]]
    k = sender.size
    add(_times(rng, t0, k, P2P_HOURS), sender, fin.primary[rel], _lognormal(rng, 40_000, 0.7, k), WEB)
    back = fp[rng.random(fp.size) < 0.006]
    rel = m.relative[acc.party[back]]
    k = back.size
    add(_times(rng, t0, k, P2P_HOURS), fin.primary[rel], back, _lognormal(rng, 20_000, 0.7, k), MOBILE,
        device_of(rel), home_ip(rel))
    # Ordinary crypto purchases: people topping up their own exchange accounts.
    buy = fin.crypto_accounts[rng.random(fin.crypto_accounts.size) < 0.03]
    own = m.crypto_owner[np.searchsorted(fin.crypto_accounts, buy)]
    ok = fin.primary[own] >= 0
    buy, own = buy[ok], own[ok]
    k = buy.size
    add(_times(rng, t0, k, P2P_HOURS), fin.primary[own], buy, _lognormal(rng, 30_000, 0.9, k), WEB,
        device_of(own, True), home_ip(own))
    return {c: np.concatenate([p[c] for p in parts]) for c in COLS}


# Now and then everyone pays a large sum to someone they never paid before: a fridge or a used car, dental work,
# a builder, help for a grandchild's wedding, a funeral. The elderly spend their savings so too, and these are
# the legitimate payments a rule on "a large amount to a new payee" must let through. About one every five
# months per account holder, a median of 1,500 BYN.
LARGE_PER_DAY = 1 / 150
LARGE_MEDIAN, LARGE_SIGMA = 1_500_00, 0.9
# To whom: a company (shop, clinic, builder), someone of the circle, a private person outside it (a seller on
# Kufar, a craftsman working for cash on a card).
LARGE_PAYEE_SHARE = (0.5, 0.3, 0.2)


def large_payments(m: LegitModel, d: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Day ``d``'s occasional large payments to new payees (``LARGE_PER_DAY``), from their own random stream."""
    pop, fin = m.pop, m.fin
    t0 = day_start_us(m.pre, d)
    who = m.holder[rng.random(m.holder.size) < LARGE_PER_DAY]
    k = who.size
    to = rng.choice(3, size=k, p=LARGE_PAYEE_SHARE)
    company = fin.primary[pop.first_company + rng.integers(8, pop.n_companies, k)]
    friend = fin.primary[pop.friends[who, rng.integers(0, pop.friends.shape[1], k)]]
    other = fin.primary[m.holder[rng.integers(0, m.holder.size, k)]]
    payee = np.where(to == 0, company, np.where(to == 1, friend, other))
    ok = (payee >= 0) & (payee != fin.primary[who])
    who, payee = who[ok], payee[ok]
    k = who.size
    old = pop.age[who] >= 65
    ch = np.where(old & ~m.elderly_mobile[who], np.where(rng.random(k) < 0.6, BRANCH, WEB),
                  np.where(rng.random(k) < 0.7, MOBILE, WEB))
    ts = _times(rng, t0, k, P2P_HOURS)
    amount = _lognormal(rng, LARGE_MEDIAN, LARGE_SIGMA, k)
    acc = fin.accounts
    cur = acc.currency[fin.primary[who]]
    amount = (amount * np.array(list(FX_PER_BYN.values()))[cur]).astype(np.int64)
    return {"ts": ts, "payer": fin.primary[who].astype(np.int32), "payee": payee.astype(np.int32), "amount": amount,
            "currency": cur.astype(np.int8), "channel": ch.astype(np.int8),
            "device": np.where(ch == BRANCH, -1, device_of(who, ch == WEB)).astype(np.int64),
            "ip": np.where(ch == BRANCH, -1, np.where(ch == WEB, home_ip(who), _MOBILE_NAT[who % 4]
                                                      + rng.integers(0, 65_000, k))).astype(np.int64),
            "atm": np.full(k, -1, np.int32)}


def _atm_vec(fin: Finance, dist: np.ndarray, pick: np.ndarray) -> np.ndarray:
    sizes = np.array([a.size for a in fin.district_atms])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flat = np.concatenate(fin.district_atms)
    out: np.ndarray = flat[starts[dist] + (pick * sizes[dist]).astype(np.int64)].astype(np.int32)
    return out
