"""Each layer's backward pass as a student writes it, with the numbers of this step.

    conv      ∂L/∂W = the upstream gradient correlated with the input; one element worked
              out term by term (δ·x products), the rest as a matrix
    max-pool  which position of each window won, and the gradient routed to it
    batch norm the three-term gradient with Σdx̂ and Σdx̂·x̂ per channel, one element worked
    rnn/lstm  backprop through time: ∂L/∂W_hh = Σ_t (contribution of step t), each shown

A `Note` is a title key (translated by the renderers) and lines of plain math text —
computed values only, read from the caches the layer rules filled; nothing here is
recomputed from scratch except the one worked element's products, which are printed
beside the value they sum to. Numbers print through `q.fmt` (hand.py): 4 decimals in
float64, the D decimals of `--round D` under hand rounding — where every number is the
rounded one the next computation used, so re-doing a printed line gives its result.
"""
from __future__ import annotations

import numpy as np

from ..frozen import frozen
from .hand import Float
from .typed_names import element_name, prefix

MAX_LINES = 24  # a note longer than this shows its first lines and says how many more


@frozen
class Note:
    title: str  # conv | pool_max | pool_avg | batchnorm | layernorm | dropout | bptt | dense | flatten
    lines: tuple[str, ...]


_FLOAT = Float()


def fmt(v: float) -> str:
    return _FLOAT.fmt(v)


def _idx(index) -> str:
    return "[" + ",".join(str(i + 1) for i in index) + "]"


def _matrix(name: str, arr, fmt=fmt) -> list[str]:
    arr = np.asarray(arr)
    if arr.ndim == 1:
        return [f"{name} = [" + ", ".join(fmt(v) for v in arr) + "]"]
    if arr.ndim == 2:
        return [f"{name} ="] + ["  [" + ", ".join(fmt(v) for v in row) + "]" for row in arr]
    out = []
    for lead in np.ndindex(arr.shape[:-2]):
        out += _matrix(f"{name}{_idx(lead)[:-1]},:,:]", arr[lead], fmt)
    return out


def _trim(lines: list[str]) -> tuple[str, ...]:
    if len(lines) <= MAX_LINES:
        return tuple(lines)
    return tuple(lines[:MAX_LINES]) + (f"… {len(lines) - MAX_LINES} more lines (all values: --format json)",)


def notes(layer, l: int, params, cache, upstream, grads, batched: bool, q=_FLOAT) -> list[Note]:
    P = prefix(l)
    rule = _RULES.get(layer.type)
    return [rule(layer, P, params, cache, upstream, grads, batched, q)] if rule else []


def _conv(layer, P, params, cache, upstream, grads, batched, q):
    W = params["weights"]
    if layer.type == "conv1d":
        xp, kshape = cache["xp"][:, :, 0, :], W.shape[2:]
    else:
        xp, kshape = cache["xp"], W.shape[2:]
    fmt = q.fmt
    dz = cache["dz"]  # δ as the backward rule computed it (rounded under --round)
    stride = layer.stride[-len(kshape):]
    lines = [f"δ = ∂L/∂{P}.z (upstream ⊙ activation′); ∂L/∂{P}.weights[o,c,u,v] = Σ_n,i,j δ[n,o,i,j] · "
             f"x[n,c,i·{stride[0]}+u,j·{stride[-1]}+v]  (δ correlated with the"
             + (" zero-padded" if any(layer.padding) else "") + " input)"
             if layer.type == "conv2d" else
             f"δ = ∂L/∂{P}.z; ∂L/∂{P}.weights[o,c,u] = Σ_n,i δ[n,o,i] · x[n,c,i·{stride[-1]}+u]  (correlation)"]
    o, c = 0, 0
    k0 = (0,) * len(kshape)
    terms, total = [], 0
    for n in range(dz.shape[0]):
        for pos in np.ndindex(dz.shape[2:]):
            src = tuple(p * s + k for p, s, k in zip(pos, stride, k0))
            d, xv = dz[(n, o) + pos], xp[(n, c) + src]
            terms.append(f"{fmt(d)}·{fmt(xv)}")
            total += d * xv
    total = q(total)  # the exact sum of the printed products, then rounded (= the matrix's element)
    name = element_name(f"∂L/∂{P}.weights", (o, c) + k0)
    shown = " + ".join(terms[:12]) + (f" + … ({len(terms)} terms)" if len(terms) > 12 else "")
    lines.append(f"worked element: {name} = {shown} = {fmt(total)}")
    lines += _matrix(f"∂L/∂{P}.weights", grads["weights"], fmt)
    if "bias" in grads:
        lines.append(f"∂L/∂{P}.bias[o] = Σ_n,i,j δ[n,o,i,j] = [" + ", ".join(fmt(v) for v in grads["bias"]) + "]")
    return Note("conv", _trim(lines))


def _maxpool(layer, P, params, cache, upstream, grads, batched, q):
    fmt = q.fmt
    x, winner = cache["x"], cache["winner"]
    (kh, kw), (sh, sw) = layer.kernel, layer.stride
    lines = [f"each output takes the largest value of its {kh}×{kw} window; the gradient flows only to that "
             "position (the others get 0)"]
    for index in np.ndindex(upstream.shape):
        n, c, i, j = index
        u, v = divmod(int(winner[index]), kw)
        src = (n, c, i * sh + u, j * sw + v)
        where = src if batched else src[1:]
        at = index if batched else index[1:]
        lines.append(f"{P}.out{_idx(at)} = max(window at row {i * sh + 1}, col {j * sw + 1}) = x{_idx(where)} = "
                     f"{fmt(x[src])}  →  ∂L/∂x{_idx(where)} += {fmt(upstream[index])}")
    return Note("pool_max", _trim(lines))


def _avgpool(layer, P, params, cache, upstream, grads, batched, q):
    (kh, kw) = layer.kernel
    return Note("pool_avg", (f"each output is the mean of its {kh}×{kw} window: every position of the window gets "
                             f"∂L/∂out ÷ {kh * kw}",))


def _norm(layer, P, params, cache, upstream, grads, batched, q):
    fmt = q.fmt
    axes, xhat, std = cache["axes"], cache["xhat"], cache["std"]
    M = int(np.prod([cache["x"].shape[a] for a in axes]))
    lines = [f"x̂ = (x − μ) / √(σ² + ε), ε = {layer.eps:g}; y = γ·x̂ + β; over M = {M} values per "
             + ("channel (batch statistics)" if layer.type == "batchnorm" else "sample"),
             "∂L/∂x = (M·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂)) / (M·√(σ² + ε)),  dx̂ = ∂L/∂y · γ   (three terms)"]
    dxhat, s1, s2 = cache["dxhat"], cache["sum_dxhat"], cache["sum_dxhat_xhat"]  # as the backward rule wrote them
    first = (0,) * upstream.ndim
    group = tuple(0 for _ in s1.shape)
    dx = q((M * dxhat[first] - s1[group] - xhat[first] * s2[group]) / (M * std[group]))
    lines.append(f"{'channel 1' if layer.type == 'batchnorm' else 'sample 1'}: μ = {fmt(cache['mean'][group])}, "
                 f"σ² = {fmt(cache['var'][group])}, Σdx̂ = {fmt(s1[group])}, Σ(dx̂·x̂) = {fmt(s2[group])}")
    at = first if batched else first[1:]
    lines.append(f"worked element: ∂L/∂x{_idx(at)} = ({M}·{fmt(dxhat[first])} − {fmt(s1[group])} − "
                 f"{fmt(xhat[first])}·{fmt(s2[group])}) / ({M}·{fmt(std[group])}) = {fmt(dx)}")
    lines += _matrix(f"∂L/∂{P}.gamma = Σ ∂L/∂y·x̂", grads["gamma"], fmt)
    lines += _matrix(f"∂L/∂{P}.beta = Σ ∂L/∂y", grads["beta"], fmt)
    return Note(layer.type, _trim(lines))


def _dropout(layer, P, params, cache, upstream, grads, batched, q):
    keep = 1 - layer.p
    return Note("dropout", (f"y = x ⊙ mask / (1 − p) = x ⊙ mask / {keep:g}; ∂L/∂x = ∂L/∂y ⊙ mask / {keep:g} "
                            f"(dropped positions get 0)",))


def _recurrent(layer, P, params, cache, upstream, grads, batched, q):
    fmt = q.fmt
    contributions = cache["contributions"]
    W = "W_xh" if layer.type == "rnn" else "W_ih"
    T = len(contributions)
    lines = [("h_t = tanh(x_t W_xhᵀ + h_(t−1) W_hhᵀ + b); " if layer.type == "rnn" else
              "[i f g o] = x_t W_ihᵀ + h_(t−1) W_hhᵀ + b (PyTorch gate order), c_t = f⊙c_(t−1) + i⊙g, "
              "h_t = o⊙tanh(c_t); ")
             + f"backprop through time: ∂L/∂W_hh = Σ_t δ_tᵀ h_(t−1) over t = {T}…1, each step's share:"]
    dH, dZ, hs = cache["dH"], cache["dZ"], cache["hs"]
    delta = ("δ_{t} = ∂L/∂h_{t} ⊙ (1 − h_{t}²)" if layer.type == "rnn" else "δ_{t} = ∂L/∂[i f g o]_{t}")

    def row(arr) -> str:
        return "[" + ", ".join(fmt(v) for v in arr) + "]"

    for t in range(T - 1, -1, -1):
        lines.append(f"t = {t + 1}: ∂L/∂h_{t + 1} = {row(dH[0, t])}" + (" (sample 1)" if batched else ""))
        # an LSTM's δ in its four gate blocks (i, f, g, o): one row of 4·hidden values is too wide to print
        deltas = row(dZ[t][0]) if layer.type == "rnn" else ", ".join(row(block) for block in np.split(dZ[t][0], 4))
        lines.append(f"  {delta.format(t=t + 1)} = {deltas}, h_{t} = {row(hs[t][0])}")
        lines += _matrix(f"  contribution of t = {t + 1} to ∂L/∂{P}.W_hh = δ_{t + 1}ᵀ h_{t}", contributions[t]["W_hh"], fmt)
    lines += _matrix(f"∂L/∂{P}.W_hh = Σ_t", grads["W_hh"], fmt)
    lines += _matrix(f"∂L/∂{P}.{W} = Σ_t δ_tᵀ x_t", grads[W], fmt)
    return Note("bptt", _trim(lines))


def _dense(layer, P, params, cache, upstream, grads, batched, q):
    lines = [f"δ = ∂L/∂{P}.z = ∂L/∂out ⊙ activation′; ∂L/∂{P}.weights = δᵀ x (rows: neurons), ∂L/∂x = δ W"]
    lines += _matrix(f"∂L/∂{P}.weights", grads["weights"].T if layer.layout == "in_out" else grads["weights"], q.fmt)
    return Note("dense", _trim(lines))


def _activation(layer, P, params, cache, upstream, grads, batched, q):
    rule = {"relu": "1 where x > 0, else 0", "sigmoid": "σ(x)(1 − σ(x))", "tanh": "1 − tanh²(x)",
            "leaky_relu": f"1 where x > 0, else {layer.activation.slope:g}"}[layer.type]
    return Note("activation", (f"∂L/∂x = ∂L/∂out ⊙ {layer.type}′(x), {layer.type}′ = {rule}",))


def _flatten(layer, P, params, cache, upstream, grads, batched, q):
    return Note("flatten", (f"reshape {tuple(layer.in_shape)} → {tuple(layer.out_shape)}; ∂L/∂x is ∂L/∂out reshaped back",))


_RULES = {"conv2d": _conv, "conv1d": _conv, "maxpool2d": _maxpool, "avgpool2d": _avgpool, "batchnorm": _norm,
          "layernorm": _norm, "dropout": _dropout, "rnn": _recurrent, "lstm": _recurrent, "dense": _dense,
          "flatten": _flatten, "relu": _activation, "sigmoid": _activation, "tanh": _activation,
          "leaky_relu": _activation}
