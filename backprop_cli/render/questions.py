"""Question sheets: the givens and the tasks of a worked example, with blanks, no answers.

`question_sheet(trace)` says *what* is asked — canonical names grouped into tasks
(forward pass, loss, gradients, updates; for a graph: node values, gradients, second
derivatives) — and `render_questions(trace, format)` writes it as a terminal page,
LaTeX (fragment or standalone, honouring heading level and title) or Markdown. The
givens are written by the same code that writes them in the worked example, so a
sheet and its solution agree symbol for symbol; an exam generator builds on both.
"""
from __future__ import annotations

import io
from typing import Optional

from ..frozen import frozen
from ..safe_text import visible
from .common import Look, optimizer_text, sections
from .formula import latex_math_name, tex_width
from .labels import labels

BLANK_LATEX = r"\underline{\hspace{5em}}"
BLANK_TEXT = "________"


@frozen
class Task:
    """One numbered task: a sentence (labels.py key and its fields) and the quantities
    to fill in, by canonical name (a network's names, or a graph's)."""

    key: str
    names: tuple
    fields: tuple = ()  # (field, text) pairs for the sentence


@frozen
class QuestionSheet:
    kind: str  # "network" | "graph" | "matrix" (a batch or big layer: whole matrices)
    tasks: tuple


def question_sheet(trace) -> QuestionSheet:
    """What a worked example asks, without its answers."""
    if getattr(trace, "kind", "network") == "graph":
        return _graph_sheet(trace)
    if getattr(trace, "kind", "network") == "layered":
        return _layered_sheet(trace)
    record = trace.steps[0]
    if not record.equations or getattr(trace, "detail", "scalar") != "scalar":  # matrix form
        layers = [layer.layer for layer in record.layers]
        biased = [layer.layer for layer in record.layers if layer.bias is not None]
        return QuestionSheet("matrix", (
            Task("q_forward", tuple(n for l in layers for n in (f"Z{l}", f"A{l}"))),
            Task("q_loss", ("loss",)),
            Task("q_backward", tuple(n for l in layers for n in (f"dL/dW{l}",) + ((f"dL/db{l}",) if l in biased else ()))),
            Task("q_update", tuple(n for l in layers for n in (f"W{l}_new",) + ((f"b{l}_new",) if l in biased else ())),
                 (("opt", optimizer_text(trace.spec)),)),
        ) + _after_task(trace))
    groups = sections(record.equations)
    backward = tuple(e.name for e in groups["backward"] if _is_parameter_gradient(e.name))
    update = tuple(e.name for e in groups["update"] if e.name.endswith("_new"))
    tasks = [Task("q_forward", tuple(e.name for e in groups["forward"])),
             Task("q_loss", tuple(e.name for e in groups["loss"]))]
    if backward:
        tasks.append(Task("q_backward", backward))
    if update:
        tasks.append(Task("q_update", update, (("opt", optimizer_text(trace.spec)),)))
    return QuestionSheet("network", tuple(tasks) + _after_task(trace))


def _layered_sheet(trace) -> QuestionSheet:
    """Typed layers: whole arrays by their canonical base names (L1.out, dL/dL1.weights)."""
    layers = trace.spec.layers
    params = [(l, name) for l, layer in enumerate(layers, 1) for name in layer.params if name not in layer.freeze]
    tasks = [Task("q_layer_forward", tuple(f"L{l}.out" for l in range(1, len(layers) + 1))), Task("q_loss", ("loss",))]
    if params:
        tasks.append(Task("q_backward", tuple(f"dL/dL{l}.{name}" for l, name in params)))
        tasks.append(Task("q_update", tuple(f"L{l}.{name}_new" for l, name in params),
                          (("opt", optimizer_text(trace.spec)),)))
    return QuestionSheet("layered", tuple(tasks) + _after_task(trace))


def _after_task(trace) -> tuple:
    n = len(trace.losses) - 1
    return (Task("q_after", ("loss_after",), (("n", str(n)),)),) if n > 1 else ()


def _is_parameter_gradient(name: str) -> bool:
    base = name.split("#")[0].split("@")[0]
    return base.startswith(("dL/dW", "dL/db"))


def _graph_sheet(trace) -> QuestionSheet:
    values = tuple(e.name for e in trace.equations if e.section == "forward")
    wrt = tuple(getattr(trace.spec, "wrt", ()) or ())
    backward = [e.name for e in trace.equations if e.section == "backward"]
    leaves = [n for n in backward if n.split("/d", 1)[-1] in wrt] if wrt else backward
    tasks = [Task("q_graph_forward", values), Task("q_graph_backward", tuple(leaves), (("f", trace.output),))]
    second = tuple(e.name for e in trace.equations if e.section == "second" and e.name.startswith("d2"))
    if second:
        tasks.append(Task("q_graph_second", second))
    return QuestionSheet("graph", tuple(tasks))


# -- symbols ---------------------------------------------------------------------------------------

def _matrix_symbol(name: str, latex: bool) -> str:
    """Z1 → Z⁽¹⁾, dL/dW2 → ∂L/∂W⁽²⁾, b1_new → b⁽¹⁾(2): the matrix form's symbols."""
    from .formula import SUP

    def layer(l: str) -> str:
        return f"^{{({l})}}" if latex else "⁽" + l.translate(SUP) + "⁾"

    def param(letter: str, l: str) -> str:
        return (r"\mathbf{b}" if letter == "b" and latex else letter) + layer(l)

    if name.startswith("dL/d"):
        letter, l = name[4], name[5:]
        if latex:
            return r"\frac{\partial \mathcal{L}}{\partial " + param(letter, l) + "}"
        return f"∂L/∂{param(letter, l)}"
    if name.endswith("_new"):
        return param(name[0], name[1:-4]) + "(2)"
    return name[0] + layer(name[1:])


class _Symbols:
    """Canonical name → symbol for the sheet's kind and style."""

    def __init__(self, trace, sheet: QuestionSheet, style: str, notation: Optional[str]) -> None:
        self.kind, self.latex = sheet.kind, style == "latex"
        self.look = Look.of(trace, style, 4, notation) if sheet.kind != "graph" else None
        self.output = getattr(trace, "output", "")

    def __call__(self, name: str) -> str:
        if self.kind == "matrix" and not name.startswith("loss"):
            return _matrix_symbol(name, self.latex)
        if self.kind == "graph":
            if self.latex:
                from .graph_latex import graph_symbol_latex

                return graph_symbol_latex(name, self.output)
            from .graph_table import graph_symbol

            return graph_symbol(name, self.output)
        return self.look.symbol(name)


# -- writers ---------------------------------------------------------------------------------------

def render_questions(trace, format: str = "table", *, digits: int = 4, lang: str = "en",
                     notation: Optional[str] = None, standalone: bool = False, heading_level: int = 1,
                     title: bool = True, width: Optional[int] = None) -> str:
    """The question sheet of a solved trace as text: table | latex | markdown."""
    from ..errors import BackpropError

    if format not in ("table", "latex", "markdown"):
        raise BackpropError("--questions applies to --format table, latex or markdown")
    if not 1 <= heading_level <= 4:
        raise BackpropError(f"--heading-level takes 1…4, got {heading_level}")
    sheet = question_sheet(trace)
    if sheet.kind == "layered":
        return _layered_text(trace, sheet, format, lang, standalone, heading_level, title, width)
    if format == "table":
        return _table(trace, sheet, digits, lang, notation, width)
    from .latex import Options

    options = Options(digits, lang, standalone and format == "latex", None, heading_level, title)
    if getattr(trace, "kind", "network") == "graph":
        writer = _graph_writer(format)(trace, options)
    else:
        writer = _network_writer(format)(trace, Look.of(trace, "latex", digits, notation), options)
    body = writer.sheet(sheet, _Symbols(trace, sheet, "latex", notation))
    if format == "markdown":
        return body + "\n"
    from .latex import has_hangul, fragment_header, preamble

    korean = lang == "ko" or has_hangul(body)
    if options.standalone:
        tikz = getattr(trace, "kind", "network") != "graph"  # the network's picture shows only givens
        return preamble(lang, tikz=tikz, plot=False, korean=korean) + body + "\n\n\\end{document}\n"
    return fragment_header(lang, korean=korean) + body + "\n"


class SheetMixin:
    """The tasks of a sheet with the DocWriter primitives (LaTeX or Markdown)."""

    def tasks(self, sheet: QuestionSheet, symbol) -> list[str]:
        L = self.L
        out = [self.heading(0, self.text(L["q_tasks"])), self.prose("q_intro")]
        for number, task in enumerate(sheet.tasks, 1):
            fields = {k: self.inline(latex_math_name(v)) if k == "f" else self.text(v) for k, v in task.fields}
            out.append(self.bold(f"{number}.") + " " + self.prose(task.key, **fields))
            out.append(self.blanks([symbol(n) for n in task.names]))
        return out

    def blanks(self, symbols: list[str]) -> str:
        """`symbol = ____` items, as many to a line as fit."""
        items = [f"{s} = {BLANK_LATEX}" for s in symbols]
        lines, row, width = [], [], 0.0
        for item in items:
            w = tex_width(item)
            if row and width + 2 + w > self.opt.width:
                lines.append(r" \qquad ".join(row))
                row, width = [], 0.0
            row.append(item)
            width += w + (2 if len(row) > 1 else 0)
        if row:
            lines.append(r" \qquad ".join(row))
        return self.display("\\begin{gathered}\n" + " \\\\[1ex]\n".join(lines) + "\n\\end{gathered}")


def _network_writer(format: str):
    from .latex import LatexWriter

    class NetworkSheet(SheetMixin, LatexWriter):
        def sheet(self, sheet: QuestionSheet, symbol) -> str:
            parts = [self.title_block(self.text((self.trace.name or self.L["title"]) + " — " + self.L["q_title"]))]
            parts += self.network() + self.given() + self.tasks(sheet, symbol)
            return "\n\n".join(p for p in parts if p)

    if format == "markdown":
        from .markdown import MarkdownWriter

        class MarkdownSheet(SheetMixin, MarkdownWriter):
            sheet = NetworkSheet.sheet

        return MarkdownSheet
    return NetworkSheet


def _graph_writer(format: str):
    from .graph_latex import GraphWriter

    class GraphSheet(SheetMixin, GraphWriter):
        def sheet(self, sheet: QuestionSheet, symbol) -> str:
            L, trace = self.L, self.trace
            parts = [self.title_block(self.text((trace.name or L["graph"]) + " — " + L["q_title"]))]
            parts.append(self.heading(0, self.text(L["graph"])))
            parts.append(self.figure())
            leaves = [n for n in getattr(self.spec, "nodes", ()) if n.given is not None]
            if leaves:
                items = ", ".join(self.inline(f"{self.sym(n.name)} = {self.look.number(None, n.name)}")
                                  for n in leaves)
                parts.append(f"{self.bold(self.text(L['given']))}: {items}.")
            tensors = [n for n in getattr(self.spec, "nodes", ()) if getattr(n, "is_tensor_leaf", False)]
            if tensors:  # vectors and matrices given (tensor graphs)
                from .tensor_format import latex_name, matrix_latex

                parts.append(self.bold(self.text(L["given"])) + ":")
                parts.append(self.display("\\begin{gathered}\n" + " \\\\\n".join(
                    f"{latex_name(n.name)} = {matrix_latex(trace.values[n.name], self.look.digits)}"
                    for n in tensors) + "\n\\end{gathered}"))
            defs = [e for e in trace.equations if e.section == "forward"]
            if defs:
                parts.append(self.display("\\begin{gathered}\n" + " \\\\\n".join(
                    f"{self.sym(e.name)} = {self.look.formula(e)}" for e in defs) + "\n\\end{gathered}"))
            parts += self.tasks(sheet, symbol)
            return "\n\n".join(p for p in parts if p)

        def figure(self) -> str:  # the circuit carries the answers on its edges
            return ""

    if format == "markdown":
        from .markdown import MarkdownSyntax

        class MarkdownGraphSheet(MarkdownSyntax, GraphSheet):
            pass

        return MarkdownGraphSheet
    return GraphSheet


def _table(trace, sheet: QuestionSheet, digits: int, lang: str, notation: Optional[str],
           width: Optional[int]) -> str:
    from rich.console import Console, Group
    from rich.text import Text

    from .wrap import Hanging

    L = labels(lang)
    symbol = _Symbols(trace, sheet, "unicode", notation)
    parts: list = [Hanging(Text(f"{visible(trace.name)} — {L['q_title']}", style="bold"))]
    if sheet.kind == "graph":
        from .graph_table import LABELS, TableLook

        look = TableLook(trace, digits)
        words = LABELS.get(lang, LABELS["en"])
        for node in getattr(trace.spec, "nodes", ()):
            if node.given is not None:
                parts.append(Text(f"  {node.name} = {look.number(None, node.name)}   ({words['given']})"))
            elif getattr(node, "is_tensor_leaf", False):  # a vector or matrix given (tensor graphs)
                from .tensor_format import matrix_text

                text = matrix_text(trace.values[node.name], digits).replace("\n", "\n" + " " * (len(node.name) + 5))
                parts.append(Text(f"  {node.name} = {text}   ({words['given']})"))
        for e in trace.equations:
            if e.section == "forward":
                parts.append(Hanging(Text(f"  {e.name} = {look.formula(e)}"), indent=6))
    else:
        from .table import given_table

        look = Look.of(trace, "unicode", digits, notation)
        parts.append(Hanging(Text(f"{L['optimizer']}: {optimizer_text(trace.spec)}")))
        parts.append(given_table(trace, look, L))
    parts.append(Text(L["q_tasks"], style="bold underline"))
    parts.append(Hanging(Text(L["q_intro"], style="dim")))
    for number, task in enumerate(sheet.tasks, 1):
        parts.append(Hanging(Text(f"{number}. " + L[task.key].format(**dict(task.fields)))))
        for name in task.names:
            parts.append(Text(f"   {symbol(name)} = {BLANK_TEXT}"))
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False)
    console.print(Group(*parts))
    return buffer.getvalue()


def _layered_text(trace, sheet: QuestionSheet, format: str, lang: str, standalone: bool, heading_level: int,
                  title: bool, width: Optional[int]) -> str:
    """A typed-layer sheet: the givens as arrays, the layers as formulas, the tasks with
    blanks — the same content in every format (layer_givens.py says what is given)."""
    from . import layer_givens
    from ..safe_text import latex_text, markdown_text

    L = labels(lang)
    spec = trace.spec
    heading = f"{trace.name} — {L['q_title']}"
    givens, structure = layer_givens.givens(spec), layer_givens.structure(spec)
    tasks = [(number, L[task.key].format(**dict(task.fields)), task.names) for number, task in enumerate(sheet.tasks, 1)]
    if format == "table":
        from rich.console import Console, Group
        from rich.text import Text

        from .wrap import Hanging

        parts: list = [Hanging(Text(visible(heading), style="bold")),
                       Hanging(Text(f"{L['optimizer']}: {optimizer_text(spec)}")), Text(L["given"], style="bold")]
        parts += [Hanging(Text(f"  {name} = {visible(value)}"), indent=6) for name, value in givens]
        parts.append(Text(L["q_structure"], style="bold"))
        parts += [Hanging(Text(f"  {line}"), indent=6) for line in structure]
        parts += [Text(L["q_tasks"], style="bold underline"), Hanging(Text(L["q_intro"], style="dim"))]
        for number, sentence, names in tasks:
            parts.append(Hanging(Text(f"{number}. {sentence}")))
            parts += [Text(f"   {name} = {BLANK_TEXT}") for name in names]
        buffer = io.StringIO()
        Console(file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False).print(Group(*parts))
        return buffer.getvalue()
    if format == "markdown":
        h = "#" * heading_level
        out = [f"{h} {markdown_text(heading)}", ""] if title else []
        out += [f"{h}# {markdown_text(L['given'])}", "", "| | |", "|---|---|"]
        out += [f"| `{name}` | {markdown_text(value)} |" for name, value in givens]
        out += ["", f"**{markdown_text(L['q_structure'])}**", "", "```text", *structure, "```", "",
                f"{h}# {markdown_text(L['q_tasks'])}", "", markdown_text(L["q_intro"]), ""]
        for number, sentence, names in tasks:
            out += [f"{number}. {markdown_text(sentence)}", ""] + [f"   - `{name}` = {BLANK_TEXT}" for name in names] + [""]
        return "\n".join(out)
    sections = ["section", "subsection", "subsubsection", "paragraph", "subparagraph"]
    top, sub = sections[heading_level - 1], sections[heading_level]
    code = lambda text: r"\texttt{" + latex_text(text) + "}"  # noqa: E731
    out = [rf"\{top}*{{{latex_text(heading)}}}"] if title else []
    out += [rf"\{sub}*{{{latex_text(L['given'])}}}", r"\begin{flushleft}"]
    out += [code(name) + " = " + code(value) + r" \\" for name, value in givens]
    out += [r"\end{flushleft}", rf"\textbf{{{latex_text(L['q_structure'])}}}", r"\begin{flushleft}"]
    out += [code(line) + r" \\" for line in structure]
    out += [r"\end{flushleft}", rf"\{sub}*{{{latex_text(L['q_tasks'])}}}", latex_text(L["q_intro"]), r"\begin{enumerate}"]
    for _, sentence, names in tasks:
        out.append(r"\item " + latex_text(sentence) + r" \\[1ex]")
        out.append(r" \qquad ".join(code(name) + " = " + BLANK_LATEX for name in names))
    out.append(r"\end{enumerate}")
    body = "\n".join(out)
    from .latex import fragment_header, has_hangul, preamble

    korean = lang == "ko" or has_hangul(body)
    if standalone:
        return preamble(lang, tikz=False, plot=False, korean=korean) + body + "\n\n\\end{document}\n"
    return fragment_header(lang, korean=korean) + body + "\n"


__all__ = ["Task", "QuestionSheet", "question_sheet", "render_questions", "SheetMixin"]
