"""LayeredSpec → LayeredTrace: forward, loss, backward and update through typed layers.

Float64 NumPy with PyTorch's semantics (tests/test_layers.py compares every recorded
array with torch and with finite differences). Each step records, per layer, the
output, the upstream gradient ∂L/∂out, the parameters before, their gradients and their
values after the step, what the layer's backward pass writes down (x̂, σ, hidden
states, max-pool winners) and the derivation as a student writes it (derive.py).

Under `--round D` the same rules run on hand arithmetic (hand.py): every number the
derivation writes down is rounded to D decimals and later steps use the rounded
numbers (SPEC §7); the trace records the rounded values as floats.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..calc import functions as F
from ..calc.conventions import loss_scale
from ..errors import BackpropError, ComputeError
from ..frozen import frozen
from ..trace import NotebookDisplay
from .names import at
from . import derive
from .hand import numbers
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


POLICY_STEP_LIMIT = 1000  # --round: the same bound as dense networks (network/solve.py)


def solve_layered(spec: LayeredSpec, steps: Optional[int] = None, round_digits=None, exact: bool = False,
                  arith=None, **_ignored) -> LayeredTrace:
    """Solve in float64, or by hand arithmetic: `round_digits` (--round D) or any
    `arith` with RoundedArithmetic's interface (check's truncated re-solve)."""
    total = steps if steps is not None else spec.steps
    if exact:
        raise BackpropError("--exact: typed layers are not available in exact arithmetic: tanh, σ, exp and √ "
                            "(RNN and LSTM gates, softmax, batch norm's σ) have no rational values, so every "
                            "number would be a growing closed form; use --round D for hand arithmetic, or float64")
    if (round_digits is not None or arith is not None) and spec.optimizer.name == "adam":
        raise BackpropError("--round is not available with adam: its square roots and bias corrections are not "
                            "hand arithmetic (drop --round, or use sgd)")
    if (round_digits is not None or arith is not None) and total > POLICY_STEP_LIMIT:
        raise BackpropError(f"--round evaluates every number by hand: at most {POLICY_STEP_LIMIT} steps, got {total}")
    q = numbers(round_digits, arith)
    state: dict = {}
    records, losses = [], []
    with q.context(), np.errstate(all="ignore"):
        params = [{k: q.given(v) for k, v in layer.params.items()} for layer in spec.layers]
        running = [(q.given(layer.running_mean), q.given(layer.running_var)) if layer.type == "batchnorm" else None
                   for layer in spec.layers]
        s = 0
        try:
            for s in range(1, total + 1):
                record, params, running, state = _step(spec, params, running, state, s, q)
                records.append(record)
                losses.append(record.loss)
            s = total + 1
            outputs, caches = _forward(spec, params, q)
            losses.append(float(_loss(spec, outputs[-1], caches[-1], q)[0]))
        except ArithmeticError:  # Decimal's 0/0 or x/0: only hand arithmetic raises it
            where = f"step {s}" if s <= total else "the loss after the last step"
            raise ComputeError(f"{where}: a rounded value reached 0 where the derivation divides by it: "
                               "use more decimals with --round", file=spec.file) from None
    if not np.isfinite(losses[-1]):
        raise ComputeError("the loss after the last step is not a finite number (overflow)", file=spec.file)
    named = _named(spec, records, losses)
    return LayeredTrace(spec.name, spec, tuple(records), tuple(losses), named, policy=q.name, digits=q.digits)


def _forward(spec, params, q):
    outputs, caches = [], []
    x = q.given(spec.input)
    for layer, p in zip(spec.layers, params):
        x, cache = RULES[layer.type][0](layer, p, x, q=q)
        outputs.append(x)
        caches.append(cache)
    return outputs, caches


def _loss(spec, y, cache, q):
    """The loss of the last output and ∂L/∂output (SPEC §2 on one row per sample;
    cross-entropy on the logits z, PyTorch's form; by hand, on the rounded ŷ)."""
    if q.name != "float":
        loss, g = _hand_loss(spec, _rows(spec, y), _rows(spec, q.given(spec.target)), q)
        return loss, g.reshape(y.shape)
    a, t = _rows(spec, y), _rows(spec, spec.target)
    z = _rows(spec, cache["z"]) if spec.loss == "cross_entropy" else None
    return F.loss_value(spec.loss, spec.reduction, a, z, t), F.loss_grad(spec.loss, spec.reduction, a, t).reshape(y.shape)


def _rows(spec, arr):
    """The loss's rows: one per sample — for cross-entropy one per sample and time step
    (PyTorch's CrossEntropyLoss on (N·T, K) after `output: all`)."""
    return arr.reshape(-1, arr.shape[-1]) if spec.loss == "cross_entropy" else arr.reshape(arr.shape[0], -1)


_MORE_DECIMALS = "use more decimals with --round"


def _hand_loss(spec, a, t, q):
    """SPEC §2's losses by hand on the loss's rows: + − × ÷ exact on the rounded ŷ, log
    in float64; a probability rounded to 0 or 1 under a log or a division is an error
    (SPEC §7)."""
    from decimal import Decimal

    N, K = a.shape
    scale = loss_scale(spec.loss, spec.reduction, N, K)
    af = q.float(a)
    if spec.loss in ("mse", "sse", "half_sse"):
        total = ((a - t) ** 2).sum()
        if spec.loss == "half_sse":
            total = total / 2
        value = total if spec.reduction == "sum" else total / (N * K) if spec.loss == "mse" else total / N
        return q(value), q((a - t) * (1 if spec.loss == "half_sse" else 2) / scale)
    tf = q.float(t)
    if spec.loss == "bce":
        if ((af <= 0) & (tf != 0)).any() or ((af >= 1) & (tf != 1)).any():
            raise ComputeError(f"a rounded probability ŷ reached 0 or 1 where log(ŷ) or log(1 − ŷ) needs it: {_MORE_DECIMALS}")
        one = Decimal(1)
        log_a = q.raw_fn(np.log, np.where(af > 0, a, one))
        log_b = q.raw_fn(np.log, np.where(af < 1, 1 - a, one))
        value = -(t * log_a + (1 - t) * log_b).sum() / scale
        spread = a * (1 - a)
        if (q.float(spread) == 0).any():
            raise ComputeError(f"a rounded probability ŷ reached 0 or 1 where ∂L/∂ŷ divides by ŷ(1 − ŷ): {_MORE_DECIMALS}")
        return q(value), q((a - t) / spread / scale)
    # cross-entropy on the rounded softmax output
    needed = tf != 0
    if ((af <= 0) & needed).any():
        raise ComputeError(f"a rounded probability ŷ reached 0 where the loss takes log(ŷ): {_MORE_DECIMALS}")
    safe = np.where(needed, a, Decimal(1))
    value = -(t * q.raw_fn(np.log, safe)).sum() / scale
    return q(value), q(np.where(needed, -t / safe, Decimal(0)) / scale)


def _step(spec: LayeredSpec, params, running, state, s: int, q):
    outputs, caches = _forward(spec, params, q)
    y = outputs[-1]
    loss, g = _loss(spec, y, caches[-1], q)
    dz = None
    if spec.loss == "cross_entropy":  # δ = ∂L/∂z = ŷ·Σt − t (scaled), not through −t/ŷ
        a, t = _rows(spec, y), _rows(spec, q.given(spec.target))
        dz = q((a * t.sum(axis=1, keepdims=True) - t) / loss_scale("cross_entropy", spec.reduction, *a.shape))
    loss = float(loss)
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
            upstream, grads[l] = backward(layer, params[l], caches[l], upstream, dz=dz.reshape(caches[l]["z"].shape), q=q)
        else:
            upstream, grads[l] = backward(layer, params[l], caches[l], upstream, q=q)
    new_params, new_state, new_running, layers = [], {}, [], []
    for l, layer in enumerate(spec.layers):
        updated = {}
        for name, p in params[l].items():
            if name in layer.freeze:
                updated[name] = p
                continue
            updated[name] = q.update(spec.optimizer, p, grads[l][name], state, new_state, (l, name), s)
        for name, arr in updated.items():
            if not np.isfinite(q.float(arr)).all():
                raise ComputeError(f"step {s}: the updated {prefix(l + 1)}.{name} is not a finite number: "
                                   f"the {spec.optimizer.name} update diverged (try a smaller lr)", file=spec.file)
        new_params.append(updated)
        extras = _extras(layer, caches[l])
        if layer.type == "batchnorm":
            rm, rv = running_stats(layer, caches[l], running[l][0], running[l][1], q)
            extras.update(running_mean_new=rm, running_var_new=rv)
            new_running.append((rm, rv))
        else:
            new_running.append(running[l])
        notes = derive.notes(layer, l + 1, params[l], caches[l], grads_out[l], grads[l], spec.batched, q)
        f = q.float
        layers.append(LayerStep(l + 1, layer.type, f(outputs[l]), f(grads_out[l]), _floats(params[l], f),
                                _floats(grads[l], f), _floats(updated, f), _floats(extras, f), tuple(notes)))
        for name, arr in [("output", outputs[l]), ("upstream gradient", grads_out[l])] + list(grads[l].items()):
            if not np.isfinite(f(arr)).all():
                raise ComputeError(f"step {s}: {name} of layer {l + 1} ({layer.type}) is not a finite number "
                                   "(overflow)", file=spec.file)
    return (LayeredStep(s, loss, tuple(layers), _floats(new_state, q.float)), new_params, new_running,
            new_state)


def _floats(arrays: dict, f) -> dict:
    return {k: f(v) for k, v in arrays.items()}


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
