"""`Op`, the record every tensor operation is, and the small expression builders its rules use.

Its own module so that families of ops in other modules (conv.py) and the core table
(ops.py) share it without importing each other.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Optional

import numpy as np

from ..calc.expr import Bin, Call, Expr, Num
from .shapes import Shape

# -- expression helpers ---------------------------------------------------------------

def mul(a: Expr, b: Expr) -> Expr:
    return Bin("*", a, b)


def call(fn: str, *args: Expr) -> Call:
    return Call(fn, tuple(args))


def ints(*values: int) -> tuple[Num, ...]:
    return tuple(Num(str(v)) for v in values)


def add_all(terms: list[Expr]) -> Expr:
    out = terms[0]
    for t in terms[1:]:
        out = Bin("+", out, t)
    return out


def number_text(x: float) -> str:
    """A literal for a constant the rule computes (an exponent minus one, a tie share)."""
    f = Fraction(x).limit_denominator(1000)
    if float(f) == x:
        return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"
    return repr(float(x))


class Op:
    """One operation: shape rule, float value, vector-Jacobian rule, element rule."""

    def __init__(self, name: str, *, shape, value, vjp, element, arity: tuple[int, Optional[int]] = (1, 1),
                 consts: int = 0, doc: str = "", tensors: Optional[int] = None) -> None:
        self.name, self.arity, self.consts, self.doc = name, arity, consts, doc
        self.tensors = tensors  # how many leading arguments are tensors (the rest constants), when not 1
        self.shape: Callable[..., Shape] = shape
        self.value: Callable[..., np.ndarray] = value
        self.vjp: Callable[..., Expr] = vjp
        self.element: Callable[..., Expr] = element


