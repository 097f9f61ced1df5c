"""The distributions ``--report`` prints and ``manifest.json`` records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from zaslon.simulate.fraud import SCHEMES, FraudWorld
from zaslon.simulate.laundering import CASH_OUT, CASHOUT, CONTROLLED, LABELS, ORIGIN, TRANSIT
from zaslon.simulate.population import HOUR_US, MIN_US, Population, day_start_us
from zaslon.simulate.presets import Preset

DELAY_BUCKETS = [("<1h", 60), ("1-6h", 360), ("6-24h", 1440), ("1-3d", 4320), (">3d", float("inf"))]


def manifest(pre: Preset, seed: int, pop: Population, fw: FraudWorld, fb: dict[str, np.ndarray],
             inc: dict[str, list], n_transfers: int, n_accounts: int, n_calls: int, persons: int,  # type: ignore[type-arg]
             n_legit: int) -> dict[str, Any]:
    in_run = fb["ts"] < day_start_us(pre, pre.days)
    fb = {k: v[in_run] for k, v in fb.items()}
    n_fraud = int(fb["ts"].size)
    victims = fw.victims
    schemes = {s: 0 for s in SCHEMES}
    for v in victims:
        schemes[SCHEMES[v.scheme]] += 1
    age = pop.age[:persons]
    elderly = age >= 65
    cash = fb["label"] == CASH_OUT
    lag = fb["ts"][cash] - fb["origin_ts"][cash]  # from the victim's transfer that started the money
    last = {v.party: v.last for v in victims}
    delays = np.array([(t - last[p]) / MIN_US for t, p, f in zip(inc["reported_at"], inc["victim_party"],
                                                                  inc["is_false"], strict=True) if not f])
    buckets: dict[str, int] = {}
    lo = 0.0
    for name, hi in DELAY_BUCKETS:
        buckets[name] = int(((delays >= lo) & (delays < hi)).sum()) if delays.size else 0
        lo = hi
    finals = np.isin(fb["label"], [3, 4])
    origin_payees: dict[int, set[int]] = {}
    for payee, lab, vic in zip(fb["payee"], fb["label"], fb["victim"], strict=True):
        if lab == ORIGIN:
            origin_payees.setdefault(int(payee), set()).add(int(vic))
    roles = [r for r, _ in fw.book.role.values()]
    reported = {p for p, f in zip(inc["victim_party"], inc["is_false"], strict=True) if not f}
    groups = {}
    for g in fw.groups:
        gv = [v for v in victims if v.group == g.gid]
        groups[g.name] = {"schemes": [SCHEMES[s] for s in g.schemes], "victims": len(gv),
                          "drops": len(g.transit) + len(g.cashout),
                          "pattern_change_at": _iso(g.switch_at) if g.switch_at else None}
    stolen = int(sum(fb["amount"][fb["label"] == ORIGIN][fb["currency"][fb["label"] == ORIGIN] == 0]))
    return {
        "preset": pre.name, "seed": seed, "start": _iso(day_start_us(pre, 0)), "days": pre.days,
        "counts": {"persons": persons, "accounts": n_accounts, "transfers": n_transfers,
                   "fraud_transfers": n_fraud, "incidents": len(inc["text"]), "calls": n_calls,
                   "legit_transfers": n_legit, "parties": pop.n, "victims": len(victims),
                   "false_incidents": int(sum(inc["is_false"]))},
        "schemes": schemes,
        "max_hops": int(fb["hop"].max()) if n_fraud else 0,
        "fraud_share": round(n_fraud / max(1, n_transfers), 6),
        "typology": {LABELS[i]: int((fb["label"] == i).sum()) for i in range(1, len(LABELS))},
        "fraud_transfers_by_scheme": {s: int((fb["scheme"] == i).sum()) for i, s in enumerate(SCHEMES)},
        "hop_histogram": {str(h): int((fb["hop"] == h).sum()) for h in range(0, 6)},
        "chain_length_histogram": {str(h): int((fb["hop"][finals] == h).sum()) for h in range(1, 6)},
        "report_delay": {"buckets": buckets,
                         "median_minutes": round(float(np.median(delays)), 1) if delays.size else None},
        "victims_reported_share": round(len(reported & set(last)) / max(1, len(victims)), 4),
        "cash_out_within_1h_share": round(float((lag <= HOUR_US).mean()), 4) if lag.size else None,
        "elderly_share": round(float(elderly.mean()), 4),
        "elderly_living_alone_share": round(float(pop.lives_alone[:persons][elderly].mean()), 4),
        "drops": {"transit": roles.count(TRANSIT), "cash_out": roles.count(CASHOUT),
                  "fraud_controlled": roles.count(CONTROLLED),
                  "first_hop_drops_shared_by_victims": sum(len(v) > 1 for v in origin_payees.values()),
                  "first_hop_drops": len(origin_payees),
                  "victims_whose_first_drop_is_shared_share": round(
                      len(set().union(*[v for v in origin_payees.values() if len(v) > 1]))
                      / max(1, len(set().union(*origin_payees.values()))), 4) if origin_payees else 0.0},
        "stolen_byn_minor": stolen + int(sum(v.cash for v in victims)),
        "groups": groups,
        "incidents_by_language": _count(inc["language"]),
        "incidents_by_reporter": _count(inc["reporter_kind"]),
    }


def _count(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat().replace("+00:00", "Z")
