"""Table, LaTeX and Markdown for gradient descent on a tensor graph (`minimize:`).

Each written-out step: the parameters it starts from, the forward pass and the
gradients in matrix form (tensor_graph.py's equation blocks), then the update

    w(2) = w − α · buf[w](1)      (2,) scalar (2,) → (2,)
         = [0.1, −0.2] − 0.01 · [−18.2, −23.2] = [0.282, 0.032]
      e.g. w[1](2) = w[1] − α · buf[w[1]](1) = 0.1 − 0.01 · (−18.2) = 0.282

and after the run the forward pass at the last parameters and the minimized value at
every step. Names follow the scalar descent (graph_table.descent_symbol): w for step 1,
w(2) for its value after step 1, buf[w](1), ∂f/∂w(2); elements keep their 1-based
index (w[1](2)). Steps shown: --show-steps, default every step of a run of up to 3,
else 1, 2 and the last (render/common.py). Nothing is computed here.
"""
from __future__ import annotations

from ..safe_text import latex_text
from ..tensor.names import element_name, split_element
from .common import chosen_steps, optimizer_text
from .formula import format_number
from .notation import STATE_SYMBOL, hyper_symbol
from .tensor_format import latex_name, matrix_latex, one_line, shape_text, unicode_name
from .tensor_graph import latex_equation, text_equation

DESCENT_WIDTH = 25.0  # em: step-qualified names (w_{1}(2), buf_{w_{1}}(1)) measure shorter than they set

WORDS = {
    "en": {"title": "Gradient descent on a tensor graph", "step": "Step {s}", "start": "Parameters",
           "given": "Given", "forward": "Forward pass", "backward": "Backward pass: gradients of {o}",
           "update": "Update", "after": "After {n} step(s)", "losses": "{f} at every step", "element": "e.g.",
           "carried": "after step {p}", "rounded": "hand-rounded to {d} decimals", "output": "minimizing"},
    "ko": {"title": "텐서 그래프의 경사 하강법", "step": "{s}단계", "start": "매개변수", "given": "주어진 값",
           "forward": "순전파", "backward": "역전파: {o}의 기울기", "update": "갱신", "after": "{n}단계 후",
           "losses": "단계별 {f}", "element": "예:", "carried": "{p}단계 갱신 후",
           "rounded": "소수 {d}자리로 반올림", "output": "최소화"},
}


def descent_name(name: str, output: str, parameters, latex: bool = False) -> str:
    """A canonical descent name as a symbol: w_new[1]@2 → w[1](3), buf_w@2 → buf[w](2),
    df/dW[1,2]@2 → ∂f/∂W[1,2](2), lr → α (LaTeX: W_{12}, \\mathrm{buf}_{w}(2), …)."""
    plain = latex_name if latex else unicode_name
    base, _, step_text = name.partition("@")
    s = int(step_text) if step_text else 1
    split = split_element(base)
    core, index = split if split else (base, ())
    hyper = hyper_symbol(core, "latex" if latex else "unicode")
    if hyper is not None:
        return hyper
    if core == "loss_after":
        return plain(output) + (r"_{\mathrm{after}}" if latex else "′")
    if core.endswith("_new") and core[:-4] in parameters:
        return f"{plain(element_name(core[:-4], index))}({s + 1})"
    state, _, p = core.partition("_")
    if p in parameters and state in STATE_SYMBOL:
        letter = STATE_SYMBOL[state][1 if latex else 0]
        inner = plain(element_name(p, index))
        return f"{letter}_{{{inner}}}({s})" if latex else f"{letter}[{inner}]({s})"
    symbol = plain(element_name(core, index))
    return symbol if s == 1 else f"{symbol}({s})"


def _namers(trace):
    parameters = frozenset(trace.spec.wrt)
    out = trace.output
    return (lambda n: descent_name(n, out, parameters, False)), (lambda n: descent_name(n, out, parameters, True))


def _parts(trace, show):
    """(step record, [(section title key, equations)]) for each step written out."""
    for record in chosen_steps(trace, show):
        eqs = record.equations
        yield record, [(key, [e for e in eqs if e.section == key]) for key in ("forward", "backward", "update")]


def _start(trace, record) -> list[tuple[str, object, str | None]]:
    """(name, array, note) the step starts from: the given leaves at step 1, then the
    parameters as the last update left them (constants keep their given values)."""
    s = record.step
    if s == 1:
        return [(n.name, trace.values[n.name], None) for n in trace.spec.nodes if n.is_leaf]
    return [(f"{p}@{s}", record.values[p], "carried") for p in trace.spec.wrt]


# -- the terminal -----------------------------------------------------------------------------

def descent_table(trace, digits: int = 4, lang: str = "en", show_steps=None):
    from rich import box
    from rich.console import Group
    from rich.rule import Rule
    from rich.table import Table
    from rich.text import Text

    from .wrap import BrokenEquation, Hanging

    words = WORDS.get(lang, WORDS["en"])
    text_name, _ = _namers(trace)
    title = f"{words['title']}: {trace.name}  ({words['output']} {trace.output})"
    if trace.policy == "round" and trace.digits is not None:
        title += "  — " + words["rounded"].format(d=trace.digits)
    parts = [Hanging(Text(title, style="bold")), Rule()]
    for record, sections in _parts(trace, show_steps):
        s = record.step
        parts.append(Rule(Text(words["step"].format(s=s), style="bold"), align="left"))
        parts.append(Text(words["given"] if s == 1 else words["start"], style="bold underline"))
        for name, value, note in _start(trace, record):
            parts.append(BrokenEquation(text_name(name), [one_line(value, digits)], highlight_last=False,
                                        note=words["carried"].format(p=s - 1) if note else "shape " + shape_text(value.shape)))
        for key, eqs in sections:
            title_ = words[key].format(o=trace.output)
            if key == "update":
                title_ += " — " + optimizer_text(trace.spec)
            parts += [Text(""), Text(title_, style="bold underline")]
            for eq in eqs:
                parts += text_equation(eq, trace, digits, words, text_name)
    n = len(trace.steps)
    parts.append(Rule(Text(words["after"].format(n=n), style="bold"), align="left"))
    for eq in trace.after_equations:
        parts += text_equation(eq, trace, digits, words, text_name)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    table.add_column(words["step"].format(s="").strip() or "Step")
    table.add_column(words["losses"].format(f=trace.output), justify="right")
    for s, loss in enumerate(trace.losses, 1):
        table.add_row(str(s) if s <= n else f"{n} ✓", format_number(loss, digits))
    parts.append(table)
    return Group(*parts)


# -- LaTeX and Markdown ----------------------------------------------------------------------

def descent_lines(trace, digits: int, lang: str, markdown: bool = False, show_steps=None, level: int = 1,
                  title: bool = True) -> list[str]:
    words = WORDS.get(lang, WORDS["en"])
    _, tex_name = _namers(trace)
    commands = (r"\section*", r"\subsection*", r"\subsubsection*", r"\paragraph*", r"\paragraph*")

    def heading(depth: int, text: str) -> str:
        k = min(level - 1 + depth, 4)
        return "#" * (k + 1) + " " + text if markdown else commands[k] + "{" + latex_text(text) + "}"

    def block(rows: list[str]) -> list[str]:
        if markdown:
            return ["$$\n\\begin{aligned}", r" \\ ".join(rows), "\\end{aligned}\n$$"]
        return [r"\begin{align*}", " \\\\\n".join(rows), r"\end{align*}"]

    lines: list[str] = []
    if title:
        head = f"{words['title']}: {trace.name}"
        if trace.policy == "round" and trace.digits is not None:
            head += " (" + words["rounded"].format(d=trace.digits) + ")"
        # LaTeX: a centred block, which breaks a long name ragged (a \section* line overfills)
        lines += [heading(0, head) if markdown else
                  "\\begin{center}\n{\\Large\\bfseries " + latex_text(head) + "}\n\\end{center}", ""]
    for record, sections in _parts(trace, show_steps):
        s = record.step
        lines += [heading(1, words["step"].format(s=s)), "", heading(2, words["given"] if s == 1 else words["start"]), ""]
        rows = [tex_name(name) + " &= " + matrix_latex(value, digits)
                + (r" \quad \text{(" + latex_text(words["carried"].format(p=s - 1)) + ")}" if note else "")
                for name, value, note in _start(trace, record)]
        lines += block(rows) + [""]
        for key, eqs in sections:
            title_ = words[key].format(o=trace.output)
            if key == "update":
                title_ += " — " + optimizer_text(trace.spec)
            lines += [heading(2, title_), ""]
            for eq in eqs:
                lines += latex_equation(eq, trace, digits, words, markdown, tex_name, DESCENT_WIDTH) + [""]
    n = len(trace.steps)
    lines += [heading(1, words["after"].format(n=n)), ""]
    for eq in trace.after_equations:
        lines += latex_equation(eq, trace, digits, words, markdown, tex_name, DESCENT_WIDTH) + [""]
    f = tex_name(trace.output)
    if markdown:
        lines += [f"| {words['step'].format(s='').strip() or 'Step'} | ${f}$ |", "|---:|---:|"]
        lines += [f"| {s if s <= n else f'{n} ✓'} | ${format_number(v, digits, 'latex')}$ |"
                  for s, v in enumerate(trace.losses, 1)]
    else:
        lines += [r"\begin{tabular}{rr}", latex_text(words["step"].format(s="").strip() or "Step") + f" & ${f}$ \\\\",
                  r"\hline"]
        check = r" $\checkmark$"
        lines += [(str(s) if s <= n else str(n) + check) + f" & ${format_number(v, digits, 'latex')}$ " + "\\\\"
                  for s, v in enumerate(trace.losses, 1)]
        lines.append(r"\end{tabular}")
    return lines + [""]


def descent_latex(trace, digits: int = 4, lang: str = "en", standalone: bool = False, options=None) -> str:
    from .latex import fragment_header, preamble

    show, level, title = (options.show_steps, options.heading_level, options.title) if options else (None, 1, True)
    body = "\n".join(descent_lines(trace, digits, lang, False, show, level, title))
    if not standalone:
        return fragment_header(lang, korean=lang == "ko") + body
    return preamble(lang, tikz=False, plot=False, korean=lang == "ko", title=trace.name) + body + "\\end{document}\n"


def descent_markdown(trace, digits: int = 4, lang: str = "en", options=None) -> str:
    show, level, title = (options.show_steps, options.heading_level, options.title) if options else (None, 1, True)
    return "\n".join(descent_lines(trace, digits, lang, True, show, level, title))


def descent_math(trace, digits: int = 4, lang: str = "en") -> str:
    """Display math only (Jupyter): every written-out equation's aligned block."""
    words = WORDS.get(lang, WORDS["en"])
    _, tex_name = _namers(trace)
    blocks = []
    for _, sections in _parts(trace, None):
        for _, eqs in sections:
            for eq in eqs:
                inner = latex_equation(eq, trace, digits, words, True, tex_name)[1:-1]
                blocks.append("$$" + "\n".join(inner).join((r"\begin{aligned}", r"\end{aligned}")) + "$$")
    return "\n".join(blocks) + "\n"


__all__ = ["descent_table", "descent_latex", "descent_markdown", "descent_math", "descent_name"]
