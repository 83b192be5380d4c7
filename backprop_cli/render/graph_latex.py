"""`--format latex` for a computational graph (SPEC §4): the circuit and its derivation.

CS231n's "real-valued circuit" look: each node a gate, the value flowing forward written
above each wire and the gradient flowing back below it (TikZ, standalone only). Then the
same story as the terminal (graph_table.py): the forward pass, each node's local
gradients, the backward pass as upstream × local summed over fan-out, second
derivatives for `order: 2`, and a summary table. Every number comes from the trace's
equations and maps; nothing is computed here.
"""
from __future__ import annotations

import re
from typing import Optional

from ..calc.expr import refs
from ..frozen import frozen
from .notation import Notation
from ..trace import Equation, GraphTrace
from .common import Look
from ..safe_text import latex_text
from .formula import format_number, latex_math_name, tex_width
from .labels import labels
from .latex import FIT_CLOSE, FIT_OPEN, DocWriter, MathOnlySyntax, Options, preamble

_FIRST = re.compile(r"^d(\w+)/d(\w+)$")
_LOCAL = re.compile(r"^d(\w+)/d(\w+)\.local$")
_SECOND = re.compile(r"^d2(\w+)/d(\w+)2$")
_LOCAL_TANGENT = re.compile(r"^d\(d(\w+)/d(\w+)\.local\)/d(\w+)$")
_COMPARISON = re.compile(r"^(.+?) (<=|>=|==|<|>) (.+)$")
_TOKEN = re.compile(r"\s*(\*\*|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[A-Za-z_]\w*|.)")
_FUNCTIONS = {"exp": r"\exp", "log": r"\log", "sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh",
              "max": r"\max", "min": r"\min", "sqrt": r"\operatorname{sqrt}", "abs": r"\operatorname{abs}",
              "sigmoid": r"\sigma", "relu": r"\operatorname{relu}"}


def local(fraction: str) -> str:
    """A local gradient, marked as the terminal marks it (∂q/∂x|local)."""
    return r"\left." + fraction + r"\right|_{\mathrm{local}}"


def graph_symbol_latex(name: str, output: str) -> str:
    """A canonical graph name as LaTeX: ∂f/∂q through the whole graph, ∂q/∂x|local for
    one node (a local gradient), d for the forward tangents of intermediate nodes (order 2)."""
    def frac(top: str, bottom: str, partial: bool, power: str = "") -> str:
        d = r"\partial" if partial else r"\mathrm{d}"
        return (r"\frac{" + d + power + " " + top + "}{" + d + " " + bottom
                + ("^" + power.strip("^") if power else "") + "}")

    if m := _LOCAL.match(name):
        return local(frac(latex_math_name(m[1]), latex_math_name(m[2]), True))
    if m := _LOCAL_TANGENT.match(name):
        return (r"\frac{\mathrm{d}}{\mathrm{d} " + latex_math_name(m[3]) + "}"
                + local(frac(latex_math_name(m[1]), latex_math_name(m[2]), True)))
    if m := _SECOND.match(name):
        return frac(latex_math_name(m[1]), latex_math_name(m[2]), m[1] == output, "^2")
    if m := _FIRST.match(name):
        return frac(latex_math_name(m[1]), latex_math_name(m[2]), m[1] == output)
    return latex_math_name(name)


def expression_latex(text: str) -> str:
    """Plain §4 expression text (as in a condition, `w0 * x0 + w2 > 0`) as LaTeX math."""
    out: list[str] = []
    tokens = [t for t in _TOKEN.findall(text) if t.strip()]
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "**" and i + 1 < len(tokens):
            out.append("^{" + expression_latex(tokens[i + 1]) + "}")
            i += 2
            continue
        if t == "*":
            out.append(r"\cdot")
        elif re.fullmatch(r"[A-Za-z_]\w*", t):
            out.append(_FUNCTIONS.get(t) or latex_math_name(t))
        elif re.fullmatch(r"[\d.eE+-]+", t) or t in "+-/(),":
            out.append(t)
        else:
            out.append(latex_text(t))
        i += 1
    return " ".join(out)


@frozen
class GraphLook(Look):
    """Look for graph names: node names as written, ∂-fractions for gradients."""

    output: str = "f"
    words: Optional[dict] = None
    parameters: Optional[frozenset] = None  # gradient descent (`minimize:`): the wrt leaves

    @classmethod
    def of_graph(cls, trace: GraphTrace, style: str, digits: int, words: dict) -> "GraphLook":
        given = {n.name: n.given.text for n in getattr(trace.spec, "nodes", ()) if n.given is not None}
        parameters = frozenset(trace.spec.wrt) if trace.steps else None
        return cls(Notation(), style, digits, given, output=trace.output, words=words, parameters=parameters)

    def symbol(self, name: str) -> str:
        from .graph_table import descent_symbol, graph_symbol

        if self.parameters is not None:
            if self.latex:
                return descent_symbol(name, self.output, self.parameters, "latex", graph_symbol_latex)
            return descent_symbol(name, self.output, self.parameters)
        if self.latex:
            return graph_symbol_latex(name, self.output)
        return graph_symbol(name, self.output)

    def condition(self, eq: Equation, frozen_word: str = "frozen") -> str:
        if not eq.condition:
            return ""
        if "does not lead to" in eq.condition:
            return r"\text{" + self.words["off_path"] + "}"
        parts = []
        for part in eq.condition.split(", "):
            m = _COMPARISON.match(part)
            if not m:
                parts.append(r"\text{" + latex_text(part) + "}")
                continue
            op = {"<=": r"\le", ">=": r"\ge", "==": "="}.get(m[2], m[2])
            parts.append(f"{expression_latex(m[1])} {op} {expression_latex(m[3])}")
        return r",\ ".join(parts)

    def layer_of(self, eq: Equation) -> Optional[int]:
        return None


class GraphWriter(DocWriter):
    """Writes one graph trace: circuit, forward, local, backward, second, summary."""

    def __init__(self, trace: GraphTrace, options: Options) -> None:
        self.trace = trace
        self.spec = trace.spec
        self.opt = options
        self.L = labels(options.lang)
        self.look = GraphLook.of_graph(trace, "latex", options.digits, self.L)

    def figure(self) -> str:
        return circuit_tikz(self.trace, self.look) if self.opt.standalone else ""

    def section(self, name: str) -> list[Equation]:
        return [e for e in self.trace.equations if e.section == name]

    def body(self) -> str:
        L, trace = self.L, self.trace
        out = [self.title_block(self.text(trace.name or L["graph"]))]
        out.append(self.prose("p_graph", f=self.inline(self.sym(trace.output))))
        if trace.policy == "round" and trace.digits is not None:
            out.append(self.prose("p_rounded", d=str(trace.digits)))
        out.append(self.heading(0, self.text(L["graph"])))
        out.append(self.figure())
        if trace.steps:
            return "\n\n".join(p for p in out + self.descent() if p)
        out += self.forward()
        if self.section("local"):
            out.append(self.heading(0, self.text(L["local"])))
            out.append(self.prose("p_graph_local"))
            out += self.equations(self.section("local"))
        out.append(self.heading(0, self.text(L["upstream"])))
        out.append(self.prose("p_graph_backward", f=self.inline(self.sym(f"d{trace.output}/d{trace.output}") + " = 1")))
        out += self.equations(self.section("backward"))
        if trace.second:
            out.append(self.heading(0, self.text(L["second"])))
            out.append(self.prose("p_graph_second"))
            out += self.equations(self.section("second"))
        out += self.summary()
        return "\n\n".join(p for p in out if p)

    def descent(self) -> list[str]:
        """Gradient descent (`minimize:`): each step's derivation and its update, then
        the value after the last step and the run's values of the minimized node."""
        from .common import optimizer_text

        L, trace = self.L, self.trace
        out: list[str] = []
        for record in trace.steps:
            eqs = record.equations
            out.append(self.heading(0, self.text(f"{L['step']} {record.step}")))
            for section, title in (("forward", L["forward"]), ("local", L["local"]), ("backward", L["upstream"]),
                                   ("update", L["update"])):
                chosen = [e for e in eqs if e.section == section]
                if chosen:
                    heading = title if section != "update" else f"{title} — {optimizer_text(trace.spec)}"
                    out.append(self.heading(1, self.text(heading)))
                    out += self.equations(chosen)
        n = len(trace.steps)
        out.append(self.heading(0, self.text(L["after_steps"].format(n=n) if n > 1 else L["after"])))
        out += self.equations(list(trace.after_equations))
        rows = [[str(s) if s <= n else f"{n} " + self.inline(r"\checkmark"), self.inline(self.num(v))]
                for s, v in enumerate(trace.losses, 1)]
        out.append(self.table([self.text(L["step"]), self.inline(self.sym(trace.output))], rows, "rr"))
        return out

    def forward(self) -> list[str]:
        L = self.L
        out = [self.heading(0, self.text(L["forward"]))]
        leaves = [n for n in getattr(self.spec, "nodes", ()) if n.given is not None]
        if leaves:
            items = ", ".join(self.inline(f"{self.sym(n.name)} = {self.look.number(None, n.name)}") for n in leaves)
            out.append(f"{self.bold(self.text(L['given']))}: {items}.")
        out += self.equations(self.section("forward"))
        return out

    def summary(self) -> list[str]:
        L, trace = self.L, self.trace
        f = latex_math_name(trace.output)
        head = [self.text(L["node"]), self.text(L["value"]),
                self.inline(r"\partial " + f + r" / \partial \cdot")]
        if trace.second:
            head.append(self.inline(r"\partial^2 " + f + r" / \partial \cdot^2"))
        rows = []
        for node, value in trace.values.items():
            row = [self.inline(self.sym(node)), self.inline(self.look.number(value, node)),
                   self.inline(self.num(trace.gradients[node]))]
            if trace.second:
                row.append(self.inline(self.num(trace.second[node])) if node in trace.second else "")
            rows.append(row)
        return [self.heading(0, self.text(L["summary_graph"])),
                self.table(head, rows, "l" + "r" * (len(head) - 1))]


def graph_latex(trace: GraphTrace, digits: int = 4, lang: str = "en", standalone: bool = False,
                options: Optional[Options] = None) -> str:
    """A graph's derivation as a LaTeX fragment, or (standalone) a document with the circuit."""
    if getattr(trace, "tensor", False) and getattr(trace, "steps", ()):  # descent on tensors
        from .tensor_descent import descent_latex

        return descent_latex(trace, digits=digits, lang=lang, standalone=standalone, options=options)
    if getattr(trace, "tensor", False):  # vectors and matrices: tensor_graph.py
        from .tensor_graph import tensor_graph_latex

        return tensor_graph_latex(trace, digits=digits, lang=lang, standalone=standalone)
    from .latex import has_hangul, fragment_header

    writer = GraphWriter(trace, options or Options(digits, lang, standalone))
    body = writer.body()
    korean = lang == "ko" or has_hangul(body)
    if standalone:
        return preamble(lang, tikz=True, plot=False, korean=korean) + body + "\n\n\\end{document}\n"
    return fragment_header(lang, korean=korean) + body + "\n"


# -- the circuit ------------------------------------------------------------------------------------

MAX_CIRCUIT_NODES = 40


def circuit_tikz(trace: GraphTrace, look: GraphLook) -> str:
    """Nodes in columns by depth (leaves left, the output right); on each wire the value
    of its source above (green) and the source's gradient ∂f/∂· below (red). A node that
    feeds several gates carries its value and gradient beside itself instead, so no
    wire shows a share of a fan-out sum as if it were the whole gradient."""
    nodes = list(getattr(trace.spec, "nodes", ()))
    if not nodes or len(nodes) > MAX_CIRCUIT_NODES:
        return ""
    depth: dict[str, int] = {}
    inputs: dict[str, list[str]] = {}
    for n in nodes:
        ins = list(refs(n.expr)) if n.expr is not None else []
        inputs[n.name] = ins
        depth[n.name] = 1 + max((depth[p] for p in ins), default=-1)
    consumers: dict[str, list[str]] = {n.name: [] for n in nodes}
    for q, ins in inputs.items():
        for p in ins:
            consumers[p].append(q)
    columns: dict[int, list[str]] = {}
    for n in nodes:
        columns.setdefault(depth[n.name], []).append(n.name)
    n_cols = max(columns) + 1
    dx = max(1.9, min(3.0, 14.0 / max(n_cols, 1)))
    dy = 1.6
    # vertical placement: leaves in order; a gate at the mean height of its inputs,
    # then pushed apart within its column
    y: dict[str, float] = {}
    for col in range(n_cols):
        names = columns[col]
        if col == 0:
            for k, name in enumerate(names):
                y[name] = -k * dy
            continue
        wanted = sorted(names, key=lambda q: -sum(y[p] for p in inputs[q]) / max(len(inputs[q]), 1))
        placed: list[float] = []
        for q in wanted:
            target = sum(y[p] for p in inputs[q]) / max(len(inputs[q]), 1) if inputs[q] else 0.0
            if placed and placed[-1] - target < dy:
                target = placed[-1] - dy
            placed.append(target)
            y[q] = target
    # the wires
    font = r"\scriptsize"
    lines = [
        "\\begin{center}",
        FIT_OPEN,
        "\\begin{tikzpicture}[>={Stealth[length=2mm]},",
        "  leaf/.style={circle, draw, fill=black!6, minimum size=7mm, inner sep=1pt, font=\\small},",
        "  gate/.style={rectangle, rounded corners=3pt, draw, thick, minimum size=7mm, inner sep=2pt, align=center,"
        " font=\\small},",
        f"  val/.style={{font={font}, text=green!45!black, above, sloped}},",
        f"  grad/.style={{font={font}, text=red!75!black, below, sloped}}]",
    ]
    for n in nodes:
        x = depth[n.name] * dx
        name = look.symbol(n.name)
        if n.expr is None:
            lines.append(f"\\node[leaf] ({_id(n.name)}) at ({x:.3f},{y[n.name]:.3f}) {{${name}$}};")
        else:
            rule = _gate_text(n, look)
            lines.append(f"\\node[gate] ({_id(n.name)}) at ({x:.3f},{y[n.name]:.3f}) "
                         f"{{${name}$\\\\[-1pt]{{\\tiny ${rule}$}}}};")
    digits = look.digits

    def value(p: str) -> str:
        return look.number(trace.values[p], p) if p in look.given else format_number(trace.values[p], digits, "latex")

    for q, ins in inputs.items():
        for p in ins:
            if len(consumers[p]) == 1:
                lines.append(f"\\draw[->] ({_id(p)}) -- node[val] {{${value(p)}$}} "
                             f"node[grad] {{${format_number(trace.gradients[p], digits, 'latex')}$}} ({_id(q)});")
            else:
                lines.append(f"\\draw[->] ({_id(p)}) -- ({_id(q)});")
    for p, cons in consumers.items():
        if len(cons) > 1:
            lines.append(f"\\node[font={font}, text=green!45!black, above=4pt] at ({_id(p)}.north) {{${value(p)}$}};")
            lines.append(f"\\node[font={font}, text=red!75!black, below=4pt] at ({_id(p)}.south) "
                         f"{{${format_number(trace.gradients[p], digits, 'latex')}$}};")
    out = trace.output
    lines.append(f"\\draw[->] ({_id(out)}) -- node[val] {{${value(out)}$}} node[grad] {{$1$}} "
                 f"++({min(1.6, dx):.3f},0);")
    lines += ["\\end{tikzpicture}", FIT_CLOSE, "\\end{center}"]
    return "\n".join(lines)


def _id(name: str) -> str:
    """A TikZ node name from an identifier (letters, digits, underscores)."""
    return "g-" + re.sub(r"[^A-Za-z0-9]", "-", name)


def _gate_text(node, look: GraphLook) -> str:
    """The gate's rule, short: its expression in the node's input names."""
    from .formula import FormulaPrinter

    text = FormulaPrinter(latex_math_name, "latex").show(node.expr)
    return text if tex_width(text) <= 9 else ""


def graph_latex_math(trace: GraphTrace, digits: int = 4, lang: str = "en") -> str:
    """The graph derivation as display math only, for Jupyter's `_repr_latex_`."""

    class GraphMath(MathOnlySyntax, GraphWriter):
        pass

    return GraphMath(trace, Options(digits, lang, standalone=False)).body()
