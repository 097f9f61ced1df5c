"""The rules language: parsing, type checks, safe evaluation, and a fuzzed parser."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zaslon.core.rules import Rule, RuleHit, RuleSet, compile_rule
from zaslon.core.rules_syntax import MAX_LENGTH, parse, tokenize
from zaslon.core.types import Outcome
from zaslon.errors import InvalidInput

NAMES = frozenset(
    {"amount", "payee_reported", "channel", "n_out_1h", "ratio", "first_payee", "elderly_alone"}
)
KINDS = {
    "amount": "num",
    "payee_reported": "bool",
    "channel": "str",
    "n_out_1h": "num",
    "ratio": "num",
    "first_payee": "bool",
    "elderly_alone": "bool",
}
BASE = {
    "amount": 500_00,
    "payee_reported": False,
    "channel": "mobile",
    "n_out_1h": 2,
    "ratio": 0.5,
    "first_payee": True,
    "elderly_alone": True,
}


def one(expr: str, action: Outcome = Outcome.HOLD, *, kinds: dict[str, str] | None = KINDS) -> RuleSet:
    return RuleSet("t", [Rule("r", expr, action, "why")], feature_names=NAMES, feature_kinds=kinds)


def hits(expr: str, **over: object) -> bool:
    rs = one(expr)
    return bool(rs.evaluate({**BASE, **over}))  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("amount > 100", True),
        ("amount >= 500_00 and amount <= 500_00", True),
        ("amount > 1e6", False),
        ("not payee_reported", True),
        ("payee_reported or first_payee and elderly_alone", True),
        ("(payee_reported or first_payee) and not elderly_alone", False),
        ("channel == 'mobile'", True),
        ('channel in ["web", "mobile"]', True),
        ("channel not in ['web', 'branch']", True),
        ("n_out_1h in [1, 2, 3]", True),
        ("0 < ratio < 1", True),
        ("0 < ratio < 0.4", False),
        ("amount / 100 - 5 * 2 == 490", True),
        ("amount % 7 == 50000 % 7", True),
        ("-amount < -1", True),
        ("max(amount, 10, 20) == amount and min(ratio, 1) == 0.5", True),
        ("abs(-3) == 3 and sqrt(16) == 4 and log(1) == 0 and log1p(0) == 0", True),
        ("true", True),
        ("False", False),
        ("elderly_alone and first_payee and amount >= 300_00", True),
        ("'it\\'s' == \"it's\"", True),
    ],
)
def test_expressions_evaluate_like_arithmetic_and_logic(expr: str, expected: bool) -> None:
    assert hits(expr) is expected


def test_hits_carry_rule_id_action_and_reason_in_rule_order() -> None:
    rs = RuleSet(
        "v7",
        [
            Rule("a", "amount > 1", Outcome.REVIEW, "big"),
            Rule("b", "payee_reported", Outcome.HOLD, "reported"),
            Rule("c", "first_payee", Outcome.BLOCK, "new payee"),
        ],
        feature_names=NAMES,
        feature_kinds=KINDS,
    )
    expected = [RuleHit("a", Outcome.REVIEW, "big"), RuleHit("c", Outcome.BLOCK, "new payee")]
    assert rs.evaluate(BASE) == expected
    assert rs.version == "v7"
    assert rs.features == {"amount", "payee_reported", "first_payee"}


def test_disabled_rules_are_kept_but_not_evaluated() -> None:
    rs = RuleSet("t", [Rule("a", "amount > 1", Outcome.HOLD, "x", enabled=False)], feature_names=NAMES)
    assert rs.evaluate(BASE) == []
    assert rs.to_dicts()[0]["enabled"] is False


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("amount >", "position 8: expected an operand"),
        ("amount = 3", "position 7: use '=='"),
        ("amuont > 3", "position 0: unknown feature 'amuont'"),
        ("amount > 3 3", "position 11: expected an operator"),
        ("(amount > 3", "expected ')'"),
        ("amount.real > 0", "unexpected character '.'"),
        ("amount ** 2 > 0", "operator '**'"),
        ("__import__('os')", "unknown function '__import__'"),
        ("open('x') == 1", "unknown function 'open'"),
        ("amount[0] > 1", "expected an operator"),
        ("'abc", "unterminated string"),
        ("'a\\n' == channel", "escapes"),
        ("amount > 1e999", "number out of range"),
        ("amount > 12abc", "runs into a name"),
        ("amount + 'x' > 3", "needs a number"),
        ("channel > 3", "compares a string with a number"),
        ("channel in [1, 2]", "can never equal a string"),
        ("amount", "must be a condition"),
        ("amount and payee_reported", "needs a condition"),
        ("max(amount) > 1", "takes at least 2"),
        ("abs(amount, 1) > 1", "takes 1"),
        ("amount in [n_out_1h]", "lists may hold only"),
        ("", "empty"),
        ("   ", "empty"),
        ("not", "expected an operand"),
        ("amount > 1 and", "expected an operand"),
        ("(" * 60 + "amount > 1" + ")" * 60, "nested deeper"),
        ("1" + " + 1" * 60 + " > 0", "nested deeper"),
    ],
)
def test_bad_rules_raise_invalid_input_with_position_and_reason(expr: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        one(expr)
    assert fragment in exc.value.message
    assert exc.value.field == "rules[0].expression"


def test_unknown_feature_suggests_the_close_name() -> None:
    with pytest.raises(InvalidInput, match="did you mean 'payee_reported'"):
        one("payee_reportd")


def test_rule_fields_are_validated() -> None:
    with pytest.raises(InvalidInput, match="duplicate rule_id"):
        RuleSet("t", [Rule("a", "true", Outcome.HOLD, "x")] * 2, feature_names=NAMES)
    good = {"rule_id": "r1", "expression": "true", "action": "hold", "reason": "x"}
    assert Rule.from_dict(good).action is Outcome.HOLD
    for bad, field in [
        ({**good, "action": "allow"}, "rule.action"),
        ({**good, "rule_id": "has space"}, "rule.rule_id"),
        ({**good, "reason": ""}, "rule.reason"),
        ({**good, "extra": 1}, "rule"),
        ({**good, "enabled": "yes"}, "rule.enabled"),
        ({k: v for k, v in good.items() if k != "expression"}, "rule.expression"),
    ]:
        with pytest.raises(InvalidInput) as exc:
            Rule.from_dict(bad)
        assert exc.value.field == field
    with pytest.raises(InvalidInput, match="list of rule objects"):
        RuleSet.from_dicts("t", "nope", feature_names=NAMES)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "features", "error"),
    [
        ("amount / n_out_1h > 1", {**BASE, "n_out_1h": 0}, "ZeroDivisionError"),
        ("amount % n_out_1h > 1", {**BASE, "n_out_1h": 0}, "ZeroDivisionError"),
        ("log(ratio) < 0", {**BASE, "ratio": -1.0}, "ValueError"),
        ("amount > 1", {k: v for k, v in BASE.items() if k != "amount"}, "KeyError"),
        ("channel * 1000000000 > 1", BASE, "TypeError"),  # untyped: runtime guard, no giant string
        ("n_out_1h < channel", BASE, "TypeError"),
    ],
)
def test_evaluation_never_raises_failed_rules_are_not_hit_and_counted(
    expr: str, features: dict[str, object], error: str
) -> None:
    rs = one(expr, kinds=None)  # untyped features: only the runtime guards protect
    ok = RuleSet(
        "t",
        [Rule("r", expr, Outcome.HOLD, "why"), Rule("ok", "true", Outcome.REVIEW, "always")],
        feature_names=NAMES,
    )
    assert rs.evaluate(features) == []  # type: ignore[arg-type]
    assert rs.error_counts == {"r": 1}
    got, errors = ok.evaluate_detailed(features)  # type: ignore[arg-type]
    assert [h.rule_id for h in got] == ["ok"]  # a failing rule does not stop the others
    assert errors[0].rule_id == "r" and errors[0].error.startswith(error)


def test_nan_and_infinite_feature_values_do_not_crash() -> None:
    rs = one("amount > 1 or ratio < 1")
    assert rs.evaluate({**BASE, "amount": math.nan, "ratio": math.inf}) == []


def test_compiled_source_reads_only_feature_lookups() -> None:
    c = compile_rule(Rule("r", "channel in ['x'] and amount > 3", Outcome.HOLD, "y"), NAMES, KINDS)
    assert "f['channel']" in c.source and "f['amount']" in c.source
    assert c.features == {"channel", "amount"}


def test_tokenizer_positions() -> None:
    toks = tokenize("a >= 'b' and 1.5e3")
    assert [(t.kind, t.pos) for t in toks] == [
        ("name", 0),
        ("op", 2),
        ("str", 5),
        ("name", 9),
        ("num", 13),
        ("end", 18),
    ]
    assert toks[4].value == 1500.0


def test_too_long_expression_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="longer than"):
        parse("a" * (MAX_LENGTH + 1))


_ALPHABET = st.sampled_from(
    [
        *"amount><=!()[],.'\"+-*/%_ 0123456789eE\\\n",
        "and",
        "or",
        "not",
        "in",
        "true",
        "max(",
        "log(",
        "payee_reported",
        "channel",
        "1e400",
        "**",
        "__",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_fuzz_random_text_only_ever_raises_invalid_input(text: str) -> None:
    try:
        rs = one(text, kinds=None)
    except InvalidInput:
        return
    rs.evaluate(BASE)  # whatever compiled must evaluate without raising


@settings(max_examples=600, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_fuzz_token_soup_only_ever_raises_invalid_input(text: str) -> None:
    for kinds in (KINDS, None):
        try:
            rs = one(text, kinds=kinds)
        except InvalidInput:
            continue
        rs.evaluate(BASE)
        rs.evaluate({"amount": "x", "channel": 0, "ratio": None})  # type: ignore[dict-item]


def test_docs_list_every_feature_and_function() -> None:
    from pathlib import Path

    from zaslon.core.features import FEATURE_INFO
    from zaslon.core.rules_syntax import FUNCTIONS

    doc = (Path(__file__).parents[2] / "docs" / "rules-language.md").read_text(encoding="utf-8")
    for name, (kind, meaning) in FEATURE_INFO.items():
        assert f"| `{name}` | {kind} | {meaning.replace('|', '/')} |" in doc, f"regenerate the table: {name}"
    for fn in FUNCTIONS:
        assert f"`{fn}(" in doc
