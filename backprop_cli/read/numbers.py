"""The one number grammar for every numeric field (SPEC §8).

Scalars arrive as text (yamlsafe never resolves types). A number is an integer, a
decimal, scientific notation (`1e-3`, which PyYAML itself would leave a string) or a
fraction string `"p/q"`. YAML 1.1 forms (`010`, `0x1F`, `1_000`, `1:30`), booleans,
`nan` and `inf` are refused; `float()` never sees arbitrary text. The source text is
kept beside the float so exact mode can read `0.1` as 1/10.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

import yaml

from ..errors import SpecError
from ..frozen import frozen
from .yamlsafe import is_plain, where

MAX_EXPONENT = 400
MAX_DIGITS = 1000

_DECIMAL = r"[+-]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
DECIMAL_RE = re.compile(_DECIMAL)
FRACTION_RE = re.compile(r"([+-]?[0-9]+)/([+-]?[0-9]+)")
# Fast path for big arrays: plain decimals without exponents, one per line.
_PLAIN_LIST_RE = re.compile(r"(?:[+-]?(?:(?:0|[1-9][0-9]{0,400})(?:\.[0-9]{0,500})?|\.[0-9]{1,500})\n)*")

_BOOLEANS = {"true", "false", "yes", "no", "on", "off", "y", "n"}
_NULLS = {"", "~", "null"}


@frozen
class Number:
    value: float
    text: str  # as written (decimal or p/q), for exact mode

    def fraction(self) -> Fraction:
        return Fraction(self.text)


def describe(node: yaml.Node) -> str:
    """What a node is, in words, for 'found …' in messages."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return f"a list of {len(node.value)}"
    text = node.value
    if is_plain(node):
        low = text.lower()
        if low in _BOOLEANS:
            return f"the boolean {text}"
        if low in _NULLS:
            return "nothing (null)" if text else "nothing (an empty value)"
    shown = text if len(text) <= 40 else text[:37] + "..."
    return repr(shown)


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


def number(node: yaml.Node, path: str, file: str, what: str = "a number") -> Number:
    if not isinstance(node, yaml.ScalarNode):
        raise SpecError(file=file, path=path, expected=what, found=describe(node), **where(node))
    if is_plain(node) and node.value.lower() in _BOOLEANS | _NULLS:
        raise SpecError(file=file, path=path, expected=what, found=describe(node), **where(node))
    parsed = parse_text(node.value)
    if isinstance(parsed, str):
        raise SpecError(
            file=file, path=path, expected=what, found=f"{describe(node)} ({parsed})", **where(node)
        )
    return parsed


def number_vector(node: yaml.Node, path: str, file: str) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """A flat list of numbers → (float64 values, source texts)."""
    if not isinstance(node, yaml.SequenceNode):
        raise SpecError(file=file, path=path, expected="a list of numbers", found=describe(node), **where(node))
    children = node.value
    if children and all(isinstance(c, yaml.ScalarNode) and is_plain(c) for c in children):
        texts = [c.value for c in children]
        joined = "\n".join(texts) + "\n"
        if _PLAIN_LIST_RE.fullmatch(joined):
            values = tuple(map(float, texts))
            if all(map(math.isfinite, values)):  # else the slow path names the entry too large
                return values, tuple(texts)
    numbers = [number(c, f"{path}[{i}]", file) for i, c in enumerate(children)]
    return tuple(float(n.value) for n in numbers), tuple(n.text for n in numbers)
