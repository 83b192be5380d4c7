"""SPEC §5 JSON for a tensor graph (issue 11): the scalar graph document, with arrays.

    "output": "f" | ["w", "z", "y"]       several outputs: a list
    "shapes": {"W": [2, 2], "x": [2], "f": []}
    "values": {"W": [[…]], "f": 0.116}     a scalar stays a number
    "gradients": {"W": [[…]]}              one output; several: {"w": {"x": …}, "z": {…}}
    "named": {"W[1,2]": 0.5, "df/dW[1,2]": 0.176, "f": 0.116, …}   every element, 1-based
    "equations": [matrix record, its element records, …]
    "steps": [{"step", "loss", "values", "gradients", "updates", "equations"}, …],
    "losses": […], "loss_after": …         gradient descent (`minimize:`) only

A matrix record is {"name": "df/dW", "form": "matrix", "expression": "outer({df/dq}, {x})",
"operands": {name: array}, "shapes": {name: shape, …, result: shape}, "value": array};
element records are the ordinary scalar records of §5 (plus "form": "element"), so the
scalar verifier re-evaluates them. A renderer formats; nothing is computed here.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .json_out import equation_json, json_float
from .matrix_json import array_json, matrix_record


def is_scalar(eq) -> bool:
    """An equation between scalars only (a chain of the persistent tape): one record."""
    return eq.shape == () and len(eq.elements) == 1 and all(np.ndim(v) == 0 for _, v in eq.operands)


def tensor_graph_to_json(trace, exact_text=None) -> dict:
    """The tensor graph's document; `exact_text` prints an exact value (graph_json's)."""
    several = len(trace.outputs) > 1
    out: dict[str, Any] = {
        "format": "backprop/1",
        "kind": "graph",
        "name": trace.name,
        "output": list(trace.outputs) if several else trace.output,
        "shapes": {k: list(np.shape(v)) for k, v in trace.values.items()},
        "values": {k: array_json(v) for k, v in trace.values.items()},
    }
    if several:
        out["gradients"] = {o: {k: array_json(v) for k, v in g.items()} for o, g in trace.gradients.items()}
    else:
        out["gradients"] = {k: array_json(v) for k, v in trace.gradients[trace.output].items()}
    steps = getattr(trace, "steps", ())
    if steps:  # gradient descent (`minimize:`): a record per step, as for scalar graphs
        out["steps"] = [
            {"step": st.step, "loss": json_float(trace.losses[st.step - 1]),
             "values": {k: array_json(v) for k, v in st.values.items()},
             "gradients": {k: array_json(v) for k, v in st.gradients.items()},
             "updates": {k: array_json(v) for k, v in st.updates.items()},
             "equations": equation_records(st.equations)}
            for st in steps
        ]
        out["losses"] = [json_float(v) for v in trace.losses]
        out["loss_after"] = json_float(trace.losses[-1])
    out["named"] = {k: json_float(v) for k, v in trace.named.items()}
    # with steps, the top-level equations are the forward pass after the last step
    out["equations"] = equation_records(trace.after_equations if steps else trace.equations)
    if trace.exact and exact_text is not None:
        out["exact"] = {name: exact_text(value) for name, value in trace.exact.items()}
    return out


def equation_records(equations) -> list[dict]:
    """Each tensor equation as its matrix record followed by its element records (an
    equation between scalars only: one scalar record)."""
    out = []
    for eq in equations:
        if is_scalar(eq):  # all scalars: the element record says everything
            out.append({**equation_json(eq.elements[0]), "form": "scalar"})
            continue
        out.append(matrix_record(eq))
        for element in eq.elements:
            out.append({**equation_json(element), "form": "element"})
    return out


def is_large(trace) -> bool:
    """Compact JSON (one line) when the tensors are too big to read as indented text."""
    return sum(np.size(v) for v in trace.values.values()) > 2000
