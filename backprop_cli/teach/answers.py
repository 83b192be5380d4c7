"""What a variant asks, what each answer is worth, and its answer key.

The asked names are the template's `ask:` (checked against the solve's canonical
names) or a default set: for a network every z and a of step 1, the loss, every
gradient dL/dW, dL/db and every updated parameter; for a graph every computed node and
d(output)/d(leaf) of each `wrt` leaf. Points come from `points:` (a `default:` entry
for the rest, else 1). An answer is accepted within the template's `tolerance:`, else
within 1.5 units of its last decimal at `decimals:` — the tolerance `check` gives the
key's own literals (SPEC §6), so the key written here passes `backprop check`.
"""
from __future__ import annotations

import re
from typing import Mapping

from ..errors import SpecError
from ..frozen import frozen
from ..read.suggest import suggest
from .template import Template

_NETWORK_DEFAULT = (
    re.compile(r"[za][0-9]+(?:#[0-9]+)?"), re.compile(r"loss"), re.compile(r"dL/d[Wb][0-9]+"),
    re.compile(r"[Wb][0-9]+_new"),
)


@frozen
class Question:
    """One blank of a variant: canonical name, its value, points and tolerance."""

    name: str
    value: float
    points: float
    tolerance: float  # absolute

    def accepts(self, answer: float) -> bool:
        return abs(answer - self.value) <= self.tolerance


def asked_names(template: Template, spec, named: Mapping[str, float]) -> list[str]:
    if template.ask:
        out = []
        for setting in template.ask:
            name = setting.text.strip()
            if name not in named:
                raise SpecError(f"unknown name {name!r}", file=template.file, line=setting.line,
                                column=setting.column, path=setting.path, expected="a canonical name of the spec",
                                hint=suggest(name, list(named)) or "run `backprop key SPEC --names` to list them")
            if name not in out:
                out.append(name)
        return out
    if template.kind == "graph":
        values = [n.name for n in spec.nodes if not n.is_leaf]
        grads = [f"d{spec.output}/d{leaf}" for leaf in spec.wrt]
        return [n for n in values + grads if n in named]
    return [n for pattern in _NETWORK_DEFAULT for n in named if pattern.fullmatch(n)]


def points_for(template: Template, names: list[str]) -> dict[str, float]:
    given = {name: value for name, value, _ in template.points}
    for name, _, setting in template.points:
        if name != "default" and name not in names:
            raise SpecError(f"points for {name!r}, which is not asked", file=template.file, line=setting.line,
                            column=setting.column, path=setting.path, expected="a name listed in `ask:` or `default`",
                            hint=suggest(name, names))
    default = given.get("default", 1.0)
    return {name: given.get(name, default) for name in names}


def answer_tolerance(template: Template, value: float) -> float:
    if template.tolerance is not None:
        abs_, rel = template.tolerance
        return max(abs_, rel * abs(value))
    return 1.5 * 10 ** -template.decimals


def questions(template: Template, variant) -> list[Question]:
    named = variant.named
    names = asked_names(template, variant.spec, named)
    points = points_for(template, names)
    return [Question(n, float(named[n]), points[n], answer_tolerance(template, float(named[n]))) for n in names]


def answer_text(value: float, decimals: int) -> str:
    """The answer as a key writes it: `decimals` places; tiny values in scientific
    notation with 4 significant digits so the literal's tolerance stays meaningful."""
    if value != 0 and abs(value) < 10 ** -(decimals - 1) / 2 and decimals >= 1:
        return f"{value:.3e}"
    text = f"{value:.{decimals}f}"
    return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text


def yaml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_/.@]*", name) else '"' + name + '"'


def key_text(variant, qs: list[Question], decimals: int, title: str) -> str:
    """A §6 answer key for one variant; `backprop check SPEC --key KEY` passes on it."""
    lines = [f"# Answer key of variant {variant.id} ({title}), values rounded to {decimals} decimals",
             "named:"]
    lines += [f"  {yaml_key(q.name)}: {answer_text(q.value, decimals)}" for q in qs]
    return "\n".join(lines) + "\n"
