"""`--format table` (default): rich tables and derivation lines for the terminal.

Readable at 80 columns: each equation is one line `name = formula = numbers = value`
that rich wraps; batches and big layers are shown as matrices truncated with ⋯.
"""
from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from ..grid import as_rows, as_written
from ..names import parameter_value
from ..notation import Sym
from ..trace import Equation, Trace
from .common import Look, architecture, optimizer_text, sections, sparkline, thin
from .formula import SUP, format_number
from .labels import labels

MATRIX_ROWS = 8
MATRIX_COLS = 8


def equation_line(parts: list[str], note: str | None = None) -> Text:
    """`name = formula = numbers = value` as one wrapped line, the result highlighted;
    `note` (a branch taken, a node off the path) follows, dimmed. Graphs use it too."""
    line = Text("  ")
    line.append(parts[0], style="bold")
    for i, part in enumerate(parts[1:], 1):
        line.append(" = ")
        line.append(part, style="bold cyan" if i == len(parts) - 1 else "")
    if note:
        line.append(f"   ({note})", style="dim")
    return line


def _equation_line(look: Look, eq: Equation) -> Text:
    shown = eq.condition and eq.condition != "frozen"
    return equation_line(look.chain(eq), look.condition(eq) if shown else None)


def _sup(layer: int) -> str:
    return "⁽" + str(layer).translate(SUP) + "⁾"


def _layout_note(layout: str) -> str:
    """A matrix written (in, out) says so: its rows are inputs, not neurons."""
    return "  (in × out)" if layout == "in_out" else ""


def _matrix(values, digits: int, title: str = "") -> RenderableType:
    """A matrix as a borderless table, truncated with ⋯/⋮ past MATRIX_ROWS × MATRIX_COLS."""
    arr = as_rows(values)
    rows, cols = len(arr), len(arr[0])
    table = Table(box=box.SIMPLE, show_header=False, pad_edge=False)
    col_idx = thin(list(range(cols)), MATRIX_COLS)
    row_idx = thin(list(range(rows)), MATRIX_ROWS)
    for _ in range(len(col_idx) + (1 if len(col_idx) < cols else 0)):
        table.add_column(justify="right")
    previous = -1
    for r in row_idx:
        if r != previous + 1:
            table.add_row(*["⋮"] * len(table.columns))
        cells, last_c = [], -1
        for c in col_idx:
            if c != last_c + 1 and len(cells) < len(table.columns) - 1:
                cells.append("⋯")
            cells.append(format_number(arr[r][c], digits))
            last_c = c
        while len(cells) < len(table.columns):
            cells.append("")
        table.add_row(*cells)
        previous = r
    if not title:
        return table
    return Group(Text(f"  {title}" + (f"   ({rows}×{cols})" if rows * cols > 1 else ""), style="bold"), table)


def render_table(trace: Trace, digits: int = 4, lang: str = "en", notation: str | None = None) -> RenderableType:
    if getattr(trace, "kind", "network") == "graph":
        from .graph_table import graph_table

        return graph_table(trace, digits=digits, lang=lang)
    if getattr(trace, "kind", "network") == "layered":
        from .layered import layered_table

        return layered_table(trace, digits=digits, lang=lang)
    L = labels(lang)
    look = Look.of(trace, "unicode", digits, notation)
    spec = trace.spec
    parts: list[RenderableType] = []

    parts.append(Text(trace.name, style="bold"))  # a title above, not a table title wrapped to its width
    head = Table(box=box.ROUNDED, show_header=False)
    head.add_column(style="bold")
    head.add_column()
    head.add_row(L["architecture"], f"{architecture(spec)}  ({', '.join(l.activation.name for l in spec.layers)})")
    head.add_row(L["loss_fn"], f"{spec.loss} ({L['reduction']}: {spec.reduction})")
    head.add_row(L["optimizer"], optimizer_text(spec))
    head.add_row(L["steps"], str(len(trace.losses) - 1))
    if trace.policy == "round":
        head.add_row("", L["rounded"].format(d=trace.digits))
    parts.append(head)
    parts.append(_given(trace, look, L))

    for record in trace.steps:
        if len(trace.steps) > 1:
            parts.append(Rule(f"{L['step']} {record.step}", style="bold"))
        if trace.detail == "scalar" and record.equations:
            parts.extend(_scalar_step(look, record, L))
        else:
            parts.extend(_matrix_step(trace, record, L, digits))
        parts.append(_update_table(trace, record, look, L))
        if record.step == 1 and trace.symbolic:
            parts.extend(_symbolic(trace, look, L))
    parts.append(_after(trace, look, L))
    if len(trace.losses) > 2:
        parts.append(_loss_table(trace, L, digits))
    return Group(*parts)


def _given(trace: Trace, look: Look, L) -> RenderableType:
    spec = trace.spec
    table = Table(title=L["given"], box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column(L["name"])
    table.add_column(L["value"], justify="right")
    if spec.samples == 1:
        for i in range(spec.input.shape[1]):
            table.add_row(look.symbol(f"x{i + 1}"), look.number(spec.input[0, i], f"x{i + 1}"))
        for k in range(spec.outputs):
            table.add_row(look.symbol(f"t{k + 1}"), look.number(spec.target[0, k], f"t{k + 1}"))
    for name, value in _parameters_before(trace):
        table.add_row(look.symbol(name), look.number(value, name))
    items = [table]
    if spec.samples > 1:
        items.insert(0, _matrix(spec.input, look.digits, f"{L['inputs']} X"))
        items.insert(1, _matrix(spec.target, look.digits, f"{L['targets']}"))
    if spec.parameter_count > 40:
        items = items[:-1] + [
            _matrix(as_written(layer.weights, layer.layout), look.digits, f"W{_sup(l + 1)}{_layout_note(layer.layout)}")
            for l, layer in enumerate(spec.layers)
        ]
    return Group(*items)


def _parameters_before(trace: Trace):
    from ..names import NetworkNames

    spec = trace.spec
    names = NetworkNames.of(spec)
    first = trace.steps[0]
    for l, record in enumerate(first.layers):
        for name, index in names.parameters(l):
            yield name, parameter_value(record.weights_before, record.bias_before, index)


def _layer_title(look: Look, layer: int, L) -> Text:
    """`Layer 2 (output layer)`: the same grouping as the LaTeX and Markdown documents."""
    last = max((n[0] for n in look.notation.neurons.values()), default=layer)
    kind = L["output_layer"] if layer == last else L["hidden_layer"]
    return Text(f" {L['layer']} {layer} ({kind})", style="italic")


def _by_layer(look: Look, eqs) -> list:
    groups: list = []
    for eq in eqs:
        layer = look.layer_of(eq)
        if groups and (groups[-1][0] == layer or layer is None):
            groups[-1][1].append(eq)
        else:
            groups.append((layer, [eq]))
    return groups


def _scalar_step(look: Look, record, L) -> list[RenderableType]:
    groups = sections(record.equations)
    out: list[RenderableType] = []
    deep = len({n[0] for n in look.notation.neurons.values()}) > 1
    for key in ("forward", "loss", "backward"):
        if not groups.get(key):
            continue
        out.append(Text(L[key], style="bold underline"))
        if key == "loss" or not deep:
            out.extend(_equation_line(look, eq) for eq in groups[key])
            continue
        hidden_said = False
        for layer, eqs in _by_layer(look, groups[key]):
            if layer:
                out.append(_layer_title(look, layer, L))
            if key == "backward" and layer and not hidden_said and layer < max(n[0] for n in look.notation.neurons.values()):
                n = look.notation
                a, ak, zk = (n.unicode_sym(Sym(n.letters["a"], "j")), n.unicode_sym(Sym(n.letters["a"], "k")),
                             n.unicode_sym(Sym(n.letters["z"], "k")))
                Lsym = n.unicode("loss")
                out.append(Text(f"  ∂{Lsym}/∂{a} = Σₖ ∂{Lsym}/∂{ak} × ∂{ak}/∂{zk} × ∂{zk}/∂{a}   ({L['sum_over']})",
                                style="dim"))
                hidden_said = True
            out.extend(_equation_line(look, eq) for eq in eqs)
    if groups.get("update"):
        out.append(Text(L["update"], style="bold underline"))
        out.extend(_equation_line(look, eq) for eq in groups["update"])
    return out


def _matrix_step(trace: Trace, record, L, digits: int) -> list[RenderableType]:
    out: list[RenderableType] = [Text(L["matrix_note"], style="dim")]
    out.append(Text(L["forward"], style="bold underline"))
    in_out = all(layer.layout == "in_out" for layer in trace.spec.layers)  # h = xW, as the book writes it
    out.append(Text(f"  Z⁽ˡ⁾ = A⁽ˡ⁻¹⁾ W⁽ˡ⁾{'' if in_out else 'ᵀ'} + b⁽ˡ⁾,   A⁽ˡ⁾ = σ(Z⁽ˡ⁾),   A⁽⁰⁾ = X"))
    for layer in record.layers:
        out.append(_matrix(layer.z, digits, f"Z{_sup(layer.layer)}"))
        out.append(_matrix(layer.a, digits, f"A{_sup(layer.layer)} = {layer.activation}(Z{_sup(layer.layer)})"))
    out.append(Text(f"{L['loss']}: {format_number(record.loss, digits)}", style="bold"))
    out.append(Text(L["backward"], style="bold underline"))
    out.append(Text("  δ⁽ᴸ⁾ = ∂L/∂Z⁽ᴸ⁾,   δ⁽ˡ⁾ = (δ⁽ˡ⁺¹⁾ W⁽ˡ⁺¹⁾ᵀ) ⊙ σ′(Z⁽ˡ⁾),   ∂L/∂W⁽ˡ⁾ = A⁽ˡ⁻¹⁾ᵀ δ⁽ˡ⁾" if in_out
                    else "  δ⁽ᴸ⁾ = ∂L/∂Z⁽ᴸ⁾,   δ⁽ˡ⁾ = (δ⁽ˡ⁺¹⁾ W⁽ˡ⁺¹⁾) ⊙ σ′(Z⁽ˡ⁾),   ∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾ᵀ A⁽ˡ⁻¹⁾"))
    for layer in reversed(record.layers):
        out.append(_matrix(layer.delta, digits, f"δ{_sup(layer.layer)}"))
        layout = trace.spec.layers[layer.layer - 1].layout
        out.append(_matrix(as_written(layer.grad_weights, layout), digits, f"∂L/∂W{_sup(layer.layer)}{_layout_note(layout)}"))
        if layer.grad_bias is not None:
            out.append(_matrix(layer.grad_bias, digits, f"∂L/∂b{_sup(layer.layer)}"))
    return out


def _update_table(trace: Trace, record, look: Look, L) -> RenderableType:
    from ..names import NetworkNames, at

    spec = trace.spec
    names = NetworkNames.of(spec)
    title = f"{L['update']} — {optimizer_text(spec)}"
    if spec.parameter_count > 40:
        items: list[RenderableType] = [Text(title, style="bold underline")]
        for layer in record.layers:
            layout = spec.layers[layer.layer - 1].layout
            items.append(_matrix(as_written(layer.weights, layout), look.digits,
                                 f"W{_sup(layer.layer)} ← W{_sup(layer.layer)} − α ∂L/∂W{_sup(layer.layer)}{_layout_note(layout)}"))
        return Group(*items)
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column(L["parameter"])
    table.add_column(L["before"], justify="right")
    table.add_column(L["gradient"], justify="right")
    table.add_column(L["after_col"], justify="right", style="bold cyan")
    equations = {e.name: e for e in record.equations}
    for l, layer in enumerate(record.layers):
        for name, index in names.parameters(l):
            old = parameter_value(layer.weights_before, layer.bias_before, index)
            grad = parameter_value(layer.grad_weights, layer.grad_bias, index)
            new = parameter_value(layer.weights, layer.bias, index)
            eq = equations.get(at(f"{name}_new", record.step))
            new_text = look.value(eq) if eq is not None else format_number(new, look.digits)
            frozen = ("weights" if index[0] == "w" else "bias") in layer.frozen
            table.add_row(
                look.symbol(name),
                look.number(old, name) if record.step == 1 else format_number(old, look.digits),
                format_number(grad, look.digits),
                new_text + ("  (" + L["frozen"] + ")" if frozen else ""),
            )
    rule = Text("  " + _update_rule(trace, look), style="dim")
    return Group(table, rule)


def _update_rule(trace: Trace, look: Look) -> str:
    opt = trace.spec.optimizer
    if opt.name == "adam":
        return "θ⁺ = θ − α m̂ / (√v̂ + ε),  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ)"
    if opt.name == "rmsprop":
        avg = "√(s − ḡ²) + ε,  ḡ = ρ·ḡ + (1−ρ)·g" if opt.centered else "√s + ε"
        step = "buf = μ·buf + g/avg,  θ⁺ = θ − α·buf" if opt.momentum.value else "θ⁺ = θ − α·g/avg"
        return f"s = ρ·s + (1−ρ)·g²,  avg = {avg},  {step}"
    if opt.name == "adagrad":
        lr = "α/(1 + (t−1)·lr_decay)" if opt.lr_decay.value else "α"
        return f"G = G + g²  (G starts at G₀ = {opt.initial_accumulator_value.text}),  θ⁺ = θ − {lr}·g/(√G + ε)"
    if opt.momentum.value:
        return "buf = μ·buf + g,  θ⁺ = θ − α·" + ("(g + μ·buf)" if opt.nesterov else "buf")
    wd = " (g = ∂L/∂θ + λθ)" if opt.weight_decay.value else ""
    return "θ⁺ = θ − α × ∂L/∂θ" + wd


def _symbolic(trace: Trace, look: Look, L) -> list[RenderableType]:
    """--symbolic: each gradient as a simplified formula, then with the numbers."""
    out: list[RenderableType] = [Text(L.get("symbolic", "Gradients as formulas"), style="bold underline")]
    for g in trace.symbolic:
        out.append(_equation_line(look, Equation(g.name, g.expr, g.operands, g.value, "symbolic")))
    return out


def _after(trace: Trace, look: Look, L) -> RenderableType:
    n = len(trace.losses) - 1
    label = L["after"] if n == 1 else L["after_steps"].format(n=n)
    line = Text(f"{label}: ", style="bold")
    line.append(format_number(trace.loss_after, look.digits), style="bold green")
    line.append(f"   ({look.symbol('loss')} = {format_number(trace.losses[0], look.digits)} → "
                f"{format_number(trace.loss_after, look.digits)})", style="dim")
    return line


def _loss_table(trace: Trace, L, digits: int) -> RenderableType:
    losses = list(trace.losses)
    table = Table(title=L["losses"], box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column(L["step"], justify="right")
    table.add_column(L["loss"], justify="right")
    for i in thin(losses, 12):
        label = str(i + 1) if i < len(losses) - 1 else f"{i} ✓"
        table.add_row(label, format_number(losses[i], digits))
    chart = Text("  " + sparkline([losses[i] for i in thin(losses, 60)]), style="green")
    return Group(table, chart)
