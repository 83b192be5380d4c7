"""`--format json`, exactly as SPEC §5 lays it out, at full float64 precision."""
from __future__ import annotations

import json
from typing import Any

from ..errors import ComputeError
from ..calc.expr import to_text
from ..grid import as_written, is_array
from ..trace import Equation, Trace

FORMAT = "backprop/1"


def _array(x) -> Any:
    """A record's float, vector or matrix as JSON lists, with −0.0 written as 0.0."""
    if x is None:
        return None
    if not is_array(x):
        return json_float(x)
    if x.ndim == 1:
        return [v + 0.0 for v in x.tolist()]
    return [[v + 0.0 for v in row] for row in x.tolist()]


def json_float(value: Any) -> float:
    """float() of a policy value (float, Decimal, ExactValue); +0.0 so JSON never shows -0.0."""
    return float(value) + 0.0


def equation_json(e: Equation) -> dict:
    """One SPEC §5 equation record: name, expression, operands, value (+ condition)."""
    out = {
        "name": e.name,
        "expression": e.expression,
        "operands": {k: json_float(v) for k, v in e.operands},
        "value": json_float(e.value),
    }
    if e.condition:
        out["condition"] = e.condition
    return out


def exact_text(value) -> str:
    """A sympy value as SPEC §4 grammar text (`1/(1 + exp(-7/10))`)."""
    import sympy

    return sympy.sstr(value.to_sympy()) if hasattr(value, "to_sympy") else sympy.sstr(value)


def network_document(trace: Trace) -> dict:
    show_equations = trace.detail == "scalar"
    steps = []
    layouts = [layer.layout for layer in trace.spec.layers]
    for record in trace.steps:
        layers = []
        for layer, layout in zip(record.layers, layouts):
            entry = {
                "layer": layer.layer,
                "z": _array(layer.z),
                "a": _array(layer.a),
                "dL_da": _array(layer.dL_da),
            }
            if layer.da_dz is not None:
                entry["da_dz"] = _array(layer.da_dz)
            entry.update(
                delta=_array(layer.delta),
                grad_weights=_array(as_written(layer.grad_weights, layout)),
                grad_bias=_array(layer.grad_bias),
                weights=_array(as_written(layer.weights, layout)),
                bias=_array(layer.bias),
                frozen=list(layer.frozen),
            )
            layers.append(entry)
        step = {"step": record.step, "loss": json_float(record.loss), "layers": layers}
        if show_equations:
            step["equations"] = [equation_json(e) for e in record.equations]
        else:  # matrix detail: layer-level equations with array operands (matrix_detail.py)
            from .matrix_json import matrix_record

            step["equations"] = [matrix_record(e) for e in record.equations]
        steps.append(step)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "kind": "network",
        "name": trace.name,
        "steps": steps,
        "losses": [float(v) for v in trace.losses],
        "loss_after": float(trace.loss_after),
        "named": {k: json_float(v) for k, v in trace.named.items()},
    }
    if show_equations and trace.after_equations:
        doc["equations"] = [equation_json(e) for e in trace.after_equations]
    if trace.symbolic:
        doc["symbolic"] = [
            {"name": g.name, "expression": to_text(g.expr), "operands": dict(g.operands), "value": g.value}
            for g in trace.symbolic
        ]
    observations = _observations(trace)
    if observations:
        doc["observations"] = observations
    if trace.policy == "round":
        doc["round"] = trace.digits
    if trace.exact:
        doc["exact"] = {k: exact_text(v) for k, v in trace.exact.items()}
    return doc


def _observations(trace: Trace) -> list[dict]:
    """The Observations (lessons/observations.py) as data: kind, step, layer, canonical
    names and figures by name; the words are the other formats' business."""
    from ..lessons import observe

    return [{"kind": o.kind, "step": o.step, "layer": o.layer, "names": list(o.names),
             "numbers": dict(o.numbers)} for o in observe(trace)]


def _inline(value) -> bool:
    """Numbers and (nested) lists of numbers stay on one line: rows read as rows."""
    if isinstance(value, list):
        return all(_inline(v) and not isinstance(v, dict) for v in value)
    return not isinstance(value, dict)


def _pretty(value, indent: int) -> str:
    if _inline(value):
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + _pretty(v, indent + 2) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def dumps(doc: dict, compact: bool = False) -> str:
    """JSON text: compact for big networks, else indented with each array row on a line."""
    try:
        if compact:
            return json.dumps(doc, ensure_ascii=False, allow_nan=False)
        return _pretty(doc, 0)
    except ValueError as exc:  # a NaN/inf slipped through: refuse to print it (SPEC §8)
        raise ComputeError(f"a result is not a finite number: {exc}") from None


def render_json(trace) -> str:
    compact = trace.spec.parameter_count > 300 or trace.spec.samples > 64
    return dumps(network_document(trace), compact=compact) + "\n"

