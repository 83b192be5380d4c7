"""Table, LaTeX and Markdown for a tensor graph: each equation once in matrix form, with
shapes and numbers, and one worked element spelled out as scalars.

    ∂f/∂W = ∂f/∂q xᵀ     (2,) (2,) → (2×2)
          = [0.44, 0.52] [0.2, 0.4]ᵀ = [[0.088, 0.176], [0.104, 0.208]]
      e.g. ∂f/∂W[1,1] = ∂f/∂q[1] · x[1] = 0.44 · 0.2 = 0.088

The pieces (names, matrices, the expression printer) are in tensor_format.py.
Renderers format; every number is the trace's.
"""
from __future__ import annotations

import numpy as np

from ..calc.expr import Ref
from ..safe_text import latex_text
from .tensor_format import (GRADIENT, LATEX_WIDTH, WORKED_LIMIT, Printer, fmt_policy, latex_name, matrix_latex, one_line,
                            operand_shapes, shape_text, unicode_name, values_of, worked_element, fits as fits_width)

WORDS = {
    "en": {"title": "Tensor graph", "forward": "Forward pass",
           "backward": "Backward pass: gradients of {o}", "given": "Given", "summary": "Gradients",
           "element": "e.g.", "shapes": "shapes", "off": "{n} does not lead to {o}", "output": "output"},
    "ko": {"title": "텐서 그래프", "forward": "순전파", "backward": "역전파: {o}의 기울기",
           "given": "주어진 값", "summary": "기울기", "element": "예:", "shapes": "크기",
           "off": "{n}은(는) {o}에 이르지 않음", "output": "출력"},
}
# -- the three formats ------------------------------------------------------------------

def _sections(trace, lang: str):
    words = WORDS.get(lang, WORDS["en"])
    forward = [eq for eq in trace.equations if eq.section == "forward"]
    out = [(words["forward"], forward)]
    for o in trace.outputs:
        prefix = f"d{o}/d"
        out.append((words["backward"].format(o=o),
                    [eq for eq in trace.equations if eq.section == "backward" and eq.name.startswith(prefix)
                     and GRADIENT.match(eq.name) and GRADIENT.match(eq.name)[1] == o]))
    return words, out


def _given(trace):
    return [n for n in trace.spec.nodes if n.is_leaf]


def latex_lines(trace, digits: int, lang: str, markdown: bool = False) -> list[str]:
    words, sections = _sections(trace, lang)
    heading = (lambda t: f"## {t}") if markdown else (lambda t: r"\subsection*{" + latex_text(t) + "}")
    math_open, math_close = ("$$\n\\begin{aligned}", "\\end{aligned}\n$$") if markdown else (r"\begin{align*}", r"\end{align*}")
    title = f"# {words['title']}: {trace.name}" if markdown else r"\section*{" + latex_text(f"{words['title']}: {trace.name}") + "}"
    lines = [title, ""]
    lines += [heading(words["given"]), "", math_open]
    given = [latex_name(n.name) + " &= " + matrix_latex(trace.values[n.name], digits) for n in _given(trace)]
    lines.append(r" \\ ".join(given) if markdown else " \\\\\n".join(given))
    lines += [math_close, ""]
    for title_, eqs in sections:
        lines += [heading(title_), ""]
        for eq in eqs:
            lines += latex_equation(eq, trace, digits, words, markdown) + [""]
    return lines


def latex_equation(eq, trace, digits: int, words: dict, markdown: bool, latex_name=latex_name,
                   width: float = LATEX_WIDTH) -> list[str]:
    """One tensor equation as an aligned block: name = matrix form, its shapes, the
    numbers, the result, one worked element. `latex_name` spells a name (descent: w(2));
    `width` (em) is where a row is split (names with scripts measure short)."""
    fits = lambda row: fits_width(row, width)  # noqa: E731
    shapes = operand_shapes(eq)
    sym = Printer(latex_name, shapes, True).p(eq.expr)
    values = dict(eq.operands)
    num = Printer(lambda n: matrix_latex(values[n], digits), shapes, True).p(eq.expr)
    shape_line = " ".join(shape_text(s) for s in shapes.values()) + r" \to " + shape_text(eq.shape)
    shape_line = shape_line.replace("×", r"\times ")
    rows = [latex_name(eq.name) + " &= " + sym]
    rows.append(r"&\phantom{=}\ \text{" + shape_line.replace(r"\to", r"$\to$").replace(r"\times ", r"$\times$") + "}")
    if eq.note:
        rows[-1] += r" \quad \text{(" + latex_text(eq.note) + ")}"
    elif num != sym and fits("&= " + num):
        rows.append("&= " + num)
    if not eq.note:
        rows.append("&= " + matrix_latex(eq.value, digits))
    element = worked_element(eq)
    if element is not None:
        ops = values_of(element)
        e_sym = Printer(latex_name, {k: () for k in ops}, True).p(element.expr)
        e_num = Printer(lambda n: fmt_policy(ops[n], digits, "latex", trace.policy, True), {k: () for k in ops},
                        True).p(element.expr)
        value = fmt_policy(element.value, digits, "latex", trace.policy)
        lhs = r"\text{" + latex_text(words["element"]) + r" } " + latex_name(element.name)
        if fits(lhs + " &= " + e_sym + " = " + e_num + " = " + value):
            rows.append(lhs + " &= " + e_sym + " = " + e_num + " = " + value)
        elif fits(lhs + " &= " + e_sym):
            rows.append(lhs + " &= " + e_sym)
            rows.append("&= " + e_num + " = " + value if fits("&= " + e_num + " = " + value) else "&= " + value)
        else:  # too long to typeset as one row: the numbers alone, when they fit
            rows.append(lhs + " &= " + (e_num + " = " if fits(lhs + " &= " + e_num) else "") + value)
        if element.condition:
            rows.append(r"&\phantom{=}\ \text{(" + latex_text(element.condition) + ")}")
    begin, end = (r"$$\begin{aligned}", r"\end{aligned}$$") if markdown else (r"\begin{align*}", r"\end{align*}")
    return [begin, " \\\\\n".join(rows), end]


def tensor_graph_latex(trace, digits: int = 4, lang: str = "en", standalone: bool = False) -> str:
    from .latex import fragment_header, preamble

    body = "\n".join(latex_lines(trace, digits, lang)) + "\n"
    if not standalone:
        return fragment_header(lang, korean=lang == "ko") + body

    return preamble(lang, tikz=False, plot=False, korean=lang == "ko", title=trace.name) + body + "\\end{document}\n"


def tensor_graph_math(trace, digits: int = 4, lang: str = "en") -> str:
    """Display math only (Jupyter): the aligned blocks of every equation, in order."""
    words, sections = _sections(trace, lang)
    blocks = []
    for _, eqs in sections:
        for eq in eqs:
            blocks.append("$$" + "\n".join(latex_equation(eq, trace, digits, words, True)[1:-1]).join(
                (r"\begin{aligned}", r"\end{aligned}")) + "$$")
    return "\n".join(blocks) + "\n"


def tensor_graph_markdown(trace, digits: int = 4, lang: str = "en") -> str:
    return "\n".join(latex_lines(trace, digits, lang, markdown=True)) + "\n"


def tensor_graph_table(trace, digits: int = 4, lang: str = "en"):
    """Equation lines broken at the terminal's width as the LaTeX is (render/wrap.py):
    name = matrix form = numbers = result, the shapes as a note, then the worked element."""
    from rich.console import Group
    from rich.rule import Rule
    from rich.text import Text

    from .wrap import BrokenEquation

    words, sections = _sections(trace, lang)
    parts = [Rule(Text(f"{words['title']}: {trace.name}", style="bold"))]
    parts.append(Text(words["given"], style="bold underline"))
    for n in _given(trace):
        value = trace.values[n.name]
        parts.append(BrokenEquation(n.name, [one_line(value, digits)], note="shape " + shape_text(np.shape(value)),
                                    highlight_last=False))
    for title_, eqs in sections:
        parts.append(Text(""))
        parts.append(Text(title_, style="bold underline"))
        for eq in eqs:
            parts += text_equation(eq, trace, digits, words)
    return Group(*parts)


def text_equation(eq, trace, digits: int, words: dict, unicode_name=unicode_name) -> list:
    """One tensor equation as terminal lines (latex_equation's story); `unicode_name`
    spells a name."""
    from .wrap import BrokenEquation

    shapes = operand_shapes(eq)
    sym = Printer(unicode_name, shapes, False).p(eq.expr)
    shape_line = " ".join(shape_text(s) for s in shapes.values()) + " → " + shape_text(eq.shape)
    chain = [sym]
    values = dict(eq.operands)
    if values and not eq.note and np.size(eq.value) <= WORKED_LIMIT and not isinstance(eq.expr, Ref):
        num = Printer(lambda n: one_line(values[n], digits), shapes, False).p(eq.expr)
        if num != sym:
            chain.append(num)
    chain.append(one_line(eq.value, digits))
    out = [BrokenEquation(unicode_name(eq.name), chain, note=eq.note or "shapes " + shape_line)]
    element = worked_element(eq)
    if element is not None:
        ops = values_of(element)
        e_sym = Printer(unicode_name, {k: () for k in ops}, False).p(element.expr)
        e_num = Printer(lambda n: fmt_policy(ops[n], digits, "unicode", trace.policy, True),
                        {k: () for k in ops}, False).p(element.expr)
        out.append(BrokenEquation(f"{words['element']} {unicode_name(element.name)}",
                                  [e_sym, e_num, fmt_policy(element.value, digits, "unicode", trace.policy)],
                                  note=element.condition, indent=4))
    return out


__all__ = ["tensor_graph_latex", "tensor_graph_markdown", "tensor_graph_table", "tensor_graph_math"]


