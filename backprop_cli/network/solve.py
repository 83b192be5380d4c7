"""Spec → Trace: run the steps, record every quantity under its canonical name.

A network a person reads by hand — small, spelled out scalar by scalar, at most
RECORD_ALL_STEPS steps — is solved by the scalar derivation alone (equations.py): every
value is its printed expression evaluated under the number policy (float64, `--round
D`, `--exact`), and numpy is never imported. Everything else, and any float solve whose
printed formulas overflow, runs on the numpy engine (solve_engine.py), which PyTorch
parity is measured against. Either way the result is one frozen `Trace`.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from ..calc.arithmetic import ExactArithmetic, FloatArithmetic, RoundedArithmetic
from .equations import Derivation
from ..errors import BackpropError, ComputeError
from ..grid import Grid
from .names import SCALAR_PARAMETER_LIMIT, NetworkNames, at, loss_names, step_slots
from .spec import MAX_STEPS, Spec
from ..trace import LayerRecord, StepRecord, Trace

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
    with _collection_paused():
        trace = _solve(spec, steps, round_digits, exact, detail, progress)
    if not symbolic:
        return trace
    if round_digits is not None:
        raise BackpropError("--symbolic evaluates its formulas in float64: it cannot be combined with --round")
    if trace.detail != "scalar":
        raise BackpropError("--symbolic needs the scalar derivation: one sample and a small network (or --detail scalar)")
    from ..frozen import replace

    from ..calc.symbolic import symbolic_gradients

    formulas = symbolic_gradients(trace.steps[0].equations, trace.named, spec.parameter_count)
    return replace(trace, symbolic=formulas)


@contextmanager
def _collection_paused() -> Iterator[None]:
    """A derivation allocates millions of long-lived, acyclic objects (expression
    trees, equations); CPython's cyclic collector rescans the growing heap again and
    again while they are built — 60 % of a 287-parameter, 50-step solve. Nothing a
    solve builds is cyclic, so collection waits until it returns, and what it built
    then joins the oldest generation (freeze + unfreeze: O(1)) instead of being
    scanned once more as young objects. Refcounting frees the trace as usual.

    Where objects were already frozen (the CLI freezes its start-up, entry.py), the
    solve's join them: unfreezing would hand the whole start-up heap back to the
    collector."""
    enabled = gc.isenabled()
    already_frozen = gc.get_freeze_count() > 0
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if not already_frozen:
            gc.unfreeze()
        if enabled:
            gc.enable()


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
        if detail == "scalar" and total <= RECORD_ALL_STEPS and spec.parameter_count <= SCALAR_PARAMETER_LIMIT:
            try:
                return _solve_policy(spec, names, total, recorded, FloatArithmetic(), None, progress)
            except ComputeError:
                pass  # a printed form overflowed: the engine is stable, or names the culprit
        from .solve_engine import solve_with_engine

        return solve_with_engine(spec, names, total, recorded, detail, progress)
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
# the derivation alone: float64 for small networks, hand-rounded, exact


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
    loss_names(named, losses)
    steps = tuple(_record_from_names(spec, names, floats, s, equations[s]) for s in recorded)
    exact = dict(d.env) if arith.name == "exact" else {}
    return Trace(
        name=spec.name, spec=spec, steps=steps, losses=tuple(losses), named=named,
        after_equations=after, detail="scalar", policy=arith.name, digits=digits, exact=exact,
    )


def _record_from_names(spec: Spec, names: NetworkNames, values: dict[str, float], s: int,
                       equations: tuple) -> StepRecord:
    """A step's arrays, gathered from the derivation's canonical names into Grids."""
    cells: list[dict] = [{} for _ in spec.layers]  # per layer: slot without the layer → value
    for name, slot in step_slots(spec, names, s):
        cells[slot[1]][(slot[0],) + slot[2:]] = values[name]
    layers = []
    for l, (layer, cell) in enumerate(zip(spec.layers, cells)):
        units = range(layer.units)

        def per_unit(field: str) -> Grid:
            return Grid.matrix([cell[(field, n, j)] for j in units] for n in range(spec.samples))

        def parameters(kind: str):
            weights = Grid.matrix([cell[(kind, "w", j, i)] for i in range(layer.fan_in)] for j in units)
            if layer.bias_kind == "none":
                return weights, None
            if layer.bias_kind == "shared":
                return weights, cell[(kind, "b")]
            return weights, Grid.vector(cell[(kind, "b", j)] for j in units)

        softmax = layer.activation.name == "softmax"
        W, b = parameters("param")
        grad_W, grad_b = parameters("grad")
        W_new, b_new = parameters("new")
        layers.append(LayerRecord(
            layer=l + 1, activation=layer.activation.name, z=per_unit("z"), a=per_unit("a"),
            dL_da=per_unit("dL_da"), da_dz=None if softmax else per_unit("da_dz"),
            delta=per_unit("delta"), weights_before=W, bias_before=b, grad_weights=grad_W,
            grad_bias=grad_b, weights=W_new, bias=b_new, frozen=layer.freeze,
        ))
    return StepRecord(step=s, loss=values[at("loss", s)], layers=tuple(layers), equations=equations)
