"""`--format table` for a computational graph: the forward pass, the local gradients,
the backward pass as chain-rule lines, second derivatives, and a summary.

    ∂f/∂x = ∂f/∂q × ∂q/∂x = −4.0000 × 1.0000 = −4.0000

Formulas are printed from the equations' own expression trees (render/formula.py, the
printer the network tables use), so what is shown is what was computed. Canonical
names map to symbols here: df/dq → ∂f/∂q (through the whole graph), dq/dx.local →
∂q/∂x|local (one node on its own, marked as CS231n's "local gradient"), d2f/dx2 → ∂²f/∂x²; the order-2 tangents of intermediate nodes are total
derivatives along one leaf and keep an upright d (dq/dx, d²q/dx², d(∂q/∂p)/dx).
"""
from __future__ import annotations

import re

from rich import box
from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from ..calc.expr import Num, Ref
from ..graph.solve import expression_size
from ..network.names import at
from .common import optimizer_text
from ..safe_text import visible
from ..trace import Equation, GraphTrace
from .formula import SUP, FormulaPrinter, format_number, strip_marks
from .wrap import BrokenEquation, FitOrElse, Hanging

LABELS = {
    "en": {
        "title": "Computational graph",
        "output": "output",
        "forward": "Forward pass",
        "node": "Node",
        "definition": "Definition",
        "numbers": "With numbers",
        "value": "Value",
        "given": "given",
        "local": "Local gradients (each node on its own)",
        "gradient": "Local gradient",
        "rule": "Rule",
        "backward": "Backward pass: upstream gradient × local gradient, summed over fan-out",
        "second": "Second derivatives (forward propagation along each leaf)",
        "summary": "Result",
        "off_path": "not on a path to the output: 0",
        "rounded": "hand-rounded to {d} decimals",
        "step": "Step {s}",
        "update": "Update",
        "carried": "from step {p}",
        "after": "After {n} step(s)",
        "losses": "{f} at every step",
    },
    "ko": {
        "title": "계산 그래프",
        "output": "출력",
        "forward": "순전파",
        "node": "노드",
        "definition": "정의",
        "numbers": "대입",
        "value": "값",
        "given": "주어진 값",
        "local": "국소 기울기 (Local Gradient)",
        "gradient": "국소 기울기",
        "rule": "식",
        "backward": "역전파: 상류 기울기 × 국소 기울기 (갈라진 경로는 합산)",
        "second": "2차 미분",
        "summary": "결과",
        "off_path": "출력으로 가는 경로에 없음: 0",
        "rounded": "소수 {d}자리로 반올림한 손계산",
        "step": "{s}단계",
        "update": "갱신",
        "carried": "{p}단계에서 갱신된 값",
        "after": "{n}단계 후",
        "losses": "단계별 {f}",
    },
}

# Beyond this a formula is unreadable (and too deep for the recursive printer): the
# table shows its size and value; `--format json` has the full expression.
MAX_SHOWN_OPERATIONS = 400
MAX_SHOWN_DEPTH = 60

# A local gradient (one node on its own) is marked, so that it never reads as the total
# derivative of the same letters: ∂f/∂q = ∂f/∂f × ∂f/∂q|local, not ∂f/∂f × ∂f/∂q.
LOCAL_MARK = "|local"
_FIRST = re.compile(r"^d(\w+)/d(\w+)$")
_LOCAL = re.compile(r"^d(\w+)/d(\w+)\.local$")
_SECOND = re.compile(r"^d2(\w+)/d(\w+)2$")
_LOCAL_TANGENT = re.compile(r"^d\(d(\w+)/d(\w+)\.local\)/d(\w+)$")


def graph_symbol(name: str, output: str) -> str:
    """The Unicode symbol of a canonical graph name (see the module docstring)."""
    if m := _LOCAL.match(name):
        return f"∂{m[1]}/∂{m[2]}{LOCAL_MARK}"
    if m := _LOCAL_TANGENT.match(name):
        return f"d(∂{m[1]}/∂{m[2]}{LOCAL_MARK})/d{m[3]}"
    if m := _SECOND.match(name):
        mark = "∂" if m[1] == output else "d"
        return f"{mark}²{m[1]}/{mark}{m[2]}²"
    if m := _FIRST.match(name):
        mark = "∂" if m[1] == output else "d"
        return f"{mark}{m[1]}/{mark}{m[2]}"
    return name


def descent_symbol(name: str, output: str, parameters, style: str = "unicode", plain=graph_symbol) -> str:
    """A name of gradient descent on a graph (`minimize:`), as the network derivation
    writes time: w (step 1), w(2) = w_new, buf[w](1), ∂f/∂w(2); hyperparameters α, μ, ρ …"""
    from .notation import STATE_SYMBOL, hyper_symbol

    base, _, step_text = name.partition("@")
    s = int(step_text) if step_text else 1
    latex = style == "latex"
    hyper = hyper_symbol(base, style)
    if hyper is not None:
        return hyper
    if base == "loss_after":
        return plain(output, output) + ("′" if not latex else r"_{\mathrm{after}}")
    if base.endswith("_new") and base[:-4] in parameters:
        return f"{plain(base[:-4], output)}({s + 1})"
    state, _, p = base.partition("_")
    if p in parameters and state in STATE_SYMBOL:
        letter = STATE_SYMBOL[state][1 if latex else 0]
        return f"{letter}_{{{plain(p, output)}}}({s})" if latex else f"{letter}[{p}]({s})"
    symbol = plain(base, output)
    return symbol if s == 1 else f"{symbol}({s})"



class TableLook:
    """Symbols and numbers for one trace: leaves print as the user wrote them."""

    def __init__(self, trace: GraphTrace, digits: int) -> None:
        self.output = trace.output
        self.digits = digits
        spec = trace.spec
        self.given = {n.name: n.given.text for n in getattr(spec, "nodes", ()) if n.given is not None}
        self.parameters = set(spec.wrt) if trace.steps else None

    def symbol(self, name: str) -> str:
        if self.parameters is not None:
            return descent_symbol(name, self.output, self.parameters)
        return graph_symbol(name, self.output)

    def number(self, value, name: str = "") -> str:
        text = self.given.get(name)
        if text is not None:
            return text.lstrip("+").replace("-", "−")
        return format_number(value, self.digits)

    def too_long(self, eq: Equation) -> str | None:
        size, depth = expression_size(eq.expr)
        if size > MAX_SHOWN_OPERATIONS or depth > MAX_SHOWN_DEPTH:
            return f"⟨{size:,} operations: see the JSON⟩"
        return None

    def formula(self, eq: Equation, marked: bool = False) -> str:
        if self.too_long(eq):
            return self.too_long(eq)
        printer = FormulaPrinter(self.symbol, "unicode", self.digits)
        return printer.marked(eq.expr) if marked else printer.show(eq.expr)

    def numbers(self, eq: Equation, marked: bool = False) -> str:
        """The formula with numbers substituted ('' when the formula is elided)."""
        if self.too_long(eq):
            return ""
        printer = FormulaPrinter(self.symbol, "unicode", self.digits, dict(eq.operands), self.number)
        return printer.marked(eq.expr) if marked else printer.show(eq.expr)

    def value(self, eq: Equation) -> str:
        return format_number(eq.value, self.digits)

    def chain(self, eq: Equation, marked: bool = False) -> list[str]:
        """name = formula = numbers = value, dropping a part that repeats the previous one;
        `marked`: with the break marks of wrap.py's line breaker."""
        parts = [self.symbol(eq.name)]
        trivial = isinstance(eq.expr, (Num, Ref)) or self.too_long(eq) is not None
        for part in (self.formula(eq, marked), self.value(eq)) if trivial else (
                self.formula(eq, marked), self.numbers(eq, marked), self.value(eq)):
            if strip_marks(part) != strip_marks(parts[-1]):
                parts.append(part)
        return parts


def _condition(text: str) -> str:
    return text.replace(" <= ", " ≤ ").replace(" >= ", " ≥ ").replace(" == ", " = ").replace(" - ", " − ")


def _line(look: TableLook, eq: Equation, note: str | None = None) -> BrokenEquation:
    parts = look.chain(eq, marked=True)
    return BrokenEquation(parts[0], parts[1:], note or (_condition(eq.condition) if eq.condition else None))


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    for i, title in enumerate(columns):
        table.add_column(title, overflow="fold", justify="right" if i == len(columns) - 1 else "left")
    return table


def _forward(look: TableLook, trace: GraphTrace, words: dict, equations=None, s: int = 1) -> FitOrElse:
    """A table; as equation lines when the table is wider than the terminal. `equations`
    and `s`: one step of gradient descent (`minimize:`)."""
    table = _table(words["node"], words["definition"], words["numbers"], words["value"])
    lines: list[RenderableType] = []
    by_name = {eq.name: eq for eq in (trace.equations if equations is None else equations) if eq.section == "forward"}
    for node in getattr(trace.spec, "nodes", ()):
        eq = by_name.get(at(node.name, s))
        name = Text(look.symbol(at(node.name, s)), style="bold" if node.name == trace.output else "")
        if eq is None and s > 1 and node.name in trace.spec.wrt:  # a parameter, as the last update left it
            value = trace.steps[s - 2].updates.get(node.name, trace.steps[s - 2].values[node.name])
            table.add_row(name, Text(words["carried"].format(p=s - 1), style="dim"), "", format_number(value, look.digits))
            lines.append(BrokenEquation(look.symbol(at(node.name, s)), [format_number(value, look.digits)],
                                        words["carried"].format(p=s - 1)))
        elif eq is None:  # a leaf: given data, printed as written (a constant of the descent)
            table.add_row(name, Text(words["given"], style="dim"), "", look.number(None, node.name))
            lines.append(BrokenEquation(node.name, [look.number(None, node.name)], words["given"]))
        else:
            numbers = look.numbers(eq) if eq.operands else ""
            table.add_row(name, look.formula(eq), numbers, Text(look.value(eq), style="bold cyan"))
            lines.append(_line(look, eq))
    return FitOrElse(table, lines)


def _locals(look: TableLook, trace: GraphTrace, words: dict, equations=None) -> FitOrElse:
    table = _table(words["gradient"], words["rule"], words["numbers"], words["value"])
    lines = []
    for eq in trace.equations if equations is None else equations:
        if eq.section != "local":
            continue
        lines.append(_line(look, eq))
        rule = look.formula(eq)
        if eq.condition:
            rule += f"  ({_condition(eq.condition)})"
        numbers = look.numbers(eq) if eq.operands and not isinstance(eq.expr, Ref) else ""
        table.add_row(look.symbol(eq.name), rule, numbers, Text(look.value(eq), style="bold cyan"))
    return FitOrElse(table, lines)


def _summary(look: TableLook, trace: GraphTrace, words: dict) -> Table:
    f = trace.output
    columns = [words["node"], words["value"], f"∂{f}/∂·"]
    if trace.second:
        columns.append(f"∂²{f}/∂·²")
    table = _table(*columns)
    for c in table.columns[1:]:
        c.justify = "right"
    for node, value in trace.values.items():
        row = [node, look.number(value, node) if node in look.given else format_number(value, look.digits),
               format_number(trace.gradients[node], look.digits)]
        if trace.second:
            row.append(format_number(trace.second[node], look.digits) if node in trace.second else "")
        table.add_row(*row)
    return table


def _descent(look: TableLook, trace: GraphTrace, words: dict) -> list[RenderableType]:
    """Gradient descent (`minimize:`): each step's derivation and update, then the run."""
    parts: list[RenderableType] = []
    for record in trace.steps:
        s, eqs = record.step, record.equations
        parts.append(Rule(Text(words["step"].format(s=s), style="bold"), align="left"))
        parts += [Text(words["forward"], style="bold underline"), _forward(look, trace, words, eqs, s)]
        if any(eq.section == "local" for eq in eqs):
            parts += [Text(words["local"], style="bold underline"), _locals(look, trace, words, eqs)]
        parts.append(Text(words["backward"], style="bold underline"))
        for eq in eqs:
            if eq.section == "backward":
                off_path = isinstance(eq.expr, Num) and eq.condition and "does not lead to" in eq.condition
                parts.append(_line(look, eq, words["off_path"] if off_path else None))
        parts.append(Text(f"{words['update']} — {optimizer_text(trace.spec)}", style="bold underline"))
        parts += [_line(look, eq) for eq in eqs if eq.section == "update"]
    n = len(trace.steps)
    parts.append(Rule(Text(words["after"].format(n=n), style="bold"), align="left"))
    parts += [_line(look, eq) for eq in trace.after_equations if eq.section == "after"]
    table = _table(words["step"].format(s="").strip() or "Step", words["losses"].format(f=trace.output))
    for s, loss in enumerate(trace.losses, 1):
        table.add_row(str(s) if s <= n else f"{n} ✓", format_number(loss, look.digits))
    parts.append(table)
    return parts


def graph_table(trace: GraphTrace, digits: int = 4, lang: str = "en", show_steps=None) -> RenderableType:
    """A rich renderable of the whole derivation; it reads well at 80 columns."""
    if getattr(trace, "tensor", False) and getattr(trace, "steps", ()):  # descent on tensors
        from .tensor_descent import descent_table

        return descent_table(trace, digits=digits, lang=lang, show_steps=show_steps)
    if getattr(trace, "tensor", False):  # vectors and matrices: tensor_graph.py
        from .tensor_graph import tensor_graph_table

        return tensor_graph_table(trace, digits=digits, lang=lang)
    words = LABELS.get(lang, LABELS["en"])
    look = TableLook(trace, digits)
    title = f"{words['title']}: {visible(trace.name)}  ({words['output']} {trace.output})"
    if trace.policy == "round" and trace.digits is not None:
        title += "  — " + words["rounded"].format(d=trace.digits)
    # a title on its own lines (a rule's title is cut at the width), then the rule
    parts: list[RenderableType] = [Hanging(Text(title, style="bold")), Rule()]
    if trace.steps:
        return Group(*parts, *_descent(look, trace, words))
    parts += [Text(words["forward"], style="bold underline"), _forward(look, trace, words)]
    if any(eq.section == "local" for eq in trace.equations):
        parts += [Text(words["local"], style="bold underline"), _locals(look, trace, words)]
    parts.append(Hanging(Text(words["backward"], style="bold underline")))
    for eq in trace.equations:
        if eq.section == "backward":
            off_path = isinstance(eq.expr, Num) and eq.condition and "does not lead to" in eq.condition
            parts.append(_line(look, eq, words["off_path"] if off_path else None))
    if trace.second:
        parts += [Text(""), Text(words["second"], style="bold underline")]
        for eq in trace.equations:
            if eq.section == "second":
                off_path = isinstance(eq.expr, Num) and eq.condition and "does not lead to" in eq.condition
                parts.append(_line(look, eq, words["off_path"] if off_path else None))
    parts += [Text(""), Text(words["summary"], style="bold underline"), _summary(look, trace, words)]
    return Group(*parts)


__all__ = ["graph_table", "graph_symbol", "SUP"]
