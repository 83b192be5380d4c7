"""backprop: worked examples of backpropagation, solved exactly, every step shown.

Library use (the CLI is a thin layer over these)::

    from backprop_cli import load_spec, solve, render
    trace = solve(load_spec("configs/bce_2_2_1.yaml"))
    print(trace.named["dL/dW5"])            # 0.2727…
    print(render(trace, "markdown"))

`load_spec` returns a network `Spec` (or a graph spec for files with `graph:`);
`solve` accepts either; every bad input raises a `BackpropError` subclass.
"""
from __future__ import annotations

from .network import solve as _solve_module  # loaded first, so the name below stays the function
from .errors import BackpropError, ComputeError, KeyFileError, SpecError
from .render import render
from .load import load_spec, loads_spec
from .network.spec import Spec
from .trace import GraphTrace, Trace

__version__ = "0.1.0"


def solve(spec, **options):
    """Solve a network or graph spec into a Trace (see network.solve, graph.solve_graph;
    specs with typed layers: network.typed_solve.solve_layered)."""
    if getattr(spec, "kind", "network") == "layered":
        from .network.typed_solve import solve_layered

        return solve_layered(spec, **options)
    if not isinstance(spec, Spec):
        from .graph.solve import solve_graph

        return solve_graph(spec, **options)
    return _solve_module.solve(spec, **options)


__all__ = [
    "BackpropError", "ComputeError", "GraphTrace", "KeyFileError", "Spec", "SpecError",
    "Trace", "load_spec", "loads_spec", "render", "solve",
]
