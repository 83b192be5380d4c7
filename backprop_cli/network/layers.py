"""Layer types of the courses (CS231n, 밑바닥부터 시작하는 딥러닝 ch. 5–7), each forward
rule beside its backward (local-gradient) rule, in float64 NumPy with PyTorch's
semantics, shapes and parameter layouts.

Every layer is a pair of pure functions on whole batches (the first axis is the sample):

    forward(layer, params, x)          -> (y, cache)
    backward(layer, params, cache, g)  -> (dx, {param: dL/dparam})

`g` is ∂L/∂y (the upstream gradient), `dx` is ∂L/∂x. Every rule also takes `q`, the
numbers it computes with (hand.py): float64 by default, or hand arithmetic under
`--round D`, where each number the rule writes down is rounded (`q(…)`), functions are
float64 then rounded (`q.fn`) and given constants are used as written (`q.c`). Layers with an activation also
take `dz` = ∂L/∂z directly (cross-entropy on a softmax output: ŷ·Σt − t, PyTorch's form). The cache holds what the backward
rule reads (the padded input, the max-pool winners, x̂ and σ of batch norm, the hidden
states of an RNN). The convolution and pooling kernels are the tensor engine's
(tensor/kernels.py), the same code its conv2d/maxpool2d graph ops run: one function
per rule, nothing stored between calls.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..calc import functions as F
from ..tensor.kernels import avgpool2d_raw, conv2d_raw, conv2d_raw_backward, maxpool2d_raw, maxpool2d_route_raw, window_add
from .hand import Float

FLOAT = Float()

# --------------------------------------------------------------------------------------
# dense: y = x Wᵀ + b on the last axis (nn.Linear), then the activation


def dense_forward(layer, params, x, q=FLOAT):
    z = x @ params["weights"].T
    if "bias" in params:
        z = z + params["bias"]
    z = q(z)
    a, da = _activate(layer.activation, z, q)
    return a, {"x": x, "z": z, "a": a, "da": da}


def dense_backward(layer, params, cache, g, dz=None, q=FLOAT):
    dz = _activation_backward(layer.activation, cache, g, q) if dz is None else dz
    cache["dz"] = dz
    W = params["weights"]
    x = cache["x"]
    grads = {"weights": q(dz.reshape(-1, dz.shape[-1]).T @ x.reshape(-1, x.shape[-1]))}
    if "bias" in params:
        grads["bias"] = q(dz.reshape(-1, dz.shape[-1]).sum(axis=0))
    return q(dz @ W), grads


# --------------------------------------------------------------------------------------
# convolution (cross-correlation, as PyTorch computes it), 2-D and 1-D


def conv2d_forward(layer, params, x, q=FLOAT):
    z, xp = q.conv2d(conv2d_raw, x, params["weights"], params.get("bias"), layer.stride, layer.padding)
    a, da = _activate(layer.activation, z, q)
    return a, {"x": x, "xp": xp, "z": z, "a": a, "da": da}


def conv2d_backward(layer, params, cache, g, dz=None, q=FLOAT):
    dz = _activation_backward(layer.activation, cache, g, q) if dz is None else dz
    cache["dz"] = dz
    dx, dW, db = q.conv2d_backward(conv2d_raw_backward, dz, cache["xp"], params["weights"], layer.stride, layer.padding,
                                   cache["x"].shape)
    grads = {"weights": dW}
    if "bias" in params:
        grads["bias"] = db
    return dx, grads


def conv1d_forward(layer, params, x, q=FLOAT):
    """(N, C, L) as a 2-D convolution of height 1."""
    W = params["weights"][:, :, None, :]
    z, xp = q.conv2d(conv2d_raw, x[:, :, None, :], W, params.get("bias"), (1, layer.stride[1]), (0, layer.padding[1]))
    z = z[:, :, 0, :]
    a, da = _activate(layer.activation, z, q)
    return a, {"x": x, "xp": xp, "z": z, "a": a, "da": da}


def conv1d_backward(layer, params, cache, g, dz=None, q=FLOAT):
    dz = _activation_backward(layer.activation, cache, g, q) if dz is None else dz
    cache["dz"] = dz
    x = cache["x"]
    dx, dW, db = q.conv2d_backward(conv2d_raw_backward, dz[:, :, None, :], cache["xp"], params["weights"][:, :, None, :],
                                     (1, layer.stride[1]), (0, layer.padding[1]), x[:, :, None, :].shape)
    grads = {"weights": dW[:, :, 0, :]}
    if "bias" in params:
        grads["bias"] = db
    return dx[:, :, 0, :], grads


# --------------------------------------------------------------------------------------
# pooling and flatten


def maxpool2d_forward(layer, params, x, q=FLOAT):
    """The max of each window; `winner[n,c,i,j]` = the flat (u·kw + v) index of the first
    maximum in row-major order, the position the gradient is routed to."""
    y, winner = maxpool2d_raw(x, layer.kernel, layer.stride)
    return y, {"x": x, "winner": winner}


def maxpool2d_backward(layer, params, cache, g, q=FLOAT):
    return maxpool2d_route_raw(g, cache["winner"], cache["x"].shape, layer.kernel, layer.stride), {}


def avgpool2d_forward(layer, params, x, q=FLOAT):
    return q(avgpool2d_raw(x, layer.kernel, layer.stride)), {"x": x}


def avgpool2d_backward(layer, params, cache, g, q=FLOAT):
    """Each window position gets its share ∂L/∂out ÷ (kh·kw), rounded once; where
    windows overlap the shares add up."""
    kh, kw = layer.kernel
    return window_add(q(g / (kh * kw)), cache["x"].shape, layer.kernel, layer.stride), {}


def flatten_forward(layer, params, x, q=FLOAT):
    return x.reshape(x.shape[0], -1), {"shape": x.shape}


def flatten_backward(layer, params, cache, g, q=FLOAT):
    return g.reshape(cache["shape"]), {}


# --------------------------------------------------------------------------------------
# normalisation


def _norm_axes(layer, x) -> tuple[int, ...]:
    """Batch norm: every axis but the channel (axis 1); layer norm: every axis but the sample."""
    if layer.type == "batchnorm":
        return tuple(a for a in range(x.ndim) if a != 1)
    return tuple(range(1, x.ndim))


def _broadcast(layer, p, x):
    """gamma/beta/mean shaped to broadcast against x: per channel (batch norm) or per
    sample element (layer norm)."""
    if layer.type == "batchnorm":
        return p.reshape((1, -1) + (1,) * (x.ndim - 2))
    return p[None]


def norm_forward(layer, params, x, q=FLOAT):
    """μ, then σ² = mean((x − μ)²) from that μ (biased: what normalises, as PyTorch),
    σ = √(σ² + ε), x̂ = (x − μ)/σ, y = γ·x̂ + β — each written down (rounded under --round)."""
    axes = _norm_axes(layer, x)
    mean = q(x.mean(axis=axes, keepdims=True))
    var = q(((x - mean) ** 2).mean(axis=axes, keepdims=True))
    std = q.fn(np.sqrt, var + q.c(layer.eps))
    if q.name != "float" and (q.float(std) == 0).any():
        from ..errors import ComputeError

        raise ComputeError(f"{layer.type}: σ = √(σ² + ε) rounds to 0 where x̂ = (x − μ)/σ divides by it: "
                           "use more decimals with --round")
    xhat = q((x - mean) / std)
    y = q(_broadcast(layer, params["gamma"], x) * xhat + _broadcast(layer, params["beta"], x))
    return y, {"x": x, "mean": mean, "var": var, "std": std, "xhat": xhat, "axes": axes}


def norm_backward(layer, params, cache, g, q=FLOAT):
    """The three-term gradient: dx = (M·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂)) / (M·σ), dx̂ = g·γ; dx̂
    and its two sums are kept in the cache (the derivation prints them)."""
    axes, xhat, std = cache["axes"], cache["xhat"], cache["std"]
    M = int(np.prod([cache["x"].shape[a] for a in axes]))
    dxhat = q(g * _broadcast(layer, params["gamma"], g))
    s1 = q(dxhat.sum(axis=axes, keepdims=True))
    s2 = q((dxhat * xhat).sum(axis=axes, keepdims=True))
    dx = q((M * dxhat - s1 - xhat * s2) / (M * std))
    cache.update(dxhat=dxhat, sum_dxhat=s1, sum_dxhat_xhat=s2)
    sum_axes = axes if layer.type == "batchnorm" else (0,)
    return dx, {"gamma": q((g * xhat).sum(axis=sum_axes)), "beta": q(g.sum(axis=sum_axes))}


def running_stats(layer, cache, running_mean, running_var, q=FLOAT):
    """Batch norm's running statistics after the step: (1 − m)·old + m·batch, the
    variance unbiased (M/(M − 1)), as torch.nn.BatchNorm updates them in training."""
    axes = cache["axes"]
    M = int(np.prod([cache["x"].shape[a] for a in axes]))
    mean = cache["mean"].reshape(-1)
    var = cache["var"].reshape(-1) * M / (M - 1)
    m, keep = q.c(layer.momentum), q.one_minus(layer.momentum)
    return q(keep * running_mean + m * mean), q(keep * running_var + m * var)


# --------------------------------------------------------------------------------------
# dropout with a given mask


def dropout_forward(layer, params, x, q=FLOAT):
    mask = np.broadcast_to(q.given(layer.mask), x.shape)
    return q(x * mask / q.one_minus(layer.p)), {"mask": mask}


def dropout_backward(layer, params, cache, g, q=FLOAT):
    return q(g * cache["mask"] / q.one_minus(layer.p)), {}


# --------------------------------------------------------------------------------------
# recurrent: tanh RNN and LSTM over a sequence (N, T, F), backprop through time


def rnn_forward(layer, params, x, q=FLOAT):
    """h_t = tanh(x_t W_xhᵀ + h_{t−1} W_hhᵀ + b); the output is h_T, or every h_t."""
    N, T, _ = x.shape
    hs = [np.broadcast_to(q.given(layer.h0), (N, params["W_hh"].shape[0])).copy()]
    for t in range(T):
        z = x[:, t] @ params["W_xh"].T + hs[-1] @ params["W_hh"].T
        if "b" in params:
            z = z + params["b"]
        hs.append(q.fn(np.tanh, q(z)))
    H = np.stack(hs[1:], axis=1)  # (N, T, H)
    y = H if layer.output == "all" else H[:, -1]
    return y, {"x": x, "hs": hs, "H": H}


def rnn_backward(layer, params, cache, g, q=FLOAT):
    """BPTT: dh_t = upstream at t + dz_{t+1} W_hh; dz_t = dh_t ⊙ (1 − h_t²); each step adds
    dz_tᵀ x_t to ∂L/∂W_xh and dz_tᵀ h_{t−1} to ∂L/∂W_hh (its contribution, kept)."""
    x, hs = cache["x"], cache["hs"]
    N, T, _ = x.shape
    W_xh, W_hh = params["W_xh"], params["W_hh"]
    Hn = W_hh.shape[0]
    up = g if layer.output == "all" else np.concatenate([q.zeros((N, T - 1, Hn)), g[:, None]], axis=1)
    dx = q.zeros(x.shape)
    dh_next = q.zeros((N, Hn))
    dhs, dzs, contributions = [None] * T, [None] * T, [None] * T
    for t in range(T - 1, -1, -1):
        dh = q(up[:, t] + dh_next)
        dz = q(dh * (1 - hs[t + 1] ** 2))
        contributions[t] = _share("W_xh", dz, x[:, t], hs[t], q)
        dx[:, t] = q(dz @ W_xh)
        dh_next = q(dz @ W_hh)
        dhs[t], dzs[t] = dh, dz
    return dx, _bptt_sums(params, cache, dhs, dzs, contributions, q)


def _share(input_weights: str, dz, x_t, h_prev, q) -> dict:
    """Time step t's contribution to each recurrent parameter's gradient: δ_tᵀ x_t,
    δ_tᵀ h_(t−1) and Σ δ_t (kept: the derivation shows each step's share)."""
    return {input_weights: q(dz.T @ x_t), "W_hh": q(dz.T @ h_prev), "b": q(dz.sum(axis=0))}


def _bptt_sums(params, cache, dhs, dzs, contributions, q) -> dict:
    """BPTT's gradients, each the sum of the steps' shares (from the last step back, the
    order they were computed in); the cache keeps ∂L/∂h_t, δ_t and the shares."""
    cache["dH"] = np.stack(dhs, axis=1)
    cache["dZ"] = dzs
    cache["contributions"] = contributions
    return {name: q(sum(c[name] for c in reversed(contributions))) for name in contributions[0] if name in params}


def _sigmoid(z):
    return F.activate("sigmoid", z)[0]


def lstm_forward(layer, params, x, q=FLOAT):
    """PyTorch's gate order i, f, g, o: [i f g o] = x_t W_ihᵀ + h W_hhᵀ + b;
    c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t)."""
    N, T, _ = x.shape
    Hn = params["W_hh"].shape[1]
    h = np.broadcast_to(q.given(layer.h0), (N, Hn)).copy()
    c = np.broadcast_to(q.given(layer.c0), (N, Hn)).copy()
    hs, cs, tcs, gates = [h], [c], [], []
    for t in range(T):
        z = x[:, t] @ params["W_ih"].T + hs[-1] @ params["W_hh"].T
        if "b" in params:
            z = z + params["b"]
        z = q(z)
        i, f, gg, o = (q.fn(_sigmoid, z[:, :Hn]), q.fn(_sigmoid, z[:, Hn:2 * Hn]), q.fn(np.tanh, z[:, 2 * Hn:3 * Hn]),
                       q.fn(_sigmoid, z[:, 3 * Hn:]))
        c = q(f * cs[-1] + i * gg)
        tc = q.fn(np.tanh, c)
        h = q(o * tc)
        gates.append((i, f, gg, o))
        hs.append(h)
        cs.append(c)
        tcs.append(tc)
    H = np.stack(hs[1:], axis=1)
    y = H if layer.output == "all" else H[:, -1]
    return y, {"x": x, "hs": hs, "cs": cs, "tanh_c": tcs, "gates": gates, "H": H}


def lstm_backward(layer, params, cache, g, q=FLOAT):
    x, hs, cs, gates = cache["x"], cache["hs"], cache["cs"], cache["gates"]
    N, T, _ = x.shape
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    Hn = W_hh.shape[1]
    up = g if layer.output == "all" else np.concatenate([q.zeros((N, T - 1, Hn)), g[:, None]], axis=1)
    dx = q.zeros(x.shape)
    dh_next, dc_next = q.zeros((N, Hn)), q.zeros((N, Hn))
    dhs, dzs, contributions = [None] * T, [None] * T, [None] * T
    for t in range(T - 1, -1, -1):
        i, f, gg, o = gates[t]
        dh = q(up[:, t] + dh_next)
        tc = cache["tanh_c"][t]
        dc = q(dc_next + dh * o * (1 - tc ** 2))
        dz = np.concatenate([q(dc * gg * i * (1 - i)), q(dc * cs[t] * f * (1 - f)), q(dc * i * (1 - gg ** 2)),
                             q(dh * tc * o * (1 - o))], axis=1)
        contributions[t] = _share("W_ih", dz, x[:, t], hs[t], q)
        dx[:, t] = q(dz @ W_ih)
        dh_next = q(dz @ W_hh)
        dc_next = q(dc * f)
        dhs[t], dzs[t] = dh, dz
    return dx, _bptt_sums(params, cache, dhs, dzs, contributions, q)


# --------------------------------------------------------------------------------------
# activations after dense and convolution layers


def _activate(activation, z, q=FLOAT):
    if activation.name == "softmax":
        K = z.shape[-1]
        return q.fn(lambda v: F.activate("softmax", v.reshape(-1, K), activation.slope)[0].reshape(v.shape), z), None
    return q.activate(activation.name, z, activation.slope)


def _activation_backward(activation, cache, g, q=FLOAT):
    if activation.name == "softmax":  # the Jacobian: a ⊙ (g − Σ g·a) along the last axis
        a = cache["a"]
        return q(a * (g - (g * a).sum(axis=-1, keepdims=True)))
    return q(g * cache["da"])


# --------------------------------------------------------------------------------------
# an activation as its own layer (nn.ReLU, nn.Sigmoid, …): affine → batch norm → ReLU


def activation_forward(layer, params, x, q=FLOAT):
    a, da = _activate(layer.activation, x, q)
    return a, {"a": a, "da": da}


def activation_backward(layer, params, cache, g, q=FLOAT):
    return q(g * cache["da"]), {}


RULES: dict[str, tuple[Any, Any]] = {
    "dense": (dense_forward, dense_backward),
    "conv2d": (conv2d_forward, conv2d_backward),
    "conv1d": (conv1d_forward, conv1d_backward),
    "maxpool2d": (maxpool2d_forward, maxpool2d_backward),
    "avgpool2d": (avgpool2d_forward, avgpool2d_backward),
    "flatten": (flatten_forward, flatten_backward),
    "batchnorm": (norm_forward, norm_backward),
    "layernorm": (norm_forward, norm_backward),
    "dropout": (dropout_forward, dropout_backward),
    "rnn": (rnn_forward, rnn_backward),
    "lstm": (lstm_forward, lstm_backward),
    **{name: (activation_forward, activation_backward) for name in ("relu", "sigmoid", "tanh", "leaky_relu")},
}
