"""The float64 solve on the numpy engine: big networks, batches, long runs.

`solve.py` sends here every float solve its numpy-free path does not take: networks
past SCALAR_PARAMETER_LIMIT, matrix detail, runs past RECORD_ALL_STEPS, and anything
whose printed formulas overflow in plain float arithmetic (the engine is stable at any
|z| and names the first non-finite quantity). The engine's arrays fill the records; the
canonical names are read out of them (`names.step_slots`).
"""
from __future__ import annotations

import numpy as np

from . import engine
from ..calc.arithmetic import FloatArithmetic
from .equations import Derivation
from .names import SCALAR_PARAMETER_LIMIT, at, loss_names, parameter_value, step_slots
from .spec import Spec
from ..trace import LayerRecord, StepRecord, Trace


def solve_with_engine(spec, names, total, recorded, detail, progress) -> Trace:
    """Run every step on the engine; build the scalar derivation of the recorded steps
    beside it (lookup mode: its values are the engine's)."""
    params = engine.initial_params(spec)
    state: dict = {}
    losses: list[float] = []
    results: dict[int, engine.StepResult] = {}
    previous_state: dict[int, dict] = {}
    keep = set(recorded)
    for s in range(1, total + 1):
        if s in keep and s > 1:
            previous_state[s] = state
        result = engine.step_once(spec, params, state, s)
        losses.append(result.loss)
        if s in keep:
            results[s] = result
        params, state = result.new_params, result.state
        if progress:
            progress(s, total)
    losses.append(engine.final_loss(spec, params))

    small = spec.parameter_count <= SCALAR_PARAMETER_LIMIT
    named: dict[str, float] = {}
    if small or detail == "scalar":
        for s in recorded:
            named.update(_named_from_result(spec, names, results[s], s))
            if s > 1:
                named.update(_state_names(spec, names, previous_state[s], s - 1))
    loss_names(named, losses)

    equations: dict[int, tuple] = {}
    after = ()
    if detail == "scalar":
        d = Derivation(spec, FloatArithmetic(), lookup={**named, **_after_names(spec, names, params, total + 1)})
        for s in recorded:
            start = len(d.equations)
            d.step(s)
            equations[s] = tuple(d.equations[start:])
        start = len(d.equations)
        d.after(total)
        after = tuple(d.equations[start:])
        for name, value in d.env.items():
            named.setdefault(name, float(value))
        if not small:
            named = {k: v for k, v in named.items() if k.startswith("loss")}
    steps = tuple(_record(spec, results[s], s, equations.get(s, ())) for s in recorded)
    return Trace(
        name=spec.name, spec=spec, steps=steps, losses=tuple(losses), named=named,
        after_equations=after, detail=detail, policy="float",
    )


def _after_names(spec, names, params, s: int) -> dict[str, float]:
    """z and a of the forward pass after the last step, from the engine (stable at any |z|)."""
    zs, acts, _ = engine.forward(spec, params)
    out = {}
    for l, layer in enumerate(spec.layers):
        for n in range(spec.samples):
            for j in range(layer.units):
                neuron = names.neuron(l, j)
                out[at(names.sample(f"z{neuron}", n), s)] = float(zs[l][n, j])
                out[at(names.sample(f"a{neuron}", n), s)] = float(acts[l][n, j])
    return out


# ------------------------------------------------------------------------------------------
# names ↔ arrays


def _get(result: engine.StepResult, slot: tuple) -> float:
    kind, l = slot[0], slot[1]
    if kind in ("z", "a", "dL_da", "delta", "da_dz"):
        field = {"dL_da": "dL_da", "da_dz": "da_dz"}.get(kind, kind)
        return float(getattr(result.layers[l], field)[slot[2], slot[3]])
    index = slot[2:]
    if kind == "param":
        source = result.params[l]
    elif kind == "new":
        source = result.new_params[l]
    else:
        source = (result.layers[l].grad_w, result.layers[l].grad_b)
    return parameter_value(source[0], source[1], index)


def _named_from_result(spec, names, result: engine.StepResult, s: int) -> dict[str, float]:
    named = {name: _get(result, slot) for name, slot in step_slots(spec, names, s)}
    named.update(_state_names(spec, names, result.state, s))
    return named


def _state_names(spec, names, state: dict, s: int) -> dict[str, float]:
    out = {}
    for (kind, l, which), arr in state.items():
        pair = (arr, None) if which == "w" else (None, arr)
        for name, index in names.parameters(l):
            if index[0] == which:
                out[at(f"{kind}_{name}", s)] = parameter_value(pair[0], pair[1], index)
    return out


def _record(spec: Spec, result: engine.StepResult, s: int, equations: tuple) -> StepRecord:
    layers = []
    for l, (layer, st) in enumerate(zip(spec.layers, result.layers)):
        W, b = result.params[l]
        W_new, b_new = result.new_params[l]
        layers.append(LayerRecord(
            layer=l + 1, activation=layer.activation.name, z=st.z, a=st.a, dL_da=st.dL_da,
            da_dz=None if layer.activation.name == "softmax" else st.da_dz, delta=st.delta,
            weights_before=W, bias_before=_bias_form(b), grad_weights=st.grad_w,
            grad_bias=_bias_form(st.grad_b), weights=W_new, bias=_bias_form(b_new),
            frozen=layer.freeze,
        ))
    return StepRecord(step=s, loss=result.loss, layers=tuple(layers), equations=equations)


def _bias_form(b):
    if b is None:
        return None
    return float(b) if np.ndim(b) == 0 else np.asarray(b, dtype=np.float64)
