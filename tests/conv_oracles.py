"""Independent oracles for convolution and pooling graphs (tests/test_tensor_conv.py).

* `NUMPY`: the forward ops as plain loops over output positions (no shared code with
  backprop_cli/tensor/kernels.py), for finite differences — always available.
* `TORCH`: the same names over torch.nn.functional (float64), when torch is installed.
* `HELPERS`: the derivation helpers a matrix equation prints (conv2d_grad_weight, …),
  as loops again, so a printed ∂L/∂W = conv2d_grad_weight(g, x, 1, 0) is re-evaluated
  from its printed operands without the engine.
* `torch_graph_cnn`: configs/graph_cnn.yaml solved by torch.autograd — the source of its
  shipped key (configs/graph_cnn.key.yaml).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np


# -- NumPy loops -------------------------------------------------------------------------------

def _batched(x, rank):
    return (x, True) if x.ndim == rank + 1 else (x[None], False)


def np_conv2d(x, W, stride=1, padding=0):
    x, batched = _batched(np.asarray(x, float), 3)
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    N, C, H, Wd = x.shape
    O, _, kh, kw = W.shape
    Ho, Wo = (H - kh) // stride + 1, (Wd - kw) // stride + 1
    out = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, o, i, j] = np.sum(x[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] * W[o])
    return out if batched else out[0]


def np_conv1d(x, W, stride=1, padding=0):
    x, batched = _batched(np.asarray(x, float), 2)
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    N, C, L = x.shape
    O, _, k = W.shape
    Lo = (L - k) // stride + 1
    out = np.zeros((N, O, Lo))
    for n in range(N):
        for o in range(O):
            for i in range(Lo):
                out[n, o, i] = np.sum(x[n, :, i * stride:i * stride + k] * W[o])
    return out if batched else out[0]


def _pool(x, k, s, reduce):
    x, batched = _batched(np.asarray(x, float), 3)
    s = k if s is None else s
    N, C, H, W = x.shape
    Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = reduce(x[n, c, i * s:i * s + k, j * s:j * s + k])
    return out if batched else out[0]


def np_maxpool2d(x, k, s=None):
    return _pool(x, k, s, np.max)


def np_avgpool2d(x, k, s=None):
    return _pool(x, k, s, np.mean)


def np_flatten(x, start=0):
    x = np.asarray(x)
    start %= x.ndim
    return x.reshape(x.shape[:start] + (-1,))


NUMPY = SimpleNamespace(
    conv2d=np_conv2d, conv1d=np_conv1d, maxpool2d=np_maxpool2d, avgpool2d=np_avgpool2d, flatten=np_flatten,
    reshape=lambda x, *d: np.reshape(x, d), tanh=np.tanh, relu=lambda z: np.maximum(z, 0),
    sigmoid=lambda z: 1 / (1 + np.exp(-z)), sum=np.sum, mean=np.mean, T=lambda a: np.transpose(a),
)


def torch_namespace():
    import torch
    import torch.nn.functional as F

    return SimpleNamespace(
        conv2d=lambda x, W, s=1, p=0: F.conv2d(x, W, stride=s, padding=p),
        conv1d=lambda x, W, s=1, p=0: F.conv1d(x, W, stride=s, padding=p),
        maxpool2d=lambda x, k, s=None: F.max_pool2d(x, k, s),
        avgpool2d=lambda x, k, s=None: F.avg_pool2d(x, k, s),
        flatten=lambda x, start=0: torch.flatten(x, start), reshape=lambda x, *d: torch.reshape(x, d),
        tanh=torch.tanh, relu=torch.relu, sigmoid=torch.sigmoid, sum=torch.sum, mean=torch.mean,
        T=lambda a: a.T,
    )


# -- the derivation helpers, as loops over the definitions ---------------------------------------

def _spatial(a, d):
    return a.shape[a.ndim - d:]


def grad_weight(g, x, s, p, d, *kernel):
    """dW[o,c,off] = Σ_n,pos g[n,o,pos] · xpad[n,c,pos·s+off] (kernel sizes given when the
    stride dropped padding, else the ones the shapes imply)."""
    g, batched = _batched(np.asarray(g, float), d + 1)
    x = np.asarray(x, float) if batched else np.asarray(x, float)[None]
    xp = np.pad(x, ((0, 0), (0, 0)) + ((p, p),) * d)
    ks = tuple(kernel) or tuple(xp.shape[2 + a] - (g.shape[2 + a] - 1) * s for a in range(d))
    dW = np.zeros((g.shape[1], x.shape[1]) + ks)
    for o, c in np.ndindex(dW.shape[:2]):
        for off in np.ndindex(ks):
            for n in range(g.shape[0]):
                for pos in np.ndindex(_spatial(g, d)):
                    dW[(o, c) + off] += g[(n, o) + pos] * xp[(n, c) + tuple(q * s + u for q, u in zip(pos, off))]
    return dW


def grad_input(g, W, s, p, d, *inputs):
    """dx[n,c,q] = Σ g[n,o,pos] · W[o,c,off] over q + p = pos·s + off (the full convolution);
    input sizes given when the stride dropped padding."""
    g, batched = _batched(np.asarray(g, float), d + 1)
    W = np.asarray(W, float)
    sizes = (tuple(int(n) + 2 * p for n in inputs) if inputs
             else tuple((g.shape[2 + a] - 1) * s + W.shape[2 + a] for a in range(d)))
    dxp = np.zeros((g.shape[0], W.shape[1]) + sizes)
    for n, o in np.ndindex(g.shape[:2]):
        for pos in np.ndindex(_spatial(g, d)):
            for off in np.ndindex(W.shape[2:]):
                dxp[(n, slice(None)) + tuple(q * s + u for q, u in zip(pos, off))] += g[(n, o) + pos] * W[(o, slice(None)) + off]
    dx = dxp[(slice(None), slice(None)) + tuple(slice(p, n - p) for n in sizes)]
    return dx if batched else dx[0]


def route(g, x, k, s):
    g, batched = _batched(np.asarray(g, float), 3)
    x = np.asarray(x, float) if batched else np.asarray(x, float)[None]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(g.shape):
        window = x[n, c, i * s:i * s + k, j * s:j * s + k]
        u, v = divmod(int(np.argmax(window)), k)  # the first maximum, row-major
        dx[n, c, i * s + u, j * s + v] += g[n, c, i, j]
    return dx if batched else dx[0]


def spread(g, k, s):
    g, batched = _batched(np.asarray(g, float), 3)
    N, C, Ho, Wo = g.shape
    dx = np.zeros((N, C, (Ho - 1) * s + k, (Wo - 1) * s + k))
    for n, c, i, j in np.ndindex(g.shape):
        dx[n, c, i * s:i * s + k, j * s:j * s + k] += g[n, c, i, j] / (k * k)
    return dx if batched else dx[0]


def sum_to(g, *shape):
    g = np.asarray(g, float)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for k, n in enumerate(shape):
        if n == 1 and g.shape[k] != 1:
            g = g.sum(axis=k, keepdims=True)
    return g


HELPERS = {
    "conv2d": lambda x, W, s=1, p=0: np_conv2d(x, W, s, p),
    "conv1d": lambda x, W, s=1, p=0: np_conv1d(x, W, s, p),
    "conv2d_grad_weight": lambda g, x, s, p, *k: grad_weight(g, x, s, p, 2, *k),
    "conv2d_grad_input": lambda g, W, s, p, *n: grad_input(g, W, s, p, 2, *n),
    "conv1d_grad_weight": lambda g, x, s, p, *k: grad_weight(g, x, s, p, 1, *k),
    "conv1d_grad_input": lambda g, W, s, p, *n: grad_input(g, W, s, p, 1, *n),
    "maxpool2d": np_maxpool2d, "avgpool2d": np_avgpool2d, "maxpool2d_route": route, "avgpool2d_spread": spread,
    "flatten": np_flatten, "reshape": lambda x, *d: np.reshape(x, d), "sum_to": sum_to,
    "ones": lambda *d: np.ones(d), "step": lambda z: (np.asarray(z) > 0) * 1.0, "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "transpose": np.transpose,
    "sum": lambda x, a=None: np.sum(x, axis=a), "mean": lambda x, a=None: np.mean(x, axis=a),
    "outer": np.multiply.outer, "expand": lambda g, a, *shape: np.broadcast_to(np.expand_dims(g, a), shape),
}


# -- the shipped example, by torch.autograd ------------------------------------------------------

def torch_graph_cnn(graph: dict) -> dict[str, object]:
    """configs/graph_cnn.yaml's values and gradients (float64), read with plain YAML."""
    import torch
    import torch.nn.functional as F

    t = {k: torch.tensor(graph[k], dtype=torch.float64, requires_grad=True) for k in ("x", "K", "b", "T")}
    z = F.conv2d(t["x"], t["K"]) + t["b"]
    z.retain_grad()
    a = torch.relu(z)
    a.retain_grad()
    y = F.max_pool2d(a, 2)
    y.retain_grad()
    L = torch.mean((y - t["T"]) ** 2)
    L.backward()
    out = {"z": z, "a": a, "y": y, "L": L}
    out.update({f"dL/d{k}": v.grad for k, v in (("z", z), ("a", a), ("y", y))})
    out.update({f"dL/d{k}": v.grad for k, v in t.items()})
    return {k: v.detach().numpy() for k, v in out.items()}
