"""The graph expression parser (SPEC §4): our own tokenizer and recursive descent.

User text is tokenized and parsed into `expr` trees; nothing is ever evaluated as
Python. Split from graph.py, which reads specs and solves them.
"""
from __future__ import annotations

import keyword
import math
import re
from typing import Mapping, NoReturn

from ..calc.arithmetic import FloatArithmetic
from ..errors import ComputeError, SpecError
from ..calc.expr import GRAPH_FUNCTIONS as FUNCTIONS, TENSOR_FUNCTIONS_AXIS, TENSOR_FUNCTIONS_CONSTANTS, Bin, Call, Expr, Neg, Num, Ref, children, evaluate, refs, to_text
from ..frozen import frozen
from ..read.numbers import parse_text
from ..read.suggest import suggest
from ..safe_text import quoted

MAX_EXPRESSION_CHARS = 10_000
MAX_EXPRESSION_DEPTH = 200  # nested operations, parentheses and exponents (SPEC §8)
MAX_CONSTANT_EXPONENT = 1000  # |b| in `a ** b` when b is a constant
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_FINITE_WORDS = ("nan", "inf", "infinity")

# ======================================================================================
# 1b. The expression parser: our own tokenizer and recursive descent, nothing evaluated
# ======================================================================================

@frozen
class NameTable:
    """Every node of the graph, built once: a scope is a position in it (linear, not
    a copy of the names per node)."""

    names: tuple[str, ...]
    position: Mapping[str, int]
    text: Mapping[str, str]  # as written, to tell a forward reference from a cycle
    line: Mapping[str, int]


@frozen
class Scope:
    """What a name in the expression of node number `index` may refer to: earlier nodes."""

    table: NameTable
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


@frozen
class _Token:
    kind: str  # num name op str bad other end
    text: str
    start: int
    end: int


_TOKEN_RE = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<num>(?:[0-9]|\.[0-9])(?:[eE][+-][0-9]|[A-Za-z0-9_.])*)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<bad>//|==|!=|<=|>=|[\^.\[\]{}=<>%&|~:;!`$?\\#])"  # before op: // is not two /
    r"|(?P<op>\*\*|[-+*/@(),])"
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


def parse_expression(text: str, scope: Scope, *, file: str | None = None, line: int | None = None,
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

        expression := factor (('*' | '/' | '@' | '+' | '-') factor)*   two precedence levels, looped
        factor     := ('-' | '+')* primary ['**' factor]            -2**2 = -(2**2), 2**3**2 = 2**9
        primary    := NUMBER | NAME | FUNCTION '(' expression (',' expression)* ')' | '(' expression ')'

    Left-associative chains are loops (no recursion); parentheses, calls and exponents
    recurse and are counted, so 200 levels stay near 600 frames, well inside Python's
    default limit of 1000. Every node records its depth; the limit is checked as the
    node is built, so nothing deep is ever walked recursively."""

    def __init__(self, text: str, tokens: list[_Token], scope: Scope, fail) -> None:
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
            if self.is_op(tok, "*", "/", "@"):  # @: matrix product (tensor graphs), as in Python
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
                self.fail(f"{quoted(tok.text)} is not a number: {parsed}", tok.start, tok.end,
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
                self.fail(f"{quoted(fn)} is a node, not a function", name.start, name.end,
                          hint=f"only {', '.join(FUNCTIONS)} can be called; write {fn} * (...) for a product")
            if keyword.iskeyword(fn):
                self.fail(f"Python keyword {quoted(fn)} is not allowed", name.start, name.end)
            self.fail(f"unknown function {quoted(fn)}", name.start, name.end,
                      hint=suggest(fn, FUNCTIONS) or "the functions are " + ", ".join(FUNCTIONS))
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
        if fn in TENSOR_FUNCTIONS_AXIS:
            if not 1 <= len(args) <= 2:
                self.fail(f"{fn} takes 1 or 2 arguments ({fn}(x) or {fn}(x, axis)), found {len(args)}",
                          name.start, close.end)
            if len(args) == 2 and not _is_integer_constant(args[1][0]):
                self.fail(f"the axis of {fn}(x, axis) must be an integer constant (0-based, as PyTorch's dim)",
                          name.start, close.end)
        elif fn in TENSOR_FUNCTIONS_CONSTANTS:
            self.check_constants(fn, [e for e, _ in args], name, close)
        elif fn in ("max", "min"):
            if not args:
                self.fail(f"{fn} takes at least 1 argument (one tensor, or several to compare elementwise), "
                          "found 0", name.start, close.end)
        elif len(args) != 1:
            self.fail(f"{fn} takes exactly 1 argument, found {len(args)}", name.start, close.end)
        return self.build(name, Call(fn, tuple(e for e, _ in args)), max(d for _, d in args))

    def check_constants(self, fn: str, args: list[Expr], name: _Token, close: _Token) -> None:
        """conv2d(x, W, stride, padding) and the like: the tensors, then integer constants
        within range, so a stride of 1.5 or a node as a kernel size is refused here."""
        tensors, names, required, least = TENSOR_FUNCTIONS_CONSTANTS[fn]
        signature = f"{fn}({', '.join(['x', 'W'][:tensors] + list(names if fn != 'reshape' else ('d1', '…')))})"
        if not tensors + required <= len(args) <= tensors + len(names):
            counts = (f"{tensors + required}" if not names[required:] else
                      f"{tensors + required} to {tensors + len(names)}")
            self.fail(f"{fn} takes {counts} arguments ({signature}), found {len(args)}", name.start, close.end)
        for k, arg in enumerate(args[tensors:]):
            what = names[k] if fn != "reshape" else "size"
            value = _constant_float(arg) if isinstance(arg, (Num, Neg)) else None
            if value is not None and (not math.isfinite(value) or abs(value) > 10_000):
                self.fail(f"the {what} of {signature} is too large ({to_text(arg, lambda n: n)[:20]}); "
                          "at most 10,000 (as the typed layers)", name.start, close.end)
            if not _is_integer_constant(arg):
                self.fail(f"the {what} of {signature} must be an integer constant, found "
                          f"{quoted(to_text(arg, lambda n: n))}", name.start, close.end,
                          hint="stride, padding and kernel sizes are whole numbers written in the expression")
            value = int(value)
            if least[k] is not None and value < least[k]:
                self.fail(f"the {what} of {signature} must be at least {least[k]}, found {value}",
                          name.start, close.end)

    # -- names -------------------------------------------------------------------------
    def resolve(self, tok: _Token) -> str:  # returns only for an earlier node
        """A name is an earlier node, or an error that says exactly what it is instead."""
        name, scope = tok.text, self.scope
        if scope.is_defined(name):
            return name
        span = (tok.start, tok.end)
        if keyword.iskeyword(name):
            self.fail(f"Python keyword {quoted(name)} is not allowed", *span,
                      hint="expressions use + - * / **, parentheses and " + ", ".join(FUNCTIONS))
        if name.lower() in _NOT_FINITE_WORDS:
            self.fail(f"{quoted(name)} is not a finite number", *span, hint="NaN and infinity are not allowed")
        if name in FUNCTIONS:
            self.fail(f"{quoted(name)} is a function: call it as {name}(...)", *span)
        if name == scope.current:
            self.fail(f"{quoted(name)} refers to itself", *span,
                      hint="a node is computed from earlier nodes only")
        if scope.is_later(name):
            cycle = _find_cycle(scope, name)
            if cycle:
                self.fail("cycle: " + " → ".join(cycle), *span,
                          hint="a graph is evaluated in order; a node cannot depend on itself")
            self.fail(f"{quoted(name)} is used before it is defined (line {scope.table.line[name]})", *span,
                      hint=f"nodes are evaluated in order: move {quoted(name)} above {quoted(scope.current)}")
        defined = scope.defined()
        hint = suggest(name, defined)
        if hint is None:
            hint = ("defined so far: " + ", ".join(defined[-12:])) if defined else "no node is defined before this one"
        self.fail(f"unknown name {quoted(name)}", *span, hint=hint)

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
                self.fail(f"comparison {quoted(tok.text)} is not allowed", *span)
            message, hint = _BAD_TOKENS.get(tok.text, (f"{quoted(tok.text)} is not allowed in an expression", None))
            self.fail(message, *span, hint=hint)
        if tok.kind == "other":
            better = _UNICODE_HINTS.get(tok.text)
            self.fail(f"unexpected character {quoted(tok.text)}", *span,
                      hint=f"write {quoted(better)}" if better else "expressions are plain ASCII")
        if tok.kind == "name" and keyword.iskeyword(tok.text):
            self.fail(f"Python keyword {quoted(tok.text)} is not allowed", *span)
        if tok.kind == "end":
            self.fail(f"the expression ends where {wanted} is expected", *span)
        if self.is_op(tok, ")") and wanted.startswith("an operator or the end"):
            self.fail("unmatched ')'", *span)
        hint = None
        if (wanted.startswith("an operator") and tok.kind in ("num", "name")) or self.is_op(tok, "("):
            hint = "write * for multiplication: 2 * x"
        self.fail(f"expected {wanted}, found {quoted(tok.text)}", *span, hint=hint)


def _find_cycle(scope: Scope, target: str) -> list[str] | None:
    """current → target → … → current through later nodes' names, if there is one.
    Only for the error message: later texts are scanned for names, never parsed."""
    current = scope.current
    parent: dict[str, str] = {target: current}
    queue = [target]
    while queue:
        node = queue.pop(0)
        for name in dict.fromkeys(IDENTIFIER.findall(scope.table.text.get(node, ""))):
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


def _contains_power(e: Expr) -> bool:
    stack = [e]
    while stack:
        n = stack.pop()
        if isinstance(n, Bin) and n.op == "**":
            return True
        stack += children(n)
    return False




def _is_integer_constant(e: Expr) -> bool:
    while isinstance(e, Neg):
        e = e.operand
    if not isinstance(e, Num):
        return False
    parsed = parse_text(e.text)
    return not isinstance(parsed, str) and parsed.value == int(parsed.value)


def parse_over(text: str, names, *, file: str | None = None, line: int | None = None,
               path: str | None = None) -> Expr:
    """Parse a §4 expression in which every one of `names` is defined (no graph order).

    For expressions written over an already solved set of names — a teacher's template
    constraints (teach/constraints.py) — with the same whitelisting parser, the same
    messages and the same limits as graph nodes."""
    known = tuple(names) + ("",)  # "" stands for the expression itself (never a name)
    table = NameTable(known, {n: i for i, n in enumerate(known)}, {n: "" for n in known}, {n: 0 for n in known})
    return parse_expression(text, Scope(table, len(known) - 1), file=file, line=line, path=path)
