"""Score a demo run against the world's ground truth (read here, after the run, and never before).

See docs/outcome.md. In short, per way of working (Zaslon, list-only, no exchange):
stolen = fraud-origin transfers; prevented = those it held or blocked; frozen = what banks froze on its
orders, counted only for money traced from fraud-origin transfers (so a false report's frozen money does
not count); friction = the share of legitimate transfers it held or blocked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from zaslon.core.outcome import Tally, summary
from zaslon.lab.demo import DemoRun, Scenario


def _truth(world: Path, ids: list[str]) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    tt = pl.read_parquet(world / "truth_transfers.parquet", columns=["transfer_id", "label", "scheme"])
    joined = pl.DataFrame({"transfer_id": ids}).join(tt, on="transfer_id", how="left", maintain_order="left")
    label = joined["label"].fill_null("legit")
    return ((label == "fraud_origin").to_numpy(), (label == "legit").to_numpy(), joined["scheme"].to_list())


def _frozen_by_scheme(sc: Scenario, scheme_of: dict[str, str | None]) -> dict[str, int]:
    """Frozen money per scheme, counting only money whose seed was a fraud-origin transfer."""
    out: dict[str, int] = {}
    for tid, frozen in sc.frozen_by_seed.items():
        scheme = scheme_of.get(tid)
        if scheme is not None and frozen:
            out[scheme] = out.get(scheme, 0) + frozen
    return out


def score_run(run: DemoRun, world: Path) -> dict[str, Any]:
    fraud, legit, scheme = _truth(world, run.transfer_ids)
    amount = run.amounts
    fraud_rows = np.nonzero(fraud)[0]
    scheme_of = {run.transfer_ids[i]: scheme[i] for i in fraud_rows.tolist()}  # fraud-origin only
    schemes = sorted({s for s in (scheme[i] for i in fraud_rows.tolist()) if s is not None})
    ti = pl.read_parquet(world / "truth_incidents.parquet", columns=["incident_id", "scheme"])
    incident_scheme = dict(ti.iter_rows())
    out: dict[str, Any] = {}
    by_scheme: dict[str, Any] = {}
    for name, sc in (("zaslon", run.zaslon), ("list_only", run.list_only), ("no_exchange", run.no_exchange)):
        frozen = _frozen_by_scheme(sc, scheme_of)
        held_legit = sc.stopped & legit
        total = Tally(
            stolen=int(amount[fraud].sum()), prevented=int(amount[fraud & sc.stopped].sum()),
            frozen=round(sum(frozen.values())), legit=int(legit.sum()), legit_held=int(held_legit.sum()),
            legit_held_amount=int(amount[held_legit].sum()), freeze_times_s=list(sc.freeze_times_s.values()),
        )
        out[name] = summary(total)
        if name != "zaslon":
            continue
        for s in schemes:
            mask = fraud & np.array([x == s for x in scheme], dtype=np.bool_)
            times = [t for inc, t in sc.freeze_times_s.items() if incident_scheme.get(inc) == s]
            by_scheme[s] = summary(Tally(
                stolen=int(amount[mask].sum()), prevented=int(amount[mask & sc.stopped].sum()),
                frozen=round(frozen.get(s, 0.0)), legit=total.legit, legit_held=total.legit_held,
                legit_held_amount=total.legit_held_amount, freeze_times_s=times,
            ))
    out["by_scheme"] = by_scheme
    out["run"] = {
        "transfers": len(run.transfer_ids), "incidents": run.incidents, "duplicates": run.duplicates,
        "rejected": run.rejected, "orders": run.orders, "declined": run.declined, "models": len(run.models),
    }
    out["zaslon"]["order_precision"] = _order_precision(run, world)
    out["zaslon"]["cashouts_allowed_after_order"] = run.cashouts_allowed_after_order
    if run.abroad is not None:
        out["zaslon"].update(run.abroad)
    out["transport"] = run.transport
    out["linking"] = _linking(run, world)
    out["drops"] = _drops(run, world)
    return out


def _pairs(counts: np.ndarray) -> int:
    return int((counts * (counts - 1) // 2).sum())


def score_cases(cases: dict[str, list[str]], world: Path) -> tuple[dict[str, float], pl.DataFrame]:
    """Pairwise precision, recall and F1 of ``cases`` (case -> the world's incident ids) against the groups behind
    the reports (a false report, or one outside any group, is its own group of one); also the joined frame
    (incident_id, case, scheme, g) for further figures."""
    rows = [(inc, case) for case, incs in cases.items() for inc in incs]
    truth = pl.read_parquet(world / "truth_incidents.parquet",
                            columns=["incident_id", "group_id", "is_false", "scheme"])
    t = pl.DataFrame(rows, schema=["incident_id", "case"], orient="row").join(truth, on="incident_id", how="left")
    gid = pl.col("group_id").cast(pl.Utf8)
    t = t.with_columns(pl.when(pl.col("is_false").fill_null(True) | gid.is_null() | gid.is_in(["", "-1"]))
                       .then(pl.lit("x") + pl.col("incident_id")).otherwise(gid).alias("g"))
    found = _pairs(t.group_by("case").len()["len"].to_numpy())
    true = _pairs(t.group_by("g").len()["len"].to_numpy())
    both = _pairs(t.group_by("case", "g").len()["len"].to_numpy())
    precision = both / found if found else 1.0
    recall = both / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairwise_precision": round(precision, 4), "pairwise_recall": round(recall, 4),
            "pairwise_f1": round(f1, 4)}, t


def _linking(run: DemoRun, world: Path) -> dict[str, Any]:
    """The exchange's own cases against the groups behind the reports."""
    if not any(run.cases.values()):
        return {"cases": 0, "pairwise_precision": 1.0, "pairwise_recall": 1.0, "pairwise_f1": 0.0}
    figures, _ = score_cases(run.cases, world)
    return {"cases": len(run.cases), **figures}


def _order_precision(run: DemoRun, world: Path) -> float | None:
    """The share of the ordered amount that sits on accounts the world's truth marks as drops or controlled by
    fraudsters (scored afterwards; the engine never reads it). None when no order went out."""
    total = sum(a for _, a in run.ordered)
    if not total:
        return None
    roles = pl.read_parquet(world / "truth_accounts.parquet", columns=["account_id", "role"])
    bad = set(roles.filter(pl.col("role").is_in(list(_BAD_ROLES)))["account_id"].to_list())
    return round(sum(a for acc, a in run.ordered if acc in bad) / total, 4)


_BAD_ROLES = ("transit_drop", "cashout_drop", "fraud_controlled")


def _drops(run: DemoRun, world: Path) -> dict[str, Any]:
    """The suspected drops the exchange published at the end of the run, against the world's drop roles."""
    roles = pl.read_parquet(world / "truth_accounts.parquet", columns=["account_id", "role"])
    bad = set(roles.filter(pl.col("role").is_in(["transit_drop", "cashout_drop"]))["account_id"].to_list())
    published = [str(d["account_id"]) for d in run.drops]
    hits = sum(a in bad for a in published)
    return {"published": len(published), "true": hits,
            "precision": round(hits / len(published), 4) if published else None}
