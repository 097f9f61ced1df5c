"""Rules: analysts' conditions over feature names, compiled to fast Python functions, grouped in versions.

A rule is ``{rule_id, expression, action, reason}``; ``action`` is review, hold or block. Expressions are
written in the small language of ``zaslon.core.rules_syntax`` (see docs/rules-language.md). A ``RuleSet``
type-checks every expression against the known features, then generates ONE Python function for the
whole set from the checked syntax tree. The generated text contains only: feature look-ups ``f['name']``
for validated names, ``repr`` of literals, operators, and calls of whitelisted functions bound in a
globals dict without builtins. Nothing the analyst typed is ever executed as Python source.

Evaluation never raises: each rule runs inside its own ``try``; a rule that fails (division by zero, a
missing feature, a string where a number belongs) is not hit, and the failure is counted and returned.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from zaslon.core.rules_syntax import (
    FUNCTIONS,
    BinOp,
    BoolOp,
    Call,
    Compare,
    InList,
    Lit,
    Name,
    Node,
    Unary,
    feature_names_in,
    parse,
)
from zaslon.core.rules_vector import VectorRule, compile_vector, run_vector
from zaslon.core.types import Outcome
from zaslon.errors import InvalidInput

FeatureValue = float | int | bool | str
Features = Mapping[str, Any]  # name -> float | int | bool | str (FeatureValue)
Kind = Literal["num", "bool", "str", "any"]

# Severity codes shared with the policy (zaslon.core.policy.OUTCOMES order): 0 allow .. 3 block.
SEVERITY: dict[Outcome, int] = {Outcome.ALLOW: 0, Outcome.REVIEW: 1, Outcome.HOLD: 2, Outcome.BLOCK: 3}
ACTIONS: dict[str, Outcome] = {"review": Outcome.REVIEW, "hold": Outcome.HOLD, "block": Outcome.BLOCK}
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_RULE_KEYS = frozenset({"rule_id", "expression", "action", "reason", "enabled"})


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    expression: str
    action: Outcome
    reason: str
    enabled: bool = True

    @classmethod
    def from_dict(cls, raw: Mapping[str, object], where: str = "rule") -> Rule:
        """Build a rule from a JSON-like mapping, rejecting unknown keys and bad values by name."""
        if not isinstance(raw, Mapping):
            raise InvalidInput("a rule must be an object", field=where)
        unknown = sorted(set(map(str, raw)) - _RULE_KEYS)
        if unknown:
            raise InvalidInput(f"unknown rule field(s): {', '.join(unknown)}", field=where)
        for key in ("rule_id", "expression", "action", "reason"):
            if not isinstance(raw.get(key), str):
                raise InvalidInput(f"{key} is required and must be a string", field=f"{where}.{key}")
        rule_id = str(raw["rule_id"])
        if not _RULE_ID.match(rule_id):
            raise InvalidInput(
                "rule_id must be 1-64 characters of letters, digits, '_', '.', '-'", field=f"{where}.rule_id"
            )
        action = str(raw["action"])
        if action not in ACTIONS:
            raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}", field=f"{where}.action")
        reason = str(raw["reason"]).strip()
        if not reason or len(reason) > 500:
            raise InvalidInput("reason must be 1-500 characters", field=f"{where}.reason")
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidInput("enabled must be true or false", field=f"{where}.enabled")
        return cls(rule_id, str(raw["expression"]), ACTIONS[action], reason, enabled)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "rule_id": self.rule_id,
            "expression": self.expression,
            "action": self.action.value,
            "reason": self.reason,
        }
        if not self.enabled:
            out["enabled"] = False
        return out


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule_id: str
    action: Outcome
    reason: str


@dataclass(frozen=True, slots=True)
class RuleError:
    """A rule that could not be evaluated on one input: treated as not hit."""

    rule_id: str
    error: str


# Batches up to this many rows are evaluated row by row: below it, the vector path's fixed cost per numpy
# operation (a dozen rules, several operations each) exceeds the row evaluator's cost per row.
ROW_WISE_MAX = 16


def _stack(rows: list[BatchHits]) -> BatchHits:
    """One BatchHits from one-row BatchHits of the same rules (row-wise evaluation of a small batch)."""
    if len(rows) == 1:
        return rows[0]
    return BatchHits(np.concatenate([r.codes for r in rows]), np.concatenate([r.hits for r in rows]),
                     rows[0].rules, ())


@dataclass(frozen=True, slots=True)
class BatchHits:
    """Rule hits over a batch: the most severe action code per row, and which rules hit which rows."""

    codes: npt.NDArray[np.int8]  # per row, SEVERITY of the most severe rule hit (0: none)
    hits: npt.NDArray[np.bool_]  # [rows, enabled rules]
    rules: tuple[RuleHit, ...]  # the enabled rules, column order of ``hits``
    errors: tuple[RuleError, ...]

    def row(self, i: int) -> list[RuleHit]:
        return [self.rules[j] for j in np.flatnonzero(self.hits[i])]

    def counts(self) -> dict[str, int]:
        per_rule = self.hits.sum(axis=0)
        return {r.rule_id: int(c) for r, c in zip(self.rules, per_rule, strict=True)}


# ---- type checking --------------------------------------------------------------------------------


class _Checker:
    """Static kinds catch the mistakes an analyst makes most (comparing a string with a number)."""

    def __init__(self, types: Mapping[str, str]) -> None:
        self.types = types

    def kind(self, n: Node) -> Kind:
        if isinstance(n, Lit):
            v = n.value
            return "bool" if isinstance(v, bool) else "str" if isinstance(v, str) else "num"
        if isinstance(n, Name):
            t = self.types.get(n.name, "any")
            return t if t in ("num", "bool", "str") else "any"  # type: ignore[return-value]
        if isinstance(n, Unary):
            k = self.kind(n.operand)
            if n.op == "not":
                self._condition(k, n.operand, "'not'")
                return "bool"
            self._number(k, n.operand, "'-'")
            return "num"
        if isinstance(n, BinOp):
            self._number(self.kind(n.left), n.left, f"'{n.op}'")
            self._number(self.kind(n.right), n.right, f"'{n.op}'")
            return "num"
        if isinstance(n, BoolOp):
            for o in n.operands:
                self._condition(self.kind(o), o, f"'{n.op}'")
            return "bool"
        if isinstance(n, Compare):
            kinds = [self.kind(n.first), *(self.kind(r) for r in n.rest)]
            for op, (a, b), node in zip(n.ops, itertools.pairwise(kinds), n.rest, strict=True):
                if "any" in (a, b):
                    continue
                if {a, b} == {"str"} or (a != "str" and b != "str"):
                    continue
                raise InvalidInput(
                    f"position {node.pos}: '{op}' compares a {_NOUN[a]} with a {_NOUN[b]}", field="expression"
                )
            return "bool"
        if isinstance(n, InList):
            k = self.kind(n.operand)
            for v in n.values:
                vk = "str" if isinstance(v, str) else "num"
                if k != "any" and (k == "str") != (vk == "str"):
                    raise InvalidInput(
                        f"position {n.pos}: the list holds {v!r}, which can never equal a {_NOUN[k]}",
                        field="expression",
                    )
            return "bool"
        for arg in n.args:  # Call
            self._number(self.kind(arg), arg, f"{n.func}()")
        return "num"

    @staticmethod
    def _number(k: Kind, n: Node, what: str) -> None:
        if k == "str":
            raise InvalidInput(f"position {n.pos}: {what} needs a number, not a string", field="expression")

    @staticmethod
    def _condition(k: Kind, n: Node, what: str) -> None:
        if k in ("num", "str"):
            raise InvalidInput(
                f"position {n.pos}: {what} needs a condition (a comparison or a true/false feature), not a {_NOUN[k]}",
                field="expression",
            )


_NOUN = {"num": "number", "bool": "true/false value", "str": "string", "any": "value"}


# ---- code generation ------------------------------------------------------------------------------


def _not_text(x: object) -> float | int | bool:
    """Guard for arithmetic on values of unknown kind: ``'ab' * 10**9`` must fail, not allocate."""
    if isinstance(x, int | float):
        return x
    raise TypeError(f"arithmetic on a {type(x).__name__}")


class _Emitter:
    def __init__(self, types: Mapping[str, str]) -> None:
        self.types = types
        self.consts: dict[str, object] = {}

    def const(self, value: object) -> str:
        name = f"_k{len(self.consts)}"
        self.consts[name] = value
        return name

    def num(self, n: Node) -> str:
        """An operand of arithmetic: guarded unless statically a number or a literal."""
        text = self.emit(n)
        if isinstance(n, Lit | BinOp | Call) or (isinstance(n, Unary) and n.op == "-"):
            return text
        if isinstance(n, Name) and self.types.get(n.name) in ("num", "bool"):
            return text
        return f"_num({text})"

    def emit(self, n: Node) -> str:
        if isinstance(n, Lit):
            # repr of a finite number, a bool or a str is always a valid, inert Python literal.
            return f"({n.value!r})"
        if isinstance(n, Name):
            return f"f[{n.name!r}]"
        if isinstance(n, Unary):
            return f"(not {self.emit(n.operand)})" if n.op == "not" else f"(-{self.num(n.operand)})"
        if isinstance(n, BinOp):
            return f"({self.num(n.left)} {n.op} {self.num(n.right)})"
        if isinstance(n, BoolOp):
            return "(" + f" {n.op} ".join(self.emit(o) for o in n.operands) + ")"
        if isinstance(n, Compare):
            parts = [self.emit(n.first)]
            for op, r in zip(n.ops, n.rest, strict=True):
                parts.extend((op, self.emit(r)))
            return "(" + " ".join(parts) + ")"
        if isinstance(n, InList):
            k = self.const(frozenset(n.values))
            return f"({self.emit(n.operand)} {'not in' if n.negated else 'in'} {k})"
        return f"_fn_{n.func}(" + ", ".join(self.num(a) for a in n.args) + ")"


def _globals(consts: Mapping[str, object]) -> dict[str, Any]:
    g: dict[str, Any] = {"__builtins__": {}, "_num": _not_text, "Exception": Exception}
    for name, (fn, _, _) in FUNCTIONS.items():
        g[f"_fn_{name}"] = fn
    g.update(consts)
    return g


def _compile_source(src: str, g: dict[str, Any]) -> Callable[..., Any]:
    try:
        code = compile(src, "<zaslon-rules>", "exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:  # pragma: no cover - depth-limited
        raise InvalidInput(f"expression too complex to compile: {exc}", field="expression") from None
    # The source was generated from a checked syntax tree and runs without builtins.
    exec(code, g)
    fn: Callable[..., Any] = g["_rules"]
    return fn


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    tree: Node
    features: frozenset[str]
    source: str


def _feature_order() -> tuple[str, ...]:
    import importlib

    return tuple(importlib.import_module("zaslon.core.features").FEATURE_NAMES)


_KIND_ALIASES = {"float": "num", "int": "num", "number": "num", "bool": "bool", "str": "str"}


def default_features() -> tuple[frozenset[str], dict[str, str]]:
    """Feature names and kinds published by ``zaslon.core.features`` (the scoring engineer's module)."""
    import importlib

    fmod = importlib.import_module("zaslon.core.features")

    names = frozenset(fmod.FEATURE_NAMES)
    kinds: dict[str, str] = {}
    raw = getattr(fmod, "FEATURE_KINDS", None)
    if isinstance(raw, Mapping):
        for k, v in raw.items():
            kinds[str(k)] = _KIND_ALIASES.get(str(v), str(v))
    return names, kinds


def compile_rule(
    rule: Rule, feature_names: Collection[str], feature_kinds: Mapping[str, str] | None = None
) -> CompiledRule:
    """Parse and type-check one rule; InvalidInput names the position and the reason."""
    kinds = feature_kinds or {}
    tree = parse(rule.expression, feature_names)
    top = _Checker(kinds).kind(tree)
    if top in ("num", "str"):
        raise InvalidInput(
            f"position 0: a rule must be a condition (comparison, and/or/not, in), not a {_NOUN[top]}",
            field="expression",
        )
    return CompiledRule(rule, tree, frozenset(feature_names_in(tree)), _Emitter(kinds).emit(tree))


class RuleSet:
    """An immutable, compiled set of rules. ``evaluate`` is the hot path: one generated function."""

    def __init__(
        self,
        version: str,
        rules: Iterable[Rule],
        *,
        feature_names: Collection[str] | None = None,
        feature_kinds: Mapping[str, str] | None = None,
    ) -> None:
        if feature_names is None:
            names, default_kinds = default_features()
            feature_names = names
            feature_kinds = default_kinds if feature_kinds is None else feature_kinds
        kinds = dict(feature_kinds or {})
        self.version = version
        self.rules: tuple[Rule, ...] = tuple(rules)
        seen: set[str] = set()
        compiled: list[CompiledRule] = []
        for i, rule in enumerate(self.rules):
            if rule.rule_id in seen:
                raise InvalidInput(f"duplicate rule_id {rule.rule_id!r}", field=f"rules[{i}].rule_id")
            seen.add(rule.rule_id)
            try:
                compiled.append(compile_rule(rule, feature_names, kinds))
            except InvalidInput as exc:
                where = f"rules[{i}].expression"
                raise InvalidInput(f"rule {rule.rule_id!r}: {exc.message}", field=where) from None
        self.compiled: tuple[CompiledRule, ...] = tuple(compiled)
        self.error_counts: dict[str, int] = {}
        active = [c for c in compiled if c.rule.enabled]
        self._ids = tuple(c.rule.rule_id for c in active)
        emitter_consts: dict[str, object] = {}
        row_hits: list[object] = []  # the row evaluator's hit objects, in the order of the enabled rules
        lines = ["def _rules(f):", "    hits = []", "    errs = None"]
        for i, c in enumerate(active):
            # Re-emit with one shared constant pool so list constants do not collide between rules.
            em = _Emitter(kinds)
            em.consts = emitter_consts
            expr = em.emit(c.tree)
            emitter_consts[f"_h{i}"] = RuleHit(c.rule.rule_id, c.rule.action, c.rule.reason)
            row_hits.append(emitter_consts[f"_h{i}"])
            lines += [
                "    try:",
                f"        if {expr}:",
                f"            hits.append(_h{i})",
                "    except Exception as e:",
                f"        errs = _err(errs, {i}, e)",
            ]
        lines.append("    return hits, errs")
        self._active = tuple(active)
        self._kinds = kinds
        self._vector: tuple[tuple[str, ...], tuple[VectorRule, ...]] | None = None
        self._row_hits = tuple(row_hits)
        self._row_plan: tuple[tuple[str, ...], tuple[tuple[str, int, bool], ...], tuple[RuleHit, ...],
                              dict[int, int]] | None = None
        g = _globals(emitter_consts)
        g["_err"] = _append_error
        self._fn: Callable[[Features], tuple[list[RuleHit], list[tuple[int, str]] | None]] = _compile_source(
            "\n".join(lines), g
        )

    @property
    def features(self) -> frozenset[str]:
        """Every feature some rule of this set reads."""
        out: set[str] = set()
        for c in self.compiled:
            out |= c.features
        return frozenset(out)

    def evaluate(self, features: Features) -> list[RuleHit]:
        """The rules hit by ``features``, in rule order. Never raises; failures are counted."""
        hits, errs = self._fn(features)
        if errs:
            for i, _ in errs:
                rid = self._ids[i]
                self.error_counts[rid] = self.error_counts.get(rid, 0) + 1
        return hits

    def evaluate_detailed(self, features: Features) -> tuple[list[RuleHit], list[RuleError]]:
        """Hits plus the rules that failed on this input and why (returned as reasons by the engine)."""
        hits, errs = self._fn(features)
        errors: list[RuleError] = []
        for i, why in errs or ():
            rid = self._ids[i]
            self.error_counts[rid] = self.error_counts.get(rid, 0) + 1
            errors.append(RuleError(rid, why))
        return hits, errors

    def evaluate_batch(self, x: npt.NDArray[Any], columns: Sequence[str] | None = None) -> BatchHits:
        """Evaluate every enabled rule over the rows of the feature matrix ``x`` (columns named by
        ``columns``, default ``zaslon.core.features.FEATURE_NAMES``). Never raises on data."""
        if columns is None:
            columns = _feature_order()
        cols = tuple(columns)
        if x.shape[0] <= ROW_WISE_MAX:
            rows = [self._evaluate_one(x[i : i + 1], cols) for i in range(x.shape[0])]
            if rows and all(r is not None for r in rows):
                return _stack([r for r in rows if r is not None])
        if self._vector is None or self._vector[0] != cols:
            index = {c: i for i, c in enumerate(cols)}
            self._vector = (cols, tuple(compile_vector(c.tree, index, self._kinds) for c in self._active))
        masks, errs = run_vector(self._vector[1], x)
        n = x.shape[0]
        templates = tuple(RuleHit(c.rule.rule_id, c.rule.action, c.rule.reason) for c in self._active)
        hits = np.stack(masks, axis=1) if masks else np.zeros((n, 0), dtype=np.bool_)
        codes = np.zeros(n, dtype=np.int8)
        for j, t in enumerate(templates):
            codes = np.where(masks[j], np.maximum(codes, SEVERITY[t.action]), codes).astype(np.int8)
        errors = tuple(RuleError(self._ids[i], why) for i, why in errs)
        for e in errors:
            self.error_counts[e.rule_id] = self.error_counts.get(e.rule_id, 0) + 1
        return BatchHits(codes, hits, templates, errors)

    def _evaluate_one(self, x: npt.NDArray[Any], cols: tuple[str, ...]) -> BatchHits | None:
        """One row through the compiled row evaluator: numpy's per-call overhead, times every operation of
        every rule, dwarfs the work on a few rows (the real-time API scores a handful of transfers at once).

        Same answers as the vector path (the two are tested to agree): features are read as numbers, bool
        features as bools; a rule failing on the row (division by zero, log of 0) is simply not hit, and,
        as in the vector path, that is not counted as an error. None: some feature is not a column, so the
        vector path must raise as it always did.
        """
        plan = self._row_plan
        if plan is None or plan[0] != cols:
            index = {c: i for i, c in enumerate(cols)}
            read = sorted({f for c in self._active for f in c.features})
            if any(f not in index for f in read):
                return None
            fields = tuple((f, index[f], self._kinds.get(f) == "bool") for f in read)
            templates = tuple(RuleHit(c.rule.rule_id, c.rule.action, c.rule.reason) for c in self._active)
            position = {id(h): j for j, h in enumerate(self._row_hits)}
            plan = self._row_plan = (cols, fields, templates, position)
        _, fields, templates, position = plan
        row = x[0].tolist()
        features = {f: (row[j] != 0) if is_bool else float(row[j]) for f, j, is_bool in fields}
        hit_list, _ = self._fn(features)
        mask = np.zeros((1, len(templates)), dtype=np.bool_)
        code = 0
        for h in hit_list:
            mask[0, position[id(h)]] = True
            code = max(code, SEVERITY[h.action])
        return BatchHits(np.array([code], dtype=np.int8), mask, templates, ())

    def to_dicts(self) -> list[dict[str, object]]:
        return [r.to_dict() for r in self.rules]

    @classmethod
    def from_dicts(
        cls,
        version: str,
        raw_rules: Sequence[Mapping[str, object]],
        *,
        feature_names: Collection[str] | None = None,
        feature_kinds: Mapping[str, str] | None = None,
    ) -> RuleSet:
        if isinstance(raw_rules, str | bytes) or not isinstance(raw_rules, Sequence):
            raise InvalidInput("rules must be a list of rule objects", field="rules")
        rules = [Rule.from_dict(r, f"rules[{i}]") for i, r in enumerate(raw_rules)]
        return cls(version, rules, feature_names=feature_names, feature_kinds=feature_kinds)

    def __repr__(self) -> str:
        return f"RuleSet(version={self.version!r}, rules={len(self.rules)})"


def _append_error(errs: list[tuple[int, str]] | None, index: int, exc: Exception) -> list[tuple[int, str]]:
    out = errs if errs is not None else []
    out.append((index, f"{type(exc).__name__}: {exc}"[:200]))
    return out


@dataclass
class RuleStats:
    """Hits and errors per rule over a run (backtests, shadow mode)."""

    hits: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, hits: Iterable[RuleHit], errors: Iterable[RuleError] = ()) -> None:
        for h in hits:
            self.hits[h.rule_id] = self.hits.get(h.rule_id, 0) + 1
        for e in errors:
            self.errors[e.rule_id] = self.errors.get(e.rule_id, 0) + 1
