"""The money outcome of a run: stolen, prevented, frozen, saved, lost, and the friction on legitimate users.

See docs/outcome.md for how each figure is counted. Pure: the caller passes the tallies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Tally:
    """Money in minor units, counts of legitimate transfers, processing times in seconds."""

    stolen: int = 0
    prevented: int = 0
    frozen: int = 0
    legit: int = 0
    legit_held: int = 0
    legit_held_amount: int = 0
    freeze_times_s: list[float] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(t: Tally, *, exponent: int = 2) -> dict[str, float | int | None]:
    """The contract figures, money in major units. ``saved`` never exceeds ``stolen``."""
    scale = 10**exponent
    saved = min(t.prevented + t.frozen, t.stolen)
    p50 = percentile(t.freeze_times_s, 50)
    p99 = percentile(t.freeze_times_s, 99)
    return {
        "stolen": t.stolen / scale,
        "prevented": t.prevented / scale,
        "frozen": t.frozen / scale,
        "saved": saved / scale,
        "lost": (t.stolen - saved) / scale,
        "saved_share": round(saved / t.stolen, 4) if t.stolen else 0.0,
        "legit_hold_rate": round(t.legit_held / t.legit, 6) if t.legit else 0.0,
        "legit_held": t.legit_held,
        "legit_held_amount": t.legit_held_amount / scale,
        "time_to_freeze_p50_s": None if p50 is None else round(p50, 6),
        "time_to_freeze_p99_s": None if p99 is None else round(p99, 6),
        "freeze_count": len(t.freeze_times_s),
    }
