"""Reference exchange rates for reporting money in one currency (BYN).

Outcome figures add up money from transfers in several currencies (a Russian company's RUB payment,
a KZT transfer abroad), so each amount is converted at a fixed reference rate before it is summed or
traced. The rates are rounded official National Bank of the Republic of Belarus rates of early 2026
(units of the currency per 1 BYN); a run reports them beside its figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from zaslon.core.money import minor_exponent

PER_BYN: dict[str, float] = {
    "BYN": 1.0, "RUB": 28.0, "KZT": 160.0, "UZS": 4000.0, "PLN": 1.25, "EUR": 0.29, "USD": 0.31,
    "USDT": 0.31, "CNY": 2.2, "GBP": 0.24, "UAH": 12.8,
}


def to_byn_minor(amount: npt.NDArray[np.int64], currency: Sequence[str]) -> npt.NDArray[np.int64]:
    """Minor units of each row's currency -> BYN minor units (kopecks). Unknown currencies raise."""
    cur = np.asarray(currency, dtype=object)
    out = amount.astype(np.float64)
    for code in set(cur.tolist()):
        if code == "BYN":
            continue
        if code not in PER_BYN:
            raise ValueError(f"no reference rate for {code}")
        scale = 10 ** (2 - minor_exponent(code)) / PER_BYN[code]
        mask = cur == code
        out[mask] = out[mask] * scale
    return np.rint(out).astype(np.int64)
