"""An equation's right-hand side as a person writes it: with symbols, or with numbers.

One printer, two dialects (Unicode for the terminal, LaTeX for documents), driven by
the expression tree so the shown arithmetic is exactly the computed arithmetic.
Display-only simplifications: `a + (−b)` shows as `a − b`, a negative factor is
parenthesised, `x ** 2` is a superscript, `1 / (1 + exp(−z))` keeps its fraction.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Callable, Mapping, Optional

from ..expr import PREC_ADD, PREC_ATOM, PREC_MUL, PREC_NEG, PREC_POW, Bin, Call, Expr, Neg, Num, Ref, precedence

SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def format_number(value, digits: int, style: str = "unicode", policy: str = "float") -> str:
    """A value with `digits` decimals; hand-rounded values print as they were rounded."""
    if isinstance(value, Decimal):
        text = str(value)
    else:
        x = float(value)
        if x != 0 and abs(x) < 0.5 * 10 ** -digits:
            text = f"{x:.{max(digits - 1, 1)}e}"
            if style == "latex":
                mant, exp = text.split("e")
                text = f"{mant}\\times10^{{{int(exp)}}}"
        else:
            text = f"{x:.{digits}f}"
            if text.startswith("-") and float(text) == 0:
                text = text[1:]
    if text.startswith("-"):
        text = ("−" if style == "unicode" else "-") + text[1:]
    return text


def _is_negative(value) -> bool:
    try:
        return float(value) < 0
    except (TypeError, ValueError):
        return False


class FormulaPrinter:
    """Prints expressions; `values` given → numbers instead of names."""

    def __init__(
        self,
        symbol: Callable[[str], str],
        style: str = "unicode",
        digits: int = 4,
        values: Optional[Mapping[str, object]] = None,
        number: Optional[Callable[[object, str], str]] = None,
    ) -> None:
        self.symbol = symbol
        self.style = style
        self.digits = digits
        self.values = values
        self.number = number or (lambda v, name="": format_number(v, digits, style))

    # Each method returns (text, precedence of what it printed).
    def show(self, e: Expr) -> str:
        return self._p(e)[0]

    def _leaf_negative(self, e: Expr) -> bool:
        return self.values is not None and isinstance(e, Ref) and _is_negative(self.values.get(e.name, 0))

    def _p(self, e: Expr) -> tuple[str, int]:
        if isinstance(e, Num):
            text = e.text
            if self.style == "latex" and "e" in text:
                mant, exp = text.split("e")
                text = f"{mant}\\times10^{{{int(exp)}}}"
            return text, PREC_ATOM
        if isinstance(e, Ref):
            if self.values is None:
                return self.symbol(e.name), PREC_ATOM
            text = self.number(self.values[e.name], e.name)
            return text, (PREC_NEG if text.startswith(("−", "-")) else PREC_ATOM)
        if isinstance(e, Neg):
            inner, p = self._p(e.operand)
            minus = "−" if self.style == "unicode" else "-"
            if inner.startswith(("−", "-")) or p < PREC_POW:
                inner = self._paren(inner)
            return minus + inner, PREC_NEG
        if isinstance(e, Bin):
            return self._bin(e)
        if isinstance(e, Call):
            return self._call(e)
        raise TypeError(f"not an expression node: {e!r}")

    def _paren(self, text: str) -> str:
        return f"\\left({text}\\right)" if self.style == "latex" else f"({text})"

    def _bin(self, e: Bin) -> tuple[str, int]:
        op = e.op
        if op in ("+", "-"):
            left, pl = self._p(e.left)
            if self._leaf_negative(e.right):  # a + (−b) → a − b, a − (−b) → a + b
                right = self.number(-self.values[e.right.name], e.right.name).lstrip("−-")
                op = "-" if op == "+" else "+"
            else:
                right, pr = self._p(e.right)
                if pr <= PREC_ADD or (pr == PREC_NEG and right.startswith(("−", "-"))):
                    right = self._paren(right)
            sign = {"+": "+", "-": "−" if self.style == "unicode" else "-"}[op]
            return f"{left} {sign} {right}", PREC_ADD
        if op == "*":
            left, pl = self._p(e.left)
            right, pr = self._p(e.right)
            if pl < PREC_MUL:
                left = self._paren(left)
            if pr <= PREC_MUL or pr == PREC_NEG:
                right = self._paren(right)
            times = " × " if self.style == "unicode" else r" \times "
            if self.values is None and self.style == "latex":
                times = r" \cdot "
            return f"{left}{times}{right}", PREC_MUL
        if op == "/":
            if self.style == "latex":
                return r"\frac{" + self._p(e.left)[0] + "}{" + self._p(e.right)[0] + "}", PREC_ATOM
            left, pl = self._p(e.left)
            right, pr = self._p(e.right)
            if pl < PREC_MUL:
                left = self._paren(left)
            if pr <= PREC_MUL:
                right = self._paren(right)
            return f"{left} / {right}", PREC_MUL
        if op == "**":
            base, pb = self._p(e.left)
            if pb < PREC_ATOM:
                base = self._paren(base)
            if isinstance(e.right, Num) and self.style == "unicode" and e.right.text.lstrip("-").isdigit():
                return base + e.right.text.translate(SUP), PREC_POW
            exponent = self._p(e.right)[0]
            if self.style == "latex":
                return base + "^{" + exponent + "}", PREC_POW
            return f"{base}^{exponent}" if len(exponent) == 1 else f"{base}^({exponent})", PREC_POW
        raise TypeError(op)

    def _call(self, e: Call) -> tuple[str, int]:
        args = [self._p(a)[0] for a in e.args]
        if e.fn == "exp":
            if self.style == "latex":
                return "e^{" + args[0] + "}", PREC_ATOM
            return f"e^({args[0]})", PREC_ATOM
        if e.fn == "sqrt" and self.style == "latex":
            return r"\sqrt{" + args[0] + "}", PREC_ATOM
        if self.style == "latex":
            name = {"log": r"\log", "sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh", "max": r"\max", "min": r"\min"}.get(
                e.fn, r"\operatorname{" + e.fn + "}"
            )
            if e.fn == "abs":
                return r"\left|" + args[0] + r"\right|", PREC_ATOM
            return name + self._paren(", ".join(args)), PREC_ATOM
        if e.fn == "sqrt":
            return f"√({args[0]})", PREC_ATOM
        if e.fn == "abs":
            return f"|{args[0]}|", PREC_ATOM
        return f"{e.fn}({', '.join(args)})", PREC_ATOM
