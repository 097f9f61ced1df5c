"""`zaslon bench link`: incremental linking speed on synthetic incidents with realistic overlap.

The generator (seeded, not timed) mimics what reports carry: groups of very different sizes (a few big
long-running ones, many small), each rotating its phones, drop accounts, domains and wallets over time, so
a group's incidents form chains of overlapping identifiers rather than one shared key; reports that name
a marketplace domain or a bank's hotline (hubs that must not link); each victim's own details (unique keys);
and a share of reports with no group behind them. Only ``Linker.add_quiet`` calls are timed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from zaslon.core.linking import Linker

HUBS = ["domain:kufar.by", "domain:onliner.by", "phone:+375172899292", "phone:+375172185353",
        "domain:t.me", "ip:178.124.0.1"]


def generate(n: int, seed: int) -> list[tuple[str, tuple[str, ...]]]:
    rng = np.random.default_rng(seed)
    # Group sizes: a heavy-tailed (Pareto, alpha 1.2) draw between 2 and 2,000 reports -- many small
    # groups, a few big long-running ones (the largest published: ~400 companies over eight years).
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(int(min(2000, 2 * (1 + rng.pareto(1.2)))))
    group = np.repeat(np.arange(len(sizes)), sizes)[:n]
    group = group[rng.permutation(n)]  # groups interleave in time
    n_groups = len(sizes)
    lone = rng.random(n) < 0.08  # false or one-off reports
    # Position of each incident inside its group's life, used to pick the rotating infrastructure.
    order = np.argsort(group, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    starts = np.searchsorted(group[order], np.arange(n_groups))
    rank[order] = np.arange(n) - starts[group[order]]
    del n_groups
    era = rank // 12  # a new phone / drop / domain every ~12 incidents; neighbours overlap
    k = rng.integers(0, 2, (n, 4))
    hub = rng.random(n) < 0.3
    hub_pick = rng.integers(0, len(HUBS), n)
    out: list[tuple[str, tuple[str, ...]]] = []
    for i in range(n):
        victim = f"email:victim{i}@mail.by"
        if lone[i]:
            keys: tuple[str, ...] = (victim, f"account:LONE{i}")
        else:
            g, e = group[i], era[i]
            keys = (
                f"phone:G{g}P{e + k[i, 0]}", f"account:G{g}A{e + k[i, 1]}", f"domain:g{g}d{e + k[i, 2]}.by",
                f"wallet:G{g}W{e + k[i, 3]}", f"flow:G{g}X{e // 4}", victim,
            )
        if hub[i]:
            keys = (*keys, HUBS[hub_pick[i]])
        out.append((f"inc-{i}", keys))
    return out


def run_bench(n: int, seed: int) -> dict[str, Any]:
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("generating", total=None)
        incidents = generate(n, seed)
        bar.update(task, description="linking", total=n, completed=0)
        linker = Linker()
        add = linker.add_quiet
        samples: list[float] = []
        clock = time.perf_counter
        cpu0 = time.process_time()
        t0 = clock()
        step = 10_000
        for start in range(0, n, step):
            chunk = incidents[start:start + step]
            for j, (iid, keys) in enumerate(chunk):
                if j % 97 == 0:  # sample single-add latency without timing every call
                    s = clock()
                    add(iid, keys)
                    samples.append(clock() - s)
                else:
                    add(iid, keys)
            bar.update(task, completed=start + len(chunk))
        seconds = clock() - t0
        cpu = time.process_time() - cpu0
    lat = np.array(samples) * 1000.0
    return {
        "incidents": n,
        "seconds": round(seconds, 2),
        "incidents_per_s": round(n / seconds),
        "cpu_seconds": round(cpu, 2),  # this process's CPU time: robust to other load on a shared machine
        "cases": len(linker.cases()),
        "hubs_suppressed": len(linker.hubs()),
        "events": linker.n_events,
        "add_ms_p50": round(float(np.percentile(lat, 50)), 4) if len(lat) else None,
        "add_ms_p99": round(float(np.percentile(lat, 99)), 4) if len(lat) else None,
        "add_ms_max_sampled": round(float(lat.max()), 3) if len(lat) else None,
        "seed": seed,
    }
