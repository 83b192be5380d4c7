"""What a question sheet gives and asks for a network with typed layers.

The sheet of a conv, pooling, norm, dropout or recurrent variant shows its givens as
whole arrays under their canonical base names (`x`, `L1.weights`, `L2.gamma`), the
layer chain as formulas in those names (no numbers of the solve, so no answers), and
the symbols of the asked names as code. Numbers are printed in their shortest form, as
a template draws them (0.3, not 0.3000).
"""
from __future__ import annotations

import numpy as np

from .common import optimizer_text

_SETTINGS = ("stride", "padding", "kernel", "p", "eps", "momentum", "output")


def number_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def array_text(value) -> str:
    """[[0.1, -0.2], [0.3, 0.4]]: nested lists, shortest numbers."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return number_text(float(array))
    return "[" + ", ".join(array_text(row) for row in array) + "]"


def givens(spec) -> list[tuple[str, str]]:
    """(name, value as text): input, target, every layer's parameters and settings, the
    optimizer's hyperparameters."""
    one = (lambda a: a) if spec.batched else (lambda a: np.asarray(a)[0])
    out = [("x", array_text(one(spec.input)))]
    if spec.target_indices is not None:  # cross-entropy with class indices: as written
        indices = list(spec.target_indices)
        out.append(("t", str(indices if spec.batched or len(indices) > 1 else indices[0])))
    else:
        out.append(("t", array_text(one(spec.target))))
    for l, layer in enumerate(spec.layers, 1):
        for name, value in layer.params.items():
            out.append((f"L{l}.{name}", array_text(value)))
        for setting in _SETTINGS:
            if layer.type in _OWNERS[setting]:
                out.append((f"L{l}.{setting}", _setting_text(_setting(layer, setting))))
        if layer.activation.name == "leaky_relu":
            out.append((f"L{l}.slope", number_text(layer.activation.slope)))
        if layer.type == "dropout":
            out.append((f"L{l}.mask", array_text(layer.mask)))
        if layer.type in ("rnn", "lstm"):
            out.append((f"L{l}.h0", array_text(np.broadcast_to(layer.h0, (layer.params["W_hh"].shape[1],)))))
        if layer.type == "lstm":
            out.append((f"L{l}.c0", array_text(np.broadcast_to(layer.c0, (layer.params["W_hh"].shape[1],)))))
        if layer.type == "batchnorm":
            out += [(f"L{l}.running_mean", array_text(layer.running_mean)), (f"L{l}.running_var", array_text(layer.running_var))]
    for key, number in spec.optimizer.hyperparameters().items():
        out.append((key, number.text))
    return out


_OWNERS = {
    "stride": ("conv2d", "conv1d", "maxpool2d", "avgpool2d"), "padding": ("conv2d", "conv1d"),
    "kernel": ("maxpool2d", "avgpool2d"), "p": ("dropout",), "eps": ("batchnorm", "layernorm"),
    "momentum": ("batchnorm",), "output": ("rnn", "lstm"),
}


def _setting(layer, name: str):
    """A setting as the user wrote it: conv1d keeps its stride and padding as the second
    of the pair a 2-D convolution of height 1 uses."""
    value = getattr(layer, name)
    return value[1] if layer.type == "conv1d" and name in ("stride", "padding") else value


def _setting_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        return "×".join(str(v) for v in value)
    return number_text(value)


def _act(layer, inner: str) -> str:
    name = layer.activation.name
    return inner if name == "identity" else f"{name}({inner})"


def structure(spec) -> list[str]:
    """One formula per layer in the canonical names, then the loss."""
    lines = []
    prev = "x"
    for l, layer in enumerate(spec.layers, 1):
        P, t = f"L{l}", layer.type
        bias = f" + {P}.bias" if "bias" in layer.params else ""
        if t == "dense":
            rule = _act(layer, f"{prev} · {P}.weightsᵀ{bias}")
        elif t in ("conv2d", "conv1d"):
            rule = _act(layer, f"{t}({prev}, {P}.weights, stride {_setting_text(_setting(layer, 'stride'))}, "
                               f"padding {_setting_text(_setting(layer, 'padding'))}){bias}")
        elif t in ("maxpool2d", "avgpool2d"):
            rule = f"{t}({prev}, kernel {_setting_text(layer.kernel)}, stride {_setting_text(layer.stride)})"
        elif t == "flatten":
            rule = f"flatten({prev})"
        elif t in ("batchnorm", "layernorm"):
            over = "the batch, per channel" if t == "batchnorm" else "each sample's features"
            rule = f"{P}.gamma · ({prev} − mean) / √(var + eps) + {P}.beta  (mean, var over {over})"
        elif t == "dropout":
            rule = f"{prev} ⊙ {P}.mask / (1 − p)"
        elif t == "rnn":
            lines.append(f"{P}.h[t] = tanh(x[t] · {P}.W_xhᵀ + {P}.h[t−1] · {P}.W_hhᵀ"
                         + (f" + {P}.b" if "b" in layer.params else "") + f"), {P}.h[0] = {P}.h0")
            rule = f"{P}.h[T]" if layer.output == "last" else f"{P}.h[1…T]"
        elif t == "lstm":
            lines.append(f"[i f g o] = x[t] · {P}.W_ihᵀ + {P}.h[t−1] · {P}.W_hhᵀ" + (f" + {P}.b" if "b" in layer.params else "")
                         + " (σ on i, f, o; tanh on g)")
            lines.append(f"{P}.c[t] = f ⊙ {P}.c[t−1] + i ⊙ g, {P}.h[t] = o ⊙ tanh({P}.c[t])")
            rule = f"{P}.h[T]" if layer.output == "last" else f"{P}.h[1…T]"
        else:  # an activation layer
            rule = f"{t}({prev})"
        lines.append(f"{P}.out = {rule}")
        prev = f"{P}.out"
    lines.append(f"loss = {spec.loss}({prev}, t), reduction {spec.reduction}")
    return lines


def describe(spec) -> str:
    chain = " → ".join(f"{layer.type}{tuple(layer.out_shape)}" for layer in spec.layers)
    return f"{chain}; loss {spec.loss} ({spec.reduction}); {optimizer_text(spec)}"
