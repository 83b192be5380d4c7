"""The LaTeX renderer: documents that compile, lines that fit, text that is escaped.

The compile tests run pdflatex (skipped when it is absent; CI installs
texlive-latex-base, texlive-latex-recommended, texlive-pictures, texlive-lang-korean).
They compile every shipped example's standalone document in English and Korean, all
the fragments inside minimal host documents (amsmath + amssymb only; kotex for Korean),
and two stress specs (a 4-4-4-3 network, a batch of 8), and fail on any error or any
"Overfull \\hbox" in the log. Compiles run in parallel.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backprop_cli.render import render
from backprop_cli.render.formula import latex_text, resolve, tex_width
from backprop_cli.render.latex import aligned_lines, bmatrix, break_marked
from tests.test_render_golden import examples, trace_of

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")

STRESS_SPECS = {
    "net4443": """
name: "4-4-4-3: sigmoid, tanh, softmax"
input: [0.5, -1.2, 0.3, 0.8]
target: 2
layers:
  - weights: [[0.2739, -0.4604, -0.9181, -0.9669], [0.6265, 0.8255, 0.2133, 0.459],
              [0.0872, 0.8701, 0.6317, -0.9945], [0.7148, -0.9328, 0.4593, -0.6487]]
    bias: [0.3632, 0.0415, -0.2003, -0.0773]
    activation: sigmoid
  - weights: [[-0.9434, -0.7514, 0.3412, 0.2944], [0.2308, -0.2326, 0.9944, 0.9617],
              [0.3711, 0.3009, 0.3769, -0.2222], [-0.7298, 0.443, 0.0507, -0.3795]]
    bias: [-0.0142, 0.3895, 0.434, -0.1422]
    activation: tanh
  - weights: [[0.1, -0.2, 0.3, -0.4], [0.5, 0.6, -0.7, 0.8], [-0.9, 0.15, 0.25, -0.35]]
    bias: [0.05, -0.05, 0.1]
    activation: softmax
loss: cross_entropy
optimizer: {name: sgd, lr: 0.1}
""",
    "batch8": """
name: "Batch of 8, 3-4-2 sigmoid, BCE, two steps"
input: [[0.1, -0.5, 0.9], [0.3, 0.2, -0.7], [-0.8, 0.6, 0.4], [0.5, 0.5, 0.5],
        [-0.2, -0.9, 0.1], [0.7, -0.3, -0.6], [0.0, 0.8, -0.1], [-0.4, 0.2, 0.6]]
target: [[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1], [1, 1], [0, 0]]
layers:
  - weights: [[0.2, -0.3, 0.4], [-0.5, 0.1, 0.6], [0.7, -0.8, 0.2], [0.3, 0.3, -0.3]]
    bias: [0.1, -0.1, 0.05, 0.0]
    activation: sigmoid
  - weights: [[0.5, -0.4, 0.3, -0.2], [-0.6, 0.7, -0.1, 0.2]]
    bias: [0.0, 0.1]
    activation: sigmoid
loss: bce
optimizer: {name: sgd, lr: 0.5}
steps: 2
""",
}


def _stress_trace(name: str, tmp: Path):
    from tests.test_render_golden import solve_example

    path = tmp / f"{name}.yaml"
    path.write_text(STRESS_SPECS[name], encoding="utf-8")
    return solve_example(path)


def _compile(tex: str, workdir: Path, stem: str) -> tuple[str, str]:
    """(stem, problem or "") after running pdflatex on `tex` in workdir."""
    (workdir / f"{stem}.tex").write_text(tex, encoding="utf-8")
    try:
        # -draftmode: the full typesetting (errors, overfull boxes) without writing a PDF
        run = subprocess.run([PDFLATEX, "-draftmode", "-interaction=nonstopmode", "-halt-on-error", f"{stem}.tex"],
                             cwd=workdir, capture_output=True, timeout=180)
    except subprocess.TimeoutExpired:
        return stem, "pdflatex timed out"
    log = (workdir / f"{stem}.log").read_text(encoding="utf-8", errors="replace")
    if run.returncode != 0:
        errors = [line for line in log.splitlines() if line.startswith("!")]
        return stem, f"pdflatex failed: {errors[:3] or run.stdout[-800:]}"
    overfull = [m.group(0) for m in re.finditer(r"Overfull \\hbox[^\n]*", log)]
    return stem, f"overfull boxes: {overfull}" if overfull else ""


def _compile_all(jobs: dict[str, str], workdir: Path) -> dict[str, str]:
    # pdflatex waits on files much of the time: more workers than CPUs pays off
    with ThreadPoolExecutor(max_workers=min(8, 3 * (os.cpu_count() or 2))) as pool:
        return dict(pool.map(lambda item: _compile(item[1], workdir, item[0]), jobs.items()))


def _host(fragments: list[str], lang: str) -> str:
    """A minimal document that \\inputs fragments: amsmath and amssymb, kotex for Korean."""
    body = "\n\\clearpage\n".join(f"\\input{{{f}}}" for f in fragments)
    korean = "\\usepackage{kotex}\n" if lang == "ko" else ""
    return ("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n" + korean
            + "\\begin{document}\n" + body + "\n\\end{document}\n")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, str]:
    """Compile everything once (in parallel); tests look up their document's problems."""
    if PDFLATEX is None:
        pytest.skip("pdflatex is not installed")
    work = tmp_path_factory.mktemp("latex")
    jobs: dict[str, str] = {}
    fragments: dict[str, list[str]] = {"en": [], "ko": []}
    traces = {e.stem: trace_of(e) for e in examples()}
    for name in STRESS_SPECS:
        traces[name] = _stress_trace(name, work)
    for stem, trace in traces.items():
        for lang in ("en", "ko"):
            jobs[f"{stem}-{lang}"] = render(trace, "latex", lang=lang, standalone=True)
            frag = f"frag-{stem}-{lang}"
            (work / f"{frag}.tex").write_text(render(trace, "latex", lang=lang), encoding="utf-8")
            fragments[lang].append(frag)
    for lang, names in fragments.items():
        jobs[f"fragments-{lang}"] = _host(names, lang)
    return _compile_all(jobs, work)


DOCUMENTS = [f"{e.stem}-{lang}" for e in examples() for lang in ("en", "ko")] + \
    [f"{name}-{lang}" for name in STRESS_SPECS for lang in ("en", "ko")]


@needs_pdflatex
@pytest.mark.parametrize("document", DOCUMENTS)
def test_standalone_compiles_without_overfull_boxes(compiled, document):
    assert compiled[document] == ""


@needs_pdflatex
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_fragments_compile_in_a_minimal_host(compiled, lang):
    """Every fragment (examples and stress specs) inside article + amsmath + amssymb."""
    assert compiled[f"fragments-{lang}"] == ""


# -- structure ---------------------------------------------------------------------------------

def test_fragment_needs_only_amsmath_and_amssymb():
    trace = trace_of(next(e for e in examples() if e.stem == "bce_2_2_1"))
    tex = render(trace, "latex")
    assert "\\documentclass" not in tex and "\\usepackage" not in tex.replace("% ", "").split("\n", 1)[1]
    assert "tikzpicture" not in tex and "\\begin{axis}" not in tex


def test_standalone_order_follows_the_seed():
    """Network diagram, given values, forward, loss, backward, update, before/after, loss after."""
    trace = trace_of(next(e for e in examples() if e.stem == "bce_2_2_1"))
    tex = render(trace, "latex", standalone=True)
    marks = ["tikzpicture", "Given values", "Forward pass", "\\section*{Loss}", "Backward pass",
             "Updating the parameters", "Before and after", "Loss after the step"]
    positions = [tex.index(m) for m in marks]
    assert positions == sorted(positions)
    # the seed's own lines, in its notation
    assert "z_{1} &= W_{1} x_{1} + W_{2} x_{2} + b_{1}" in tex
    assert "&= 0.4352 \\times 1 + 0.3545 \\times 1 - 0.1419" in tex
    assert ("\\frac{\\partial \\mathcal{L}}{\\partial W_{5}} &= \\frac{\\partial \\mathcal{L}}{\\partial "
            "\\sigma_{3}} \\times \\frac{\\partial \\sigma_{3}}{\\partial z_{3}} \\times "
            "\\frac{\\partial z_{3}}{\\partial W_{5}}") in tex
    assert "W_{5}(2) &= W_{5} - \\alpha \\frac{\\partial \\mathcal{L}}{\\partial W_{5}}" in tex


def test_korean_document_uses_kotex_and_korean_headings():
    trace = trace_of(next(e for e in examples() if e.stem == "bce_2_2_1"))
    tex = render(trace, "latex", lang="ko", standalone=True)
    assert "\\usepackage{kotex}" in tex
    for word in ("순전파", "역전파", "가중치 갱신", "오차", "가중치와 편향 갱신 비교"):
        assert word in tex
    assert "Forward pass" not in tex and "Backward pass" not in tex


def test_multi_step_runs_get_a_loss_table_and_a_plot():
    trace = trace_of(next(e for e in examples() if e.stem == "adam_steps"))
    tex = render(trace, "latex", standalone=True)
    assert "\\usepackage{pgfplots}" in tex and "\\begin{axis}" in tex and "\\addplot" in tex
    assert "Loss per step" in tex
    fragment = render(trace, "latex")
    assert "\\begin{axis}" not in fragment and "Loss per step" in fragment


def test_batches_use_matrix_form():
    trace = trace_of(next(e for e in examples() if e.stem == "batch_xor"))
    assert trace.detail == "matrix"
    tex = render(trace, "latex")
    assert "\\begin{bmatrix}" in tex and "\\delta^{(2)}" in tex


def test_user_text_is_escaped(tmp_path):
    from tests.test_render_golden import solve_example

    path = tmp_path / "weird.yaml"
    path.write_text('name: "Weird # $ % & _ { } ~ ^ \\\\ \\\\input{x} 한글"\ninput: [1]\ntarget: [0.5]\n'
                    "layers:\n  - weights: [[0.5]]\n    activation: sigmoid\nloss: mse\nlr: 0.1\n",
                    encoding="utf-8")
    trace = solve_example(path)
    tex = render(trace, "latex", standalone=True)
    title = re.search(r"\\Large\\bfseries (.*)\}", tex).group(1)
    assert title == ("Weird \\# \\$ \\% \\& \\_ \\{ \\} \\textasciitilde{} \\textasciicircum{} "
                     "\\textbackslash{} \\textbackslash{}input\\{x\\} 한글")
    assert "\\usepackage{kotex}" in tex  # Hangul in a name needs it even in English
    md = render(trace, "markdown")
    assert md.startswith("# Weird \\# \\$ % & \\_ { } \\~ ^ \\\\ \\\\input{x}")
    if PDFLATEX:
        assert _compile(tex, tmp_path, "weird") == ("weird", "")


def test_latex_text_escapes_every_special():
    assert latex_text("#$%&_{}~^\\") == ("\\#\\$\\%\\&\\_\\{\\}\\textasciitilde{}\\textasciicircum{}"
                                         "\\textbackslash{}")
    assert latex_text("a\x00b\nc") == "ab c"


# -- line breaking -------------------------------------------------------------------------------

def test_long_sums_break_at_plus_and_stay_within_the_budget():
    from backprop_cli.calc.expr import Ref, add, mul
    from backprop_cli.render.formula import FormulaPrinter

    expr = add(*[mul(Ref(f"w{i}"), Ref(f"x{i}")) for i in range(12)])
    values = {f"w{i}": 0.1234 * (i + 1) for i in range(12)} | {f"x{i}": -0.5678 for i in range(12)}
    marked = FormulaPrinter(lambda n: n, "latex", 4, values).marked(expr)
    lines = break_marked(marked, 25.0)
    assert len(lines) > 1
    assert all(tex_width(line) <= 25.0 for line in lines)
    assert all(line.startswith(("+", "-")) for line in lines[1:])
    assert " ".join(lines).replace("  ", " ") == resolve(marked)


def test_parentheses_split_across_lines_become_big_delimiters():
    from backprop_cli.calc.expr import Neg, Ref, add, call, mul

    from backprop_cli.render.formula import FormulaPrinter

    expr = Neg(add(*[mul(Ref(f"t{i}"), call("log", Ref(f"a{i}"))) for i in range(10)]))
    values = {f"t{i}": 1 for i in range(10)} | {f"a{i}": 0.25 for i in range(10)}
    lines = break_marked(FormulaPrinter(lambda n: n, "latex", 4, values).marked(expr), 20.0)
    text = "\n".join(lines)
    assert "\\Bigl(" not in text  # the content is flat: plain parentheses suffice
    assert lines[0].startswith("-(") and lines[-1].endswith(")")
    assert text.count("(") == text.count(")")


def test_aligned_lines_continue_with_quad():
    lines = aligned_lines("z", ["a" + "".join(f"\x030 + {i}" for i in range(40))], 20.0)
    assert lines[0].startswith("z &= a")
    assert all(line.startswith("&\\quad {}+") for line in lines[1:])


def test_bmatrix_truncates_past_six():
    text = bmatrix([[r * 10 + c for c in range(9)] for r in range(9)], str)
    assert text.count("\\\\") == 5  # 6 rows shown
    assert "\\cdots" in text and "\\vdots" in text and "\\ddots" in text
    assert " 88" in text or "& 88" in text  # the last row and column are kept
