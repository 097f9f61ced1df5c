"""The offline map of Belarus the couriers page draws: an approximate national outline (about 50 km accuracy,
traced by hand from public maps, enough to place an ATM relative to the borders), the regional centres and the
road border crossings (``zaslon.simulate.geo``: the same facts the simulated couriers head for). No tile server."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from zaslon.simulate.geo import BORDER_CROSSINGS, REGIONS

# (lat, lon), clockwise from the Latvian-Lithuanian tripoint.
OUTLINE: tuple[tuple[float, float], ...] = (
    (55.67, 26.63), (55.95, 27.25), (56.10, 27.65), (56.17, 28.15), (56.00, 28.35), (55.90, 29.00),
    (55.75, 29.45), (55.80, 30.20), (55.60, 30.90), (55.30, 30.85), (55.05, 30.95), (54.80, 30.80),
    (54.55, 31.15), (54.30, 31.30), (54.05, 31.70), (53.80, 32.35), (53.55, 32.75), (53.25, 32.60),
    (53.05, 32.15), (52.80, 31.80), (52.55, 31.60), (52.20, 31.75), (52.05, 31.25), (51.75, 30.85),
    (51.40, 30.60), (51.27, 30.35), (51.45, 29.85), (51.50, 29.20), (51.40, 28.75), (51.55, 28.25),
    (51.55, 27.70), (51.65, 26.85), (51.75, 26.10), (51.85, 25.40), (51.90, 24.70), (51.70, 24.30),
    (51.55, 23.65), (51.85, 23.60), (52.10, 23.50), (52.30, 23.20), (52.60, 23.60), (52.85, 23.90),
    (53.15, 23.90), (53.50, 23.60), (53.92, 23.50), (54.10, 23.85), (54.15, 24.50), (54.00, 25.05),
    (54.20, 25.55), (54.35, 25.75), (54.60, 25.75), (54.80, 25.85), (54.95, 26.20), (55.20, 26.65),
    (55.45, 26.55),
)
LAT0, LAT1, LON0, LON1 = 51.1, 56.3, 23.0, 33.0
WIDTH = 760
_KX = math.cos(math.radians(53.7))  # degrees of longitude are shorter here than degrees of latitude
HEIGHT = round(WIDTH * (LAT1 - LAT0) / ((LON1 - LON0) * _KX))


def xy(lat: float, lon: float) -> tuple[float, float]:
    return (round((lon - LON0) / (LON1 - LON0) * WIDTH, 1), round((LAT1 - lat) / (LAT1 - LAT0) * HEIGHT, 1))


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) between two (lat, lon)."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@dataclass(frozen=True, slots=True)
class Crossing:
    name: str
    neighbour: str
    x: float
    y: float
    lat: float
    lon: float


CROSSINGS = tuple(Crossing(name, nb, *xy(lat, lon), lat, lon) for name, _d, lat, lon, nb in BORDER_CROSSINGS)
CENTRES = tuple((region, *xy(lat, lon)) for region, (_s, lat, lon, _d) in REGIONS.items() if region != "Minsk Region")
OUTLINE_POINTS = " ".join(f"{x},{y}" for x, y in (xy(lat, lon) for lat, lon in OUTLINE))


def nearest_crossing(lat: float, lon: float, crossings: Sequence[Crossing] = CROSSINGS) -> tuple[Crossing, float]:
    best = min(crossings, key=lambda c: km((lat, lon), (c.lat, c.lon)))
    return best, km((lat, lon), (best.lat, best.lon))
