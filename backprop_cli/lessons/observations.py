"""Observations: the lessons a worked example's numbers teach, computed from its trace.

A textbook derivation ends with remarks such as "layer 1 changed far less than layer 2"
or "an input of 0 leaves its weights unchanged". Here each remark is a frozen
`Observation` built only when the trace's own numbers show it, carrying those numbers;
the renderers (render/observation_text.py) only word it, in any format and language.

Kinds, in the order they are reported (all read off the first recorded step):

- `error_scale`  one sample: every output δ is the output error ŷ − t times a factor
                 (σ′(z) times the loss's constant, or 1 where σ′ cancels: sigmoid with
                 binary cross-entropy, softmax with cross-entropy);
- `input_scale`  one sample, SGD without weight decay: a first-layer weight's gradient
                 is its input times the neuron's δ, so the update is proportional to
                 the input;
- `zero_input`   an input that is 0 in every sample gives its weights a zero gradient;
- `layer_ratio`  the first layer's mean weight update is at most half the last layer's
                 (with sigmoid hidden layers: σ′ ≤ 0.25 on the way back, vanishing
                 gradients);
- `dead_relu`    ReLU units with z ≤ 0 in every sample: ReLU′ = 0, δ = 0, no gradient;
- `saturated`    sigmoid/tanh units whose derivative is below SATURATED in every
                 sample, where that derivative reaches δ (not an output unit whose σ′
                 the loss cancels).

Each kind is tested on networks built to show it and on networks that do not.
"""
from __future__ import annotations

from typing import Optional

from ..frozen import frozen
from ..grid import as_rows
from ..network.names import NetworkNames

SATURATED = 0.01  # σ′ < 0.01 ⇔ |z| > 4.6 (sigmoid), |z| > 3.0 (tanh)
FAR_LESS = 0.5  # layer 1's mean update at most this fraction of the last layer's
MAX_NAMES = 6  # names listed in one observation before "…"
_CLOSE = 1e-9


@frozen
class Observation:
    """One remark: its kind, the layer it is about (0: the network), the canonical
    names it speaks of, and its figures by name (see each kind's builder)."""

    kind: str
    step: int
    layer: int
    names: tuple[str, ...]
    numbers: tuple[tuple[str, float], ...]
    total: int = 0  # how many names there were before MAX_NAMES cut the list (0: all listed)

    def number(self, key: str) -> Optional[float]:
        return dict(self.numbers).get(key)


def observe(trace) -> tuple[Observation, ...]:
    """Every observation the first recorded step of a network trace supports (graphs: none)."""
    if getattr(trace, "kind", "network") != "network" or not trace.steps:
        return ()
    spec, record = trace.spec, trace.steps[0]
    names = NetworkNames.of(spec)
    layers = [_Layer(r) for r in record.layers]
    out: list[Optional[Observation]] = []
    out += _error_scale(spec, names, layers, record.step)
    out.append(_input_scale(spec, names, layers, record.step))
    out += _zero_inputs(spec, names, layers, record.step)
    out.append(_layer_ratio(spec, layers, record.step))
    for l, layer in enumerate(layers):
        out.append(_dead_relu(spec, names, l, layer, record.step))
        out.append(_saturated(spec, names, l, layer, record.step))
    return tuple(o for o in out if o is not None)


class _Layer:
    """A LayerRecord's arrays as lists of rows of floats (Grid or ndarray alike)."""

    def __init__(self, r) -> None:
        self.activation = r.activation
        self.z, self.a, self.delta = as_rows(r.z), as_rows(r.a), as_rows(r.delta)
        self.da_dz = as_rows(r.da_dz) if r.da_dz is not None else None
        self.dL_da = as_rows(r.dL_da)
        self.grad_w = as_rows(r.grad_weights)
        self.w_before, self.w_after = as_rows(r.weights_before), as_rows(r.weights)
        self.grad_b = as_rows(r.grad_bias) if r.grad_bias is not None else None
        self.frozen = r.frozen


def _named(names: list[str]) -> tuple[tuple[str, ...], int]:
    """At most MAX_NAMES of the names, and how many there were."""
    return tuple(names[:MAX_NAMES]), len(names)


def _error_scale(spec, names: NetworkNames, layers: list[_Layer], step: int) -> list[Observation]:
    """One sample: δ_k = (ŷ_k − t_k) × r_k for each output k with a nonzero error."""
    if spec.samples != 1:
        return []
    last = layers[-1]
    L = len(layers) - 1
    cancels = (spec.loss == "bce" and last.activation == "sigmoid") or \
              (spec.loss == "cross_entropy" and last.activation == "softmax")
    out = []
    for k in range(len(last.a[0])):
        error = last.a[0][k] - float(spec.target[0, k])
        delta = last.delta[0][k]
        if error == 0 or delta == 0:
            continue
        ratio = delta / error
        numbers = [("error", error), ("delta", delta), ("ratio", ratio), ("cancels", float(cancels))]
        if not cancels and last.da_dz is not None and last.da_dz[0][k] != 0:
            numbers += [("da_dz", last.da_dz[0][k]), ("constant", ratio / last.da_dz[0][k])]
        neuron = names.neuron(L, k)
        out.append(Observation("error_scale", step, L + 1, (f"a{neuron}", f"t{k + 1}", f"delta{neuron}"),
                               tuple(numbers)))
    return out


def _input_scale(spec, names: NetworkNames, layers: list[_Layer], step: int) -> Optional[Observation]:
    """One sample: ∂L/∂W_ji = δ_j x_i for the first neuron of layer 1 with δ ≠ 0 and at
    least two different nonzero inputs (else there is no proportion to see)."""
    first = layers[0]
    opt = spec.optimizer
    if spec.samples != 1 or "weights" in first.frozen or opt.name != "sgd" or opt.weight_decay.value:
        return None  # Adam's step is not proportional to its gradient; decay adds λW
    x = [float(v) for v in as_rows(spec.input)[0]]
    if len({abs(v) for v in x if v != 0}) < 2:
        return None
    for j, delta in enumerate(first.delta[0]):
        if delta == 0:
            continue
        grads = first.grad_w[j]
        if any(abs(g - delta * xi) > _CLOSE * max(1.0, abs(g)) for g, xi in zip(grads, x)):
            return None
        neuron = names.neuron(0, j)
        weights = [names.weight(0, j, i) for i in range(len(x))]
        numbers = [("delta", delta)] + [(f"x{i + 1}", xi) for i, xi in enumerate(x)] + \
                  [(f"g{i + 1}", g) for i, g in enumerate(grads)]
        return Observation("input_scale", step, 1, (f"delta{neuron}", *weights), tuple(numbers))
    return None


def _zero_inputs(spec, names: NetworkNames, layers: list[_Layer], step: int) -> list[Observation]:
    """Input i is 0 in every sample: each first-layer weight from it has gradient 0;
    `unchanged` is 1 when those weights also kept their values (no decay, no momentum)."""
    first = layers[0]
    if "weights" in first.frozen:
        return []
    rows = as_rows(spec.input)
    out = []
    for i in range(len(rows[0])):
        if any(row[i] != 0 for row in rows):
            continue
        units = range(len(first.grad_w))
        if any(first.grad_w[j][i] != 0 for j in units):
            continue
        unchanged = all(first.w_after[j][i] == first.w_before[j][i] for j in units)
        weights, total = _named([names.weight(0, j, i) for j in units])
        out.append(Observation("zero_input", step, 1, (f"x{i + 1}", *weights), (("unchanged", float(unchanged)),),
                               total + 1))
    return out


def _mean_abs_change(layer: _Layer) -> float:
    changes = [abs(a - b) for ra, rb in zip(layer.w_after, layer.w_before) for a, b in zip(ra, rb)]
    return sum(changes) / len(changes)


def _layer_ratio(spec, layers: list[_Layer], step: int) -> Optional[Observation]:
    """Layer 1's mean |ΔW| at most FAR_LESS of the last layer's; with every layer before
    the output sigmoid, also the largest σ′ met on the way back (≤ 0.25)."""
    if len(layers) < 2 or "weights" in layers[0].frozen or "weights" in layers[-1].frozen:
        return None
    first, last = _mean_abs_change(layers[0]), _mean_abs_change(layers[-1])
    if last == 0 or first / last > FAR_LESS:
        return None
    numbers = [("first", first), ("last", last), ("ratio", first / last)]
    hidden = layers[:-1]
    if all(layer.activation == "sigmoid" and layer.da_dz is not None for layer in hidden):
        numbers.append(("max_da_dz", max(v for layer in hidden for row in layer.da_dz for v in row)))
    return Observation("layer_ratio", step, len(layers), (), tuple(numbers))


def _dead_relu(spec, names: NetworkNames, l: int, layer: _Layer, step: int) -> Optional[Observation]:
    """ReLU units with z ≤ 0 in every sample (so ReLU′ = 0 and δ = 0 in every sample)."""
    if layer.activation != "relu":
        return None
    units = [j for j in range(len(layer.z[0]))
             if all(row[j] <= 0 for row in layer.z) and all(row[j] == 0 for row in layer.delta)]
    if not units:
        return None
    listed, total = _named([f"a{names.neuron(l, j)}" for j in units])
    top = max(row[j] for row in layer.z for j in units)
    no_grad = all(layer.grad_w[j][i] == 0 for j in units for i in range(len(layer.grad_w[0])))
    return Observation("dead_relu", step, l + 1, listed,
                       (("max_z", top), ("weights", float(len(units) * len(layer.grad_w[0]))),
                        ("no_gradient", float(no_grad))), total)


def _saturated(spec, names: NetworkNames, l: int, layer: _Layer, step: int) -> Optional[Observation]:
    """sigmoid/tanh units with derivative < SATURATED in every sample, where it reaches δ."""
    if layer.activation not in ("sigmoid", "tanh") or layer.da_dz is None:
        return None
    is_output = l == len(spec.layers) - 1
    if is_output and spec.loss == "bce" and layer.activation == "sigmoid":
        return None  # σ′ cancels against BCE's derivative: a saturated output still learns
    units = [j for j in range(len(layer.z[0])) if all(row[j] < SATURATED for row in layer.da_dz)]
    if not units:
        return None
    listed, total = _named([f"a{names.neuron(l, j)}" for j in units])
    worst = max(row[j] for row in layer.da_dz for j in units)
    z_min = min(abs(row[j]) for row in layer.z for j in units)
    grad = max(abs(layer.grad_w[j][i]) for j in units for i in range(len(layer.grad_w[0])))
    return Observation("saturated", step, l + 1, listed,
                       (("max_da_dz", worst), ("min_abs_z", z_min), ("max_grad", grad)), total)
