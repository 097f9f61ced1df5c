"""Tokenizer and parser of the rules language: a small, safe expression language over feature names.

Grammar (lowest precedence first; every binary operator is left-associative):

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum ((CMP sum)+ | "not"? "in" list)?        CMP: == != < <= > >=
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/" | "%") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | "true" | "false" | NAME | FUNC "(" expr ("," expr)* ")" | "(" expr ")"
    list       := "[" (literal ("," literal)*)? ","? "]"

There is no attribute access, no indexing, no assignment and no call other than the whitelisted pure
functions in ``FUNCTIONS``; ``**`` does not exist (``9**9**9`` would be a denial of service). Every
syntax error is an ``InvalidInput`` naming the character position and what was expected there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Literal as TLiteral

import numpy as np

from zaslon.errors import InvalidInput

MAX_LENGTH = 4000
"""Longest accepted expression: rules are written by people, a longer one is a mistake or an attack."""
MAX_DEPTH = 48
"""Deepest accepted syntax tree; keeps parsing, code generation and evaluation far from recursion limits."""


# numpy's functions, not math's: the vector path uses numpy's and the two must agree to the last bit (glibc's
# log1p(2) is one ulp below numpy's, which decides a rule "log1p(a) >= log(c)" on a=2, c=3). Outside the
# domain they raise, as math's do, so that the rule is simply not hit.
def _log(x: float) -> float:
    if x <= 0:
        raise ValueError("math domain error")
    return float(np.log(x))


def _log1p(x: float) -> float:
    if x <= -1:
        raise ValueError("math domain error")
    return float(np.log1p(x))


def _sqrt(x: float) -> float:
    if x < 0:
        raise ValueError("math domain error")
    return float(np.sqrt(x))


# name -> (function, smallest arity, largest arity or -1 for any); all pure, total on numbers or raising
# ValueError/TypeError, which the evaluator turns into "rule not hit".
FUNCTIONS: dict[str, tuple[Callable[..., object], int, int]] = {
    "min": (min, 2, -1),
    "max": (max, 2, -1),
    "abs": (abs, 1, 1),
    "log": (_log, 1, 1),
    "log1p": (_log1p, 1, 1),
    "sqrt": (_sqrt, 1, 1),
}

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "True", "False"})
_CMP = frozenset({"==", "!=", "<", "<=", ">", ">="})

TokKind = TLiteral["num", "str", "name", "op", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokKind
    text: str
    pos: int
    value: object = None


def _fail(source: str, pos: int, why: str) -> InvalidInput:
    near = source[pos : pos + 12]
    where = f" near {near!r}" if near else " at end of expression"
    return InvalidInput(f"position {pos}: {why}{where}", field="expression")


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens; raise InvalidInput at the first character that starts none."""
    out: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c in " \t\r\n":
            i += 1
        elif c.isascii() and (c.isdigit() or (c == "." and i + 1 < n and source[i + 1].isdigit())):
            j = i
            while j < n and source[j].isascii() and (source[j].isdigit() or source[j] == "_"):
                j += 1
            is_float = False
            if j < n and source[j] == ".":
                is_float = True
                j += 1
                while j < n and source[j].isascii() and (source[j].isdigit() or source[j] == "_"):
                    j += 1
            if j < n and source[j] in "eE":
                k = j + 1
                if k < n and source[k] in "+-":
                    k += 1
                if k < n and source[k].isascii() and source[k].isdigit():
                    is_float = True
                    j = k
                    while j < n and source[j].isascii() and source[j].isdigit():
                        j += 1
            text = source[i:j]
            if text.endswith("_") or "__" in text or "_." in text or "._" in text:
                raise _fail(source, i, "malformed number")
            try:
                value: float | int = float(text) if is_float else int(text)
            except ValueError:
                raise _fail(source, i, "malformed number") from None
            if isinstance(value, float) and not math.isfinite(value):
                raise _fail(source, i, "number out of range")
            if j < n and (source[j].isalnum() or source[j] == "_"):
                raise _fail(source, j, "a number runs into a name")
            out.append(Token("num", text, i, value))
            i = j
        elif c.isascii() and (c.isalpha() or c == "_"):
            j = i + 1
            while j < n and source[j].isascii() and (source[j].isalnum() or source[j] == "_"):
                j += 1
            out.append(Token("name", source[i:j], i))
            i = j
        elif c in "\"'":
            j = i + 1
            buf: list[str] = []
            while True:
                if j >= n or source[j] in "\r\n":
                    raise _fail(source, i, "unterminated string")
                ch = source[j]
                if ch == c:
                    break
                if ch == "\\":
                    if j + 1 >= n or source[j + 1] not in ("\\", "'", '"'):
                        raise _fail(source, j, "only \\\\, \\' and \\\" escapes are allowed in strings")
                    buf.append(source[j + 1])
                    j += 2
                    continue
                buf.append(ch)
                j += 1
            out.append(Token("str", source[i : j + 1], i, "".join(buf)))
            i = j + 1
        else:
            two = source[i : i + 2]
            if two in ("==", "!=", "<=", ">="):
                out.append(Token("op", two, i))
                i += 2
            elif c in "<>+-*/%()[],":
                if two in ("**", "//"):
                    raise _fail(source, i, f"operator {two!r} is not part of the language")
                out.append(Token("op", c, i))
                i += 1
            elif c == "=":
                raise _fail(source, i, "use '==' to compare")
            else:
                raise _fail(source, i, f"unexpected character {c!r}")
    out.append(Token("end", "", n))
    return out


# ---- syntax tree ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lit:
    value: float | int | bool | str
    pos: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" or "not"
    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str  # + - * / %
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # and / or
    operands: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Compare:
    first: Node
    ops: tuple[str, ...]
    rest: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class InList:
    operand: Node
    values: tuple[float | int | bool | str, ...]
    negated: bool
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]
    pos: int


Node = Lit | Name | Unary | BinOp | BoolOp | Compare | InList | Call


class _Parser:
    def __init__(self, source: str, names: Collection[str] | None) -> None:
        self.src = source
        self.toks = tokenize(source)
        self.i = 0
        self.names = names
        self.depth = 0

    # -- helpers
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def _at(self, kind: TokKind, text: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (text is None or t.text == text)

    def _take(self) -> Token:
        t = self.tok
        self.i += 1
        return t

    def _expect(self, kind: TokKind, text: str, what: str) -> Token:
        if not self._at(kind, text):
            raise _fail(self.src, self.tok.pos, f"expected {what}")
        return self._take()

    def _enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(self.src, pos, f"expression nested deeper than {MAX_DEPTH} levels")

    # -- grammar
    def parse(self) -> Node:
        if not self.src.strip():
            raise InvalidInput("position 0: the expression is empty", field="expression")
        node = self._or()
        if not self._at("end"):
            raise _fail(self.src, self.tok.pos, "expected an operator or the end of the expression")
        return node

    def _nary(self, op: str, sub: Callable[[], Node]) -> Node:
        first = sub()
        if not self._at("name", op):
            return first
        operands = [first]
        while self._at("name", op):
            self._take()
            operands.append(sub())
        return BoolOp(op, tuple(operands), _pos(first))

    def _or(self) -> Node:
        return self._nary("or", self._and)

    def _and(self) -> Node:
        return self._nary("and", self._not)

    def _not(self) -> Node:
        if self._at("name", "not"):
            t = self._take()
            self._enter(t.pos)
            node: Node = Unary("not", self._not(), t.pos)
            self.depth -= 1
            return node
        return self._comparison()

    def _comparison(self) -> Node:
        left = self._sum()
        if self._at("name", "in") or (self._at("name", "not") and self._peek_is_in()):
            negated = self._take().text == "not"
            if negated:
                self._take()
            return InList(left, self._list(), negated, _pos(left))
        if self.tok.kind == "op" and self.tok.text in _CMP:
            ops: list[str] = []
            rest: list[Node] = []
            while self.tok.kind == "op" and self.tok.text in _CMP:
                ops.append(self._take().text)
                rest.append(self._sum())
            if len(ops) > 8:
                raise _fail(self.src, _pos(left), "a comparison chain may have at most 8 operators")
            return Compare(left, tuple(ops), tuple(rest), _pos(left))
        return left

    def _peek_is_in(self) -> bool:
        nxt = self.toks[self.i + 1]
        return nxt.kind == "name" and nxt.text == "in"

    def _list(self) -> tuple[float | int | bool | str, ...]:
        self._expect("op", "[", "'[' to start a list after 'in'")
        values: list[float | int | bool | str] = []
        while not self._at("op", "]"):
            values.append(self._literal_value())
            if self._at("op", ","):
                self._take()
            elif not self._at("op", "]"):
                raise _fail(self.src, self.tok.pos, "expected ',' or ']' in the list")
        self._take()
        if len(values) > 1000:
            raise _fail(self.src, self.tok.pos, "a list may hold at most 1000 values")
        return tuple(values)

    def _literal_value(self) -> float | int | bool | str:
        t = self.tok
        neg = False
        if self._at("op", "-"):
            neg = True
            self._take()
            t = self.tok
        if t.kind == "num":
            self._take()
            v = t.value
            assert isinstance(v, int | float)
            return -v if neg else v
        if not neg and t.kind == "str":
            self._take()
            assert isinstance(t.value, str)
            return t.value
        if not neg and t.kind == "name" and t.text in ("true", "True", "false", "False"):
            self._take()
            return t.text in ("true", "True")
        raise _fail(self.src, t.pos, "lists may hold only number, string and true/false literals")

    def _binary(self, ops: str, sub: Callable[[], Node]) -> Node:
        left = sub()
        entered = 0
        while self.tok.kind == "op" and self.tok.text in ops and len(self.tok.text) == 1:
            t = self._take()
            self._enter(t.pos)
            entered += 1
            left = BinOp(t.text, left, sub(), t.pos)
        self.depth -= entered
        return left

    def _sum(self) -> Node:
        return self._binary("+-", self._product)

    def _product(self) -> Node:
        return self._binary("*/%", self._unary)

    def _unary(self) -> Node:
        if self._at("op", "-"):
            t = self._take()
            self._enter(t.pos)
            operand = self._unary()
            self.depth -= 1
            if (
                isinstance(operand, Lit)
                and isinstance(operand.value, int | float)
                and not isinstance(operand.value, bool)
            ):
                return Lit(-operand.value, t.pos)
            return Unary("-", operand, t.pos)
        return self._primary()

    def _primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self._take()
            assert isinstance(t.value, int | float)
            return Lit(t.value, t.pos)
        if t.kind == "str":
            self._take()
            assert isinstance(t.value, str)
            return Lit(t.value, t.pos)
        if self._at("op", "("):
            self._take()
            self._enter(t.pos)
            node = self._or()
            self.depth -= 1
            self._expect("op", ")", "')'")
            return node
        if t.kind == "name":
            if t.text in ("true", "True", "false", "False"):
                self._take()
                return Lit(t.text in ("true", "True"), t.pos)
            if t.text in KEYWORDS:
                raise _fail(self.src, t.pos, f"keyword {t.text!r} cannot start an operand")
            self._take()
            if self._at("op", "("):
                return self._call(t)
            if self.names is not None and t.text not in self.names:
                hint = _closest(t.text, self.names)
                extra = f" (did you mean {hint!r}?)" if hint else ""
                raise InvalidInput(f"position {t.pos}: unknown feature {t.text!r}{extra}", field="expression")
            return Name(t.text, t.pos)
        if t.kind == "end":
            raise _fail(self.src, t.pos, "expected an operand")
        raise _fail(self.src, t.pos, f"expected an operand, got {t.text!r}")

    def _call(self, name: Token) -> Node:
        spec = FUNCTIONS.get(name.text)
        if spec is None:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise _fail(self.src, name.pos, f"unknown function {name.text!r} (allowed: {allowed})")
        self._take()  # "("
        self._enter(name.pos)
        args: list[Node] = []
        if not self._at("op", ")"):
            args.append(self._or())
            while self._at("op", ","):
                self._take()
                args.append(self._or())
        self._expect("op", ")", "',' or ')' in the argument list")
        self.depth -= 1
        _, lo, hi = spec
        if len(args) < lo or (hi >= 0 and len(args) > hi):
            want = f"{lo}" if lo == hi else f"at least {lo}"
            raise _fail(self.src, name.pos, f"{name.text}() takes {want} argument(s), got {len(args)}")
        return Call(name.text, tuple(args), name.pos)


def _pos(node: Node) -> int:
    return node.pos


def _closest(name: str, names: Collection[str]) -> str | None:
    """A known name that differs little from ``name``, to suggest in the error; cheap prefix heuristic."""
    best: tuple[int, str] | None = None
    for cand in names:
        common = 0
        for a, b in zip(name, cand, strict=False):
            if a != b:
                break
            common += 1
        score = common - abs(len(cand) - len(name))
        if common >= 4 and (best is None or score > best[0]):
            best = (score, cand)
    return best[1] if best else None


def parse(source: str, names: Collection[str] | None = None) -> Node:
    """Parse ``source`` into a syntax tree; ``names`` (if given) are the only feature names allowed."""
    if not isinstance(source, str):
        raise InvalidInput("the expression must be a string", field="expression")
    if len(source) > MAX_LENGTH:
        raise InvalidInput(f"the expression is longer than {MAX_LENGTH} characters", field="expression")
    return _Parser(source, names).parse()


def feature_names_in(node: Node) -> set[str]:
    """Every feature name the tree reads (for docs, and for warning about unused features)."""
    out: set[str] = set()
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Name):
            out.add(n.name)
        elif isinstance(n, Unary | InList):
            stack.append(n.operand)
        elif isinstance(n, BinOp):
            stack.extend((n.left, n.right))
        elif isinstance(n, BoolOp | Call):
            stack.extend(n.operands if isinstance(n, BoolOp) else n.args)
        elif isinstance(n, Compare):
            stack.append(n.first)
            stack.extend(n.rest)
    return out
