"""The engine: decisions with reasons and versions, hot swap, event-time order, and honest training."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from zaslon.core.features import FEATURE_NAMES, AccountProfile
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.core.types import Outcome, Transfer
from zaslon.flow.model import ModelStore, labels_known_by, train
from zaslon.flow.scoring import ScoringEngine

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def tr(i: int, payer: str, payee: str, minutes: float, amount: int = 10_000, **kw: object) -> Transfer:
    return Transfer(f"t{i}", T0 + timedelta(minutes=minutes), payer, payee, amount, **kw)  # type: ignore[arg-type]


def test_reported_payee_is_held_for_two_days_with_a_reason() -> None:
    k = Knowledge()
    eng = ScoringEngine(k)
    assert eng.knowledge is k
    assert eng.score(tr(1, "A", "DROP", 0)).outcome is Outcome.ALLOW
    eng.knowledge.flag("DROP", AccountFlag.REPORTED)  # intake learns about it: next transfer sees it
    d = eng.score(tr(2, "B", "DROP", 5))
    assert d.outcome is Outcome.HOLD
    assert d.hold_until == T0 + timedelta(minutes=5) + timedelta(days=2)
    assert d.reasons[0].code == "payee_reported"
    eng2 = ScoringEngine(k, hold_days=0.5)
    assert eng2.score(tr(3, "C", "DROP", 6)).hold_until == T0 + timedelta(minutes=6, hours=12)


def test_elderly_living_alone_on_a_flagged_call_is_protected() -> None:
    prof = {"GRAN": AccountProfile(birth_date=datetime(1948, 1, 1).date(), lives_alone=True)}

    class Fixed:
        version = "m-fixed"

        def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return np.full(x.shape[0], 0.07), np.zeros(x.shape, dtype=np.float32)

    eng = ScoringEngine(profiles=prof, model=Fixed())
    assert eng.score(tr(1, "YOUNG", "P", 0)).outcome is Outcome.REVIEW
    d = eng.score(tr(2, "GRAN", "P", 1))
    assert d.outcome is Outcome.HOLD and d.model_version == "m-fixed"


def test_rule_set_hot_swap_and_rule_reasons() -> None:
    from zaslon.core.rules import Rule, RuleSet

    eng = ScoringEngine()
    assert eng.score(tr(1, "A", "B", 0, 10**7)).outcome is Outcome.ALLOW
    rule = Rule("big-first", "first_time_payee and amount_rel_log > 1", Outcome.BLOCK, "big first payment")
    rs = RuleSet("rs-2", [rule])
    eng.set_ruleset(rs)
    d = eng.score(tr(2, "A", "C", 1, 10**9))
    assert d.outcome is Outcome.BLOCK and d.ruleset_version == "rs-2"
    assert any(r.code == "rule:big-first" for r in d.reasons)
    eng.set_ruleset(None)
    assert eng.score(tr(3, "A", "D", 2, 10**9)).ruleset_version is None


def test_a_failing_rule_set_does_not_crash_the_engine() -> None:
    class Broken:
        version = "broken"

        def evaluate(self, features: object) -> list[object]:
            raise ZeroDivisionError

    d = ScoringEngine(ruleset=Broken()).score(tr(1, "A", "B", 0))
    assert d.outcome is Outcome.ALLOW and d.ruleset_version == "broken"

    class BrokenBatch(Broken):
        def evaluate_batch(self, x: object, columns: object) -> object:
            raise MemoryError

    d = ScoringEngine(ruleset=BrokenBatch()).score(tr(2, "A", "B", 1))
    assert d.outcome is Outcome.ALLOW and d.reasons == ()


def test_batch_out_of_order_is_scored_in_event_time() -> None:
    rows = [tr(i, "A", "B", m) for i, m in enumerate([0, 5, 3, 1, 4])]
    out_of_order = ScoringEngine().score_batch(rows)
    in_order = ScoringEngine().score_batch(sorted(rows, key=lambda t: t.ts))
    by_id = {d.transfer_id: d for d in in_order}
    assert [d.transfer_id for d in out_of_order] == [t.transfer_id for t in rows]
    assert all(d == by_id[d.transfer_id] for d in out_of_order)


def test_observe_updates_state_without_deciding() -> None:
    eng = ScoringEngine()
    eng.observe(tr(1, "A", "B", 0))
    x = eng.observe_columns  # the observed transfer is now history: B is a known payee of A
    from zaslon.flow.scoring import columns_of

    feats = x(columns_of([tr(2, "A", "B", 1)], None))
    from zaslon.core.features import FEATURE_INDEX

    assert feats[0, FEATURE_INDEX["first_time_payee"]] == 0


def _history(seed: int = 0) -> tuple[np.ndarray, list[str], list[datetime]]:
    rng = np.random.default_rng(seed)
    n = 4000
    x = rng.normal(size=(n, len(FEATURE_NAMES))).astype(np.float32)
    ids = [f"t{i}" for i in range(n)]
    ts = [T0 + timedelta(minutes=i) for i in range(n)]
    return x, ids, ts


def test_model_trains_only_on_reports_made_before_the_cutoff(tmp_path: object) -> None:
    x, ids, ts = _history()
    cutoff = T0 + timedelta(minutes=3000)
    hi = 3000
    rng = np.random.default_rng(5)
    bad = [ids[i] for i in rng.choice(hi - 120, 60, replace=False)]
    x[[ids.index(b) for b in bad], 0] += 3.0
    early = [(ts[ids.index(b)] + timedelta(hours=1), [b]) for b in bad[:40]]
    late = [(cutoff + timedelta(hours=1), bad[40:])]  # reported after the cut-off: must not be used
    y_early = labels_known_by(ids[:hi], early, cutoff)
    y_all = labels_known_by(ids[:hi], early + late, cutoff)
    assert int(y_early.sum()) == 40
    np.testing.assert_array_equal(y_early, y_all)
    m1 = train(x[:hi], y_all, cutoff=cutoff, params={"num_boost_round": 10})
    m2 = train(x[:hi], y_early, cutoff=cutoff, params={"num_boost_round": 10})
    assert m1.model_id == m2.model_id  # the later report changed nothing the model saw
    m3 = train(x[:hi], labels_known_by(ids[:hi], early + late, cutoff + timedelta(hours=2)), cutoff=cutoff,
               params={"num_boost_round": 10})
    assert m3.model_id != m1.model_id  # ...whereas a later cut-off does see it
    store = ModelStore(tmp_path)  # type: ignore[arg-type]
    store.save(m1)
    loaded = store.load()
    assert loaded.version == m1.model_id
    np.testing.assert_allclose(loaded.predict(x[hi:])[0], m1.compiled.predict(x[hi:])[0])
    assert store.meta(m1.model_id)["positives"] == 40


def test_training_without_positives_is_refused() -> None:
    from zaslon.errors import InvalidInput

    x, _, _ = _history()
    with pytest.raises(InvalidInput):
        train(x, np.zeros(x.shape[0], dtype=np.bool_), cutoff=T0)
