"""The float64 engine: forward → loss → backward → update on whole layers (numpy).

This runs the float solves the scalar derivation does not take alone (solve.py): big
networks, batches, long runs, and any example whose printed formulas overflow. It must
agree with PyTorch (tests/test_torch_parity.py) and with the derivation
(tests/test_solve_paths.py), which then takes its values (lookup mode).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..calc import functions as F
from ..errors import ComputeError
from ..frozen import frozen
from .spec import Spec


@frozen
class LayerState:
    """Everything one layer computed in one step (arrays are (N, units))."""

    z: np.ndarray
    a: np.ndarray
    dL_da: np.ndarray
    da_dz: Any
    delta: np.ndarray
    grad_w: np.ndarray
    grad_b: Any


@frozen
class StepResult:
    params: tuple  # ((W, b), …) used in this step (before the update)
    loss: float
    layers: tuple[LayerState, ...]
    new_params: tuple
    state: dict  # optimizer state after the step: {("buf"|"m"|"v", layer, "w"|"b"): array}


def forward(spec: Spec, params) -> tuple[list, list, list]:
    zs, acts, derivs = [], [], []
    a = np.asarray(spec.input)
    for layer, (W, b) in zip(spec.layers, params):
        z = a @ W.T
        if b is not None:
            z = z + b
        a, da = F.activate(layer.activation.name, z, layer.activation.slope)
        zs.append(z)
        acts.append(a)
        derivs.append(da)
    return zs, acts, derivs


def step_once(spec: Spec, params, state: dict, step: int) -> StepResult:
    # Overflow becomes inf/NaN silently here and is reported by check_finite, by name,
    # instead of as numpy RuntimeWarnings on stderr.
    with np.errstate(all="ignore"):
        result = _step(spec, params, state, step)
    check_finite(result, step, spec.file, _update_hint(spec))
    return result


def _update_hint(spec: Spec) -> str:
    """Why updated parameters would stop being finite numbers, in the user's terms."""
    opt = spec.optimizer
    if opt.name == "adam" and opt.eps.value == 0:
        return ("adam divides by sqrt(v_hat) + eps, which is 0/0 where a gradient is 0 and eps is 0: "
                "use eps > 0 (PyTorch's default is 1e-8)")
    if opt.name in ("rmsprop", "adagrad") and opt.eps.value == 0:
        return (f"{opt.name} divides by a square root + eps, which is 0/0 where a gradient is 0 and eps is 0: "
                f"use eps > 0 (PyTorch's default is {'1e-10' if opt.name == 'adagrad' else '1e-8'})")
    return f"the {opt.name} update diverged: try a smaller lr"


def _step(spec: Spec, params, state: dict, step: int) -> StepResult:
    zs, acts, derivs = forward(spec, params)
    loss = F.loss_value(spec.loss, spec.reduction, acts[-1], zs[-1], np.asarray(spec.target))
    layers = backward(spec, params, zs, acts, derivs)
    new_params, new_state = update(spec, params, layers, state, step)
    return StepResult(tuple(params), loss, tuple(layers), new_params, new_state)


def backward(spec: Spec, params, zs, acts, derivs, *, unit_layers=(), weights=None) -> list[LayerState]:
    """∂L/∂a, δ and the gradients of every layer, from the output down.

    The two keyword arguments re-run the pass with a classic mistake, for `check`'s
    diagnoses: `unit_layers` take σ′ = 1 (a softmax output skips its Jacobian) and
    `weights` replaces the weights δ is carried down through (the updated ones)."""
    t = np.asarray(spec.target)
    last = len(spec.layers) - 1
    dL_da = F.loss_grad(spec.loss, spec.reduction, acts[-1], t)
    if last in unit_layers:
        delta = dL_da.copy()
    else:
        delta = F.output_delta(spec.loss, spec.reduction, spec.layers[-1].activation.name, acts[-1], derivs[-1], dL_da, t)
    through = params if weights is None else weights
    layers: list[LayerState] = [None] * len(spec.layers)  # type: ignore[list-item]
    for l in range(last, -1, -1):
        if l < last:
            dL_da = delta @ through[l + 1][0]
            delta = dL_da if l in unit_layers else dL_da * derivs[l]
        source = np.asarray(spec.input) if l == 0 else acts[l - 1]
        kind = spec.layers[l].bias_kind
        grad_b = None if kind == "none" else (float(delta.sum()) if kind == "shared" else delta.sum(axis=0))
        layers[l] = LayerState(zs[l], acts[l], dL_da, derivs[l], delta, delta.T @ source, grad_b)
    return layers


def update(spec: Spec, params, layers, state: dict, step: int):
    """One optimizer step with PyTorch's semantics (SPEC §2)."""
    opt = spec.optimizer
    new_params, new_state = [], {}
    for l, (layer, (W, b), grads) in enumerate(zip(spec.layers, params, layers)):
        out = []
        for kind, p, g in (("w", W, grads.grad_w), ("b", b, grads.grad_b)):
            if p is None:
                out.append(None)
                continue
            if ("weights" if kind == "w" else "bias") in layer.freeze:
                out.append(p)
                continue
            out.append(optimizer_step(opt, p, g, state, new_state, (l, kind), step))
        new_params.append(tuple(out))
    return tuple(new_params), new_state


def optimizer_step(opt, p, g, state: dict, new_state: dict, key: tuple, step: int):
    """One parameter (array or float) after step `step` of `opt` with PyTorch's
    semantics; its state is read from `state` and written to `new_state` under
    (buf | m | v | sq | gavg | sum, *key)."""
    lr, wd = opt.lr.value, opt.weight_decay.value
    g = g + wd * p if wd else g
    if opt.name == "sgd":
        mu = opt.momentum.value
        if mu:
            prev = state.get(("buf",) + key)
            buf = g if prev is None else mu * prev + g
            new_state[("buf",) + key] = buf
            g = g + mu * buf if opt.nesterov else buf
        return p - lr * g
    if opt.name in ("rmsprop", "adagrad"):
        return p - adaptive_step(opt, g, state, new_state, key, step)
    b1, b2, eps = opt.beta1.value, opt.beta2.value, opt.eps.value
    m = b1 * state.get(("m",) + key, 0.0) + (1 - b1) * g
    v = b2 * state.get(("v",) + key, 0.0) + (1 - b2) * g * g
    new_state[("m",) + key] = m
    new_state[("v",) + key] = v
    m_hat = m / (1 - b1 ** step)
    v_hat = v / (1 - b2 ** step)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def adaptive_step(opt, g, state: dict, new_state: dict, key: tuple, step: int):
    """The amount RMSprop or Adagrad subtracts from a parameter whose (weight-decayed)
    gradient is g, as torch.optim computes it; their state goes into new_state under
    (sq | gavg | buf | sum, *key) — the prefixes of the canonical state names (sq_W5, …).

    RMSprop: sq = α·sq + (1 − α)·g², avg = √sq + ε (centered: √(sq − gavg²) + ε with
    gavg = α·gavg + (1 − α)·g); with momentum buf = μ·buf + g/avg and the step is lr·buf,
    else lr·g/avg. Adagrad: sum = sum + g² (sum starts at initial_accumulator_value), the
    step is clr·g/(√sum + ε) with clr = lr / (1 + (t − 1)·lr_decay). ε outside the root."""
    lr, eps = opt.lr.value, opt.eps.value
    if opt.name == "adagrad":
        total = state.get(("sum",) + key, opt.initial_accumulator_value.value) + g * g
        new_state[("sum",) + key] = total
        clr = lr / (1 + (step - 1) * opt.lr_decay.value)
        return clr * g / (np.sqrt(total) + eps)
    alpha = opt.alpha.value
    sq = alpha * state.get(("sq",) + key, 0.0) + (1 - alpha) * g * g
    new_state[("sq",) + key] = sq
    if opt.centered:
        gavg = alpha * state.get(("gavg",) + key, 0.0) + (1 - alpha) * g
        new_state[("gavg",) + key] = gavg
        avg = np.sqrt(sq - gavg * gavg) + eps
    else:
        avg = np.sqrt(sq) + eps
    if opt.momentum.value:
        buf = opt.momentum.value * state.get(("buf",) + key, 0.0) + g / avg
        new_state[("buf",) + key] = buf
        return lr * buf
    return lr * g / avg


def check_finite(result: StepResult, step: int, file: str | None = None,
                 update_hint: str = "the update diverged: try a smaller lr") -> None:
    """Non-finite numbers are an error naming the file, step and quantity (SPEC §8).

    Checked in the order they are computed, so the message names the first quantity
    that overflowed rather than one it spoiled downstream — but only once one check of
    everything at once has failed: sixteen small checks a step were a third of a
    100,000-step solve."""
    if _all_finite(result):
        return
    where = f"step {step}"
    for l, layer in enumerate(result.layers):
        for label, arr in (("z", layer.z), ("a", layer.a)):
            _finite(arr, f"{where}: {label} of layer {l + 1}", "the forward pass overflowed", file)
    if not np.isfinite(result.loss):
        raise ComputeError(f"{where}: the loss is not a finite number (overflow)", file=file)
    for l in range(len(result.layers) - 1, -1, -1):
        layer = result.layers[l]
        for label, arr in (("dL/da", layer.dL_da), ("delta", layer.delta), ("dL/dW", layer.grad_w), ("dL/db", layer.grad_b)):
            if arr is not None:
                _finite(arr, f"{where}: {label} of layer {l + 1}", "the backward pass overflowed", file)
    for l, (W, b) in enumerate(result.new_params):
        for label, arr in (("the updated weights", W), ("the updated bias", b)):
            if arr is not None:
                _finite(
                    arr, f"{where}: {label} of layer {l + 1}",
                    update_hint, file,
                )


def _all_finite(result: StepResult) -> bool:
    """Whether every number check_finite looks at is finite, in one numpy pass."""
    parts = [np.ravel(result.loss)]
    for layer in result.layers:
        parts += [layer.z.ravel(), layer.a.ravel(), layer.dL_da.ravel(), layer.delta.ravel(), layer.grad_w.ravel()]
        if layer.grad_b is not None:
            parts.append(np.ravel(layer.grad_b))
    for W, b in result.new_params:
        parts += [np.ravel(p) for p in (W, b) if p is not None]
    try:
        return bool(np.isfinite(np.concatenate(parts)).all())
    except (TypeError, ValueError):  # anything unusual: the detailed checks decide
        return False


def _finite(arr, what: str, why: str, file: str | None) -> None:
    values = np.asarray(arr, dtype=np.float64)
    if np.isfinite(values).all():
        return
    bad = np.argwhere(~np.isfinite(values))[0] if values.ndim else ()
    value = values[tuple(bad)] if values.ndim else float(values)
    at = " at " + "".join(f"[{int(i)}]" for i in bad) if values.ndim else ""
    word = "NaN" if np.isnan(value) else ("+inf" if value > 0 else "-inf")
    raise ComputeError(f"{what}{at} is not a finite number ({word}): {why}", file=file)


def initial_params(spec: Spec) -> tuple:
    """The spec's parameters as writable float64 arrays (a shared bias stays a float)."""
    return tuple(
        (np.array(layer.weights), layer.bias if layer.bias_kind != "vector" else np.array(layer.bias))
        for layer in spec.layers
    )


def final_loss(spec: Spec, params) -> float:
    with np.errstate(all="ignore"):
        zs, acts, _ = forward(spec, params)
        loss = F.loss_value(spec.loss, spec.reduction, acts[-1], zs[-1], np.asarray(spec.target))
    if not np.isfinite(loss):
        raise ComputeError("the loss after the last step is not a finite number (overflow)", file=spec.file)
    return loss
