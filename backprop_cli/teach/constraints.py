"""Template constraints: `abs(dL/dW1) >= 0.001`, `z1 > 0`, `0.05 < a3 < 0.95`.

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

from ..arithmetic import FloatArithmetic
from ..errors import BackpropError, ComputeError, SpecError
from ..expr import FUNCTIONS, Expr, evaluate
from ..frozen import frozen
from ..graph_parse import parse_over
from ..spec import suggest
from .template import Setting

COMPARISONS = ("<=", ">=", "==", "!=", "<", ">")
_COMPARE = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}
_SPLIT = re.compile(r"<=|>=|==|!=|<|>")
# a canonical name: identifier parts joined by / . # @ (longest form first)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[/.#@][A-Za-z0-9_]+)*")
_FLOAT = FloatArithmetic()


@frozen
class Constraint:
    """One parsed constraint: sides[0] op[0] sides[1] op[1] sides[2] …"""

    text: str
    sides: tuple[Expr, ...]
    ops: tuple[str, ...]
    names: Mapping[str, str]  # placeholder identifier → canonical name
    setting: Setting

    def holds(self, values: Mapping[str, float]) -> bool:
        """True when every comparison of the chain holds; a side that cannot be
        evaluated (x/0, log of a negative) makes the constraint fail."""
        env = {ident: values[name] for ident, name in self.names.items()}
        try:
            results = [float(evaluate(side, env, _FLOAT)) for side in self.sides]
        except (ArithmeticError, ValueError, ComputeError, OverflowError):
            return False
        if not all(math.isfinite(r) for r in results):
            return False
        return all(_COMPARE[op](results[i], results[i + 1]) for i, op in enumerate(self.ops))


def parse_constraint(setting: Setting, known: Mapping[str, object], file: str) -> Constraint:
    """Parse one constraint against the names a variant's solve has; SpecError with the
    template's line and the column inside the constraint for anything wrong."""
    text = setting.text
    where = dict(file=file, line=setting.line, path=setting.path)

    def fail(message: str, offset: int, **extra) -> SpecError:
        return SpecError(message, column=setting.column + offset, **where, **extra)

    masked, names = _mask_names(text, known, fail)
    parts, ops, at = [], [], 0
    for m in _SPLIT.finditer(masked):
        parts.append((at, masked[at:m.start()]))
        ops.append(m.group())
        at = m.end()
    parts.append((at, masked[at:]))
    if not ops:
        raise fail("a constraint compares", 0, expected="a comparison such as `abs(dL/dW1) >= 0.001` or `z1 > 0`",
                   found=repr(text))
    sides = []
    for offset, part in parts:
        if not part.strip():
            raise fail(f"nothing to compare on this side of {ops[min(len(sides), len(ops) - 1)]!r}", offset,
                       expected="an expression")
        try:
            sides.append(parse_over(part, names.keys(), file=file, line=setting.line, path=setting.path))
        except SpecError as error:
            message = error.message
            for ident, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
                message = message.replace(ident, name)
            raise SpecError(message, column=setting.column + offset + (error.column or 1) - 1, hint=error.hint,
                            **where) from None
    return Constraint(text, tuple(sides), tuple(ops), names, setting)


def _mask_names(text: str, known: Mapping[str, object], fail) -> tuple[str, dict[str, str]]:
    """Replace each canonical name by a same-length identifier; unknown names fail."""
    out, names, by_name, at = [], {}, {}, 0
    for m in _NAME.finditer(text):
        if m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "._"):
            continue  # inside a number such as 1e-3 or 0.5
        word = m.group()
        name = _longest_known(word, known)
        rest = text[m.start() + len(name or word):].lstrip()
        if name is None:
            plain = re.match(r"[A-Za-z_][A-Za-z0-9_]*", word).group()
            if plain in FUNCTIONS and rest.startswith("("):
                continue
            if plain in FUNCTIONS or word.lower() in ("e", "pi"):
                raise fail(f"{plain!r} is not a name here", m.start(), expected="a canonical name or a number")
            hint = suggest(word, list(known)) or "run `backprop key SPEC --names` to list the names"
            raise fail(f"unknown name {word!r}", m.start(), expected="a canonical name of the spec",
                       found=repr(word), hint=hint)
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


def check_names(constraints, values: Mapping[str, float]) -> None:
    """Every name a constraint uses has a value (a solve's `named`)."""
    for c in constraints:
        for name in c.names.values():
            if name not in values:  # pragma: no cover - parse_constraint resolved it against these names
                raise BackpropError(f"constraint {c.text!r}: no value for {name}")
