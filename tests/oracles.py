"""Independent oracles: the loss written out in sympy from SPEC §2, and finite differences.

Neither uses backprop's backward pass; the sympy loss is written from the SPEC's table,
not from backprop_cli.calc.functions.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from backprop_cli.network.names import NetworkNames


def parameter_values(spec) -> dict[str, float]:
    names = NetworkNames.of(spec)
    out = {}
    for l, layer in enumerate(spec.layers):
        for name, index in names.parameters(l):
            if index[0] == "w":
                out[name] = float(layer.weights[index[1], index[2]])
            else:
                out[name] = float(layer.bias) if len(index) == 1 else float(layer.bias[index[1]])
    return out


def sympy_loss(spec):
    """L(θ) as a sympy expression over one symbol per canonical parameter name."""
    names = NetworkNames.of(spec)
    symbols = {name: sp.Symbol(name.replace("/", "_")) for name in parameter_values(spec)}
    N, K = spec.samples, spec.outputs
    total = 0
    for n in range(N):
        a = [sp.Float(v, 30) for v in spec.input[n]]
        for l, layer in enumerate(spec.layers):
            z = []
            for j in range(layer.units):
                s = sum(symbols[names.weight(l, j, i)] * a[i] for i in range(layer.fan_in))
                b = names.bias(l, j)
                z.append(s + (symbols[b] if b else 0))
            act = layer.activation.name
            if act == "sigmoid":
                a = [1 / (1 + sp.exp(-zj)) for zj in z]
            elif act == "tanh":
                a = [sp.tanh(zj) for zj in z]
            elif act == "relu":
                a = [sp.Piecewise((zj, zj > 0), (0, True)) for zj in z]
            elif act == "leaky_relu":
                a = [sp.Piecewise((zj, zj > 0), (layer.activation.slope * zj, True)) for zj in z]
            elif act == "softmax":
                den = sum(sp.exp(zj) for zj in z)
                a = [sp.exp(zj) / den for zj in z]
                logits = z
            else:
                a = z
        t = [sp.Float(v, 30) for v in spec.target[n]]
        if spec.loss in ("mse", "sse"):
            total += sum((a[k] - t[k]) ** 2 for k in range(K))
        elif spec.loss == "half_sse":
            total += sp.Rational(1, 2) * sum((a[k] - t[k]) ** 2 for k in range(K))
        elif spec.loss == "bce":
            total += -sum(t[k] * sp.log(a[k]) + (1 - t[k]) * sp.log(1 - a[k]) for k in range(K))
        else:  # cross_entropy: −Σ t log softmax(z)
            lse = sp.log(sum(sp.exp(zk) for zk in logits))
            total += -sum(t[k] * (logits[k] - lse) for k in range(K))
    if spec.reduction == "mean":
        total = total / (N * K if spec.loss in ("mse", "bce") else N)
    return total, symbols


def sympy_gradients(spec) -> dict[str, float]:
    loss, symbols = sympy_loss(spec)
    values = parameter_values(spec)
    order = list(symbols)
    args = [symbols[k] for k in order]
    point = [values[k] for k in order]
    out = {}
    for name, sym in symbols.items():
        derivative = sp.lambdify(args, sp.diff(loss, sym), modules="mpmath")
        out[name] = float(derivative(*point))
    return out


def finite_difference_gradients(spec, h: float = 1e-6) -> dict[str, float]:
    """Central differences of the float64 loss with respect to each parameter."""
    from backprop_cli.frozen import replace

    from backprop_cli.network import engine

    names = NetworkNames.of(spec)

    def loss_with(name, index, delta):
        layers = list(spec.layers)
        l = next(l for l in range(len(layers)) for n, _ in names.parameters(l) if n == name)
        layer = layers[l]
        if index[0] == "w":
            W = np.array(layer.weights)
            W[index[1], index[2]] += delta
            layers[l] = replace(layer, weights=W)
        elif len(index) == 1:
            layers[l] = replace(layer, bias=float(layer.bias) + delta)
        else:
            b = np.array(layer.bias, dtype=float)
            b[index[1]] += delta
            layers[l] = replace(layer, bias=b)
        s = replace(spec, layers=tuple(layers))
        return engine.final_loss(s, engine.initial_params(s))

    out = {}
    for l in range(len(spec.layers)):
        for name, index in names.parameters(l):
            out[name] = (loss_with(name, index, h) - loss_with(name, index, -h)) / (2 * h)
    return out
