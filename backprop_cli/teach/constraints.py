"""Template constraints: `abs(dL/dW1) >= 0.001`, `z1 > 0`, `0.05 < a3 < 0.95`,
`z1 > 0 and z2 > 0`, `a3 < 0.1 or a3 > 0.9` (≤ ≥ ≠ read as <= >= !=).

Each side of a comparison is a §4 expression parsed by the graph parser
(graph_parse.parse_over: the same whitelist, never eval). Canonical names may hold
characters the expression language reads as operators (`dL/dW1`, `z1#2`, `W5_new@2`,
`df/dx`); before parsing, each such name is replaced by a placeholder identifier of the
same length, so every column in a parser message still points into what the teacher
wrote, and the placeholder is turned back into the name in the message. A name is
matched longest-first against the names the solve has: `a3/a1` is a3 divided by a1,
`dL/dW1` is one name.
"""
from __future__ import annotations

import math
import re
from typing import Mapping, Optional

from ..calc.arithmetic import FloatArithmetic
from ..errors import ComputeError, SpecError
from ..calc.expr import FUNCTIONS, Expr, evaluate
from ..frozen import frozen
from ..graph.parse import parse_over
from ..read.suggest import suggest
from .template import Setting

_COMPARE = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}
_COMPARE.update({"≤": _COMPARE["<="], "≥": _COMPARE[">="], "≠": _COMPARE["!="]})
_WORDS = ("and", "or")  # joining comparisons: `and` binds tighter
_SPLIT = re.compile(r"<=|>=|==|!=|<|>|≤|≥|≠")
# a canonical name: identifier parts joined by / . # @ (longest form first)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[/.#@][A-Za-z0-9_]+)*")
_FLOAT = FloatArithmetic()


@frozen
class Chain:
    """sides[0] op[0] sides[1] op[1] sides[2] … (`0.05 < a3 < 0.95`)."""

    sides: tuple[Expr, ...]
    ops: tuple[str, ...]

    def holds(self, env: Mapping[str, float]) -> bool:
        """True when every comparison holds; a side that cannot be evaluated (x/0, log
        of a negative) makes it fail."""
        try:
            results = [float(evaluate(side, env, _FLOAT)) for side in self.sides]
        except (ArithmeticError, ValueError, ComputeError, OverflowError):
            return False
        if not all(math.isfinite(r) for r in results):
            return False
        return all(_COMPARE[op](results[i], results[i + 1]) for i, op in enumerate(self.ops))


@frozen
class Constraint:
    """One constraint as written: chains joined by `and` (tighter) and `or`."""

    text: str
    any_of: tuple[tuple[Chain, ...], ...]  # or over and-groups
    names: Mapping[str, str]  # placeholder identifier → canonical name
    setting: Setting

    def holds(self, values: Mapping[str, float]) -> bool:
        env = {ident: values[name] for ident, name in self.names.items()}
        return any(all(chain.holds(env) for chain in group) for group in self.any_of)


def parse_constraint(setting: Setting, known: Mapping[str, object], file: str) -> Constraint:
    """Parse one constraint against the names a variant's solve has; SpecError with the
    template's line and the column inside the constraint for anything wrong."""
    text = setting.text
    where = dict(file=file, line=setting.line, path=setting.path)

    def fail(message: str, offset: int, **extra) -> SpecError:
        return SpecError(message, column=setting.column + offset, **where, **extra)

    masked, names = _mask_names(text, known, fail)
    groups = []
    for or_offset, alternative in _split_words(masked, "or", 0):
        chains = []
        for offset, part in _split_words(alternative, "and", or_offset):
            chains.append(_chain(part, offset, names, setting, file, fail))
        groups.append(tuple(chains))
    return Constraint(text, tuple(groups), names, setting)


def _split_words(text: str, word: str, base: int) -> list[tuple[int, str]]:
    """`text` cut at the word `and`/`or` outside parentheses, with each part's offset."""
    parts, depth, at = [], 0, 0
    for m in re.finditer(rf"[()]|\b{word}\b", text):
        if m.group() == "(":
            depth += 1
        elif m.group() == ")":
            depth -= 1
        elif depth == 0:
            parts.append((base + at, text[at:m.start()]))
            at = m.end()
    parts.append((base + at, text[at:]))
    return parts


def _chain(masked: str, base: int, names: dict, setting: Setting, file: str, fail) -> Chain:
    where = dict(file=file, line=setting.line, path=setting.path)
    parts, ops, at = [], [], 0
    for m in _SPLIT.finditer(masked):
        parts.append((at, masked[at:m.start()]))
        ops.append(m.group())
        at = m.end()
    parts.append((at, masked[at:]))
    if not ops:
        raise fail("a constraint compares", base, expected="a comparison such as `abs(dL/dW1) >= 0.001` or `z1 > 0`",
                   found=repr(masked.strip()))
    sides = []
    for offset, part in parts:
        if not part.strip():
            raise fail(f"nothing to compare on this side of {ops[min(len(sides), len(ops) - 1)]!r}", base + offset,
                       expected="an expression")
        try:
            sides.append(parse_over(part, names.keys(), file=file, line=setting.line, path=setting.path))
        except SpecError as error:
            message = error.message
            for ident, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
                message = message.replace(ident, name)
            raise SpecError(message, column=setting.column + base + offset + (error.column or 1) - 1,
                            hint=error.hint, **where) from None
    return Chain(tuple(sides), tuple(ops))


def _mask_names(text: str, known: Mapping[str, object], fail) -> tuple[str, dict[str, str]]:
    """Replace each canonical name by a same-length identifier; unknown names fail."""
    out, names, by_name, at, pos = [], {}, {}, 0, 0
    while (m := _NAME.search(text, pos)):
        pos = m.end()
        if m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "._"):
            continue  # inside a number such as 1e-3 or 0.5
        word = m.group()
        if word in _WORDS and word not in known:
            continue
        name = _longest_known(word, known)
        rest = text[m.start() + len(name or word):].lstrip()
        if name is None:
            plain = re.match(r"[A-Za-z_][A-Za-z0-9_]*", word).group()
            if plain in FUNCTIONS and text[m.start() + len(plain):].lstrip().startswith("("):
                pos = m.start() + len(plain)
                continue
            if plain in FUNCTIONS or word.lower() in ("e", "pi"):
                raise fail(f"{plain!r} is not a name here", m.start(), expected="a canonical name or a number")
            hint = suggest(word, list(known)) or "run `backprop key SPEC --names` to list the names"
            raise fail(f"unknown name {word!r}", m.start(), expected="a canonical name of the spec",
                       found=repr(word), hint=hint)
        pos = m.start() + len(name)  # `a3/a1`: a3, then the rest is read again
        if name in FUNCTIONS and rest.startswith("("):
            continue
        out.append(text[at:m.start()])
        ident = name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name not in FUNCTIONS else None
        if ident is None:
            ident = by_name.get(name) or _placeholder(len(by_name), len(name))
            by_name[name] = ident
        names[ident] = name
        out.append(ident)
        at = m.start() + len(name)
    out.append(text[at:])
    return "".join(out), names


def _longest_known(word: str, known: Mapping[str, object]) -> Optional[str]:
    """`dL/dW1` if known; else cut at the last separator and try again (`a3/a1` → `a3`)."""
    while word:
        if word in known:
            return word
        cut = max(word.rfind(c) for c in "/.#@")
        if cut <= 0:
            return None
        word = word[:cut]
    return None


def _placeholder(i: int, width: int) -> str:
    base = f"_{i}"
    return base + "_" * max(0, width - len(base))
