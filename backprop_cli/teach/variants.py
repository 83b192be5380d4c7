"""Seeded variants of a template: draw, solve, keep the interesting ones.

One master `random.Random` seeded with the user's seed (a text seed, hashed with
SHA-512 by Python: the same on every machine and every run) hands each candidate its
own 32-bit seed; the candidate's numbers are drawn from a `Random` of that seed, in the
template's order. A candidate is solved by the one solver (solve.py / graph.py) and
kept when it passes the built-in rejections, every constraint, and differs from the
variants already kept. The number of candidates is bounded; when the bound is reached,
the error names the test that failed most (docs/templates.md).
"""
from __future__ import annotations

import math
import random
import re
from collections import Counter
from typing import Any, Callable, Optional

from ..errors import BackpropError, ComputeError, SpecError
from ..frozen import frozen
from ..load import loads_spec
from .constraints import Constraint, parse_constraint
from .template import SATURATED, Template

TRIES_PER_VARIANT = 50
MIN_TRIES = 500
MAX_COUNT = 10_000


@frozen
class Variant:
    id: str
    seed: int
    drawn: tuple[tuple[str, str], ...]  # (field path, literal) per generator
    spec_text: str  # the plain spec as written to disk
    spec: Any
    trace: Any

    @property
    def named(self) -> dict:
        return self.trace.named


class GenerationError(BackpropError):
    """The template's tests rejected too many candidates (exit 2, naming the culprit)."""


def variant_ids(count: int) -> list[str]:
    width = max(2, len(str(count)))
    return [f"v{i:0{width}d}" for i in range(1, count + 1)]


def generate(template: Template, count: int, seed: int, *, max_tries: Optional[int] = None,
             progress: Optional[Callable[[int, int], None]] = None) -> list[Variant]:
    if not 1 <= count <= MAX_COUNT:
        raise BackpropError(f"--count takes 1…{MAX_COUNT}, got {count}")
    limit = max_tries or max(MIN_TRIES, TRIES_PER_VARIANT * count)
    master = random.Random(f"backprop-teach:{seed}")
    ids = variant_ids(count)
    kept: list[Variant] = []
    seen: set = set()
    failures: Counter = Counter()
    constraints: Optional[list[Constraint]] = None
    tries = 0
    while len(kept) < count:
        if tries >= limit:
            raise _exhausted(template, count, len(kept), tries, failures)
        tries += 1
        candidate_seed = master.getrandbits(32)
        drawn = draw(template, candidate_seed)
        identity = tuple(drawn.values())
        if identity in seen:
            failures["duplicate of an earlier variant"] += 1
            continue
        spec, trace = solve_text(template, template.instantiate(drawn))
        if trace is None:
            failures["a value is not finite (overflow, log of 0, …)"] += 1
            continue
        if constraints is None:
            constraints = [parse_constraint(s, trace.named, template.file) for s in template.constraints]
        reason = rejection(template, spec, trace) or next(
            (f"constraint `{c.text}` (line {c.setting.line})" for c in constraints if not c.holds(trace.named)), None)
        if reason:
            failures[reason] += 1
            continue
        seen.add(identity)
        vid = ids[len(kept)]
        header = f"variant {vid} of {_base(template.file)}, seed {candidate_seed}"
        kept.append(Variant(vid, candidate_seed, tuple(drawn.items()), template.plain(drawn, header), spec, trace))
        if progress:
            progress(len(kept), count)
    return kept


def draw(template: Template, seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {g.path: g.draw(rng) for g in template.generators}


def solve_text(template: Template, text: str):
    """Load a variant's text with the one spec reader and solve it (full derivation).
    Bad input is the template's fault: SpecError goes up with the template's marks.
    A non-finite result rejects the candidate: (spec, None)."""
    spec = _load(text, template.file)
    try:
        return spec, solve_spec(spec)
    except ComputeError:
        return spec, None


def solve_spec(spec):
    """The full derivation of any spec kind: graph, typed layers, dense network."""
    if type(spec).__name__ == "GraphSpec":
        from ..graph.solve import solve_graph

        return solve_graph(spec)
    if getattr(spec, "kind", "network") == "layered":  # conv, pooling, norm, dropout, rnn, lstm
        from ..network.typed_solve import solve_layered

        return solve_layered(spec)
    from ..network.solve import solve

    return solve(spec)


def _load(text: str, file: str):
    try:
        return loads_spec(text, file)
    except SpecError as error:
        raise error.located(hint="the template's numbers (or a drawn value) make an invalid spec") from None


def rejection(template: Template, spec, trace) -> Optional[str]:
    """The first built-in test this variant fails, as text; None when it passes."""
    named = trace.named
    if getattr(spec, "kind", "network") == "layered":
        found = _layered_rejection(template, spec, trace)
        if found:
            return found
    elif template.kind == "network":
        for record in trace.steps[:1]:
            for l, layer in enumerate(record.layers):
                z = _rows(layer.z)
                a = _rows(layer.a)
                if "dead_relu" in template.reject and layer.activation == "relu":
                    if any(v <= 0 for row in z for v in row):
                        return "built-in: no dead ReLU (some z ≤ 0 in a ReLU layer)"
                if "saturated_sigmoid" in template.reject and layer.activation == "sigmoid":
                    if any(v * (1 - v) < SATURATED for row in a for v in row):
                        return f"built-in: no saturated sigmoid (σ′ < {SATURATED} in layer {l + 1})"
    else:
        found = _graph_rejection(template, spec, named)
        if found:
            return found
    if "zero_gradient" in template.reject:
        limit = 0.5 * 10 ** -template.decimals
        for name in gradient_names(template, spec, named):
            if abs(named[name]) < limit:
                return f"built-in: no gradient that prints as 0 at {template.decimals} decimals ({name})"
    return None


def _layered_rejection(template: Template, spec, trace) -> Optional[str]:
    """The dead-ReLU and saturated-sigmoid tests on typed layers: a dense or conv layer's
    own activation, or an activation layer (its input is the previous layer's output)."""
    import numpy as np

    record = trace.steps[0]
    for st in record.layers:
        layer = spec.layers[st.layer - 1]
        if layer.type in ("relu", "sigmoid", "tanh", "leaky_relu"):
            act, z = layer.type, (spec.input if st.layer == 1 else record.layers[st.layer - 2].output)
        elif "z" in st.extras:
            act, z = layer.activation.name, st.extras["z"]
        else:
            continue
        if "dead_relu" in template.reject and act == "relu" and (np.asarray(z) <= 0).any():
            return f"built-in: no dead ReLU (some input ≤ 0 to the ReLU of layer {st.layer})"
        a = np.asarray(st.output)
        if "saturated_sigmoid" in template.reject and act == "sigmoid" and (a * (1 - a) < SATURATED).any():
            return f"built-in: no saturated sigmoid (σ′ < {SATURATED} in layer {st.layer})"
    return None


def _graph_rejection(template: Template, spec, named) -> Optional[str]:
    """relu(u) with u ≤ 0 and sigmoid(u) with σ′(u) < 0.01 anywhere in the graph."""
    from ..calc.arithmetic import FloatArithmetic
    from ..calc.expr import Bin, Call, Neg, evaluate

    arith = FloatArithmetic()
    for node in spec.nodes:
        stack = [node.expr] if node.expr is not None else []
        while stack:
            e = stack.pop()
            if isinstance(e, Call):
                stack.extend(e.args)
                if e.fn not in ("relu", "sigmoid"):
                    continue
                try:
                    u = float(evaluate(e.args[0], named, arith))
                except (ArithmeticError, ValueError, ComputeError, KeyError):
                    continue
                if e.fn == "relu" and "dead_relu" in template.reject and u <= 0:
                    return f"built-in: no dead ReLU (relu of a value ≤ 0 in node {node.name})"
                if e.fn == "sigmoid" and "saturated_sigmoid" in template.reject:
                    a = 1 / (1 + math.exp(-u)) if u > -700 else 0.0
                    if a * (1 - a) < SATURATED:
                        return f"built-in: no saturated sigmoid (σ′ < {SATURATED} in node {node.name})"
            elif isinstance(e, Bin):
                stack.extend((e.left, e.right))
            elif isinstance(e, Neg):
                stack.append(e.operand)
    return None


def gradient_names(template: Template, spec, named) -> list[str]:
    if template.kind == "graph":
        return [f"d{spec.output}/d{leaf}" for leaf in spec.wrt if f"d{spec.output}/d{leaf}" in named]
    return [n for n in named if re.fullmatch(r"dL/d[Wb][0-9]+", n)]


def _rows(array) -> list[list[float]]:
    return [[float(v) for v in row] for row in (array.tolist() if hasattr(array, "tolist") else array)]


def _base(file: str) -> str:
    return re.split(r"[\\/]", file)[-1]


def _exhausted(template: Template, count: int, kept: int, tries: int, failures: Counter) -> GenerationError:
    if not failures:  # pragma: no cover - a try is either kept or counted
        return GenerationError(f"{template.file}: only {kept} of {count} variants after {tries} tries")
    worst, times = failures.most_common(1)[0]
    others = "; ".join(f"{reason}: {n}" for reason, n in failures.most_common()[1:4])
    message = (f"{template.file}: found only {kept} of {count} variants in {tries} tries; "
               f"failing most: {worst} ({times} of {tries} tries)")
    if others:
        message += f"; then {others}"
    hint = ("widen the generator ranges, relax that constraint, or turn the built-in test off "
            "(`reject: {…: false}`)" if worst.startswith(("built-in", "constraint"))
            else "the generators have too few distinct values for this --count" if worst.startswith("duplicate")
            else "narrow the ranges that overflow")
    return GenerationError(f"{message}\n  hint: {hint}")


def load_variants(folder, max_size: int) -> dict[str, Variant]:
    """The variants `generate` wrote to `folder`, by id, each re-read and re-solved
    from its own spec file (variants.csv names them): grading never trusts a stored
    answer, it recomputes."""
    import csv
    from pathlib import Path

    from ..load import load_spec

    folder = Path(folder)
    index = folder / "variants.csv"
    try:
        text = index.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read the variants list ({exc.strerror or exc})", file=str(index),
                        hint="pass the folder `backprop generate --out` wrote") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or rows[0][:3] != ["id", "seed", "spec"]:
        raise SpecError("not a variants.csv of backprop generate", file=str(index), line=1,
                        expected="a header starting id,seed,spec", found=",".join(rows[0][:3]) if rows else "nothing")
    out: dict[str, Variant] = {}
    for r, row in enumerate(rows[1:], 2):
        if len(row) < 3 or not row[0]:
            continue
        vid, seed, spec_name = row[0], row[1], row[2]
        if "/" in spec_name or "\\" in spec_name or spec_name.startswith("."):
            raise SpecError("a spec outside the folder", file=str(index), line=r, found=repr(spec_name))
        path = folder / spec_name
        spec = load_spec(path, max_size=max_size)
        trace = solve_spec(spec)
        out[vid] = Variant(vid, int(seed) if seed.isdigit() else 0, (), "", spec, trace)
    return out
