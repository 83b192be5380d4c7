"""Causes of typed-layer mismatches that only the layer's own rule explains.

Errata that published worked examples of CNNs and LSTMs carry, which the generic
causes would only call "indices swapped?" or leave unexplained:

* **a flipped kernel** — ∂L/∂W (or the updated W) written 180° rotated: the author
  convolved where PyTorch's conv2d/conv1d cross-correlates (or rotated once too often
  when computing ∂L/∂W as a "full convolution");
* **max-pool routing** — the pooled gradient written at a position of the window that
  did not win, or a winning position given 0;
* **the variance of a norm** — batch/layer norm normalised with the unbiased variance
  (÷ (M − 1)), or running_var updated with the biased one;
* **LSTM gate order** — a gate's weights written in another gate's block of rows
  (the a, i, f, o of many blog posts against PyTorch's i, f, g, o).

Each rule takes the Diagnoser (for `value` and `solution`) and the Miss, and returns a
sentence or None, as check/diagnose.py's rules do; it reads the solved trace, never
recomputes the network.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..network.typed_names import NAME

def _layered_name(d, miss):
    """An element of a layer's parameter, output or gradient (no optimizer state)."""
    if d.solution.kind != "layered":
        return None
    m = NAME.fullmatch(miss.name)
    return m if m is not None and m["index"] and not m["state"] else None


def flipped_kernel(d, miss) -> Optional[str]:
    """The element at the 180°-rotated kernel position explains the value."""
    m = _layered_name(d, miss)
    if m is None or m["field"] not in ("weights", "weights_new"):
        return None
    layers = d.solution.spec.layers
    l = int(m["layer"])
    if not 1 <= l <= len(layers) or layers[l - 1].type not in ("conv2d", "conv1d"):
        return None
    index = [int(i) for i in m["index"].split(",")]
    kernel = layers[l - 1].params["weights"].shape[2:]
    if len(index) != 2 + len(kernel):
        return None
    flipped = index[:2] + [k + 1 - i for k, i in zip(kernel, index[2:])]
    if flipped == index:  # the centre of an odd kernel is its own rotation
        return None
    other = f"{m['grad'] or ''}L{l}.{m['field']}[{','.join(map(str, flipped))}]{m['step'] or ''}"
    if miss.explained_by(d.value(other)):
        return (f"matches {other}, the kernel rotated 180°: computed as a convolution, where PyTorch's "
                f"{layers[l - 1].type} is a cross-correlation?")
    return None


def pool_routing(d, miss) -> Optional[str]:
    """∂L/∂(max-pool input) written where the window's maximum is not, or 0 where it is."""
    m = _layered_name(d, miss)
    if m is None or not m["grad"] or m["field"] != "out":
        return None
    layers = d.solution.spec.layers
    l = int(m["layer"])  # the pool is the next layer: its input is L{l}.out
    if not 1 <= l < len(layers) or layers[l].type != "maxpool2d":
        return None
    step = int(m["step"][1:]) if m["step"] else 1
    if not 1 <= step <= len(d.solution.trace.steps):
        return None
    record = d.solution.trace.steps[step - 1]
    x, g = np.asarray(record.layers[l - 1].output), np.asarray(record.layers[l].grad_output)
    index = tuple(int(i) - 1 for i in m["index"].split(","))
    if not d.solution.spec.batched:
        index = (0,) + index
    if len(index) != 4 or any(not 0 <= i < n for i, n in zip(index, x.shape)):
        return None
    n, c, i, j = index
    (kh, kw), (sh, sw) = layers[l].kernel, layers[l].stride
    for p in range(g.shape[2]):
        for q in range(g.shape[3]):
            if not (p * sh <= i < p * sh + kh and q * sw <= j < q * sw + kw):
                continue
            window = x[n, c, p * sh:p * sh + kh, q * sw:q * sw + kw]
            u, v = divmod(int(window.argmax()), kw)  # the first maximum, row-major (PyTorch)
            winner = (p * sh + u, q * sw + v)
            out = _index_text(d, (n, c, p, q))
            won = _index_text(d, (n, c) + winner)
            if winner != (i, j) and g[n, c, p, q] != 0 and miss.explained_by(float(g[n, c, p, q])):
                return (f"max-pool routing: the gradient of L{l + 1}.out{out} goes only to its window's maximum, "
                        f"L{l}.out{won} = {window[u, v]:.4g}; this position ({x[n, c, i, j]:.4g}) did not win")
            if winner == (i, j) and miss.explained_by(0.0) and miss.computed != 0:
                return (f"max-pool routing: this position is the maximum of L{l + 1}.out{out}'s window, so that "
                        "output's gradient flows here (the other positions get 0)")
    return None


GATES = "ifgo"  # PyTorch's LSTM row blocks


def lstm_gate_order(d, miss) -> Optional[str]:
    """An LSTM weight, bias or their gradient/update equal to the same element of another
    gate's block of rows: the blocks copied in another order (Colah/Gomez write a, i, f, o
    or i, f, o, g; PyTorch stacks i, f, g, o)."""
    m = _layered_name(d, miss)
    if m is None:
        return None
    param = m["field"].removesuffix("_new")
    layers = d.solution.spec.layers
    l = int(m["layer"])
    if param not in ("W_ih", "W_hh", "b") or not 1 <= l <= len(layers) or layers[l - 1].type != "lstm":
        return None
    index = [int(i) for i in m["index"].split(",")]
    H = layers[l - 1].params["W_hh"].shape[1]
    gate, row = divmod(index[0] - 1, H)
    for other_gate in range(4):
        if other_gate == gate:
            continue
        other_index = [other_gate * H + row + 1] + index[1:]
        other = f"{m['grad'] or ''}L{l}.{m['field']}[{','.join(map(str, other_index))}]{m['step'] or ''}"
        if miss.explained_by(d.value(other)):
            return (f"matches {other}, the same element of the {GATES[other_gate]} gate's rows (this is the "
                    f"{GATES[gate]} gate's): gate blocks in another order? PyTorch stacks i, f, g, o")
    return None


_NORM_FIELDS = ("var", "xhat", "out", "running_var_new")


def norm_variance(d, miss) -> Optional[str]:
    """Batch/layer norm with the wrong variance: the unbiased one (÷ (M − 1)) where the
    normalisation uses the biased one (÷ M), or running_var updated with the biased one
    where PyTorch keeps the unbiased. Recomputed here from the layer's input in the trace."""
    if d.solution.kind != "layered":
        return None
    m = NAME.fullmatch(miss.name)
    layers = d.solution.spec.layers
    if m is None or m["state"] or m["grad"] or m["field"] not in _NORM_FIELDS or not 1 <= int(m["layer"]) <= len(layers):
        return None
    l, field = int(m["layer"]), m["field"]
    layer = layers[l - 1]
    if layer.type not in ("batchnorm", "layernorm") or (field == "running_var_new" and layer.type != "batchnorm"):
        return None
    step = int(m["step"][1:]) if m["step"] else 1
    steps = d.solution.trace.steps
    if not 1 <= step <= len(steps):
        return None
    x = np.asarray(d.solution.spec.input if l == 1 else steps[step - 1].layers[l - 2].output, dtype=np.float64)
    axes = tuple(a for a in range(x.ndim) if a != 1) if layer.type == "batchnorm" else tuple(range(1, x.ndim))
    M = int(np.prod([x.shape[a] for a in axes]))
    if M < 2:
        return None
    biased = x.var(axis=axes, keepdims=True)
    unbiased = biased * M / (M - 1)
    index = tuple(int(i) - 1 for i in m["index"].split(",")) if m["index"] else ()
    if field == "running_var_new":
        old = layer.running_var if step == 1 else steps[step - 2].layers[l - 1].extras["running_var_new"]
        alt = (1 - layer.momentum) * np.asarray(old) + layer.momentum * biased.reshape(-1)
        if _explains(miss, alt, index):
            return ("running_var updated with the biased batch variance (÷ M); PyTorch's running_var takes the "
                    f"unbiased one (÷ (M − 1), M = {M})")
        return None
    if field == "var":
        alt = unbiased.reshape(-1) if layer.type == "batchnorm" else unbiased.reshape(x.shape[0])
        if layer.type == "layernorm" and not d.solution.spec.batched:
            alt = alt[0]
    else:
        xhat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(unbiased + layer.eps)
        alt = xhat
        if field == "out":
            shape = (1, -1) + (1,) * (x.ndim - 2) if layer.type == "batchnorm" else (1,) + x.shape[1:]
            params = steps[step - 1].layers[l - 1].params
            alt = params["gamma"].reshape(shape) * xhat + params["beta"].reshape(shape)
        if not d.solution.spec.batched:
            alt = alt[0]
    if _explains(miss, np.asarray(alt), index):
        return (f"normalised with the unbiased variance (÷ (M − 1), M = {M}); {layer.type} divides by M "
                "(the biased variance), as PyTorch does in training")
    return None


def _explains(miss, array: np.ndarray, index: tuple) -> bool:
    if array.ndim != len(index) or any(not 0 <= i < n for i, n in zip(index, array.shape)):
        return False
    return miss.explained_by(float(array[index]))


def _index_text(d, index: tuple) -> str:
    shown = index if d.solution.spec.batched else index[1:]
    return "[" + ",".join(str(i + 1) for i in shown) + "]"


RULES = (flipped_kernel, pool_routing, lstm_gate_order, norm_variance)
