"""YAML network spec → frozen, validated `Spec` (SPEC §1, §8).

Reading walks the composed YAML node tree (yamlsafe.py) field by field, so every error
knows its line, column and field path (`layers[1].weights[0][2]`), what was expected and
what was found. Nothing here computes gradients; it only decides what the user meant.
"""
from __future__ import annotations

import os
from dataclasses import field
from typing import Any, Optional

import yaml

from ..errors import SpecError
from ..frozen import frozen
from ..grid import Grid, is_array
from ..read.numbers import Number, describe, number, number_vector, words
from ..read.suggest import suggest
from ..read.yamlsafe import is_plain, where
from ..safe_text import clip, quoted

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
LOSSES = ("mse", "sse", "half_sse", "bce", "cross_entropy")
REDUCTIONS = ("mean", "sum")
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad")
MAX_STEPS = 100_000
DEFAULT_SLOPE = 0.01

TOP_KEYS = (
    "name", "description", "input", "target", "layers", "loss", "reduction",
    "optimizer", "lr", "steps", "notation",
)
LAYER_KEYS = ("weights", "bias", "activation", "freeze", "layout", "type")
LAYOUTS = ("out_in", "in_out")  # how `weights` is written: (out, in) as nn.Linear, or (in, out): h = xW
OPTIMIZER_KEYS = {
    "sgd": ("name", "lr", "momentum", "weight_decay", "nesterov"),
    "adam": ("name", "lr", "betas", "eps", "weight_decay"),
    "rmsprop": ("name", "lr", "alpha", "eps", "weight_decay", "momentum", "centered"),
    "adagrad": ("name", "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"),
}
# PyTorch's defaults where they differ between optimizers (torch.optim.Adagrad: eps=1e-10)
DEFAULT_EPS = {"adam": ("1e-8", 1e-8), "rmsprop": ("1e-8", 1e-8), "adagrad": ("1e-10", 1e-10)}
NOTATION_PRESETS = ("standard", "mazur", "hidden_output", "indexed")
_LEGACY_NOTATION = ("seed000", "seed002")  # 0.1.0 names, read as standard / hidden_output


@frozen
class Activation:
    name: str
    slope: float = DEFAULT_SLOPE  # leaky_relu only
    slope_text: str = "0.01"


@frozen
class LayerSpec:
    weights: Grid  # (out, in): row j = weights into neuron j (nn.Linear)
    bias: Any  # Grid (per neuron) | float (one shared parameter) | None
    activation: Activation
    freeze: tuple[str, ...] = ()
    weights_text: tuple[tuple[str, ...], ...] = ()
    bias_text: Any = None  # tuple[str, ...] | str | None
    # How the student wrote `weights`. `weights`/`weights_text` above are always stored
    # (out, in), so the math and the canonical names (W numbered row-major over (out, in))
    # never depend on it; renderers and structured keys show in_out matrices transposed.
    layout: str = "out_in"

    @property
    def units(self) -> int:
        return self.weights.shape[0]

    @property
    def fan_in(self) -> int:
        return self.weights.shape[1]

    @property
    def bias_kind(self) -> str:
        if self.bias is None:
            return "none"
        return "vector" if is_array(self.bias) else "shared"


@frozen
class Optimizer:
    name: str  # sgd | adam | rmsprop | adagrad
    lr: Number
    momentum: Number = Number(0.0, "0")  # sgd, rmsprop
    weight_decay: Number = Number(0.0, "0")
    nesterov: bool = False
    beta1: Number = Number(0.9, "0.9")
    beta2: Number = Number(0.999, "0.999")
    eps: Number = Number(1e-8, "1e-8")
    alpha: Number = Number(0.99, "0.99")  # rmsprop: smoothing constant of the squared average
    centered: bool = False  # rmsprop: divide by the estimated variance, not the raw second moment
    lr_decay: Number = Number(0.0, "0")  # adagrad: lr / (1 + (t − 1)·lr_decay)
    initial_accumulator_value: Number = Number(0.0, "0")  # adagrad: where the sum of g² starts

    def hyperparameters(self) -> dict[str, Number]:
        """The canonical hyperparameter names (SPEC §3) this optimizer uses."""
        out = {"lr": self.lr}
        if self.name == "sgd":
            if self.momentum.value:
                out["momentum"] = self.momentum
        elif self.name == "adam":
            out.update(beta1=self.beta1, beta2=self.beta2, eps=self.eps)
        elif self.name == "rmsprop":
            out.update(alpha=self.alpha, eps=self.eps)
            if self.momentum.value:
                out["momentum"] = self.momentum
        else:
            out["eps"] = self.eps
            if self.lr_decay.value:
                out["lr_decay"] = self.lr_decay
            if self.initial_accumulator_value.value:
                out["initial_accumulator_value"] = self.initial_accumulator_value
        if self.weight_decay.value:
            out["weight_decay"] = self.weight_decay
        return out


@frozen
class Spec:
    file: str
    name: str
    description: str
    input: Grid  # (N, I)
    target: Grid  # (N, K): values, one-hot rows for class indices
    layers: tuple[LayerSpec, ...]
    loss: str
    reduction: str
    optimizer: Optimizer
    steps: int = 1
    batched: bool = False  # input written 2-D
    target_indices: Optional[tuple[int, ...]] = None  # cross_entropy with class indices
    input_text: tuple[tuple[str, ...], ...] = ()
    target_text: tuple[tuple[str, ...], ...] = ()
    notation: Any = None  # preset name or mapping, interpreted by notation.py
    warnings: tuple[str, ...] = ()
    marks: dict = field(default_factory=dict, compare=False)  # field path → (line, column)

    @property
    def samples(self) -> int:
        return self.input.shape[0]

    @property
    def outputs(self) -> int:
        return self.layers[-1].units

    @property
    def parameter_count(self) -> int:
        total = 0
        for layer in self.layers:
            total += layer.weights.size
            total += {"none": 0, "shared": 1, "vector": layer.units}[layer.bias_kind]
        return total

    def with_steps(self, steps: int) -> "Spec":
        from ..frozen import replace

        return replace(self, steps=steps)


# --------------------------------------------------------------------------------------
# helpers


# Words from other tools (PyTorch, Keras, textbooks) for a field we spell differently.
def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class _Reader:
    """Holds the file label so each check can raise a fully located SpecError."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.marks: dict[str, tuple[int, int]] = {}

    def fail(self, node: yaml.Node | None, path: str, message: str = "", **kw) -> SpecError:
        loc = where(node) if node is not None else {}
        return SpecError(message, file=self.file, path=path, **loc, **kw)

    def mapping(self, node: yaml.Node, path: str, allowed, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, path, expected=what, found=describe(node))
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise self.fail(key, path, expected="a plain key", found=describe(key))
            name = key.value
            if name not in allowed:
                where_path = f"{path}.{clip(name)}" if path else clip(name)
                hint = suggest(name, allowed) or f"known keys: {', '.join(allowed)}"
                if name == "<<":
                    hint = "YAML merge keys (<<) are not supported: write the fields out"
                raise self.fail(key, where_path, "unknown key", hint=hint)
            out[name] = value
            self.marks[f"{path}.{name}" if path else name] = (key.start_mark.line + 1, key.start_mark.column + 1)
        return out

    def text(self, node: yaml.Node, path: str, what: str = "text") -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, path, expected=what, found=describe(node))
        return node.value

    def words(self, node: yaml.Node, path: str) -> str:
        return words(node, path, self.file)

    def choice(self, node: yaml.Node, path: str, choices, what: str) -> str:
        value = self.text(node, path, what)
        if value not in choices:
            hint = suggest(value, choices) or f"one of: {', '.join(choices)}"
            raise self.fail(node, path, expected=what, found=quoted(value), hint=hint)
        return value

    def integer(self, node: yaml.Node, path: str, lo: int, hi: int, what: str) -> int:
        n = number(node, path, self.file, what)
        if n.value != int(n.value) or not n.text.lstrip("+-").isdigit():
            raise self.fail(node, path, expected=what, found=quoted(n.text))
        if not lo <= n.value <= hi:
            raise self.fail(node, path, expected=what, found=n.text)
        return int(n.value)

    def boolean(self, node: yaml.Node, path: str) -> bool:
        value = self.text(node, path, "true or false")
        if is_plain(node) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.fail(node, path, expected="true or false", found=describe(node))

    def matrix(self, node: yaml.Node, path: str, what: str) -> tuple[Grid, tuple]:
        """A non-empty list of equal-length rows of numbers."""
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.fail(node, path, expected=what, found=describe(node))
        if all(isinstance(c, yaml.ScalarNode) for c in node.value):
            raise self.fail(
                node, path, expected=what, found="a flat list",
                hint="write the rows as a list of lists: [[…], […]] (one row per neuron)",
            )
        rows, texts = [], []
        for i, row in enumerate(node.value):
            values, text = number_vector(row, f"{path}[{i}]", self.file)
            if not len(values):
                raise self.fail(row, f"{path}[{i}]", expected="a row of numbers", found="an empty list")
            if rows and len(values) != len(rows[0]):
                raise self.fail(
                    row, f"{path}[{i}]", "ragged rows",
                    expected=f"{_count(len(rows[0]), 'number')} like row 0", found=f"{len(values)}",
                )
            rows.append(values)
            texts.append(text)
        return Grid.matrix(rows), tuple(texts)


# --------------------------------------------------------------------------------------
# the spec


def read_network(root: yaml.Node, file: str) -> Spec:
    """A network spec from its composed YAML tree (load.py decides network or graph)."""
    r = _Reader(file)
    if not isinstance(root, yaml.MappingNode):
        raise r.fail(root, "", expected="a mapping of spec fields (name, input, layers, …)", found=describe(root))
    return _read_network(r, root)


def read_minimize_optimizer(root: yaml.MappingNode, graph):
    """`minimize:` on a graph takes the network's optimizer field (or `lr`), read the same
    way as a network's, with the same messages; load.py attaches it to the graph spec."""
    from ..frozen import replace

    r = _Reader(graph.file)
    top = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    return replace(graph, optimizer=_read_optimizer(r, top, root, []))


def _read_network(r: _Reader, root: yaml.MappingNode) -> Spec:
    top = r.mapping(root, "", TOP_KEYS + ("graph",), "a spec mapping")
    for required in ("input", "target", "layers", "loss"):
        if required not in top:
            raise SpecError(f"missing required field {required!r}", file=r.file, path=required, line=root.start_mark.line + 1)
    warnings: list[str] = []

    name = r.words(top["name"], "name") if "name" in top else os.path.splitext(os.path.basename(r.file))[0]
    description = r.words(top["description"], "description") if "description" in top else ""

    x, x_text, batched = _read_input(r, top["input"])
    column = tuple(row[0] for row in x_text) if batched and x.shape[1] == 1 and x.shape[0] > 1 else None
    layers = _read_layers(r, top["layers"], x.shape[1], column)
    loss = r.choice(top["loss"], "loss", LOSSES, "a loss")
    reduction = r.choice(top["reduction"], "reduction", REDUCTIONS, "mean or sum") if "reduction" in top else "mean"
    _check_loss_fits(r, top, layers, loss)
    target, t_text, indices = _read_target(r, top["target"], loss, layers[-1].units, x.shape[0], batched)
    optimizer = _read_optimizer(r, top, root, warnings)
    steps = r.integer(top["steps"], "steps", 1, MAX_STEPS, f"a whole number of steps from 1 to {MAX_STEPS}") if "steps" in top else 1
    notation = _read_notation(r, top["notation"]) if "notation" in top else None
    return Spec(
        file=r.file, name=name, description=description, input=x, target=target,
        layers=layers, loss=loss, reduction=reduction, optimizer=optimizer, steps=steps,
        batched=batched, target_indices=indices, input_text=x_text, target_text=t_text,
        notation=notation, warnings=tuple(warnings), marks=r.marks,
    )


def _read_input(r: _Reader, node: yaml.Node):
    if isinstance(node, yaml.SequenceNode) and node.value and all(isinstance(c, yaml.SequenceNode) for c in node.value):
        x, text = r.matrix(node, "input", "a list of numbers, or a batch (list of rows)")
        return x, text, True
    if isinstance(node, yaml.SequenceNode) and isinstance(node.value[0] if node.value else None, yaml.SequenceNode):
        i, item = next((i, c) for i, c in enumerate(node.value) if not isinstance(c, yaml.SequenceNode))
        raise r.fail(
            item, f"input[{i}]", "a mix of rows and numbers",
            expected="a row like input[0] (a batch is a list of rows)", found=describe(item),
        )
    values, text = number_vector(node, "input", r.file)
    if not len(values):
        raise r.fail(node, "input", expected="at least one number", found="an empty list")
    return Grid.matrix([values]), (text,), False


def _read_layers(r: _Reader, node: yaml.Node, fan_in: int, column: Optional[tuple[str, ...]] = None
                 ) -> tuple[LayerSpec, ...]:
    """The layers, each checked against the width before it. `column` is the input's
    numbers when it was written as a column ([[1], [0.5], [-1]]: a batch of one-value
    samples), so a first layer that wants them as one sample can say so."""
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise r.fail(node, "layers", expected="a list of layers", found=describe(node))
    layers = []
    last = len(node.value) - 1
    for i, layer_node in enumerate(node.value):
        path = f"layers[{i}]"
        fields = r.mapping(layer_node, path, LAYER_KEYS, "a layer mapping (weights, bias, activation, freeze)")
        if "weights" not in fields:
            raise r.fail(layer_node, f"{path}.weights", "missing required field 'weights'")
        layout = r.choice(fields["layout"], f"{path}.layout", LAYOUTS, "a weight layout (out_in or in_out)") if "layout" in fields else "out_in"
        if layout == "in_out":
            w, w_text = _read_in_out(r, fields["weights"], f"{path}.weights", fan_in, i)
        else:
            w, w_text = r.matrix(fields["weights"], f"{path}.weights", "a list of rows of numbers (shape: out × in)")
        if w.shape[1] != fan_in:
            source = (
                f"the input has {fan_in} value{'s' * (fan_in != 1)} per sample" if i == 0
                else f"layers[{i - 1}] (layer {i}) has {fan_in} neuron{'s' * (fan_in != 1)}"
            )
            raise r.fail(
                fields["weights"], f"{path}.weights", "shape mismatch",
                expected=f"rows of {_count(fan_in, 'number')} ({source})",
                found=f"rows of {w.shape[1]} (layer {i + 1}, shape {w.shape[0]}×{w.shape[1]})",
                hint=_shape_slip(w.shape, fan_in, column if i == 0 else None),
            )
        bias, b_text = _read_bias(r, fields.get("bias"), f"{path}.bias", w.shape[0])
        activation = _read_activation(r, fields.get("activation"), f"{path}.activation", i == last)
        freeze = _read_freeze(r, fields.get("freeze"), f"{path}.freeze", bias is not None)
        layers.append(LayerSpec(w, bias, activation, freeze, w_text, b_text, layout))
        fan_in = w.shape[0]
    return tuple(layers)


def _shape_slip(shape: tuple[int, int], fan_in: int, column: Optional[tuple[str, ...]]) -> Optional[str]:
    """Name the two common slips behind a first-layer shape mismatch, only where the
    numbers fit the slip: an input written as a column vector (a batch of one-value
    samples) whose length is what the weights take, and weights written (in, out)."""
    out, width = shape
    if column is not None and width == len(column):
        return (f"the input [[{'], ['.join(column)}]] is a batch of {len(column)} samples of one value each; "
                f"one sample of {len(column)} values is written [{', '.join(column)}]")
    if out == fan_in:
        return (f"the weights look transposed (written in × out): write them as {width}×{out}, "
                f"one row of {_count(fan_in, 'number')} per neuron (shape out × in, as PyTorch's nn.Linear), "
                "or keep them and set `layout: in_out` on the layer")
    return None


def _read_in_out(r: _Reader, node, path: str, fan_in: int, i: int):
    """`layout: in_out` weights (h = xW): row i = the weights OUT of input i. Checked as
    written (one row per input), stored transposed to the (out, in) of every other layer."""
    w, text = r.matrix(node, path, "a list of rows of numbers (shape: in × out, layout: in_out)")
    if w.shape[0] != fan_in:
        source = (
            f"the input has {fan_in} value{'s' * (fan_in != 1)} per sample" if i == 0
            else f"layers[{i - 1}] (layer {i}) has {fan_in} neuron{'s' * (fan_in != 1)}"
        )
        raise r.fail(
            node, path, "shape mismatch",
            expected=f"{_count(fan_in, 'row')} (one per input, layout: in_out; {source})",
            found=f"{w.shape[0]} rows (layer {i + 1}, shape {w.shape[0]}×{w.shape[1]})",
        )
    return Grid.matrix(zip(*w.rows())), tuple(zip(*text))


def _read_bias(r: _Reader, node, path: str, units: int):
    if node is None:
        return None, None
    if isinstance(node, yaml.ScalarNode):
        if is_plain(node) and node.value.lower() in ("false", "true", "no", "yes", "null", "~", ""):
            raise r.fail(
                node, path, expected="a list of numbers (one per neuron) or one number (shared)",
                found=describe(node), hint="to have no bias, omit the field",
            )
        n = number(node, path, r.file, "a list of numbers (one per neuron) or one number (shared)")
        return float(n.value), n.text
    values, text = number_vector(node, path, r.file)
    if len(values) != units:
        raise r.fail(
            node, path, "shape mismatch", expected=f"{units} number{'s' * (units != 1)} (one per neuron)",
            found=f"{len(values)}",
        )
    return Grid.vector(values), text


def _read_activation(r: _Reader, node, path: str, is_last: bool) -> Activation:
    if node is None:
        return Activation("identity")
    slope, slope_text = DEFAULT_SLOPE, "0.01"
    if isinstance(node, yaml.MappingNode):
        fields = r.mapping(node, path, ("name", "slope"), "an activation name or {name: …, slope: …}")
        if "name" not in fields:
            raise r.fail(node, f"{path}.name", "missing required field 'name'")
        name = r.choice(fields["name"], f"{path}.name", ACTIVATIONS, "an activation")
        if "slope" in fields:
            if name != "leaky_relu":
                raise r.fail(fields["slope"], f"{path}.slope", "slope applies only to leaky_relu")
            s = number(fields["slope"], f"{path}.slope", r.file)
            slope, slope_text = s.value, s.text
        name_node = fields["name"]
    else:
        name = r.choice(node, path, ACTIVATIONS, "an activation")
        name_node = node
    if name == "softmax" and not is_last:
        raise r.fail(name_node, path, "softmax is allowed on the last layer only", hint="use sigmoid, tanh or relu in hidden layers")
    return Activation(name, slope, slope_text)


def _read_freeze(r: _Reader, node, path: str, has_bias: bool) -> tuple[str, ...]:
    if node is None:
        return ()
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    out = []
    for i, item in enumerate(items):
        p = f"{path}[{i}]" if isinstance(node, yaml.SequenceNode) else path
        what = r.choice(item, p, ("weights", "bias"), "weights or bias")
        if what == "bias" and not has_bias:
            raise r.fail(item, p, "this layer has no bias to freeze")
        if what not in out:
            out.append(what)
    return tuple(out)


def _check_loss_fits(r: _Reader, top, layers, loss: str) -> None:
    last = layers[-1].activation.name
    if loss == "bce" and last not in ("sigmoid", "softmax"):
        raise r.fail(
            top["loss"], "loss", "bce needs probabilities", expected="a sigmoid or softmax last layer",
            found=f"{last}", hint="use activation: sigmoid on the last layer",
        )
    if loss == "cross_entropy" and last != "softmax":
        raise r.fail(
            top["loss"], "loss", "cross_entropy needs a softmax last layer", found=f"{last}",
            hint="use activation: softmax on the last layer (cross_entropy is computed on its logits)",
        )


def _read_target(r: _Reader, node, loss: str, K: int, N: int, batched: bool):
    """Targets follow the input's shape; cross_entropy also takes class indices."""
    path = "target"
    if loss == "cross_entropy":
        return _read_ce_target(r, node, K, N, batched)
    if batched:
        if not (isinstance(node, yaml.SequenceNode) and node.value and all(isinstance(c, yaml.SequenceNode) for c in node.value)):
            raise r.fail(node, path, expected=f"a batch of {N} rows of {_count(K, 'number')}, like the input", found=describe(node))
        t, text = r.matrix(node, path, f"{N} rows of {K} numbers")
    else:
        if isinstance(node, yaml.SequenceNode) and node.value and all(isinstance(c, yaml.SequenceNode) for c in node.value):
            raise r.fail(
                node, path, expected=f"a flat list of {K} number{'s' * (K != 1)}, like the input",
                found=f"a list of rows ({describe(node)})",
                hint="the input is one sample (a flat list), so the target is one flat list too",
            )
        values, text1 = number_vector(node, path, r.file)
        t, text = Grid.matrix([values]), (text1,)
    if t.shape != (N, K):
        raise r.fail(
            node, path, "shape mismatch",
            expected=f"{N} row(s) of {K} number(s) (the input has {N} sample(s), the last layer {K} neuron(s))",
            found=f"{t.shape[0]} row(s) of {t.shape[1]}" if batched else f"{t.shape[1]} number(s)",
        )
    outside = [(i, k) for i, row in enumerate(t.rows()) for k, v in enumerate(row) if not 0 <= v <= 1]
    if loss == "bce" and outside:
        i, k = outside[0]
        sub = f"[{i}][{k}]" if batched else f"[{k}]"
        raise r.fail(node, path + sub, "bce targets are probabilities", expected="a value in [0, 1]", found=repr(text[i][k]))
    return t, text, None


def _ce_index(r: _Reader, node, path: str, K: int) -> int:
    n = number(node, path, r.file, f"a class index 0…{K - 1}")
    if n.value != int(n.value) or "/" in n.text or "." in n.text or "e" in n.text.lower():
        raise r.fail(node, path, expected=f"a whole class index 0…{K - 1}", found=repr(n.text))
    if not 0 <= n.value < K:
        raise r.fail(node, path, "class index out of range", expected=f"0…{K - 1} (0-based, {K} classes)", found=n.text)
    return int(n.value)


def _read_ce_target(r: _Reader, node, K: int, N: int, batched: bool):
    path = "target"
    rows_t, texts, indices = [], [], []

    def one(item, p):
        if isinstance(item, yaml.SequenceNode) and len(item.value) == 1 and K != 1:
            return one(item.value[0], f"{p}[0]")
        if isinstance(item, yaml.ScalarNode):
            k = _ce_index(r, item, p, K)
            row = tuple(1.0 if j == k else 0.0 for j in range(K))
            indices.append(k)
            return row, tuple("1" if j == k else "0" for j in range(K))
        values, text = number_vector(item, p, r.file)
        if len(values) != K:
            raise r.fail(item, p, "shape mismatch", expected=f"a class index or a row of {K} numbers", found=f"{len(values)} numbers")
        if any(v < 0 for v in values):
            raise r.fail(item, p, expected="non-negative class probabilities", found="a negative value")
        return values, text

    if batched:
        if not isinstance(node, yaml.SequenceNode):
            raise r.fail(node, path, expected=f"{N} class indices or {N} rows of {K}", found=describe(node))
        if len(node.value) != N:
            raise r.fail(node, path, "shape mismatch", expected=f"{N} targets (one per sample)", found=f"{len(node.value)}")
        items = [(c, f"{path}[{i}]") for i, c in enumerate(node.value)]
    elif isinstance(node, yaml.ScalarNode):
        items = [(node, path)]
    else:
        items = [(node, path)]
    for item, p in items:
        row, text = one(item, p)
        rows_t.append(row)
        texts.append(text)
    idx = tuple(indices) if len(indices) == len(rows_t) else None
    return Grid.matrix(rows_t), tuple(texts), idx


def _read_optimizer(r: _Reader, top, root, warnings: list[str]) -> Optimizer:
    if "lr" in top and "optimizer" in top:
        raise r.fail(top["lr"], "lr", "give lr either at top level (plain SGD) or inside optimizer, not both")
    if "optimizer" not in top:
        if "lr" not in top:
            raise SpecError(
                "missing required field 'optimizer' (or the shorthand 'lr')", file=r.file, path="optimizer",
                line=root.start_mark.line + 1, hint="add e.g. `optimizer: {name: sgd, lr: 0.5}` or `lr: 0.5`",
            )
        lr = _hyper(r, top["lr"], "lr", lo=0.0)
        if lr.value == 0:
            warnings.append("lr is 0: the parameters will not change")
        return Optimizer("sgd", lr)
    node = top["optimizer"]
    if isinstance(node, yaml.ScalarNode):
        raise r.fail(node, "optimizer", expected="a mapping like {name: sgd, lr: 0.1}", found=describe(node))
    names = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)} if isinstance(node, yaml.MappingNode) else {}
    if "name" not in names:
        if isinstance(node, yaml.MappingNode):
            raise r.fail(node, "optimizer.name", "missing required field 'name'", hint="sgd, adam, rmsprop or adagrad")
        raise r.fail(node, "optimizer", expected="a mapping like {name: sgd, lr: 0.1}", found=describe(node))
    kind = r.choice(names["name"], "optimizer.name", OPTIMIZERS, "an optimizer")
    fields = r.mapping(node, "optimizer", OPTIMIZER_KEYS[kind], f"a {kind} optimizer mapping")
    if "lr" not in fields:
        raise r.fail(node, "optimizer.lr", "missing required field 'lr' (it has no default)")
    lr = _hyper(r, fields["lr"], "optimizer.lr", lo=0.0)
    if lr.value == 0:
        warnings.append("lr is 0: the parameters will not change")
    wd = _hyper(r, fields["weight_decay"], "optimizer.weight_decay", lo=0.0) if "weight_decay" in fields else Number(0.0, "0")
    if kind == "sgd":
        momentum = _hyper(r, fields["momentum"], "optimizer.momentum", lo=0.0) if "momentum" in fields else Number(0.0, "0")
        nesterov = r.boolean(fields["nesterov"], "optimizer.nesterov") if "nesterov" in fields else False
        if nesterov and momentum.value <= 0:
            raise r.fail(fields["nesterov"], "optimizer.nesterov", "nesterov momentum requires momentum > 0")
        return Optimizer("sgd", lr, momentum=momentum, weight_decay=wd, nesterov=nesterov)
    eps_text, eps_value = DEFAULT_EPS[kind]
    eps = _hyper(r, fields["eps"], "optimizer.eps", lo=0.0) if "eps" in fields else Number(eps_value, eps_text)
    if kind == "rmsprop":  # torch.optim.RMSprop's checks: every value ≥ 0
        alpha = _hyper(r, fields["alpha"], "optimizer.alpha", lo=0.0) if "alpha" in fields else Number(0.99, "0.99")
        momentum = _hyper(r, fields["momentum"], "optimizer.momentum", lo=0.0) if "momentum" in fields else Number(0.0, "0")
        centered = r.boolean(fields["centered"], "optimizer.centered") if "centered" in fields else False
        return Optimizer("rmsprop", lr, momentum=momentum, weight_decay=wd, eps=eps, alpha=alpha, centered=centered)
    if kind == "adagrad":  # torch.optim.Adagrad's checks: every value ≥ 0
        lr_decay = _hyper(r, fields["lr_decay"], "optimizer.lr_decay", lo=0.0) if "lr_decay" in fields else Number(0.0, "0")
        initial = (_hyper(r, fields["initial_accumulator_value"], "optimizer.initial_accumulator_value", lo=0.0)
                   if "initial_accumulator_value" in fields else Number(0.0, "0"))
        return Optimizer("adagrad", lr, weight_decay=wd, eps=eps, lr_decay=lr_decay, initial_accumulator_value=initial)
    beta1, beta2 = Number(0.9, "0.9"), Number(0.999, "0.999")
    if "betas" in fields:
        bnode = fields["betas"]
        if not isinstance(bnode, yaml.SequenceNode) or len(bnode.value) != 2:
            raise r.fail(bnode, "optimizer.betas", expected="two numbers [beta1, beta2]", found=describe(bnode))
        beta1 = _hyper(r, bnode.value[0], "optimizer.betas[0]", lo=0.0, hi=1.0)
        beta2 = _hyper(r, bnode.value[1], "optimizer.betas[1]", lo=0.0, hi=1.0)
    return Optimizer("adam", lr, weight_decay=wd, beta1=beta1, beta2=beta2, eps=eps)


def _hyper(r: _Reader, node, path: str, lo: float, hi: Optional[float] = None) -> Number:
    """A hyperparameter with PyTorch's range checks: lo ≤ value (< hi)."""
    n = number(node, path, r.file)
    if n.value < lo or (hi is not None and n.value >= hi):
        rng = f"a number ≥ {lo:g}" if hi is None else f"a number in [{lo:g}, {hi:g})"
        raise r.fail(node, path, expected=rng, found=n.text)
    return n


def _read_notation(r: _Reader, node):
    if isinstance(node, yaml.ScalarNode):
        if node.value in _LEGACY_NOTATION:
            return node.value
        return r.choice(node, "notation", NOTATION_PRESETS, "a notation preset")
    if not isinstance(node, yaml.MappingNode):
        raise r.fail(node, "notation", expected="a preset name or a mapping", found=describe(node))
    from ..render.notation import OVERRIDE_KEYS, symbol_problem  # checked here so a bad key has its line and column

    known = ("preset",) + tuple(OVERRIDE_KEYS)
    out = {}
    for k, v in node.value:
        key = r.text(k, "notation", "a notation key")
        if key not in known:
            hint = suggest(key, known) or f"known keys: {', '.join(k for k in known if len(k) > 1)}"
            raise r.fail(k, f"notation.{clip(key)}", "unknown notation key", hint=hint)
        if key == "preset":
            out[key] = v.value if isinstance(v, yaml.ScalarNode) and v.value in _LEGACY_NOTATION else r.choice(v, "notation.preset", NOTATION_PRESETS, "a notation preset")
            continue
        text = r.text(v, f"notation.{key}", "a short symbol")
        problem = symbol_problem(text.strip())
        if problem is not None:
            raise r.fail(
                v, f"notation.{key}", "not an allowed symbol",
                expected="letters, digits, primes, sub/superscripts, ^ _ { } and commands such as \\hat, \\mathbf",
                found=f"{quoted(text)}: {problem}",
            )
        out[key] = text
    return out


# --------------------------------------------------------------------------------------
# shared with the typed-layer reader (network/typed_spec.py): the same checks, the same messages

Reader = _Reader
count = _count


def read_activation(r: _Reader, node, path: str, is_last: bool) -> Activation:
    return _read_activation(r, node, path, is_last)


def read_optimizer(r: _Reader, top, root, warnings: list[str]) -> Optimizer:
    return _read_optimizer(r, top, root, warnings)


def hyper(r: _Reader, node, path: str, lo: float, hi: Optional[float] = None) -> Number:
    return _hyper(r, node, path, lo, hi)
