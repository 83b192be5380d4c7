"""Question sheets, solutions and the combined exam, in Markdown and LaTeX.

A question sheet shows the givens (as the variant's spec writes them), the structure
of the computation as formulas in the canonical names (z1 = W1·x1 + W2·x2 + b1 — no
numbers of the solve, so no answers), the task, and one blank per asked name. A
solution is the answers table followed by the full derivation the renderers print
(render/markdown.py, render/latex.py): nothing is solved or worded twice.

This is a small renderer of its own; the `--questions` mode the renderers are getting
on another branch can replace `question_*` once both exist.
"""
from __future__ import annotations

from ..calc.expr import to_text
from ..render import layer_givens, render
from ..render.common import architecture, given_texts, optimizer_text
from ..render.formula import latex_math_name
from ..safe_text import latex_text, markdown_text
from .answers import Question, answer_text
from .words import words

PAGE_BREAK_MD = '\n\n<div style="page-break-after: always;"></div>\n\n'


def _symbol_latex(spec, name: str) -> str:
    if getattr(spec, "kind", "network") == "graph" or type(spec).__name__ == "GraphSpec":
        return _graph_latex(name)
    if _is_layered(spec):  # typed layers: the canonical name is the symbol
        return r"\texttt{" + latex_text(name) + "}"
    from ..render.notation import Notation

    return Notation.of_spec(spec).latex(name)


def _graph_latex(name: str) -> str:
    local = name.endswith(".local")
    core = name[:-6] if local else name
    if "/" in core:
        top, bottom = core.split("/", 1)
        frac = rf"\frac{{\partial {latex_math_name(top[1:])}}}{{\partial {latex_math_name(bottom[1:])}}}"
        return frac + (r"_{\mathrm{local}}" if local else "")
    return latex_math_name(core)


def _is_graph(spec) -> bool:
    return type(spec).__name__ == "GraphSpec"


def _is_layered(spec) -> bool:
    return getattr(spec, "kind", "network") == "layered"


def givens(spec) -> list[tuple[str, str]]:
    """(canonical name, value as written) of everything the student is given."""
    if _is_graph(spec):
        return [(n.name, n.text) for n in spec.nodes if n.is_leaf]
    if _is_layered(spec):
        return layer_givens.givens(spec)
    return list(given_texts(spec).items())


def structure(spec, trace) -> list[str]:
    """The forward formulas (and a graph's node definitions) in canonical names."""
    if _is_graph(spec):
        return [f"{n.name} = {n.text}" for n in spec.nodes if not n.is_leaf]
    if _is_layered(spec):
        return layer_givens.structure(spec)
    eqs = trace.steps[0].equations if trace.steps else ()
    return [f"{e.name} = {to_text(e.expr, name=lambda n: n)}" for e in eqs if e.section in ("forward", "loss")]


def describe(spec, lang: str) -> str:
    w = words(lang)
    if _is_graph(spec):
        return w["graph"].format(output=spec.output)
    if _is_layered(spec):
        return layer_givens.describe(spec)
    acts = ", ".join(layer.activation.name for layer in spec.layers)
    return w["network"].format(arch=architecture(spec), acts=acts, loss=spec.loss, reduction=spec.reduction,
                               opt=optimizer_text(spec))


def task(spec, decimals: int, lang: str) -> str:
    return words(lang)["task_graph" if _is_graph(spec) else "task_network"].format(decimals=decimals)


# ----------------------------------------------------------------------------------------
# Markdown


def question_markdown(title: str, variant, qs: list[Question], decimals: int, lang: str) -> str:
    w = words(lang)
    spec = variant.spec
    total = _points(sum(q.points for q in qs))
    out = [f"# {markdown_text(title)} — {w['variant']} {variant.id}", "",
           f"**{w['variant']} {variant.id}** · {w['points_total'].format(points=total)}", "",
           f"## {w['given']}", "", markdown_text(describe(spec, lang)), "",
           f"| {w['quantity']} | {w['name']} | {w['value']} |", "|---|---|---|"]
    out += [f"| ${_symbol_latex(spec, n)}$ | `{n}` | {markdown_text(v)} |" for n, v in givens(spec)]
    out += ["", f"**{w['structure']}**", "", "```text", *structure(spec, variant.trace), "```", "",
            f"## {w['task']}", "", task(spec, decimals, lang), "",
            f"| # | {w['quantity']} | {w['name']} | {w['answer']} | {w['points']} |", "|---|---|---|---|---|"]
    out += [f"| {i} | ${_symbol_latex(spec, q.name)}$ | `{q.name}` | &nbsp; | {_points(q.points)} |"
            for i, q in enumerate(qs, 1)]
    return "\n".join(out) + "\n"


def answers_markdown(variant, qs: list[Question], decimals: int, lang: str) -> str:
    w = words(lang)
    out = [f"| # | {w['quantity']} | {w['name']} | {w['answer']} | {w['points']} |", "|---|---|---|---|---|"]
    out += [f"| {i} | ${_symbol_latex(variant.spec, q.name)}$ | `{q.name}` | {answer_text(q.value, decimals)} | "
            f"{_points(q.points)} |" for i, q in enumerate(qs, 1)]
    return "\n".join(out) + "\n"


def solution_markdown(title: str, variant, qs: list[Question], decimals: int, lang: str) -> str:
    w = words(lang)
    derivation = render(variant.trace, "markdown", digits=decimals, lang=lang)
    return (f"# {markdown_text(title)} — {w['solution']}, {w['variant']} {variant.id}\n\n"
            f"## {w['answers']}\n\n{answers_markdown(variant, qs, decimals, lang)}\n{derivation}")


def exam_markdown(pages: list[str]) -> str:
    return PAGE_BREAK_MD.join(page.rstrip("\n") for page in pages) + "\n"


# ----------------------------------------------------------------------------------------
# LaTeX


def _preamble(lang: str) -> str:
    from ..render.latex import preamble

    return preamble(lang, tikz=False, plot=False, korean=lang == "ko")


def _tex_code(text: str) -> str:
    return r"\texttt{" + latex_text(text) + "}"


def question_latex_body(title: str, variant, qs: list[Question], decimals: int, lang: str) -> str:
    w = words(lang)
    spec = variant.spec
    total = _points(sum(q.points for q in qs))
    lines = [rf"\section*{{{latex_text(title)} --- {w['variant']} {variant.id}}}",
             rf"\textbf{{{w['variant']} {variant.id}}} \quad {latex_text(w['points_total'].format(points=total))}",
             "", rf"\subsection*{{{latex_text(w['given'])}}}", latex_text(describe(spec, lang)), "",
             r"\begin{tabular}{lll}", rf"{w['quantity']} & {w['name']} & {w['value']} \\ \hline"]
    lines += [rf"${_symbol_latex(spec, n)}$ & {_tex_code(n)} & {latex_text(v)} \\" for n, v in givens(spec)]
    lines += [r"\end{tabular}", "", rf"\textbf{{{latex_text(w['structure'])}}}", "", r"\begin{flushleft}"]
    lines += [_tex_code(s) + r" \\" for s in structure(spec, variant.trace)]
    lines += [r"\end{flushleft}", rf"\subsection*{{{latex_text(w['task'])}}}", latex_text(task(spec, decimals, lang)),
              "", r"\renewcommand{\arraystretch}{1.6}", r"\begin{tabular}{rllll}",
              rf"\# & {w['quantity']} & {w['name']} & {w['answer']} & {w['points']} \\ \hline"]
    lines += [rf"{i} & ${_symbol_latex(spec, q.name)}$ & {_tex_code(q.name)} & \underline{{\hspace{{4cm}}}} & "
              rf"{_points(q.points)} \\" for i, q in enumerate(qs, 1)]
    lines += [r"\end{tabular}", ""]
    return "\n".join(lines)


def answers_latex(variant, qs: list[Question], decimals: int, lang: str) -> str:
    w = words(lang)
    lines = [r"\begin{tabular}{rllrr}", rf"\# & {w['quantity']} & {w['name']} & {w['answer']} & {w['points']} \\ \hline"]
    lines += [rf"{i} & ${_symbol_latex(variant.spec, q.name)}$ & {_tex_code(q.name)} & "
              rf"${answer_text(q.value, decimals)}$ & {_points(q.points)} \\" for i, q in enumerate(qs, 1)]
    return "\n".join(lines + [r"\end{tabular}", ""])


def question_latex(title, variant, qs, decimals, lang) -> str:
    return _preamble(lang) + question_latex_body(title, variant, qs, decimals, lang) + "\\end{document}\n"


def solution_latex_body(title: str, variant, qs: list[Question], decimals: int, lang: str) -> str:
    w = words(lang)
    fragment = render(variant.trace, "latex", digits=decimals, lang=lang)
    fragment = "\n".join(line for line in fragment.split("\n") if not line.startswith("% backprop: LaTeX fragment"))
    return (rf"\section*{{{latex_text(title)} --- {w['solution']}, {w['variant']} {variant.id}}}" + "\n"
            + rf"\subsection*{{{latex_text(w['answers'])}}}" + "\n" + answers_latex(variant, qs, decimals, lang)
            + "\n" + fragment + "\n")


def solution_latex_from_body(body: str, lang: str) -> str:
    return _preamble(lang) + body + "\\end{document}\n"


def exam_latex(bodies: list[str], lang: str) -> str:
    return _preamble(lang) + "\n\\newpage\n".join(bodies) + "\\end{document}\n"


def _points(p: float) -> str:
    return str(int(p)) if float(p).is_integer() else f"{p:g}"
