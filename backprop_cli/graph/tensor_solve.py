"""Graph specs with vectors and matrices, or several outputs, on the tensor engine.

    graph:                              forward   q = {W} @ {x}             (2×2)(2,) → (2,)
      W: [[0.1, 0.5], [-0.3, 0.8]]      backward  df/dq = {df/df} * ones(2) * 2 * {q}
      x: [0.2, 0.4]                               df/dW = outer({df/dq}, {x})   (2,)(2,) → (2×2)
      q: W @ x                          element   df/dW[1,2] = {df/dq[1]} * {x[2]} = 0.44 · 0.4
      f: sum(q ** 2)

graph/solve.py reads the spec (one parser for scalar and tensor graphs) and sends it here
when a leaf is a list, an expression uses @ or a tensor function, `output:` lists
several nodes, or `grad_output:` is given. This module checks shapes before anything
is computed (`check_shapes`, so `validate` reports them) and solves on the tensor tape.

With several outputs (`output: [w, z, y]`, TensorFlow's persistent tape) each output's
gradients are named with its own name: dw/dx, dz/dx, dy/dx. A non-scalar output needs
`grad_output:` (PyTorch's backward(gradient=…)); without one it is an error that says so.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ComputeError, SpecError
from ..tensor.names import elements
from ..tensor.shapes import ShapeError, show
from ..tensor.tape import Tape, gradient_name, infer_shape
from ..trace import TensorGraphTrace


def check_shapes(nodes, outputs, grad_output, file: str) -> dict[str, tuple[int, ...]]:
    """Every node's shape from the leaves' shapes; a mismatch is a SpecError naming the
    node, both shapes and the rule (exit 2)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for node in nodes:
        if node.is_leaf:
            shapes[node.name] = node.shape
            continue
        try:
            shapes[node.name] = infer_shape(node.expr, shapes)
        except ShapeError as error:
            raise SpecError(f"shape mismatch in {error.op}: " + " and ".join(show(s) for s in error.shapes)
                            + f" — {error.rule}", file=file, line=node.line, column=node.column,
                            path=f"graph.{node.name}", hint=channel_bias_hint(error)) from None
        except ComputeError as error:
            raise SpecError(str(error), file=file, line=node.line, column=node.column,
                            path=f"graph.{node.name}") from None
    for name, shape, _, _, line in grad_output:
        if shape != shapes[name]:
            raise SpecError(f"grad_output for {name} has shape {show(shape)}, but {name} has shape {show(shapes[name])}",
                            file=file, line=line, path=f"grad_output.{name}",
                            expected=f"an upstream gradient shaped like {name}: {show(shapes[name])}",
                            found=show(shape))
    given = {name for name, *_ in grad_output}
    for name in outputs:
        if shapes[name] != () and name not in given:
            line = next(n.line for n in nodes if n.name == name)
            raise SpecError(f"output {name} has shape {show(shapes[name])}: a non-scalar output needs an upstream "
                            f"gradient", file=file, line=line, path="output",
                            hint=f"add grad_output: {{{name}: …}} shaped {show(shapes[name])} (PyTorch's "
                            f"{name}.backward(gradient=…)), or reduce it first, e.g. sum({name})")
    return shapes


def channel_bias_hint(error: ShapeError) -> str | None:
    """A vector of one value per channel added to a (C, H, W) map: the bias PyTorch
    writes b.view(C, 1, 1). Broadcasting aligns the vector with the width instead."""
    if error.op not in ("+", "-") or len(error.shapes) != 2:
        return None
    for vector, feature in (error.shapes, tuple(reversed(error.shapes))):
        if len(vector) == 1 and len(feature) >= 3 and feature[-3] == vector[0]:
            n = vector[0]
            return (f"a bias per channel is shaped ({n}, 1, 1), as PyTorch's b.view({n}, 1, 1): write it "
                    f"[[[b1]], [[b2]], …], or write + reshape(b, {n}, 1, 1)")
    return None


def solve_tensor_graph(spec, arith=None) -> TensorGraphTrace:
    """Forward equations, then each output's gradients with respect to every node."""
    tape = Tape(arith)
    exact = getattr(tape.arith, "name", "float") == "exact"
    seeds = {name: (shape, values, texts) for name, shape, values, texts, _ in spec.grad_output}
    try:
        for node in spec.nodes:
            if node.is_tensor_leaf:
                tape.leaf(node.name, np.array(node.values, dtype=float).reshape(node.shape),
                          given=node.texts if exact else None)
            elif node.is_leaf:
                tape.leaf(node.name, node.given.value, given=[node.given.fraction()] if exact else None)
            else:
                tape.node(node.name, node.expr)
        gradients: dict[str, dict[str, Any]] = {}
        for out in spec.outputs:
            seed = given = None
            if out in seeds:
                shape, values, texts = seeds[out]
                seed = np.array(values, dtype=float).reshape(shape)
                given = texts if exact else None
            gradients[out] = tape.backward(out, seed, given)
    except ShapeError as error:
        raise SpecError(str(error), file=spec.file) from None
    except ComputeError as error:
        raise error.located(file=spec.file) from None
    names = [n.name for n in spec.nodes]
    values = {n: tape.values[n] for n in names}
    named: dict[str, float] = {}
    for n in names:
        named.update(elements(n, values[n]))
    for out in spec.outputs:
        for n in names:
            named.update(elements(gradient_name(out, n), gradients[out][n]))
    named = {k: float(v) + 0.0 for k, v in named.items()}
    policy = getattr(tape.arith, "name", "float")
    return TensorGraphTrace(
        name=spec.name, spec=spec, outputs=spec.outputs, values=values, gradients=gradients, named=named,
        equations=tuple(tape.equations), policy=policy, digits=getattr(tape.arith, "digits", None),
        exact=dict(tape.policy) if exact else {},
    )
