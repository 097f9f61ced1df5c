"""Protection profiles: a trusted person confirms the operations a customer chose, before the bank executes them.

Modelled on Russia's "second hand" (since 1 Sep 2025): with the customer's consent the bank registers a trusted
person and the operations that need their confirmation (a new payee, an amount above a threshold, a cash
withdrawal, any transfer during a call). A matching transfer is held until the trusted person confirms or declines
it; no answer within ``CONFIRM_WINDOW`` (12 h) declines it. Removing or replacing the trusted person takes effect
only after ``COOLING_OFF`` (24 h): a fraudster who talks the victim into dropping the trusted person gains nothing
during the scam itself, while the old trusted person stays in force.

Pure: no I/O, no clock; every time is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from zaslon.core.fx import PER_BYN
from zaslon.core.money import minor_exponent

CONFIRM_WINDOW = timedelta(hours=12)
COOLING_OFF = timedelta(hours=24)
AWAITING = "awaiting_trusted_person"  # the reason code of a transfer held for the trusted person

# Age bands a bank may register instead of a birth date: (band, lowest age, highest age or None).
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("under_65", 0, 64), ("65-74", 65, 74), ("75-84", 75, 84), ("85+", 85, None),
)
BAND_NAMES = tuple(b for b, _, _ in AGE_BANDS)

# What can make a transfer need the trusted person (the reason's detail lists the ones that matched).
NEW_PAYEE, ABOVE_AMOUNT, CASH_WITHDRAWAL, DURING_CALL = "new_payee", "amount_above", "cash_withdrawal", "during_call"


def age_on(birth: date, on: date) -> int:
    """Whole years of age on ``on``."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def band_of(birth: date, on: date) -> str:
    age = age_on(birth, on)
    for name, low, high in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return name
    return BAND_NAMES[0]  # a birth date in the future: validated away before this


def birth_date_for_band(band: str, on: date) -> date | None:
    """A birth date scoring can use when the bank gave only a band: the latest one inside the band, less two days
    (scoring counts years as 365.2425 days, so the band's lowest age is reached on every calendar), or None for
    a band under 65 (scoring's elderly features need no date then)."""
    low = next(lo for name, lo, _ in AGE_BANDS if name == band)
    if low < 65:
        return None
    try:
        at = on.replace(year=on.year - low)
    except ValueError:  # 29 February
        at = on.replace(year=on.year - low, day=28)
    return at - timedelta(days=2)


@dataclass(frozen=True, slots=True)
class TrustedPerson:
    name: str
    phone: str  # E.164
    relation: str | None = None
    customer_id: str | None = None  # the bank's id of the trusted person, when they are its customer too


@dataclass(frozen=True, slots=True)
class Confirm:
    """Which operations need the trusted person's confirmation."""

    new_payee: bool = False
    amount_above: int | None = None  # minor units of ``currency``: a transfer of more than this
    currency: str = "BYN"
    cash_withdrawal: bool = False
    during_call: bool = False

    @property
    def anything(self) -> bool:
        return self.new_payee or self.amount_above is not None or self.cash_withdrawal or self.during_call


@dataclass(frozen=True, slots=True)
class Profile:
    """A customer's protection profile as stored. ``trusted`` is in force; a change of it (``next_trusted``, None
    for a removal) waits until ``change_at`` when ``change_pending``."""

    account_id: str
    bank_id: str
    age_band: str
    lives_alone: bool
    phones: tuple[str, ...]
    confirm: Confirm
    trusted: TrustedPerson | None
    consent_at: datetime
    updated_at: datetime
    birth_date: date | None = None
    customer_id: str | None = None
    change_pending: bool = False
    next_trusted: TrustedPerson | None = None
    change_at: datetime | None = None

    def trusted_at(self, at: datetime) -> TrustedPerson | None:
        """The trusted person in force at ``at`` (a pending change counts from ``change_at`` on)."""
        if self.change_pending and self.change_at is not None and at >= self.change_at:
            return self.next_trusted
        return self.trusted

    def settled(self, at: datetime) -> Profile:
        """The profile with a change whose cooling-off has passed by ``at`` applied."""
        if self.change_pending and self.change_at is not None and at >= self.change_at:
            return replace(self, trusted=self.next_trusted, change_pending=False, next_trusted=None, change_at=None)
        return self


def is_the_customer(person: TrustedPerson, phones: tuple[str, ...], customer_id: str | None) -> bool:
    """A trusted person must be someone else: not one of the customer's own numbers, not the customer's own id."""
    return person.phone in phones or (customer_id is not None and person.customer_id == customer_id)


def with_trusted(current: Profile | None, wanted: TrustedPerson | None, now: datetime,
                 cooling_off: timedelta = COOLING_OFF) -> tuple[TrustedPerson | None, bool, TrustedPerson | None,
                                                            datetime | None]:
    """``(trusted, change_pending, next_trusted, change_at)`` after the bank asks for ``wanted`` at ``now``.

    A first trusted person takes effect at once (it only adds protection). Removing or replacing one waits
    ``cooling_off`` from the latest request; asking again for the one in force cancels a pending change."""
    base = current.settled(now) if current is not None else None
    in_force = base.trusted if base is not None else None
    if in_force is None:
        return wanted, False, None, None
    if wanted == in_force:
        return in_force, False, None, None
    if base is not None and base.change_pending and base.next_trusted == wanted and base.change_at is not None:
        return in_force, True, wanted, base.change_at  # the same change asked again: its clock runs on
    return in_force, True, wanted, now + cooling_off


@dataclass(frozen=True, slots=True)
class Operation:
    """What the exchange knows of a transfer when it decides it."""

    amount: int  # minor units of ``currency``
    currency: str
    at: datetime
    new_payee: bool  # the payer never paid this payee before (scoring's first_time_payee)
    cash: bool  # a withdrawal in cash
    on_call: bool  # the payer is on a call (the bank says so, or telecoms reported a call from a flagged number)


def _in_currency(amount: int, currency: str, target: str) -> float | None:
    """``amount`` (minor units of ``currency``) in minor units of ``target`` at the reference rates; None when a
    currency has no rate."""
    if currency == target:
        return float(amount)
    if currency not in PER_BYN or target not in PER_BYN:
        return None
    byn = amount / 10 ** minor_exponent(currency) / PER_BYN[currency]
    return float(byn * PER_BYN[target] * 10 ** minor_exponent(target))


def triggers(profile: Profile, op: Operation) -> tuple[str, ...]:
    """Why ``op`` needs the trusted person's confirmation (empty: it does not, or no trusted person is in force)."""
    if profile.trusted_at(op.at) is None:
        return ()
    c = profile.confirm
    out: list[str] = []
    if c.new_payee and op.new_payee and not op.cash:
        out.append(NEW_PAYEE)
    if c.amount_above is not None:
        amount = _in_currency(op.amount, op.currency, c.currency)
        if amount is None or amount > c.amount_above:  # no rate: the bank's threshold cannot be shown unmet
            out.append(ABOVE_AMOUNT)
    if c.cash_withdrawal and op.cash:
        out.append(CASH_WITHDRAWAL)
    if c.during_call and op.on_call:
        out.append(DURING_CALL)
    return tuple(out)


def deadline(transfer_at: datetime, window: timedelta = CONFIRM_WINDOW) -> datetime:
    return transfer_at + window


# The states of a confirmation request; the last three are final.
PENDING, CONFIRMED, DECLINED, EXPIRED = "pending", "confirmed", "declined", "expired"
