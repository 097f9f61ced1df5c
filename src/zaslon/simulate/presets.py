"""World sizes. Fraud intensity is deliberately far above Belarus's real rate (about 13,400 cybercrimes a
year for 9.2M people would give a 50,000-person month only ~6 victims) so that a small world holds enough
cases to trace and link; it still stays well under 1% of transfers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from zaslon.errors import InvalidInput


@dataclass(frozen=True)
class Preset:
    name: str
    persons: int
    days: int
    start: date  # local (Europe/Minsk) date of day 0; a Monday
    victims: int  # victims of the rotating schemes (vishing, phishing, investment, courier)
    groups: int  # organised groups running those schemes
    bec_domestic: int  # the long-running fake-director group's domestic company victims
    bec_foreign: int  # ... and its foreign (Russian) company victims
    extortion: int  # victims of the phone-locking extortion community
    chunk_days: int = 1  # legit traffic is generated and written a day at a time


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", persons=4_000, days=14, start=date(2026, 3, 2), victims=24, groups=3,
                   bec_domestic=6, bec_foreign=2, extortion=4),
    "small": Preset("small", persons=50_000, days=28, start=date(2026, 3, 2), victims=420, groups=8,
                    bec_domestic=30, bec_foreign=10, extortion=40),
    # The long-running group's 300 + 100 companies were hit over years (since 2017); the large world
    # compresses that history into its 28 days so the group keeps its published scale.
    "large": Preset("large", persons=560_000, days=28, start=date(2026, 3, 2), victims=4_200, groups=24,
                    bec_domestic=300, bec_foreign=100, extortion=40),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}", field="preset"
        ) from None
