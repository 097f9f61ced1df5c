"""Banks (about 20 Belarusian ones with market shares, the main foreign ones), ATMs, crypto exchanges,
and everyone's accounts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zaslon.simulate import geo
from zaslon.simulate.population import DAY_US, Population, day_start_us
from zaslon.simulate.presets import Preset
from zaslon.simulate.registry import BUSINESS, COUNTRIES, CRYPTO, CURRENCIES, MERCHANT, PERSONAL, Accounts
from zaslon.simulate.strs import iban

# (BIC, name, retail market share). Shares approximate deposits/cards: Belarusbank dominates.
BY_BANKS: list[tuple[str, str, float]] = [
    ("AKBBBY2X", "Belarusbank", 0.36), ("BAPBBY2X", "Belagroprombank", 0.09), ("PJCBBY2X", "Priorbank", 0.08),
    ("ALFABY2X", "Alfa-Bank", 0.07), ("BPSBBY2X", "Sber Bank", 0.05), ("BLBBBY2X", "Belinvestbank", 0.05),
    ("OLMPBY2X", "Belgazprombank", 0.05), ("MTBKBY22", "MTBank", 0.05), ("MMBNBY22", "Bank Dabrabyt", 0.04),
    ("BELBBY2X", "Bank BelVEB", 0.03), ("SLANBY22", "VTB Bank (Belarus)", 0.03), ("BLNBBY2X", "BNB-Bank", 0.02),
    ("TECNBY22", "Technobank", 0.015), ("POISBY2X", "Paritetbank", 0.01), ("RSHNBY2X", "Bank Reshenie", 0.01),
    ("UNBSBY2X", "StatusBank", 0.005), ("ZEPTBY2X", "Zepter Bank", 0.005), ("REDJBY22", "RRB-Bank", 0.005),
    ("ABLTBY22", "Absolutbank", 0.005), ("BRRBBY2X", "Development Bank", 0.005),
]
FOREIGN_BANKS: list[tuple[str, str, str, float]] = [
    ("SABRRUMM", "Sberbank", "RU", 0.45), ("TICSRUMM", "T-Bank", "RU", 0.3), ("VTBRRUMM", "VTB", "RU", 0.25),
    ("CASPKZKA", "Kaspi Bank", "KZ", 0.6), ("HSBKKZKX", "Halyk Bank", "KZ", 0.4),
    ("KACHUZ22", "Kapitalbank", "UZ", 0.6), ("NBFAUZ2X", "NBU", "UZ", 0.4),
    ("BPKOPLPW", "PKO Bank Polski", "PL", 0.6), ("BREXPLPW", "mBank", "PL", 0.4),
    ("HABALT22", "Swedbank", "LT", 0.5), ("REVOLT21", "Revolut", "LT", 0.5),
]
# Crypto exchanges: two licensed in Belarus's Hi-Tech Park and one offshore. Ids are not BICs.
EXCHANGES: list[tuple[str, str, str]] = [
    ("XBYNEXBY", "Bynex", "BY"), ("XWHBRDBY", "Whitebird", "BY"), ("XOFFSHSC", "Offshore exchange", "SC"),
]
LOCAL_CCY = {"RU": "RUB", "KZ": "KZT", "UZ": "UZS", "PL": "PLN", "LT": "EUR"}


@dataclass
class Finance:
    bank_ids: list[str]
    bank_names: list[str]
    bank_country: list[str]
    bank_share: list[float]
    n_by_banks: int
    accounts: Accounts
    primary: np.ndarray  # party -> main account (-1 none)
    atm_bank: np.ndarray
    atm_lat: np.ndarray
    atm_lon: np.ndarray
    atm_district: np.ndarray
    atm_near_border: np.ndarray
    atm_city: list[str]
    district_atms: list[np.ndarray]  # per district, its ATM indices
    border_atms: np.ndarray
    fund_account: int  # the Social Protection Fund, which pays pensions
    utility_accounts: np.ndarray  # per region
    merchant_accounts: np.ndarray
    merchant_weight: np.ndarray
    crypto_accounts: np.ndarray  # ordinary people's exchange accounts
    foreign_person_accounts: np.ndarray
    foreign_company_accounts: np.ndarray
    ext_serial: list[int]

    def bank_codes(self) -> list[str]:
        return [b[:4] for b in self.bank_ids]

    def foreign_banks_of(self, country: str) -> list[int]:
        return [i for i, c in enumerate(self.bank_country) if c == country and not self.bank_ids[i].startswith("X")]


def foreign_account_id(country: str, bank_bic: str, serial: int, business: bool = False) -> str:
    """A foreign account identifier: an IBAN where the country has them, else the local number."""
    if country in ("KZ", "PL", "LT"):
        n = {"KZ": 13, "PL": 16, "LT": 11}[country]
        bank_code = {"KZ": "722", "PL": "10201026", "LT": "73000"}[country]
        if bank_bic.startswith(("BREX", "REVO", "HSBK")):
            bank_code = {"BREX": "11402004", "REVO": "32500", "HSBK": "601"}[bank_bic[:4]]
        return iban(country, bank_code + str(10 ** (n - 1) + serial).zfill(n))
    if country == "RU":  # 20-digit ruble account: 40817 private person, 40702 company
        return f"{'40702' if business else '40817'}810{serial:012d}"
    return f"20206000{serial:012d}"  # UZ: 20 digits, no IBAN


def build(preset: Preset, pop: Population, rng: np.random.Generator) -> Finance:
    bank_ids = [b[0] for b in BY_BANKS] + [b[0] for b in FOREIGN_BANKS] + [e[0] for e in EXCHANGES]
    bank_names = [b[1] for b in BY_BANKS] + [b[1] for b in FOREIGN_BANKS] + [e[1] for e in EXCHANGES]
    bank_country = ["BY"] * len(BY_BANKS) + [b[2] for b in FOREIGN_BANKS] + [e[2] for e in EXCHANGES]
    share = np.array([b[2] for b in BY_BANKS])
    share /= share.sum()
    bank_share = list(share) + [b[3] for b in FOREIGN_BANKS] + [0.0] * len(EXCHANGES)
    nby = len(BY_BANKS)
    acc = Accounts()
    t0 = day_start_us(preset, 0)
    n = pop.n_persons
    # Persons 16+ hold a current account (most also a card on it); a third hold a second one elsewhere.
    adult = np.flatnonzero(pop.age[:n] >= 16)
    opened = t0 - rng.integers(30, 3650, adult.size) * DAY_US
    first = acc.add_by(rng, rng.choice(nby, adult.size, p=share).astype(np.int32), adult.astype(np.int32),
                       opened, PERSONAL)
    primary = np.full(pop.n, -1, np.int32)
    primary[adult] = first
    second = adult[rng.random(adult.size) < 0.33]
    acc.add_by(rng, rng.choice(nby, second.size, p=share).astype(np.int32), second.astype(np.int32),
               t0 - rng.integers(30, 3000, second.size) * DAY_US, PERSONAL)
    # Companies: a business account each; a third are shops/cafes/services with a merchant account too.
    comps = np.arange(pop.first_company, pop.first_company + pop.n_companies, dtype=np.int32)
    biz = acc.add_by(rng, rng.choice(nby, comps.size, p=share).astype(np.int32), comps,
                     t0 - rng.integers(60, 5000, comps.size) * DAY_US, BUSINESS)
    primary[comps] = biz
    is_merchant = rng.random(comps.size) < 0.35
    is_merchant[:8] = False  # the special payers below are not shops
    merchants = comps[is_merchant]
    macc = acc.add_by(rng, rng.choice(nby, merchants.size, p=share).astype(np.int32), merchants,
                      t0 - rng.integers(60, 5000, merchants.size) * DAY_US, MERCHANT)
    mw = rng.pareto(1.2, merchants.size) + 1.0  # a few chains take most card spending
    # Special organisations: the Social Protection Fund (pensions) and one utility company per region.
    fund_account = int(biz[0])
    utility_accounts = biz[1:8]
    # Ordinary people's crypto-exchange accounts: mostly 18-40, about 4%.
    ages = pop.age[:n]
    crypto_people = np.flatnonzero((ages >= 18) & (ages <= 45) & (rng.random(n) < 0.04)).astype(np.int32)
    serial = [1]
    cx = _crypto_accounts(acc, rng, crypto_people, len(bank_ids) - len(EXCHANGES), t0, serial)
    # Foreign parties' accounts, in their country's banks and currency.
    fp = np.arange(pop.first_company + pop.n_companies, pop.first_company + pop.n_companies + pop.n_foreign_persons)
    fc = np.arange(fp[-1] + 1, pop.n)
    atm_bank, atm_lat, atm_lon, atm_district, atm_near, atm_city, district_atms, border_atms = _atms(pop, rng, share)
    fin = Finance(bank_ids, bank_names, bank_country, bank_share, nby, acc, primary, atm_bank, atm_lat, atm_lon,
                  atm_district, atm_near, atm_city, district_atms, border_atms,
                  fund_account=fund_account, utility_accounts=utility_accounts, merchant_accounts=macc,
                  merchant_weight=mw / mw.sum(), crypto_accounts=cx, foreign_person_accounts=np.zeros(0, np.int32),
                  foreign_company_accounts=np.zeros(0, np.int32), ext_serial=serial)
    fin.foreign_person_accounts = add_foreign(fin, pop, rng, fp, t0 - 400 * DAY_US, PERSONAL)
    fin.foreign_company_accounts = add_foreign(fin, pop, rng, fc, t0 - 900 * DAY_US, BUSINESS)
    primary[fp] = fin.foreign_person_accounts
    primary[fc] = fin.foreign_company_accounts
    return fin


def add_foreign(fin: Finance, pop: Population, rng: np.random.Generator, parties: np.ndarray, opened: int,
                kind: int) -> np.ndarray:
    out = np.empty(parties.size, np.int32)
    for ci in np.unique(pop.country[parties]):  # a country at a time, in a fixed order
        cc = COUNTRIES[int(ci)]
        rows = np.flatnonzero(pop.country[parties] == ci)
        banks = fin.foreign_banks_of(cc)
        w = np.array([fin.bank_share[b] for b in banks])
        chosen = np.asarray(banks)[rng.choice(len(banks), size=rows.size, p=w / w.sum())]
        ids = []
        for b in chosen:
            fin.ext_serial[0] += 1
            ids.append(foreign_account_id(cc, fin.bank_ids[int(b)], fin.ext_serial[0] * 7919 % 10**11,
                                          kind != PERSONAL))
        out[rows] = fin.accounts.add_ext(ids, chosen.astype(np.int32), parties[rows].astype(np.int32),
                                         np.full(rows.size, opened, np.int64), CURRENCIES.index(LOCAL_CCY[cc]),
                                         kind, COUNTRIES.index(cc))
    return out


def _crypto_accounts(acc: Accounts, rng: np.random.Generator, parties: np.ndarray, first_ex: int, t0: int,
                     serial: list[int]) -> np.ndarray:
    from zaslon.simulate.strs import wallet

    ex = rng.choice(len(EXCHANGES), parties.size, p=[0.45, 0.35, 0.2])
    ids = []
    for p, e in zip(parties, ex, strict=True):
        serial[0] += 1
        ids.append(wallet("tron", f"cx-{e}-{p}-{serial[0]}".encode()))  # the deposit address is the account
    country = np.array([COUNTRIES.index(e[2]) for e in EXCHANGES], np.int8)[ex]
    return acc.add_ext(ids, (first_ex + ex).astype(np.int32), parties.astype(np.int32),
                       t0 - rng.integers(30, 900, parties.size) * DAY_US, CURRENCIES.index("USDT"), CRYPTO,
                       country)


def _atms(pop: Population, rng: np.random.Generator, share: np.ndarray) -> tuple:  # type: ignore[type-arg]
    nd = len(pop.district_names)
    per = np.maximum(1, np.round(pop.district_weight * max(60, pop.n_persons / 900)).astype(int))
    district = np.repeat(np.arange(nd), per)
    lat = pop.district_lat[district] + rng.normal(0, 0.03, district.size)
    lon = pop.district_lon[district] + rng.normal(0, 0.05, district.size)
    near = np.zeros(district.size, bool)
    # Two ATMs at or near every road crossing: where couriers empty drop cards before leaving.
    extra_d, extra_lat, extra_lon = [], [], []
    for _, dist, clat, clon, _ in geo.BORDER_CROSSINGS:
        d = pop.district_names.index(dist)
        for _ in range(2):
            extra_d.append(d)
            extra_lat.append(clat + rng.normal(0, 0.01))
            extra_lon.append(clon + rng.normal(0, 0.01))
    district = np.concatenate([district, extra_d])
    lat = np.concatenate([lat, extra_lat])
    lon = np.concatenate([lon, extra_lon])
    near = np.concatenate([near, np.ones(len(extra_d), bool)])
    bank = rng.choice(share.size, district.size, p=share).astype(np.int32)
    city = [pop.district_names[d] if pop.district_regions[d] != "Minsk" else "Minsk" for d in district]
    lists = [np.flatnonzero(district == d) for d in range(nd)]
    return bank, lat, lon, district, near, city, lists, np.flatnonzero(near)
