"""Spec → Trace: run the steps, record every quantity under its canonical name.

Float solves run the numpy engine (engine.py) and, for networks a person reads, build
the scalar derivation beside it with the engine's values. Hand-rounded (`--round D`)
and exact (`--exact`) solves run the scalar derivation alone under their number policy;
its values fill the same arrays. Either way the result is one frozen `Trace`.
"""
from __future__ import annotations

from typing import Callable, Iterator, Optional

import numpy as np

from . import engine
from .arithmetic import ExactArithmetic, FloatArithmetic, RoundedArithmetic
from .equations import Derivation
from .errors import BackpropError
from .names import NetworkNames, at
from .spec import MAX_STEPS, Spec
from .trace import LayerRecord, StepRecord, Trace

SCALAR_PARAMETER_LIMIT = 300  # above this: matrix detail, `named` holds only losses
SCALAR_SAMPLE_LIMIT = 64  # scalar equations for batches up to this size (on request)
RECORD_ALL_STEPS = 1000  # above this, record steps 1–10 and the last (SPEC §5)
POLICY_STEP_LIMIT = 1000  # --round / --exact evaluate scalar equations: bounded work
EXACT_PARAMETER_LIMIT = 60  # beyond this, closed forms stop being readable


def recorded_steps(total: int) -> list[int]:
    if total <= RECORD_ALL_STEPS:
        return list(range(1, total + 1))
    return list(range(1, 11)) + [total]


def resolve_detail(spec: Spec, detail: str, policy: str) -> str:
    small = spec.parameter_count <= SCALAR_PARAMETER_LIMIT
    if detail == "auto":
        if policy != "float":
            return "scalar"
        return "scalar" if small and spec.samples == 1 else "matrix"
    return detail


def solve(
    spec: Spec,
    *,
    steps: Optional[int] = None,
    round_digits: Optional[int] = None,
    exact: bool = False,
    detail: str = "auto",
    symbolic: bool = False,
    progress: Optional[Callable[[int, int], None]] = None,
) -> Trace:
    """Solve a network spec. `progress(done, total)` is called after each step;
    `symbolic` adds each step-1 gradient as a simplified formula (symbolic.py)."""
    trace = _solve(spec, steps, round_digits, exact, detail, progress)
    if not symbolic:
        return trace
    if round_digits is not None:
        raise BackpropError("--symbolic evaluates its formulas in float64: it cannot be combined with --round")
    if trace.detail != "scalar":
        raise BackpropError("--symbolic needs the scalar derivation: one sample and a small network (or --detail scalar)")
    from dataclasses import replace

    from .symbolic import symbolic_gradients

    formulas = symbolic_gradients(trace.steps[0].equations, trace.named, spec.parameter_count)
    return replace(trace, symbolic=formulas)


def _solve(spec, steps, round_digits, exact, detail, progress) -> Trace:
    total = steps if steps is not None else spec.steps
    if not 1 <= total <= MAX_STEPS:
        raise BackpropError(f"steps must be 1…{MAX_STEPS}, got {total}")
    if round_digits is not None and exact:
        raise BackpropError("--round and --exact cannot be combined: choose one number policy")
    policy = "exact" if exact else "round" if round_digits is not None else "float"
    _check_policy(spec, policy, total, round_digits)
    detail = resolve_detail(spec, detail, policy)
    if detail not in ("scalar", "matrix"):
        raise BackpropError(f"--detail must be scalar, matrix or auto, got {detail!r}")
    if detail == "scalar" and (
        spec.parameter_count > 20 * SCALAR_PARAMETER_LIMIT or spec.samples > SCALAR_SAMPLE_LIMIT
    ):
        raise BackpropError(
            f"--detail scalar: this network ({spec.parameter_count} parameters, {spec.samples} samples) "
            "is too large to spell out weight by weight; use --detail matrix"
        )
    names = NetworkNames.of(spec)
    recorded = recorded_steps(total)
    if policy == "float":
        return _solve_float(spec, names, total, recorded, detail, progress)
    arith = ExactArithmetic() if exact else RoundedArithmetic(round_digits)
    return _solve_policy(spec, names, total, recorded, arith, round_digits, progress)


def _check_policy(spec: Spec, policy: str, total: int, digits: Optional[int]) -> None:
    if policy == "float":
        return
    flag = "--exact" if policy == "exact" else "--round"
    if policy == "round" and spec.optimizer.name == "adam":
        raise BackpropError(
            "--round is not available with adam: its square roots and bias corrections are not "
            "hand arithmetic (drop --round, or use sgd)"
        )
    if policy == "round" and not 0 <= digits <= 12:
        raise BackpropError(f"--round takes 0…12 decimals, got {digits}")
    if total > POLICY_STEP_LIMIT:
        raise BackpropError(f"{flag} evaluates every equation: at most {POLICY_STEP_LIMIT} steps, got {total}")
    if spec.samples > SCALAR_SAMPLE_LIMIT or spec.parameter_count > SCALAR_PARAMETER_LIMIT:
        raise BackpropError(
            f"{flag} spells out every scalar equation: at most {SCALAR_PARAMETER_LIMIT} parameters and "
            f"{SCALAR_SAMPLE_LIMIT} samples (this network has {spec.parameter_count} and {spec.samples})"
        )
    if policy == "exact" and spec.parameter_count > EXACT_PARAMETER_LIMIT:
        raise BackpropError(
            f"--exact: {spec.parameter_count} parameters is too big for readable exact arithmetic "
            f"(limit {EXACT_PARAMETER_LIMIT}); drop --exact for float64"
        )


# ------------------------------------------------------------------------------------------
# float


def _solve_float(spec, names, total, recorded, detail, progress) -> Trace:
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
    _loss_names(named, losses)

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


def _loss_names(named: dict, losses: list[float]) -> None:
    total = len(losses) - 1
    for s in range(1, total + 1):
        named[at("loss", s)] = losses[s - 1]
        named[f"loss_after@{s}"] = losses[s]  # after step s (SPEC §3)
    named["loss_after"] = losses[total]  # bare: after the last step


# ------------------------------------------------------------------------------------------
# names ↔ arrays


def _slots(spec: Spec, names: NetworkNames, s: int) -> Iterator[tuple[str, tuple]]:
    """Every per-step canonical name with where its value lives in a StepResult."""
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
    return _param_value(source, index)


def _param_value(pair, index: tuple) -> float:
    if index[0] == "w":
        return float(pair[0][index[1], index[2]])
    b = pair[1]
    return float(b) if np.ndim(b) == 0 else float(b[index[1]])


def _named_from_result(spec, names, result: engine.StepResult, s: int) -> dict[str, float]:
    named = {name: _get(result, slot) for name, slot in _slots(spec, names, s)}
    named.update(_state_names(spec, names, result.state, s))
    return named


def _state_names(spec, names, state: dict, s: int) -> dict[str, float]:
    out = {}
    for (kind, l, which), arr in state.items():
        pair = (arr, None) if which == "w" else (None, arr)
        for name, index in names.parameters(l):
            if index[0] == which:
                out[at(f"{kind}_{name}", s)] = _param_value(pair, index)
    return out


# ------------------------------------------------------------------------------------------
# hand-rounded / exact


def _solve_policy(spec, names, total, recorded, arith, digits, progress) -> Trace:
    d = Derivation(spec, arith)
    equations: dict[int, tuple] = {}
    for s in range(1, total + 1):
        start = len(d.equations)
        d.step(s)
        equations[s] = tuple(d.equations[start:])
        if progress:
            progress(s, total)
    start = len(d.equations)
    d.after(total)
    after = tuple(d.equations[start:])
    floats = {name: arith.to_float(value) for name, value in d.env.items()}
    losses = [floats[at("loss", s)] for s in range(1, total + 1)] + [floats["loss_after"]]
    named = dict(floats)
    _loss_names(named, losses)
    steps = tuple(
        _record(spec, _result_from_names(spec, names, floats, s), s, equations[s]) for s in recorded
    )
    exact = dict(d.env) if arith.name == "exact" else {}
    return Trace(
        name=spec.name, spec=spec, steps=steps, losses=tuple(losses), named=named,
        after_equations=after, detail="scalar", policy=arith.name, digits=digits, exact=exact,
    )


def _result_from_names(spec, names, values: dict[str, float], s: int) -> engine.StepResult:
    N = spec.samples
    layers, params, new_params = [], [], []
    for l, layer in enumerate(spec.layers):
        arrays = {f: np.zeros((N, layer.units)) for f in ("z", "a", "dL_da", "delta", "da_dz")}
        pairs = {k: [np.zeros_like(layer.weights), None if layer.bias is None else np.zeros(np.shape(layer.bias))]
                 for k in ("param", "grad", "new")}
        layers.append((arrays, pairs))
    for name, slot in _slots(spec, names, s):
        kind, l = slot[0], slot[1]
        arrays, pairs = layers[slot[1]]
        value = values[name]
        if kind in arrays:
            arrays[kind][slot[2], slot[3]] = value
        else:
            index = slot[2:]
            pair = pairs[kind]
            if index[0] == "w":
                pair[0][index[1], index[2]] = value
            elif len(index) == 1:
                pair[1] = np.float64(value)
            else:
                pair[1][index[1]] = value
    states = []
    for l, (arrays, pairs) in enumerate(layers):
        softmax = spec.layers[l].activation.name == "softmax"
        gb = pairs["grad"][1]
        states.append(engine.LayerState(
            arrays["z"], arrays["a"], arrays["dL_da"], None if softmax else arrays["da_dz"],
            arrays["delta"], pairs["grad"][0], None if gb is None else (float(gb) if np.ndim(gb) == 0 else gb),
        ))
        params.append(tuple(pairs["param"]))
        new_params.append(tuple(pairs["new"]))
    loss = values[at("loss", s)]
    return engine.StepResult(tuple(params), loss, tuple(states), tuple(new_params), {})


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
