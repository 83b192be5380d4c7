"""Typed-layer derivations (conv, pooling, norm, rnn, lstm …) as math in Markdown and LaTeX.

The notes' numbers come from the solver (network/derive.py): the renderer may only set
them, so every number of every note must reappear, in order, in the page's math — the
oracle is the trace's own Note lines, never the renderer's output. KaTeX parsing of
every span and pdflatex compiling every example are in test_render_markdown.py and
test_render_latex.py (they cover the typed-layer examples too).
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from backprop_cli.render import render
from backprop_cli.render.note_math import Para, Rows, note_items, segments
from tests.test_render_golden import examples, trace_of

LAYERED = [e for e in examples() if getattr(trace_of(e), "kind", "") == "layered"]
NUMBER = re.compile(r"−?\d+\.\d+")


HEADING = re.compile(r"\n\*\*|\\textbf\{|\n#|\\subsection")


def _set_in(needles: list[str], page: str, at: int, where: str) -> int:
    """Every number of one note, as many times as the note has it, in the stretch of the
    page from its first number to the next heading (a wide matrix is set in blocks of
    columns, so within a note the order may differ). Returns where the stretch ends."""
    start = page.find(needles[0], at)
    assert start >= 0, f"{where}: {needles[0]} not found after position {at}"
    end = HEADING.search(page, start)
    stretch = page[start:end.start() if end else len(page)]
    for n in set(needles):
        assert stretch.count(n) >= needles.count(n), f"{where}: {n} shown {stretch.count(n)} times, not {needles.count(n)}"
    return start + len(stretch)


@pytest.mark.parametrize("example", LAYERED, ids=lambda e: e.stem)
@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_every_number_of_every_note_is_set_as_math(example, fmt):
    trace = trace_of(example)
    page = render(trace, fmt)
    assert "```" not in page and r"\hspace*{1em}" not in page  # no code blocks, no typewriter rows
    assert r"\begin{bmatrix}" in page
    shown = trace.steps if len(trace.steps) <= 3 else (trace.steps[0], trace.steps[-1])
    checked, at = 0, 0
    for record in shown:
        for st in reversed(record.layers):
            for note in st.notes:
                numbers = [n.replace("−", "-") for line in note.lines for n in NUMBER.findall(line)]
                if numbers:
                    at = _set_in(numbers, page, at, f"{example.stem} layer {st.layer} {note.title}")
                checked += len(numbers)
    assert checked or example.stem in ("cnn_avgpool",)


def test_notebook_latex_of_a_typed_trace_is_its_math():
    trace = trace_of(next(e for e in LAYERED if e.stem == "cnn_maxpool"))
    latex = trace._repr_latex_()
    assert latex.startswith("$$") and latex.count("$$") % 2 == 0
    assert r"\begin{aligned}" in latex and r"\begin{bmatrix}" in latex
    assert "worked element" in latex and r"\mathrel{+}=" in latex  # the conv sum and the max-pool routing


def test_the_worked_elements_read_as_a_student_writes_them():
    conv = trace_of(next(e for e in LAYERED if e.stem == "cnn_maxpool"))
    md = render(conv, "markdown")
    # a negative factor after an operator is parenthesised; the sum is cut into rows at its +
    assert r"\left(-0.1218\right)\cdot 2.0000" in md or r"\left(-0.1218\right)\cdot2.0000" in md
    assert re.search(r"\n&\\quad \+ ", md)
    bn = render(trace_of(next(e for e in LAYERED if e.stem == "batchnorm_mlp")), "markdown")
    assert r"\sqrt{\sigma^{2}+\varepsilon}" in bn and r"d\hat{x}" in bn
    rnn = render(trace_of(next(e for e in LAYERED if e.stem == "rnn_bptt")), "markdown")
    assert r"\sum\nolimits_{t}" in rnn and r"\text{contribution of } t = 3" in rnn


def test_korean_pages_keep_their_headings_and_math():
    trace = trace_of(next(e for e in LAYERED if e.stem == "lstm_sequence"))
    md = render(trace, "markdown", lang="ko")
    assert "### 역전파" in md and "시간 역전파(BPTT)" in md and "$$\n\\begin{aligned}" in md
    tex = render(trace, "latex", lang="ko", standalone=True)
    assert r"\usepackage{kotex}" in tex and r"\begin{bmatrix}" in tex


# -- the converter, on lines written like derive.py's ---------------------------------------

def _math(line: str) -> str:
    return " ".join(s for kind, s in segments(line) if kind == "math")


def test_converter_sets_symbols_and_keeps_words_as_prose():
    segs = segments("each output takes the largest value of its 2×2 window; the gradient flows only there")
    assert segs[0] == ("text", "each output takes the largest value of its ") and ("math", r"2\times2") in segs
    assert _math("x̂ = (x − μ) / √(σ² + ε)") == r"\hat{x} = (x - \mu) / \sqrt{\sigma^{2}+\varepsilon}"
    assert _math("Σ_n,i,j δ[n,o,i,j]") == r"\sum\nolimits_{n,i,j} \, \delta[n,o,i,j]"
    assert _math("∂L/∂L1.W_hh = Σ_t δ_tᵀ h_(t−1)") == \
        r"\partial L/\partial \mathrm{L1}.W_{\mathrm{hh}} = \sum\nolimits_{t} \, \delta_{t}^{\top} \, h_{t-1}"
    assert _math("(4·−0.0000 − 0.0318 − −0.4308·0.0185) = −0.0171") == \
        r"(4\cdot\left(-0.0000\right) - 0.0318 - \left(-0.4308\right)\cdot0.0185) = -0.0171"
    assert _math("y = x ⊙ mask / 0.5") == r"y = x \odot \mathrm{mask} / 0.5"  # a lone word between operators
    assert _math("ε = 1e-05") == r"\varepsilon = 1 \times 10^{-5}"


def test_converter_turns_matrix_lines_into_bmatrix_and_breaks_long_rows():
    items = note_items(["∂L/∂L1.W_hh =", "  [−0.4356, 0.3241]", "  [0.1840, −0.2062]",
                        "worked element: ∂L/∂w[1,1] = " + " + ".join(f"0.{k}000·1.0000" for k in range(1, 10)) + " = 4.5000",
                        "… 3 more lines (all values: --format json)"])
    assert isinstance(items[0], Rows) and isinstance(items[1], Para)
    rows = items[0].rows
    assert rows[0].endswith(r"= \begin{bmatrix}-0.4356 & 0.3241 \\ 0.1840 & -0.2062\end{bmatrix}")
    assert len(rows) > 2 and all(r.startswith(r"\quad") for r in rows[2:])
    assert rows[-1].endswith("= 4.5000")
    assert items[1].segments == (("text", "… 3 more lines (all values: --format json)"),)


def test_wide_arrays_are_shown_in_blocks_of_columns():
    from backprop_cli.render.layered import array_rows

    text = "\n".join(array_rows(r"\mathrm{L3}.\mathrm{out}", np.arange(20) / 8, 4))
    assert text.count(r"\begin{bmatrix}") >= 3 and r"\text{(entries 1--" in text
    assert re.search(r"\\text\{\(entries \d+--20\)\}", text)
    assert all(f"{v:.4f}" in text for v in np.arange(20) / 8)
    tall = array_rows("W", np.ones((15, 2)), 4)
    assert r"\vdots" in tall[-1] and "3 more rows" in tall[-1]
