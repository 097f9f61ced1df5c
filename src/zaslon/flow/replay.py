"""Replay a bank's history through the engine in event-time order, learning only from reports already made.

The stream pass interleaves two kinds of events by time: transfers (scored, then folded into the state)
and incident reports (from ``reported_at`` on, the payee of each named transfer is flagged REPORTED in
the engine's Knowledge, and the transfer counts towards its payer's and payee's reported transfers).
Because decisions in a replay do not change what happened next, the feature
pass is done once, and models retrained on a schedule (weekly by default) score the period after their
cut-off, each trained only on rows before the cut-off with labels reported before it. Beside the schedule,
a drift rule (``flow.drift``, checked daily) retrains early when the current model lets through too many
of the transfers reported lately or its scores shift; each model records why it was trained
(``trigger``: ``schedule`` or ``drift``, with what the rule saw). Each model's bars are calibrated to the
policy's friction caps on the week before its cut-off, and the share it then held is reported beside it
(``realised_hold_rate``).

Input checks happen before anything is computed; output is written to a temporary file and renamed, so
a failure never leaves half a file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from zaslon.core.features import FEATURE_NAMES, AccountProfile, TransferColumns
from zaslon.core.money import check_currency, minor_exponent
from zaslon.core.policy import HOLD, OUTCOMES, PolicyConfig
from zaslon.errors import InvalidInput
from zaslon.flow.drift import DriftCheck, DriftRule
from zaslon.flow.drift import check as check_drift
from zaslon.flow.model import labels_known_by, train
from zaslon.flow.scoring import ScoringEngine

T_REQUIRED = ("transfer_id", "ts", "payer", "payee", "amount")
# mcc is accepted and carried; no feature reads it yet.
T_OPTIONAL = ("currency", "channel", "device", "ip", "payee_country", "mcc")
# Columns our own simulator writes besides those; accepted and ignored.
T_IGNORED = ("payer_bank", "payee_bank", "atm_id")
I_REQUIRED = ("transfer_id", "reported_at")
NO_CURRENCY = "XXX"  # ISO 4217 "no currency": amounts of one unnamed currency
DAY = 86_400
CALIBRATION_DAYS = 7  # each model's bars are calibrated on the week before its cut-off
Progress = Callable[[int], None]
DEFAULT_DRIFT = DriftRule()


@dataclass
class Stream:
    """Event-ordered transfers plus the features and knowledge flags computed in the stream pass."""

    frame: pl.DataFrame  # validated T, sorted by ts (stable), with a column "_row" = original position
    cols: TransferColumns
    x: npt.NDArray[np.float32]
    payer_f: npt.NDArray[np.int64]
    payee_f: npt.NDArray[np.int64]


def _is_aware_datetime(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Datetime) and dtype.time_zone is not None


def validate_transfers(df: pl.DataFrame) -> pl.DataFrame:
    """Check T strictly; return it with ``currency`` filled and ``ts`` in UTC. InvalidInput names the problem."""
    missing = [c for c in T_REQUIRED if c not in df.columns]
    if missing:
        raise InvalidInput(f"transfers: missing required columns {missing}", field="transfers")
    unknown = [c for c in df.columns if c not in T_REQUIRED + T_OPTIONAL + T_IGNORED]
    if unknown:
        raise InvalidInput(
            f"transfers: unknown columns {unknown}; allowed: {list(T_REQUIRED + T_OPTIONAL)}", field="transfers"
        )
    if not _is_aware_datetime(df.schema["ts"]):
        raise InvalidInput(
            f"transfers: ts must be a timezone-aware timestamp, got {df.schema['ts']} (naive or not a time)",
            field="ts",
        )
    for c in ("transfer_id", "payer", "payee"):
        if df[c].null_count():
            raise InvalidInput(f"transfers: {c} has {df[c].null_count()} empty values", field=c)
    if df["ts"].null_count():
        raise InvalidInput("transfers: ts has empty values", field="ts")
    amount = df["amount"]
    if not amount.dtype.is_numeric():
        raise InvalidInput(f"transfers: amount must be numeric minor units, got {amount.dtype}", field="amount")
    if amount.null_count():
        raise InvalidInput("transfers: amount has empty values", field="amount")
    if amount.dtype.is_float() and (
        not bool(amount.is_finite().all()) or not bool((amount == amount.round(0)).all())
    ):
        raise InvalidInput("transfers: amount must be whole minor units (integers)", field="amount")
    if int((amount < 0).sum()):
        bad = df.filter(pl.col("amount") < 0)["transfer_id"].head(5).to_list()
        raise InvalidInput(f"transfers: negative amounts, e.g. transfer_id {bad}", field="amount")
    dup = df["transfer_id"].is_duplicated()
    if bool(dup.any()):
        ids = df.filter(dup)["transfer_id"].unique().head(5).to_list()
        raise InvalidInput(f"transfers: duplicate transfer_id values, e.g. {ids}", field="transfer_id")
    if "currency" in df.columns:
        if df["currency"].null_count():
            raise InvalidInput("transfers: currency has empty values", field="currency")
        for code in df["currency"].cast(pl.String).unique().to_list():
            check_currency(str(code))
    else:
        df = df.with_columns(pl.lit(NO_CURRENCY).alias("currency"))
    return df.with_columns(
        pl.col("ts").dt.convert_time_zone("UTC"),
        pl.col("transfer_id").cast(pl.String),
        pl.col("payer").cast(pl.String),
        pl.col("payee").cast(pl.String),
        pl.col("currency").cast(pl.String),
    )


def validate_incidents(df: pl.DataFrame, transfers: pl.DataFrame) -> pl.DataFrame:
    """Check I against the validated T: known ids, aware times, not reported before the transfer was made."""
    missing = [c for c in I_REQUIRED if c not in df.columns]
    if missing:
        raise InvalidInput(f"incidents: missing required columns {missing}", field="incidents")
    if not _is_aware_datetime(df.schema["reported_at"]):
        raise InvalidInput(
            f"incidents: reported_at must be a timezone-aware timestamp, got {df.schema['reported_at']}",
            field="reported_at",
        )
    if df["transfer_id"].null_count() or df["reported_at"].null_count():
        raise InvalidInput("incidents: transfer_id and reported_at must not be empty", field="incidents")
    df = df.select(pl.col("transfer_id").cast(pl.String), pl.col("reported_at").dt.convert_time_zone("UTC"))
    joined = df.join(transfers.select("transfer_id", "ts"), on="transfer_id", how="left")
    unknown = joined.filter(pl.col("ts").is_null())["transfer_id"].head(5).to_list()
    if unknown:
        raise InvalidInput(f"incidents: transfer_id not in transfers, e.g. {unknown}", field="transfer_id")
    early = joined.filter(pl.col("reported_at") < pl.col("ts"))["transfer_id"].head(5).to_list()
    if early:
        raise InvalidInput(f"incidents: reported before the transfer was made, e.g. {early}", field="reported_at")
    # A transfer reported twice is known from its first report.
    return df.group_by("transfer_id").agg(pl.col("reported_at").min()).sort("reported_at", "transfer_id")


def read_parquet(path: str | Path, what: str) -> pl.DataFrame:
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"{what}: no such file {p}", field=what)
    try:
        return pl.read_parquet(p)
    except Exception as exc:  # a corrupt or non-Parquet file: the user's input, not our crash
        raise InvalidInput(f"{what}: cannot read {p} as Parquet ({type(exc).__name__})", field=what) from None


def columns_of_frame(df: pl.DataFrame) -> TransferColumns:
    cur = df["currency"].to_list()
    scale = {c: float(10 ** minor_exponent(c)) for c in set(cur)}
    div = np.fromiter((scale[c] for c in cur), dtype=np.float64, count=len(cur))

    def opt(c: str) -> list[Any] | None:
        return df[c].cast(pl.String).to_list() if c in df.columns else None

    return TransferColumns(
        payer=df["payer"].to_list(),
        payee=df["payee"].to_list(),
        ts=(df["ts"].dt.epoch("s")).to_numpy().astype(np.int64),
        amount=df["amount"].cast(pl.Float64).to_numpy() / div,
        currency=cur,
        payee_country=opt("payee_country"),
        device=opt("device"),
        ip=opt("ip"),
        channel=opt("channel"),
    )


def slice_cols(c: TransferColumns, lo: int, hi: int) -> TransferColumns:
    def s(seq: Sequence[Any] | None) -> Sequence[Any] | None:
        return None if seq is None else seq[lo:hi]

    return TransferColumns(
        payer=c.payer[lo:hi], payee=c.payee[lo:hi], ts=c.ts[lo:hi], amount=c.amount[lo:hi],
        currency=c.currency[lo:hi], payee_country=s(c.payee_country), device=s(c.device), ip=s(c.ip),
        channel=s(c.channel),
        on_flagged_call=None if c.on_flagged_call is None else c.on_flagged_call[lo:hi],
        call_signals=None if c.call_signals is None else c.call_signals[lo:hi],
    )


def stream_pass(
    engine: ScoringEngine,
    transfers: pl.DataFrame,
    reports: pl.DataFrame,
    *,
    chunk: int = 65_536,
    progress: Progress | None = None,
) -> Stream:
    """Features of every transfer as the engine saw them at its time, with reports applied at their time.

    ``reports`` has transfer_id, reported_at (one row per named transfer). A report flags the payee of the
    named transfer from ``reported_at`` on; a transfer at exactly that instant already sees it.
    """
    df = transfers.with_row_index("_row").sort("ts", maintain_order=True)
    cols = columns_of_frame(df)
    n = len(df)
    parties = dict(zip(df["transfer_id"].to_list(), zip(cols.payer, cols.payee, strict=True), strict=True))
    rep_ts = (reports["reported_at"].dt.epoch("s")).to_numpy().astype(np.int64)
    rep_ids = reports["transfer_id"].to_list()
    cut = np.searchsorted(cols.ts, rep_ts, side="left")
    x = np.empty((n, len(FEATURE_NAMES)), dtype=np.float32)
    payer_f = np.empty(n, dtype=np.int64)
    payee_f = np.empty(n, dtype=np.int64)
    pos = 0
    r = 0
    bounds = [*np.unique(cut).tolist(), n]
    for b in bounds:
        while r < len(rep_ids) and cut[r] <= pos:
            engine.report_transfer(*parties[rep_ids[r]])
            r += 1
        while pos < b:
            hi = min(b, pos + chunk)
            xs, pf, qf = engine.featurize(slice_cols(cols, pos, hi))
            x[pos:hi], payer_f[pos:hi], payee_f[pos:hi] = xs, pf, qf
            if progress is not None:
                progress(hi - pos)
            pos = hi
    return Stream(df, cols, x, payer_f, payee_f)


@dataclass
class ReplayResult:
    out: pl.DataFrame  # transfer_id, score, decision, model_version in T's row order
    models: list[dict[str, Any]]  # each model's metadata, with "trigger": "schedule" or "drift" (and "drift")


@dataclass
class StreamScores:
    """What the retrain loop decided, in the stream's (event-time) order."""

    score: npt.NDArray[np.float64]
    outcome: npt.NDArray[np.int8]
    version: list[str | None]
    models: list[dict[str, Any]]
    checks: list[dict[str, Any]]  # every drift check: at, model_version, what it saw and any reason


def replay(
    transfers: pl.DataFrame,
    incidents: pl.DataFrame,
    *,
    retrain_days: float = 7.0,
    min_positives: int = 5,
    profiles: Mapping[str, AccountProfile] | None = None,
    params: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    home_country: str = "BY",
    drift: DriftRule | None = DEFAULT_DRIFT,
    policy: PolicyConfig | None = None,
) -> ReplayResult:
    t = validate_transfers(transfers)
    reports = validate_incidents(incidents, t)
    engine = ScoringEngine(profiles=profiles, home_country=home_country, policy=policy)
    st = stream_pass(engine, t, reports, progress=progress)
    res = score_stream(engine, st, reports, retrain_days=retrain_days, min_positives=min_positives,
                       params=params, drift=drift)
    out = pl.DataFrame(
        {
            "transfer_id": st.frame["transfer_id"],
            "score": res.score,
            "decision": [OUTCOMES[o].value for o in res.outcome.tolist()],
            "model_version": res.version,
            "_row": st.frame["_row"],
        }
    ).sort("_row").drop("_row")
    return ReplayResult(out, res.models)


def score_stream(
    engine: ScoringEngine,
    st: Stream,
    reports: pl.DataFrame,
    *,
    retrain_days: float = 7.0,
    min_positives: int = 5,
    params: Mapping[str, Any] | None = None,
    drift: DriftRule | None = DEFAULT_DRIFT,
) -> StreamScores:
    """Score the stream period by period; retrain on the fixed schedule (every ``retrain_days`` from the
    first day) and, with a ``drift`` rule, also at any daily check where the rule sees drift (see
    ``flow.drift``). Each model is trained only on rows before its cut-off with labels reported before it."""
    n = len(st.frame)
    ts = st.cols.ts
    ids = st.frame["transfer_id"].to_list()
    named = [(at, [tid]) for tid, at in reports.iter_rows()]
    score = np.zeros(n, dtype=np.float64)
    outcome = np.zeros(n, dtype=np.int8)
    version: list[str | None] = [None] * n
    models: list[dict[str, Any]] = []
    checks_seen: list[dict[str, Any]] = []
    step = int(retrain_days * DAY)
    start = (int(ts[0]) // DAY) * DAY if n else 0
    scheduled = set(range(start + step, int(ts[-1]) + step + 1, step)) if n else set()
    checks: set[int] = set()
    if drift is not None and n:
        every = int(drift.check_every_days * DAY)
        checks = set(range(start + every, int(ts[-1]) + 1, every)) - scheduled
    # Each report as (time, stream row of the transfer it names), to find what was reported since a model.
    row_of = {tid: i for i, tid in enumerate(ids)}
    rep_ts = (reports["reported_at"].dt.epoch("s")).to_numpy().astype(np.int64)
    rep_row = np.fromiter((row_of[t] for t in reports["transfer_id"].to_list()), dtype=np.int64,
                          count=len(reports))
    lo = 0
    model = None
    model_from = 0  # the current model's cut-off (epoch s)
    reference = np.empty(0, dtype=np.float64)  # its scores on the end of its own training window
    for edge in [*sorted(scheduled | checks), None]:
        hi = n if edge is None else int(np.searchsorted(ts, edge, side="left"))
        if hi > lo:
            res = engine.judge(st.x[lo:hi], st.payer_f[lo:hi], st.payee_f[lo:hi], explain=False, model=model)
            score[lo:hi], outcome[lo:hi] = res.score, res.outcome
            version[lo:hi] = [res.model_version] * (hi - lo)
            if models and model is not None:
                models[-1]["scored"] += hi - lo
                models[-1]["held"] += int((res.outcome >= HOLD).sum())
        lo = hi
        if edge is None or hi == 0 or hi == n:  # nothing before it to learn from, or nothing after to score
            continue
        seen: DriftCheck | None = None
        if edge not in scheduled:
            if model is None or drift is None:  # no model yet: nothing has drifted, the schedule trains one
                continue
            since = max(model_from, edge - int(drift.report_window_days * DAY))
            new = (rep_ts >= since) & (rep_ts < edge) & (ts[rep_row] >= model_from)
            recent_lo = max(int(np.searchsorted(ts, edge - int(drift.psi_window_days * DAY))),
                            int(np.searchsorted(ts, model_from)))
            seen = check_drift(drift, outcome[rep_row[new]], reference, score[recent_lo:hi])
            checks_seen.append({"at": datetime.fromtimestamp(edge, tz=UTC).isoformat(),
                                "model_version": version[hi - 1], **seen.as_dict()})
            if seen.reason is None:
                continue
        cutoff = datetime.fromtimestamp(edge, tz=UTC)
        y = labels_known_by(ids[:hi], named, cutoff)
        if int(y.sum()) >= min_positives and int(y.sum()) < hi:
            recent = int(np.searchsorted(ts, edge - CALIBRATION_DAYS * DAY, side="left"))
            trained = train(st.x[:hi], y, cutoff=cutoff, params=params, policy=engine.policy,
                            calibrate_on=st.x[recent:hi])
            model, model_from = trained.compiled, edge
            if drift is not None:
                ref_lo = int(np.searchsorted(ts, edge - int(drift.psi_window_days * DAY)))
                reference = model.probability(st.x[ref_lo:hi])
            models.append({**trained.meta, "trigger": "schedule" if seen is None else "drift",
                           **({} if seen is None else {"drift": seen.as_dict()}), "scored": 0, "held": 0})
    for m in models:  # the friction the policy realised with each model, over every day it scored
        m["realised_hold_rate"] = round(m.pop("held") / m["scored"], 6) if m["scored"] else None
    return StreamScores(score, outcome, version, models, checks_seen)


def friction_summary(res: ReplayResult, policy: PolicyConfig | None = None) -> dict[str, Any]:
    """What the policy aimed at and what it realised: the cap, and each model's bars and held share."""
    cfg = policy or PolicyConfig()
    return {"max_hold_rate": cfg.max_hold_rate, "max_review_rate": cfg.max_review_rate,
            "by_model": [{"model_id": m["model_id"], "cutoff": m["cutoff"], "bars": m.get("bars"),
                          "scored": m.get("scored", 0), "realised_hold_rate": m.get("realised_hold_rate")}
                         for m in res.models]}


def write_atomic(df: pl.DataFrame, path: str | Path) -> None:
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    df.write_parquet(tmp)
    tmp.replace(p)
