"""Benchmark of the durable feature state: snapshot size per account, the pause and the write, and the restore
time (snapshot load + replay of the tail) on a world, and whether the restored state is the live one exactly.

The world's transfers are scored through the Exchange (as the API does) into a fresh database; a snapshot is
taken ``tail`` transfers before the end; the process then stops as if killed (no snapshot at shutdown); a new
Exchange restores from the store. A second restore with the snapshots deleted measures a replay from zero.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.core.features import FeatureState
from zaslon.core.types import Channel, Transfer
from zaslon.flow import feature_snapshot
from zaslon.flow.exchange import Exchange
from zaslon.flow.orgs import create_org
from zaslon.lab.scoring_eval import profiles_of
from zaslon.settings import Settings

BATCH = 5_000


def _transfers(world: Path, limit: int | None) -> list[Transfer]:
    df = pl.read_parquet(world / "transfers.parquet").filter(
        (pl.col("payer") != pl.col("payee")) & (pl.col("amount") > 0)).sort("ts", maintain_order=True)
    if limit is not None:
        df = df.head(limit)
    return [Transfer(r["transfer_id"], r["ts"], r["payer"], r["payee"], int(r["amount"]), r["currency"],
                     Channel(r["channel"]), r["device"], r["ip"], r["payer_bank"], r["payee_bank"],
                     r["payee_country"]) for r in df.iter_rows(named=True)]


def same_state(a: FeatureState, b: FeatureState) -> bool:
    """The same accounts with the same state (rows may be numbered differently)."""
    if sorted(a.ids) != sorted(b.ids) or a.currencies != b.currencies or a.folded != b.folded:
        return False
    rows = np.array([b.index[acc] for acc in a.ids], dtype=np.int64)
    n = len(a.ids)
    return all(np.array_equal(u[:n], v[rows]) for u, v in zip(a.arrays, b.arrays, strict=True)) and \
        np.array_equal(a.cur[: len(a.currencies)], b.cur[: len(b.currencies)])


def run(world: Path, db_path: Path, *, limit: int | None = None, tail: int = 50_000) -> dict[str, Any]:
    if db_path.exists():
        db_path.unlink()
    url = f"sqlite:///{db_path}"
    upgrade(url)
    db = make_engine(url)
    settings = Settings(database_url=url, snapshot_interval_s=0)
    profiles = profiles_of(world)
    transfers = _transfers(world, limit)
    orgs: dict[str, str] = {}

    def submit(x: Exchange, batch: list[Transfer]) -> None:
        """Each transfer from its own bank (the payer's if Belarusian, else the payee's), as isolation requires."""
        by_bank: dict[str, list[Transfer]] = {}
        for t in batch:
            bic = t.payer_bank if t.payer_bank and t.payer_bank[4:6] == "BY" else str(t.payee_bank)
            by_bank.setdefault(bic, []).append(t)
        for bic, mine in by_bank.items():
            if bic not in orgs:
                orgs[bic] = create_org(db, name=f"Bank {bic}", kind="bank", bank_id=bic).org_id
            x.score(orgs[bic], mine)
    live = Exchange(db, settings)
    live.profiles.update(profiles)  # what banks register as customers
    cut = max(0, len(transfers) - tail)
    t0 = time.perf_counter()
    for lo in range(0, cut, BATCH):
        submit(live, transfers[lo:min(lo + BATCH, cut)])
    scored_s = time.perf_counter() - t0
    snap = live.snapshotter.snapshot(force=True)
    for lo in range(cut, len(transfers), BATCH):
        submit(live, transfers[lo:lo + BATCH])
    live.ledger.stop()  # stopped as if killed: what was committed stays, no snapshot at shutdown
    live.rules_watcher.stop()
    live.recorder.close()

    def restore() -> tuple[dict[str, Any], float, bool]:
        x = Exchange(db, settings)
        x.profiles.update(profiles)
        t = time.perf_counter()
        info = feature_snapshot.restore(db, x.scoring)
        took = time.perf_counter() - t
        same = same_state(x.scoring.state, live.scoring.state)
        x.close()
        return info, took, same

    info, took, same = restore()
    with db.begin() as conn:  # the same without any snapshot: a replay of everything
        from zaslon.adapters.db.tables_state import feature_snapshot_chunks, feature_snapshots

        conn.execute(feature_snapshot_chunks.delete())
        conn.execute(feature_snapshots.delete())
    full, took_full, same_full = restore()
    db.dispose()
    assert snap is not None
    return {
        "world": str(world), "transfers": len(transfers), "scored_per_s": round(cut / scored_s) if cut else None,
        "accounts": snap["accounts"], "snapshot_bytes": snap["bytes"], "snapshot_raw_bytes": snap["raw_bytes"],
        "snapshot_bytes_per_account": snap["bytes_per_account"],
        "state_bytes_per_account_in_memory": round(live.scoring.state.state_bytes_per_account(), 1),
        "snapshot_pause_s": snap["pause_s"], "snapshot_write_s": snap["write_s"],
        "restore": {"replayed": info["replayed"], "load_s": info["load_s"], "replay_s": info["replay_s"],
                    "total_s": round(took, 3), "identical_state": same},
        "restore_without_snapshot": {"replayed": full["replayed"], "total_s": round(took_full, 3),
                                     "identical_state": same_full},
    }
