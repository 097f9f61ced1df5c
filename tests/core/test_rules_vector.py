"""The batch (numpy) evaluator agrees with the row evaluator, failures included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zaslon.core.rules import Rule, RuleSet
from zaslon.core.types import Outcome
from zaslon.errors import InvalidInput

COLS = ("a", "b", "c", "flag", "other")
KINDS = {"a": "num", "b": "num", "c": "num", "flag": "bool", "other": "bool"}

_num = st.recursive(
    st.sampled_from(["a", "b", "c", "0", "1", "2", "-1", "0.5"]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"abs({x})"),
        inner.map(lambda x: f"log1p({x})"),
        inner.map(lambda x: f"sqrt({x})"),
        inner.map(lambda x: f"log({x})"),
        st.tuples(inner, inner).map(lambda t: f"min({t[0]}, {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"max({t[0]}, {t[1]})"),
    ),
    max_leaves=4,
)
_cmp = st.one_of(
    st.tuples(_num, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _num).map(" ".join),
    st.tuples(_num, _num, _num).map(lambda t: f"{t[0]} < {t[1]} <= {t[2]}"),
    _num.map(lambda x: f"{x} in [0, 1, 2]"),
    _num.map(lambda x: f"{x} not in [1, 'x']"),
    st.sampled_from(["flag", "other", "true", "false"]),
)
_cond = st.recursive(
    _cmp,
    lambda inner: st.one_of(
        inner.map(lambda x: f"not ({x})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} and {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} or {t[1]})"),
    ),
    max_leaves=4,
)

ROWS = np.array(
    [[a, b, c, f, o] for a in (-1, 0, 2) for b in (0, 1, -2) for c in (0, 3) for f in (0, 1) for o in (1, 0)],
    dtype=np.float64,
)


def _row(i: int) -> dict[str, float | bool]:
    r = ROWS[i]
    return {"a": float(r[0]), "b": float(r[1]), "c": float(r[2]), "flag": bool(r[3]), "other": bool(r[4])}


@settings(max_examples=300, deadline=None)
@given(_cond)
def test_batch_and_row_evaluators_agree(expr: str) -> None:
    try:
        rs = RuleSet("t", [Rule("r", expr, Outcome.HOLD, "x")], feature_names=COLS, feature_kinds=KINDS)
    except InvalidInput:
        return  # e.g. nested too deep
    batch = rs.evaluate_batch(ROWS, COLS)
    for i in range(ROWS.shape[0]):
        expected = bool(rs.evaluate(_row(i)))
        assert bool(batch.hits[i, 0]) is expected, (expr, _row(i))


def test_codes_are_the_most_severe_hit_and_rows_list_their_rules() -> None:
    rs = RuleSet(
        "t",
        [
            Rule("rev", "a > 0", Outcome.REVIEW, "r"),
            Rule("blk", "flag and b < 0", Outcome.BLOCK, "b"),
            Rule("hld", "c / b > 1", Outcome.HOLD, "h"),
            Rule("off", "true", Outcome.BLOCK, "never", enabled=False),
        ],
        feature_names=COLS,
        feature_kinds=KINDS,
    )
    x = np.array([[1, -2, 0, 1, 0], [1, 0, 3, 0, 0], [0, 1, 3, 0, 0], [0, 0, 0, 0, 0]], dtype=np.float32)
    out = rs.evaluate_batch(x, COLS)
    assert out.codes.tolist() == [3, 1, 2, 0]
    assert [h.rule_id for h in out.row(0)] == ["rev", "blk"]
    assert out.counts() == {"rev": 2, "blk": 1, "hld": 1}
    assert out.errors == ()


def test_batch_needs_every_feature_as_a_column() -> None:
    rs = RuleSet("t", [Rule("r", "a > 0", Outcome.HOLD, "x")], feature_names=COLS, feature_kinds=KINDS)
    with pytest.raises(InvalidInput, match="not a column"):
        rs.evaluate_batch(np.zeros((1, 1)), ("b",))


def test_default_feature_columns_are_used_when_none_given() -> None:
    from zaslon.core.features import FEATURE_NAMES

    rs = RuleSet("t", [Rule("r", "payee_reported", Outcome.HOLD, "x")])
    x = np.zeros((2, len(FEATURE_NAMES)), dtype=np.float32)
    x[1, FEATURE_NAMES.index("payee_reported")] = 1
    assert rs.evaluate_batch(x).codes.tolist() == [0, 2]
