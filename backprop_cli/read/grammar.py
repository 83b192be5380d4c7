"""The number grammar on a scalar's text (SPEC §8), with no YAML in sight.

A number is an integer, a decimal, scientific notation (`1e-3`) or a fraction string
`"p/q"`; YAML 1.1 forms (`010`, `0x1F`, `1_000`, `1:30`), `nan` and `inf` are refused and
`float()` never sees arbitrary text. The source text is kept beside the float so exact
mode can read `0.1` as 1/10. Kept apart from numbers.py (which reads YAML nodes) so the
YAML reader can check an explicit `!!int`/`!!float` tag against it without a cycle.
"""
from __future__ import annotations

import re
from fractions import Fraction

from ..frozen import frozen

MAX_EXPONENT = 400
MAX_DIGITS = 1000

_DECIMAL = r"[+-]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
DECIMAL_RE = re.compile(_DECIMAL)
FRACTION_RE = re.compile(r"([+-]?[0-9]+)/([+-]?[0-9]+)")


@frozen
class Number:
    value: float
    text: str  # as written (decimal or p/q), for exact mode

    def fraction(self) -> Fraction:
        return Fraction(self.text)


def parse_text(text: str) -> Number | str:
    """A Number, or the reason the text is not one."""
    t = text.strip()
    if len(t) > MAX_DIGITS + 10:
        return f"more than {MAX_DIGITS} digits"
    if DECIMAL_RE.fullmatch(t):
        mantissa, _, exponent = t.lower().partition("e")
        if exponent and abs(int(exponent)) > MAX_EXPONENT:
            return f"an exponent beyond ±{MAX_EXPONENT}"
        if sum(c.isdigit() for c in mantissa) > MAX_DIGITS:
            return f"more than {MAX_DIGITS} digits"
        value = float(t)
        if value != value or value in (float("inf"), float("-inf")):
            return "a number too large for float64"
        return Number(value, t)
    m = FRACTION_RE.fullmatch(t)
    if m:
        p, q = int(m.group(1)), int(m.group(2))
        if q == 0:
            return "a fraction with denominator 0"
        if len(m.group(1)) + len(m.group(2)) > MAX_DIGITS:
            return f"more than {MAX_DIGITS} digits"
        try:
            value = p / q  # correctly rounded, like float(Fraction(p, q))
        except OverflowError:
            return "a number too large for float64"
        return Number(value, f"{p}/{q}" if q != 1 else str(p))
    low = t.lower().lstrip("+-.")
    if low in ("nan", "inf", "infinity"):
        return "not a finite number"
    if re.fullmatch(r"[+-]?0[0-9]+(\.[0-9]*)?", t):
        return "a leading zero (YAML 1.1 reads 010 as octal; write 10)"
    if re.fullmatch(r"[+-]?0[xXoObB][0-9a-fA-F_]+", t):
        return "a hexadecimal/octal/binary literal"
    if "_" in t and re.fullmatch(r"[+-]?[0-9_.eE+-]+", t):
        return "underscores in a number"
    if re.fullmatch(r"[+-]?[0-9]+(:[0-5]?[0-9])+(\.[0-9]*)?", t):
        return "a sexagesimal (1:30) form"
    return "not a number"
