"""Parquet output with fixed settings (same input -> same bytes) and the atomic output directory:
everything is written into a temporary sibling directory that replaces the target only at the end."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from zaslon.errors import InvalidInput
from zaslon.simulate import strs

TS = pa.timestamp("us", tz="UTC")
ROW_GROUP = 1 << 20
# LZ4 measured a third cheaper to write than zstd level 1 on the transfer stream (files about twice
# as large, reads as fast): generation speed is the target here.
_OPTS = {"compression": "lz4", "version": "2.6", "data_page_version": "1.0"}
# Dictionary encoding measured slower than plain + zstd on the transfer stream (zstd already folds the
# repeated short strings) and barely smaller, so only the small static tables use it. Statistics only
# where readers filter (time).
LOW_CARDINALITY = ["kind", "country", "region", "district", "bank_id", "operator", "reporter_org",
                   "reporter_kind", "language", "role", "city"]


def _opts(schema: pa.Schema) -> dict[str, object]:
    dict_cols = [n for n in schema.names if n in LOW_CARDINALITY]
    stat_cols = [n for n in schema.names if n in ("ts", "reported_at", "opened_at")]
    return {**_OPTS, "use_dictionary": dict_cols, "write_statistics": stat_cols or False}


def write_table(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, row_group_size=ROW_GROUP, **_opts(table.schema))


def writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    return pq.ParquetWriter(path, schema, **_opts(schema))


def check_target(out: Path, force: bool) -> None:
    """Refuse, before any work, an output directory that exists with files (without --force), that is
    not a directory, or whose parent cannot be written."""
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"output path {out} exists and is not a directory", field="out")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InvalidInput(f"output directory {out} is not empty; pass --force to replace it", field="out")
    parent = out.resolve().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK) or (out.is_dir() and not os.access(out, os.W_OK)):
        raise InvalidInput(f"cannot write to {out}", field="out")


@contextmanager
def atomic_dir(out: Path, force: bool) -> Iterator[Path]:
    check_target(out, force)
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".{out.name}.partial-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
    except OSError as exc:
        raise InvalidInput(f"cannot write to {out}: {exc.strerror}", field="out") from exc
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def take_str(values: pa.Array, idx: np.ndarray) -> pa.Array:
    """values[idx] with nulls where idx < 0."""
    mask = idx < 0
    ind = pa.array(np.where(mask, 0, idx), mask=mask if mask.any() else None)
    return pc.take(values, ind)


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return strs.prefixed_ids(prefix, numbers, width)


def nullable_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Ids for the non-negative numbers, null elsewhere; formats only the rows that have one."""
    valid = numbers >= 0
    text = strs.prefixed_ids(prefix, numbers[valid], width)
    idx = np.full(numbers.size, -1, np.int64)
    idx[valid] = np.arange(int(valid.sum()))
    return take_str(text, idx)


def ipv4(values: np.ndarray) -> pa.Array:
    """Dotted IPv4 text, null where the value is negative; formats each distinct address once."""
    valid = values >= 0
    uniq, inverse = np.unique(values[valid], return_inverse=True)
    octets = [pc.cast(pa.array((uniq >> s) & 255), pa.string()) for s in (24, 16, 8, 0)]
    text = pc.binary_join_element_wise(*octets, ".")
    idx = np.full(values.size, -1, np.int64)
    idx[valid] = inverse
    return take_str(text, idx)


def timestamps(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype(np.int64), type=TS)
