"""Money: integer minor units plus an ISO 4217 currency code."""

from __future__ import annotations

from dataclasses import dataclass

import pycountry

from zaslon.errors import InvalidInput

# ISO 4217 minor-unit exponents that differ from the usual 2 (ISO 4217 amendment list, 2024).
_EXPONENT_EXCEPTIONS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3, "CLF": 4,
}
_CODES = frozenset(c.alpha_3 for c in pycountry.currencies)
# ISO 4217 codes whose minor unit is "N.A." (metals, fund units, test and no-currency codes): no decimal amount
# in them can be turned into minor units.
_NO_MINOR_UNIT = frozenset({"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"})


def check_currency(code: str, field: str = "currency") -> str:
    """Return ``code`` if it is an active ISO 4217 code, else raise InvalidInput naming ``field``."""
    if code not in _CODES:
        raise InvalidInput(f"{code!r} is not an ISO 4217 currency code", field=field)
    return code


def minor_exponent(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (2 for BYN, 0 for JPY, 3 for KWD)."""
    return _EXPONENT_EXCEPTIONS.get(currency, 2)


def decimal_exponent(currency: str, field: str = "currency") -> int:
    """The exponent to turn a decimal major-unit amount in ``currency`` into minor units; InvalidInput when the
    code is not ISO 4217 or ISO gives it no minor unit (XAU, XDR, XXX ...)."""
    check_currency(currency, field)
    if currency in _NO_MINOR_UNIT:
        raise InvalidInput(f"{currency!r} has no ISO 4217 minor unit: give its amounts as amount_minor", field=field)
    return minor_exponent(currency)


def to_major(amount_minor: int, currency: str) -> float:
    """Minor units to major units, for reports only (never for arithmetic on money)."""
    return float(amount_minor) / float(10 ** minor_exponent(currency))


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidInput("amount must be an integer number of minor units", field="amount")
        check_currency(self.currency)
