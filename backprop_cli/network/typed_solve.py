"""LayeredSpec → LayeredTrace: forward, loss, backward and update through typed layers.

Float64 NumPy with PyTorch's semantics (tests/test_layers.py compares every recorded
array with torch and with finite differences). Each step records, per layer, the
output, the upstream gradient ∂L/∂out, the parameters before, their gradients and their
values after the step, what the layer's backward pass writes down (x̂, σ, hidden
states, max-pool winners) and the derivation as a student writes it (derive.py).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..calc import functions as F
from .engine import optimizer_step
from ..errors import BackpropError, ComputeError
from ..frozen import frozen
from ..trace import NotebookDisplay
from .names import at
from . import derive
from .layers import RULES, running_stats
from .typed_names import elements, per_sample, prefix
from .typed_spec import LayeredSpec


@frozen
class LayerStep:
    layer: int  # 1-based
    type: str
    output: Any  # (N, …)
    grad_output: Any  # ∂L/∂output, (N, …)
    params: dict  # before the step
    grads: dict
    new_params: dict
    extras: dict  # name → array: z, mean, var, xhat, running_*_new, h, dL/dh, c, i, f, g, o
    notes: tuple  # derive.Note: the backward pass as a student writes it


@frozen
class LayeredStep:
    step: int
    loss: float
    layers: tuple[LayerStep, ...]
    state: dict  # optimizer state after the step: (buf | m | v | sq | gavg | sum, layer, param) → array


@frozen
class LayeredTrace(NotebookDisplay):
    name: str
    spec: Any
    steps: tuple[LayeredStep, ...]
    losses: tuple[float, ...]
    named: dict
    policy: str = "float"
    detail: str = "layers"
    digits: Optional[int] = None
    kind: str = "layered"

    @property
    def loss_after(self) -> float:
        return self.losses[-1]


def solve_layered(spec: LayeredSpec, steps: Optional[int] = None, round_digits=None, exact: bool = False,
                  **_ignored) -> LayeredTrace:
    if round_digits is not None or exact:
        raise BackpropError(f"{'--round' if round_digits is not None else '--exact'}: typed layers (conv, pooling, "
                            "norm, dropout, rnn, lstm) are solved in float64; hand rounding and exact arithmetic "
                            "apply to dense networks and graphs")
    total = steps if steps is not None else spec.steps
    params = [{k: np.array(v, dtype=np.float64) for k, v in layer.params.items()} for layer in spec.layers]
    running = [(layer.running_mean, layer.running_var) for layer in spec.layers]
    state: dict = {}
    records, losses = [], []
    with np.errstate(all="ignore"):
        for s in range(1, total + 1):
            record, params, running, state = _step(spec, params, running, state, s)
            records.append(record)
            losses.append(record.loss)
        outputs, caches = _forward(spec, params)
        losses.append(_loss(spec, outputs[-1], caches[-1])[0])
    if not np.isfinite(losses[-1]):
        raise ComputeError("the loss after the last step is not a finite number (overflow)", file=spec.file)
    named = _named(spec, records, losses)
    return LayeredTrace(spec.name, spec, tuple(records), tuple(losses), named)


def _forward(spec, params):
    outputs, caches = [], []
    x = spec.input
    for layer, p in zip(spec.layers, params):
        x, cache = RULES[layer.type][0](layer, p, x)
        outputs.append(x)
        caches.append(cache)
    return outputs, caches


def _loss(spec, y, cache):
    """The loss of the last output and ∂L/∂output (SPEC §2 on one row per sample;
    cross-entropy on the logits z, PyTorch's form)."""
    a, t = _rows(spec, y), _rows(spec, spec.target)
    z = _rows(spec, cache["z"]) if spec.loss == "cross_entropy" else None
    return F.loss_value(spec.loss, spec.reduction, a, z, t), F.loss_grad(spec.loss, spec.reduction, a, t).reshape(y.shape)


def _rows(spec, arr):
    """The loss's rows: one per sample — for cross-entropy one per sample and time step
    (PyTorch's CrossEntropyLoss on (N·T, K) after `output: all`)."""
    return arr.reshape(-1, arr.shape[-1]) if spec.loss == "cross_entropy" else arr.reshape(arr.shape[0], -1)


def _step(spec: LayeredSpec, params, running, state, s: int):
    outputs, caches = _forward(spec, params)
    y = outputs[-1]
    loss, g = _loss(spec, y, caches[-1])
    dz = None
    if spec.loss == "cross_entropy":  # δ = ∂L/∂z = ŷ·Σt − t (scaled), not through −t/ŷ
        dz = F.output_delta("cross_entropy", spec.reduction, "softmax", _rows(spec, y), None, _rows(spec, g),
                            _rows(spec, spec.target))
    if not np.isfinite(loss):
        raise ComputeError(f"step {s}: the loss is not a finite number (overflow)", file=spec.file)
    grads_out = [None] * len(spec.layers)
    grads = [None] * len(spec.layers)
    upstream = g.reshape(y.shape)
    for l in range(len(spec.layers) - 1, -1, -1):
        layer = spec.layers[l]
        grads_out[l] = upstream
        backward = RULES[layer.type][1]
        if l == len(spec.layers) - 1 and dz is not None:
            upstream, grads[l] = backward(layer, params[l], caches[l], upstream, dz=dz.reshape(caches[l]["z"].shape))
        else:
            upstream, grads[l] = backward(layer, params[l], caches[l], upstream)
    new_params, new_state, new_running, layers = [], {}, [], []
    for l, layer in enumerate(spec.layers):
        updated = {}
        for name, p in params[l].items():
            if name in layer.freeze:
                updated[name] = p
                continue
            updated[name] = optimizer_step(spec.optimizer, p, grads[l][name], state, new_state, (l, name), s)
        for name, arr in updated.items():
            if not np.isfinite(arr).all():
                raise ComputeError(f"step {s}: the updated {prefix(l + 1)}.{name} is not a finite number: "
                                   f"the {spec.optimizer.name} update diverged (try a smaller lr)", file=spec.file)
        new_params.append(updated)
        extras = _extras(layer, caches[l])
        if layer.type == "batchnorm":
            rm, rv = running_stats(layer, caches[l], running[l][0], running[l][1])
            extras.update(running_mean_new=rm, running_var_new=rv)
            new_running.append((rm, rv))
        else:
            new_running.append(running[l])
        notes = derive.notes(layer, l + 1, params[l], caches[l], grads_out[l], grads[l], spec.batched)
        layers.append(LayerStep(l + 1, layer.type, outputs[l], grads_out[l], params[l], grads[l], updated,
                                extras, tuple(notes)))
        for name, arr in [("output", outputs[l]), ("upstream gradient", grads_out[l])] + list(grads[l].items()):
            if not np.isfinite(arr).all():
                raise ComputeError(f"step {s}: {name} of layer {l + 1} ({layer.type}) is not a finite number "
                                   "(overflow)", file=spec.file)
    return LayeredStep(s, float(loss), tuple(layers), new_state), new_params, new_running, new_state


def _extras(layer, cache) -> dict:
    if layer.type in ("dense", "conv2d", "conv1d"):
        return {"z": cache["z"]}
    if layer.type in ("batchnorm", "layernorm"):
        squeeze = (lambda a: a.reshape(-1)) if layer.type == "batchnorm" else (lambda a: a.reshape(a.shape[0]))
        out = {"xhat": cache["xhat"]}
        if layer.type == "batchnorm":
            out.update(mean=squeeze(cache["mean"]), var=squeeze(cache["var"]))
        else:
            out.update(mean=squeeze(cache["mean"]), var=squeeze(cache["var"]))
        return out
    if layer.type in ("rnn", "lstm"):  # each time step's share of the BPTT sums: <param>_share[t, …]
        shares = {f"{name}_share": np.stack([c[name] for c in cache["contributions"]])
                  for name in cache["contributions"][0]}
    if layer.type == "rnn":
        return {"h": cache["H"], "dL/dh": cache["dH"], **shares}
    if layer.type == "lstm":
        gates = cache["gates"]
        out = {"h": cache["H"], "c": np.stack(cache["cs"][1:], axis=1), "dL/dh": cache["dH"], **shares}
        for k, gate in enumerate("ifgo"):
            out[gate] = np.stack([g[k] for g in gates], axis=1)
        return out
    return {}


# per-layer arrays that are per sample (batch-first) vs per channel/parameter-shaped
_PER_SAMPLE = {"z", "xhat", "h", "dL/dh", "c", "i", "f", "g", "o"}


def _named(spec: LayeredSpec, records, losses) -> dict:
    named: dict[str, float] = {}
    batched = spec.batched
    named.update(per_sample("x", spec.input, batched))
    named.update(per_sample("t", spec.target, batched))
    for record in records:
        s = record.step
        named[at("loss", s)] = record.loss
        named[f"loss_after@{s}"] = losses[s]
        for st in record.layers:
            P = prefix(st.layer)
            for k, v in per_sample(f"{P}.out", st.output, batched):
                named[at(k, s)] = v
            for k, v in per_sample(f"dL/d{P}.out", st.grad_output, batched):
                named[at(k, s)] = v
            for name, value in st.params.items():
                for k, v in elements(f"{P}.{name}", value):
                    named[at(k, s)] = v
                for k, v in elements(f"dL/d{P}.{name}", st.grads[name]):
                    named[at(k, s)] = v
                for k, v in elements(f"{P}.{name}_new", st.new_params[name]):
                    named[at(k, s)] = v
            for name, value in st.extras.items():
                full = f"dL/d{P}.h" if name == "dL/dh" else f"{P}.{name}"
                source = per_sample(full, value, batched) if name in _PER_SAMPLE or (
                    name in ("mean", "var") and spec.layers[st.layer - 1].type == "layernorm") else elements(full, value)
                for k, v in source:
                    named[at(k, s)] = v
        for (kind, l, name), value in record.state.items():
            for k, v in elements(f"{kind}_{prefix(l + 1)}.{name}", value):
                named[at(k, s)] = v
    named["loss_after"] = losses[-1]
    return named
