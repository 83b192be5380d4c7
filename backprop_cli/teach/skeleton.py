"""`backprop key SPEC`: every canonical name of a spec, as a key skeleton or a glossary.

A teacher writing a key should never have to guess that σ₃ is `a3`: the skeleton lists
every name the solve has (SPEC §3) with its display symbol and what it means, values
left blank to fill in. Meanings are spelled from the spec's own numbering
(names.NetworkNames), never from a table that could drift from it.
"""
from __future__ import annotations

import re

from ..network import typed_names
from ..network.names import NetworkNames
from ..render.notation import Notation

_SUFFIX = re.compile(r"(?P<base>.+?)(?:#(?P<sample>[0-9]+))?(?:@(?P<step>[0-9]+))?")


def meanings(spec, trace) -> list[tuple[str, str, str]]:
    """(name, symbol, meaning) of every canonical name the solve has, in its order."""
    if type(spec).__name__ == "GraphSpec":
        return [(n, n, _graph_meaning(n, spec)) for n in trace.named]
    if getattr(spec, "kind", "network") == "layered":  # typed layers: the names are their own symbols
        return [(n, n, _layered_meaning(n, spec)) for n in trace.named]
    notation = Notation.of_spec(spec)
    where = _parameter_places(spec)
    out = []
    for name in trace.named:
        try:
            symbol = notation.unicode(name)
        except Exception:  # noqa: BLE001 - a name the notation has no symbol for is shown as itself
            symbol = name
        out.append((name, symbol, _network_meaning(name, where, spec)))
    return out


def _parameter_places(spec) -> dict[str, str]:
    names = NetworkNames.of(spec)
    out = {}
    for l in range(len(spec.layers)):
        for name, index in names.parameters(l):
            if index[0] == "w":
                source = f"input x{index[2] + 1}" if l == 0 else f"neuron {names.neuron(l - 1, index[2])}"
                out[name] = f"layer {l + 1}, row {index[1]}, column {index[2]}: into neuron " \
                            f"{names.neuron(l, index[1])} from {source}"
            elif len(index) == 2:
                out[name] = f"layer {l + 1}: bias of neuron {names.neuron(l, index[1])}"
            else:
                out[name] = f"layer {l + 1}: one bias shared by the layer"
    return out


_NETWORK = [
    (r"x([0-9]+)", "input {0}"),
    (r"t([0-9]+)", "target of output {0}"),
    (r"([Wb][0-9]+)", "{place} (before the step)"),
    (r"([Wb][0-9]+)_new", "{0} after the update"),
    (r"z([0-9]+)", "pre-activation (weighted sum) of neuron {0}"),
    (r"a([0-9]+)", "activation (output) of neuron {0}"),
    (r"dL/da([0-9]+)", "gradient of the loss with respect to a{0}"),
    (r"da([0-9]+)/dz\1", "activation derivative of neuron {0} (σ′)"),
    (r"delta([0-9]+)", "error signal of neuron {0}: ∂L/∂z{0}"),
    (r"dL/d([Wb][0-9]+)", "gradient of the loss with respect to {0}"),
    (r"dz([0-9]+)/d([Wb][0-9]+)", "local factor ∂z{0}/∂{1}"),
    (r"dz([0-9]+)/da([0-9]+)", "local factor ∂z{0}/∂a{1} (the weight between them)"),
    (r"dz([0-9]+)/dx([0-9]+)", "local factor ∂z{0}/∂x{1}"),
    (r"loss", "the loss"),
    (r"loss_after", "the loss after the last update"),
    (r"lr", "learning rate"),
    (r"(momentum|weight_decay|beta1|beta2|eps|slope)", "hyperparameter {0}"),
    (r"(buf|m|v)_([Wb][0-9]+)", "optimizer state {0} of {1}"),
]


def _network_meaning(name: str, where: dict, spec) -> str:
    m = _SUFFIX.fullmatch(name)
    base, sample, step = m.group("base"), m.group("sample"), m.group("step")
    text = base
    for pattern, words in _NETWORK:
        found = re.fullmatch(pattern, base)
        if found:
            place = where.get(found.group(1), "") if "{place}" in words else ""
            text = words.format(*found.groups(), place=place or base)
            break
    if sample:
        text += f", sample {sample}"
    if step:
        text += f", step {step}" if base != "loss_after" else f", after step {step}"
    return text


_LAYERED_EXTRAS = {
    "out": "output", "z": "pre-activation (before the activation)", "mean": "batch mean", "var": "batch variance (biased)",
    "xhat": "normalised input x̂", "running_mean_new": "running mean after the step",
    "running_var_new": "running variance after the step (unbiased batch variance)", "h": "hidden state h_t",
    "c": "cell state c_t", "i": "input gate", "f": "forget gate", "g": "candidate (g gate)", "o": "output gate",
}


def _layered_meaning(name: str, spec) -> str:
    """Typed layers (docs/layers.md, "Names"): L2.gamma[1], dL/dL1.out[1,2], L1.W_hh_share[3,1,2]."""
    m = _SUFFIX.fullmatch(name)
    base, step = m.group("base"), m.group("step")
    suffix = f", step {step}" if step else ""
    if base == "loss_after":
        return f"the loss after step {step}'s update" if step else "the loss after the last update"
    if base == "loss":
        return "the loss" + suffix
    if re.fullmatch(r"[xt](\[[0-9,]+\])?", base):
        return ("input" if base[0] == "x" else "target") + (f" element {base[1:]}" if len(base) > 1 else "") + suffix
    found = typed_names.NAME.fullmatch(base)
    if found is None:
        return base + suffix
    l, field = int(found["layer"]), found["field"]
    layer = spec.layers[l - 1] if 1 <= l <= len(spec.layers) else None
    where = f"layer {l}" + (f" ({layer.type})" if layer is not None else "")
    element = f", element [{found['index']}]" if found["index"] else ""
    params = layer.params if layer is not None else {}
    if field.endswith("_share") and field[:-6] in params:
        t = found["index"].split(",")[0] if found["index"] else "?"
        text = f"{where}: time step {t}'s contribution to ∂L/∂{field[:-6]}"
    elif field in params or (field.endswith("_new") and field[:-4] in params):
        param = field[:-4] if field.endswith("_new") else field
        text = f"{where}: parameter {param}" + (" after the update" if field.endswith("_new") else " (before the step)")
    elif layer is not None and layer.type == "layernorm" and field in ("mean", "var"):
        text = f"{where}: {field} over one sample's features" + (" (biased)" if field == "var" else "")
    else:
        text = f"{where}: {_LAYERED_EXTRAS.get(field, field)}"
    if found["grad"]:
        text = f"gradient of the loss with respect to {text}"
    if found["state"]:
        text = f"optimizer state {found['state'][:-1]} of {text}"
    return text + element + suffix


def _graph_meaning(name: str, spec) -> str:
    if name.endswith(".local"):
        top, bottom = name[:-6].split("/", 1)
        return f"local derivative of node {top[1:]} with respect to its input {bottom[1:]}"
    m = re.fullmatch(r"d2(.+)/d(.+)2", name)
    if m:
        return f"second derivative of {m.group(1)} with respect to {m.group(2)}"
    if "/" in name:
        top, bottom = name.split("/", 1)
        return f"gradient of the output {top[1:]} with respect to {bottom[1:]} (through the whole graph)"
    node = next((n for n in spec.nodes if n.name == name), None)
    if node is not None and node.is_leaf:
        return "given leaf value"
    return f"node value: {node.text}" if node is not None else "node value"


def skeleton_text(spec, trace, source: str) -> str:
    rows = meanings(spec, trace)
    width = max((len(_key(n)) for n, _, _ in rows), default=0)
    lines = [f"# Answer-key skeleton for {source}: fill in the values you want checked and delete",
             "# the rest (an empty value is not a number). `backprop check SPEC --key THIS_FILE`.",
             "named:"]
    lines += [f"  {(_key(n) + ':').ljust(width + 1)}    # {s} — {m}" for n, s, m in rows]
    return "\n".join(lines) + "\n"


def names_table(spec, trace) -> str:
    rows = meanings(spec, trace)
    w1 = max((len(n) for n, _, _ in rows), default=4)
    w2 = max((len(s) for _, s, _ in rows), default=6)
    return "\n".join(f"{n.ljust(w1)}  {s.ljust(w2)}  {m}" for n, s, m in rows) + "\n"


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_/.@]*", name) else '"' + name + '"'
