"""The cost of a run, estimated from the spec before any of the work (docs/limits.md).

A small file can ask for a great deal: 300 parameters over 1,000 steps spell out five
million scalar equation nodes; one 100×100 layer aliased 190 times is two million
numbers; a 1,500-node graph of order 2 differentiates every node once per leaf. So the
CLI asks `estimate_network` / `estimate_graph` first and refuses (exit 2, with the
estimate and what to change) a run whose estimate passes the documented budget — in
well under a second, instead of after minutes and gigabytes. `--no-limits` skips the
check for trusted files.

The estimate counts what the work is made of — expression nodes of the equations
spelled out (and printed), numbers the engine updates, numbers read from the file —
and converts the counts with per-unit costs measured on the reference machine (2 shared
cores, CPython 3.11; see docs/limits.md for the measurements). It is meant to be within
a factor of two, erring on the high side; the budget leaves that much headroom under
the promise (30 s, 2 GB).
"""
from __future__ import annotations

import math
from typing import Any, Optional

from .errors import BackpropError
from .frozen import frozen
from .network.cost import scalar_nodes_per_step

BUDGET_SECONDS = 20.0  # estimated; the promise is 30 s measured
BUDGET_MEGABYTES = 1000.0  # estimated peak; the promise is 2 GB measured
MAX_DOCUMENT_NODES = 1_000_000  # YAML values after alias expansion, checked before numbers are read

# Per-unit costs (seconds, bytes), measured on the probes of issue 17.
START_SECONDS, START_MB = 0.5, 60.0  # interpreter, imports, the file itself
READ_NUMBER = (2.4e-6, 80)  # one number of the spec, after alias expansion
DERIVE_NODE = {"float": (7e-6, 600), "round": (25e-6, 900), "exact": (60e-6, 1500)}  # one equation node
PRINT_NODE = {  # one equation node printed in a format (its text, operands, layout)
    "json": (25e-6, 400), "table": (90e-6, 300), "latex": (100e-6, 300), "markdown": (85e-6, 300),
}
PRINT_EXACT_NODE = 200e-6  # sympy canonicalises and prints each exact value (--exact)
ENGINE_STEP_LAYER = 90e-6  # numpy's fixed cost per layer per step (and the step's records)
ENGINE_CELL = 30e-9  # per parameter per sample per step (three matrix products)
PRINT_CELL = {  # one array value of a recorded step, printed (matrix detail)
    "json": (8e-6, 300), "table": (70e-6, 400), "latex": (35e-6, 1000), "markdown": (30e-6, 1000),
}
PRINT_LOSS = {"json": 5e-6, "table": 10e-6, "latex": 60e-6, "markdown": 30e-6}  # per step: loss tables, plots
DOCUMENT_STEPS = 3  # LaTeX and Markdown spell out the first steps and the last (render/common.py)
NAMED_LIMIT = 300  # SPEC §5: `named` holds every name up to this many parameters


@frozen
class Estimate:
    """What a run will cost: the counts it is made of and the time and memory they mean."""

    what: str  # "solve" | "check"
    counts: tuple[tuple[str, int], ...]  # (label, count), for the message
    seconds: float
    megabytes: float

    def within(self) -> bool:
        return self.seconds <= BUDGET_SECONDS and self.megabytes <= BUDGET_MEGABYTES

    def describe(self) -> str:
        parts = ", ".join(f"{count:,} {label}" for label, count in self.counts if count)
        return f"≈ {self.seconds:,.0f} s and {self.megabytes:,.0f} MB ({parts})"


def enforce(estimate: Estimate, advice: str) -> None:
    """Refuse a run whose estimate passes the budget (exit 2, one message)."""
    if estimate.within():
        return
    raise BackpropError(
        f"this {estimate.what} is estimated at {estimate.describe()}, past the budget of "
        f"{BUDGET_SECONDS:.0f} s and {BUDGET_MEGABYTES:,.0f} MB (docs/limits.md)\n"
        f"  hint: {advice}; or pass --no-limits if the file is trusted"
    )


def expanded_nodes(root) -> int:
    """Values of a composed YAML document with every alias expanded (memoised per node,
    no recursion; yamlsafe.check_tree has already refused cycles and bombs)."""
    import yaml

    sizes: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        kids = [x for pair in node.value for x in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        if ready:
            sizes[id(node)] = 1 + sum(sizes[id(k)] for k in kids)
        else:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in sizes)
    return sizes[id(root)]


def check_document(expanded_nodes: int, file: str) -> None:
    """Before any number is read: a document that expands (through aliases) to more
    values than MAX_DOCUMENT_NODES is refused — reading them alone takes seconds."""
    if expanded_nodes > MAX_DOCUMENT_NODES:
        seconds = START_SECONDS + expanded_nodes * READ_NUMBER[0]
        raise BackpropError(
            f"{file}: the document holds {expanded_nodes:,} values after alias expansion (limit "
            f"{MAX_DOCUMENT_NODES:,}); reading them alone takes ≈ {seconds:,.0f} s (docs/limits.md)\n"
            "  hint: pass --no-limits if the file is trusted"
        )


# ------------------------------------------------------------------------------------------
# networks


def spec_numbers(spec) -> int:
    """Numbers a network spec holds: parameters, inputs and targets."""
    if is_graph(spec):
        return len(spec.nodes)
    return spec.parameter_count + spec.samples * (spec.layers[0].fan_in + spec.outputs)


def estimate_network(spec, *, steps: int, detail: str, policy: str, fmt: str, numbers: int,
                     what: str = "solve") -> Estimate:
    """A network solve (and its printing in `fmt`; None: not printed, as in `check`)."""
    from .network.solve import RECORD_ALL_STEPS, recorded_steps
    from .network.names import SCALAR_PARAMETER_LIMIT

    recorded = len(recorded_steps(steps))
    P, N, L = spec.parameter_count, spec.samples, len(spec.layers)
    seconds, megabytes = START_SECONDS + numbers * READ_NUMBER[0], START_MB + numbers * READ_NUMBER[1] / 1e6
    counts = [("numbers read", numbers)]
    if fmt is not None:
        seconds += steps * PRINT_LOSS[fmt]
    scalar = detail == "scalar"
    # the engine runs every step for float solves it takes (solve.py's choice of path)
    engine = policy == "float" and (not scalar or steps > RECORD_ALL_STEPS or P > SCALAR_PARAMETER_LIMIT)
    if engine:
        seconds += steps * (L * ENGINE_STEP_LAYER + N * P * ENGINE_CELL)
        megabytes += recorded * N * P * 5 * 8 / 1e6 + recorded * P * 4 * 8 / 1e6
        counts.append(("engine steps × parameters", steps * N * P))
    if scalar:
        derived = recorded * scalar_nodes_per_step(spec)
        cost, size = DERIVE_NODE[policy]
        seconds += derived * cost
        megabytes += derived * size / 1e6
        counts.append(("equation nodes", derived))
        if fmt is not None:
            shown = derived if fmt in ("json", "table") else min(recorded, DOCUMENT_STEPS) * scalar_nodes_per_step(spec)
            cost, size = PRINT_NODE[fmt]
            seconds += shown * cost
            megabytes += shown * size / 1e6
            if policy == "exact":
                seconds += (derived if fmt == "json" else shown) * PRINT_EXACT_NODE
    elif fmt is not None:
        shown_steps = recorded if fmt in ("json", "table") else min(recorded, DOCUMENT_STEPS)
        cells = shown_steps * (N * sum(layer.units for layer in spec.layers) * 5 + 4 * P)
        cost, size = PRINT_CELL[fmt]
        seconds += cells * cost
        megabytes += cells * size / 1e6
        counts.append(("printed values", cells))
    if P <= NAMED_LIMIT and policy == "float" and not scalar:
        # `named` (and check's lookups) hold every canonical name of every recorded step
        names = recorded * (N * sum(layer.units for layer in spec.layers) * 5 + 3 * P)
        seconds += names * (2e-6 + (12e-6 if fmt == "json" else 0.0))  # read out; JSON prints each
        megabytes += names * 300 / 1e6
        counts.append(("named values", names))
    return Estimate(what, tuple(counts), seconds, megabytes)


def network_advice(spec, steps: int, detail: str, policy: str) -> str:
    if policy != "float":
        return f"use fewer steps (--steps), or drop --{'exact' if policy == 'exact' else 'round'}"
    if detail == "scalar":
        return "use --detail matrix (layer-level equations) or fewer steps (--steps)"
    return "use fewer steps (--steps) or a smaller network"


# ------------------------------------------------------------------------------------------
# typed layers by hand (--round D)

# Hand arithmetic on typed layers (network/hand.py) runs on NumPy object arrays of Decimal;
# measured on the reference machine: 0.11 µs per multiply-add of an object matrix
# product, 0.8 µs per number rounded, 2 µs per function value, ~40 µs per parameter
# element through the optimizer's equations. Costs below carry the factor-of-two headroom.
HAND_MAC = 0.25e-6
HAND_NUMBER = (3e-6, 400)  # one number written down: rounded, held as a Decimal in the caches
HAND_UPDATE = 100e-6


def layered_work(spec) -> tuple[int, int, int]:
    """(multiply-adds in object matrix products, numbers written down, parameter
    elements updated) of one hand-rounded step of a typed-layer spec. Convolutions run
    as float64 kernels on integers (exact): only their numbers count."""
    import numpy as np

    N = int(np.shape(spec.input)[0])
    macs = numbers = params = 0
    for layer in spec.layers:
        size_in, size_out = int(np.prod(layer.in_shape)), int(np.prod(layer.out_shape))
        count = sum(int(np.size(v)) for v in layer.params.values())
        params += count
        numbers += 8 * N * (size_in + size_out) + 4 * count
        if layer.type == "dense":
            macs += 3 * N * size_out * layer.in_shape[-1]
        elif layer.type in ("rnn", "lstm"):
            T, F = layer.in_shape[0], layer.in_shape[-1]
            gates = layer.params["W_hh"].shape[0]
            hidden = layer.params["W_hh"].shape[1]
            macs += 3 * N * T * gates * (F + hidden)
            numbers += 12 * N * T * gates + 3 * T * count
    return macs, numbers, params


def hand_cost(spec, runs: int) -> tuple[float, float]:
    """(seconds, megabytes) of `runs` hand-rounded passes over a typed-layer spec, on top
    of the float64 work estimate_layered counts."""
    macs, numbers, params = layered_work(spec)
    seconds = runs * (macs * HAND_MAC + numbers * HAND_NUMBER[0] + params * HAND_UPDATE)
    return seconds, runs * numbers * HAND_NUMBER[1] / 1e6


# ------------------------------------------------------------------------------------------
# graphs


GRAPH_PRINT_NODE = {"json": (40e-6, 400), "table": (300e-6, 400), "latex": (200e-6, 400), "markdown": (200e-6, 400)}
GRAPH_NODE = {"float": (40e-6, 700), "round": (80e-6, 900), "exact": (150e-6, 1500)}  # graph equation nodes


def graph_counts(spec) -> tuple[int, int]:
    """(equation nodes of the first-order solve, of the second-order part), from the
    written expressions: each local gradient is about twice its expression; order 2
    differentiates each node once per `wrt` leaf it depends on (leaf sets as bitsets)."""
    from .graph.solve import expression_size

    first = 0
    consumers = 0
    leaf_bit = {x: 1 << i for i, x in enumerate(spec.wrt)}
    depends: dict[str, int] = {}
    pairs = 0
    for node in spec.nodes:
        if node.is_leaf:
            depends[node.name] = leaf_bit.get(node.name, 0)
            continue
        size, _ = expression_size(node.expr)
        inputs = node.inputs
        first += size + len(inputs) * 2 * size
        consumers += len(inputs)
        mask = 0
        for p in inputs:
            mask |= depends.get(p, 0)
        depends[node.name] = mask
        if spec.order == 2:
            pairs += bin(mask).count("1") * (size + 2)
    return first + 3 * consumers, pairs


# Tensor graphs (and gradient descent on them): per array cell a derivation touches —
# every leaf, and every computed node's operands and result or its multiply-adds when
# more (a convolution's), three times (forward, backward, their records) — measured on
# least squares with X 100×100 (bench/bench_tensor_minimize.py's spec): float64 0.1 s
# and 10.5 MB a step to JSON, --round 1.8 s and 60 MB a step; bench_conv.py's graph
# under --round 4: 21 s and 0.9 GB (docs/limits.md).
TENSOR_CELL = {"float": (0.5e-6, 60), "round": (30e-6, 1400), "exact": (70e-6, 2800)}  # derive one cell
TENSOR_PRINT_CELL = {"json": (1.6e-6, 150), "table": (0.2e-6, 10), "latex": (0.2e-6, 10), "markdown": (0.2e-6, 10)}
TENSOR_OPERATION = 150e-6  # NumPy's fixed cost per operation and equation record (forward, backward, update)


def tensor_cells(spec) -> tuple[int, int]:
    """(array cells one derivation of a tensor graph touches, operations it records),
    from the leaves' shapes alone (the shapes were checked when the spec was read)."""
    from .calc.expr import refs
    from .graph.solve import expression_size
    from .tensor.tape import infer_shape

    shapes: dict[str, tuple[int, ...]] = {}
    cells = operations = 0
    size = math.prod
    for node in spec.nodes:
        if node.is_leaf:
            shapes[node.name] = node.shape
            cells += size(node.shape)
            continue
        try:
            shapes[node.name] = infer_shape(node.expr, shapes)
            terms = expression_terms(node.expr, shapes)
        except Exception:  # the solve reports it, with its own message
            shapes[node.name], terms = (), 0
        cells += max(terms, size(shapes[node.name]) + sum(size(shapes[r]) for r in refs(node.expr)))
        operations += expression_size(node.expr)[0]
    return cells, operations


def expression_terms(e, shapes: dict) -> int:
    """Scalar multiply-adds of one tensor expression: a matrix product's result times its
    inner dimension, a convolution's result times its kernel's size (C·kh·kw), any other
    operation the larger of its result and its operands — what --round spells out as
    element equations, and what NumPy runs through."""
    from .calc.expr import Bin, Call, children
    from .tensor.tape import infer_shape

    total = 0
    stack = [e]
    while stack:
        n = stack.pop()
        kids = children(n)
        if not kids:
            continue
        stack += kids
        result = math.prod(infer_shape(n, shapes))
        if isinstance(n, Bin) and n.op == "@":
            total += result * (infer_shape(n.left, shapes) or (1,))[-1]
        elif isinstance(n, Call) and n.fn in ("conv2d", "conv1d") and len(n.args) >= 2:
            total += result * math.prod(infer_shape(n.args[1], shapes)[1:])
        else:
            total += max(result, sum(math.prod(infer_shape(k, shapes)) for k in kids))
    return total


def estimate_graph(spec, *, policy: str, fmt: Optional[str], what: str = "solve",
                   steps: Optional[int] = None) -> Estimate:
    """A graph solve (and its printing in `fmt`; None: not printed, as in `check`).
    Gradient descent (`minimize:`) repeats the derivation `steps` times (default: the
    spec's), plus the update of every parameter and the forward pass after the last."""
    first, second = graph_counts(spec)
    total = (steps or spec.steps) if getattr(spec, "minimize", None) else 1
    runs = total + (1 if total > 1 or getattr(spec, "minimize", None) else 0)
    nodes = (first + second) * runs
    cost, size = GRAPH_NODE[policy]
    seconds = START_SECONDS + nodes * cost
    megabytes = START_MB + nodes * size / 1e6
    if fmt is not None:
        cost, size = GRAPH_PRINT_NODE[fmt]
        shown = nodes if fmt in ("json", "table") or not getattr(spec, "tensor", False) else \
            (first + second) * min(runs, DOCUMENT_STEPS + 1)
        seconds += shown * cost
        megabytes += shown * size / 1e6
        if policy == "exact":
            seconds += nodes * PRINT_EXACT_NODE
    counts = [("graph nodes", len(spec.nodes)), ("equation nodes", nodes), ("second-order nodes", second)]
    if getattr(spec, "tensor", False):
        cells, operations = tensor_cells(spec)
        parameters = sum(math.prod(spec.node(p).shape) for p in spec.wrt) if getattr(spec, "minimize", None) else 0
        per_step = 3 * cells + 6 * parameters  # forward and backward; the update's states and operands
        touched = per_step * runs
        cost, size = TENSOR_CELL[policy]
        seconds += touched * cost + runs * 3 * operations * TENSOR_OPERATION
        megabytes += touched * size / 1e6
        counts.append(("array cells", touched))
        if fmt is not None:
            cost, size = TENSOR_PRINT_CELL[fmt]
            printed = touched if fmt == "json" else per_step * min(runs, DOCUMENT_STEPS + 1)
            seconds += printed * cost
            megabytes += printed * size / 1e6
    return Estimate(what, tuple(counts), seconds, megabytes)


def graph_advice(spec) -> str:
    if getattr(spec, "minimize", None):
        return "use fewer steps (steps: or --steps), smaller tensors, or drop --round/--exact"
    if spec.order == 2:
        return "use order: 1, or fewer `wrt` leaves for the second derivatives"
    return "split the graph into smaller specs"


def is_graph(spec: Any) -> bool:
    return getattr(spec, "kind", "network") == "graph" or type(spec).__name__ == "GraphSpec"


# ------------------------------------------------------------------------------------------
# typed layers (conv, pooling, norm, dropout, rnn, lstm: network/typed_solve.py)

# Measured on generated conv2d/max-pool, LSTM, RNN and dense+dropout specs (docs/limits.md):
# the cost is the numbers a step records — every element of every layer's output,
# upstream gradient, parameters (before, gradient, after), extras (z, x̂, h, c, gates,
# BPTT shares) and optimizer states, each a named value — ≈ 2 µs each to solve, ≈ 8 µs
# each to print as JSON (5 µs in a table, LaTeX or Markdown, which write at most three
# steps); ≈ 200 B each held, ≈ 550 B more while JSON is built. JSON is counted at 12 µs:
# RNN/LSTM documents measured up to 1.7× the 8 µs of conv and dense ones.
LAYERED_NAMED = (2e-6, 200)
LAYERED_PRINT = {"json": (12e-6, 550), "table": (5e-6, 150), "latex": (5e-6, 150), "markdown": (5e-6, 150)}
# One multiply-add of a layer's forward or backward pass (NumPy einsum/matmul); hand
# rounding is costed by hand_cost() above, from its own measurements.
LAYERED_MAC = {"float": (2e-9, 0), "exact": (60e-6, 1500)}
LAYERED_LOOP = 5e-6  # one Python-level iteration (a max-pool window's routing, an RNN time step's ops)
_STATE_COPIES = {"sgd": 0, "adam": 2, "adagrad": 1}


def layered_counts(spec, steps: int) -> dict[str, int]:
    """(named values, multiply-adds, Python iterations) of a typed-layer solve of `steps`
    steps, from the layers' shapes alone — what typed_solve records per step."""
    N = spec.samples
    opt = spec.optimizer
    if opt.name == "rmsprop":
        states = 1 + bool(opt.centered) + bool(opt.momentum.value)
    elif opt.name == "sgd":
        states = 1 if opt.momentum.value else 0
    else:
        states = _STATE_COPIES.get(opt.name, 2)
    named = macs = loops = 0
    for layer in spec.layers:
        size_in, size_out = math.prod(layer.in_shape), math.prod(layer.out_shape)
        P = sum(math.prod(p.shape) for p in layer.params.values())
        named += 2 * N * size_out + (3 + states) * P
        kind = layer.type
        if kind in ("dense", "conv2d", "conv1d"):
            named += N * size_out  # z
            if kind == "dense":
                macs += N * size_out * layer.in_shape[-1]
            else:
                W = layer.params["weights"]
                macs += N * size_out * math.prod(W.shape[1:])
                loops += 3 * math.prod(W.shape[2:])  # one einsum per kernel position, forward and backward
        elif kind in ("maxpool2d", "avgpool2d"):
            macs += N * size_out * math.prod(layer.kernel)
            loops += N * size_out if kind == "maxpool2d" else 2 * math.prod(layer.kernel)  # routing per window
        elif kind in ("batchnorm", "layernorm"):
            named += N * size_in + 2 * (layer.in_shape[0] if kind == "batchnorm" else N)
            macs += 10 * N * size_in
        elif kind in ("rnn", "lstm"):
            T, features = layer.in_shape[0], layer.in_shape[-1]
            H = layer.params["W_hh"].shape[1]
            gates = 4 if kind == "lstm" else 1
            named += (7 if kind == "lstm" else 2) * N * T * H + T * P  # h, c, dL/dh, gates; BPTT shares
            macs += N * T * gates * H * (features + H)
            loops += 40 * T
        else:
            macs += N * size_in
    macs *= 3  # forward, and the backward pass's two products
    named += spec.samples * (math.prod(spec.input.shape[1:]) + math.prod(spec.target.shape[1:]))
    return {"named": named * steps, "named_step": named, "macs": macs * steps, "loops": loops * steps}


def estimate_layered(spec, *, steps: Optional[int] = None, fmt: Optional[str], policy: str = "float",
                     what: str = "solve") -> Estimate:
    """A typed-layer solve (and its printing in `fmt`; None: not printed, as in `check`).
    `policy`: "round" when typed layers are hand-rounded (each multiply-add an equation)."""
    total = steps or spec.steps
    c = layered_counts(spec, total)
    numbers = spec.samples * (math.prod(spec.input.shape[1:]) + math.prod(spec.target.shape[1:])) + \
        sum(math.prod(p.shape) for layer in spec.layers for p in layer.params.values())
    seconds = START_SECONDS + numbers * READ_NUMBER[0] + c["named"] * LAYERED_NAMED[0] + c["loops"] * LAYERED_LOOP
    megabytes = START_MB + numbers * READ_NUMBER[1] / 1e6 + c["named"] * LAYERED_NAMED[1] / 1e6
    if policy in ("round", "truncate"):  # hand arithmetic on Decimal arrays (network/hand.py)
        hand_seconds, hand_mb = hand_cost(spec, total + 1)  # and the loss after the last step
        seconds += hand_seconds
        megabytes += hand_mb
    else:
        cost, size = LAYERED_MAC[policy]
        seconds += c["macs"] * cost
        megabytes += c["macs"] * size / 1e6
    if fmt is not None:
        cost, size = LAYERED_PRINT[fmt]
        printed = c["named"] if fmt == "json" else c["named_step"] * min(total, DOCUMENT_STEPS)
        seconds += printed * cost
        megabytes += printed * size / 1e6
    counts = (("numbers read", numbers), ("recorded values", c["named"]), ("multiply-adds", c["macs"]))
    return Estimate(what, counts, seconds, megabytes)


def layered_advice(spec, steps: int, policy: str = "float") -> str:
    if policy in ("round", "truncate"):
        return "use fewer steps (--steps) or a smaller example, or drop --round for float64"
    if steps > 1:
        return "use fewer steps (steps: or --steps), a smaller input, or fewer filters / hidden units"
    return "use a smaller input (fewer channels, pixels or time steps), fewer filters or hidden units, or fewer samples"
