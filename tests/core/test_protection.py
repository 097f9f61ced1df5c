"""The trusted person's rules, pure: age bands, the cooling-off of a change, what needs confirmation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from zaslon.core import protection as p
from zaslon.core.features import ELDERLY_AGE

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
OLGA = p.TrustedPerson("Olga", "+375297778899", "daughter")
PAVEL = p.TrustedPerson("Pavel", "+375334445566", "son")


def profile(trusted: p.TrustedPerson | None = OLGA, **confirm: object) -> p.Profile:
    c = p.Confirm(**confirm) if confirm else p.Confirm(new_payee=True, amount_above=50_000, cash_withdrawal=True,
                                                       during_call=True)
    return p.Profile("ACC", "AKBBBY2X", "75-84", True, ("+375291112233",), c, trusted, T0, T0)


def op(**over: object) -> p.Operation:
    base: dict[str, object] = {"amount": 10_000, "currency": "BYN", "at": T0, "new_payee": False, "cash": False,
                               "on_call": False}
    return p.Operation(**{**base, **over})  # type: ignore[arg-type]


def test_age_bands() -> None:
    on = date(2026, 3, 2)
    assert p.band_of(date(1946, 5, 1), on) == "75-84"
    assert p.band_of(date(1961, 3, 2), on) == "65-74" and p.band_of(date(1961, 3, 3), on) == "under_65"
    assert p.band_of(date(1930, 1, 1), on) == "85+"


@pytest.mark.parametrize("band", ["65-74", "75-84", "85+"])
def test_a_band_alone_gives_a_birth_date_scoring_counts_as_elderly(band: str) -> None:
    # Every day of four years (all leap-year positions): inside the band, and elderly by scoring's year of days.
    for n in range(4 * 366):
        on = date(2026, 1, 1) + timedelta(days=n)
        born = p.birth_date_for_band(band, on)
        assert born is not None and p.band_of(born, on) == band
        assert (on.toordinal() - born.toordinal()) / 365.2425 >= ELDERLY_AGE
    assert p.birth_date_for_band("under_65", date(2026, 1, 1)) is None


def test_a_first_trusted_person_counts_at_once_a_change_after_24_hours() -> None:
    assert p.with_trusted(None, OLGA, T0) == (OLGA, False, None, None)
    cur = profile(trusted=None)
    assert p.with_trusted(cur, OLGA, T0) == (OLGA, False, None, None)
    cur = profile()
    assert p.with_trusted(cur, OLGA, T0) == (OLGA, False, None, None)  # nothing changes
    trusted, pending, nxt, at = p.with_trusted(cur, PAVEL, T0)
    assert (trusted, pending, nxt, at) == (OLGA, True, PAVEL, T0 + timedelta(hours=24))
    waiting = replace(cur, change_pending=True, next_trusted=PAVEL, change_at=at)
    # The same change asked again keeps its clock; another one (a removal) starts a new 24 h.
    assert p.with_trusted(waiting, PAVEL, T0 + timedelta(hours=5))[3] == at
    assert p.with_trusted(waiting, None, T0 + timedelta(hours=5)) == (OLGA, True, None, T0 + timedelta(hours=29))
    # Asking for the one in force cancels the pending change.
    assert p.with_trusted(waiting, OLGA, T0 + timedelta(hours=5)) == (OLGA, False, None, None)
    # In force before change_at, the new one from then on; after it, a new request starts from the new one.
    assert waiting.trusted_at(at - timedelta(seconds=1)) == OLGA and waiting.trusted_at(at) == PAVEL
    assert waiting.settled(at).trusted == PAVEL and not waiting.settled(at).change_pending
    assert p.with_trusted(waiting, PAVEL, at + timedelta(hours=1)) == (PAVEL, False, None, None)


def test_what_needs_the_trusted_person() -> None:
    prof = profile()
    assert p.triggers(prof, op()) == ()
    assert p.triggers(prof, op(new_payee=True)) == ("new_payee",)
    assert p.triggers(prof, op(amount=50_000)) == ()  # "above" the threshold: not at it
    assert p.triggers(prof, op(amount=50_001)) == ("amount_above",)
    assert p.triggers(prof, op(cash=True, new_payee=True)) == ("cash_withdrawal",)  # cash is no payee
    assert p.triggers(prof, op(on_call=True, new_payee=True)) == ("new_payee", "during_call")
    # Another currency at the reference rates (1 BYN = 28 RUB): 14,000 RUB is 500 BYN, not above 500.00 BYN.
    assert p.triggers(prof, op(amount=1_400_000, currency="RUB")) == ()
    assert p.triggers(prof, op(amount=1_400_100, currency="RUB")) == ("amount_above",)
    assert p.triggers(prof, op(amount=1, currency="CHF")) == ("amount_above",)  # no rate: not shown unmet
    # Only what the customer chose; and nothing without a trusted person in force.
    assert p.triggers(profile(new_payee=True), op(amount=10**9, cash=True, on_call=True)) == ()
    assert p.triggers(profile(trusted=None), op(new_payee=True, on_call=True)) == ()
    removal = replace(prof, change_pending=True, next_trusted=None, change_at=T0 + timedelta(hours=24))
    assert p.triggers(removal, op(new_payee=True, at=T0 + timedelta(hours=23))) == ("new_payee",)
    assert p.triggers(removal, op(new_payee=True, at=T0 + timedelta(hours=24))) == ()


def test_the_trusted_person_is_someone_else() -> None:
    phones = ("+375291112233",)
    assert p.is_the_customer(p.TrustedPerson("Me", "+375291112233"), phones, None)
    assert p.is_the_customer(p.TrustedPerson("Me", "+375440000000", customer_id="c-1"), phones, "c-1")
    assert not p.is_the_customer(OLGA, phones, "c-1")
    assert not p.is_the_customer(p.TrustedPerson("Olga", "+375440000000", customer_id=None), phones, None)
    assert p.deadline(T0) == T0 + timedelta(hours=12)
