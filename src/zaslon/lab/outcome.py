"""Score a demo run against the world's ground truth (read here, after the run, and never before).

See docs/outcome.md. In short, per way of working (Zaslon, list-only, no exchange):
stolen = fraud-origin transfers and cash handed to couriers at the door; prevented = those transfers it held or
blocked, and (Zaslon only) the courier cash whose pickup an at-door courier risk alert to the district officer
preceded; frozen = what banks froze on its orders, counted only for money traced from fraud-origin transfers (so
a false report's frozen money does not count); friction = the share of legitimate transfers it held or blocked.
``elderly_alone`` is the same for victims aged 65+ living alone (their friction: legitimate transfers by people
aged 65+ living alone); ``courier`` counts the courier pickups and the share an alert preceded.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
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


# An alert counts for a pickup when it came in the day before it (an older one was about another call).
ALERT_BEFORE_PICKUP = timedelta(hours=24)
# Worlds generated before ``truth_victims.courier_pickup``: the earliest pickup the simulator draws.
EARLIEST_PICKUP = timedelta(hours=1)


def _couriers(run: DemoRun, world: Path) -> pl.DataFrame:
    """Each courier pickup (victim, cash in BYN kopecks, pickup time) and whether an alert preceded it."""
    tv = pl.read_parquet(world / "truth_victims.parquet")
    tv = tv.filter(pl.col("cash_to_courier") > 0)
    if "courier_pickup" not in tv.columns:
        tv = tv.with_columns((pl.col("first_contact") + EARLIEST_PICKUP).alias("courier_pickup"))
    pickups = tv.select("victim_party", pl.col("cash_to_courier").alias("cash"),
                        pl.col("courier_pickup").dt.epoch("us").alias("pickup_us"))
    alerts: dict[str, list[int]] = {}
    for person, at in run.courier_alerts:
        alerts.setdefault(person, []).append(at)
    before = int(ALERT_BEFORE_PICKUP / timedelta(microseconds=1))
    alerted = [any(p - before <= a < p for a in alerts.get(v, ())) for v, p in
               zip(pickups["victim_party"].to_list(), pickups["pickup_us"].to_list(), strict=True)]
    return pickups.with_columns(pl.Series("alerted", alerted, dtype=pl.Boolean))


def _elderly_alone_parties(world: Path) -> set[str]:
    """Parties aged 65+ on the world's first day and living alone."""
    parties = pl.read_parquet(world / "parties.parquet")
    if not {"birth_date", "lives_alone"} <= set(parties.columns):
        return set()
    manifest = world / "manifest.json"
    start = json.loads(manifest.read_text()).get("start") if manifest.is_file() else None
    # The world starts at local (Europe/Minsk, UTC+3) midnight, written in UTC.
    day0 = (datetime.fromisoformat(start) + timedelta(hours=3)).date() if start else date(2026, 3, 2)
    born = pl.col("birth_date")
    age = (pl.lit(day0.year) - born.dt.year()
           - ((born.dt.month() * 100 + born.dt.day()) > day0.month * 100 + day0.day).cast(pl.Int32))
    old = parties.filter(pl.col("lives_alone").fill_null(False) & born.is_not_null() & (age >= 65))
    return set(old["party_id"].to_list())


def score_run(run: DemoRun, world: Path) -> dict[str, Any]:
    fraud, legit, scheme = _truth(world, run.transfer_ids)
    amount = run.amounts
    fraud_rows = np.nonzero(fraud)[0]
    scheme_of = {run.transfer_ids[i]: scheme[i] for i in fraud_rows.tolist()}  # fraud-origin only
    schemes = sorted({s for s in (scheme[i] for i in fraud_rows.tolist()) if s is not None})
    ti = pl.read_parquet(world / "truth_incidents.parquet", columns=["incident_id", "scheme"])
    incident_scheme = dict(ti.iter_rows())
    # Cash handed to couriers is stolen in every way of working; only Zaslon's alerts can prevent it.
    couriers = _couriers(run, world)
    cash = int(couriers["cash"].sum() or 0)
    cash_alerted = int(couriers.filter(pl.col("alerted"))["cash"].sum() or 0)
    out: dict[str, Any] = {}
    by_scheme: dict[str, Any] = {}
    for name, sc in (("zaslon", run.zaslon), ("list_only", run.list_only), ("no_exchange", run.no_exchange)):
        frozen = _frozen_by_scheme(sc, scheme_of)
        held_legit = sc.stopped & legit
        total = Tally(
            stolen=int(amount[fraud].sum()) + cash,
            prevented=int(amount[fraud & sc.stopped].sum()) + (cash_alerted if name == "zaslon" else 0),
            frozen=round(sum(frozen.values())), legit=int(legit.sum()), legit_held=int(held_legit.sum()),
            legit_held_amount=int(amount[held_legit].sum()), freeze_times_s=list(sc.freeze_times_s.values()),
        )
        out[name] = summary(total)
        if name != "zaslon":
            continue
        if cash and "courier" not in schemes:
            schemes.append("courier")
        for s in schemes:
            mask = fraud & np.array([x == s for x in scheme], dtype=np.bool_)
            times = [t for inc, t in sc.freeze_times_s.items() if incident_scheme.get(inc) == s]
            extra = (cash, cash_alerted) if s == "courier" else (0, 0)
            by_scheme[s] = summary(Tally(
                stolen=int(amount[mask].sum()) + extra[0], prevented=int(amount[mask & sc.stopped].sum()) + extra[1],
                frozen=round(frozen.get(s, 0.0)), legit=total.legit, legit_held=total.legit_held,
                legit_held_amount=total.legit_held_amount, freeze_times_s=times,
            ))
    out["by_scheme"] = by_scheme
    out["elderly_alone"] = _elderly_alone(run, world, fraud, legit, scheme, couriers)
    n_alerted = int(couriers["alerted"].sum() or 0)
    out["courier"] = {
        "stolen": cash / 100, "pickups": couriers.height, "alerted_before_pickup": n_alerted,
        "alerted_before_pickup_share": round(n_alerted / couriers.height, 4) if couriers.height else 0.0,
        "prevented": cash_alerted / 100, "alerts": len(run.courier_alerts),
        # Alerts about people who were no courier victim: the officers' visits that found no courier coming.
        "alerts_on_others": sum(p not in set(couriers["victim_party"].to_list()) for p, _ in run.courier_alerts),
    }
    out["run"] = {
        "transfers": len(run.transfer_ids), "incidents": run.incidents, "duplicates": run.duplicates,
        "rejected": run.rejected, "orders": run.orders, "declined": run.declined, "models": len(run.models),
    }
    out["zaslon"]["order_precision"] = _order_precision(run, world)
    out["zaslon"]["cashouts_allowed_after_order"] = run.cashouts_allowed_after_order
    if run.abroad is not None:
        abroad = dict(run.abroad)
        abroad.update(_case_links_abroad(abroad.pop("partner_case_links", []),  # type: ignore[arg-type]
                                         abroad.pop("partner_case_links_there", []), world))  # type: ignore[arg-type]
        out["zaslon"].update(abroad)
    for key in out["zaslon"]:  # the same keys as Zaslon's; a figure not split by victim (partners') is None
        out["elderly_alone"].setdefault(key, None)
    out["transport"] = run.transport
    out["linking"] = _linking(run, world)
    out["drops"] = _drops(run, world)
    return out


def _elderly_alone(run: DemoRun, world: Path, fraud: np.ndarray, legit: np.ndarray, scheme: list[str | None],
                   couriers: pl.DataFrame) -> dict[str, Any]:
    """The Zaslon figures for victims aged 65+ living alone: their fraud-origin transfers and courier cash; the
    friction on legitimate transfers by people aged 65+ living alone; and the saved share of vishing alone."""
    old = _elderly_alone_parties(world)
    tt = pl.read_parquet(world / "truth_transfers.parquet", columns=["transfer_id", "victim_party"])
    tx = pl.read_parquet(world / "transfers.parquet", columns=["transfer_id", "payer"])
    owner = pl.read_parquet(world / "accounts.parquet", columns=["account_id", "party_id"])
    frame = (pl.DataFrame({"transfer_id": run.transfer_ids})
             .join(tt, on="transfer_id", how="left", maintain_order="left")
             .join(tx, on="transfer_id", how="left", maintain_order="left")
             .join(owner, left_on="payer", right_on="account_id", how="left", maintain_order="left"))
    olds = sorted(old)
    victim_old = frame["victim_party"].is_in(olds).fill_null(False).to_numpy()
    payer_old = frame["party_id"].is_in(olds).fill_null(False).to_numpy()
    sc, amount = run.zaslon, run.amounts
    ids = run.transfer_ids
    mine = couriers.filter(pl.col("victim_party").is_in(olds))
    cash, cash_alerted = int(mine["cash"].sum() or 0), int(mine.filter(pl.col("alerted"))["cash"].sum() or 0)
    incidents = pl.read_parquet(world / "incidents.parquet", columns=["incident_id", "victim_party"])
    old_incidents = set(incidents.filter(pl.col("victim_party").is_in(olds))["incident_id"].to_list())

    def tally(mask: np.ndarray, extra: tuple[int, int], times: list[float]) -> Tally:
        seeds = {ids[i] for i in np.nonzero(mask)[0].tolist()}
        held = sc.stopped & legit & payer_old
        return Tally(stolen=int(amount[mask].sum()) + extra[0],
                     prevented=int(amount[mask & sc.stopped].sum()) + extra[1],
                     frozen=sum(v for t, v in sc.frozen_by_seed.items() if t in seeds),
                     legit=int((legit & payer_old).sum()), legit_held=int(held.sum()),
                     legit_held_amount=int(amount[held].sum()), freeze_times_s=times)

    times = [t for inc, t in sc.freeze_times_s.items() if inc in old_incidents]
    out = summary(tally(fraud & victim_old, (cash, cash_alerted), times))
    vishing = fraud & victim_old & np.array([s == "vishing" for s in scheme], dtype=np.bool_)
    out["vishing_saved_share"] = summary(tally(vishing, (0, 0), times))["saved_share"]
    out["order_precision"] = _order_precision(run, world, old_incidents)
    out["cashouts_allowed_after_order"] = sum(inc in old_incidents for inc in run.cashouts_after_order_incidents)
    out["victims"] = len(set(frame.filter(pl.Series(fraud & victim_old))["victim_party"].to_list())
                         | set(mine["victim_party"].to_list()))
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


def _order_precision(run: DemoRun, world: Path, incidents: set[str] | None = None) -> float | None:
    """The share of the ordered amount that sits on accounts the world's truth marks as drops or controlled by
    fraudsters (scored afterwards; the engine never reads it); of the orders of ``incidents`` only, if given.
    None when no order went out."""
    ordered = [o for o, inc in zip(run.ordered, run.ordered_incidents or [""] * len(run.ordered), strict=True)
               if incidents is None or inc in incidents]
    total = sum(a for _, a in ordered)
    if not total:
        return None
    roles = pl.read_parquet(world / "truth_accounts.parquet", columns=["account_id", "role"])
    bad = set(roles.filter(pl.col("role").is_in(list(_BAD_ROLES)))["account_id"].to_list())
    return round(sum(a for acc, a in ordered if acc in bad) / total, 4)


_BAD_ROLES = ("transit_drop", "cashout_drop", "fraud_controlled")


def _drops(run: DemoRun, world: Path) -> dict[str, Any]:
    """The suspected drops the exchange published at the end of the run, against the world's drop roles."""
    roles = pl.read_parquet(world / "truth_accounts.parquet", columns=["account_id", "role"])
    bad = set(roles.filter(pl.col("role").is_in(["transit_drop", "cashout_drop"]))["account_id"].to_list())
    published = [str(d["account_id"]) for d in run.drops]
    hits = sum(a in bad for a in published)
    return {"published": len(published), "true": hits,
            "precision": round(hits / len(published), 4) if published else None}


def _case_links_abroad(here: list[dict[str, list[str]]], there: list[dict[str, list[str]]],
                       world: Path) -> dict[str, object]:
    """Cross-border case links scored against the truth: a group is linked on a side when one of that side's
    links joins its incidents on both sides (the side's own case and the other's case each hold some)."""
    truth = pl.read_parquet(world / "truth_incidents.parquet", columns=["incident_id", "group_id"])
    group = {i: g for i, g in truth.iter_rows() if g is not None}

    def linked(links: list[dict[str, list[str]]]) -> set[str]:
        out: set[str] = set()
        for link in links:
            mine = {group[i] for i in link["ours"] if i in group}
            theirs = {group[i] for i in link["theirs"] if i in group}
            out |= mine & theirs
        return out

    def wrong(links: list[dict[str, list[str]]]) -> int:
        return sum(not ({group.get(i) for i in link["ours"]} & {group.get(i) for i in link["theirs"]} - {None})
                   for link in links)

    both = linked(here) & linked(there)
    return {"partner_case_links": len(here), "partner_case_links_there": len(there),
            "partner_case_links_wrong": wrong(here) + wrong(there),
            "partner_groups_linked_both_sides": sorted(both)}
