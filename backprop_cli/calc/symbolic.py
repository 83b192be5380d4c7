"""`--symbolic`: each gradient as a formula in the forward quantities, then with numbers.

The chain rule the derivation records (∂L/∂W1 = ∂L/∂a1 · ∂a1/∂z1 · ∂z1/∂W1, with
∂L/∂a1 itself a sum over the next layer) is expanded down to forward quantities —
activations, inputs, targets, weights — and simplified by sympy, so BCE after a sigmoid
collapses to (a3 − t1) and ∂L/∂W1 reads (a3 − t1)·W5·a1·(1 − a1)·x1. The simplified
formula is turned back into our expression tree, so every renderer prints it in its own
notation and substitutes the trace's numbers, and it is evaluated to prove it equals the
recorded gradient. sympy is imported only here.
"""
from __future__ import annotations

import re
from typing import Any

from .arithmetic import FloatArithmetic
from ..errors import BackpropError
from .expr import Bin, Call, Expr, Neg, Num, Ref, evaluate, refs
from ..frozen import frozen
from ..trace import Equation

# Quantities that stay symbols: forward values, data, parameters, hyperparameters.
_PRIMARY = re.compile(r"^(?:[zatx]\d+|[Wb]\d+|lr|momentum|weight_decay|beta1|beta2|eps|slope|alpha|lr_decay|initial_accumulator_value)(?:#\d+)?(?:@\d+)?$")
_GRADIENT = re.compile(r"^dL/d[Wb]\d+(?:@\d+)?$")
SYMBOLIC_PARAMETER_LIMIT = 40


@frozen
class SymbolicGradient:
    """A gradient as a simplified formula over forward quantities (and its value)."""

    name: str
    expr: Expr  # our tree, for notation-aware printing and substitution
    sympy: Any  # the simplified sympy expression, for sympy's LaTeX printer
    symbols: tuple[tuple[str, Any], ...]  # canonical name ↔ sympy Symbol
    operands: tuple[tuple[str, float], ...]
    value: float


def symbolic_gradients(equations: tuple[Equation, ...], named: dict, parameter_count: int) -> tuple[SymbolicGradient, ...]:
    """Formulas for every dL/dW and dL/db among `equations` (one step's derivation)."""
    if parameter_count > SYMBOLIC_PARAMETER_LIMIT:
        raise BackpropError(
            f"--symbolic expands every chain rule into one formula: at most {SYMBOLIC_PARAMETER_LIMIT} "
            f"parameters (this network has {parameter_count})"
        )
    import sympy as sp

    definitions = {e.name: e.expr for e in equations}
    symbols: dict[str, Any] = {}
    memo: dict[str, Any] = {}

    def symbol(name: str):
        if name not in symbols:
            symbols[name] = sp.Symbol("s" + str(len(symbols)))
        return symbols[name]

    def expand(name: str):
        if name in memo:
            return memo[name]
        if _PRIMARY.match(name) or name not in definitions:
            out = symbol(name)
        else:
            out = to_sympy(definitions[name])
        memo[name] = out
        return out

    def to_sympy(e: Expr):
        if isinstance(e, Num):
            return sp.Rational(e.text) if "e" not in e.text.lower() else sp.Float(e.text)
        if isinstance(e, Ref):
            return expand(e.name)
        if isinstance(e, Neg):
            return -to_sympy(e.operand)
        if isinstance(e, Bin):
            a, b = to_sympy(e.left), to_sympy(e.right)
            return {"+": a + b, "-": a - b, "*": a * b, "/": a / b, "**": a ** b}[e.op] if e.op != "/" else a / b
        if isinstance(e, Call):
            args = [to_sympy(a) for a in e.args]
            fn = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh, "max": sp.Max, "min": sp.Min}[e.fn]
            return fn(*args)
        raise TypeError(e)

    out = []
    arith = FloatArithmetic()
    for eq in equations:
        if not _GRADIENT.match(eq.name):
            continue
        # sympy's own canonicalisation already cancels a3(1 − a3) against BCE's
        # denominator; factor_terms then pulls common factors out of sums without
        # expanding anything (full factor() would expand Mazur's sums into polynomials)
        formula = sp.factor_terms(to_sympy(eq.expr))
        names = {sym: name for name, sym in symbols.items()}
        tree = from_sympy(formula, names)
        operands = tuple((n, float(named[n])) for n in refs(tree))
        value = arith.finish(evaluate(tree, dict(operands), arith)) if operands else float(sp.N(formula))
        used = tuple((n, symbols[n]) for n in refs(tree))
        out.append(SymbolicGradient(eq.name, tree, formula, used, operands, float(value)))
    return tuple(out)


def from_sympy(e, names: dict) -> Expr:
    """A sympy expression back to our tree: products keep a leading minus, quotients a bar."""
    import sympy as sp

    if e.is_Symbol:
        return Ref(names[e])
    if e.is_Integer:
        return Num(str(e)) if e >= 0 else Neg(Num(str(-e)))
    if e.is_Rational:
        p, q = int(e.p), int(e.q)
        node = Bin("/", Num(str(abs(p))), Num(str(q)))
        return node if p > 0 else Neg(node)
    if e.is_Float:
        return Num(repr(float(e))) if e >= 0 else Neg(Num(repr(float(-e))))
    if e.is_Add:
        terms = sorted(e.args, key=lambda t: (t.could_extract_minus_sign(), str(t)))
        out = from_sympy(terms[0], names)
        for t in terms[1:]:
            if t.could_extract_minus_sign():
                out = Bin("-", out, from_sympy(-t, names))
            else:
                out = Bin("+", out, from_sympy(t, names))
        return out
    if e.is_Mul:
        if e.could_extract_minus_sign():
            # −a1(a1 − 1) reads better as a1(1 − a1): absorb the sign into one such factor
            coefficient, rest = e.as_coeff_mul()
            for f in rest:
                if f.is_Add and any(t.is_Number and t < 0 for t in f.args):
                    flipped = [-f if g is f else g for g in rest]
                    if coefficient != -1:
                        flipped.insert(0, -coefficient)
                    return from_sympy(sp.Mul(*flipped, evaluate=False), names)
            return Neg(from_sympy(-e, names))
        numerator, denominator = sp.fraction(e)
        if denominator != 1:
            return Bin("/", from_sympy(numerator, names), from_sympy(denominator, names))
        factors = sorted(e.args, key=lambda f: (not f.is_Number, f.is_Add, str(f)))
        out = from_sympy(factors[0], names)
        for f in factors[1:]:
            out = Bin("*", out, from_sympy(f, names))
        return out
    if e.is_Pow:
        base, exponent = e.args
        if exponent.is_Rational and exponent < 0:
            return Bin("/", Num("1"), from_sympy(base ** -exponent, names))
        if exponent == sp.Rational(1, 2):
            return Call("sqrt", (from_sympy(base, names),))
        return Bin("**", from_sympy(base, names), from_sympy(exponent, names))
    if isinstance(e, sp.exp):
        return Call("exp", (from_sympy(e.args[0], names),))
    if isinstance(e, sp.log):
        return Call("log", (from_sympy(e.args[0], names),))
    if isinstance(e, sp.tanh):
        return Call("tanh", (from_sympy(e.args[0], names),))
    if isinstance(e, (sp.Max, sp.Min)):
        return Call("max" if isinstance(e, sp.Max) else "min", tuple(from_sympy(a, names) for a in e.args))
    raise BackpropError(f"--symbolic: cannot show {e} in the expression grammar")


def latex(gradient: SymbolicGradient, symbol_latex) -> str:
    """sympy's LaTeX printer with our notation's symbols."""
    import sympy as sp

    return sp.latex(gradient.sympy, symbol_names={sym: symbol_latex(name) for name, sym in gradient.symbols})
