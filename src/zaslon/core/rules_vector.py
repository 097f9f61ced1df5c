"""Rules evaluated over a whole batch at once: each rule becomes numpy operations over feature columns.

The engine computes features as a float32 matrix ``X[n, F]`` (one row per transfer); evaluating rules
row by row through dicts would cost more than everything else. Here every checked syntax tree is
translated into numpy expressions on columns of ``X`` (same whitelist as the row evaluator: feature
columns, literals, operators, whitelisted functions; no builtins). Failure semantics match the row
evaluator: numpy turns ``x / 0`` and ``log(-1)`` into inf/nan with warnings silenced, and any comparison
with nan is false, so such a row is simply not hit; a rule that raises anyway is not hit for the batch
and its error is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zaslon.core.rules_syntax import BinOp, BoolOp, Call, Compare, InList, Lit, Name, Node, Unary
from zaslon.errors import InvalidInput

BoolArray = npt.NDArray[np.bool_]

_FUNCS: dict[str, str] = {"abs": "_np.abs", "log": "_np.log", "log1p": "_np.log1p", "sqrt": "_np.sqrt"}


Code = tuple[str, str | None]  # (numpy text of the value, numpy text of the rows where it fails, or None)

# Domain of each function, as the rows where the row evaluator (math.*) would raise ValueError.
_DOMAIN: dict[str, str] = {"log": "({a} <= 0)", "log1p": "({a} <= -1)", "sqrt": "({a} < 0)"}


def _any(*errs: str | None) -> str | None:
    kept = [e for e in errs if e is not None]
    if not kept:
        return None
    acc = kept[0]
    for e in kept[1:]:
        acc = f"_np.logical_or({acc}, {e})"
    return acc


def _when(cond: str, err: str | None) -> str | None:
    return None if err is None else f"_np.logical_and({cond}, {err})"


class VectorEmitter:
    """numpy source text for one syntax tree; ``X`` is the feature matrix, ``index`` maps names to columns.

    Besides the value, every node yields the rows on which the row evaluator would have raised (division
    by zero, log of a non-positive number), following Python's short-circuit order for and/or and for
    comparison chains; those rows are then "not hit", exactly as in ``RuleSet.evaluate``.
    """

    def __init__(self, index: Mapping[str, int], kinds: Mapping[str, str]) -> None:
        self.index = index
        self.kinds = kinds
        self.consts: dict[str, object] = {}

    def col(self, name: str) -> str:
        j = self.index.get(name)
        if j is None:
            raise InvalidInput(f"feature {name!r} is not a column of the feature matrix", field="expression")
        return f"X[:, {int(j)}]"

    def cond(self, n: Node) -> Code:
        """A condition: bool columns (stored as 0/1 floats) become comparisons with 0."""
        if isinstance(n, Name):
            return f"({self.col(n.name)} != 0)", None
        return self.emit(n)

    def emit(self, n: Node) -> Code:
        if isinstance(n, Lit):
            if isinstance(n.value, bool | str):
                return f"({n.value!r})", None
            # numpy scalars, so that arithmetic on literals alone also yields inf/nan instead of raising.
            k = f"_k{len(self.consts)}"
            try:
                self.consts[k] = np.float64(n.value)
            except OverflowError:
                self.consts[k] = np.float64(np.inf if n.value > 0 else -np.inf)
            return k, None
        if isinstance(n, Name):
            return self.col(n.name), None
        if isinstance(n, Unary):
            if n.op == "not":
                v, e = self.cond(n.operand)
                return f"_np.logical_not({v})", e
            v, e = self.emit(n.operand)
            return f"(-{v})", e
        if isinstance(n, BinOp):
            (a, ea), (b, eb) = self.emit(n.left), self.emit(n.right)
            zero = f"({b} == 0)" if n.op in "/%" else None
            return f"({a} {n.op} {b})", _any(ea, eb, zero)
        if isinstance(n, BoolOp):
            acc, err = self.cond(n.operands[0])
            for o in n.operands[1:]:
                v, e = self.cond(o)
                # Python evaluates the right side only where the left did not decide the result.
                gate = acc if n.op == "and" else f"_np.logical_not({acc})"
                err = _any(err, _when(gate, e))
                acc = f"_np.{'logical_and' if n.op == 'and' else 'logical_or'}({acc}, {v})"
            return acc, err
        if isinstance(n, Compare):
            terms = [self.emit(n.first), *(self.emit(r) for r in n.rest)]
            acc, err = f"({terms[0][0]} {n.ops[0]} {terms[1][0]})", _any(terms[0][1], terms[1][1])
            for op, (a, _), (b, eb) in zip(n.ops[1:], terms[1:], terms[2:], strict=False):
                err = _any(err, _when(acc, eb))
                acc = f"_np.logical_and({acc}, ({a} {op} {b}))"
            return acc, err
        if isinstance(n, InList):
            k = f"_k{len(self.consts)}"
            self.consts[k] = np.asarray([v for v in n.values if not isinstance(v, str)], dtype=np.float64)
            v, e = self.emit(n.operand)
            test = f"_np.isin({v}, {k})"
            return (f"_np.logical_not({test})" if n.negated else test), e
        return self._call(n)

    def _call(self, n: Call) -> Code:
        args = [self.emit(a) for a in n.args]
        err = _any(*(e for _, e in args))
        if n.func in ("min", "max"):
            fn = "_np.minimum" if n.func == "min" else "_np.maximum"
            acc = args[0][0]
            for a, _ in args[1:]:
                acc = f"{fn}({acc}, {a})"
            return acc, err
        a = args[0][0]
        dom = _DOMAIN.get(n.func)
        return f"{_FUNCS[n.func]}({a})", _any(err, dom.format(a=a) if dom else None)


VectorRule = Callable[[npt.NDArray[Any]], Any]


def compile_vector(tree: Node, index: Mapping[str, int], kinds: Mapping[str, str]) -> VectorRule:
    em = VectorEmitter(index, kinds)
    value, err = em.cond(tree)
    text = value if err is None else f"_np.logical_and({value}, _np.logical_not({err}))"
    g: dict[str, Any] = {"__builtins__": {}, "_np": np}
    g.update(em.consts)
    # Generated from a checked syntax tree; runs without builtins.
    fn: VectorRule = eval(compile(f"lambda X: {text}", "<zaslon-rules-vector>", "eval"), g)
    return fn


def run_vector(rules: Sequence[VectorRule], x: npt.NDArray[Any]) -> tuple[list[BoolArray], list[tuple[int, str]]]:
    """Hit mask of each rule over the rows of ``x``; failing rules get an all-false mask and an error."""
    n = x.shape[0]
    # Computed in double precision, as the row evaluator computes (features are stored as float32).
    x = x if x.dtype == np.float64 else x.astype(np.float64)
    masks: list[BoolArray] = []
    errors: list[tuple[int, str]] = []
    with np.errstate(all="ignore"):
        for i, fn in enumerate(rules):
            try:
                res = np.broadcast_to(np.asarray(fn(x), dtype=np.bool_), (n,))
            except Exception as exc:  # a bad rule must never stop the engine
                errors.append((i, f"{type(exc).__name__}: {exc}"[:200]))
                res = np.zeros(n, dtype=np.bool_)
            masks.append(res)
    return masks, errors
