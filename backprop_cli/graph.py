"""Computational-graph specs (SPEC §4): a whitelisting expression parser and scalar
reverse-mode differentiation that writes every step down as an equation.

    graph:                      forward   q = {x} + {y}
      x: -2                     local     dq/dx.local = 1
      y: 5                      backward  df/dx = {df/dq} * {dq/dx.local}
      z: -4                     second    d2f/dx2 = … (order: 2)
      q: x + y
      f: q * z

Three parts, top to bottom:

1. Reading the spec: the YAML node tree (yamlsafe) → a frozen `GraphSpec`. Every
   expression goes through our own tokenizer and recursive-descent parser. User text
   never reaches eval/exec/sympify: a name is either an earlier node or one of the
   whitelisted functions, and everything else is an error with a caret under it.
2. Symbolic differentiation on `expr` trees, one rule per operation beside the
   operation (micrograd style). A local gradient is the derivative of ONE node's
   expression with respect to ONE input, specialised at the current point — kinks
   (relu, abs, max, min) take the branch PyTorch takes and record it as a condition.
3. `solve_graph`: forward values, local gradients, reverse accumulation over fan-out,
   and for `order: 2` the second derivative d²f/dx² of every `wrt` leaf by forward
   (Taylor) propagation of first and second tangents:

       dq/dx   = Σ_p ∂q/∂p · dp/dx
       d²q/dx² = Σ_p ∂q/∂p · d²p/dx² + d(∂q/∂p)/dx · dp/dx

   where d(∂q/∂p)/dx is the local gradient's own expression differentiated along x.
   Each of these is an `Equation` evaluated under the number policy, so the hand-
   rounded derivation stays arithmetically true as printed.
"""
from __future__ import annotations

import difflib
import functools
import keyword
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import PurePath
from typing import Any, Callable, Iterable, Mapping, NoReturn

import yaml

from .arithmetic import FloatArithmetic
from .errors import ComputeError, SpecError
from .expr import FUNCTIONS, FUNCTIONS_1, Bin, Call, Expr, Neg, Num, Ref, evaluate, refs, to_text
from .numbers import Number, describe, number, parse_text
from .trace import Equation, GraphTrace, LocalGradient
from .yamlsafe import where

MAX_EXPRESSION_CHARS = 10_000
MAX_EXPRESSION_DEPTH = 200  # nested operations, parentheses and exponents (SPEC §8)
MAX_CONSTANT_EXPONENT = 1000  # |b| in `a ** b` when b is a constant
MAX_MAGNITUDE = 1e300  # beyond this a value is refused (SPEC §4)
# A derived expression (a derivative, a fan-out sum) is written out in full; beyond
# these bounds it is unreadable and evaluating or printing it would recurse too deep.
MAX_DERIVED_NODES = 100_000
MAX_DERIVED_DEPTH = 450

TOP_LEVEL_KEYS = ("name", "graph", "output", "wrt", "order")
# Words of the JSON/answer-key structure (SPEC §6): a node with one of these names would
# make `named:` keys ambiguous.
STRUCTURE_WORDS = frozenset({
    "steps", "named", "tolerance", "values", "gradients", "local_gradients", "second",
    "equations", "layers", "kind", "format", "name", "output", "wrt", "order", "graph", "exact",
})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_FINITE_WORDS = ("nan", "inf", "infinity")
# YAML 1.1 booleans and nulls: a node written `x: true` or `x:` is an error, not a name
# (unless a node of that name exists: `q: y` refers to node y).
_PLAIN_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "", "~", "null"}


# ======================================================================================
# 1. The spec
# ======================================================================================

@dataclass(frozen=True)
class GraphNode:
    """One line of `graph:` — a leaf (given number) or an expression over earlier nodes."""

    name: str
    expr: Expr | None  # None for a leaf
    given: Number | None  # the number of a leaf, as written
    text: str
    line: int | None = None

    @property
    def is_leaf(self) -> bool:
        return self.expr is None

    @property
    def inputs(self) -> tuple[str, ...]:
        """Distinct operand names in first-use order: one local gradient each."""
        return tuple(refs(self.expr)) if self.expr is not None else ()


@dataclass(frozen=True)
class GraphSpec:
    name: str
    nodes: tuple[GraphNode, ...]
    output: str
    wrt: tuple[str, ...]
    order: int
    file: str

    def node(self, name: str) -> GraphNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def leaves(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if n.is_leaf)


def read_graph_spec(root: yaml.Node, file: str) -> GraphSpec:
    """Validate a composed graph spec into a frozen GraphSpec; every problem is a
    SpecError naming the line, column and field path."""
    if not isinstance(root, yaml.MappingNode):
        raise SpecError(
            "a graph spec is a mapping", file=file, **where(root),
            expected="a mapping with a `graph:` key", found=describe(root),
        )
    fields = _top_level(root, file)
    if "graph" not in fields:
        raise SpecError("missing key 'graph'", file=file, **where(root),
                        expected="`graph:` with the nodes, one per line")
    nodes = _read_nodes(fields["graph"][1], file)
    output = _read_output(fields.get("output"), nodes, file)
    wrt = _read_wrt(fields.get("wrt"), nodes, file)
    order = _read_order(fields.get("order"), file)
    title = _read_name(fields.get("name"), file)
    if title is None:
        title = PurePath(file).stem if file else "graph"
    return GraphSpec(title, tuple(nodes), output, wrt, order, file)


def _suggest(word: str, choices: Iterable[str]) -> str | None:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else None


def _is_plain(node: yaml.ScalarNode) -> bool:
    """Plain (unquoted) scalar. The C loader reports '' rather than None for plain."""
    return not node.style


def _top_level(root: yaml.MappingNode, file: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    keys = [k.value for k, _ in root.value if isinstance(k, yaml.ScalarNode)]
    for k, v in root.value:
        if not isinstance(k, yaml.ScalarNode):
            raise SpecError("keys must be plain words", file=file, **where(k), found=describe(k))
        key = k.value
        if key == "layers" and "graph" in keys:
            raise SpecError(
                "a spec has either `graph:` (a computational graph) or `layers:` (a network), "
                "not both", file=file, path="layers", **where(k),
                hint="split it into two files",
            )
        if key not in TOP_LEVEL_KEYS:
            raise SpecError(
                f"unknown key {key!r}", file=file, path=key, **where(k),
                expected="one of " + ", ".join(TOP_LEVEL_KEYS),
                hint=_suggest(key, TOP_LEVEL_KEYS),
            )
        fields[key] = (k, v)
    return fields


def _read_name(field, file: str) -> str | None:
    if field is None:
        return None
    _, v = field
    if not isinstance(v, yaml.ScalarNode) or (_is_plain(v) and v.value.lower() in ("", "~", "null")):
        raise SpecError(file=file, path="name", **where(v), expected="a title (text)", found=describe(v))
    return v.value


def _read_order(field, file: str) -> int:
    if field is None:
        return 1
    _, v = field
    n = number(v, "order", file, what="1 or 2")
    if n.value not in (1.0, 2.0):
        raise SpecError(file=file, path="order", **where(v), expected="1 or 2", found=n.text,
                        hint="2 adds the second derivatives d²f/dx² (diagonal only)")
    return int(n.value)


def _read_output(field, nodes: list[GraphNode], file: str) -> str:
    names = [n.name for n in nodes]
    if field is None:
        return names[-1]
    _, v = field
    if not isinstance(v, yaml.ScalarNode) or (_is_plain(v) and v.value.lower() in ("", "~")):
        raise SpecError(file=file, path="output", **where(v), expected="the name of a node", found=describe(v))
    if v.value not in names:
        raise SpecError(
            f"unknown node {v.value!r}", file=file, path="output", **where(v),
            expected="one of " + ", ".join(names[-10:]), hint=_suggest(v.value, names),
        )
    return v.value


def _read_wrt(field, nodes: list[GraphNode], file: str) -> tuple[str, ...]:
    """`wrt` names leaves (a list, or one name); default: every leaf."""
    leaves = [n.name for n in nodes if n.is_leaf]
    if field is None:
        return tuple(leaves)
    _, v = field
    items = [v] if isinstance(v, yaml.ScalarNode) else v.value if isinstance(v, yaml.SequenceNode) else None
    if items is None:
        raise SpecError(file=file, path="wrt", **where(v), expected="a list of leaf names", found=describe(v))
    if not items:
        raise SpecError(file=file, path="wrt", **where(v), expected="at least one leaf name", found="an empty list")
    names = {n.name: n for n in nodes}
    chosen: list[str] = []
    for i, item in enumerate(items):
        path = f"wrt[{i}]" if isinstance(v, yaml.SequenceNode) else "wrt"
        if not isinstance(item, yaml.ScalarNode):
            raise SpecError(file=file, path=path, **where(item), expected="a leaf name", found=describe(item))
        name = item.value
        if name not in names:
            raise SpecError(f"unknown node {name!r}", file=file, path=path, **where(item),
                            expected="a leaf: " + ", ".join(leaves[:10]), hint=_suggest(name, names))
        if not names[name].is_leaf:
            raise SpecError(
                f"{name!r} is computed ({name}: {names[name].text.strip()}), not a leaf", file=file,
                path=path, **where(item), expected="a leaf (a node given as a number)",
                hint="derivatives are taken with respect to given numbers; df/d" + name
                + " is in the gradients anyway",
            )
        if name in chosen:
            raise SpecError(f"{name!r} is listed twice", file=file, path=path, **where(item))
        chosen.append(name)
    return tuple(chosen)


def _check_node_name(key: yaml.Node, file: str) -> str:
    """Node names become canonical names (`df/dq`) and JSON keys: plain identifiers only."""
    if not isinstance(key, yaml.ScalarNode):
        raise SpecError("a node name must be a plain word", file=file, path="graph", **where(key),
                        found=describe(key))
    name = key.value
    path = f"graph.{name}"
    if not _IDENTIFIER.fullmatch(name):
        raise SpecError(
            f"{name!r} is not a valid node name", file=file, path=path, **where(key),
            expected="a plain identifier (letters, digits and _, not starting with a digit)",
        )
    reason = None
    if name.startswith("__") and name.endswith("__"):
        reason = "a __dunder__ name"
    elif keyword.iskeyword(name):
        reason = "a Python keyword"
    elif name in FUNCTIONS:
        reason = "a function name"
    elif name in STRUCTURE_WORDS:
        reason = "a word of the output's structure (SPEC §6)"
    if reason:
        raise SpecError(f"{name!r} cannot be a node name: it is {reason}", file=file, path=path,
                        **where(key), hint=f"rename it, e.g. {name.strip('_')}_1")
    return name


def _read_nodes(graph: yaml.Node, file: str) -> list[GraphNode]:
    if not isinstance(graph, yaml.MappingNode):
        raise SpecError(file=file, path="graph", **where(graph),
                        expected="a mapping of node names to numbers or expressions", found=describe(graph))
    if not graph.value:
        raise SpecError("the graph has no nodes", file=file, path="graph", **where(graph),
                        expected="at least one node")
    entries = [(_check_node_name(k, file), v) for k, v in graph.value]
    table = _NameTable(
        tuple(name for name, _ in entries),
        {name: i for i, (name, _) in enumerate(entries)},
        {name: v.value if isinstance(v, yaml.ScalarNode) else "" for name, v in entries},
        {name: v.start_mark.line + 1 for name, v in entries},
    )
    return [_read_node(name, value, _Scope(table, i), file) for i, (name, value) in enumerate(entries)]


def _read_node(name: str, value: yaml.Node, scope: "_Scope", file: str) -> GraphNode:
    path = f"graph.{name}"
    loc = where(value)
    if not isinstance(value, yaml.ScalarNode):
        raise SpecError(file=file, path=path, **loc, expected="a number or an expression", found=describe(value))
    word = value.value.lower()
    if _is_plain(value) and word in _PLAIN_WORDS and not scope.is_defined(value.value):
        found = "nothing (null)" if word in ("", "~", "null") else f"the boolean {value.value}"
        raise SpecError(file=file, path=path, **loc, expected="a number or an expression", found=found)
    text = value.value
    given = parse_text(text)
    if isinstance(given, Number):
        return GraphNode(name, None, given, text, loc["line"])
    expr = parse_expression(text, scope, file=file, line=loc["line"], path=path)
    return GraphNode(name, expr, None, text, loc["line"])


# ======================================================================================
# 1b. The expression parser: our own tokenizer and recursive descent, nothing evaluated
# ======================================================================================

@dataclass(frozen=True)
class _NameTable:
    """Every node of the graph, built once: a scope is a position in it (linear, not
    a copy of the names per node)."""

    names: tuple[str, ...]
    position: Mapping[str, int]
    text: Mapping[str, str]  # as written, to tell a forward reference from a cycle
    line: Mapping[str, int]


@dataclass(frozen=True)
class _Scope:
    """What a name in the expression of node number `index` may refer to: earlier nodes."""

    table: _NameTable
    index: int

    @property
    def current(self) -> str:
        return self.table.names[self.index]

    def is_defined(self, name: str) -> bool:
        return self.table.position.get(name, self.index) < self.index

    def is_later(self, name: str) -> bool:
        return self.table.position.get(name, -1) > self.index

    def defined(self) -> tuple[str, ...]:
        return self.table.names[: self.index]


@dataclass(frozen=True)
class _Token:
    kind: str  # num name op str bad other end
    text: str
    start: int
    end: int


_TOKEN_RE = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<num>(?:[0-9]|\.[0-9])(?:[eE][+-][0-9]|[A-Za-z0-9_.])*)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<bad>//|==|!=|<=|>=|[\^.\[\]{}=<>%@&|~:;!`$?\\#])"  # before op: // is not two /
    r"|(?P<op>\*\*|[-+*/(),])"
    r"|(?P<str>'[^'\n]*'?|\"[^\"\n]*\"?)"
    r"|(?P<other>.)",
    re.S,
)

_BAD_TOKENS = {
    "^": ("'^' is not an operator here", "use ** for powers, e.g. x ** 2"),
    "//": ("floor division '//' is not allowed", "use / for division"),
    ".": ("attribute access ('.') is not allowed", "expressions are arithmetic on node names only"),
    "[": ("brackets are not allowed (no subscripts, lists or comprehensions)", None),
    "]": ("brackets are not allowed (no subscripts, lists or comprehensions)", None),
    "{": ("braces are not allowed", "write node names without braces: x + y"),
    "}": ("braces are not allowed", "write node names without braces: x + y"),
    "=": ("'=' is not allowed (no assignments or keyword arguments)", None),
    "%": ("'%' is not allowed", None),
    "@": ("'@' is not allowed", "use * for products of scalars"),
    ":": ("':' is not allowed (no lambdas, slices or dictionaries)", None),
    ";": ("';' is not allowed (one expression per node)", "put each step in its own node"),
}
_COMPARISONS = {"==", "!=", "<", ">", "<=", ">="}
_UNICODE_HINTS = {"×": "*", "·": "*", "⋅": "*", "÷": "/", "−": "-", "–": "-", "²": "** 2", "³": "** 3"}


def _caret(text: str, start: int, end: int) -> str:
    """Two message lines: the expression (a window of it when long) and ^^^ under the span."""
    flat = re.sub(r"\s", " ", text)
    end = max(end, start + 1)
    lo, hi = 0, len(flat)
    if len(flat) > 72:
        lo = max(0, min(start - 30, len(flat) - 72))
        hi = min(len(flat), lo + 72)
    shown = ("…" if lo else "") + flat[lo:hi] + ("…" if hi < len(flat) else "")
    offset = start - lo + (1 if lo else 0)
    width = max(1, min(end, hi + 1) - start)
    return f"\n    {shown}\n    {' ' * offset}{'^' * width}"


def parse_expression(text: str, scope: _Scope, *, file: str | None = None, line: int | None = None,
                     path: str | None = None) -> Expr:
    """Parse a §4 expression into `expr` nodes, or raise SpecError with the column inside
    the expression and a caret line. Linear tokenizing, a nesting counter, no eval."""

    def fail(message: str, start: int, end: int | None = None, hint: str | None = None) -> NoReturn:
        raise SpecError(message + _caret(text, start, start + 1 if end is None else end),
                        file=file, line=line, column=start + 1, path=path, hint=hint)

    if len(text) > MAX_EXPRESSION_CHARS:
        fail(f"expression too long ({len(text):,} characters; at most {MAX_EXPRESSION_CHARS:,})", 0,
             1, hint="split it over several nodes")
    parser = _Parser(text, _tokens(text), scope, fail)
    try:
        return parser.parse()
    except RecursionError:  # pragma: no cover - the nesting counter stops far earlier
        fail(f"expression nested deeper than {MAX_EXPRESSION_DEPTH} levels", 0, len(text))
        raise


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind != "space":
            out.append(_Token(kind, m.group(), m.start(), m.end()))
    out.append(_Token("end", "", len(text), len(text)))
    return out


class _Parser:
    """Python's grammar for our subset, at most three frames deep per nesting level:

        expression := factor (('*' | '/' | '+' | '-') factor)*     two precedence levels, looped
        factor     := ('-' | '+')* primary ['**' factor]            -2**2 = -(2**2), 2**3**2 = 2**9
        primary    := NUMBER | NAME | FUNCTION '(' expression (',' expression)* ')' | '(' expression ')'

    Left-associative chains are loops (no recursion); parentheses, calls and exponents
    recurse and are counted, so 200 levels stay near 600 frames, well inside Python's
    default limit of 1000. Every node records its depth; the limit is checked as the
    node is built, so nothing deep is ever walked recursively."""

    def __init__(self, text: str, tokens: list[_Token], scope: _Scope, fail) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0
        self.scope = scope
        self.fail = fail
        self.nesting = 0

    # -- token stream ------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> _Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def is_op(self, tok: _Token, *ops: str) -> bool:
        return tok.kind == "op" and tok.text in ops

    def enter(self, tok: _Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_EXPRESSION_DEPTH:
            self.fail(f"expression nested deeper than {MAX_EXPRESSION_DEPTH} levels", tok.start, tok.end,
                      hint="split it over several nodes")

    def leave(self) -> None:
        self.nesting -= 1

    # -- grammar -----------------------------------------------------------------------
    def parse(self) -> Expr:
        if self.peek().kind == "end":
            self.fail("empty expression", 0, 1)
        expr, _ = self.expression()
        tok = self.peek()
        if tok.kind != "end":
            self.unexpected(tok, wanted="an operator or the end of the expression")
        return expr

    def expression(self) -> tuple[Expr, int]:
        """Sum of products, left to right: a - b * c + d = (a - (b * c)) + d."""
        total: tuple[Expr, int] | None = None
        add_tok: _Token | None = None
        term = self.factor()
        while True:
            tok = self.peek()
            if self.is_op(tok, "*", "/"):
                self.next()
                term = self.binary(tok, term, self.factor())
            elif self.is_op(tok, "+", "-"):
                self.next()
                total = term if total is None else self.binary(add_tok, total, term)
                add_tok = tok
                term = self.factor()
            else:
                break
        return term if total is None else self.binary(add_tok, total, term)

    def factor(self) -> tuple[Expr, int]:
        signs: list[_Token] = []
        while self.is_op(self.peek(), "-", "+"):
            signs.append(self.next())
        base = self.primary()
        tok = self.peek()
        if self.is_op(tok, "**"):
            self.next()
            self.enter(tok)
            exponent = self.factor()
            self.leave()
            base = self.binary(tok, base, exponent)
        for sign in reversed(signs):
            if sign.text == "-":
                base = self.build(sign, Neg(base[0]), base[1])
        return base

    def primary(self) -> tuple[Expr, int]:
        tok = self.next()
        if tok.kind == "num":
            parsed = parse_text(tok.text)
            if isinstance(parsed, str):
                self.fail(f"{tok.text!r} is not a number: {parsed}", tok.start, tok.end,
                          hint="write * between a number and a name: 2 * x" if re.match(r"[0-9.]+[A-Za-z_]", tok.text) else None)
            return Num(tok.text), 0
        if tok.kind == "name":
            if self.is_op(self.peek(), "("):
                return self.call(tok)
            return Ref(self.resolve(tok)), 0
        if self.is_op(tok, "("):
            self.enter(tok)
            inner = self.expression()
            close = self.peek()
            if not self.is_op(close, ")"):
                if close.kind == "end":
                    self.fail("'(' is never closed", tok.start, tok.end, hint="add the missing ')'")
                self.unexpected(close, wanted="an operator or ')'")
            self.next()
            self.leave()
            return inner
        self.unexpected(tok, wanted="a number, a name or '('")

    def call(self, name: _Token) -> tuple[Expr, int]:
        fn = name.text
        if fn not in FUNCTIONS:
            if self.scope.is_defined(fn) or fn == self.scope.current:
                self.fail(f"{fn!r} is a node, not a function", name.start, name.end,
                          hint=f"only {', '.join(FUNCTIONS)} can be called; write {fn} * (...) for a product")
            if keyword.iskeyword(fn):
                self.fail(f"Python keyword {fn!r} is not allowed", name.start, name.end)
            self.fail(f"unknown function {fn!r}", name.start, name.end,
                      hint=_suggest(fn, FUNCTIONS) or "the functions are " + ", ".join(FUNCTIONS))
        opening = self.next()
        self.enter(opening)
        args: list[tuple[Expr, int]] = []
        if not self.is_op(self.peek(), ")"):
            while True:
                tok = self.peek()
                if tok.kind == "name" and self.peek(1).kind == "bad" and self.peek(1).text == "=":
                    self.fail("keyword arguments are not allowed", tok.start, self.peek(1).end,
                              hint=f"{fn}(...) takes plain arguments")
                args.append(self.expression())
                tok = self.peek()
                if self.is_op(tok, ","):
                    self.next()
                    if self.is_op(self.peek(), ")"):
                        self.fail(f"expected an argument after ',' in {fn}(...)", self.peek().start, self.peek().end)
                    continue
                if self.is_op(tok, ")"):
                    break
                if tok.kind == "end":
                    self.fail(f"'(' of {fn}(...) is never closed", opening.start, opening.end,
                              hint="add the missing ')'")
                self.unexpected(tok, wanted=f"',' or ')' in {fn}(...)")
        close = self.next()
        self.leave()
        if fn in FUNCTIONS_1 and len(args) != 1:
            self.fail(f"{fn} takes exactly 1 argument, found {len(args)}", name.start, close.end)
        if fn not in FUNCTIONS_1 and len(args) < 2:
            self.fail(f"{fn} takes at least 2 arguments, found {len(args)}", name.start, close.end)
        return self.build(name, Call(fn, tuple(e for e, _ in args)), max(d for _, d in args))

    # -- names -------------------------------------------------------------------------
    def resolve(self, tok: _Token) -> str:  # returns only for an earlier node
        """A name is an earlier node, or an error that says exactly what it is instead."""
        name, scope = tok.text, self.scope
        if scope.is_defined(name):
            return name
        span = (tok.start, tok.end)
        if keyword.iskeyword(name):
            self.fail(f"Python keyword {name!r} is not allowed", *span,
                      hint="expressions use + - * / **, parentheses and " + ", ".join(FUNCTIONS))
        if name.lower() in _NOT_FINITE_WORDS:
            self.fail(f"{name!r} is not a finite number", *span, hint="NaN and infinity are not allowed")
        if name in FUNCTIONS:
            self.fail(f"{name!r} is a function: call it as {name}(...)", *span)
        if name == scope.current:
            self.fail(f"{name!r} refers to itself", *span,
                      hint="a node is computed from earlier nodes only")
        if scope.is_later(name):
            cycle = _find_cycle(scope, name)
            if cycle:
                self.fail("cycle: " + " → ".join(cycle), *span,
                          hint="a graph is evaluated in order; a node cannot depend on itself")
            self.fail(f"{name!r} is used before it is defined (line {scope.table.line[name]})", *span,
                      hint=f"nodes are evaluated in order: move {name!r} above {scope.current!r}")
        defined = scope.defined()
        hint = _suggest(name, defined)
        if hint is None:
            hint = ("defined so far: " + ", ".join(defined[-12:])) if defined else "no node is defined before this one"
        self.fail(f"unknown name {name!r}", *span, hint=hint)

    # -- building and errors -----------------------------------------------------------
    def build(self, tok: _Token, node: Expr, child_depth: int) -> tuple[Expr, int]:
        depth = child_depth + 1
        if depth > MAX_EXPRESSION_DEPTH:
            self.fail(f"expression nested deeper than {MAX_EXPRESSION_DEPTH} levels "
                      "(each operation and function call is a level)", tok.start, tok.end,
                      hint="split it over several nodes")
        return node, depth

    def binary(self, tok: _Token, left: tuple[Expr, int], right: tuple[Expr, int]) -> tuple[Expr, int]:
        if tok.text == "**":
            self.check_exponent(tok, right[0])
        return self.build(tok, Bin(tok.text, left[0], right[0]), max(left[1], right[1]))

    def check_exponent(self, tok: _Token, exponent: Expr) -> None:
        """Refuse a constant exponent beyond ±1000 before anything is evaluated: exact
        arithmetic would otherwise try to build 10**(10**10)."""
        if refs(exponent):
            return
        value = _constant_float(exponent)
        tower = _contains_power(exponent)
        if value is None and not tower:
            return  # e.g. 1/0: the evaluation reports it
        if value is None or not math.isfinite(value) or abs(value) > MAX_CONSTANT_EXPONENT:
            shown = "too large to compute" if value is None or not math.isfinite(value) else f"{value:g}"
            what = "a power tower of constants" if tower else "a constant exponent"
            self.fail(f"exponent too large: {what} ({shown}); at most ±{MAX_CONSTANT_EXPONENT}",
                      tok.start, tok.end, hint="a power this large cannot be computed in float64 anyway")

    def unexpected(self, tok: _Token, wanted: str) -> NoReturn:
        """The most specific message for a token that cannot stand here (always raises)."""
        span = (tok.start, tok.end)
        if tok.kind == "str":
            self.fail("strings are not allowed", *span, hint="node names are written without quotes")
        if tok.kind == "bad":
            if tok.text in _COMPARISONS:
                self.fail(f"comparison {tok.text!r} is not allowed", *span)
            message, hint = _BAD_TOKENS.get(tok.text, (f"{tok.text!r} is not allowed in an expression", None))
            self.fail(message, *span, hint=hint)
        if tok.kind == "other":
            better = _UNICODE_HINTS.get(tok.text)
            self.fail(f"unexpected character {tok.text!r}", *span,
                      hint=f"write {better!r}" if better else "expressions are plain ASCII")
        if tok.kind == "name" and keyword.iskeyword(tok.text):
            self.fail(f"Python keyword {tok.text!r} is not allowed", *span)
        if tok.kind == "end":
            self.fail(f"the expression ends where {wanted} is expected", *span)
        if self.is_op(tok, ")") and wanted.startswith("an operator or the end"):
            self.fail("unmatched ')'", *span)
        hint = None
        if (wanted.startswith("an operator") and tok.kind in ("num", "name")) or self.is_op(tok, "("):
            hint = "write * for multiplication: 2 * x"
        self.fail(f"expected {wanted}, found {tok.text!r}", *span, hint=hint)


def _find_cycle(scope: _Scope, target: str) -> list[str] | None:
    """current → target → … → current through later nodes' names, if there is one.
    Only for the error message: later texts are scanned for names, never parsed."""
    current = scope.current
    parent: dict[str, str] = {target: current}
    queue = [target]
    while queue:
        node = queue.pop(0)
        for name in dict.fromkeys(_IDENTIFIER.findall(scope.table.text.get(node, ""))):
            if name == current:
                path = [current]
                walk = node
                while walk != current:
                    path.append(walk)
                    walk = parent[walk]
                return [current] + list(reversed(path[1:])) + [current]
            if scope.is_later(name) and name not in parent:
                parent[name] = node
                queue.append(name)
    return None


def _constant_float(e: Expr) -> float | None:
    """The float value of a constant expression, or None when it cannot be computed."""
    try:
        value = evaluate(e, {}, FloatArithmetic())
    except (ComputeError, ArithmeticError, ValueError):
        return None
    return value if isinstance(value, float) else None


def _children(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, Bin):
        return (e.left, e.right)
    if isinstance(e, Neg):
        return (e.operand,)
    if isinstance(e, Call):
        return e.args
    return ()


def _contains_power(e: Expr) -> bool:
    stack = [e]
    while stack:
        n = stack.pop()
        if isinstance(n, Bin) and n.op == "**":
            return True
        stack += _children(n)
    return False


# ======================================================================================
# 2. Symbolic differentiation: each operation beside its local gradient rule
# ======================================================================================

ZERO, ONE, TWO = Num("0"), Num("1"), Num("2")


@functools.lru_cache(maxsize=4096)
def _fraction(text: str) -> Fraction:
    """Exact value of a literal's text; cached: the simplifier asks about 0 and 1 a lot."""
    return Fraction(text)


def _literal(e: Expr) -> Fraction | None:
    """The exact value of a literal as `const` writes it (3, -(3), 1 / 3, -(1 / 3));
    None for anything else."""
    if isinstance(e, Neg):
        inner = _literal(e.operand) if not isinstance(e.operand, Neg) else None
        return None if inner is None else -inner
    if isinstance(e, Num):
        return _fraction(e.text)
    if (isinstance(e, Bin) and e.op == "/" and isinstance(e.left, Num) and isinstance(e.right, Num)
            and _fraction(e.right.text) != 0):
        return _fraction(e.left.text) / _fraction(e.right.text)
    return None


def _is_zero(e: Expr) -> bool:
    return _literal(e) == 0


def _is_one(e: Expr) -> bool:
    return _literal(e) == 1


def const(value: Fraction | int) -> Expr:
    """A literal for an exact rational: 3, 0.5, -(2) or 1 / 3 (never a rounded decimal)."""
    value = Fraction(value)
    if value < 0:
        return Neg(const(-value))
    if value.denominator == 1:
        return Num(str(value.numerator))
    d = value.denominator
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    if d == 1:
        places = max(twos, fives)
        scaled = value.numerator * 10**places // value.denominator
        digits = str(scaled).rjust(places + 1, "0")
        return Num(f"{digits[:-places]}.{digits[-places:]}")
    return Bin("/", Num(str(value.numerator)), Num(str(value.denominator)))


def _constant_fraction(e: Expr) -> Fraction | None:
    """Exact value of a small constant exponent such as 2, -1, 0.5 or (1/3)."""
    if (lit := _literal(e)) is not None:
        return lit
    if isinstance(e, Neg):
        inner = _constant_fraction(e.operand)
        return None if inner is None else -inner
    if isinstance(e, Bin) and e.op in ("+", "-", "*", "/"):
        a, b = _constant_fraction(e.left), _constant_fraction(e.right)
        if a is None or b is None:
            return None
        if e.op == "+":
            return a + b
        if e.op == "-":
            return a - b
        if e.op == "*":
            return a * b
        return a / b if b else None
    return None


def _same(a: Expr, b: Expr) -> bool:
    """Structural equality without recursion (derived trees can be hundreds deep)."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        if type(x) is not type(y):
            return False
        if isinstance(x, Num):
            if x.text != y.text:
                return False
        elif isinstance(x, Ref):
            if x.name != y.name:
                return False
        elif isinstance(x, Neg):
            stack.append((x.operand, y.operand))
        elif isinstance(x, Bin):
            if x.op != y.op:
                return False
            stack += [(x.left, y.left), (x.right, y.right)]
        elif isinstance(x, Call):
            if x.fn != y.fn or len(x.args) != len(y.args):
                return False
            stack += list(zip(x.args, y.args))
    return True


# Simplifying constructors: they keep derivatives readable (1 * y → y, x + x → 2 * x,
# 2 * (3 * x) → 6 * x) and never change a value — what they build is what is evaluated.

def s_neg(a: Expr) -> Expr:
    if _is_zero(a):
        return ZERO
    if isinstance(a, Neg):
        return a.operand
    return Neg(a)


def s_add(a: Expr, b: Expr) -> Expr:
    if _is_zero(a):
        return b
    if _is_zero(b):
        return a
    la, lb = _literal(a), _literal(b)
    if la is not None and lb is not None:
        return const(la + lb)
    if isinstance(b, Neg):
        return s_sub(a, b.operand)
    if _same(a, b):
        return s_mul(TWO, a)
    return Bin("+", a, b)


def s_sub(a: Expr, b: Expr) -> Expr:
    if _is_zero(b):
        return a
    if _is_zero(a):
        return s_neg(b)
    la, lb = _literal(a), _literal(b)
    if la is not None and lb is not None:
        return const(la - lb)
    if isinstance(b, Neg):
        return s_add(a, b.operand)
    if _same(a, b):
        return ZERO
    return Bin("-", a, b)


def s_mul(a: Expr, b: Expr) -> Expr:
    if _is_zero(a) or _is_zero(b):
        return ZERO
    if _is_one(a):
        return b
    if _is_one(b):
        return a
    if isinstance(a, Neg):
        return s_neg(s_mul(a.operand, b))
    if isinstance(b, Neg):
        return s_neg(s_mul(a, b.operand))
    la, lb = _literal(a), _literal(b)
    if la is not None and lb is not None:
        return const(la * lb)
    if lb is not None:  # constants first: 2 * x, not x * 2
        return s_mul(b, a)
    if la is not None and isinstance(b, Bin) and b.op == "*" and _literal(b.left) is not None:
        return s_mul(const(la * _literal(b.left)), b.right)
    return Bin("*", a, b)


def s_div(a: Expr, b: Expr) -> Expr:
    if _is_zero(a):
        return ZERO
    if _is_one(b):
        return a
    la, lb = _literal(a), _literal(b)
    if la is not None and lb:
        return const(la / lb)
    if isinstance(a, Neg):
        return s_neg(s_div(a.operand, b))
    return Bin("/", a, b)


def s_pow(a: Expr, b: Expr) -> Expr:
    if _is_one(b):
        return a
    if _is_zero(b):
        return ONE
    return Bin("**", a, b)


def s_sum(terms: Iterable[Expr]) -> Expr:
    out: Expr = ZERO
    for t in terms:
        out = s_add(out, t)
    return out


def _compare(a, b) -> int:
    """Sign of a − b under any policy. Floats, Decimals and sympy rationals compare
    exactly; exact mode's ExactValue (and a closed form sympy cannot order) compares by
    its float64 approximation — the branch exact mode itself takes for relu."""
    try:
        return 1 if a > b else -1 if a < b else 0
    except TypeError:
        fa, fb = float(a), float(b)
        return 1 if fa > fb else -1 if fa < fb else 0


def _plain(e: Expr) -> str:
    """Expression text with bare names, for conditions (`z > 0`)."""
    return to_text(e, name=lambda n: n)


class _Differentiator:
    """d(expression) given d(name) for each name, at one point.

    `d` maps an operand name to its derivative (absent = 0). `point` evaluates a
    subexpression at the current values; kinks need it to pick their branch.
    `self_value` = (root, Ref(q)): inside q's own expression the root call's value is
    the node q itself, so σ′ is written {q} * (1 - {q}) as the textbooks do."""

    def __init__(self, d: Mapping[str, Expr], point: Callable[[Expr], Any],
                 self_value: tuple[Expr, Expr] | None = None) -> None:
        self.d = d
        self.point = point
        self.self_value = self_value
        self.conditions: list[str] = []
        self.memo: dict[int, Expr] = {}

    def __call__(self, e: Expr) -> Expr:
        """d(e). Children are derived first from an explicit stack (derived trees are
        hundreds deep), so a rule asking for d(child) always finds it in the memo."""
        stack = [(e, False)]
        while stack:
            n, children_done = stack.pop()
            if id(n) in self.memo:
                continue
            kids = _children(n)
            if children_done or not kids:
                self.memo[id(n)] = self.derive(n)
            else:
                stack.append((n, True))
                stack += [(k, False) for k in kids if id(k) not in self.memo]
        return self.memo[id(e)]

    def value_of(self, e: Expr) -> Expr:
        if self.self_value is not None and e is self.self_value[0]:
            return self.self_value[1]
        return e

    def condition(self, text: str) -> None:
        if text not in self.conditions:
            self.conditions.append(text)

    def derive(self, e: Expr) -> Expr:
        if isinstance(e, Num):
            return ZERO
        if isinstance(e, Ref):
            return self.d.get(e.name, ZERO)
        if isinstance(e, Neg):
            return s_neg(self(e.operand))
        if isinstance(e, Bin):
            return self.binary(e)
        if isinstance(e, Call):
            return self.extremum(e) if e.fn in ("max", "min") else self.function(e)
        raise TypeError(f"not an expression node: {e!r}")

    def binary(self, e: Bin) -> Expr:
        a, b = e.left, e.right
        da, db = self(a), self(b)
        if e.op == "+":  # d(a + b) = da + db
            return s_add(da, db)
        if e.op == "-":  # d(a − b) = da − db
            return s_sub(da, db)
        if e.op == "*":  # d(a·b) = da·b + a·db
            return s_add(s_mul(da, b), s_mul(a, db))
        if e.op == "/":  # d(a/b) = da/b − a·db/b²
            return s_sub(s_div(da, b), s_mul(s_div(a, s_pow(b, TWO)), db))
        if e.op == "**":
            return self.power(e, a, b, da, db)
        raise TypeError(f"unknown operator {e.op!r}")

    def power(self, e: Bin, a: Expr, b: Expr, da: Expr, db: Expr) -> Expr:
        """d(a**b) = b·a**(b−1)·da + a**b·log(a)·db; PyTorch takes the second term as 0
        where a = 0 (and b ≥ 0)."""
        terms = []
        if not _is_zero(da):
            c = _constant_fraction(b)
            if c is not None:
                rule = s_mul(const(c), s_pow(a, const(c - 1)))
            else:
                rule = s_mul(b, s_pow(a, s_sub(b, ONE)))
            terms.append(s_mul(rule, da))
        if not _is_zero(db):
            base = self.point(a)
            if _compare(base, 0) == 0:
                self.condition(f"{_plain(a)} == 0")
            else:
                terms.append(s_mul(s_mul(self.value_of(e), Call("log", (a,))), db))
        return s_sum(terms)

    def function(self, e: Call) -> Expr:
        u = e.args[0]
        du = self(u)
        if _is_zero(du):
            return ZERO  # nothing depends on the variable: no kink to decide, no sqrt′(0)
        return s_mul(self.rule(e, u), du)

    def rule(self, e: Call, u: Expr) -> Expr:
        """f′(u) for the one-argument functions; v is f(u) itself (or the node's value)."""
        v = self.value_of(e)
        fn = e.fn
        if fn == "exp":  # exp′ = exp
            return v
        if fn == "log":  # log′(u) = 1/u
            return s_div(ONE, u)
        if fn == "sqrt":  # sqrt′(u) = 1/(2·sqrt(u)), infinite at 0
            if _compare(self.point(u), 0) == 0:
                raise ComputeError(f"sqrt′(0) is infinite: the derivative of sqrt({_plain(u)}) at {_plain(u)} = 0")
            return s_div(ONE, s_mul(TWO, v))
        if fn == "sin":  # sin′ = cos
            return Call("cos", (u,))
        if fn == "cos":  # cos′ = −sin
            return s_neg(Call("sin", (u,)))
        if fn == "tanh":  # tanh′ = 1 − tanh²
            return s_sub(ONE, s_pow(v, TWO))
        if fn == "sigmoid":  # σ′ = σ·(1 − σ)
            return s_mul(v, s_sub(ONE, v))
        if fn == "relu":  # relu′(u) = 1 if u > 0 else 0   (PyTorch: relu′(0) = 0)
            if _compare(self.point(u), 0) > 0:
                self.condition(f"{_plain(u)} > 0")
                return ONE
            self.condition(f"{_plain(u)} <= 0")
            return ZERO
        if fn == "abs":  # abs′(u) = sign(u)   (PyTorch: abs′(0) = 0)
            sign = _compare(self.point(u), 0)
            self.condition(f"{_plain(u)} {'>' if sign > 0 else '<' if sign < 0 else '=='} 0")
            return ONE if sign > 0 else s_neg(ONE) if sign < 0 else ZERO
        raise TypeError(f"unknown function {fn!r}")

    def extremum(self, e: Call) -> Expr:
        """max/min pass the gradient to the winning argument; a tie of k arguments splits
        it equally, 1/k each (PyTorch)."""
        if all(_is_zero(self(a)) for a in e.args):
            return ZERO  # no argument depends on the variable: no branch to report
        values = [self.point(a) for a in e.args]
        better = 1 if e.fn == "max" else -1
        best = values[0]
        for v in values[1:]:
            if _compare(v, best) == better:
                best = v
        winners = [i for i, v in enumerate(values) if _compare(v, best) == 0]
        w = winners[0]
        op = ">" if e.fn == "max" else "<"
        parts = [f"{_plain(e.args[w])} == {_plain(e.args[i])}" for i in winners[1:]]
        parts += [f"{_plain(e.args[w])} {op} {_plain(a)}" for i, a in enumerate(e.args) if i not in winners]
        self.condition(", ".join(parts))
        total = s_sum(self(e.args[i]) for i in winners)
        return total if len(winners) == 1 else s_div(total, Num(str(len(winners))))


def differentiate(e: Expr, d: Mapping[str, Expr], point: Callable[[Expr], Any],
                  self_value: tuple[Expr, Expr] | None = None) -> tuple[Expr, tuple[str, ...]]:
    """(derivative expression, conditions of the branches taken at kinks)."""
    diff = _Differentiator(d, point, self_value)
    out = diff(e)
    return out, tuple(c for c in diff.conditions if c)


# ======================================================================================
# 3. Solving
# ======================================================================================

class _Bounded:
    """A number policy that refuses a power whose result would pass ±1e300 *before*
    computing it — exact arithmetic would otherwise build 2**(10**9) digit by digit."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def binary(self, op: str, a, b):
        if op == "**":
            self._check_power(a, b)
        return self.inner.binary(op, a, b)

    def _check_power(self, a, b) -> None:
        fa, fb = abs(self.inner.to_float(a)), self.inner.to_float(b)
        if fa in (0.0, 1.0) or not math.isfinite(fa) or not math.isfinite(fb):
            return
        if fb * math.log10(fa) > 300.01:
            raise ComputeError(f"{a} ** {b} is beyond ±1e300")


def local_name(node: str, input_: str) -> str:
    return f"d{node}/d{input_}.local"


def gradient_name(output: str, node: str) -> str:
    return f"d{output}/d{node}"


def second_name(node: str, leaf: str) -> str:
    return f"d2{node}/d{leaf}2"


def local_tangent_name(node: str, input_: str, leaf: str) -> str:
    return f"d({local_name(node, input_)})/d{leaf}"


def expression_size(e: Expr) -> tuple[int, int]:
    """(operations written out, depth) of an expression, without recursion — derived
    expressions share subtrees, so the written size can far exceed the object count.
    Renderers use it to elide formulas too long to read (or to print recursively)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[Expr, bool]] = [(e, False)]
    while stack:
        n, done = stack.pop()
        key = id(n)
        if key in size:
            continue
        kids = _children(n)
        if done or not kids:
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
        else:
            stack.append((n, True))
            stack += [(k, False) for k in kids if id(k) not in size]
    return size[id(e)], depth[id(e)]


class _Solver:
    """The state of one solve: the environment of computed values and the equations
    in the order a derivation shows them. Used once, by `solve_graph`."""

    def __init__(self, spec: GraphSpec, arith) -> None:
        self.spec = spec
        self.arith = arith
        self.policy = _Bounded(arith)
        self.env: dict[str, Any] = {}
        self.equations: list[Equation] = []

    def point(self, e: Expr):
        return evaluate(e, self.env, self.policy)

    def equation(self, node: str, name: str, e: Expr, section: str, condition: str | None = None) -> Equation:
        """Evaluate name = e under the policy, round it (finish), record it."""
        where_ = f"node {node}" if name == node else f"node {node}, {name}"
        size, depth = expression_size(e)
        if size > MAX_DERIVED_NODES or depth > MAX_DERIVED_DEPTH:
            raise ComputeError(f"{where_}: the equation is too large to write out ({size:,} operations, "
                               f"{depth} deep); split the expression into smaller nodes")
        try:
            value = self.arith.finish(evaluate(e, self.env, self.policy))
            self.check_magnitude(value)
        except ComputeError as exc:
            raise ComputeError(f"{where_}: {exc}") from None
        except (ArithmeticError, ValueError, OverflowError) as exc:
            raise ComputeError(f"{where_}: not a finite number ({type(exc).__name__})") from None
        eq = Equation(name, e, tuple((r, self.env[r]) for r in refs(e)), value, section, condition or None)
        self.env[name] = value
        self.equations.append(eq)
        return eq

    def check_magnitude(self, value) -> None:
        f = self.arith.to_float(value)
        if not math.isfinite(f):
            raise ComputeError("the result is not a finite number")
        if abs(f) > MAX_MAGNITUDE:
            raise ComputeError(f"{f:.6g} is beyond ±1e300")

    # -- passes ------------------------------------------------------------------------
    def forward(self) -> None:
        for node in self.spec.nodes:
            if node.is_leaf:
                self.env[node.name] = self.arith.given(node.given.fraction())
                try:
                    self.check_magnitude(self.env[node.name])
                except ComputeError as exc:
                    raise ComputeError(f"node {node.name}: {exc}") from None
            else:
                self.equation(node.name, node.name, node.expr, "forward")

    def on_path(self) -> list[GraphNode]:
        """The output and every node it depends on, in graph order."""
        by_name = {n.name: n for n in self.spec.nodes}
        keep = {self.spec.output}
        stack = [self.spec.output]
        while stack:
            for p in by_name[stack.pop()].inputs:
                if p not in keep:
                    keep.add(p)
                    stack.append(p)
        return [n for n in self.spec.nodes if n.name in keep]

    def local_gradients(self, path: list[GraphNode]) -> dict[tuple[str, str], Expr]:
        exprs: dict[tuple[str, str], Expr] = {}
        for node in path:
            for p in node.inputs:
                name = local_name(node.name, p)
                try:
                    g, conditions = differentiate(node.expr, {p: ONE}, self.point, (node.expr, Ref(node.name)))
                except ComputeError as exc:
                    raise ComputeError(f"node {node.name}, {name}: {exc}") from None
                self.equation(node.name, name, g, "local", ", ".join(conditions))
                exprs[(node.name, p)] = g
        return exprs

    def backward(self, path: list[GraphNode]) -> None:
        """df/dp = Σ over p's consumers q of df/dq · dq/dp.local, output first."""
        f = self.spec.output
        self.equation(f, gradient_name(f, f), ONE, "backward")
        on = {n.name for n in path}
        consumers: dict[str, list[str]] = {n.name: [] for n in self.spec.nodes}
        for q in path:
            for p in q.inputs:
                consumers[p].append(q.name)
        for node in reversed(path):
            if node.name != f:
                terms = [s_mul(Ref(gradient_name(f, q)), Ref(local_name(q, node.name))) for q in consumers[node.name]]
                e = terms[0]
                for t in terms[1:]:
                    e = Bin("+", e, t)  # never merged: the fan-out sum is shown term by term
                self.equation(node.name, gradient_name(f, node.name), e, "backward")
        for node in self.spec.nodes:
            if node.name not in on:
                self.equation(node.name, gradient_name(f, node.name), ZERO, "backward",
                              f"{node.name} does not lead to {f}")

    def second(self, path: list[GraphNode], local: Mapping[tuple[str, str], Expr]) -> None:
        """d²f/dx² for each wrt leaf by forward propagation of tangents (see module doc)."""
        f = self.spec.output
        on = {n.name for n in path}
        for x in self.spec.wrt:
            if x == f or x not in on:
                why = None if x == f else f"{x} does not lead to {f}"
                self.equation(f, second_name(f, x), ZERO, "second", why)
                continue
            self.second_for(x, path, local)

    def second_for(self, x: str, path: list[GraphNode], local: Mapping[tuple[str, str], Expr]) -> None:
        f = self.spec.output
        tangent: dict[str, Expr] = {x: ONE}  # dp/dx as an expression (1 for x itself)
        curvature: dict[str, Expr] = {x: ZERO}  # d²p/dx²
        for node in path:
            q = node.name
            inputs = [p for p in node.inputs if p in tangent]
            if node.is_leaf or not inputs:
                continue
            if q != f:  # the output's tangent is df/dx, already computed in reverse
                e = s_sum(s_mul(Ref(local_name(q, p)), tangent[p]) for p in inputs)
                self.equation(q, gradient_name(q, x), e, "second")
            tangent[q] = Ref(gradient_name(q, x))
            along = {p: tangent[p] for p in inputs}
            along[q] = tangent[q]
            terms: list[Expr] = []
            for p in inputs:
                terms.append(s_mul(Ref(local_name(q, p)), curvature[p]))
                name = local_tangent_name(q, p, x)
                try:
                    g, conditions = differentiate(local[(q, p)], along, self.point)
                except ComputeError as exc:
                    raise ComputeError(f"node {q}, {name}: {exc}") from None
                if not _is_zero(g):
                    self.equation(q, name, g, "second", ", ".join(conditions))
                    terms.append(s_mul(Ref(name), tangent[p]))
            e = s_sum(terms)
            if q == f or not _is_zero(e):
                self.equation(q, second_name(q, x), e, "second")
                curvature[q] = Ref(second_name(q, x))
            else:
                curvature[q] = ZERO


def solve_graph(spec: GraphSpec, arith=None) -> GraphTrace:
    """Forward values, local gradients, reverse-mode gradients of the output with
    respect to every node and, for `order: 2`, d²f/dx² for each `wrt` leaf — all as
    equations under the number policy `arith` (float64 when None)."""
    arith = arith if arith is not None else FloatArithmetic()
    solver = _Solver(spec, arith)
    try:
        solver.forward()
        path = solver.on_path()
        local = solver.local_gradients(path)
        solver.backward(path)
        if spec.order == 2:
            solver.second(path, local)
    except ComputeError as exc:  # every message to a user names the file
        raise exc.located(file=spec.file) from None

    env, f = solver.env, spec.output
    as_float = lambda v: float(arith.to_float(v)) + 0.0  # noqa: E731  (+0.0: no -0.0 in JSON)
    values = {n.name: as_float(env[n.name]) for n in spec.nodes}
    local_gradients = tuple(
        LocalGradient(q, p, as_float(env[local_name(q, p)])) for (q, p) in local
    )
    gradients = {n.name: as_float(env[gradient_name(f, n.name)]) for n in spec.nodes}
    second = {x: as_float(env[second_name(f, x)]) for x in spec.wrt} if spec.order == 2 else {}
    named = dict(values)
    named.update((eq.name, as_float(eq.value)) for eq in solver.equations)
    exact = dict(env) if getattr(arith, "name", "") == "exact" else {}
    return GraphTrace(
        name=spec.name, spec=spec, output=f, values=values, local_gradients=local_gradients,
        gradients=gradients, second=second, named=named, equations=tuple(solver.equations),
        policy=getattr(arith, "name", "float"), digits=getattr(arith, "digits", None), exact=exact,
    )
