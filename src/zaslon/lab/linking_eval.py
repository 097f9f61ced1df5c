"""`zaslon eval linking`: run a simulated world through the Exchange, then score its own cases and drop ranking.

The world's banks, telecoms and police act as clients of one in-process Exchange (``zaslon.lab.demo``, the same
run the demo makes): incidents are linked into cases by the product as they arrive, at their report time, from
what the exchange may see. At the end the Exchange ranks every account as a likely drop, seeded with what it was
told. Only then are the ``truth_*`` tables opened, to score the Exchange's cases and ranking.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from zaslon.core.mules import average_precision, precision_at
from zaslon.errors import InvalidInput
from zaslon.lab.outcome import score_cases


def simulate_world(preset: str, seed: int) -> Path:
    """Generate a world into a new temporary directory (in this process, as ``zaslon simulate`` does)."""
    import shutil

    from zaslon.simulate.world import generate

    out = Path(tempfile.mkdtemp(prefix=f"zaslon-{preset}-"))
    try:
        generate(preset, seed, out)
    except (InvalidInput, OSError) as exc:
        shutil.rmtree(out, ignore_errors=True)
        reason = exc.message if isinstance(exc, InvalidInput) else str(exc)
        raise InvalidInput(f"simulate failed: {reason}", field="preset") from exc
    return out


def run_world(world: Path) -> tuple[Any, Any, int]:
    """The world through a fresh in-process Exchange (SQLite in a temporary directory): (run, drop ranking,
    how many shared keys the Exchange's linker suppressed as hubs)."""
    from zaslon.adapters.db.engine import make_engine, upgrade
    from zaslon.flow.exchange import Exchange
    from zaslon.lab.demo import DemoConfig, run_demo
    from zaslon.lab.parties import Parties
    from zaslon.lab.transport import InProcess
    from zaslon.settings import Settings
    from zaslon.simulate.load import load_world

    w = load_world(world)
    with tempfile.TemporaryDirectory(prefix="zaslon-eval-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'eval.db'}"
        upgrade(url)
        engine = make_engine(url)
        parties = Parties.create(engine, w)
        exchange = Exchange(engine, Settings(database_url=url, ledger_lag_s=3600.0), follow_ledger=True)
        try:
            run = run_demo(w, InProcess(exchange, parties.principals, parties.desk), banks=parties.banks,
                           desk=parties.desk, telecom_of=parties.telecoms, cfg=DemoConfig())
            ranking = exchange.rank_drops()
            hubs = len(exchange.cases.linker.hubs())
        finally:
            exchange.close()
            engine.dispose()
    return run, ranking, hubs


def eval_world(world: Path) -> dict[str, Any]:
    run, ranked, hubs = run_world(world)
    # ---- everything above saw no truth; score it now ----
    figures, t = score_cases(run.cases, world)
    real = t.filter(~pl.col("g").str.starts_with("x"))
    # The long-running fake-director group: the group with most fake-director reports.
    fd = real.filter(pl.col("scheme") == "fake_director")
    fd_share = None
    if len(fd):
        gid = fd.group_by("g").len().sort("len", descending=True)["g"][0]
        members = real.filter(pl.col("g") == gid)
        fd_share = float(members.group_by("case").len()["len"].max()) / len(members)  # type: ignore[arg-type]
    roles = pl.read_parquet(world / "truth_accounts.parquet", columns=["account_id", "role"])
    bad = set(roles.filter(pl.col("role").is_in(["transit_drop", "cashout_drop"]))["account_id"])
    # Every account the world has, scored by the Exchange's ranking (an account it never saw scores 0).
    accounts = pl.read_parquet(world / "accounts.parquet", columns=["account_id"])["account_id"].to_list()
    scores = ranked.scores()
    account_ids = list(dict.fromkeys([*accounts, *ranked.ids]))
    s = np.array([scores.get(a, 0.0) for a in account_ids])
    labels = np.array([a in bad for a in account_ids])
    return {
        "incidents": run.incidents,  # reports in the world
        "incidents_linked": len(t),  # distinct incidents in the Exchange's cases (repeats are one)
        **figures,
        "groups_true": int(real["g"].n_unique()),
        "groups_found": int((t.group_by("case").len()["len"] >= 2).sum()),
        "cases": int(t["case"].n_unique()),
        "fake_director_largest_case_share": None if fd_share is None else round(fd_share, 4),
        "fake_director_one_case": fd_share == 1.0,
        "hubs_suppressed": hubs,
        "accounts_ranked": len(account_ids),
        "drops_true": int(labels.sum()),
        "mule_average_precision": round(average_precision(s, labels), 4),
        "mule_precision_at_100": round(precision_at(s, labels, 100), 4),
        "measured": "the Exchange's own cases and drop ranking",
    }
