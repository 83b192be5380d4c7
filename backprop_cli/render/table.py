"""`--format table` (default): rich tables and derivation lines for the terminal.

Readable at 80 columns: each equation is one line `name = formula = numbers = value`
that rich wraps; batches and big layers are shown as matrices truncated with ⋯.
"""
from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.measure import Measurement
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from ..grid import as_rows, as_written
from ..network.names import parameter_value
from ..safe_text import visible
from .notation import Sym
from ..trace import Equation, Trace
from .common import Look, architecture, chosen_steps, optimizer_text, sections, sparkline, thin
from .formula import SUP, format_number
from . import softmax_story
from .labels import labels
from .wrap import BrokenEquation, Hanging

MATRIX_ROWS = 8
MATRIX_COLS = 8
LOSS_ROWS = 12  # rows of the loss-per-step table (evenly spread, first and last always)


def _equation_line(look: Look, eq: Equation) -> BrokenEquation:
    shown = eq.condition and eq.condition != "frozen"
    return BrokenEquation(look.symbol(eq.name), look.chain_marked(eq), look.condition(eq) if shown else None)


def _sup(layer: int) -> str:
    return "⁽" + str(layer).translate(SUP) + "⁾"


def _layout_note(layout: str) -> str:
    """A matrix written (in, out) says so: its rows are inputs, not neurons."""
    return "  (in × out)" if layout == "in_out" else ""


def _matrix(values, digits: int, title: str = "") -> RenderableType:
    """A matrix under its title (with its shape), elided to fit the width (Matrix)."""
    arr = as_rows(values)
    rows, cols = len(arr), len(arr[0])
    table = Matrix(arr, digits)
    if not title:
        return table
    return Group(Hanging(Text(f"  {title}" + (f"   ({rows}×{cols})" if rows * cols > 1 else ""), style="bold")), table)


def _kept(n: int, limit: int) -> list:
    """Indices shown of n, as the LaTeX bmatrix elides: the first ones, None (⋯), the last."""
    if n <= limit:
        return list(range(n))
    return list(range(limit - 2)) + [None, n - 1]


class Matrix:
    """A matrix as a borderless table: at most MATRIX_ROWS × MATRIX_COLS, and no more
    columns than fit the width (the middle elided with ⋯ / ⋮, never a number cut)."""

    def __init__(self, arr, digits: int) -> None:
        self.arr, self.digits = arr, digits

    def table(self, max_cols: int) -> Table:
        arr = self.arr
        keep_r, keep_c = _kept(len(arr), MATRIX_ROWS), _kept(len(arr[0]), max_cols)
        table = Table(box=box.SIMPLE, show_header=False, pad_edge=False)
        for _ in keep_c:
            table.add_column(justify="right", no_wrap=True)
        for r in keep_r:
            if r is None:
                table.add_row(*["⋮" if c is not None else "⋱" for c in keep_c])
                continue
            table.add_row(*["⋯" if c is None else format_number(arr[r][c], self.digits) for c in keep_c])
        return table

    def __rich_console__(self, console, options):
        cols = len(self.arr[0])
        limit = min(cols, MATRIX_COLS)
        while True:
            table = self.table(limit)
            if limit <= 3 or Measurement.get(console, options.update(width=10_000), table).maximum <= options.max_width:
                yield table
                return
            limit -= 1

    def __rich_measure__(self, console, options):
        return Measurement.get(console, options, self.table(min(len(self.arr[0]), MATRIX_COLS)))


def render_table(trace: Trace, digits: int = 4, lang: str = "en", notation: str | None = None,
                 show_steps: tuple | None = None) -> RenderableType:
    """The worked example for the terminal; `show_steps` (common.parse_show_steps) picks
    the steps written out (default: all of a short run, else 1, 2 and the last)."""
    L = labels(lang)
    look = Look.of(trace, "unicode", digits, notation)
    spec = trace.spec
    parts: list[RenderableType] = []

    parts.append(Hanging(Text(visible(trace.name), style="bold")))  # a title above, not a table title wrapped to its width
    head = Table(box=box.ROUNDED, show_header=False)
    head.add_column(style="bold")
    head.add_column()
    # the same words as the LaTeX and Markdown title block, in the chosen language
    acts = ", ".join(L["activations"][layer.activation.name] for layer in spec.layers)
    head.add_row(L["architecture"], f"{architecture(spec)}  ({acts})")
    head.add_row(L["loss_fn"], f"{L['loss_names'][spec.loss]}, {L['reductions'][spec.reduction]}")
    head.add_row(L["optimizer"], optimizer_text(spec))
    head.add_row(L["steps"], str(len(trace.losses) - 1))
    if trace.policy == "round":
        head.add_row("", L["rounded"].format(d=trace.digits))
    parts.append(head)
    parts.append(given_table(trace, look, L))

    records = chosen_steps(trace, show_steps)
    previous = 0
    for record in records:
        if record.step - previous > 1:
            a, b = previous + 1, record.step - 1
            parts.append(Hanging(Text(L["omitted_steps"].format(a=a, b=b) if b > a else
                                      L["omitted_step"].format(a=a), style="dim italic")))
        previous = record.step
        if len(trace.steps) > 1:
            parts.append(Rule(f"{L['step']} {record.step}", style="bold"))
        if trace.detail == "scalar" and record.equations:
            parts.extend(_scalar_step(look, trace, record, L))
        else:
            parts.extend(_matrix_step(trace, record, L, digits))
        parts.append(_update_table(trace, record, look, L))
        if record.step == 1 and trace.symbolic:
            parts.extend(_symbolic(trace, look, L))
    if previous < len(trace.steps):
        a, b = previous + 1, len(trace.steps)
        parts.append(Hanging(Text(L["omitted_steps"].format(a=a, b=b) if b > a else
                                  L["omitted_step"].format(a=a), style="dim italic")))
    parts.append(_after(trace, look, L))
    if len(trace.losses) > 2:
        parts.append(_loss_table(trace, L, digits))
    parts.extend(_observations(trace, look, lang))
    return Group(*parts)


def _observations(trace: Trace, look: Look, lang: str) -> list[RenderableType]:
    """The lessons the numbers show (lessons/observations.py), one paragraph each."""
    from .observation_text import observation_lines

    heading, sentences = observation_lines(trace, look, lang, text=lambda s: s, math=lambda s: s)
    if not sentences:
        return []
    return [Rule(heading, style="bold")] + [Hanging(Text("• " + s), indent=2) for s in sentences]


def given_table(trace: Trace, look: Look, L) -> RenderableType:
    """The given values (inputs, targets, starting parameters): shared with question sheets."""
    spec = trace.spec
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column(L["name"])
    table.add_column(L["value"], justify="right")
    if spec.samples == 1:
        for i in range(spec.input.shape[1]):
            table.add_row(Text(look.symbol(f"x{i + 1}")), look.number(spec.input[0, i], f"x{i + 1}"))
        for k in range(spec.outputs):
            table.add_row(Text(look.symbol(f"t{k + 1}")), look.number(spec.target[0, k], f"t{k + 1}"))
    for name, value in _parameters_before(trace):
        table.add_row(Text(look.symbol(name)), look.number(value, name))  # symbols are never markup
    items: list[RenderableType] = [table]
    if spec.samples > 1:
        items.insert(0, _matrix(spec.input, look.digits, f"{L['inputs']} X"))
        items.insert(1, _matrix(spec.target, look.digits, f"{L['targets']}"))
    if spec.parameter_count > 40:
        items = items[:-1] + [
            _matrix(as_written(layer.weights, layer.layout), look.digits, f"W{_sup(l + 1)}{_layout_note(layer.layout)}")
            for l, layer in enumerate(spec.layers)
        ]
    return Group(_title(L["given"]), *items)


def _title(text: str) -> RenderableType:
    """A table's title on its own line: a rich table title wraps to the table's width."""
    return Hanging(Text(text, style="bold"))


def _parameters_before(trace: Trace):
    from ..network.names import NetworkNames

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


def _softmax_rule(look: Look, trace: Trace, L) -> list[RenderableType]:
    """How ∂L/∂y becomes δ = y − t through the softmax (once, before the first δ)."""
    if not softmax_story.applies(trace):
        return []
    parts = softmax_story.delta_rule(look)
    return [BrokenEquation(parts[0], parts[1:], L["softmax_rule"], highlight_last=False)]


def _base(name: str) -> str:
    """A canonical name without its sample and step marks: delta3#2@5 → delta3."""
    return name.split("#")[0].split("@")[0]


def _scalar_step(look: Look, trace: Trace, record, L) -> list[RenderableType]:
    groups = sections(record.equations)
    outs = [i for i, (_, _, is_out) in look.notation.neurons.items() if is_out]
    first_out = min(outs) if outs else 0
    out: list[RenderableType] = []
    deep = len({n[0] for n in look.notation.neurons.values()}) > 1
    for key in ("forward", "loss", "backward"):
        if not groups.get(key):
            continue
        out.append(Text(L[key], style="bold underline"))
        if key == "loss" or not deep:
            for eq in groups[key]:
                if key == "backward" and _base(eq.name) == f"delta{first_out}":
                    out.extend(_softmax_rule(look, trace, L))
                out.append(_equation_line(look, eq))
            if key == "loss":
                textbook = softmax_story.textbook_loss(look, trace, record)
                if textbook:
                    out.append(BrokenEquation(textbook[0], textbook[1:], L["textbook_loss"]))
            continue
        hidden_said = False
        for layer, eqs in _by_layer(look, groups[key]):
            if layer:
                out.append(_layer_title(look, layer, L))
            if key == "backward" and layer and not hidden_said and layer < max(n[0] for n in look.notation.neurons.values()):
                n = look.notation
                a, ak, zk = (n.unicode_sym(Sym(n.generic_activation_letter, "j")), n.unicode_sym(Sym(n.generic_activation_letter, "k")),
                             n.unicode_sym(Sym(n.letters["z"], "k")))
                Lsym = n.unicode("loss")
                out.append(Hanging(Text(f"  ∂{Lsym}/∂{a} = Σₖ ∂{Lsym}/∂{ak} × ∂{ak}/∂{zk} × ∂{zk}/∂{a}"
                                        f"   ({L['sum_over']})", style="dim"), indent=6))
                hidden_said = True
            for eq in eqs:
                if key == "backward" and _base(eq.name) == f"delta{first_out}":
                    out.extend(_softmax_rule(look, trace, L))
                out.append(_equation_line(look, eq))
    if groups.get("update"):
        out.append(Text(L["update"], style="bold underline"))
        out.extend(_equation_line(look, eq) for eq in groups["update"])
    return out


def _matrix_step(trace: Trace, record, L, digits: int) -> list[RenderableType]:
    out: list[RenderableType] = [Hanging(Text(L["matrix_note"], style="dim"))]
    if record.equations:  # layer-level equations (matrix_detail.py): each with shapes and numbers
        from .tensor_format import network_matrix_text, network_text_name, weight_layer

        titles = {"forward": L["forward"], "loss": L["loss"], "backward": L["backward"], "update": L["update"]}
        section = None
        for eq in record.equations:
            if eq.section != section:
                section = eq.section
                out.append(Text(titles.get(section, section), style="bold underline"))
            l = weight_layer(eq.name)
            if l is not None and trace.spec.layers[l - 1].layout == "in_out" and getattr(eq.value, "ndim", 0) == 2:
                # a matrix written (in, out) says so, as the given weights do: rows are inputs
                out.extend(network_matrix_text(eq, digits, with_value=False))
                out.append(_matrix(eq.value, digits, f"{network_text_name(eq.name)}{_layout_note('in_out')}"))
                continue
            out.extend(network_matrix_text(eq, digits))
        return out
    out.append(Text(L["forward"], style="bold underline"))
    in_out = all(layer.layout == "in_out" for layer in trace.spec.layers)  # h = xW, as the book writes it
    out.append(Text(f"  Z⁽ˡ⁾ = A⁽ˡ⁻¹⁾ W⁽ˡ⁾{'' if in_out else 'ᵀ'} + b⁽ˡ⁾,   A⁽ˡ⁾ = f(Z⁽ˡ⁾),   A⁽⁰⁾ = X"))
    for layer in record.layers:
        out.append(_matrix(layer.z, digits, f"Z{_sup(layer.layer)}"))
        out.append(_matrix(layer.a, digits, f"A{_sup(layer.layer)} = {layer.activation}(Z{_sup(layer.layer)})"))
    out.append(Text(f"{L['loss']}: {format_number(record.loss, digits)}", style="bold"))
    out.append(Text(L["backward"], style="bold underline"))
    if in_out:
        out.append(Text("  δ⁽ᴸ⁾ = ∂L/∂Z⁽ᴸ⁾,   δ⁽ˡ⁾ = (δ⁽ˡ⁺¹⁾ W⁽ˡ⁺¹⁾ᵀ) ⊙ f′(Z⁽ˡ⁾)"))
        out.append(Text("  ∂L/∂W⁽ˡ⁾ = A⁽ˡ⁻¹⁾ᵀ δ⁽ˡ⁾,   ∂L/∂b⁽ˡ⁾ = Σₙ δ⁽ˡ⁾ₙ"))
    else:
        out.append(Text("  δ⁽ᴸ⁾ = ∂L/∂Z⁽ᴸ⁾,   δ⁽ˡ⁾ = (δ⁽ˡ⁺¹⁾ W⁽ˡ⁺¹⁾) ⊙ f′(Z⁽ˡ⁾)"))
        out.append(Text("  ∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾ᵀ A⁽ˡ⁻¹⁾,   ∂L/∂b⁽ˡ⁾ = Σₙ δ⁽ˡ⁾ₙ"))
    for layer in reversed(record.layers):
        out.append(_matrix(layer.delta, digits, f"δ{_sup(layer.layer)}"))
        layout = trace.spec.layers[layer.layer - 1].layout
        out.append(_matrix(as_written(layer.grad_weights, layout), digits, f"∂L/∂W{_sup(layer.layer)}{_layout_note(layout)}"))
        if layer.grad_bias is not None:
            out.append(_matrix(layer.grad_bias, digits, f"∂L/∂b{_sup(layer.layer)}"))
    return out


def _update_table(trace: Trace, record, look: Look, L) -> RenderableType:
    from ..network.names import NetworkNames, at

    spec = trace.spec
    names = NetworkNames.of(spec)
    if spec.parameter_count > 40:
        said = trace.detail == "scalar" and record.equations  # the derivation had the heading
        title = f"{L['summary'] if said else L['update']} — {optimizer_text(spec)}"
        items: list[RenderableType] = [Hanging(Text(title, style="bold underline"))]
        for layer in record.layers:
            layout = spec.layers[layer.layer - 1].layout
            items.append(_matrix(as_written(layer.weights, layout), look.digits,
                                 f"W{_sup(layer.layer)} ← W{_sup(layer.layer)} − α ∂L/∂W{_sup(layer.layer)}{_layout_note(layout)}"))
        return Group(*items)
    # the derivation above already has the "Updating the parameters" heading
    title = f"{L['summary']} — {optimizer_text(spec)}"
    table = Table(box=box.SIMPLE_HEAD)
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
                Text(look.symbol(name)),
                look.number(old, name) if record.step == 1 else format_number(old, look.digits),
                format_number(grad, look.digits),
                new_text + ("  (" + L["frozen"] + ")" if frozen else ""),
            )
    rule = Hanging(Text("  " + _update_rule(trace, look), style="dim"))
    return Group(_title(title), table, rule)


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
    return Hanging(line)


def _loss_table(trace: Trace, L, digits: int) -> RenderableType:
    losses = list(trace.losses)
    """losses[s − 1] is the loss of step s's forward pass (before its update); the last
    entry is the loss after the last step. Rows say which, and how many are shown."""
    shown = thin(losses, LOSS_ROWS)
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column(L["step"], justify="right")
    table.add_column(L["loss"], justify="right")
    for i in shown:
        label = str(i + 1) if i < len(losses) - 1 else L["after_last"].format(n=i)
        table.add_row(label, format_number(losses[i], digits))
    note = L["p_losses"]
    if len(shown) < len(losses):
        note += " (" + L["showing"].format(shown=len(shown), total=len(losses)) + ")"
    chart = Text("  " + sparkline([losses[i] for i in thin(losses, 60)]), style="green")
    return Group(_title(L["losses"]), Hanging(Text(note, style="dim")), table, chart)
