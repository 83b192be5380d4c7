"""Canonical names (SPEC §3): the notation-independent vocabulary of traces and keys.

Neurons are numbered 1..M globally through the layers, weights 1.. globally layer by
layer, row-major over (out, in) — so W2 is layer 1 [0][1], as in the 2-2-1 BCE worked example (configs/bce_2_2_1.yaml) — and biases
by parameter (a shared bias is one name, a layer without bias adds none). Sample n of a
batch is `#n`; step s > 1 is `@s`.
"""
from __future__ import annotations

from typing import Iterator

from ..frozen import frozen
from .spec import Spec

SCALAR_PARAMETER_LIMIT = 300  # above this: matrix detail, `named` holds only losses (SPEC §5)


def at(name: str, step: int) -> str:
    """Step-qualified name: bare for step 1 (SPEC §3), `@s` after."""
    return name if step == 1 else f"{name}@{step}"


@frozen
class NetworkNames:
    neuron_offset: tuple[int, ...]  # layer l's first neuron is neuron_offset[l] + 1
    weight_offset: tuple[int, ...]
    bias_offset: tuple[int, ...]
    bias_kind: tuple[str, ...]
    widths: tuple[int, ...]  # input width, then each layer's units
    samples: int
    layouts: tuple[str, ...] = ()  # per layer, how `weights` is written (spec.LAYOUTS)

    @classmethod
    def of(cls, spec: Spec) -> "NetworkNames":
        n_off, w_off, b_off, kinds = [], [], [], []
        n = w = b = 0
        for layer in spec.layers:
            n_off.append(n)
            w_off.append(w)
            b_off.append(b)
            kinds.append(layer.bias_kind)
            n += layer.units
            w += layer.weights.size
            b += {"none": 0, "shared": 1, "vector": layer.units}[layer.bias_kind]
        widths = (spec.input.shape[1],) + tuple(layer.units for layer in spec.layers)
        layouts = tuple(getattr(layer, "layout", "out_in") for layer in spec.layers)
        return cls(tuple(n_off), tuple(w_off), tuple(b_off), tuple(kinds), widths, spec.samples, layouts)

    def sample(self, name: str, n: int) -> str:
        """`#n` for a batch (1-based); a single-sample spec has bare neuron names."""
        return name if self.samples == 1 else f"{name}#{n + 1}"

    def neuron(self, layer: int, j: int) -> int:
        return self.neuron_offset[layer] + j + 1

    def weight(self, layer: int, j: int, i: int) -> str:
        return f"W{self.weight_offset[layer] + j * self.widths[layer] + i + 1}"

    def written_weight(self, layer: int, r: int, c: int) -> str:
        """The name of the weight at [r][c] of the matrix as the spec writes it: (out, in),
        or (in, out) under `layout: in_out` — W numbering is (out, in) row-major either way."""
        if self.layouts and self.layouts[layer] == "in_out":
            r, c = c, r
        return self.weight(layer, r, c)

    def bias(self, layer: int, j: int) -> str | None:
        kind = self.bias_kind[layer]
        if kind == "none":
            return None
        return f"b{self.bias_offset[layer] + (1 if kind == 'shared' else j + 1)}"

    def source(self, layer: int, i: int) -> str:
        """The name of input i of `layer`: x_i for the first layer, else a neuron's a."""
        return f"x{i + 1}" if layer == 0 else f"a{self.neuron(layer - 1, i)}"

    def parameters(self, layer: int) -> list[tuple[str, tuple]]:
        """(name, index) of every parameter of a layer: weights (j, i) then biases."""
        out: list[tuple[str, tuple]] = []
        units, fan_in = self.widths[layer + 1], self.widths[layer]
        for j in range(units):
            for i in range(fan_in):
                out.append((self.weight(layer, j, i), ("w", j, i)))
        kind = self.bias_kind[layer]
        if kind == "vector":
            out.extend((self.bias(layer, j), ("b", j)) for j in range(units))
        elif kind == "shared":
            out.append((self.bias(layer, 0), ("b",)))
        return out


def parameter_value(W, b, index: tuple) -> float:
    """The parameter at a `parameters()` index, out of a layer's weights and bias
    (Grid or ndarray; a shared bias is a float)."""
    if index[0] == "w":
        return float(W[index[1], index[2]])
    return float(b) if len(index) == 1 else float(b[index[1]])


def loss_names(named: dict, losses: list[float]) -> None:
    total = len(losses) - 1
    for s in range(1, total + 1):
        named[at("loss", s)] = losses[s - 1]
        named[f"loss_after@{s}"] = losses[s]  # after step s (SPEC §3)
    named["loss_after"] = losses[total]  # bare: after the last step


def step_slots(spec: Spec, names: NetworkNames, s: int) -> Iterator[tuple[str, tuple]]:
    """Every per-step canonical name with where its value lives: (array field, layer,
    sample, unit) or (param | grad | new, layer) + its `parameters()` index. The one
    map between names and arrays, read both ways (solve.py and solve_engine.py)."""
    for l, layer in enumerate(spec.layers):
        for n in range(spec.samples):
            for j in range(layer.units):
                neuron = names.neuron(l, j)
                for base, field in (("z", "z"), ("a", "a"), ("dL/da", "dL_da"), ("delta", "delta")):
                    yield at(names.sample(f"{base}{neuron}", n), s), (field, l, n, j)
                if layer.activation.name != "softmax":
                    yield at(names.sample(f"da{neuron}/dz{neuron}", n), s), ("da_dz", l, n, j)
        for name, index in names.parameters(l):
            yield at(name, s), ("param", l) + index
            yield at(f"dL/d{name}", s), ("grad", l) + index
            yield at(f"{name}_new", s), ("new", l) + index
