"""Wrong answers with a reason: check's diagnoses run backwards.

`check` (diagnose.py) explains a wrong number by re-making it with one mistake. Here
the same mistakes make the wrong numbers a student would hand in — the sign flipped,
σ′ left out in a layer, the post-step weights used in the chain, the update added, lr
left out or applied twice, a factor of 2 in the loss — computed by the diagnoser's own
replay (Diagnoser.variant), never by a second solver. Each proposal is then given back
to the diagnoser as if a student had written it, and the cause it names becomes the
feedback; a proposal the diagnoser would explain otherwise (or not at all) is dropped,
so every LMS feedback is exactly what `check` would say about that number.
"""
from __future__ import annotations

import math
from typing import Optional

from ..check.diagnose import Diagnoser, Miss, parse
from ..frozen import frozen
from ..check.keys import Solution, Tolerance
from ..network.names import at


@frozen
class Distractor:
    value: float
    cause: str  # check's cause text


def diagnoser_for(variant) -> Diagnoser:
    return Diagnoser(Solution(variant.spec, variant.trace))


def proposals(d: Diagnoser, name: str, value: float) -> list[float]:
    """Candidate wrong values for `name`, in SPEC §6's order of causes."""
    out: list[Optional[float]] = [-value if value != 0 else None]
    p = parse(name)
    if not d.network or p is None:
        return [v for v in out if v is not None]
    spec = d.solution.spec
    if p.kind == "new":
        old = d.value(at(p.param, p.step))
        if old is not None:
            step = old - value
            out.append(old + step)
            lr = spec.optimizer.lr.value
            if lr not in (0.0, 1.0):
                out += [old - step / lr, old - step * lr]
    if p.kind in ("gradient", "delta", "dL_da", "new"):
        for l in range(len(spec.layers) - 1, -1, -1):
            if spec.layers[l].activation.name != "identity":
                out.append(d.variant(p.step, unit_layers=(l,)).get(name))
        if len(spec.layers) > 1:
            out.append(d.variant(p.step, post_weights=True).get(name))
    if p.kind in ("loss", "gradient", "delta", "dL_da"):
        out += [value * 2, value / 2]
    return [v for v in out if v is not None and math.isfinite(v)]


def distractors(d: Diagnoser, name: str, value: float, tolerance: float, decimals: int,
                limit: int = 6) -> list[Distractor]:
    """At most `limit` wrong answers, each outside the correct answer's tolerance and
    each other's, each with the cause `check` names for it."""
    kept: list[Distractor] = []
    for wrong in proposals(d, name, value):
        wrong = round(wrong, decimals + 2)
        if abs(wrong - value) <= 2 * tolerance or any(abs(wrong - k.value) <= 2 * tolerance for k in kept):
            continue
        miss = Miss(name, wrong, value, Tolerance(abs=tolerance), decimals)
        cause = d.cause(miss)
        if cause and not cause.startswith(("hand rounding", "matches ")):
            kept.append(Distractor(wrong, cause))
        if len(kept) >= limit:
            break
    return kept
