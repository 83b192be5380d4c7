"""Convolution and pooling in float64 NumPy: the one copy of these kernels.

Pure functions on whole batches shaped (N, C, H, W), PyTorch's semantics: convolution
is cross-correlation with zero padding, out = (in + 2·padding − kernel) // stride + 1.
Two callers share them:

* the tensor engine's ops (tensor/conv.py: `conv2d`, `maxpool2d`, … in graph specs),
  which lift (C, H, W) and 1-D inputs to this layout;
* the typed network layers (network/layers.py: `type: conv2d`, `maxpool2d`, …).

Each forward kernel sits beside its backward kernels, and the backward kernels are
split the way a textbook names them: ∂L/∂W is the input correlated with the upstream
gradient (`conv2d_grad_weight_raw`), ∂L/∂x is the upstream gradient scattered back
through the kernel, a "full" convolution (`conv2d_grad_input_raw`); max-pool routes
each window's gradient to its first maximum in row-major order (PyTorch's CPU kernel).
"""
from __future__ import annotations

import numpy as np


def pad2d(x, ph: int, pw: int):
    """Zero padding of the two spatial axes of an (N, C, H, W) array."""
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x


def _taps(u: int, s: int, n_out: int) -> slice:
    """The input rows that kernel row u meets over n_out outputs at stride s."""
    return slice(u, u + s * (n_out - 1) + 1, s)


def conv2d_raw(x, W, b, stride: tuple[int, int], padding: tuple[int, int]):
    """out[n,o,i,j] = b[o] + Σ_c,u,v xpad[n,c,i·s+u,j·s+v] · W[o,c,u,v]; returns (out, xpad)."""
    sh, sw = stride
    xp = pad2d(x, *padding)
    N, C, H, Wd = xp.shape
    O, _, kh, kw = W.shape
    Ho, Wo = (H - kh) // sh + 1, (Wd - kw) // sw + 1
    out = np.zeros((N, O, Ho, Wo))
    for u in range(kh):
        for v in range(kw):
            patch = xp[:, :, _taps(u, sh, Ho), _taps(v, sw, Wo)]  # (N, C, Ho, Wo)
            out += np.einsum("nchw,oc->nohw", patch, W[:, :, u, v])
    if b is not None:
        out += b[None, :, None, None]
    return out, xp


def conv2d_grad_weight_raw(g, xp, stride: tuple[int, int], kernel: tuple[int, int]):
    """∂L/∂W[o,c,u,v] = Σ_n,i,j g[n,o,i,j] · xpad[n,c,i·s+u,j·s+v]: the (padded) input
    correlated with the upstream gradient."""
    sh, sw = stride
    kh, kw = kernel
    _, O, Ho, Wo = g.shape
    dW = np.zeros((O, xp.shape[1], kh, kw))
    for u in range(kh):
        for v in range(kw):
            dW[:, :, u, v] = np.einsum("nohw,nchw->oc", g, xp[:, :, _taps(u, sh, Ho), _taps(v, sw, Wo)])
    return dW


def conv2d_grad_input_raw(g, W, stride: tuple[int, int], padding: tuple[int, int], x_shape):
    """∂L/∂x: each g[n,o,i,j] scattered back through the kernel onto the input positions it
    read (the "full" convolution of g with W), then the padding cut off."""
    sh, sw = stride
    ph, pw = padding
    _, C, kh, kw = W.shape
    N, _, Ho, Wo = g.shape
    dxp = np.zeros((N, C, x_shape[2] + 2 * ph, x_shape[3] + 2 * pw))
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, _taps(u, sh, Ho), _taps(v, sw, Wo)] += np.einsum("nohw,oc->nchw", g, W[:, :, u, v])
    return dxp[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]


def conv2d_raw_backward(g, xp, W, stride, padding, x_shape):
    """(∂L/∂x, ∂L/∂W, ∂L/∂b) of `conv2d_raw` from the upstream gradient g and its cached xpad."""
    dW = conv2d_grad_weight_raw(g, xp, stride, W.shape[2:])
    dx = conv2d_grad_input_raw(g, W, stride, padding, x_shape)
    return dx, dW, g.sum(axis=(0, 2, 3))


# -- pooling (no padding; PyTorch's stride defaults to the kernel, decided by the callers) --


def pool_windows(H: int, W: int, kernel, stride) -> tuple[int, int]:
    """The number of pooling windows along the height and the width."""
    kh, kw = kernel
    sh, sw = stride
    return (H - kh) // sh + 1, (W - kw) // sw + 1


def window_stack(x, kernel, stride):
    """Every window of an (N, C, H, W) array as (N, C, Ho, Wo, kh·kw), row-major in the window."""
    _, _, H, W = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    Ho, Wo = pool_windows(H, W, kernel, stride)
    return np.stack([x[:, :, _taps(u, sh, Ho), _taps(v, sw, Wo)] for u in range(kh) for v in range(kw)], axis=-1)


def maxpool2d_raw(x, kernel, stride):
    """(y, winner): the max of each window and `winner[n,c,i,j]`, the flat (u·kw + v) index
    of its first maximum in row-major order — the position the gradient is routed to."""
    windows = window_stack(x, kernel, stride)
    winner = windows.argmax(axis=-1)
    y = np.take_along_axis(windows, winner[..., None], axis=-1)[..., 0]
    return y, winner


def maxpool2d_route_raw(g, winner, x_shape, kernel, stride):
    """∂L/∂x of max-pooling: g[n,c,i,j] added at its window's winner (overlapping windows
    add up), zero elsewhere."""
    kw = kernel[1]
    sh, sw = stride
    u, v = np.divmod(winner, kw)
    n, c, i, j = np.indices(g.shape)
    dx = np.zeros(x_shape)
    np.add.at(dx, (n, c, i * sh + u, j * sw + v), g)
    return dx


def avgpool2d_raw(x, kernel, stride):
    """The mean of each window."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    Ho, Wo = pool_windows(H, W, kernel, stride)
    y = np.zeros((N, C, Ho, Wo))
    for u in range(kh):
        for v in range(kw):
            y += x[:, :, _taps(u, sh, Ho), _taps(v, sw, Wo)]
    return y / (kh * kw)


def avgpool2d_spread_raw(g, x_shape, kernel, stride):
    """∂L/∂x of average pooling: each g[n,c,i,j] / (kh·kw) spread over its window."""
    (kh, kw), (sh, sw) = kernel, stride
    _, _, Ho, Wo = g.shape
    dx = np.zeros(x_shape)
    for u in range(kh):
        for v in range(kw):
            dx[:, :, _taps(u, sh, Ho), _taps(v, sw, Wo)] += g / (kh * kw)
    return dx


__all__ = ["pad2d", "conv2d_raw", "conv2d_grad_weight_raw", "conv2d_grad_input_raw", "conv2d_raw_backward",
           "pool_windows", "window_stack", "maxpool2d_raw", "maxpool2d_route_raw", "avgpool2d_raw",
           "avgpool2d_spread_raw"]
