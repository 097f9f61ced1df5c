"""Durable feature state: after a restart the same transfer gets exactly the same features, score and outcome
as in a run that never stopped; a decision whose commit fails leaves the state as if it was never scored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.db.stores.feature_state import SqlFeatureStateStore
from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.core.features import FeatureState
from zaslon.core.types import Channel, Transfer, split_transfer_key
from zaslon.flow import feature_snapshot
from zaslon.flow.exchange import Exchange
from zaslon.flow.model import train
from zaslon.flow.orgs import Principal, create_org
from zaslon.flow.ports.customers import Customer
from zaslon.settings import Settings
from zaslon.simulate.world import generate

N, CUT1, CUT2 = 2000, 1000, 1400  # score [0, CUT1), snapshot, score [CUT1, CUT2), restart, score [CUT2, N)


@pytest.fixture(scope="module")
def tiny3(tmp_path_factory: pytest.TempPathFactory) -> list[Transfer]:
    """The first few thousand transfers of the tiny world (seed 3), as a bank would send them."""
    out = tmp_path_factory.mktemp("tiny3")
    generate("tiny", 3, out)
    df = pl.read_parquet(out / "transfers.parquet").filter(pl.col("payer") != pl.col("payee")).head(N)
    return [Transfer(r["transfer_id"], r["ts"], r["payer"], r["payee"], int(r["amount"]), r["currency"],
                     Channel(r["channel"]), r["device"], r["ip"], r["payer_bank"], r["payee_bank"],
                     r["payee_country"]) for r in df.iter_rows(named=True)]


@pytest.fixture(scope="module")
def model(tiny3: list[Transfer], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A model over the features (fixed), so that scores, not only rules, depend on the feature state."""
    db = make_engine(f"sqlite:///{tmp_path_factory.mktemp('m') / 'm.db'}")
    upgrade(str(db.url))
    x = _exchange(db)
    _score(x, tiny3[:CUT1])
    ids, feats = x.feature_log.before(2**62)
    y = np.array([i % 7 == 0 for i in range(len(ids))])  # any labels: the test compares runs, not quality
    x.close()
    return train(feats, y, cutoff=tiny3[CUT1].ts, params={"num_boost_round": 20}).compiled


def _exchange(db: Engine, model: Any = None) -> Exchange:
    x = Exchange(db, Settings(database_url=str(db.url), snapshot_interval_s=0))
    if model is not None:
        x.set_model(model)
    return x


def _submitter(t: Transfer) -> str:
    """The bank that sends a transfer: the payer's if it is a Belarusian bank, else the payee's."""
    return t.payer_bank if t.payer_bank and t.payer_bank[4:6] == "BY" else str(t.payee_bank)


_ORGS: dict[tuple[str, str], str] = {}


def _org_of(x: Exchange, bic: str = "AKBBBY2X") -> str:
    key = (x.db.url.render_as_string(hide_password=False), bic)
    if key not in _ORGS:
        _ORGS[key] = create_org(x.db, name=f"Bank {bic}", kind="bank", bank_id=bic).org_id
    return _ORGS[key]


def _score(x: Exchange, batch: list[Transfer]) -> list[Any]:
    """As the banks send them: each its own customers' transfers, in requests of one row, a few, many."""
    out: dict[str, Any] = {}
    for i in range(0, len(batch), 250):
        part = batch[i:i + 250]
        if i % 500 == 0:
            for t in part[:5]:
                out[t.transfer_id] = x.score(_org_of(x, _submitter(t)), [t])[0]
            part = part[5:]
        by_bank: dict[str, list[Transfer]] = {}
        for t in part:
            by_bank.setdefault(_submitter(t), []).append(t)
        for bic, mine in by_bank.items():
            out.update((r.decision.transfer_id, r) for r in x.score(_org_of(x, bic), mine))
    return [out[t.transfer_id] for t in batch]


def _register_profile(x: Exchange, transfers: list[Transfer]) -> None:
    """The bank registers an elderly customer living alone, an account already seen, opened long ago."""
    account = next(t.payer for t in transfers[:CUT1] if t.payer[4:8] == "AKBB")
    bank = Principal(_org_of(x), OrgKind.BANK, DEFAULT_SCOPES[OrgKind.BANK], "AKBBBY2X")
    x.register_customers(bank, [Customer(account, kind="personal", opened_at=datetime(2001, 5, 1, tzinfo=UTC),
                                         birth_date=date(1941, 2, 3), lives_alone=True)])


def _crash(x: Exchange) -> None:
    """Stop as a killed process would, after its answers were committed: no snapshot at shutdown."""
    x.ledger.stop()
    x.rules_watcher.stop()
    x.snapshotter.stop()
    x.recorder.close()


def _same_state(a: FeatureState, b: FeatureState) -> None:
    """The same accounts with the same state (rows may be numbered differently: a replay batches differently)."""
    assert sorted(a.ids) == sorted(b.ids) and a.currencies == b.currencies
    rows_b = np.array([b.index[acc] for acc in a.ids], dtype=np.int64)
    n = len(a.ids)
    for i, (u, v) in enumerate(zip(a.arrays, b.arrays, strict=True)):
        assert np.array_equal(u[:n], v[rows_b]), f"state array {i} differs"
    assert np.array_equal(a.cur[: len(a.currencies)], b.cur[: len(b.currencies)])


def _features(x: Exchange, ids: list[str]) -> np.ndarray[Any, Any]:
    got, feats = x.feature_log.before(2**62)
    row = {split_transfer_key(t)[1]: i for i, t in enumerate(got)}  # logged as <submitter>/<transfer id>
    return feats[[row[t] for t in ids]]


@pytest.fixture(scope="module")
def reference(tiny3: list[Transfer], model: Any,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Exchange, list[Any]]]:
    """The uninterrupted run: every transfer scored by one process, and its decisions of the last part."""
    ref_db = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ref') / 'ref.db'}")
    upgrade(str(ref_db.url))
    ref = _exchange(ref_db, model)
    _score(ref, tiny3[:CUT1])
    _register_profile(ref, tiny3)
    _score(ref, tiny3[CUT1:CUT2])
    yield ref, _score(ref, tiny3[CUT2:])
    ref.close()
    ref_db.dispose()


@pytest.mark.parametrize("stop", ["crash_after_snapshot", "clean_shutdown", "crash_without_snapshot"])
def test_a_restart_scores_exactly_as_an_uninterrupted_run(stop: str, tiny3: list[Transfer], model: Any,
                                                          engine: Engine,
                                                          reference: tuple[Exchange, list[Any]]) -> None:
    ref, ref_after = reference

    first = _exchange(engine, model)
    _score(first, tiny3[:CUT1])
    if stop == "crash_after_snapshot":
        info = first.snapshotter.snapshot()
        assert info is not None and info["folded"] == CUT1 and info["pending"] == 0
    _register_profile(first, tiny3)  # after the snapshot: the restored state must still have it
    _score(first, tiny3[CUT1:CUT2])
    if stop == "clean_shutdown":
        first.close()
    else:
        _crash(first)

    second = _exchange(engine, model)
    restored = second.restore()
    expected_replay = {"crash_after_snapshot": CUT2 - CUT1, "clean_shutdown": 0, "crash_without_snapshot": CUT2}
    assert restored["features_replayed"] == expected_replay[stop]
    after = _score(second, tiny3[CUT2:])

    ids = [t.transfer_id for t in tiny3[CUT2:]]
    assert np.array_equal(_features(second, ids), _features(ref, ids))
    assert [(r.decision.outcome, r.decision.score, r.decision.reasons) for r in after] == \
        [(r.decision.outcome, r.decision.score, r.decision.reasons) for r in ref_after]
    assert len({r.decision.outcome for r in after}) > 1 and len({round(r.decision.score, 6) for r in after}) > 50
    _same_state(second.scoring.state, ref.scoring.state)
    assert second.scoring.state.folded == N
    second.close()


def test_a_failed_commit_leaves_the_feature_state_unchanged(tiny3: list[Transfer], engine: Engine,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ref_db = make_engine(f"sqlite:///{tmp_path / 'ref.db'}")
    upgrade(str(ref_db.url))
    ref = _exchange(ref_db)
    _score(ref, tiny3[:250])
    _score(ref, tiny3[250:400])

    x = _exchange(engine)
    _score(x, tiny3[:250])
    store = x.recorder._store
    real_fast, real_insert = store.insert_fast, store.insert
    failures = [0]

    def failing(*_a: Any, **_k: Any) -> None:
        failures[0] += 1
        raise OSError("disk I/O error")

    monkeypatch.setattr(store, "insert_fast", failing)
    monkeypatch.setattr(store, "insert", failing)
    with pytest.raises(OSError):
        bic = _submitter(tiny3[250])
        run = next((k for k in range(250, 270) if _submitter(tiny3[k]) != bic), 270)
        x.score(_org_of(x, bic), tiny3[250:run])  # decided, folded in, then the commit fails: nothing stored
    monkeypatch.setattr(store, "insert_fast", real_fast)
    monkeypatch.setattr(store, "insert", real_insert)
    assert failures[0] >= 1
    _score(x, tiny3[250:400])  # the bank retries, then carries on: each transfer counts once
    assert x.recorder.rebuilds == 1
    ids = [t.transfer_id for t in tiny3[250:400]]
    assert np.array_equal(_features(x, ids), _features(ref, ids))
    _same_state(x.scoring.state, ref.scoring.state)
    x.close()
    ref.close()
    ref_db.dispose()


def test_a_snapshot_whose_pending_transfers_never_committed_is_not_used(tiny3: list[Transfer],
                                                                        engine: Engine) -> None:
    x = _exchange(engine)
    _score(x, tiny3[:200])
    good = x.snapshotter.snapshot()
    assert good is not None
    _score(x, tiny3[200:300])
    frozen = feature_snapshot.freeze(x.scoring.state, [10**9])  # as if one folded transfer was never committed
    SqlFeatureStateStore(engine).save(
        taken_at=tiny3[300].ts, folded=frozen.folded, pending=frozen.pending, accounts=len(frozen.ids),
        layout=frozen.layout, currency_stats=frozen.cur, chunks=feature_snapshot.encode(frozen), keep=5)
    _crash(x)
    y = _exchange(engine)
    state, info = feature_snapshot.load(engine, {}, home_country="BY", elderly_age=65.0)
    assert info["snapshot_id"] == good["snapshot_id"] and info["snapshots_skipped"] == 1
    assert info["replayed"] == 100
    _same_state(state, x.scoring.state)
    y.close()
