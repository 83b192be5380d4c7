"""How big a network's scalar derivation is, counted from its shapes before building it.

Both the solve (which derivation path to take) and the work budget (budget.py, refusing
a run before it starts) need the count; it lives with the network so the solver never
imports the budget."""
from __future__ import annotations


def _update_nodes(spec) -> int:
    opt = spec.optimizer
    if opt.name in ("adam", "rmsprop", "adagrad"):
        return 24  # moments or running averages, a square root and a division per parameter
    momentum = getattr(opt, "momentum", None)
    return 8 if momentum is not None and momentum.value else 4


def scalar_nodes_per_step(spec) -> int:
    """Expression nodes of one step's scalar derivation (forward, loss, backward, update,
    and the local factors), counted from the shapes: terms of every sum, softmax's K²
    Jacobian, the optimizer's update per parameter."""
    N = spec.samples
    forward = backward = 0
    for l, layer in enumerate(spec.layers):
        units, fan_in = layer.units, layer.fan_in
        forward += units * (2 * fan_in + 6)  # z = Σ W·x + b, a = f(z)
        backward += units * fan_in * 5  # dz/dW, dL/dW = delta · dz/dW
        if l + 1 < len(spec.layers):
            backward += spec.layers[l + 1].units * units * 4  # dL/da = Σ delta · W
        backward += units * 8  # da/dz, delta
        if layer.activation.name == "softmax":
            backward += units * units * 3 // 2  # the Jacobian in every delta
    per_parameter = _update_nodes(spec) + 2
    return N * (2 * forward + backward) + spec.parameter_count * per_parameter
