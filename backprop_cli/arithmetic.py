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
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from fractions import Fraction

from .errors import ComputeError


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


class FloatArithmetic:
    name = "float"

    def literal(self, text: str) -> float:
        return float(Fraction(text)) if "/" in text else float(text)

    def given(self, value) -> float:
        return float(value)

    def neg(self, a: float) -> float:
        return -a

    def binary(self, op: str, a: float, b: float) -> float:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                raise ComputeError("division by zero")
            return a / b
        if op == "**":
            return _float_pow(a, b)
        raise ComputeError(f"unknown operator {op!r}")

    def call(self, fn: str, args: list[float]) -> float:
        return _float_function(fn, args)

    def finish(self, value: float) -> float:
        if not math.isfinite(value):
            raise ComputeError("the result is not a finite number")
        return value

    def to_float(self, value) -> float:
        return float(value)


class RoundedArithmetic:
    """Hand calculation to `digits` decimals, evaluated exactly as verify_equations.py does."""

    name = "round"
    PRECISION = 60

    def __init__(self, digits: int) -> None:
        self.digits = digits
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
        with localcontext() as ctx:
            ctx.prec = self.PRECISION
            try:
                if op == "+":
                    return a + b
                if op == "-":
                    return a - b
                if op == "*":
                    return a * b
                if op == "/":
                    if b == 0:
                        raise ComputeError("division by zero (a rounded value reached 0: try more decimals)")
                    return a / b
                if op == "**":
                    if b == b.to_integral_value():
                        if a == 0 and b < 0:
                            raise ComputeError("division by zero (a rounded value reached 0: try more decimals)")
                        return a ** int(b)
                    return self._decimal(_float_pow(float(a), float(b)))
            except InvalidOperation as exc:
                raise ComputeError(f"{a} {op} {b} is not a number") from exc
        raise ComputeError(f"unknown operator {op!r}")

    def call(self, fn: str, args: list[Decimal]) -> Decimal:
        return self._decimal(_float_function(fn, [float(a) for a in args]))

    def finish(self, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ComputeError("the result is not a finite number")
        return value.quantize(self.quantum, rounding=ROUND_HALF_UP)

    def to_float(self, value) -> float:
        return float(value)


class ExactArithmetic:
    """Rationals stay rationals; sigmoid, tanh, exp, log stay closed forms (sympy)."""

    name = "exact"

    def __init__(self) -> None:
        import sympy  # deliberately lazy: float mode must not pay for the import

        self.sp = sympy

    def literal(self, text: str):
        return self.sp.Rational(text)

    def given(self, value):
        if isinstance(value, Fraction):
            return self.sp.Rational(value.numerator, value.denominator)
        if isinstance(value, str):
            return self.sp.Rational(value)
        return self.sp.Rational(repr(float(value)))

    def neg(self, a):
        return -a

    def binary(self, op: str, a, b):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                raise ComputeError("division by zero")
            return a / b
        if op == "**":
            if a == 0 and b.is_negative:
                raise ComputeError("division by zero")
            if a.is_negative and not b.is_integer:
                raise ComputeError("a negative base with a non-integer exponent")
            return a ** b
        raise ComputeError(f"unknown operator {op!r}")

    def call(self, fn: str, args: list):
        sp = self.sp
        x = args[0]
        if fn == "exp":
            return sp.exp(x)
        if fn == "log":
            if not (x > 0):
                raise ComputeError(f"log({x}) of a non-positive number")
            return sp.log(x)
        if fn == "sqrt":
            if x.is_negative:
                raise ComputeError(f"sqrt({x}) of a negative number")
            return sp.sqrt(x)
        if fn == "sin":
            return sp.sin(x)
        if fn == "cos":
            return sp.cos(x)
        if fn == "tanh":
            return sp.tanh(x)
        if fn == "sigmoid":
            return 1 / (1 + sp.exp(-x))
        if fn == "relu":
            return x if x > 0 else sp.Integer(0)
        if fn == "abs":
            return sp.Abs(x)
        if fn == "max":
            return sp.Max(*args)
        if fn == "min":
            return sp.Min(*args)
        raise ComputeError(f"unknown function {fn!r}")

    def finish(self, value):
        return value

    def to_float(self, value) -> float:
        return float(self.sp.N(value, 30))
