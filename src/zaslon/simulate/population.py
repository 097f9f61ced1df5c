"""People and organisations: ages from Belarus's pyramid, regions and districts, who lives alone,
phones with real operator prefixes, devices, employers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zaslon.simulate import geo, strs
from zaslon.simulate.presets import Preset

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
MIN_US = 60_000_000
MINSK_UTC_OFFSET_US = 3 * HOUR_US  # Europe/Minsk is UTC+3 all year

# Mobile codes: A1 (29 with 1/3/6/9 next, 44), MTS (29 with 2/5/7/8 next, 33), life:) (25 with 5/6/7/9
# next, the ranges the numbering plan allocates); shares roughly follow subscriber counts.
PHONE_CODES = [("291", "A1", 0.11), ("293", "A1", 0.11), ("296", "A1", 0.10), ("299", "A1", 0.07),
               ("44", "A1", 0.14), ("292", "MTS", 0.08), ("295", "MTS", 0.08), ("297", "MTS", 0.09),
               ("298", "MTS", 0.06), ("33", "MTS", 0.08), ("255", "life", 0.02), ("256", "life", 0.02),
               ("257", "life", 0.02), ("259", "life", 0.02)]
OPERATORS = ["A1", "MTS", "life", "foreign"]


def day_start_us(preset: Preset, day: int) -> int:
    """UTC µs of local midnight starting run day ``day``."""
    epoch_days = (preset.start.toordinal() - 719_163) + day  # 719163 = date(1970, 1, 1).toordinal()
    return epoch_days * DAY_US - MINSK_UTC_OFFSET_US


def by_phones(rng: np.random.Generator, n: int) -> tuple[pa.StringArray, np.ndarray]:
    """``n`` distinct Belarusian mobile numbers in E.164 and their operator index."""
    shares = np.array([c[2] for c in PHONE_CODES])
    code = rng.choice(len(PHONE_CODES), size=n, p=shares / shares.sum())
    # Subscriber part: 7 digits after a 2-digit code, 6 after a 3-digit one; first digit never 0.
    out = np.empty((n, 9), np.uint8)
    for i, (c, _, _) in enumerate(PHONE_CODES):
        rows = np.flatnonzero(code == i)
        width = 9 - len(c)
        space = 9 * 10 ** (width - 1)
        picks = rng.choice(space, size=rows.size, replace=False) + 10 ** (width - 1)
        out[rows, : len(c)] = np.frombuffer(c.encode(), np.uint8)
        out[rows, len(c):] = strs.digits(picks, width)
    op = np.array([OPERATORS.index(c[1]) for c in PHONE_CODES], np.int8)[code]
    return strs.to_arrow(strs.const("+375", n), out), op


@dataclass
class Population:
    n_persons: int
    n_companies: int  # Belarusian legal entities follow persons in the party index
    n_foreign_persons: int
    n_foreign_companies: int
    kind: np.ndarray  # 0 person, 1 legal entity
    country: np.ndarray  # index into registry.COUNTRIES
    age: np.ndarray  # persons only; -1 elsewhere
    birth_days: np.ndarray  # days since epoch; persons only
    male: np.ndarray
    district: np.ndarray  # -1 abroad
    lives_alone: np.ndarray
    phone: pa.StringArray  # all parties ("" where none)
    has_phone: np.ndarray
    operator: np.ndarray
    employer: np.ndarray  # company party index or -1
    pensioner: np.ndarray
    names: pa.StringArray
    district_names: list[str]
    district_regions: list[str]
    district_lat: np.ndarray
    district_lon: np.ndarray
    district_weight: np.ndarray
    friends: np.ndarray  # (n_persons, K) social circle, mostly the same district

    @property
    def n(self) -> int:
        return int(self.kind.size)

    @property
    def first_company(self) -> int:
        return self.n_persons


def build(preset: Preset, rng: np.random.Generator) -> Population:
    n = preset.persons
    names_d, regions_d, weights_d, lats_d, lons_d = geo.districts()
    w = np.array(weights_d)
    w /= w.sum()
    bands = np.array(geo.AGE_BANDS)
    age = (rng.choice(bands.size, size=n, p=bands / bands.sum()) * 5 + rng.integers(0, 5, n)).astype(np.int16)
    start_days = preset.start.toordinal() - 719_163
    birth_days = (start_days - age.astype(np.int64) * 365 - age // 4 - rng.integers(1, 365, n)).astype(np.int32)
    male = rng.random(n) < np.where(age >= 65, 0.36, 0.48)
    district = rng.choice(w.size, size=n, p=w).astype(np.int16)
    # Living alone: about a third of the elderly (more among the oldest, mostly widows), few others.
    p_alone = np.where(age >= 75, 0.42, np.where(age >= 65, 0.28, np.where(age >= 25, 0.12, 0.02)))
    lives_alone = rng.random(n) < p_alone
    has_phone = (age >= 10) & (rng.random(n) < np.where(age >= 80, 0.80, 0.98))
    pensioner = np.where(male, age >= 63, age >= 58)
    n_comp = max(60, n // 25)
    n_fp = max(40, n // 50)  # relatives and nominees abroad
    n_fc = max(40, n // 100) + preset.bec_foreign
    total = n + n_comp + n_fp + n_fc
    kind = np.zeros(total, np.int8)
    kind[n:n + n_comp] = 1
    kind[n + n_comp + n_fp:] = 1
    country = np.zeros(total, np.int8)
    foreign_c = rng.choice([1, 2, 3, 4, 5], size=n_fp + n_fc, p=[0.55, 0.12, 0.1, 0.12, 0.11])
    country[n + n_comp:] = foreign_c
    country[n + n_comp + n_fp: n + n_comp + n_fp + preset.bec_foreign] = 1  # BEC's foreign victims are Russian
    # Companies sit in districts by population, a little more in the capital.
    comp_district = rng.choice(w.size, size=n_comp, p=w).astype(np.int16)
    phones_all, op_all = by_phones(rng, total)
    phone_mask = np.concatenate([has_phone, np.ones(n_comp, bool), np.zeros(n_fp + n_fc, bool)])
    # Employment: 18-62-year-olds mostly work, mostly in their own region.
    employed = (age >= 18) & (age <= 62) & (rng.random(n) < 0.78) & ~(pensioner & (rng.random(n) < 0.7))
    size_w = 1.0 / np.arange(1, n_comp + 1) ** 0.9
    employer = np.full(n, -1, np.int32)
    picks = rng.choice(n_comp, size=int(employed.sum()), p=size_w / size_w.sum())
    employer[employed] = n + picks
    names = _names(rng, male, n, n_comp, n_fp, n_fc, foreign_c)
    friends = _circles(rng, district, age)
    return Population(
        n_persons=n, n_companies=n_comp, n_foreign_persons=n_fp, n_foreign_companies=n_fc, kind=kind,
        country=country, age=np.concatenate([age, np.full(total - n, -1, np.int16)]),
        birth_days=birth_days, male=male,
        district=np.concatenate([district, comp_district, np.full(n_fp + n_fc, -1, np.int16)]),
        lives_alone=np.concatenate([lives_alone, np.zeros(total - n, bool)]),
        phone=phones_all, has_phone=phone_mask, operator=op_all,
        employer=employer, pensioner=pensioner & (age >= 58), names=names,
        district_names=names_d, district_regions=regions_d, district_lat=np.array(lats_d),
        district_lon=np.array(lons_d), district_weight=w, friends=friends,
    )


def _names(rng: np.random.Generator, male: np.ndarray, n: int, n_comp: int, n_fp: int, n_fc: int,
           foreign_c: np.ndarray) -> pa.StringArray:
    sur = rng.integers(0, len(geo.SURNAMES), n + n_fp)
    mf = np.concatenate([male, rng.random(n_fp) < 0.5])
    first_m = pa.array(geo.MALE_FIRST)
    first_f = pa.array(geo.FEMALE_FIRST)
    fi = rng.integers(0, len(geo.MALE_FIRST), n + n_fp)
    first = pc.if_else(pa.array(mf), pc.take(first_m, pa.array(fi)), pc.take(first_f, pa.array(fi)))
    sm = pa.array([s[0] for s in geo.SURNAMES])
    sf = pa.array([s[1] for s in geo.SURNAMES])
    last = pc.if_else(pa.array(mf), pc.take(sm, pa.array(sur)), pc.take(sf, pa.array(sur)))
    people = pc.binary_join_element_wise(last, first, " ")
    nc = n_comp + n_fc
    form = pc.take(pa.array(geo.COMPANY_FORMS), pa.array(rng.integers(0, len(geo.COMPANY_FORMS), nc)))
    word = pc.take(pa.array(geo.COMPANY_WORDS), pa.array(rng.integers(0, len(geo.COMPANY_WORDS), nc)))
    num = pc.cast(pa.array(np.arange(1, nc + 1)), pa.string())
    comp = pc.binary_join_element_wise(form, pc.binary_join_element_wise(word, num, "-"), " ")
    foreign_form = np.where(foreign_c[n_fp:] == 1, "OOO", "LLC")
    fcomp = pc.binary_join_element_wise(pa.array(foreign_form), comp.slice(n_comp), " ")
    return pa.concat_arrays([people.slice(0, n), comp.slice(0, n_comp), people.slice(n), fcomp])


def _circles(rng: np.random.Generator, district: np.ndarray, age: np.ndarray, k: int = 8) -> np.ndarray:
    """Each person's social circle: neighbours in a district-then-age ordering (family, friends), plus
    a couple of people anywhere in the country."""
    n = district.size
    order = np.lexsort((rng.random(n), age // 15, district))
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n)
    offsets = rng.integers(-30, 31, size=(n, k))
    offsets[offsets == 0] = 1
    near = order[np.clip(pos[:, None] + offsets, 0, n - 1)]
    far = rng.integers(0, n, size=(n, 2))
    near[:, -2:] = far
    out: np.ndarray = near.astype(np.int32)
    return out
