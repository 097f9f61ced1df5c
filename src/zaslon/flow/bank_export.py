"""A bank's own export turned into the replay's input: Parquet or CSV, renamed columns, decimal amounts.

Banks export amounts as decimals in major units (``12.34`` EUR) beside a currency column; the engine counts
integer minor units. The conversion is exact: the decimal's text is split at the point and scaled by the
currency's ISO 4217 exponent (never through a float), and an amount with more decimals than its currency has is
refused rather than rounded. ``amount_minor`` (integers) is taken as it is.

Everything here either returns a frame shaped as ``zaslon.flow.replay.validate_transfers`` expects or raises
InvalidInput naming the problem, before anything is computed or written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from zaslon.core.features import AccountProfile
from zaslon.core.money import decimal_exponent
from zaslon.errors import InvalidInput

OPENED = ("payer_opened_at", "payee_opened_at")  # the accounts' opening dates, where the bank gives them
_DECIMAL = r"^(-?)(\d{1,15})(?:\.(\d+))?$"
_AWARE = r"(Z|[+-]\d{2}:?\d{2})$"  # an ISO 8601 time that says its offset
_DATE = r"^\d{4}-\d{2}-\d{2}$"


def read_table(path: str | Path, what: str) -> pl.DataFrame:
    """Parquet or CSV by extension; a CSV is read as text, each column converted by what it means."""
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"{what}: no such file {p}", field=what)
    kind = p.suffix.lower()
    if kind not in (".parquet", ".csv"):
        raise InvalidInput(f"{what}: {p} is neither .parquet nor .csv", field=what)
    try:
        if kind == ".csv":
            return pl.read_csv(p, infer_schema=False)
        return pl.read_parquet(p)
    except Exception as exc:  # a corrupt file: the user's input, not our crash
        raise InvalidInput(f"{what}: cannot read {p} as {kind[1:]} ({type(exc).__name__})", field=what) from None


def parse_map(items: Sequence[str]) -> dict[str, str]:
    """``["payer=customer_id", ...]`` to {new name: the bank's name}."""
    out: dict[str, str] = {}
    for item in items:
        new, sep, old = item.partition("=")
        new, old = new.strip(), old.strip()
        if not sep or not new or not old:
            raise InvalidInput(f"--map {item!r}: expected NEW=OLD, e.g. payer=customer_id", field="map")
        if new in out:
            raise InvalidInput(f"--map: {new!r} is mapped twice", field="map")
        out[new] = old
    return out


def apply_map(frames: Mapping[str, pl.DataFrame], mapping: Mapping[str, str]) -> dict[str, pl.DataFrame]:
    """Rename the bank's columns in every frame that has them; a source column in none of them is an error."""
    out = dict(frames)
    for new, old in mapping.items():
        holders = [what for what, df in out.items() if old in df.columns]
        if not holders:
            raise InvalidInput(f"--map {new}={old}: no column {old!r} in {' or '.join(out)}", field="map")
        for what in holders:
            df = out[what]
            if new != old and new in df.columns:
                raise InvalidInput(f"--map {new}={old}: {what} already has a column {new!r}", field="map")
            out[what] = df.rename({old: new})
    return out


def _aware_times(df: pl.DataFrame, col: str, what: str) -> pl.DataFrame:
    """A text column of ISO 8601 times with offsets to UTC timestamps (a time without an offset is refused)."""
    s = df[col]
    if s.dtype != pl.String:
        return df
    naive = s.drop_nulls().filter(~s.drop_nulls().str.strip_chars().str.contains(_AWARE))
    if len(naive):
        raise InvalidInput(f"{what}: {col} must be a timezone-aware timestamp with an offset "
                           f"(e.g. 2025-06-02T10:00:00Z), got {naive[0]!r}", field=col)
    try:
        return df.with_columns(pl.col(col).str.strip_chars().str.to_datetime(time_zone="UTC", time_unit="us"))
    except Exception:  # polars says which value; we say which column
        raise InvalidInput(f"{what}: {col} holds values that are not ISO 8601 timestamps", field=col) from None


def _opening_dates(df: pl.DataFrame, col: str) -> pl.Series:
    s = df[col]
    if s.dtype == pl.String:  # all dates (2020-01-31), or all ISO 8601 times with offsets
        txt = s.str.strip_chars()
        if bool(txt.drop_nulls().str.contains(_DATE).all()):
            parsed = txt.str.to_date("%Y-%m-%d", strict=False)
            bad = txt.filter(parsed.is_null() & txt.is_not_null())
            if len(bad):
                raise InvalidInput(f"transfers: {col} {bad[0]!r} is not a date", field=col)
            return parsed.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        return _aware_times(pl.DataFrame({col: txt}), col, "transfers")[col]
    if s.dtype == pl.Date:
        return s.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if isinstance(s.dtype, pl.Datetime) and s.dtype.time_zone is not None:
        return s.dt.convert_time_zone("UTC")
    raise InvalidInput(f"transfers: {col} must be a date or a timezone-aware timestamp, got {s.dtype}", field=col)


def profiles_of(df: pl.DataFrame) -> dict[str, AccountProfile]:
    """Opening dates given as payer_opened_at / payee_opened_at, the earliest one per account."""
    parts = []
    for col, who in zip(OPENED, ("payer", "payee"), strict=True):
        if col in df.columns:
            opened = _opening_dates(df, col)
            parts.append(pl.DataFrame({"account": df[who].cast(pl.String), "opened_at": opened}))
    if not parts:
        return {}
    first = pl.concat(parts).drop_nulls().group_by("account").agg(pl.col("opened_at").min())
    return {a: AccountProfile(opened_at=t.astimezone(UTC) if isinstance(t, datetime) else None)
            for a, t in first.iter_rows()}


def _minor_units(df: pl.DataFrame) -> pl.Series:
    """``amount`` (decimal major units) times 10**exponent of each row's currency, exactly."""
    if "currency" not in df.columns:
        raise InvalidInput("transfers: amount is in major units and needs a currency column (one ISO 4217 code "
                           "a row, since the exponent depends on it); give integer amount_minor otherwise",
                           field="currency")
    if df["currency"].null_count():
        raise InvalidInput("transfers: currency has empty values", field="currency")
    s = df["amount"]
    if s.null_count():
        raise InvalidInput("transfers: amount has empty values", field="amount")
    if s.dtype == pl.String:
        txt = s.str.strip_chars()
    elif s.dtype.is_numeric():  # a float's text is its shortest exact round trip: 12.34, not 12.3399999...
        txt = s.cast(pl.String)
    else:
        raise InvalidInput(f"transfers: amount must be a decimal number, got {s.dtype}", field="amount")
    cur = df["currency"].cast(pl.String)
    exp = {c: decimal_exponent(c) for c in cur.unique().to_list()}
    parts = pl.DataFrame({"t": txt, "c": cur, "id": df["transfer_id"].cast(pl.String)}).with_columns(
        pl.col("t").str.extract(_DECIMAL, 1).alias("sign"),
        pl.col("t").str.extract(_DECIMAL, 2).alias("whole"),
        pl.col("t").str.extract(_DECIMAL, 3).fill_null("").str.strip_chars_end("0").alias("frac"),
        pl.col("c").replace_strict(exp, return_dtype=pl.Int64).alias("exp"),
    )
    bad = parts.filter(pl.col("whole").is_null())
    if len(bad):
        raise InvalidInput(f"transfers: amount {bad['t'][0]!r} (transfer_id {bad['id'][0]}) is not a decimal "
                           "number like 1234.56", field="amount")
    over = parts.filter(pl.col("frac").str.len_chars() > pl.col("exp"))
    if len(over):
        r = over.row(0, named=True)
        raise InvalidInput(f"transfers: amount {r['t']} {r['c']} (transfer_id {r['id']}) has more decimals than "
                           f"{r['c']} allows ({r['exp']})", field="amount")
    ten = pl.lit(10, dtype=pl.Int64)
    frac_len = pl.col("frac").str.len_chars().cast(pl.Int64)
    frac = pl.when(frac_len > 0).then(pl.col("frac").cast(pl.Int64)).otherwise(0)
    minor = pl.col("whole").cast(pl.Int64) * ten.pow(pl.col("exp")) + frac * ten.pow(pl.col("exp") - frac_len)
    signed = pl.when(pl.col("sign") == "-").then(-minor).otherwise(minor)
    return parts.select(signed.alias("amount")).to_series()


def bank_transfers(df: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, AccountProfile]]:
    """The bank's transfers in the replay's shape (``amount`` in minor units), and the accounts' opening dates."""
    has_major, has_minor = "amount" in df.columns, "amount_minor" in df.columns
    if has_major and has_minor:
        raise InvalidInput("transfers: give amount (decimal major units) or amount_minor (integers), not both",
                           field="amount")
    if not (has_major or has_minor):
        raise InvalidInput("transfers: missing required columns: amount (decimal major units, with currency) "
                           "or amount_minor (integer minor units)", field="amount")
    for c in ("transfer_id", "payer", "payee"):  # named before the amount conversion quotes ids
        if c not in df.columns:
            raise InvalidInput(f"transfers: missing required columns ['{c}']", field="transfers")
    if "ts" in df.columns:
        df = _aware_times(df, "ts", "transfers")
    profiles = profiles_of(df)
    df = df.drop([c for c in OPENED if c in df.columns])
    if has_minor:
        m = df["amount_minor"]
        if m.dtype == pl.String:
            as_int = m.str.strip_chars().cast(pl.Int64, strict=False)
            bad = m.filter(as_int.is_null() & m.is_not_null())
            if len(bad):
                raise InvalidInput(f"transfers: amount_minor must be whole minor units (integers), got {bad[0]!r}",
                                   field="amount_minor")
            m = as_int
        return df.with_columns(m.alias("amount_minor")).rename({"amount_minor": "amount"}), profiles
    return df.with_columns(_minor_units(df)), profiles


def bank_incidents(df: pl.DataFrame) -> pl.DataFrame:
    """The bank's reports with ``reported_at`` as UTC timestamps (CSV text included)."""
    if "reported_at" in df.columns:
        df = _aware_times(df, "reported_at", "incidents")
    return df
