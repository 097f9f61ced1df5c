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


def _pairs(counts: np.ndarray) -> int:
    return int((counts * (counts - 1) // 2).sum())


def eval_world(world: Path) -> dict[str, Any]:
    run, ranked, hubs = run_world(world)
    case_of = {inc: case for case, incs in run.cases.items() for inc in incs}
    incident_ids = sorted(case_of)
    # ---- everything above saw no truth; score it now ----
    truth = pl.read_parquet(world / "truth_incidents.parquet")
    t = pl.DataFrame({"incident_id": incident_ids, "case": [case_of[i] for i in incident_ids]}).join(
        truth.select("incident_id", "group_id", "is_false", "scheme"), on="incident_id", how="left")
    # A false report, or one outside any group, is its own group of one.
    gid = pl.col("group_id").cast(pl.Utf8)
    t = t.with_columns(pl.when(pl.col("is_false").fill_null(True) | gid.is_null() | gid.is_in(["", "-1"]))
                       .then(pl.lit("x") + pl.col("incident_id")).otherwise(gid).alias("g"))
    found = _pairs(t.group_by("case").len()["len"].to_numpy())
    true = _pairs(t.group_by("g").len()["len"].to_numpy())
    both = _pairs(t.group_by("case", "g").len()["len"].to_numpy())
    precision = both / found if found else 1.0
    recall = both / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
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
        "incidents_linked": len(incident_ids),  # distinct incidents in the Exchange's cases (repeats are one)
        "pairwise_f1": round(f1, 4),
        "pairwise_precision": round(precision, 4),
        "pairwise_recall": round(recall, 4),
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
