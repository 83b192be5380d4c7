"""Number policies: how an equation's expression is evaluated (SPEC §7).

* `FloatArithmetic` — float64, as PyTorch computes.
* `RoundedArithmetic(D)` — hand calculation: + − × ÷ and integer powers exactly in
  decimal on the printed operands, functions (exp, log, …) in float64, and every
  computed result rounded half away from zero to D decimals. A student re-doing the
  printed arithmetic gets the printed result; `verify_equations.py --round D` checks it.
* `ExactArithmetic` (sympy, imported only when used) — rationals and closed forms.

Every policy offers the same small set of operations, so `expr.evaluate` is written once.
"""
from __future__ import annotations

import math
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from fractions import Fraction

from ..errors import ComputeError


def _sigmoid(z: float) -> float:
    """Stable logistic: never exponentiates a large positive number."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _float_function(fn: str, args: list[float]) -> float:
    try:
        if fn == "exp":
            return math.exp(args[0])
        if fn == "log":
            return math.log(args[0])
        if fn == "sqrt":
            if args[0] < 0:
                raise ValueError
            return math.sqrt(args[0])
        if fn == "sin":
            return math.sin(args[0])
        if fn == "cos":
            return math.cos(args[0])
        if fn == "tanh":
            return math.tanh(args[0])
        if fn == "sigmoid":
            return _sigmoid(args[0])
        if fn == "relu":
            return max(0.0, args[0])
        if fn == "abs":
            return abs(args[0])
        if fn == "max":
            return max(args)
        if fn == "min":
            return min(args)
    except (OverflowError, ValueError) as exc:
        raise ComputeError(f"{fn}({', '.join(repr(a) for a in args)}) is not a finite number") from exc
    raise ComputeError(f"unknown function {fn!r}")


def _float_pow(a: float, b: float) -> float:
    if a < 0 and b != int(b):
        raise ComputeError(f"({a!r}) ** {b!r}: a negative base with a non-integer exponent")
    if a == 0 and b < 0:
        raise ComputeError(f"0 ** {b!r}: division by zero")
    try:
        out = a ** b
    except OverflowError as exc:
        raise ComputeError(f"{a!r} ** {b!r} overflows") from exc
    return float(out)


def _field_op(op: str, a, b, zero_message: str):
    """+ − × ÷ for any number type; ÷ 0 is an error (never inf), unknown operators too."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            raise ComputeError(zero_message)
        return a / b
    raise ComputeError(f"unknown operator {op!r}")


class FloatArithmetic:
    name = "float"

    def literal(self, text: str) -> float:
        return float(Fraction(text)) if "/" in text else float(text)

    def given(self, value) -> float:
        return float(value)

    def neg(self, a: float) -> float:
        return -a

    def binary(self, op: str, a: float, b: float) -> float:
        if op == "**":
            return _float_pow(a, b)
        return _field_op(op, a, b, "division by zero")

    def call(self, fn: str, args: list[float]) -> float:
        return _float_function(fn, args)

    def finish(self, value: float) -> float:
        if not math.isfinite(value):
            raise ComputeError("the result is not a finite number")
        return value

    def to_float(self, value) -> float:
        return float(value)


MAX_ROUND_DIGITS = 12  # --round D: float64 carries ~15-17 significant digits


def check_round_digits(digits: int) -> int:
    """D of `--round D`, within 0…MAX_ROUND_DIGITS (a 23-digit D is refused, not computed)."""
    if not 0 <= digits <= MAX_ROUND_DIGITS:
        from ..errors import BackpropError

        shown = f"{digits}" if abs(digits) < 10 ** 12 else f"a {len(str(abs(digits)))}-digit number"
        raise BackpropError(f"--round takes 0…{MAX_ROUND_DIGITS} decimals, got {shown}")
    return digits


class RoundedArithmetic:
    """Hand calculation to `digits` decimals, evaluated exactly as verify_equations.py does."""

    name = "round"
    PRECISION = 60

    def __init__(self, digits: int) -> None:
        self.digits = check_round_digits(digits)  # every caller (solve, check, graphs) is guarded here
        self.quantum = Decimal(1).scaleb(-digits)

    @staticmethod
    def _decimal(x: float) -> Decimal:
        return Decimal(repr(float(x)))

    def literal(self, text: str) -> Decimal:
        if "/" in text:
            return self._decimal(float(Fraction(text)))
        return Decimal(text)

    def given(self, value) -> Decimal:
        """Given data (x, t, step-1 parameters, hyperparameters) is used as written."""
        return self._decimal(float(value))

    def neg(self, a: Decimal) -> Decimal:
        return -a

    def binary(self, op: str, a: Decimal, b: Decimal) -> Decimal:
        zero = "division by zero (a rounded value reached 0: try more decimals)"
        with localcontext() as ctx:
            ctx.prec = self.PRECISION
            try:
                if op != "**":
                    return _field_op(op, a, b, zero)
                if b == b.to_integral_value():
                    if a == 0 and b < 0:
                        raise ComputeError(zero)
                    return a ** int(b)
                return self._decimal(_float_pow(float(a), float(b)))
            except InvalidOperation as exc:
                raise ComputeError(f"{a} {op} {b} is not a number") from exc

    def call(self, fn: str, args: list[Decimal]) -> Decimal:
        return self._decimal(_float_function(fn, [float(a) for a in args]))

    def finish(self, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ComputeError("the result is not a finite number")
        try:
            return value.quantize(self.quantum, rounding=ROUND_HALF_UP)
        except InvalidOperation:  # more digits than the decimal context holds
            raise ComputeError(f"{value:.3e} is too large to round by hand to {self.digits} decimals") from None

    def to_float(self, value) -> float:
        return float(value)


class TruncatedArithmetic(RoundedArithmetic):
    """--round D's hand arithmetic, but each result cut off (toward zero) at D decimals:
    the slip of a student who copies the first D decimals from the calculator (check's
    "truncated, not rounded" diagnosis re-solves with it)."""

    name = "truncate"

    def finish(self, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ComputeError("the result is not a finite number")
        try:
            return value.quantize(self.quantum, rounding=ROUND_DOWN)
        except InvalidOperation:
            raise ComputeError(f"{value:.3e} is too large to truncate to {self.digits} decimals") from None


EXACT_SIZE_LIMIT = 5000  # nodes of a closed form, counted as printed (shared parts repeated)
# Digits of an exact rational's numerator or denominator. Products and powers double
# the digits at every step (an x ** 2 chain, a "1/3" network over a few steps), so a
# bound is what keeps --exact's time and memory finite; 4,000 stays under Python's own
# 4,300-digit limit on int ↔ str conversion (printing never hits it). Checked on bit
# lengths: O(1) per result, before anything prints.
EXACT_DIGIT_LIMIT = 4000
_EXACT_BIT_LIMIT = int(EXACT_DIGIT_LIMIT * 3.3219280948873626)  # log2(10)


def exact_digits(q: Fraction) -> int:
    """Decimal digits of the longer of numerator and denominator (±1, from bit lengths)."""
    bits = max(abs(q.numerator).bit_length(), q.denominator.bit_length())
    return int(bits / 3.3219280948873626) + 1


class ExactValue:
    """An exact value: a Fraction, or a closed form over fractions (an `expr` tree),
    beside its float64 approximation and its printed size.

    Solving builds these with plain Python — Fraction arithmetic and tree nodes, O(1)
    each — and never asks sympy to canonicalise or probe a growing closed form; sympy
    only prints the finished values (`to_sympy`). The approximation decides branches
    (ReLU's z > 0) and fills the float arrays."""

    __slots__ = ("expr", "approx", "size")

    def __init__(self, expr, approx: float, size: int = 1) -> None:
        self.expr = expr
        self.approx = approx
        self.size = size

    @property
    def is_rational(self) -> bool:
        return isinstance(self.expr, Fraction)

    def __float__(self) -> float:
        return self.approx

    def __repr__(self) -> str:
        return f"ExactValue({self.text()}, {self.approx!r})"

    def text(self) -> str:
        from .expr import to_text

        return str(self.expr) if self.is_rational else to_text(self.expr)

    def to_sympy(self):
        """The sympy value (imported here, only when exact output is printed)."""
        return _to_sympy(self.expr, {})


def _node(value: ExactValue):
    from .expr import Num

    if value.is_rational:
        return Num(str(value.expr))
    return value.expr


def _to_sympy(e, memo: dict):
    import sympy as sp

    from .expr import Bin, Call, Neg, Num

    if isinstance(e, Fraction):
        return sp.Rational(e.numerator, e.denominator)
    key = id(e)
    if key in memo:
        return memo[key][1]
    if isinstance(e, Num):
        out = sp.Rational(e.text)
    elif isinstance(e, Neg):
        out = -_to_sympy(e.operand, memo)
    elif isinstance(e, Bin):
        a, b = _to_sympy(e.left, memo), _to_sympy(e.right, memo)
        out = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
               "**": lambda: sp.Pow(a, b)}[e.op]()
    elif isinstance(e, Call):
        x = _to_sympy(e.args[0], memo)
        if e.fn == "sigmoid":
            out = 1 / (1 + sp.exp(-x, evaluate=False))
        elif e.fn == "sqrt":
            out = sp.sqrt(x)
        else:
            out = getattr(sp, e.fn)(x, evaluate=False)
    else:
        raise TypeError(e)
    memo[key] = (e, out)  # keep e alive so its id is not reused
    return out


class ExactArithmetic:
    """Rationals stay rationals (Fractions); sigmoid, tanh, exp, log, sqrt of a
    non-square stay closed forms. A closed form that grows past EXACT_SIZE_LIMIT
    printed nodes is refused: it would not be readable (and printing it would hang)."""

    name = "exact"

    def __init__(self) -> None:
        self._float = FloatArithmetic()

    def _closed(self, expr, approx: float, size: int) -> ExactValue:
        if size > EXACT_SIZE_LIMIT:
            raise ComputeError(
                f"the exact closed form grew past {EXACT_SIZE_LIMIT:,} terms: too large to read "
                "(use fewer steps, or drop --exact for float64)"
            )
        return ExactValue(expr, approx, size)

    @staticmethod
    def _rational(value: Fraction) -> ExactValue:
        if abs(value.numerator).bit_length() > _EXACT_BIT_LIMIT or value.denominator.bit_length() > _EXACT_BIT_LIMIT:
            raise _too_many_digits(exact_digits(value), _float_or_inf(value))
        return ExactValue(value, _float_or_inf(value))

    def literal(self, text: str) -> ExactValue:
        value = Fraction(text)
        return ExactValue(value, float(value))

    def given(self, value) -> ExactValue:
        if isinstance(value, Fraction):
            return ExactValue(value, float(value))
        if isinstance(value, str):
            return self.literal(value)
        return ExactValue(Fraction(repr(float(value))), float(value))

    def neg(self, a: ExactValue) -> ExactValue:
        from .expr import Neg

        if a.is_rational:
            return ExactValue(-a.expr, -a.approx)
        return self._closed(Neg(a.expr), -a.approx, a.size + 1)

    def binary(self, op: str, a: ExactValue, b: ExactValue) -> ExactValue:
        from .expr import Bin

        if a.is_rational and b.is_rational:
            # exact first, its float after: a leaf of 1e-399 is 0 in float64 but not here
            x, y = a.expr, b.expr
            if op == "+":
                return self._rational(x + y)
            if op == "-":
                return self._rational(x - y)
            if op == "*":
                return self._rational(x * y)
            if op == "/":
                if y == 0:
                    raise ComputeError("division by zero")
                return self._rational(x / y)
            if op == "**" and y.denominator == 1 and abs(y.numerator) <= 64:
                if x == 0 and y < 0:
                    raise ComputeError("division by zero")
                if (exact_digits(x) - 1) * abs(y.numerator) > EXACT_DIGIT_LIMIT:  # refused before the power
                    raise _too_many_digits((exact_digits(x) - 1) * abs(y.numerator), _float_or_inf(x) ** 2)
                return self._rational(x ** int(y))
        approx = self._float.binary(op, a.approx, b.approx)
        if op == "/" and b.is_rational and b.expr == 0:
            raise ComputeError("division by zero")
        if op == "*" and ((a.is_rational and a.expr == 0) or (b.is_rational and b.expr == 0)):
            return ExactValue(Fraction(0), 0.0)
        if op == "*" and a.is_rational and a.expr == 1:
            return b
        if op in ("*", "/") and b.is_rational and b.expr == 1:
            return a
        if op in ("+", "-") and b.is_rational and b.expr == 0:
            return a
        if op == "+" and a.is_rational and a.expr == 0:
            return b
        return self._closed(Bin(op, _node(a), _node(b)), approx, a.size + b.size + 1)

    def call(self, fn: str, args: list[ExactValue]) -> ExactValue:
        from .expr import Call

        approx = self._float.call(fn, [a.approx for a in args])
        x = args[0]
        if fn == "relu":
            return x if x.approx > 0 else ExactValue(Fraction(0), 0.0)
        if fn in ("max", "min"):
            return (max if fn == "max" else min)(args, key=lambda a: a.approx)
        if fn == "abs":
            return x if x.approx >= 0 else self.neg(x)
        if x.is_rational:
            if fn in ("exp", "cos") and x.expr == 0:
                return ExactValue(Fraction(1), 1.0)
            if fn in ("sin", "tanh") and x.expr == 0:
                return ExactValue(Fraction(0), 0.0)
            if fn == "log" and x.expr == 1:
                return ExactValue(Fraction(0), 0.0)
            if fn == "sigmoid" and x.expr == 0:
                return ExactValue(Fraction(1, 2), 0.5)
            if fn == "sqrt" and x.expr >= 0:
                root = _rational_sqrt(x.expr)
                if root is not None:
                    return ExactValue(root, approx)
        return self._closed(Call(fn, (_node(x),)), approx, x.size + 1)

    def finish(self, value: ExactValue) -> ExactValue:
        if not math.isfinite(value.approx):
            raise ComputeError("the result is not a finite number")
        return value

    def to_float(self, value) -> float:
        return float(value)


def _float_or_inf(q: Fraction) -> float:
    """float(q), or ±inf where it overflows (the finish/magnitude checks name it)."""
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


def _too_many_digits(digits: int, approx: float) -> ComputeError:
    return ComputeError(
        f"an exact fraction would have about {digits:,} digits (limit {EXACT_DIGIT_LIMIT:,}; its value "
        f"≈ {approx:.6g}): products and powers multiply the digits, so exact arithmetic would not "
        "finish in bounded time (use fewer steps or nodes, or drop --exact for float64)"
    )


def _rational_sqrt(q: Fraction):
    p, r = math.isqrt(q.numerator), math.isqrt(q.denominator)
    if p * p == q.numerator and r * r == q.denominator:
        return Fraction(p, r)
    return None
