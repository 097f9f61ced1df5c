"""What would a rule set have done to past traffic? Hits, precision, recall, money saved, friction.

History comes from a simulated world directory and/or the transfers stored in the database. Features
are computed once by the scoring engineer's streaming state in event-time order, with each incident
report applied from its ``reported_at`` on (``zaslon.flow.replay.stream_pass``): a rule that reads
``payee_reported`` sees only what the exchange knew at that moment.

Precision and recall are judged against the labels the exchange itself has: transfers named in reported
incidents. Against simulator ground truth (``truth_transfers.parquet``) only when ``truth=True`` is asked
explicitly, and only for a simulated world. Rules are judged alone (not the model, not the policy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl

from zaslon.core.features import AccountProfile
from zaslon.core.money import minor_exponent
from zaslon.core.rules import SEVERITY, RuleSet
from zaslon.core.types import Outcome, transfer_key
from zaslon.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy import Engine

Progress = Callable[[int], None]
_HELD = SEVERITY[Outcome.HOLD]  # hold or block: the money does not leave
_REVIEW = SEVERITY[Outcome.REVIEW]


@dataclass
class History:
    transfers: pl.DataFrame  # validated T (see zaslon.flow.replay.validate_transfers)
    reports: pl.DataFrame  # transfer_id, reported_at (first report per transfer)
    profiles: dict[str, AccountProfile]
    truth: pl.DataFrame | None = None  # transfer_id, label (simulated worlds only, only when asked)
    source: str = ""


def _reports_from_incidents(incidents: pl.DataFrame) -> pl.DataFrame:
    if "transfer_ids" not in incidents.columns:
        raise InvalidInput("incidents.parquet lacks transfer_ids", field="world")
    return (
        incidents.select("reported_at", "transfer_ids")
        .explode("transfer_ids")
        .drop_nulls("transfer_ids")
        .rename({"transfer_ids": "transfer_id"})
        .select("transfer_id", "reported_at")
    )


def history_from_world(path: Path, *, truth: bool = False) -> History:
    from zaslon.flow.replay import validate_incidents, validate_transfers
    from zaslon.simulate.load import load_world, profiles

    world = load_world(path)
    t = validate_transfers(world.transfers)
    reports = validate_incidents(_reports_from_incidents(world.incidents), t)
    truth_df = None
    if truth:
        tp = path / "truth_transfers.parquet"
        if not tp.is_file():
            raise InvalidInput(f"--truth needs {tp} (a simulated world's ground truth)", field="truth")
        truth_df = pl.read_parquet(tp).select(pl.col("transfer_id").cast(pl.String), pl.col("label").cast(pl.String))
    profs = {k: v for k, v in profiles(world).items() if isinstance(v, AccountProfile)}
    return History(t, reports, profs, truth_df, f"world {path}")


def history_from_db(engine: Engine) -> History:
    from zaslon.adapters.db.stores.transfers import SqlTransferStore
    from zaslon.flow.ports.transfers import TransferStore
    from zaslon.flow.replay import validate_incidents, validate_transfers

    cols = ("transfer_id", "ts", "payer", "payee", "amount", "currency", "channel", "device", "ip", "payee_country")
    store: TransferStore = SqlTransferStore(engine)
    data = store.history_columns((*cols, "org_id"))
    # Ids are each submitting organisation's own: the backtest keys transfers by submitter and id.
    data["transfer_id"] = [transfer_key(o, t) for o, t in zip(data.pop("org_id"), data["transfer_id"], strict=True)]
    reps = [(transfer_key(o, t), at) for o, t, at in store.reported()]
    if not data["transfer_id"]:
        raise InvalidInput("the database holds no transfers to backtest on", field="db")
    schema: dict[str, Any] = {c: pl.String for c in cols}
    schema["ts"] = pl.Datetime("us", "UTC")
    schema["amount"] = pl.Int64
    t = validate_transfers(pl.DataFrame(data, schema=schema))
    rep = pl.DataFrame(
        {"transfer_id": [tid for tid, _ in reps], "reported_at": [at for _, at in reps]},
        schema={"transfer_id": pl.String, "reported_at": pl.Datetime("us", "UTC")},
    )
    return History(t, validate_incidents(rep, t), {}, None, "database")


def merge(a: History, b: History) -> History:
    """World and database history together (ids must not collide)."""
    t = pl.concat([a.transfers, b.transfers], how="diagonal_relaxed").sort("ts", maintain_order=True)
    if bool(t["transfer_id"].is_duplicated().any()):
        raise InvalidInput("world and database share transfer ids; backtest them separately", field="transfer_id")
    reports = pl.concat([a.reports, b.reports]).sort("reported_at", "transfer_id")
    return History(t, reports, {**b.profiles, **a.profiles}, a.truth, f"{a.source} + {b.source}")


def _money(amount: npt.NDArray[np.int64], currency: list[str], mask: npt.NDArray[np.bool_]) -> dict[str, float]:
    """Sum of amounts under ``mask`` per currency, in major units (never mixing currencies)."""
    out: dict[str, float] = {}
    cur = np.asarray(currency, dtype=object)
    for c in sorted(set(cur[mask].tolist())):
        sel = mask & (cur == c)
        out[str(c)] = round(int(amount[sel].sum()) / 10 ** minor_exponent(str(c)), 2)
    return out


def _ratio(a: int, b: int) -> float | None:
    return None if b == 0 else round(a / b, 6)


def backtest(
    ruleset: RuleSet,
    history: History,
    *,
    since: datetime | None = None,
    progress: Progress | None = None,
    home_country: str = "BY",
) -> dict[str, Any]:
    """Run ``ruleset`` over ``history``; metrics over transfers at or after ``since`` (all if None)."""
    from zaslon.flow.replay import stream_pass
    from zaslon.flow.scoring import ScoringEngine

    engine = ScoringEngine(profiles=history.profiles, home_country=home_country)
    st = stream_pass(engine, history.transfers, history.reports, progress=progress)
    frame = st.frame
    batch = ruleset.evaluate_batch(st.x)
    window = np.ones(len(frame), dtype=np.bool_)
    if since is not None:
        window = st.cols.ts >= int(since.timestamp())
    ids = frame["transfer_id"].to_list()
    reported = set(history.reports["transfer_id"].to_list())
    if history.truth is not None:
        label_of = dict(zip(history.truth["transfer_id"].to_list(), history.truth["label"].to_list(), strict=True))
        labels = [label_of.get(i, "legit") for i in ids]
        positive = np.fromiter((lab != "legit" for lab in labels), dtype=np.bool_, count=len(ids))
        origin = np.fromiter((lab == "fraud_origin" for lab in labels), dtype=np.bool_, count=len(ids))
        judged = "truth"
    else:
        positive = np.fromiter((i in reported for i in ids), dtype=np.bool_, count=len(ids))
        origin = positive
        judged = "reported incidents"
    amount = frame["amount"].cast(pl.Int64).to_numpy()
    currency = frame["currency"].to_list()
    held = (batch.codes >= _HELD) & window
    flagged = (batch.codes >= _REVIEW) & window
    pos = positive & window
    legit = ~positive & window
    per_rule = []
    for j, hit in enumerate(batch.rules):
        m = batch.hits[:, j] & window
        tp = int((m & pos).sum())
        per_rule.append(
            {
                "rule_id": hit.rule_id,
                "action": hit.action.value,
                "hits": int(m.sum()),
                "true_positives": tp,
                "precision": _ratio(tp, int(m.sum())),
                "recall": _ratio(tp, int(pos.sum())),
                "legit_hits": int((m & legit).sum()),
            }
        )
    n_window = int(window.sum())
    return {
        "ruleset_version": ruleset.version,
        "source": history.source,
        "judged_against": judged,
        "transfers": n_window,
        "positives": int(pos.sum()),
        "since": since.isoformat() if since else None,
        "flagged": int(flagged.sum()),
        "held": int(held.sum()),
        "precision_flagged": _ratio(int((flagged & pos).sum()), int(flagged.sum())),
        "recall_flagged": _ratio(int((flagged & pos).sum()), int(pos.sum())),
        "precision_held": _ratio(int((held & pos).sum()), int(held.sum())),
        "recall_held": _ratio(int((held & pos).sum()), int(pos.sum())),
        "money_saved": _money(amount, currency, held & origin & window),
        "fraud_money": _money(amount, currency, origin & window),
        "friction": {
            "legit_held": int((held & legit).sum()),
            "legit_held_share": _ratio(int((held & legit).sum()), int(legit.sum())),
            "legit_reviewed": int((flagged & ~held & legit).sum()),
            "legit_amount_delayed": _money(amount, currency, held & legit),
        },
        "rules": per_rule,
        "rule_errors": {e.rule_id: e.error for e in batch.errors},
    }
