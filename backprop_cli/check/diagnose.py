"""Why a published number is wrong: SPEC §6's likely causes, tested in its order.

For one mismatching value each cause proposes what the number *would* be had the author
made that mistake; the first proposal that reproduces the expected value within its
tolerance names the cause. Proposals come from three places:

* arithmetic on the solved values (−computed, 2·old − new, computed × 2, …);
* a re-run of one step's backward pass with the mistake in it (σ′ taken as 1 in a
  layer, the post-step weights in the chain, the loss scaled), starting from the
  correct state before that step, then the optimizer update on those gradients — so
  a W_new copied from a mistaken gradient is explained too;
* the same spec solved by hand-rounding (`--round D`) or by truncating every
  intermediate to D decimals; the same name at the previous step; the other names of
  the same kind (indices swapped) and the other quantities of the same neuron or
  parameter (δ written where σ′ was asked).

SPEC §6's order is kept and the added causes come after hand rounding, most specific
first (docs/check.md, "Causes"): truncation is hand rounding's twin; a value copied
from the previous step is the same quantity; swapped indices are the same kind; another
quantity of the same neuron is the loosest relation, so it is tried last.

Everything is computed lazily, once per spec, and only when a value mismatched: a
passing key costs nothing here.
"""
from __future__ import annotations

import re
from typing import Callable, Iterator, Optional

import numpy as np

from ..network import engine
from ..calc.arithmetic import TruncatedArithmetic
from ..errors import BackpropError
from ..frozen import frozen
from ..grid import as_written
from .keys import Solution, Tolerance, field_name
from . import layer_causes
from ..network.names import at

ROUND_MAX = 12
TRUNCATE_STEP_LIMIT = 1000  # the truncated derivation is the scalar one: --round's bounds
TRUNCATE_PARAMETER_LIMIT = 300
TRUNCATE_SAMPLE_LIMIT = 64

_SPLIT_RE = re.compile(r"(?P<base>[^#@]+)(?:#(?P<sample>[0-9]{1,9}))?(?:@(?P<step>[0-9]{1,9}))?")
_PATTERNS = {
    "new": re.compile(r"(?P<p>[Wb][0-9]+)_new"),
    "gradient": re.compile(r"dL/d[Wb][0-9]+"),
    "delta": re.compile(r"delta[0-9]+"),
    "dL_da": re.compile(r"dL/da[0-9]+"),
    "loss": re.compile(r"loss|loss_after"),
}


@frozen
class Miss:
    """One mismatching value: what the key expects and what the solve computed."""

    name: str  # canonical name
    expected: float
    computed: float
    tolerance: Tolerance
    decimals: Optional[int]  # of the literal as written (for hand rounding); None for integers

    def explained_by(self, value: Optional[float]) -> bool:
        return value is not None and np.isfinite(value) and self.tolerance.allows(self.expected, value)


@frozen
class Parsed:
    base: str  # the name without #n and @s
    sample: Optional[int]
    step: int
    kind: Optional[str]  # new | gradient | delta | dL_da | loss | None

    @property
    def param(self) -> Optional[str]:
        m = _PATTERNS["new"].fullmatch(self.base)
        return m.group("p") if m else None


# The quantities of one neuron (zM, aM, dL/daM, daM/dzM, deltaM) and of one parameter
# (Wk, Wk_new, dL/dWk, its optimizer state): a value written under the wrong one of these
# is "a different quantity of the same sample".
_SUBJECT_RES = (
    ("neuron", re.compile(r"(?:z|a|delta|dL/da)(?P<id>[0-9]+)|da(?P<id2>[0-9]+)/dz(?P=id2)")),
    ("parameter", re.compile(r"(?:buf_|m_|v_)?(?P<id>[Wb][0-9]+)(?:_new)?|dL/d(?P<id2>[Wb][0-9]+)")),
)


def subject(name: str) -> Optional[tuple]:
    """(what, which, sample, step) that a name is a quantity of — z3#2@2 → (neuron, 3, 2,
    2), W5_new → (parameter, W5, None, 1) — or None for other names (losses, local
    factors, graph nodes)."""
    m = _SPLIT_RE.fullmatch(name)
    if not m:
        return None
    base, step = m.group("base"), int(m.group("step") or 1)
    sample = int(m.group("sample")) if m.group("sample") else None
    for what, rx in _SUBJECT_RES:
        hit = rx.fullmatch(base)
        if hit:
            return (what, hit.group("id") or hit.group("id2"), sample, step)
    return None


def parse(name: str) -> Optional[Parsed]:
    m = _SPLIT_RE.fullmatch(name)
    if not m:
        return None
    base = m.group("base")
    kind = next((k for k, rx in _PATTERNS.items() if rx.fullmatch(base)), None)
    step = int(m.group("step") or 1)
    if base == "loss_after":
        step = 0  # the loss after a step belongs to no step's backward pass
    return Parsed(base, int(m.group("sample")) if m.group("sample") else None, step, kind)


def swap_kind(name: str, graph: bool) -> tuple[str, Optional[str]]:
    """Names of the same kind and step (SPEC §6 'indices swapped'): W2_new ~ W3_new,
    z1#2 ~ z2#2; for graphs, node values ~ values and gradients ~ gradients."""
    if graph:
        if name.endswith(".local"):
            return "local", None
        if re.fullmatch(r"d2.+/d.+2", name):
            return "second", None
        if re.fullmatch(r"d.+/d.+", name):
            return "gradient", None
        return "value", None
    base, _, step = name.partition("@")
    return re.sub(r"[0-9]+", "#", base), step or None


def layered_kind(name: str) -> tuple[str, Optional[str]]:
    """Typed layers: other elements of the same array and step (L1.weights_new[1,2] ~
    L1.weights_new[2,1]), never another quantity that happens to share the value."""
    base, _, step = name.partition("@")
    return re.sub(r"\[[0-9,]+\]$", "[#]", base), step or None


# ----------------------------------------------------------------------------------------
# the diagnoser


class _Values:
    """The values of a re-solve by canonical name, without its trace (equations dropped).
    Re-solves are small networks (--round: at most 300 parameters), whose `named` holds
    every name; a bare name is step 1 (SPEC §3)."""

    def __init__(self, solution: Solution) -> None:
        self._named = dict(solution.named)

    def value(self, name: str) -> Optional[float]:
        if name in self._named:
            return self._named[name]
        return self._named.get(name[:-2]) if name.endswith("@1") else None


class Diagnoser:
    """Names the likely cause of each mismatch of one spec (SPEC §6's table, in order)."""

    def __init__(self, solution: Solution) -> None:
        self.solution = solution
        self.network = solution.kind == "network"
        self._variants: dict[tuple, dict[str, float]] = {}
        self._rounded: dict[int, Optional[Solution]] = {}
        self._by_kind: Optional[dict[tuple, list[str]]] = None
        self._by_subject: Optional[dict[tuple, list[str]]] = None
        self._truncated: dict[int, dict[str, float]] = {}
        self._replay: Optional[_Replay] = None

    def cause(self, miss: Miss) -> Optional[str]:
        for rule in RULES:
            found = rule(self, miss)
            if found:
                return found
        return None

    # -- shared lookups ----------------------------------------------------------------------

    def value(self, name: str) -> Optional[float]:
        return self.solution.value(name)

    def variant(self, step: int, **mistake) -> dict[str, float]:
        """The names of step `step` recomputed with one mistake (cached)."""
        key = (step,) + tuple(sorted(mistake.items()))
        if key not in self._variants:
            if self._replay is None:
                self._replay = _Replay(self.solution.spec)
            try:
                with np.errstate(all="ignore"):  # a mistaken chain may overflow: it then explains nothing
                    self._variants[key] = _variant_names(self.solution, self._replay.before(step), step, **mistake)
            except (FloatingPointError, ValueError, BackpropError):
                self._variants[key] = {}
        return self._variants[key]

    def rounded(self, digits: int) -> Optional["_Values"]:
        """The values of the hand-rounded re-solve at `digits` decimals, or None when it
        is not available (adam, a probability rounded to 0) or would pass the work
        budget. Only its values are kept, not its trace: three re-solves of a long run
        would otherwise hold three derivations at once (issue 17)."""
        if digits not in self._rounded:
            self._rounded[digits] = None
            if self._rounding_affordable():
                try:
                    solved = self.solution.with_policy(round_digits=digits)
                except BackpropError:  # adam, too big, or a probability rounded to 0
                    solved = None
                if solved is not None:
                    self._rounded[digits] = _Values(solved)
        return self._rounded[digits]

    def truncated(self, digits: int) -> dict[str, float]:
        """Every name of the scalar derivation with each intermediate truncated (not
        rounded) to `digits` decimals; empty where --round would not be available."""
        if digits not in self._truncated:
            layered = self.solution.kind == "layered"
            affordable = (self.network or layered) and self._rounding_affordable()  # the same work as --round
            if not affordable:
                self._truncated[digits] = {}
            elif layered:
                self._truncated[digits] = _truncated_layered(self.solution.spec, digits)
            else:
                self._truncated[digits] = _truncated_names(self.solution.spec, digits)
        return self._truncated[digits]

    def same_subject(self, name: str) -> list[str]:
        """The other names of the same neuron (or parameter) and sample at the same step."""
        if self._by_subject is None:
            index: dict[tuple, list[str]] = {}
            if self.network:
                for other in self.solution.all_names():
                    key = subject(other)
                    if key is not None:
                        index.setdefault(key, []).append(other)
            self._by_subject = index
        key = subject(name)
        return [] if key is None else [n for n in self._by_subject.get(key, []) if n != name]

    def _rounding_affordable(self) -> bool:
        from .. import budget

        spec = self.solution.spec
        if self.solution.kind == "layered":  # hand arithmetic on Decimal arrays, estimated by its size
            from ..network.typed_solve import POLICY_STEP_LIMIT as LAYERED_STEP_LIMIT

            return spec.steps <= LAYERED_STEP_LIMIT and budget.estimate_layered(spec, fmt=None, policy="round").within()
        if not self.network:
            return budget.estimate_graph(spec, policy="round", fmt=None).within()
        from ..network.solve import POLICY_STEP_LIMIT

        if spec.steps > POLICY_STEP_LIMIT:
            return False
        estimate = budget.estimate_network(spec, steps=spec.steps, detail="scalar", policy="round", fmt=None,
                                           numbers=budget.spec_numbers(spec))
        return estimate.within()

    def same_kind(self, name: str) -> list[str]:
        kind = layered_kind if self.solution.kind == "layered" else (lambda n: swap_kind(n, not self.network))
        if self._by_kind is None:
            index: dict[tuple, list[str]] = {}
            for other in self.solution.all_names():
                index.setdefault(kind(other), []).append(other)
            self._by_kind = index
        return self._by_kind.get(kind(name), [])


# ----------------------------------------------------------------------------------------
# the rules, in SPEC §6's order


def _sign(d: Diagnoser, miss: Miss) -> Optional[str]:
    if miss.computed != 0 and miss.explained_by(-miss.computed):
        return "sign flipped: the expected value is −computed"
    return None


def _old_and_step(d: Diagnoser, miss: Miss) -> Optional[tuple[float, float]]:
    """(old parameter, old − new) for a W_new/b_new name, or a parameter's `w_new` in
    gradient descent on a graph (`minimize:`)."""
    if d.solution.kind == "layered":  # L1.weights_new[1,2]@s → L1.weights[1,2]@s
        m = re.fullmatch(r"(?P<param>L[0-9]+\.\w+?)_new(?P<index>\[[0-9,]+\])?(?:@(?P<step>[0-9]+))?", miss.name)
        if m is None:
            return None
        old = d.value(at(m["param"] + (m["index"] or ""), int(m["step"] or 1)))
        return None if old is None else (old, old - miss.computed)
    if not d.network:
        spec = d.solution.spec
        base, _, step = miss.name.partition("@")
        index = ""
        if getattr(spec, "tensor", False) and base.endswith("]") and "[" in base:  # w_new[2]@3 → w[2]@3
            base, index = base[:base.index("[")], base[base.index("["):]
        if not getattr(spec, "minimize", None) or not base.endswith("_new") or base[:-4] not in spec.wrt:
            return None
        old = d.value(at(base[:-4] + index, int(step) if step else 1))
        return None if old is None else (old, old - miss.computed)
    p = parse(miss.name)
    if p is None or p.kind != "new":
        return None
    old = d.value(at(p.param, p.step))
    return None if old is None else (old, old - miss.computed)


def _bptt_last_step(d: Diagnoser, miss: Miss) -> Optional[str]:
    """A recurrent weight's gradient with only the last time step's share: backprop
    through time stopped after one step (the recurrent path h_t → h_(t−1) left out)."""
    if d.solution.kind != "layered":
        return None
    m = re.fullmatch(r"dL/d(?P<layer>L[0-9]+)\.(?P<param>W_hh|W_xh|W_ih|b)\[(?P<index>[0-9,]+)\](?P<step>@[0-9]+)?", miss.name)
    if m is None:
        return None
    layer = int(m["layer"][1:])
    T = d.solution.spec.layers[layer - 1].in_shape[0]
    share = d.value(f"{m['layer']}.{m['param']}_share[{T},{m['index']}]{m['step'] or ''}")
    if share is not None and miss.explained_by(share):
        return f"backprop through time stopped at the last step: only t = {T}'s contribution (the other steps' shares left out)"
    return None


def _direction(d: Diagnoser, miss: Miss) -> Optional[str]:
    found = _old_and_step(d, miss)
    if found and found[1] != 0 and miss.explained_by(found[0] + found[1]):
        return "update in the wrong direction: old + lr·g (the gradient added instead of subtracted)"
    return None


def _lr(d: Diagnoser, miss: Miss) -> Optional[str]:
    found = _old_and_step(d, miss)
    optimizer = getattr(d.solution.spec, "optimizer", None)  # a graph has one under `minimize:`
    lr = optimizer.lr.value if optimizer is not None else 1.0
    if not found or lr in (0.0, 1.0) or found[1] == 0:
        return None
    old, step = found
    if miss.explained_by(old - step / lr):
        return f"lr left out: old − g (lr = {_short(lr)} not applied)"
    if miss.explained_by(old - step * lr):
        return f"lr applied twice: old − lr²·g (lr = {_short(lr)})"
    return None


def _activation(d: Diagnoser, miss: Miss) -> Optional[str]:
    p = parse(miss.name)
    if not d.network or p is None or p.kind not in ("gradient", "delta", "dL_da", "new"):
        return None
    layers = d.solution.spec.layers
    candidates = [l for l in range(len(layers) - 1, -1, -1) if layers[l].activation.name != "identity"]
    for l in candidates:
        if miss.explained_by(d.variant(p.step, unit_layers=(l,)).get(miss.name)):
            act = layers[l].activation.name
            if act == "softmax":
                return f"activation derivative left out: layer {l + 1}'s softmax Jacobian skipped (δ taken as ∂L/∂a)"
            return f"activation derivative left out: the chain recomputed with layer {l + 1}'s σ′ = 1 ({act})"
    if len(candidates) > 1 and miss.explained_by(d.variant(p.step, unit_layers=tuple(candidates)).get(miss.name)):
        return "activation derivative left out: the chain recomputed with σ′ = 1 in every layer"
    return None


def _updated_weights(d: Diagnoser, miss: Miss) -> Optional[str]:
    p = parse(miss.name)
    if not d.network or p is None or p.kind not in ("gradient", "delta", "dL_da", "new"):
        return None
    if len(d.solution.spec.layers) < 2:
        return None
    if miss.explained_by(d.variant(p.step, post_weights=True).get(miss.name)):
        return "updated weights used in backprop: the chain through the post-step weights"
    return None


def _scaled(d: Diagnoser, miss: Miss, factors: list[tuple[float, str]], kinds: tuple[str, ...], label: str) -> Optional[str]:
    p = parse(miss.name)
    if not d.network or p is None or p.kind not in kinds:
        return None
    for factor, words in factors:
        if factor == 1:
            continue
        if p.kind == "new":
            value = d.variant(p.step, scale=factor).get(miss.name)
        else:
            value = miss.computed * factor
        if miss.explained_by(value):
            return f"{label}: computed {words}"
    return None


def _loss_factor(d: Diagnoser, miss: Miss) -> Optional[str]:
    if not d.network:
        return None
    K = d.solution.spec.outputs
    factors = [(2.0, "× 2 (a ½ in the loss left out?)"), (0.5, "× ½ (a ½ in the loss added?)")]
    if K > 1:
        factors += [(float(K), f"× K = {K} (the mean over the {K} outputs left out?)"),
                    (1.0 / K, f"÷ K = {K} (divided by the {K} outputs?)")]
    return _scaled(d, miss, factors, ("loss", "gradient", "delta", "dL_da", "new"), "loss factor")


def _batch(d: Diagnoser, miss: Miss) -> Optional[str]:
    if not d.network:
        return None
    N = d.solution.spec.samples
    if N < 2:
        return None
    factors = [(float(N), f"× N = {N} (the batch summed, not averaged?)"),
               (1.0 / N, f"÷ N = {N} (the batch averaged, not summed?)")]
    return _scaled(d, miss, factors, ("loss", "gradient", "delta", "dL_da", "new"), "batch summed vs averaged")


def _rounding(d: Diagnoser, miss: Miss) -> Optional[str]:
    if miss.decimals is None:
        return None
    for digits in (miss.decimals, miss.decimals + 1, miss.decimals - 1):
        if not 0 <= digits <= ROUND_MAX:
            continue
        rounded = d.rounded(digits)
        if rounded is not None and miss.explained_by(rounded.value(miss.name)):
            return f"hand rounding at {digits} decimals: backprop solve --round {digits} reproduces it"
    return None


def _truncation(d: Diagnoser, miss: Miss) -> Optional[str]:
    if miss.decimals is None:
        return None
    for digits in (miss.decimals, miss.decimals + 1, miss.decimals - 1):
        if 0 <= digits <= ROUND_MAX and miss.explained_by(d.truncated(digits).get(miss.name)):
            return f"truncated, not rounded, to {digits} decimals: every intermediate cut off instead of rounded"
    return None


def _previous_step(d: Diagnoser, miss: Miss) -> Optional[str]:
    """The same quantity one step earlier (W5_new@3 written as W5_new@2's value)."""
    p = parse(miss.name)
    if not d.network or p is None:
        return None
    if p.base == "loss_after":
        m = _SPLIT_RE.fullmatch(miss.name)
        step = int(m.group("step")) if m.group("step") else d.solution.total_steps
        previous, step_of_previous = at("loss", step), step  # after step s − 1 = before step s
    else:
        step = p.step
        if step < 2:
            return None
        base = p.base if p.sample is None else f"{p.base}#{p.sample}"
        previous, step_of_previous = at(base, step - 1), step - 1
    value = d.value(previous)
    if miss.explained_by(value):
        return f"copied from step {step_of_previous}: this is {previous}, the same quantity one step earlier"
    return None


def _other_quantity(d: Diagnoser, miss: Miss) -> Optional[str]:
    """Another quantity of the same neuron or parameter, sample and step (δ for σ′)."""
    found = [(abs(d.value(o) - miss.expected), o) for o in d.same_subject(miss.name) if miss.explained_by(d.value(o))]
    if not found:
        return None
    best = min(gap for gap, _ in found)
    # quantities equal by the math (δ3 = a3 − t3 = a3 when t3 = 0) are named together
    names = [o for gap, o in found if gap <= best + 1e-12 * max(1.0, abs(miss.expected))]
    return f"this is {' = '.join(names)}, not {miss.name}"


def _integer_literal(d: Diagnoser, miss: Miss) -> Optional[str]:
    """An integer in the key is compared exactly (SPEC §6): say so when the computed
    value rounds to it — `1` for 0.9997 is a rounded number written without its
    decimals, not a wrong one."""
    if miss.decimals is not None or miss.expected != round(miss.expected):
        return None
    if round(miss.computed) == miss.expected:
        return (f"written as the integer {miss.expected:g}, which is compared exactly (±1e-9); the computed "
                f"value rounds to it: write its decimals (e.g. {miss.computed:.4f}) to allow rounding")
    return None


def _swapped(d: Diagnoser, miss: Miss) -> Optional[str]:
    best = None
    for other in d.same_kind(miss.name):
        if other == miss.name:
            continue
        value = d.value(other)
        if miss.explained_by(value):
            gap = abs(value - miss.expected)
            if best is None or gap < best[0]:
                best = (gap, other)
    return f"matches {best[1]}: indices swapped?" if best else None


RULES: tuple[Callable[[Diagnoser, Miss], Optional[str]], ...] = (
    _sign, _bptt_last_step, *layer_causes.RULES, _direction, _lr, _activation, _updated_weights, _loss_factor, _batch, _rounding,
    _truncation, _integer_literal, _previous_step, _swapped, _other_quantity,
)


def _short(x: float) -> str:
    return f"{x:g}"


# ----------------------------------------------------------------------------------------
# one step recomputed with a mistake (numpy, the engine's own forward and update)


class _Replay:
    """The correct state before each step: parameters, optimizer state, the step's result.

    Runs the float engine forward from step 1 once; contexts of earlier steps are kept
    only for small networks (a long run of a big one is re-played instead)."""

    def __init__(self, spec) -> None:
        self.spec = spec
        self.keep = spec.parameter_count * spec.samples <= 100_000
        self._start()

    def _start(self) -> None:
        self.step = 1
        self.params = engine.initial_params(self.spec)
        self.state: dict = {}
        self.cache: dict[int, tuple] = {}

    def before(self, step: int) -> tuple:
        """(params, state, result) of step `step`, computed correctly."""
        if step in self.cache:
            return self.cache[step]
        if step < self.step:
            self._start()
        while True:
            result = engine.step_once(self.spec, self.params, self.state, self.step)
            context = (self.params, self.state, result)
            if self.keep or self.step == step:
                self.cache[self.step] = context
            self.params, self.state = result.new_params, result.state
            self.step += 1
            if self.step > step:
                return context


def _variant_names(solution: Solution, context: tuple, step: int, *, unit_layers: tuple = (),
                   post_weights: bool = False, scale: float = 1.0) -> dict[str, float]:
    """Step `step`'s backward pass and update redone with one mistake, by canonical name:
    `unit_layers` take σ′ = 1 (a softmax output skips its Jacobian), `post_weights`
    carries δ down through the weights after the update, `scale` multiplies the loss."""
    spec = solution.spec
    params, state, result = context
    zs = [layer.z for layer in result.layers]
    acts = [layer.a for layer in result.layers]
    derivs = [layer.da_dz for layer in result.layers]
    layers = engine.backward(spec, params, zs, acts, derivs, unit_layers=unit_layers,
                             weights=result.new_params if post_weights else None)
    if scale != 1.0:
        layers = [
            engine.LayerState(s.z, s.a, s.dL_da * scale, s.da_dz, s.delta * scale, s.grad_w * scale,
                              None if s.grad_b is None else s.grad_b * scale)
            for s in layers
        ]
    new_params, _ = engine.update(spec, params, layers, state, step)
    return dict(_step_names(solution, layers, new_params, step))


def _step_names(solution: Solution, layers: list, new_params: tuple, step: int) -> Iterator[tuple[str, float]]:
    names = solution.names
    for l, layer in enumerate(layers):
        layout = names.layouts[l]  # field_name reads weights as the spec writes them
        arrays = [("dL_da", layer.dL_da), ("delta", layer.delta),
                  ("grad_weights", as_written(layer.grad_w, layout)), ("weights", as_written(new_params[l][0], layout))]
        if layer.grad_b is not None:
            arrays += [("grad_bias", layer.grad_b), ("bias", new_params[l][1])]
        for field_, array in arrays:
            array = np.asarray(array, dtype=np.float64)
            for index in np.ndindex(array.shape):
                name = field_name(names, l, field_, index, step)
                if name is not None:
                    yield name, float(array[index])


# ----------------------------------------------------------------------------------------
# the derivation with every intermediate truncated


def _truncated_layered(spec, digits: int) -> dict[str, float]:
    """Every canonical name of a typed-layer solve whose every written-down number is
    truncated to `digits` decimals: the --round solve itself, with TruncatedArithmetic
    as its quantizer (network/hand.py); empty where that is refused (adam) or breaks
    down (a probability cut to 0 under a log)."""
    from ..network.typed_solve import solve_layered

    try:
        return dict(solve_layered(spec, arith=TruncatedArithmetic(digits)).named)
    except (BackpropError, ArithmeticError, ValueError):
        return {}


def _truncated_names(spec, digits: int) -> dict[str, float]:
    """Every canonical name of the spec's derivation under TruncatedArithmetic; empty
    where --round itself is refused (adam, long runs, big networks) or the arithmetic
    breaks down (a probability cut to 0 under a log)."""
    from ..network.equations import Derivation

    if (spec.optimizer.name == "adam" or spec.steps > TRUNCATE_STEP_LIMIT
            or spec.parameter_count > TRUNCATE_PARAMETER_LIMIT or spec.samples > TRUNCATE_SAMPLE_LIMIT):
        return {}
    arith = TruncatedArithmetic(digits)
    derivation = Derivation(spec, arith)
    try:
        for s in range(1, spec.steps + 1):
            derivation.step(s)
        derivation.after(spec.steps)
    except (BackpropError, ArithmeticError, ValueError):
        return {}
    return {name: arith.to_float(value) for name, value in derivation.env.items()}
