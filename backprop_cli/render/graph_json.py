"""SPEC §5 JSON for a solved computational graph (`"kind": "graph"`).

A renderer formats; it never computes. Values are the trace's floats at full float64
precision (under `--round D` they already are the rounded numbers); equation operands
and values, which the trace keeps in the policy's own type (float, Decimal, sympy), are
converted with float(). `exact` appears only for `--exact` traces.
"""
from __future__ import annotations

from typing import Any

from ..trace import GraphTrace
from .json_out import dumps, equation_json as equation_to_json, json_float as _float


def graph_to_json(trace: GraphTrace) -> dict:
    """The document `backprop solve graph.yaml --format json` prints."""
    if getattr(trace, "tensor", False):
        from .tensor_json import tensor_graph_to_json

        return tensor_graph_to_json(trace, exact_text)
    out: dict[str, Any] = {
        "format": "backprop/1",
        "kind": "graph",
        "name": trace.name,
        "output": trace.output,
        "values": {k: _float(v) for k, v in trace.values.items()},
        "local_gradients": [
            {"node": g.node, "input": g.input, "value": _float(g.value)} for g in trace.local_gradients
        ],
        "gradients": {k: _float(v) for k, v in trace.gradients.items()},
    }
    if trace.second:
        out["second"] = {k: _float(v) for k, v in trace.second.items()}
    if trace.steps:  # gradient descent (`minimize:`): a record per step, as for networks
        out["steps"] = [
            {"step": st.step, "loss": _float(trace.losses[st.step - 1]),
             "values": {k: _float(v) for k, v in st.values.items()},
             "local_gradients": [{"node": g.node, "input": g.input, "value": _float(g.value)}
                                 for g in st.local_gradients],
             "gradients": {k: _float(v) for k, v in st.gradients.items()},
             "updates": {k: _float(v) for k, v in st.updates.items()},
             "equations": [equation_to_json(eq) for eq in st.equations]}
            for st in trace.steps
        ]
        out["losses"] = [_float(v) for v in trace.losses]
        out["loss_after"] = _float(trace.losses[-1])
    out["named"] = {k: _float(v) for k, v in trace.named.items()}
    out["equations"] = [equation_to_json(eq) for eq in (trace.after_equations if trace.steps else trace.equations)]
    if trace.exact:
        out["exact"] = {name: exact_text(value) for name, value in trace.exact.items()}
    return out


def exact_text(value: Any) -> str:
    """An exact value as text in the §4 grammar (7/20, 1/(1 + exp(-7/10)), 2**(1/3)).

    sympy's own printer is nearly that grammar; only its names for e, |x|, max and min
    differ. Imported lazily: only `--exact` traces hold sympy values."""
    from sympy.printing.str import StrPrinter

    class _Section4Printer(StrPrinter):
        def _print_Exp1(self, expr):
            return "exp(1)"

        def _print_Abs(self, expr):
            return f"abs({self._print(expr.args[0])})"

        def _print_Max(self, expr):
            return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

        def _print_Min(self, expr):
            return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    if hasattr(value, "to_sympy"):  # arithmetic.ExactValue: Fraction or closed-form tree
        value = value.to_sympy()
    return _Section4Printer().doprint(value)


def render_graph_json(trace: GraphTrace) -> str:
    if getattr(trace, "tensor", False):
        from .tensor_json import is_large

        if is_large(trace):  # big tensors: one line, as big networks are
            return dumps(graph_to_json(trace), compact=True) + "\n"
    return dumps(graph_to_json(trace))
