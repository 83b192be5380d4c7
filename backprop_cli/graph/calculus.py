"""Symbolic differentiation on `expr` trees for graph specs: each operation beside
its local gradient rule, with a small simplifier that never changes a value.

Split from graph.py, which reads specs and solves them.
"""
from __future__ import annotations

import functools
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping

from ..errors import ComputeError
from ..calc.expr import Bin, Call, Expr, Neg, Num, Ref, to_text
from ..calc.expr import children

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


def is_zero(e: Expr) -> bool:
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
    if is_zero(a):
        return ZERO
    if isinstance(a, Neg):
        return a.operand
    return Neg(a)


def s_add(a: Expr, b: Expr) -> Expr:
    if is_zero(a):
        return b
    if is_zero(b):
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
    if is_zero(b):
        return a
    if is_zero(a):
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
    if is_zero(a) or is_zero(b):
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
    if is_zero(a):
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
    if is_zero(b):
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
            kids = children(n)
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
        """d(a**b) = b·a**(b−1)·da + a**b·log(a)·db; PyTorch takes the first term as 0
        where b = 0 and the second as 0 where a = 0 (and b ≥ 0): at (0, 0) both are 0."""
        terms = []
        if not is_zero(da):
            c = _constant_fraction(b)
            if c == 0:
                pass  # d(a**0) = 0, even at a = 0 where b·a**(b−1) is 0·(1/0) (PyTorch: 0)
            elif c is not None:
                terms.append(s_mul(s_mul(const(c), s_pow(a, const(c - 1))), da))
            elif _compare(self.point(b), 0) == 0:
                self.condition(f"{_plain(b)} == 0")  # PyTorch: exponent 0 gives gradient 0
            else:
                terms.append(s_mul(s_mul(b, s_pow(a, s_sub(b, ONE))), da))
        if not is_zero(db):
            base = self.point(a)
            if _compare(base, 0) == 0:
                self.condition(f"{_plain(a)} == 0")
            else:
                terms.append(s_mul(s_mul(self.value_of(e), Call("log", (a,))), db))
        return s_sum(terms)

    def function(self, e: Call) -> Expr:
        u = e.args[0]
        du = self(u)
        if is_zero(du):
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
        if all(is_zero(self(a)) for a in e.args):
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


