"""`--format latex`: the worked example as a LaTeX fragment or a standalone document.

The document reads like the 2-2-1 BCE worked example's derivation: the network (TikZ, standalone only), the
given values, the forward pass as aligned blocks

    z_{1} &= W_{1} x_{1} + W_{2} x_{2} + b_{1} \\\\ &= 0.4352 \\times 1 + … \\\\ &= 0.6478

the loss, the backward pass output layer first (each gradient as the chain-rule product
of named factors, then the numbers, then the result), the updates, a before/after table
and the loss after the step. Batches and big layers are written with matrices.

It only formats: every number comes from the trace's equations (or, in matrix form,
its layer records). The fragment needs amsmath and amssymb (kotex for Korean); the
standalone document adds geometry, TikZ and pgfplots and compiles with pdflatex.
Long lines break at + and × (formula.py marks the places; `break_marked` picks them
by an estimate of the rendered width), so nothing runs off the page.
"""
from __future__ import annotations

import re
from typing import Optional

from ..calc.expr import Num, Ref
from ..frozen import frozen
from ..grid import as_rows, as_written
from ..network.names import NetworkNames, at
from .notation import Sym
from ..trace import Equation, Trace
from .common import (OPTIMIZER_TITLES, Look, architecture, chosen_steps, equation_values, parameter_rows, sections,
                     thin)
from ..safe_text import latex_text
from .formula import MARK, format_number, resolve, resolve_line, tex_width
from . import softmax_story
from .labels import labels

# Width budgets (em of the body font) for one display line. The fragment must fit the
# narrowest common host (article at 10–12pt: 32.5–34.5em); the standalone page is
# A4 with 2.5cm margins at 11pt (41em).
FRAGMENT_WIDTH = 29.0
STANDALONE_WIDTH = 37.0
# A picture never wider than the line: shrunk to fit when it would be (graphicx).
FIT_OPEN = r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%"
FIT_CLOSE = "}"
MATRIX_MAX = 6  # rows/columns shown before ⋯ / ⋮
SUMMARY_ROWS = 24  # parameters per layer listed one by one; beyond, matrices
GIVEN_SCALARS = 40  # parameters listed one by one in "given"; beyond, matrices


# -- line breaking ------------------------------------------------------------------------------

def break_marked(text: str, first: float, rest: Optional[float] = None) -> list[str]:
    """Split a marked formula into lines of at most `first` (then `rest`) em, breaking at
    the marks formula.py left before + and ×: shallow marks first, each line at least
    about half full. A piece with no mark inside stays whole (it may then overflow)."""
    rest = first if rest is None else rest
    pieces = re.split("(" + MARK + ".)", text)
    texts = pieces[0::2]
    prios = [99] + [ord(m[1]) - 0x30 for m in pieces[1::2]]
    # a piece after a mark starts with its operator: measure it as binary (after an operand)
    widths = [tex_width(texts[0])] + [tex_width("a" + t) - tex_width("a") for t in texts[1:]]
    if sum(widths) <= first:
        return [resolve(text)]
    lines: list[str] = []
    i, n = 0, len(texts)
    while i < n:
        budget = first if not lines else rest
        acc, j = widths[i], i + 1
        while j < n and acc + widths[j] <= budget:
            acc += widths[j]
            j += 1
        if j == n:
            lines.append("".join(texts[i:]))
            break
        candidates = list(range(i + 1, j + 1))
        full = [k for k in candidates if sum(widths[i:k]) >= 0.45 * budget] or candidates
        best = min(full, key=lambda k: (prios[k], -k))
        lines.append("".join(texts[i:best]))
        i = best
    return [resolve_line(line).strip() for line in lines]


def aligned_lines(lhs: str, parts: list[str], width: float, condition: str = "") -> list[str]:
    """`lhs &= part` lines of an aligned block, long parts broken over `&\\quad {}+ …` lines."""
    room = max(width - tex_width(lhs) - 1.5, 12.0)
    lines: list[str] = []
    for k, part in enumerate(parts):
        for m, piece in enumerate(break_marked(part, room, room - 1.0)):
            if k == 0 and m == 0:
                lines.append(f"{lhs} &= {piece}")
            elif m == 0:
                lines.append(f"&= {piece}")
            else:
                lines.append(r"&\quad {}" + piece)
    if condition:
        lines[-1] += r" \quad (" + condition + ")"
    return lines


def aligned(lines: list[str]) -> str:
    return "\\[\n\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}\n\\]"


def bmatrix(values, fmt, max_rows: int = MATRIX_MAX, max_cols: int = MATRIX_MAX) -> str:
    """A matrix (Grid, ndarray, a bias vector or a list of rows of cells); past max
    rows/cols the middle is elided with \\cdots, \\vdots, \\ddots."""
    arr = values if isinstance(values, (list, tuple)) else as_rows(values)
    rows, cols = len(arr), len(arr[0])
    keep_r = list(range(rows)) if rows <= max_rows else list(range(max_rows - 2)) + [None, rows - 1]
    keep_c = list(range(cols)) if cols <= max_cols else list(range(max_cols - 2)) + [None, cols - 1]
    lines = []
    for r in keep_r:
        cells = []
        for c in keep_c:
            if r is None and c is None:
                cells.append(r"\ddots")
            elif r is None:
                cells.append(r"\vdots")
            elif c is None:
                cells.append(r"\cdots")
            else:
                cells.append(fmt(arr[r][c]))
        lines.append(" & ".join(cells))
    return "\\begin{bmatrix}" + " \\\\ ".join(lines) + "\\end{bmatrix}"


# -- the document -------------------------------------------------------------------------------

@frozen
class Options:
    """How a document is written. `heading_level` is the level of its top headings
    (1 = \\section*, 2 = \\subsection*, …; Markdown: 1 = ##); `title` off leaves out the
    title block, for a fragment inside the user's own document; `show_steps` as
    common.parse_show_steps returns it."""

    digits: int
    lang: str
    standalone: bool
    show_steps: Optional[tuple] = None
    heading_level: int = 1
    title: bool = True

    @property
    def width(self) -> float:
        return STANDALONE_WIDTH if self.standalone else FRAGMENT_WIDTH


def render_latex(trace, digits: int = 4, lang: str = "en", notation: Optional[str] = None,
                 standalone: bool = False, show_steps: Optional[tuple] = None, heading_level: int = 1,
                 title: bool = True) -> str:
    """The worked example as LaTeX: a fragment to \\input, or a complete document."""
    options = Options(digits, lang, standalone, show_steps, heading_level, title)
    writer = LatexWriter(trace, Look.of(trace, "latex", digits, notation), options)
    body = writer.body()
    if standalone:
        return preamble(lang, tikz=True, plot=writer.plots, korean=lang == "ko" or has_hangul(body)) + body + \
            "\n\\end{document}\n"
    return fragment_header(lang, korean=lang == "ko" or has_hangul(body)) + body + "\n"


def has_hangul(text: str) -> bool:
    return any(0xAC00 <= ord(c) <= 0xD7A3 or 0x1100 <= ord(c) <= 0x11FF or 0x3130 <= ord(c) <= 0x318F
               for c in text)


def fragment_header(lang: str, korean: bool = False) -> str:
    """A comment naming what the host document must load."""
    packages = r"\usepackage{amsmath,amssymb}" + (r" and \usepackage{kotex} (Korean text)" if korean else "")
    return "% backprop: LaTeX fragment to \\input; the document needs " + packages + ".\n"


def preamble(lang: str, tikz: bool, plot: bool, korean: bool, title: str = "") -> str:
    """A preamble pdflatex compiles with Debian's texlive-latex-base/-recommended,
    texlive-pictures and (for Korean) texlive-lang-korean."""
    lines = [
        r"\documentclass[11pt]{article}",
        r"\usepackage[a4paper,margin=2.5cm]{geometry}",
        r"\usepackage{amsmath,amssymb}",
        r"\usepackage{graphicx}",
    ]
    if tikz or plot:
        lines.append(r"\usepackage{tikz}")
        lines.append(r"\usetikzlibrary{arrows.meta}")
    if plot:
        lines.append(r"\usepackage{pgfplots}")
        lines.append(r"\pgfplotsset{compat=1.16}")
    if korean:
        lines.append(r"\usepackage{kotex}")
    lines += [
        r"\setlength{\parindent}{0pt}",
        r"\setlength{\parskip}{0.6ex plus 0.3ex}",
        r"\emergencystretch=2em",
        r"\begin{document}",
        "",
    ]
    return "\n".join(lines)


ACT_FN = "f"  # the activation function, in prose formulas

ACT_SYMBOL = {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\operatorname{ReLU}",
              "leaky_relu": r"\operatorname{LeakyReLU}", "identity": r"\operatorname{id}",
              "softmax": r"\operatorname{softmax}"}


class DocWriter:
    """The syntax of a document and the layout of its equations.

    Subclasses tell a story (a network, a graph) with these primitives; the Markdown
    writers override the primitives only, so every format says the same things.
    Needs `self.look` (symbols, numbers, equation chains), `self.opt` and `self.L`."""

    HEADINGS = (r"\section*", r"\subsection*", r"\subsubsection*", r"\paragraph*")
    look: Look
    opt: Options
    L: dict

    # -- syntax primitives (MarkdownSyntax overrides these) -----------------------------------

    def heading(self, level: int, text: str) -> str:
        return self.HEADINGS[min(level + self.opt.heading_level - 1, 3)] + "{" + text + "}"

    def title_block(self, text: str) -> str:
        if not self.opt.title:
            return ""
        return "\\begin{center}\n{\\Large\\bfseries " + text + "}\n\\end{center}"

    def text(self, s: str) -> str:
        """User or label text, made safe for the output syntax."""
        return latex_text(s)

    def bold(self, s: str) -> str:
        return "\\textbf{" + s + "}"

    def paragraph(self, s: str) -> str:
        """A paragraph of sentences with inline math: TeX may stretch its spaces rather
        than push an unbreakable formula past the margin (Korean lines break less often)."""
        return "{\\sloppy " + s + "\\par}"

    def display(self, math: str) -> str:
        return "\\[\n" + math + "\n\\]"

    def table(self, head: list[str], rows: list[list[str]], align: str, caption: str = "",
              rules: bool = True) -> str:
        spec = align if rules else "@{}" + align + "@{}"
        lines = []
        if caption:
            lines.append(f"\\multicolumn{{{len(align)}}}{{l}}{{{self.bold(caption)}}} \\\\")
        if rules:
            lines.append("\\hline")
        if head:
            lines.append(" & ".join(head) + " \\\\")
            lines.append("\\hline")
        lines += [" & ".join(r) + " \\\\" for r in rows]
        if rules:
            lines.append("\\hline")
        return "\\begin{center}\n\\begin{tabular}{" + spec + "}\n" + "\n".join(lines) + "\n\\end{tabular}\n\\end{center}"

    def inline(self, math: str) -> str:
        return "$" + math + "$"

    # -- helpers built on them --------------------------------------------------------------------

    def prose(self, key: str, **math: str) -> str:
        """A sentence of labels.py, escaped, with its {fields} filled by math."""
        out = self.text(self.L[key])
        for field, value in math.items():
            for placeholder in ("\\{" + field + "\\}", "{" + field + "}"):
                out = out.replace(placeholder, value)
        return out

    def num(self, value) -> str:
        return format_number(value, self.opt.digits, "latex")

    def sym(self, name: str) -> str:
        return self.look.symbol(name)

    def aligned(self, lines: list[str]) -> str:
        return self.display("\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}")

    def equation(self, eq: Equation) -> str:
        parts = self.look.chain_marked(eq)
        condition = self.look.condition(eq, self.L["frozen_short"])
        return self.aligned(aligned_lines(self.sym(eq.name), parts, self.opt.width, condition))

    def one_line(self, eq: Equation) -> Optional[str]:
        """`name = … = value` on one line for a bare name or literal (∂z₃/∂W₅ = σ₁ = 0.6565,
        ∂σ₁/∂z₁ = 0 (z₁ ≤ 0)); None when the equation has arithmetic to show, which gets
        the worked example's aligned form (formula, numbers, result on their own lines)."""
        if not isinstance(eq.expr, (Ref, Num)):
            return None
        one = " = ".join(self.look.chain(eq))
        condition = self.look.condition(eq, self.L["frozen_short"])
        if condition:
            one += r" \;\; (" + condition + ")"
        return one

    def equations(self, eqs: list[Equation]) -> list[str]:
        """Displays for a run of equations; short trivial ones (∂z₃/∂W₅ = σ₁ = 0.6565)
        share a line, as a student would write them."""
        out: list[str] = []
        row: list[str] = []
        row_width = 0.0

        def flush() -> None:
            nonlocal row, row_width
            if row:
                out.append(self.display(r", \qquad ".join(row)))
            row, row_width = [], 0.0

        for eq in eqs:
            one = self.one_line(eq)
            if one is not None and tex_width(one) <= self.opt.width:
                w = tex_width(one)
                if row and row_width + 3 + w > self.opt.width:
                    flush()
                row.append(one)
                row_width += w + (3 if len(row) > 1 else 0)
                continue
            flush()
            out.append(self.equation(eq))
        flush()
        return out

    def side_by_side(self, items: list[str]) -> str:
        """Displays on one line when they fit, else one under another."""
        if tex_width(r" \qquad ".join(items)) <= self.opt.width:
            return self.display(r" \qquad ".join(items))
        return "\n\n".join(self.display(item) for item in items)


class LatexWriter(DocWriter):
    """Writes one network trace, one method per part of the document."""

    def __init__(self, trace: Trace, look: Look, options: Options) -> None:
        self.trace = trace
        self.spec = trace.spec
        self.look = look
        self.opt = options
        self.L = labels(options.lang)
        self.names = NetworkNames.of(trace.spec)
        self.values = equation_values(trace)
        self.multi = len(trace.losses) > 2
        self.plots = self.multi and options.standalone

    def figure(self) -> str:
        return network_tikz(self.spec, self.look, self.L) if self.opt.standalone else ""

    def plot(self, losses: list[float]) -> str:
        return loss_plot(losses, self.text(self.L["plot_x"]), self.look.symbol("loss")) if self.plots else ""

    def layer_name(self, layer: int) -> str:
        last = len(self.spec.layers)
        kind = self.L["output_layer"] if layer == last else self.L["hidden_layer"]
        act = self.L["activations"][self.spec.layers[layer - 1].activation.name]
        return self.text(f"{self.L['layer']} {layer} ({kind}, {act})")

    def mat(self, values) -> str:
        return bmatrix(values, self.num)

    def wmat(self, l: int, values) -> str:
        """Layer l's (1-based) weight matrix as the spec writes it (in × out under in_out)."""
        return bmatrix(as_written(values, self.spec.layers[l - 1].layout), self.num)

    # -- the body ------------------------------------------------------------------------------

    def body(self) -> str:
        parts: list[str] = []
        parts += self.title()
        parts += self.network()
        parts += self.given()
        records = chosen_steps(self.trace, self.opt.show_steps)
        previous = 0
        for record in records:
            level = 0
            if self.multi:
                parts.append(self.omitted(previous + 1, record.step - 1))
                previous = record.step
                parts.append(self.heading(0, self.text(f"{self.L['step']} {record.step}")))
                level = 1
            if self.trace.detail == "scalar" and record.equations:
                parts += self.scalar_step(record, level)
            else:
                parts += self.matrix_step(record, level)
            if record.step == 1 and getattr(self.trace, "symbolic", ()):
                parts += self.symbolic(level)
        if self.multi:
            parts.append(self.omitted(previous + 1, len(self.trace.steps)))
        parts += self.summary()
        parts += self.after()
        if self.multi:
            parts += self.losses()
        parts += self.observations()
        return "\n\n".join(p for p in parts if p)

    def omitted(self, a: int, b: int) -> str:
        """The note for steps a…b not written out ('' when there are none)."""
        if b < a:
            return ""
        return self.prose("omitted_steps", a=str(a), b=str(b)) if b > a else self.prose("omitted_step", a=str(a))

    def observations(self) -> list[str]:
        """The lessons the numbers show (lessons/observations.py), one paragraph each."""
        from .observation_text import observation_lines

        heading, sentences = observation_lines(self.trace, self.look, self.opt.lang, self.text, self.inline)
        if not sentences or not self.prose("p_summary"):  # math-only output has no prose
            return []
        return [self.heading(0, self.text(heading))] + [self.paragraph(s) for s in sentences]

    def title(self) -> list[str]:
        spec, L = self.spec, self.L
        out = [self.title_block(self.text(self.trace.name or L["title"]))]
        acts = ", ".join(L["activations"][layer.activation.name] for layer in spec.layers)
        rows = [
            [self.bold(self.text(L["architecture"])), self.text(f"{architecture(spec)} ({acts})")],
            [self.bold(self.text(L["loss_fn"])),
             self.text(f"{L['loss_names'][spec.loss]}, {L['reductions'][spec.reduction]}")],
            [self.bold(self.text(L["optimizer"])), self.optimizer_words()],
            [self.bold(self.text(L["steps"])), str(len(self.trace.losses) - 1)],
        ]
        out.append(self.table([], rows, "ll", rules=False))
        if self.trace.policy == "round":
            out.append(self.prose("p_rounded", d=str(self.trace.digits)))
        return out

    def optimizer_words(self) -> str:
        opt = self.spec.optimizer
        n = self.look.number
        parts = [self.inline(f"\\alpha = {n(opt.lr.value, 'lr')}")]
        if opt.name == "sgd":
            if opt.momentum.value:
                parts.append(self.inline(f"\\mu = {n(opt.momentum.value, 'momentum')}"))
            if opt.nesterov:
                parts.append("Nesterov")
        elif opt.name == "adam":
            parts.append(self.inline(f"\\beta_1 = {n(opt.beta1.value, 'beta1')}"))
            parts.append(self.inline(f"\\beta_2 = {n(opt.beta2.value, 'beta2')}"))
            parts.append(self.inline(f"\\epsilon = {n(opt.eps.value, 'eps')}"))
        elif opt.name == "rmsprop":
            parts.append(self.inline(f"\\rho = {n(opt.alpha.value, 'alpha')}"))
            parts.append(self.inline(f"\\epsilon = {n(opt.eps.value, 'eps')}"))
            if opt.momentum.value:
                parts.append(self.inline(f"\\mu = {n(opt.momentum.value, 'momentum')}"))
            if opt.centered:
                parts.append("centered")
        else:
            if opt.lr_decay.value:
                parts.append(self.inline(f"\\mathrm{{lr\\_decay}} = {n(opt.lr_decay.value, 'lr_decay')}"))
            if opt.initial_accumulator_value.value:
                parts.append(self.inline(f"G_0 = {n(opt.initial_accumulator_value.value, 'initial_accumulator_value')}"))
            parts.append(self.inline(f"\\epsilon = {n(opt.eps.value, 'eps')}"))
        if opt.weight_decay.value:
            parts.append(self.inline(f"\\lambda = {n(opt.weight_decay.value, 'weight_decay')}"))
        return OPTIMIZER_TITLES[opt.name] + " (" + ", ".join(parts) + ")"

    # -- network -------------------------------------------------------------------------------

    def network(self) -> list[str]:
        L = self.L
        out = [self.heading(0, self.text(L["network"])), self.figure()]
        widths = [self.spec.input.shape[1]] + [layer.units for layer in self.spec.layers]
        rows = []
        for l, layer in enumerate(self.spec.layers, 1):
            bias = {"vector": L["bias_vector"], "shared": L["shared_bias"], "none": L["no_bias"]}[layer.bias_kind]
            if layer.freeze:
                bias += f" ({L['frozen_short']}: {', '.join(L['weights' if w == 'weights' else 'bias_word'] for w in layer.freeze)})"
            rows.append([str(l), self.inline(f"{widths[l - 1]} \\to {widths[l]}"),
                         self.text(L["activations"][layer.activation.name]), self.text(bias)])
        head = [self.text(L["layer"]), self.text(L["units_col"]), self.text(L["activation"]), self.text(L["bias"])]
        out.append(self.table(head, rows, "clll"))
        return out

    # -- given ---------------------------------------------------------------------------------

    def _list(self, names_values) -> str:
        return ", ".join(self.inline(f"{self.sym(n)} = {self.look.number(v, n)}") for n, v in names_values)

    def given(self) -> list[str]:
        spec, L = self.spec, self.L
        out = [self.heading(0, self.text(L["given"])), self.prose("p_given")]
        if spec.samples == 1:
            xs = [(f"x{i + 1}", spec.input[0, i]) for i in range(spec.input.shape[1])]
            ts = [(f"t{k + 1}", spec.target[0, k]) for k in range(spec.outputs)]
            out.append(f"{self.bold(self.text(L['inputs']))}: {self._list(xs)}. "
                       f"{self.bold(self.text(L['targets']))}: {self._list(ts)}.")
        else:
            X = bmatrix([[self.look.number(spec.input[n, i], self.names.sample(f"x{i + 1}", n))
                          for i in range(spec.input.shape[1])] for n in range(spec.samples)], str)
            T = bmatrix([[self.look.number(spec.target[n, k], self.names.sample(f"t{k + 1}", n))
                          for k in range(spec.outputs)] for n in range(spec.samples)], str)
            out.append(f"{self.bold(self.text(L['inputs']))} ({spec.samples} {self.text(L['samples'])}), "
                       f"{self.bold(self.text(L['targets']))}:")
            out.append(self.side_by_side([f"X = {X}", f"T = {T}"]))
        first = self.trace.steps[0]
        if spec.parameter_count <= GIVEN_SCALARS:
            for l, rows in parameter_rows(self.trace, first, self.values):
                items = [(name, before) for name, _, before, _, _, _ in rows]
                out.append(f"{self.bold(self.text(L['layer'] + ' ' + str(l)))}: {self._list(items)}.")
        else:
            for layer in first.layers:
                l = layer.layer
                mats = [f"W^{{({l})}} = " + self.wmat(l, layer.weights_before)]
                if layer.bias_before is not None:
                    mats.append(f"\\mathbf{{b}}^{{({l})}} = " + self.mat(layer.bias_before))
                out.append(self.side_by_side(mats))
        hyper = [(k, n.value) for k, n in spec.optimizer.hyperparameters().items()]
        leaky = [layer for layer in spec.layers if layer.activation.name == "leaky_relu"]
        if leaky:
            hyper.append(("slope", leaky[0].activation.slope))
        out.append(f"{self.bold(self.text(L['hyperparameters']))}: {self._list(hyper)}.")
        return out

    # -- one step, scalar equations ---------------------------------------------------------------

    def by_layer(self, eqs: list[Equation]) -> list[tuple[Optional[int], list[Equation]]]:
        groups: list[tuple[Optional[int], list[Equation]]] = []
        for eq in eqs:
            layer = self.look.layer_of(eq)
            if groups and (groups[-1][0] == layer or layer is None):
                groups[-1][1].append(eq)
            else:
                groups.append((layer, [eq]))
        return groups

    def scalar_step(self, record, level: int) -> list[str]:
        L = self.L
        groups = sections(record.equations)
        deep = len(self.spec.layers) > 1
        out: list[str] = []
        if groups["forward"]:
            out.append(self.heading(level, self.text(L["forward"])))
            n = self.look.notation
            z, w, x, b = (n.latex_sym(Sym(n.letters[k], sub)) for k, sub in
                          (("z", "j"), ("W", "jk"), ("x", "k"), ("b", "j")))
            a, f = n.latex_sym(Sym(n.generic_activation_letter, "j")), ACT_FN
            out.append(self.prose("p_forward"))
            out.append(self.display(f"{z} = \\sum_k {w} {x} + {b}, \\qquad {a} = {f}({z})"))
            for layer, eqs in self.by_layer(groups["forward"]):
                if layer and deep:
                    out.append(self.heading(level + 1, self.layer_name(layer)))
                out += self.equations(eqs)
        if groups["loss"]:
            out.append(self.heading(level, self.text(L["loss"])))
            out.append(self.prose("p_loss"))
            out += self.equations(groups["loss"])
            textbook = softmax_story.textbook_loss(self.look, self.trace, record)
            if textbook:
                out.append(self.prose("p_textbook_loss"))
                out.append(self.aligned(aligned_lines(textbook[0], textbook[1:], self.opt.width)))
        if groups["backward"]:
            outs = [i for i, (_, _, is_out) in self.look.notation.neurons.items() if is_out]
            first_delta = f"delta{min(outs)}" if outs else ""
            out.append(self.heading(level, self.text(L["backward"])))
            out.append(self.prose("p_backward"))
            hidden_said = False
            for layer, eqs in self.by_layer(groups["backward"]):
                if layer and deep:
                    out.append(self.heading(level + 1, self.layer_name(layer)))
                if layer and layer < len(self.spec.layers) and not hidden_said:
                    out.append(self.prose("p_hidden"))
                    out.append(self.display(self.hidden_rule()))
                    hidden_said = True
                first = next((k for k, e in enumerate(eqs) if e.name.split("#")[0].split("@")[0] == first_delta), None)
                if first is not None and softmax_story.applies(self.trace):
                    out += self.equations(eqs[:first])
                    out.append(self.prose("p_softmax"))
                    rule = softmax_story.delta_rule(self.look)
                    out.append(self.aligned(aligned_lines(rule[0], rule[1:], self.opt.width)))
                    eqs = eqs[first:]
                out += self.equations(eqs)
        if groups["update"]:
            out.append(self.heading(level, self.text(L["update"])))
            out += self.update_words(record.step)
            out += self.equations(groups["update"])
        return out

    def symbolic(self, level: int) -> list[str]:
        """--symbolic: each step-1 gradient as one simplified formula, then with numbers."""
        out = [self.heading(level, self.text(self.L["symbolic"])), self.prose("p_symbolic")]
        eqs = [Equation(g.name, g.expr, tuple(g.operands), g.value, "symbolic") for g in self.trace.symbolic]
        return out + self.equations(eqs)

    def hidden_rule(self) -> str:
        """∂L/∂aⱼ = Σₖ ∂L/∂aₖ ∂aₖ/∂zₖ ∂zₖ/∂aⱼ = Σₖ δₖ Wₖⱼ, in the document's own letters."""
        n = self.look.notation
        Lsym = n.loss_symbol("latex")

        def s(letter, sub):
            return n.latex_sym(Sym(letter, sub))

        def d(top, bottom):
            return r"\frac{\partial " + top + r"}{\partial " + bottom + "}"

        a, z = n.generic_activation_letter, n.letters["z"]
        return (d(Lsym, s(a, "j")) + r" = \sum_k " + d(Lsym, s(a, "k")) + " " + d(s(a, "k"), s(z, "k"))
                + " " + d(s(z, "k"), s(a, "j")) + r" = \sum_k " + s(n.letters["delta"], "k") + " "
                + s(n.letters["W"], "kj"))

    def update_words(self, step: int) -> list[str]:
        """The update rule: a sentence, the rule displayed, what the time indices mean."""
        opt = self.spec.optimizer
        mazur = self.look.notation.preset == "mazur"
        old = self.look.sym(Sym("θ", "", time=f"({step})" if not mazur else ""))
        new = self.look.sym(Sym("θ", "", time="+" if mazur else f"({step + 1})"))
        grad = r"\frac{\partial " + self.look.notation.loss_symbol("latex") + r"}{\partial \theta}"
        if opt.weight_decay.value:
            grad = r"\left(" + grad + r" + \lambda\theta\right)" if opt.name == "sgd" and not opt.momentum.value \
                else grad + r" + \lambda\theta"
        if opt.name == "adam":
            pieces = ["g = " + grad, f"{new} = {old} - \\alpha \\frac{{\\hat m}}{{\\sqrt{{\\hat v}} + \\epsilon}}",
                      r"\hat m = \frac{m}{1 - \beta_1^t}", r"\hat v = \frac{v}{1 - \beta_2^t}"]
        elif opt.name == "rmsprop":
            avg = r"\sqrt{s - \bar g^2} + \epsilon" if opt.centered else r"\sqrt{s} + \epsilon"
            pieces = ["g = " + grad, r"s = \rho\, s + (1 - \rho)\, g^2"]
            if opt.centered:
                pieces.append(r"\bar g = \rho\, \bar g + (1 - \rho)\, g")
            if opt.momentum.value:
                pieces += [r"\mathrm{buf} = \mu\, \mathrm{buf} + \frac{g}{" + avg + "}",
                           f"{new} = {old} - \\alpha\\, \\mathrm{{buf}}"]
            else:
                pieces.append(f"{new} = {old} - \\alpha \\frac{{g}}{{{avg}}}")
        elif opt.name == "adagrad":
            lr = r"\frac{\alpha}{1 + (t - 1)\, \mathrm{lr\_decay}}" if opt.lr_decay.value else r"\alpha"
            pieces = ["g = " + grad, r"G = G + g^2 \;(G_0 = " + opt.initial_accumulator_value.text + ")",
                      f"{new} = {old} - {lr} \\frac{{g}}{{\\sqrt{{G}} + \\epsilon}}"]
        elif opt.momentum.value:
            step_term = r"\left(g + \mu\, \mathrm{buf}\right)" if opt.nesterov else r"\mathrm{buf}"
            pieces = ["g = " + grad, r"\mathrm{buf} = \mu\, \mathrm{buf} + g", f"{new} = {old} - \\alpha\\, {step_term}"]
        else:
            pieces = [f"{new} = {old} - \\alpha {grad}"]
        rule = r", \qquad ".join(pieces)
        if tex_width(rule) > self.opt.width:
            rule = "\\begin{gathered}\n" + " \\\\\n".join(pieces) + "\n\\end{gathered}"
        out = [self.prose("p_update"), self.display(rule)]
        if self.spec.layers[0].weights.size:
            out.append(self.prose("p_update_t", old=self.inline(self.sym(at("W1", step))),
                                  new=self.inline(self.sym(at("W1_new", step)))))
        return out

    # -- one step, matrix form ------------------------------------------------------------------------

    def matrix_display(self, lhs: str, rhs: list[str]) -> str:
        return self.aligned([f"{lhs} &= {rhs[0]}"] + [f"&= {r}" for r in rhs[1:]])

    def matrix_step(self, record, level: int) -> list[str]:
        L = self.L
        if record.equations:  # layer-level equations (matrix_detail.py), not bare matrices
            return self.matrix_equations(record, level)
        out = [self.prose("p_matrix"), self.heading(level, self.text(L["forward"]))]
        in_out = all(layer.layout == "in_out" for layer in self.spec.layers)  # h = xW, as the book writes it
        out.append(self.display((r"Z^{(l)} = A^{(l-1)} W^{(l)} + \mathbf{b}^{(l)}, \qquad " if in_out else
                                 r"Z^{(l)} = A^{(l-1)} W^{(l)\top} + \mathbf{b}^{(l)}, \qquad ") +
                                r"A^{(l)} = f\bigl(Z^{(l)}\bigr), \qquad A^{(0)} = X"))
        for layer in record.layers:
            l = layer.layer
            out.append(self.matrix_display(f"Z^{{({l})}}", [self.mat(layer.z)]))
            out.append(self.matrix_display(f"A^{{({l})}}", [f"{ACT_SYMBOL[layer.activation]}\\bigl(Z^{{({l})}}\\bigr)",
                                                            self.mat(layer.a)]))
        out.append(self.heading(level, self.text(L["loss"])))
        out.append(self.display(f"{self.sym('loss')} = {loss_formula(self.spec)} = {self.num(record.loss)}"))
        out.append(self.heading(level, self.text(L["backward"])))
        if in_out:
            out.append(self.display(r"\delta^{(l)} = \frac{\partial \mathcal{L}}{\partial Z^{(l)}} = "
                                    r"\bigl(\delta^{(l+1)} W^{(l+1)\top}\bigr) \odot f'\bigl(Z^{(l)}\bigr), \qquad "
                                    r"\frac{\partial \mathcal{L}}{\partial W^{(l)}} = A^{(l-1)\top} \delta^{(l)}"))
        else:
            out.append(self.display(r"\delta^{(l)} = \frac{\partial \mathcal{L}}{\partial Z^{(l)}} = "
                                    r"\bigl(\delta^{(l+1)} W^{(l+1)}\bigr) \odot f'\bigl(Z^{(l)}\bigr), \qquad "
                                    r"\frac{\partial \mathcal{L}}{\partial W^{(l)}} = \delta^{(l)\top} A^{(l-1)}"))
        for layer in reversed(record.layers):
            l = layer.layer
            out.append(self.matrix_display(f"\\delta^{{({l})}}", [self.mat(layer.delta)]))
            out.append(self.matrix_display(f"\\frac{{\\partial \\mathcal{{L}}}}{{\\partial W^{{({l})}}}}",
                                           [self.wmat(l, layer.grad_weights)]))
            if layer.grad_bias is not None:
                out.append(self.matrix_display(
                    f"\\frac{{\\partial \\mathcal{{L}}}}{{\\partial \\mathbf{{b}}^{{({l})}}}}",
                    [r"\textstyle\sum_n \delta^{(" + str(l) + r")}_n", self.mat(layer.grad_bias)]))
        out.append(self.heading(level, self.text(L["update"])))
        out += self.update_words(record.step)
        s = record.step
        for layer in record.layers:
            l = layer.layer
            out.append(self.matrix_display(f"W^{{({l})}}({s + 1})", [self.wmat(l, layer.weights)]))
            if layer.bias is not None:
                out.append(self.matrix_display(f"\\mathbf{{b}}^{{({l})}}({s + 1})",
                                               [self.mat(layer.bias)]))
        return out

    def matrix_equations(self, record, level: int) -> list[str]:
        """Each layer-level equation in matrix form, its numbers (small operands) and result."""
        from .tensor_format import equation_rows_latex, network_latex_name

        titles = {"forward": "forward", "loss": "loss", "backward": "backward", "update": "update"}
        out, section = [self.prose("p_matrix")], None
        for eq in record.equations:
            if eq.section != section:
                section = eq.section
                out.append(self.heading(level, self.text(self.L[titles.get(section, "forward")])))
                if section == "update":
                    out += self.update_words(record.step)
            out.append(self.aligned(equation_rows_latex(eq, network_latex_name, self.look.digits)))
        return out

    # -- summary, after, losses ------------------------------------------------------------------

    def summary(self) -> list[str]:
        L = self.L
        first, last = self.trace.steps[0], self.trace.steps[-1]
        steps = len(self.trace.losses) - 1
        out = [self.heading(0, self.text(L["summary"])), self.prose("p_summary")]
        rows_first = parameter_rows(self.trace, first, self.values)
        rows_last = parameter_rows(self.trace, last, self.values)
        for (l, rows), (_, rows_end) in zip(rows_first, rows_last):
            if len(rows) <= SUMMARY_ROWS:
                out.append(self.summary_table(l, rows, rows_end, steps))
                continue
            layer0, layer_n = first.layers[l - 1], last.layers[l - 1]
            out.append(self.heading(1, self.text(f"{L['layer']} {l}")))
            out.append(self.side_by_side([f"W^{{({l})}}(1) = " + self.wmat(l, layer0.weights_before),
                                          f"W^{{({l})}}({steps + 1}) = " + self.wmat(l, layer_n.weights)]))
            if layer0.bias_before is not None:
                out.append(self.side_by_side([
                    f"\\mathbf{{b}}^{{({l})}}(1) = " + self.mat(layer0.bias_before),
                    f"\\mathbf{{b}}^{{({l})}}({steps + 1}) = " + self.mat(layer_n.bias)]))
        return out

    def summary_table(self, l: int, rows, rows_end, steps: int) -> str:
        L = self.L
        single = steps == 1
        if single:
            head = [L["parameter"], L["before"], L["gradient"], L["after_col"]]
        else:
            head = [L["parameter"], L["initial"], L["final"].format(n=steps)]
        body = []
        for (name, _, before, grad, _, is_frozen), (_, _, _, _, after, _) in zip(rows, rows_end):
            cells = [self.inline(self.sym(name)), self.inline(self.look.number(before, name))]
            if single:
                cells.append(self.inline(self.num(grad)))
            cells.append(self.inline(self.num(after)) + (f" ({self.text(L['frozen_short'])})" if is_frozen else ""))
            body.append(cells)
        return self.table([self.text(h) for h in head], body, "l" + "r" * (len(head) - 1),
                          caption=self.text(f"{L['layer']} {l}"))

    def after(self) -> list[str]:
        L = self.L
        n = len(self.trace.losses) - 1
        out = [self.heading(0, self.text(L["after"] if n == 1 else L["after_steps"].format(n=n)))]
        eqs = list(self.trace.after_equations)
        if eqs:
            out.append(self.prose("p_after"))
            out += self.equations([e for e in eqs if e.name != "loss_after"])
            out += self.equations([e for e in eqs if e.name == "loss_after"])
        else:
            out.append(self.display(f"{self.sym('loss_after')} = {self.num(self.trace.loss_after)}"))
        out.append(self.display(f"{self.sym('loss')}: {self.num(self.trace.losses[0])} \\;\\to\\; "
                                f"{self.num(self.trace.loss_after)}"))
        return out

    def losses(self) -> list[str]:
        L = self.L
        losses = list(self.trace.losses)
        out = [self.heading(0, self.text(L["losses"])), self.prose("p_losses")]
        rows = []
        shown = thin(losses, 21)
        if len(shown) < len(losses):
            out[-1] += " (" + self.text(L["showing"].format(shown=len(shown), total=len(losses))) + ")"
        for i in shown:
            label = str(i + 1) if i < len(losses) - 1 else self.text(L["after_last"].format(n=i))
            rows.append([label, self.inline(self.num(losses[i]))])
        out.append(self.table([self.text(L["step"]), self.text(L["loss"])], rows, "rr"))
        out.append(self.plot(losses))
        return out


def loss_formula(spec) -> str:
    """The loss of a batch in matrix-form documents: ŷ = A of the last layer, t the targets."""
    N, K = spec.samples, spec.outputs
    mean = spec.reduction == "mean"
    err = r"\left(\hat y_{nk} - t_{nk}\right)^2"
    if spec.loss == "mse":
        scale, body = (N * K if mean else 1), r"\sum_{n,k} " + err
    elif spec.loss == "sse":
        scale, body = (N if mean else 1), r"\sum_{n,k} " + err
    elif spec.loss == "half_sse":
        scale, body = (N if mean else 1), r"\sum_{n} \tfrac{1}{2} \sum_{k} " + err
    elif spec.loss == "bce":
        scale = N * K if mean else 1
        body = r"\sum_{n,k} \left[t_{nk} \log \hat y_{nk} + (1 - t_{nk}) \log(1 - \hat y_{nk})\right]"
    else:
        scale, body = (N if mean else 1), r"\sum_{n} \sum_{k} t_{nk} \log \hat y_{nk}"
    sign = "-" if spec.loss in ("bce", "cross_entropy") else ""
    return sign + (f"\\frac{{1}}{{{scale}}} " if scale != 1 else "") + body


def loss_plot(losses: list[float], xlabel: str, ylabel: str) -> str:
    """pgfplots: the loss before each step s (at s) and after the last (at N + 1)."""
    points = " ".join(f"({i + 1},{float(losses[i]):.6g})" for i in thin(losses, 200))
    ticks = f"xtick={{{','.join(str(i + 1) for i in range(len(losses)))}}}, " if len(losses) <= 12 else ""
    return ("\\begin{center}\n\\begin{tikzpicture}\n\\begin{axis}[width=0.8\\textwidth, height=5.5cm, "
            f"xlabel={{{xlabel}}}, ylabel={{${ylabel}$}}, grid=major, tick label style={{font=\\small}}, {ticks}"
            "scaled y ticks=false, yticklabel style={/pgf/number format/fixed}]\n"
            f"\\addplot[thick, mark=*, mark size=1.2pt] coordinates {{{points}}};\n"
            "\\end{axis}\n\\end{tikzpicture}\n\\end{center}")


# -- the network picture -------------------------------------------------------------------------------

LABEL_EM = 0.29  # cm per em (tex_width) of a \tiny label: measured 0.275–0.28 in an 11pt article
LABEL_H = 0.30  # cm: a \tiny label with a subscript, and its inner sep
NEURON_R, INPUT_R = 0.45, 0.40  # cm: the node circles (minimum size 9mm, 8mm)
WEIGHT_TABLE_WIDTH = 6  # the weight table beside a picture: at most this many columns per matrix


def network_tikz(spec, look: Look, L: dict) -> str:
    """TikZ: inputs, neurons, every weight labelled on its edge, each bias as a short
    arrow into its neuron, the loss node with the targets. Big networks get a block
    diagram.

    Labels are placed by diagram_layout.place: each on its own edge, clear of every
    other label, node, edge and edge crossing. Tried in turn: `name = value` labels,
    then names only, each at a wider column spacing if needed; when even that finds
    no free spot for every label, the edges go unlabelled and the weight matrices,
    written with the same names and values, stand in a table under the picture
    (row j of W⁽ˡ⁾ holds the weights into neuron j, column i those from input i)."""
    widths = [spec.input.shape[1]] + [layer.units for layer in spec.layers]
    if max(widths) > 8 or sum(a * b for a, b in zip(widths, widths[1:])) > 64:
        return _block_tikz(spec, L)
    names = NetworkNames.of(spec)
    for with_values in (True, False):
        for spread in (1.0, 1.35, 1.7):
            picture = _network_picture(spec, look, L, names, widths, with_values, spread)
            if picture is not None:
                return _picture_block(picture)
    bare = _network_picture(spec, look, L, names, widths, False, 1.0, labelled=False)
    assert bare is not None  # with no edge labels to place, the picture always exists
    return _picture_block(bare, _weight_table(spec, look, names))


def _picture_block(picture: list[str], below: str = "") -> str:
    """The picture centred and shrunk to the line if wider; a weight table under it."""
    out = ["\\begin{center}", FIT_OPEN] + picture + [FIT_CLOSE]
    if below:
        out += ["", "\\medskip", FIT_OPEN, below, FIT_CLOSE]
    return "\n".join(out + ["\\end{center}"])


def _weight_table(spec, look: Look, names: NetworkNames) -> str:
    """The weights of each layer as a matrix of `name = value`, rows = neurons (out),
    columns = inputs (in): where the picture has no room for them on its edges."""
    rows = []
    for l, layer in enumerate(spec.layers):
        cells: list[str] = []
        for j in range(layer.units):
            row = []
            for i in range(layer.fan_in):
                w = names.weight(l, j, i)
                row.append(f"{look.symbol(w)} = {look.number(layer.weights[j, i], w)}")
            cells.append(" & ".join(row))
        rows.append(f"$W^{{({l + 1})}} = \\begin{{bmatrix}} " + " \\\\ ".join(cells) + " \\end{bmatrix}$")
    return "\\begin{tabular}{@{}c@{}}\n" + " \\\\[1.5ex]\n".join(rows) + "\n\\end{tabular}"


def _network_picture(spec, look: Look, L: dict, names: NetworkNames, widths: list[int], with_values: bool,
                     spread: float, labelled: bool = True) -> Optional[list[str]]:
    """The tikzpicture's lines, or None when its labels find no free spot."""
    from .diagram_layout import Box, Segment, clear, place

    n_layers = len(spec.layers)
    dx = (min(4.4, 11.5 / n_layers) if with_values else min(3.8, 11.5 / n_layers)) * spread
    dy = 2.0 if with_values else 1.6
    top = (max(widths) - 1) * dy / 2

    def y(l, j):
        return (widths[l] - 1) * dy / 2 - j * dy

    lines = [
        "\\begin{tikzpicture}[>={Stealth[length=2mm]},",
        "  neuron/.style={circle, draw, thick, minimum size=9mm, inner sep=0pt, font=\\small},",
        "  input/.style={circle, draw, fill=black!6, minimum size=8mm, inner sep=0pt, font=\\small},",
        "  wlabel/.style={font=\\tiny, fill=white, inner sep=0pt},",
        "  loss/.style={rectangle, draw, thick, rounded corners=2pt, minimum size=8mm, font=\\small}]",
    ]
    centre: dict[str, tuple[float, float]] = {}
    circles = []
    for i in range(widths[0]):
        centre[f"n0-{i}"] = (0.0, y(0, i))
        circles.append(((0.0, y(0, i)), INPUT_R))
        lines.append(f"\\node[input] (n0-{i}) at (0,{y(0, i):.3f}) {{${look.symbol(f'x{i + 1}')}$}};")
    for l, layer in enumerate(spec.layers, 1):
        for j in range(layer.units):
            centre[f"n{l}-{j}"] = (l * dx, y(l, j))
            circles.append(((l * dx, y(l, j)), NEURON_R))
            lines.append(f"\\node[neuron] (n{l}-{j}) at ({l * dx:.3f},{y(l, j):.3f}) "
                         f"{{${_neuron_label(look, names.neuron(l - 1, j))}$}};")

    def size(label: str) -> tuple[float, float]:
        return round(tex_width(label) * LABEL_EM + 0.08, 3), LABEL_H

    # weights: one labelled segment per edge; biases: a dashed arrow from above with
    # its label at a fixed spot (a shared bias shows the same name on every neuron)
    edges, segments, labels_ = [], [], []
    fixed: list[Box] = []
    bias_lines = []
    rise = 0.5 if with_values else 0.3
    for l, layer in enumerate(spec.layers, 1):
        for j in range(layer.units):
            for i in range(layer.fan_in):
                w = names.weight(l - 1, j, i)
                label = look.symbol(w) + (" = " + look.number(layer.weights[j, i], w) if with_values else "")
                edges.append(f"\\draw[->] (n{l - 1}-{i}) -- (n{l}-{j});")
                segments.append((Segment(centre[f"n{l - 1}-{i}"], centre[f"n{l}-{j}"], *size(label)), label))
            b = names.bias(l - 1, j)
            if b is None:
                continue
            label = look.symbol(b)
            if with_values:
                value = layer.bias if layer.bias_kind == "shared" else layer.bias[j]
                label += " = " + look.number(value, b)
            w_, h_ = size(label)
            x0, y0 = centre[f"n{l}-{j}"]
            box = Box(x0, y0 + NEURON_R + rise + h_ / 2, w_, h_)
            fixed.append(box)
            bias_lines.append(f"\\draw[<-, dashed] (n{l}-{j}.north) -- ++(0,{rise});")
            bias_lines.append(f"\\node[wlabel, minimum width={w_:.3f}cm, minimum height={h_:.3f}cm] "
                              f"at ({box.x:.3f},{box.y:.3f}) {{${label}$}};")
    xl = n_layers * dx + 1.9  # the loss node
    lines_ = [(centre[f"n{n_layers}-{k}"], (xl, 0.0)) for k in range(spec.outputs)]
    lines_ += [((box.x, box.y - box.h / 2 - rise), (box.x, box.y - box.h / 2)) for box in fixed]  # bias arrows
    if any(a.overlaps(b) for k, a in enumerate(fixed) for b in fixed[k + 1:]):
        return None
    if any(not clear(box, [s for s, _ in segments], circles, lines_[:spec.outputs]) for box in fixed):
        return None
    if labelled:
        boxes = place([s for s, _ in segments], circles, fixed, lines_)
        if boxes is None:
            return None
        for box, (_, label) in zip(boxes, segments):
            labels_.append(f"\\node[wlabel, minimum width={box.w:.3f}cm, minimum height={box.h:.3f}cm] "
                           f"at ({box.x:.3f},{box.y:.3f}) {{${label}$}};")
    lines += edges + bias_lines + labels_
    # the loss node, with the targets under it
    lines.append(f"\\node[loss] (loss) at ({xl:.3f},0) {{${look.symbol('loss')}$}};")
    if spec.samples == 1 and spec.outputs <= 3:
        targets = "\\\\".join(f"${look.symbol(f't{k + 1}')} = {look.number(spec.target[0, k], f't{k + 1}')}$"
                                for k in range(spec.outputs))
        lines.append(f"\\node[font=\\scriptsize, anchor=north, align=center] at ({xl:.3f},-0.55) {{{targets}}};")
    for k in range(spec.outputs):
        lines.append(f"\\draw[->] (n{n_layers}-{k}) -- (loss);")
    bottom = -top - 0.95
    lines.append(f"\\node[font=\\scriptsize, align=center] at (0,{bottom:.3f}) {{{latex_text(L['input_layer'])}}};")
    for l, layer in enumerate(spec.layers, 1):
        kind = L["output_layer"] if l == n_layers else L["hidden_layer"]
        act = L["activations"][layer.activation.name]
        lines.append(f"\\node[font=\\scriptsize, align=center] at ({l * dx:.3f},{bottom:.3f}) "
                     f"{{{latex_text(kind)}\\\\{latex_text(act)}}};")
    lines.append("\\end{tikzpicture}")
    return lines


def _neuron_label(look: Look, neuron: int) -> str:
    """The symbol inside a neuron's circle: its activation (σ₁), or Mazur's h1/o1."""
    n = look.notation
    if n.preset == "mazur":
        layer, pos, is_out = n.neurons[neuron]
        return f"o_{{{pos}}}" if is_out else f"h_{{{neuron}}}"
    return look.symbol(f"a{neuron}")


def _block_tikz(spec, L: dict) -> str:
    """Big networks: one box per layer, arrows labelled with the weight matrices' shapes."""
    widths = [spec.input.shape[1]] + [layer.units for layer in spec.layers]
    n = len(widths)
    dx = min(3.2, 13.0 / max(n - 1, 1))
    lines = ["\\begin{center}", FIT_OPEN, "\\begin{tikzpicture}[>={Stealth[length=2mm]},",
             "  box/.style={rectangle, draw, thick, rounded corners=2pt, minimum width=1.6cm, minimum height=1.1cm,"
             " align=center, font=\\scriptsize}]"]
    lines.append(f"\\node[box, fill=black!6] (c0) at (0,0) {{$x$\\\\${widths[0]}$}};")
    for l, layer in enumerate(spec.layers, 1):
        act = latex_text(L["activations"][layer.activation.name])
        lines.append(f"\\node[box] (c{l}) at ({l * dx:.3f},0) {{{act}\\\\${widths[l]}$ {latex_text(L['units'])}}};")
        lines.append(f"\\draw[->] (c{l - 1}) -- node[above, font=\\tiny] {{$W^{{({l})}}$}} "
                     f"node[below, font=\\tiny] {{${widths[l]}\\times{widths[l - 1]}$}} (c{l});")
    lines += ["\\end{tikzpicture}", FIT_CLOSE, "\\end{center}"]
    return "\n".join(lines)


# -- math only (Jupyter's text/latex: MathJax typesets math, not LaTeX documents) ----------------

class MathOnlySyntax:
    """Primitives for a notebook's text/latex output: display math and plain text only
    (MathJax does not run \\section or tabular)."""

    def heading(self, level: int, text: str) -> str:
        return "$$\\textbf{" + text + "}$$"

    def title_block(self, text: str) -> str:
        return "$$\\textbf{" + text + "}$$"

    def bold(self, s: str) -> str:
        return s

    def paragraph(self, s: str) -> str:
        return s

    def display(self, math: str) -> str:
        return "$$" + math + "$$"

    def table(self, head, rows, align, caption="", rules=True) -> str:
        return ""

    def prose(self, key: str, **math: str) -> str:
        return ""

    def figure(self) -> str:
        return ""

    def plot(self, losses) -> str:
        return ""


def render_latex_math(trace, digits: int = 4, lang: str = "en") -> str:
    """The derivation as display math only, for Jupyter's `_repr_latex_`."""
    options = Options(digits, lang, standalone=False)

    class NetworkMath(MathOnlySyntax, LatexWriter):
        pass

    return NetworkMath(trace, Look.of(trace, "latex", digits), options).body()
