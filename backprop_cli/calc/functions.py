"""Activations and losses in float64 (numpy): each value beside its local derivative.

These are the vectorised forms the solver uses on whole layers and batches; the
scalar equations that the derivation prints are built from the same rules in
equations.py. Both follow PyTorch float64 (SPEC §2): ReLU′(0) = 0, leaky ReLU′(0) = slope,
sigmoid′ = a(1 − a), BCE logs clamped at −100, BCE′ = (ŷ − t)/max(ŷ(1 − ŷ), 1e-12),
cross-entropy on the logits via log-sum-exp. Nothing here overflows for |z| up to 1e4.
"""
from __future__ import annotations

import numpy as np

from .conventions import BCE_EPS, BCE_LOG_FLOOR, loss_scale


def activate(name: str, z: np.ndarray, slope: float = 0.01) -> tuple[np.ndarray, np.ndarray | None]:
    """(a, da/dz) for an activation; da/dz is None for softmax (a Jacobian, not a vector)."""
    if name == "identity":
        return z.copy(), np.ones_like(z)
    if name == "sigmoid":
        e = np.exp(-np.abs(z))  # ≤ 1: never overflows
        a = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return a, a * (1.0 - a)
    if name == "tanh":
        a = np.tanh(z)
        return a, 1.0 - a * a
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z), np.where(z > 0, 1.0, slope)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True), None
    raise ValueError(f"unknown activation {name!r}")


def _clamped_log(p: np.ndarray) -> np.ndarray:
    """log(p) clamped at −100 as torch.nn.BCELoss does, without a log(0) warning."""
    safe = np.where(p > 0, p, 1.0)
    return np.where(p > 0, np.maximum(np.log(safe), BCE_LOG_FLOOR), BCE_LOG_FLOOR)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log softmax as PyTorch forms it: (z − max) − log Σ exp(z − max)."""
    m = z.max(axis=1, keepdims=True)
    return (z - m) - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def loss_value(loss: str, reduction: str, a: np.ndarray, z: np.ndarray, t: np.ndarray) -> float:
    N, K = a.shape
    if loss in ("mse", "sse", "half_sse"):
        total = float(np.sum((a - t) ** 2))
        if loss == "half_sse":
            total *= 0.5
        if reduction == "sum":
            return total
        return total / (N * K) if loss == "mse" else total / N
    if loss == "bce":
        total = -float(np.sum(t * _clamped_log(a) + (1.0 - t) * _clamped_log(1.0 - a)))
        return total / (N * K) if reduction == "mean" else total
    if loss == "cross_entropy":  # PyTorch's form keeps a nearly-right prediction's digits
        per_sample = -np.sum(t * log_softmax(z), axis=1)
        total = float(per_sample.sum())
        return total / N if reduction == "mean" else total
    raise ValueError(f"unknown loss {loss!r}")


def loss_grad(loss: str, reduction: str, a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """∂L/∂ŷ of the reduced loss, row per sample."""
    N, K = a.shape
    scale = loss_scale(loss, reduction, N, K)
    if loss == "mse" or loss == "sse":
        return 2.0 * (a - t) / scale
    if loss == "half_sse":
        return (a - t) / scale
    if loss == "bce":
        return (a - t) / np.maximum(a * (1.0 - a), BCE_EPS) / scale
    if loss == "cross_entropy":
        # −t/ŷ where t ≠ 0 (0 where t = 0, never 0/0); a probability that underflowed to 0
        # gives −inf here, which the engine reports by name instead of printing it
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.divide(-t, a, out=np.zeros_like(a), where=(t != 0)) / scale
    raise ValueError(f"unknown loss {loss!r}")


def output_delta(loss: str, reduction: str, activation: str, a, da_dz, dL_da, t) -> np.ndarray:
    """δ = ∂L/∂z for the output layer."""
    if activation == "softmax":
        if loss == "cross_entropy":
            N, K = a.shape
            return (a * t.sum(axis=1, keepdims=True) - t) / loss_scale(loss, reduction, N, K)
        return softmax_backward(a, dL_da)
    return dL_da * da_dz


def softmax_backward(a: np.ndarray, dL_da: np.ndarray) -> np.ndarray:
    """δₖ = aₖ(∂L/∂aₖ − Σⱼ ∂L/∂aⱼ aⱼ): the softmax Jacobian applied to the upstream row."""
    return a * (dL_da - np.sum(dL_da * a, axis=1, keepdims=True))
