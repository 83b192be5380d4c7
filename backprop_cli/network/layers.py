"""Layer types of the courses (CS231n, 밑바닥부터 시작하는 딥러닝 ch. 5–7), each forward
rule beside its backward (local-gradient) rule, in float64 NumPy with PyTorch's
semantics, shapes and parameter layouts.

Every layer is a pair of pure functions on whole batches (the first axis is the sample):

    forward(layer, params, x)          -> (y, cache)
    backward(layer, params, cache, g)  -> (dx, {param: dL/dparam})

`g` is ∂L/∂y (the upstream gradient), `dx` is ∂L/∂x. Layers with an activation also
take `dz` = ∂L/∂z directly (cross-entropy on a softmax output: ŷ·Σt − t, PyTorch's form). The cache holds what the backward
rule reads (the padded input, the max-pool winners, x̂ and σ of batch norm, the hidden
states of an RNN). They are shaped to become ops of the tensor engine
(backprop_cli/tensor/) later: one function per rule, nothing stored between calls.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..calc import functions as F
from ..tensor.kernels import (avgpool2d_raw, avgpool2d_spread_raw, conv2d_raw, conv2d_raw_backward, maxpool2d_raw,
                               maxpool2d_route_raw)

# --------------------------------------------------------------------------------------
# dense: y = x Wᵀ + b on the last axis (nn.Linear), then the activation


def dense_forward(layer, params, x):
    z = x @ params["weights"].T
    if "bias" in params:
        z = z + params["bias"]
    a, da = _activate(layer.activation, z)
    return a, {"x": x, "z": z, "a": a, "da": da}


def dense_backward(layer, params, cache, g, dz=None):
    dz = _activation_backward(layer.activation, cache, g) if dz is None else dz
    W = params["weights"]
    x = cache["x"]
    grads = {"weights": dz.reshape(-1, dz.shape[-1]).T @ x.reshape(-1, x.shape[-1])}
    if "bias" in params:
        grads["bias"] = dz.reshape(-1, dz.shape[-1]).sum(axis=0)
    return dz @ W, grads


# --------------------------------------------------------------------------------------
# convolution (cross-correlation, as PyTorch computes it), 2-D and 1-D


def conv2d_forward(layer, params, x):
    z, xp = conv2d_raw(x, params["weights"], params.get("bias"), layer.stride, layer.padding)
    a, da = _activate(layer.activation, z)
    return a, {"x": x, "xp": xp, "z": z, "a": a, "da": da}


def conv2d_backward(layer, params, cache, g, dz=None):
    dz = _activation_backward(layer.activation, cache, g) if dz is None else dz
    dx, dW, db = conv2d_raw_backward(dz, cache["xp"], params["weights"], layer.stride, layer.padding, cache["x"].shape)
    grads = {"weights": dW}
    if "bias" in params:
        grads["bias"] = db
    return dx, grads


def conv1d_forward(layer, params, x):
    """(N, C, L) as a 2-D convolution of height 1."""
    W = params["weights"][:, :, None, :]
    z, xp = conv2d_raw(x[:, :, None, :], W, params.get("bias"), (1, layer.stride[1]), (0, layer.padding[1]))
    z = z[:, :, 0, :]
    a, da = _activate(layer.activation, z)
    return a, {"x": x, "xp": xp, "z": z, "a": a, "da": da}


def conv1d_backward(layer, params, cache, g, dz=None):
    dz = _activation_backward(layer.activation, cache, g) if dz is None else dz
    x = cache["x"]
    dx, dW, db = conv2d_raw_backward(dz[:, :, None, :], cache["xp"], params["weights"][:, :, None, :],
                                     (1, layer.stride[1]), (0, layer.padding[1]), x[:, :, None, :].shape)
    grads = {"weights": dW[:, :, 0, :]}
    if "bias" in params:
        grads["bias"] = db
    return dx[:, :, 0, :], grads


# --------------------------------------------------------------------------------------
# pooling and flatten


def maxpool2d_forward(layer, params, x):
    """The max of each window; `winner[n,c,i,j]` = the flat (u·kw + v) index of the first
    maximum in row-major order, the position the gradient is routed to."""
    y, winner = maxpool2d_raw(x, layer.kernel, layer.stride)
    return y, {"x": x, "winner": winner}


def maxpool2d_backward(layer, params, cache, g):
    return maxpool2d_route_raw(g, cache["winner"], cache["x"].shape, layer.kernel, layer.stride), {}


def avgpool2d_forward(layer, params, x):
    return avgpool2d_raw(x, layer.kernel, layer.stride), {"x": x}


def avgpool2d_backward(layer, params, cache, g):
    return avgpool2d_spread_raw(g, cache["x"].shape, layer.kernel, layer.stride), {}


def flatten_forward(layer, params, x):
    return x.reshape(x.shape[0], -1), {"shape": x.shape}


def flatten_backward(layer, params, cache, g):
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


def norm_forward(layer, params, x):
    axes = _norm_axes(layer, x)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)  # biased: what normalises (PyTorch)
    std = np.sqrt(var + layer.eps)
    xhat = (x - mean) / std
    y = _broadcast(layer, params["gamma"], x) * xhat + _broadcast(layer, params["beta"], x)
    return y, {"x": x, "mean": mean, "var": var, "std": std, "xhat": xhat, "axes": axes}


def norm_backward(layer, params, cache, g):
    """The three-term gradient: dx = (M·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂)) / (M·σ), dx̂ = g·γ."""
    axes, xhat, std = cache["axes"], cache["xhat"], cache["std"]
    M = int(np.prod([cache["x"].shape[a] for a in axes]))
    dxhat = g * _broadcast(layer, params["gamma"], g)
    dx = (M * dxhat - dxhat.sum(axis=axes, keepdims=True)
          - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True)) / (M * std)
    sum_axes = axes if layer.type == "batchnorm" else (0,)
    return dx, {"gamma": (g * xhat).sum(axis=sum_axes), "beta": g.sum(axis=sum_axes)}


def running_stats(layer, cache, running_mean, running_var):
    """Batch norm's running statistics after the step: (1 − m)·old + m·batch, the
    variance unbiased (M/(M − 1)), as torch.nn.BatchNorm updates them in training."""
    axes = cache["axes"]
    M = int(np.prod([cache["x"].shape[a] for a in axes]))
    mean = cache["mean"].reshape(-1)
    var = cache["var"].reshape(-1) * M / (M - 1)
    m = layer.momentum
    return (1 - m) * running_mean + m * mean, (1 - m) * running_var + m * var


# --------------------------------------------------------------------------------------
# dropout with a given mask


def dropout_forward(layer, params, x):
    mask = np.broadcast_to(layer.mask, x.shape)
    return x * mask / (1 - layer.p), {"mask": mask}


def dropout_backward(layer, params, cache, g):
    return g * cache["mask"] / (1 - layer.p), {}


# --------------------------------------------------------------------------------------
# recurrent: tanh RNN and LSTM over a sequence (N, T, F), backprop through time


def rnn_forward(layer, params, x):
    """h_t = tanh(x_t W_xhᵀ + h_{t−1} W_hhᵀ + b); the output is h_T, or every h_t."""
    N, T, _ = x.shape
    hs = [np.broadcast_to(layer.h0, (N, params["W_hh"].shape[0])).copy()]
    for t in range(T):
        z = x[:, t] @ params["W_xh"].T + hs[-1] @ params["W_hh"].T
        if "b" in params:
            z = z + params["b"]
        hs.append(np.tanh(z))
    H = np.stack(hs[1:], axis=1)  # (N, T, H)
    y = H if layer.output == "all" else H[:, -1]
    return y, {"x": x, "hs": hs, "H": H}


def rnn_backward(layer, params, cache, g):
    """BPTT: dh_t = upstream at t + dz_{t+1} W_hh; dz_t = dh_t ⊙ (1 − h_t²); each step adds
    dz_tᵀ x_t to ∂L/∂W_xh and dz_tᵀ h_{t−1} to ∂L/∂W_hh (its contribution, kept)."""
    x, hs = cache["x"], cache["hs"]
    N, T, _ = x.shape
    W_xh, W_hh = params["W_xh"], params["W_hh"]
    up = g if layer.output == "all" else np.concatenate([np.zeros((N, T - 1, W_hh.shape[0])), g[:, None]], axis=1)
    dW_xh, dW_hh, db = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros(W_hh.shape[0])
    dx = np.zeros_like(x)
    dh_next = np.zeros((N, W_hh.shape[0]))
    dhs, contributions = [None] * T, [None] * T
    for t in range(T - 1, -1, -1):
        dh = up[:, t] + dh_next
        dz = dh * (1 - hs[t + 1] ** 2)
        contributions[t] = {"W_xh": dz.T @ x[:, t], "W_hh": dz.T @ hs[t], "b": dz.sum(axis=0)}
        dW_xh += contributions[t]["W_xh"]
        dW_hh += contributions[t]["W_hh"]
        db += contributions[t]["b"]
        dx[:, t] = dz @ W_xh
        dh_next = dz @ W_hh
        dhs[t] = dh
    cache["dH"] = np.stack(dhs, axis=1)
    cache["contributions"] = contributions
    grads = {"W_xh": dW_xh, "W_hh": dW_hh}
    if "b" in params:
        grads["b"] = db
    return dx, grads


def _sigmoid(z):
    return F.activate("sigmoid", z)[0]


def lstm_forward(layer, params, x):
    """PyTorch's gate order i, f, g, o: [i f g o] = x_t W_ihᵀ + h W_hhᵀ + b;
    c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t)."""
    N, T, _ = x.shape
    Hn = params["W_hh"].shape[1]
    h = np.broadcast_to(layer.h0, (N, Hn)).copy()
    c = np.broadcast_to(layer.c0, (N, Hn)).copy()
    hs, cs, gates = [h], [c], []
    for t in range(T):
        z = x[:, t] @ params["W_ih"].T + hs[-1] @ params["W_hh"].T
        if "b" in params:
            z = z + params["b"]
        i, f, gg, o = (_sigmoid(z[:, :Hn]), _sigmoid(z[:, Hn:2 * Hn]), np.tanh(z[:, 2 * Hn:3 * Hn]),
                       _sigmoid(z[:, 3 * Hn:]))
        c = f * cs[-1] + i * gg
        h = o * np.tanh(c)
        gates.append((i, f, gg, o))
        hs.append(h)
        cs.append(c)
    H = np.stack(hs[1:], axis=1)
    y = H if layer.output == "all" else H[:, -1]
    return y, {"x": x, "hs": hs, "cs": cs, "gates": gates, "H": H}


def lstm_backward(layer, params, cache, g):
    x, hs, cs, gates = cache["x"], cache["hs"], cache["cs"], cache["gates"]
    N, T, _ = x.shape
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    Hn = W_hh.shape[1]
    up = g if layer.output == "all" else np.concatenate([np.zeros((N, T - 1, Hn)), g[:, None]], axis=1)
    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros(4 * Hn)
    dx = np.zeros_like(x)
    dh_next, dc_next = np.zeros((N, Hn)), np.zeros((N, Hn))
    dhs, contributions = [None] * T, [None] * T
    for t in range(T - 1, -1, -1):
        i, f, gg, o = gates[t]
        dh = up[:, t] + dh_next
        tc = np.tanh(cs[t + 1])
        dc = dc_next + dh * o * (1 - tc ** 2)
        dz = np.concatenate([dc * gg * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - gg ** 2),
                             dh * tc * o * (1 - o)], axis=1)
        contributions[t] = {"W_ih": dz.T @ x[:, t], "W_hh": dz.T @ hs[t], "b": dz.sum(axis=0)}
        dW_ih += contributions[t]["W_ih"]
        dW_hh += contributions[t]["W_hh"]
        db += contributions[t]["b"]
        dx[:, t] = dz @ W_ih
        dh_next = dz @ W_hh
        dc_next = dc * f
        dhs[t] = dh
    cache["dH"] = np.stack(dhs, axis=1)
    cache["contributions"] = contributions
    grads = {"W_ih": dW_ih, "W_hh": dW_hh}
    if "b" in params:
        grads["b"] = db
    return dx, grads


# --------------------------------------------------------------------------------------
# activations after dense and convolution layers


def _activate(activation, z):
    if activation.name == "softmax":
        flat = z.reshape(-1, z.shape[-1])
        a, _ = F.activate("softmax", flat, activation.slope)
        return a.reshape(z.shape), None
    return F.activate(activation.name, z, activation.slope)


def _activation_backward(activation, cache, g):
    if activation.name == "softmax":  # the Jacobian: a ⊙ (g − Σ g·a) along the last axis
        a = cache["a"]
        return a * (g - (g * a).sum(axis=-1, keepdims=True))
    return g * cache["da"]


# --------------------------------------------------------------------------------------
# an activation as its own layer (nn.ReLU, nn.Sigmoid, …): affine → batch norm → ReLU


def activation_forward(layer, params, x):
    a, da = _activate(layer.activation, x)
    return a, {"a": a, "da": da}


def activation_backward(layer, params, cache, g):
    return g * cache["da"], {}


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
