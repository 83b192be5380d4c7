"""Numeric fields of a YAML node tree, read with the one number grammar (SPEC §8).

Scalars arrive as text (yamlsafe never resolves types); grammar.py decides what text is
a number. Here: booleans and nulls are named as such (never numbers), vectors and
matrices are read with their field paths, and large plain arrays take a fast path.
"""
from __future__ import annotations

import math
import re

import yaml

from ..errors import SpecError
from .grammar import DECIMAL_RE, FRACTION_RE, MAX_DIGITS, MAX_EXPONENT, Number, parse_text
from .yamlsafe import is_plain, where

# Fast path for big arrays: plain decimals without exponents, one per line.
_PLAIN_LIST_RE = re.compile(r"(?:[+-]?(?:(?:0|[1-9][0-9]{0,400})(?:\.[0-9]{0,500})?|\.[0-9]{1,500})\n)*")
_BOOLEANS = {"true", "false", "yes", "no", "on", "off", "y", "n"}
_NULLS = {"", "~", "null"}

__all__ = [
    "DECIMAL_RE", "FRACTION_RE", "MAX_DIGITS", "MAX_EXPONENT", "Number", "describe", "number",
    "number_vector", "parse_text",
]


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
