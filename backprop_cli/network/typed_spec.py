"""Typed layers (`type: conv2d`, …) → a frozen, validated `LayeredSpec`.

A network whose layers are all dense keeps spec.py's reader and its scalar derivation;
as soon as one layer says another `type:`, the whole network is read here. Shapes are
followed from the input through every layer at read time, so a kernel larger than its
input, a stride that does not fit, a mask or a gate matrix of the wrong shape, or a
sequence of the wrong length is exit 2 naming `layers[l].field` — before any number is
computed. Parameter names and shapes are PyTorch's (docs/layers.md).
"""
from __future__ import annotations

import os
from dataclasses import field
from typing import Any, Optional

import numpy as np
import yaml

from ..frozen import frozen
from ..read.numbers import describe, number
from .spec import (LAYOUTS, LOSSES, MAX_STEPS, REDUCTIONS, TOP_KEYS, Activation, Optimizer, Reader, hyper,
                    read_activation, read_optimizer)

ACTIVATION_TYPES = ("relu", "sigmoid", "tanh", "leaky_relu")  # an activation as its own layer (nn.ReLU, …)
LAYER_TYPES = ("dense", "conv2d", "conv1d", "maxpool2d", "avgpool2d", "flatten", "batchnorm", "layernorm",
               "dropout", "rnn", "lstm") + ACTIVATION_TYPES
TYPE_KEYS = {
    "dense": ("type", "weights", "bias", "activation", "freeze", "layout"),
    "conv2d": ("type", "weights", "bias", "stride", "padding", "activation", "freeze"),
    "conv1d": ("type", "weights", "bias", "stride", "padding", "activation", "freeze"),
    "maxpool2d": ("type", "kernel", "stride"),
    "avgpool2d": ("type", "kernel", "stride"),
    "flatten": ("type",),
    "batchnorm": ("type", "gamma", "beta", "eps", "momentum", "running_mean", "running_var", "freeze"),
    "layernorm": ("type", "gamma", "beta", "eps", "freeze"),
    "dropout": ("type", "p", "mask"),
    "rnn": ("type", "W_xh", "W_hh", "b", "h0", "output", "freeze"),
    "lstm": ("type", "W_ih", "W_hh", "b", "h0", "c0", "output", "freeze"),
    **{name: ("type",) for name in ("relu", "sigmoid", "tanh")},
    "leaky_relu": ("type", "slope"),
}
# The rank of one sample's input each first layer expects (one more: a batch).
SAMPLE_RANK = {"dense": 1, "conv2d": 3, "conv1d": 2, "maxpool2d": 3, "avgpool2d": 3, "batchnorm": None,
               "layernorm": None, "dropout": None, "flatten": None, "rnn": 2, "lstm": 2,
               **{name: None for name in ACTIVATION_TYPES}}
RECURRENT_OUTPUTS = ("last", "all")


@frozen
class TypedLayer:
    """One layer: its type, its trainable parameters (PyTorch names → float64 arrays, in
    the order they are numbered) and its settings."""

    type: str
    params: dict  # name → np.ndarray (initial values)
    activation: Activation = Activation("identity")
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    kernel: tuple[int, int] = (1, 1)
    eps: float = 1e-5
    momentum: float = 0.1
    running_mean: Any = None
    running_var: Any = None
    p: float = 0.0
    mask: Any = None
    output: str = "last"
    h0: Any = 0.0
    c0: Any = 0.0
    freeze: tuple[str, ...] = ()
    layout: str = "out_in"
    in_shape: tuple[int, ...] = ()  # one sample's input shape
    out_shape: tuple[int, ...] = ()


@frozen
class LayeredSpec:
    file: str
    name: str
    description: str
    input: Any  # np.ndarray (N, …)
    target: Any  # np.ndarray shaped like the output (N, …)
    layers: tuple[TypedLayer, ...]
    loss: str
    reduction: str
    optimizer: Optimizer
    steps: int = 1
    batched: bool = False
    target_indices: Optional[tuple[int, ...]] = None
    warnings: tuple[str, ...] = ()
    marks: dict = field(default_factory=dict, compare=False)
    kind: str = "layered"

    @property
    def samples(self) -> int:
        return self.input.shape[0]

    @property
    def parameter_count(self) -> int:
        return sum(int(np.size(p)) for layer in self.layers for p in layer.params.values())

    def with_steps(self, steps: int) -> "LayeredSpec":
        from ..frozen import replace

        return replace(self, steps=steps)


# --------------------------------------------------------------------------------------
# arrays of any rank


def read_array(r: Reader, node, path: str, what: str, ragged_word: str = "ragged rows") -> np.ndarray:
    """A nested list of numbers with equal lengths at every level."""
    if isinstance(node, yaml.ScalarNode):
        return np.array(float(number(node, path, r.file, what).value))
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise r.fail(node, path, expected=what, found=describe(node))
    items = [read_array(r, c, f"{path}[{i}]", what, ragged_word) for i, c in enumerate(node.value)]
    for i, item in enumerate(items[1:], 1):
        if item.shape != items[0].shape:
            raise r.fail(node.value[i], f"{path}[{i}]", ragged_word,
                         expected=f"shape {_shape(items[0].shape)} like {path}[0]", found=f"shape {_shape(item.shape)}")
    return np.stack(items)


def _shape(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def _pair(r: Reader, node, path: str, what: str, lo: int) -> tuple[int, int]:
    """An int or [int, int] (PyTorch's int-or-tuple), each ≥ lo."""
    items = node.value if isinstance(node, yaml.SequenceNode) else [node, node]
    if len(items) != 2:
        raise r.fail(node, path, expected=f"{what}: a whole number or two [h, w]", found=describe(node))
    out = []
    for k, item in enumerate(items):
        p = f"{path}[{k}]" if isinstance(node, yaml.SequenceNode) else path
        n = r.integer(item, p, lo, 10_000, f"{what}: a whole number from {lo} to 10000")
        out.append(n)
    return out[0], out[1]


# --------------------------------------------------------------------------------------
# the spec


def read_layered(r: Reader, root: yaml.MappingNode) -> LayeredSpec:
    top = r.mapping(root, "", TOP_KEYS, "a spec mapping")
    for required in ("input", "target", "layers", "loss"):
        if required not in top:
            raise r.fail(root, required, f"missing required field {required!r}")
    warnings: list[str] = []
    name = r.text(top["name"], "name") if "name" in top else os.path.splitext(os.path.basename(r.file))[0]
    description = r.text(top["description"], "description") if "description" in top else ""
    layer_nodes = top["layers"]
    if not isinstance(layer_nodes, yaml.SequenceNode) or not layer_nodes.value:
        raise r.fail(layer_nodes, "layers", expected="a list of layers", found=describe(layer_nodes))
    first_type = _layer_type(r, layer_nodes.value[0], "layers[0]")
    x = read_array(r, top["input"], "input", "numbers", "sequence length mismatch" if first_type in ("rnn", "lstm")
                   else "ragged rows")
    x, batched = _batch(r, top["input"], x, first_type, layer_nodes.value)
    layers = []
    shape = x.shape[1:]
    last = len(layer_nodes.value) - 1
    for i, node in enumerate(layer_nodes.value):
        layer = _read_layer(r, node, f"layers[{i}]", shape, i == last, x.shape[0])
        layers.append(layer)
        shape = layer.out_shape
    loss = r.choice(top["loss"], "loss", LOSSES, "a loss")
    reduction = r.choice(top["reduction"], "reduction", REDUCTIONS, "mean or sum") if "reduction" in top else "mean"
    every_step = any(layer.type in ("rnn", "lstm") and layer.output == "all" for layer in layers)
    _check_loss(r, top["loss"], loss, layers[-1], every_step)
    target, indices = _read_target(r, top["target"], loss, shape, x.shape[0], batched, every_step)
    optimizer = read_optimizer(r, top, root, warnings)
    steps = r.integer(top["steps"], "steps", 1, MAX_STEPS, f"a whole number of steps from 1 to {MAX_STEPS}") \
        if "steps" in top else 1
    if "notation" in top:
        warnings.append("notation applies to dense networks; typed layers use PyTorch's parameter names")
    return LayeredSpec(r.file, name, description, x, target, tuple(layers), loss, reduction, optimizer, steps,
                       batched, indices, tuple(warnings), r.marks)


def _layer_type(r: Reader, node, path: str) -> str:
    if not isinstance(node, yaml.MappingNode):
        raise r.fail(node, path, expected="a layer mapping", found=describe(node))
    for k, v in node.value:
        if getattr(k, "value", None) == "type":
            return r.choice(v, f"{path}.type", LAYER_TYPES, "a layer type")
    return "dense"


def _batch(r: Reader, node, x: np.ndarray, first: str, layer_nodes) -> tuple[np.ndarray, bool]:
    """One sample or a batch, from the rank the first layer expects per sample."""
    rank = SAMPLE_RANK[first]
    if rank is None:  # a layer that takes any shape first: a batch if nested deeper than 1
        rank = 1
    if x.ndim == rank:
        return x[None], False
    if x.ndim == rank + 1:
        return x, True
    what = {1: "features", 2: "(channels, length) or (time steps, features)", 3: "(channels, height, width)"}[rank]
    raise r.fail(node, "input", "input rank", expected=f"one sample shaped {what} ({rank}-D) or a batch of them "
                 f"({rank + 1}-D) for a first layer of type {first}", found=f"{x.ndim}-D, shape {_shape(x.shape)}")


def _param(r: Reader, fields, key: str, path: str, shape: tuple, what: str, default=None) -> Optional[np.ndarray]:
    if key not in fields:
        if default is None:
            return None
        return np.broadcast_to(np.asarray(default, dtype=float), shape).copy()
    arr = read_array(r, fields[key], f"{path}.{key}", what)
    if arr.shape != shape:
        raise r.fail(fields[key], f"{path}.{key}", "shape mismatch", expected=f"shape {_shape(shape)} ({what})",
                     found=f"shape {_shape(arr.shape)}")
    return arr


def _required(r: Reader, node, fields, key: str, path: str) -> None:
    if key not in fields:
        raise r.fail(node, f"{path}.{key}", f"missing required field {key!r}")


def _freeze(r: Reader, node, path: str, names) -> tuple[str, ...]:
    if node is None:
        return ()
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    out = []
    for i, item in enumerate(items):
        p = f"{path}[{i}]" if isinstance(node, yaml.SequenceNode) else path
        out.append(r.choice(item, p, tuple(names), "a parameter of this layer"))
    return tuple(dict.fromkeys(out))


def _fits(r: Reader, node, path: str, size: int, kernel: int, stride: int, pad: int, axis: str) -> int:
    """Output length along one axis (PyTorch's floor); a kernel larger than the (padded)
    input, or a stride that leaves *input* positions unused, is an error — PyTorch drops
    them silently, and in a worked example that is almost always a mistake. Dropping only
    padding is fine: a 3×3 kernel with stride 2 and padding 1 on an even size (ResNet's
    downsampling) never reads the last padded column, and loses no input."""
    span = size + 2 * pad
    if kernel > span:
        raise r.fail(node, path, "kernel larger than its input", expected=f"a kernel of at most {span} along the "
                     f"{axis} (input {size}" + (f" + 2·padding {pad}" if pad else "") + ")", found=f"{kernel}")
    out = (span - kernel) // stride + 1
    last_read = (out - 1) * stride + kernel - 1  # in padded coordinates
    if last_read < pad + size - 1:
        unused = pad + size - 1 - last_read
        raise r.fail(node, path, "stride does not fit", expected=f"windows that reach the last input position along "
                     f"the {axis}: (input {size} + 2·padding {pad} − kernel {kernel}) = {span - kernel} is not a "
                     f"multiple of {stride}, and the last {unused} input position{'s' if unused > 1 else ''} would "
                     "never be read", found=f"stride {stride}", hint="PyTorch would silently drop them; change the "
                     "stride, the padding or the kernel")
    return out


def _read_layer(r: Reader, node, path: str, shape: tuple, is_last: bool, N: int) -> TypedLayer:
    kind = _layer_type(r, node, path)
    fields = r.mapping(node, path, TYPE_KEYS[kind], f"a {kind} layer mapping ({', '.join(TYPE_KEYS[kind][1:])})")
    if kind in ("dense", "conv2d", "conv1d"):
        return _weighted(r, node, fields, path, kind, shape, is_last)
    if kind in ("maxpool2d", "avgpool2d"):
        if len(shape) != 3:
            raise r.fail(node, path, f"{kind} needs (channels, height, width) inputs", found=f"{_shape(shape)}")
        _required(r, node, fields, "kernel", path)
        kernel = _pair(r, fields["kernel"], f"{path}.kernel", "kernel", 1)
        stride = _pair(r, fields["stride"], f"{path}.stride", "stride", 1) if "stride" in fields else kernel
        knode = fields["kernel"]
        snode = fields.get("stride", knode)
        Ho = _fits(r, knode if kernel[0] > shape[1] else snode, f"{path}.{'kernel' if kernel[0] > shape[1] else 'stride'}",
                   shape[1], kernel[0], stride[0], 0, "height")
        Wo = _fits(r, knode if kernel[1] > shape[2] else snode, f"{path}.{'kernel' if kernel[1] > shape[2] else 'stride'}",
                   shape[2], kernel[1], stride[1], 0, "width")
        return TypedLayer(kind, {}, kernel=kernel, stride=stride, in_shape=shape, out_shape=(shape[0], Ho, Wo))
    if kind == "flatten":
        return TypedLayer(kind, {}, in_shape=shape, out_shape=(int(np.prod(shape)),))
    if kind in ACTIVATION_TYPES:
        slope = hyper(r, fields["slope"], f"{path}.slope", 0.0) if "slope" in fields else None
        activation = Activation(kind, slope.value, slope.text) if slope else Activation(kind)
        return TypedLayer(kind, {}, activation=activation, in_shape=shape, out_shape=shape)
    if kind in ("batchnorm", "layernorm"):
        pshape = (shape[0],) if kind == "batchnorm" else shape
        what = "one per channel (input axis 0)" if kind == "batchnorm" else f"shaped like one sample {_shape(shape)}"
        params = {"gamma": _param(r, fields, "gamma", path, pshape, what, 1.0),
                  "beta": _param(r, fields, "beta", path, pshape, what, 0.0)}
        eps = hyper(r, fields["eps"], f"{path}.eps", 0.0).value if "eps" in fields else 1e-5
        if kind == "batchnorm":
            per_channel = N * int(np.prod(shape[1:]))
            if per_channel < 2:
                raise r.fail(node, path, "batch norm in training mode needs more than one value per channel",
                             expected="a batch of at least 2 samples (or spatial positions)", found=f"{per_channel}",
                             hint="PyTorch raises the same error; give a batch: input: [[…], […]]")
            # momentum weighs the batch: running = (1 − m)·running + m·batch, so 0…1
            momentum = hyper(r, fields["momentum"], f"{path}.momentum", 0.0).value if "momentum" in fields else 0.1
            if momentum > 1:
                raise r.fail(fields["momentum"], f"{path}.momentum", expected="a number in [0, 1] (the batch's weight "
                             "in running = (1 − m)·running + m·batch)", found=f"{momentum:g}")
            rm = _param(r, fields, "running_mean", path, pshape, what, 0.0)
            rv = _param(r, fields, "running_var", path, pshape, what, 1.0)
            if (rv < 0).any():
                raise r.fail(fields["running_var"], f"{path}.running_var", "a variance is never negative",
                             expected="numbers ≥ 0", found=f"{float(rv[rv < 0][0]):g}")
            return TypedLayer(kind, params, eps=eps, momentum=momentum, running_mean=rm, running_var=rv,
                              freeze=_freeze(r, fields.get("freeze"), f"{path}.freeze", params),
                              in_shape=shape, out_shape=shape)
        return TypedLayer(kind, params, eps=eps, freeze=_freeze(r, fields.get("freeze"), f"{path}.freeze", params),
                          in_shape=shape, out_shape=shape)
    if kind == "dropout":
        _required(r, node, fields, "mask", path)
        p = hyper(r, fields["p"], f"{path}.p", 0.0, 1.0).value if "p" in fields else 0.5
        mask = read_array(r, fields["mask"], f"{path}.mask", "0s and 1s")
        if mask.shape not in (shape, (N,) + shape):
            raise r.fail(fields["mask"], f"{path}.mask", "shape mismatch",
                         expected=f"one sample's shape {_shape(shape)} or the batch's {_shape((N,) + shape)}",
                         found=f"shape {_shape(mask.shape)}")
        if not np.isin(mask, (0.0, 1.0)).all():
            raise r.fail(fields["mask"], f"{path}.mask", expected="0s and 1s (1 = kept)",
                         found=f"{mask[~np.isin(mask, (0.0, 1.0))].reshape(-1)[0]:g}")
        return TypedLayer(kind, {}, p=p, mask=mask, in_shape=shape, out_shape=shape)
    return _recurrent(r, node, fields, path, kind, shape)


def _weighted(r, node, fields, path, kind, shape, is_last) -> TypedLayer:
    _required(r, node, fields, "weights", path)
    activation = read_activation(r, fields.get("activation"), f"{path}.activation", is_last)
    wpath = f"{path}.weights"
    if kind == "dense":
        W = read_array(r, fields["weights"], wpath, "a list of rows of numbers (shape: out × in)")
        layout = r.choice(fields["layout"], f"{path}.layout", LAYOUTS, "out_in or in_out") if "layout" in fields else "out_in"
        if W.ndim != 2:
            raise r.fail(fields["weights"], wpath, expected="a matrix (a list of rows)", found=f"{W.ndim}-D")
        if layout == "in_out":
            W = W.T.copy()
        if W.shape[1] != shape[-1]:
            raise r.fail(fields["weights"], wpath, "shape mismatch",
                         expected=f"{shape[-1]} input(s) per neuron (the previous output's last axis, shape {_shape(shape)})",
                         found=f"{W.shape[1]}" + (" (layout: in_out)" if layout == "in_out" else ""))
        params = {"weights": W}
        out_shape = shape[:-1] + (W.shape[0],)
        extra: dict = {"layout": layout}
    else:
        rank = 4 if kind == "conv2d" else 3
        dims = "(out_channels, in_channels, kh, kw)" if kind == "conv2d" else "(out_channels, in_channels, k)"
        W = read_array(r, fields["weights"], wpath, f"numbers shaped {dims}")
        if len(shape) != rank - 1:
            raise r.fail(node, path, f"{kind} needs inputs shaped " + ("(channels, height, width)" if rank == 4
                         else "(channels, length)"), found=f"{_shape(shape)}")
        if W.ndim != rank:
            raise r.fail(fields["weights"], wpath, expected=f"a {rank}-D array {dims}", found=f"{W.ndim}-D, shape {_shape(W.shape)}")
        if W.shape[1] != shape[0]:
            raise r.fail(fields["weights"], wpath, "channel mismatch", expected=f"in_channels = {shape[0]} (the input's "
                         f"channels)", found=f"{W.shape[1]} (weights shape {_shape(W.shape)})")
        if kind == "conv2d":
            stride = _pair(r, fields["stride"], f"{path}.stride", "stride", 1) if "stride" in fields else (1, 1)
            padding = _pair(r, fields["padding"], f"{path}.padding", "padding", 0) if "padding" in fields else (0, 0)
            Ho, Wo = (_conv_axis(r, node, fields, path, shape[1 + k], W.shape[2 + k], stride[k], padding[k], axis)
                      for k, axis in enumerate(("height", "width")))
            out_shape = (W.shape[0], Ho, Wo)
        else:
            s = r.integer(fields["stride"], f"{path}.stride", 1, 10_000, "a whole number from 1 to 10000") if "stride" in fields else 1
            p = r.integer(fields["padding"], f"{path}.padding", 0, 10_000, "a whole number from 0 to 10000") if "padding" in fields else 0
            stride, padding = (1, s), (0, p)
            Lo = _conv_axis(r, node, fields, path, shape[1], W.shape[2], s, p, "length")
            out_shape = (W.shape[0], Lo)
        params = {"weights": W}
        extra = {"stride": stride, "padding": padding}
    if "bias" in fields:
        params["bias"] = _param(r, fields, "bias", path, (W.shape[0],), "one per output neuron/channel")
    freeze = _freeze(r, fields.get("freeze"), f"{path}.freeze", params)
    return TypedLayer(kind, params, activation=activation, freeze=freeze, in_shape=shape, out_shape=out_shape, **extra)


def _conv_axis(r, node, fields, path, size, kernel, stride, pad, axis) -> int:
    """Blame the weights for a kernel larger than the padded input, else the stride."""
    if kernel > size + 2 * pad:
        return _fits(r, fields["weights"], f"{path}.weights", size, kernel, stride, pad, axis)
    return _fits(r, fields.get("stride", node), f"{path}.stride", size, kernel, stride, pad, axis)


def _recurrent(r, node, fields, path, kind, shape) -> TypedLayer:
    if len(shape) != 2:
        raise r.fail(node, path, f"{kind} needs a sequence per sample: (time steps, features)", found=f"{_shape(shape)}")
    T, Fin = shape
    ih = "W_xh" if kind == "rnn" else "W_ih"
    _required(r, node, fields, ih, path)
    _required(r, node, fields, "W_hh", path)
    gates = 1 if kind == "rnn" else 4
    W_hh = read_array(r, fields["W_hh"], f"{path}.W_hh", "a square matrix (hidden × hidden)")
    if W_hh.ndim != 2 or W_hh.shape[0] != gates * W_hh.shape[1]:
        expected = "(hidden, hidden)" if kind == "rnn" else "(4·hidden, hidden): the i, f, g, o rows stacked"
        raise r.fail(fields["W_hh"], f"{path}.W_hh", "shape mismatch", expected=f"shape {expected}",
                     found=f"shape {_shape(W_hh.shape)}")
    Hn = W_hh.shape[1]
    params = {ih: _param(r, fields, ih, path, (gates * Hn, Fin), f"{gates * Hn} rows (hidden{' × 4 gates' if gates == 4 else ''}) "
                         f"of {Fin} input features"),
              "W_hh": W_hh}
    if "b" in fields:
        params["b"] = _param(r, fields, "b", path, (gates * Hn,), f"{gates * Hn} numbers")
    h0 = _param(r, fields, "h0", path, (Hn,), f"{Hn} numbers (the initial hidden state)", 0.0)
    c0 = _param(r, fields, "c0", path, (Hn,), f"{Hn} numbers (the initial cell state)", 0.0) if kind == "lstm" else 0.0
    output = r.choice(fields["output"], f"{path}.output", RECURRENT_OUTPUTS, "last or all") if "output" in fields else "last"
    out_shape = (T, Hn) if output == "all" else (Hn,)
    return TypedLayer(kind, params, h0=h0, c0=c0, output=output,
                      freeze=_freeze(r, fields.get("freeze"), f"{path}.freeze", params),
                      in_shape=shape, out_shape=out_shape)


def _check_loss(r: Reader, node, loss: str, last: TypedLayer, every_step: bool) -> None:
    """cross_entropy reads one row of K classes per sample — or per time step, after a
    recurrent layer with `output: all` (a (T, K) output: PyTorch's CrossEntropyLoss on the
    N·T rows, a character-level RNN's loss)."""
    act = last.activation.name if last.type in ("dense", "conv2d", "conv1d") + ACTIVATION_TYPES else "identity"
    if loss == "bce" and act not in ("sigmoid", "softmax"):
        raise r.fail(node, "loss", "bce needs probabilities", expected="a sigmoid or softmax last layer", found=act)
    rows_ok = len(last.out_shape) == 1 or (every_step and len(last.out_shape) == 2)
    if loss == "cross_entropy" and (act != "softmax" or not rows_ok):
        raise r.fail(node, "loss", "cross_entropy needs a softmax last layer with one row of K classes per sample"
                     + (" (or per time step)" if every_step else ""),
                     found=f"{act}, output shape {_shape(last.out_shape)}")


def _class_rows(r: Reader, node, path: str, shape: tuple) -> tuple[np.ndarray, list[int]]:
    """One sample's cross-entropy target: a class index or K probabilities for a (K,)
    output; a list of T of those for a (T, K) output (one per time step)."""
    K = shape[-1]
    if len(shape) == 2:
        T = shape[0]
        if not isinstance(node, yaml.SequenceNode) or len(node.value) != T:
            raise r.fail(node, path, "sequence length mismatch", expected=f"{T} targets (one per time step: a class "
                         f"index 0…{K - 1} or {K} probabilities each)", found=describe(node))
        parts = [_class_rows(r, item, f"{path}[{t}]", shape[1:]) for t, item in enumerate(node.value)]
        return np.stack([p[0] for p in parts]), [k for p in parts for k in p[1]]
    if isinstance(node, yaml.ScalarNode):
        k = r.integer(node, path, 0, K - 1, f"a class index 0…{K - 1}")
        return np.eye(K)[k], [k]
    row = read_array(r, node, path, f"a class index or {K} probabilities")
    if row.shape != (K,):
        raise r.fail(node, path, "shape mismatch", expected=f"{K} numbers", found=_shape(row.shape))
    if (row < 0).any():  # as dense networks read them
        raise r.fail(node, path, expected="non-negative class probabilities", found="a negative value")
    return row, []


def _read_target(r: Reader, node, loss: str, shape: tuple, N: int, batched: bool, every_step: bool = False):
    if loss == "cross_entropy":
        rows, indices = [], []
        items = node.value if batched and isinstance(node, yaml.SequenceNode) else [node]
        if batched and len(items) != N:
            raise r.fail(node, "target", "shape mismatch", expected=f"{N} targets (one per sample)", found=f"{len(items)}")
        for n, item in enumerate(items):
            sample_rows, sample_indices = _class_rows(r, item, f"target[{n}]" if batched else "target", shape)
            rows.append(sample_rows)
            indices += sample_indices
        whole = len(indices) == N * int(np.prod(shape[:-1]))
        return np.stack(rows), tuple(indices) if whole else None
    t = read_array(r, node, "target", "numbers shaped like the output")
    want = (N,) + shape if batched else shape
    if t.shape != want:
        hint = "a recurrent layer with output: all needs one target per time step" if every_step else None
        raise r.fail(node, "target", "shape mismatch", expected=f"shape {_shape(want)} (the last layer's output"
                     + (" for the batch" if batched else "") + ")", found=f"shape {_shape(t.shape)}", hint=hint)
    if loss == "bce" and ((t < 0) | (t > 1)).any():
        raise r.fail(node, "target", "bce targets are probabilities", expected="values in [0, 1]")
    return (t if batched else t[None]), None
