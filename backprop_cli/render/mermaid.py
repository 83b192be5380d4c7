"""Diagrams for Markdown as Mermaid flowcharts: GitHub, GitLab and Jupyter (with the
extension) draw them from the text, so a Markdown worked example needs no image file.

Mermaid lays the picture out itself; we only say what is connected and what each box
and wire says. Labels are quoted and escaped (`"` → `#quot;`, `<`/`>` as entities, so a
name cannot open HTML), symbols are the notation's Unicode ones.
"""
from __future__ import annotations

import re

from ..network.names import NetworkNames
from .common import Look
from .formula import format_number

VALUES_UP_TO = 16  # weights per picture shown with their values; beyond, names only
BLOCK_OVER = 64  # weights per picture beyond which layers are boxes


def _quote(text: str) -> str:
    safe = text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return '"' + safe.replace("\n", "<br/>") + '"'


def _fence(lines: list[str]) -> str:
    return "```mermaid\nflowchart LR\n" + "\n".join("  " + line for line in lines) + "\n```"


def network_mermaid(spec, look: Look) -> str:
    """Inputs, neurons (with their biases), the loss; every weight on its wire — with
    its value while the picture is small. Big networks: one box per layer."""
    widths = [spec.input.shape[1]] + [layer.units for layer in spec.layers]
    n_weights = sum(a * b for a, b in zip(widths, widths[1:]))
    if max(widths) > 8 or n_weights > BLOCK_OVER:
        return _block_mermaid(spec)
    names = NetworkNames.of(spec)
    with_values = n_weights <= VALUES_UP_TO
    lines = []
    for i in range(widths[0]):
        x = f"x{i + 1}"
        lines.append(f"n0_{i}(({_quote(look.symbol(x) + ' = ' + look.number(spec.input[0, i], x))}))"
                     if spec.samples == 1 else f"n0_{i}(({_quote(look.symbol(x))}))")
    for l, layer in enumerate(spec.layers, 1):
        for j in range(layer.units):
            text = look.symbol(f"a{names.neuron(l - 1, j)}")
            b = names.bias(l - 1, j)
            if b is not None:
                value = layer.bias if layer.bias_kind == "shared" else layer.bias[j]
                text += "\n" + look.symbol(b) + (" = " + look.number(value, b) if with_values else "")
            lines.append(f"n{l}_{j}(({_quote(text)}))")
    lines.append(f"loss[{_quote(look.symbol('loss'))}]")
    for l, layer in enumerate(spec.layers, 1):
        for j in range(layer.units):
            for i in range(layer.fan_in):
                w = names.weight(l - 1, j, i)
                label = look.symbol(w) + (" = " + look.number(layer.weights[j, i], w) if with_values else "")
                lines.append(f"n{l - 1}_{i} -->|{_quote(label)}| n{l}_{j}")
    for k in range(spec.outputs):
        lines.append(f"n{len(spec.layers)}_{k} --> loss")
    return _fence(lines)


def _block_mermaid(spec) -> str:
    widths = [spec.input.shape[1]] + [layer.units for layer in spec.layers]
    lines = [f"c0[{_quote(f'x ({widths[0]})')}]"]
    for l, layer in enumerate(spec.layers, 1):
        lines.append(f"c{l}[{_quote(f'{layer.activation.name} ({widths[l]})')}]")
        lines.append(f"c{l - 1} -->|{_quote(f'W({l}): {widths[l]}×{widths[l - 1]}')}| c{l}")
    lines.append(f"loss[{_quote('loss')}]")
    lines.append(f"c{len(spec.layers)} --> loss")
    return _fence(lines)


def _id(name: str) -> str:
    return "g_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def graph_mermaid(trace, digits: int) -> str:
    """Each node with its value and its gradient ∂f/∂node; each wire with the local
    gradient of the node it feeds with respect to its source."""
    from ..calc.expr import refs

    nodes = list(getattr(trace.spec, "nodes", ()))
    if not nodes:
        return ""
    out = trace.output

    def num(value) -> str:
        return format_number(value, digits, "unicode")

    local = {(g.node, g.input): g.value for g in trace.local_gradients}
    lines = []
    for n in nodes:
        value = n.given.text.lstrip("+").replace("-", "−") if n.expr is None and n.given is not None else num(trace.values[n.name])
        text = f"{n.name} = {value}"
        if n.name in trace.gradients:
            text += f"\n∂{out}/∂{n.name} = {num(trace.gradients[n.name])}"
        shape = ("((", "))") if n.expr is None else ("[", "]")
        lines.append(f"{_id(n.name)}{shape[0]}{_quote(text)}{shape[1]}")
    for n in nodes:
        if n.expr is None:
            continue
        for p in dict.fromkeys(refs(n.expr)):
            value = local.get((n.name, p))
            # the wire carries the LOCAL gradient; "|local" as elsewhere would end a Mermaid label
            label = f"local ∂{n.name}/∂{p} = {num(value)}" if value is not None else ""
            lines.append(f"{_id(p)} -->|{_quote(label)}| {_id(n.name)}" if label else f"{_id(p)} --> {_id(n.name)}")
    return _fence(lines)
