"""A reported-incidents history before the transfer window, so year-over-year statistics have a past to compare.

Each scheme's daily rate in the window (its distinct reported incidents / the window's days: a victim reporting
the same transfers twice is one) is carried back in time along the seed's trend: registered fraud fell by about
20% in a year and cybercrime overall by 11% (15,000 -> 13,400), so a fraud scheme's rate ``k`` years earlier is
``rate / 0.80**k`` and extortion's (a cybercrime that is not fraud) ``rate / 0.89**k``, continuously (an
exponential trend), with Poisson counts per day. A past incident copies a window incident of its scheme
(bootstrap) for the victim's kind, age band (minor, adult, 65+) and living alone, and its reported loss; the
victim is then a random party of that kind and band, so regions and districts follow the population. Written
to ``incidents_history.parquet``: no transfers, no indicators (the past is counted, not traced). Deterministic
for a seed, on its own random stream: the rest of the world is unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from zaslon.core.fx import to_byn_minor

FILE = "incidents_history.parquet"
MAX_YEARS = 10
ELDERLY_AGE = 65
ADULT_AGE = 18
# Yearly change of registered incidents (the seed article, Belarus): fraud -20%, cybercrime -11%.
FRAUD_CHANGE = -0.20
CYBER_CHANGE = -0.11
NOT_FRAUD = frozenset({"extortion"})


def yearly_change(scheme: str) -> float:
    return CYBER_CHANGE if scheme in NOT_FRAUD else FRAUD_CHANGE


def _age(birth: Any, at: datetime) -> int | None:
    if birth is None:
        return None
    years = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    return int(years)


def write_history(out: Path, *, years: int, seed: int, start: datetime, days: int, preset: str) -> dict[str, Any]:
    """Write ``years`` of reported incidents ending at ``start`` (the transfer window's first moment)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, sum(map(ord, preset)), 0x48495354]))
    inc = pl.read_parquet(out / "incidents.parquet").select("incident_id", "reported_at", "scheme",
                                                            "victim_party", "transfer_ids")
    # One victim reporting the same transfers through two channels is one registered incident (as the exchange's
    # intake counts it): the rates are of distinct incidents.
    inc = inc.with_columns(pl.col("transfer_ids").list.sort().list.join(",").alias("_key")).unique(
        ["victim_party", "_key"], keep="first", maintain_order=True).drop("_key")
    parties = pl.read_parquet(out / "parties.parquet").select("party_id", "kind", "birth_date", "region",
                                                              "district", "lives_alone")
    tx = pl.read_parquet(out / "transfers.parquet", columns=["transfer_id", "amount", "currency"])
    named = inc.select("incident_id", "transfer_ids").explode("transfer_ids").rename({"transfer_ids": "transfer_id"})
    named = named.join(tx, on="transfer_id", how="inner")
    byn = to_byn_minor(named["amount"].to_numpy().astype(np.int64), named["currency"].to_list())
    loss = dict(named.with_columns(pl.Series("byn", byn)).group_by("incident_id").agg(pl.col("byn").sum()).iter_rows())

    def group(kind: str | None, birth: Any, alone: bool | None, at: datetime) -> tuple[str, str, bool]:
        age = _age(birth, at)
        band = "-" if age is None else "elderly" if age >= ELDERLY_AGE else "adult" if age >= ADULT_AGE else "minor"
        return (kind or "person", band, bool(alone))

    prow = {r[0]: r for r in parties.iter_rows()}
    ref = start
    pool: dict[tuple[str, str, bool], list[int]] = {}
    for k, (_pid, kind, birth, _reg, _dist, alone) in enumerate(parties.iter_rows()):
        pool.setdefault(group(kind, birth, alone, ref), []).append(k)
    templates: dict[str, list[tuple[tuple[str, str, bool], int | None]]] = {}
    for iid, _at, scheme, victim, _t in inc.iter_rows():
        p = prow.get(victim)
        g = group(p[1], p[2], p[5], ref) if p else ("person", "adult", False)
        templates.setdefault(scheme, []).append((g, loss.get(iid)))
    party_rows = parties.rows()
    out_rows: list[dict[str, Any]] = []
    total_days = years * 365
    for scheme in sorted(templates):
        rate = len(templates[scheme]) / max(days, 1)
        change = yearly_change(scheme)
        for day in range(total_days, 0, -1):
            years_back = (day - 0.5) / 365.0
            lam = rate / (1.0 + change) ** years_back
            for _ in range(int(rng.poisson(lam))):
                at = start - timedelta(days=day) + timedelta(seconds=float(rng.uniform(0, 86_400)))
                g, stolen = templates[scheme][int(rng.integers(len(templates[scheme])))]
                if g[1] == "minor":  # a child's report is taken from a parent: an adult in the register
                    g = (g[0], "adult", g[2])
                members = pool.get(g) or pool[next(iter(pool))]
                p = party_rows[members[int(rng.integers(len(members)))]]
                out_rows.append({"scheme": scheme, "reported_at": at, "victim_party": p[0], "region": p[3],
                                 "district": p[4], "victim_age": _age(p[2], at),
                                 "victim_lives_alone": None if p[1] != "person" else bool(p[5]),
                                 "stolen": stolen})
    out_rows.sort(key=lambda r: (r["reported_at"], r["scheme"]))
    frame = pl.DataFrame(out_rows, schema={
        "scheme": pl.String, "reported_at": pl.Datetime("us", "UTC"), "victim_party": pl.String,
        "region": pl.String, "district": pl.String, "victim_age": pl.Int16, "victim_lives_alone": pl.Boolean,
        "stolen": pl.Int64})
    frame = frame.with_columns(pl.format("H{}", pl.int_range(pl.len()).cast(pl.String).str.zfill(7))
                               .alias("history_id")).select("history_id", *frame.columns)
    frame.write_parquet(out / FILE, compression="zstd", statistics=True)
    per_year = {}
    for y in range(1, years + 1):
        lo, hi = start - timedelta(days=365 * y), start - timedelta(days=365 * (y - 1))
        per_year[f"-{y}"] = int(frame.filter((pl.col("reported_at") >= lo) & (pl.col("reported_at") < hi)).height)
    return {"years": years, "incidents": frame.height, "label": "simulated",
            "from": (start - timedelta(days=total_days)).astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "to": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "incidents_per_year_back": per_year,
            "yearly_change": {s: yearly_change(s) for s in sorted(templates)}}
