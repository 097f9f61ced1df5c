"""A one-row batch is evaluated by the row evaluator: it must agree with the vector path exactly."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from zaslon.core.rules import ROW_WISE_MAX, Rule, RuleSet
from zaslon.core.types import Outcome
from zaslon.errors import InvalidInput

from .test_rules_vector import COLS, KINDS, ROWS, _cond


@settings(max_examples=200, deadline=None)
@given(_cond, _cond)
def test_one_row_agrees_with_the_vector_path(a: str, b: str) -> None:
    try:
        rs = RuleSet("t", [Rule("r1", a, Outcome.HOLD, "x"), Rule("r2", b, Outcome.BLOCK, "y")],
                     feature_names=COLS, feature_kinds=KINDS)
    except InvalidInput:
        return
    copies = ROW_WISE_MAX // ROWS.shape[0] + 1
    # float32 features, as the engine has them. Hypothesis found knife edges here (log1p(log(c)) <= log1p(log1p(a))
    # on a=2, c=3, equal in exact arithmetic): both paths now compute in double precision with numpy's functions.
    whole = rs.evaluate_batch(np.vstack([ROWS] * copies).astype(np.float32), COLS)  # > ROW_WISE_MAX: vector path
    assert whole.codes.shape[0] > ROW_WISE_MAX
    for i in range(ROWS.shape[0]):
        one = rs.evaluate_batch(ROWS[i : i + 1].astype(np.float32), COLS)
        assert one.codes.tolist() == [int(whole.codes[i])]
        assert one.hits[0].tolist() == whole.hits[i].tolist()
        assert [h.rule_id for h in one.row(0)] == [h.rule_id for h in whole.row(i)]
        assert one.errors == ()
    few = rs.evaluate_batch(ROWS[: min(5, ROWS.shape[0])].astype(np.float32), COLS)  # a small batch: row by row
    assert few.codes.tolist() == whole.codes[: few.codes.shape[0]].tolist()
    assert few.hits.tolist() == whole.hits[: few.codes.shape[0]].tolist()


def test_one_row_still_needs_every_feature_as_a_column() -> None:
    import pytest

    rs = RuleSet("t", [Rule("r", "a > 0", Outcome.HOLD, "x")], feature_names=COLS, feature_kinds=KINDS)
    with pytest.raises(InvalidInput, match="not a column"):
        rs.evaluate_batch(np.zeros((1, 1)), ("b",))


def test_disabled_rules_never_hit_one_row() -> None:
    rules = [Rule("on", "a > 0", Outcome.REVIEW, "r"), Rule("off", "true", Outcome.BLOCK, "n", enabled=False)]
    rs = RuleSet("t", rules, feature_names=COLS, feature_kinds=KINDS)
    out = rs.evaluate_batch(np.array([[1, 0, 0, 0, 0]], dtype=np.float32), COLS)
    assert out.codes.tolist() == [1] and [h.rule_id for h in out.row(0)] == ["on"]
    assert [r.rule_id for r in out.rules] == ["on"]
