"""Output a reader can follow: numbers that redo by hand, honest symbols, long runs cut
short, question sheets without answers, LaTeX that fits into another document.

Oracles are independent of the renderer: lines are re-evaluated from their printed
numbers with Python's own arithmetic; the softmax loss is computed here with math.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from backprop_cli.render import render
from backprop_cli.render.formula import format_number
from backprop_cli.render.questions import question_sheet, render_questions
from backprop_cli.load import load_spec

from .cli_proc import cold

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


def _solve(name: str, **kw):
    spec = load_spec(CONFIGS / f"{name}.yaml")
    if type(spec).__name__ == "GraphSpec":
        from backprop_cli.graph.solve import solve_graph

        return solve_graph(spec)
    from backprop_cli.network.solve import solve

    return solve(spec, **kw)


# -- numbers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value,digits,text", [
    (6.65e-05, 4, "0.0000665"),  # Adam's second moment keeps three significant digits
    (0.0062, 4, "0.00620"),
    (-0.0103, 4, "−0.0103"),
    (0.4154, 4, "0.4154"),
    (625000.0, 4, "625000"),  # an exact integer as written
    (1.0, 4, "1"),
    (2.005e-22, 4, "2.00e−22"),  # too small for fixed decimals: scientific, 3 figures
    (0.45, 2, "0.45"),
])
def test_numbers_keep_their_figures(value, digits, text):
    assert format_number(value, digits) == text


_UNICODE_MATH = [("−", "-"), ("×", "*"), ("√", "math.sqrt"), ("e^(", "math.exp("), ("log(", "math.log(")]
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")


def _evaluate(numbers: str) -> float:
    """A printed numbers part, evaluated: only digits, operators and math calls pass."""
    text = numbers
    for a, b in _UNICODE_MATH:
        text = text.replace(a, b)
    text = re.sub("([⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: "**" + m.group(1).translate(_SUPERSCRIPT), text)
    if not re.fullmatch(r"[0-9eE.+\-*/() ]*", text.replace("math.sqrt", "").replace("math.exp", "")
                        .replace("math.log", "")):
        raise ValueError(text)
    return float(eval(text, {"math": math, "__builtins__": {}}))  # our own printed digits


def _places(printed: str) -> float:
    """The unit of the last printed place of a number (0.000125 → 1e-6)."""
    printed = printed.replace("−", "-")
    mant = printed.split("e")[0]
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    unit = 10.0 ** -decimals
    if "e" in printed:
        unit *= 10.0 ** int(printed.split("e")[1])
    return unit


def test_every_adam_line_redoes_by_hand_at_its_printed_precision():
    """Each printed `… = numbers = value` line of the Adam run, evaluated from the
    printed numbers, gives the printed value within the rounding of what it used."""
    trace = _solve("adam_steps")
    text = render(trace, "table", width=1000)
    checked = 0
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(" = ")]
        if len(parts) < 3:
            continue
        value = parts[-1].split("   (")[0]
        try:
            redone = _evaluate(parts[-2])
            printed = float(value.replace("−", "-"))
        except (ValueError, SyntaxError, ZeroDivisionError):
            continue
        operands = [abs(float(n)) for n in re.findall(r"\d+\.?\d*(?:e-?\d+)?", parts[-2].replace("−", "-"))]
        # the printed operands carry their own rounding: a cancellation (−0.0500 − (−0.0491))
        # inherits it, so the slack grows with the operands' size, never past 0.1 %
        slack = max(4 * _places(value), 0.01 * abs(printed), 1e-3 * max(operands, default=0))
        assert abs(redone - printed) <= slack, f"{line!r}: redone {redone!r}"
        checked += 1
    assert checked > 100


# -- notation --------------------------------------------------------------------------------------

def test_sigma_only_for_sigmoid_layers():
    relu = render(_solve("relu_leaky"), "table", width=200)
    assert "σ" not in relu.split("Forward pass")[1] and "a₁ = " in relu
    tanh = render(_solve("adam_steps"), "table", width=200)
    assert "a₁ = tanh(z₁)" in tanh and "σ₁" not in tanh
    sigmoid = render(_solve("bce_2_2_1"), "table", width=200)
    assert "σ₁ = 1 / (1 + e^(−z₁))" in sigmoid
    latex = render(_solve("relu_leaky"), "latex")
    assert r"\sigma_{" not in latex and "a_{1}" in latex


def test_graph_local_gradients_never_share_the_total_derivatives_symbol():
    trace = _solve("graph_circuit")
    table = render(trace, "table", width=120)
    assert "∂f/∂q = ∂f/∂f × ∂f/∂q|local" in table
    assert "∂f/∂q = ∂f/∂f × ∂f/∂q =" not in table
    for fmt in ("latex", "markdown"):
        doc = render(trace, fmt)
        assert r"\left.\frac{\partial f}{\partial q}\right|_{\mathrm{local}}" in doc


def test_softmax_cross_entropy_textbook_form_and_jacobian_step():
    trace = _solve("softmax_ce")
    spec = trace.spec
    x = [float(v) for v in spec.input[0]]
    hidden = [1 / (1 + math.exp(-(sum(w * xi for w, xi in zip(spec.layers[0].weights[j], x))
                                  + float(spec.layers[0].bias[j])))) for j in range(2)]
    z = [sum(w * h for w, h in zip(spec.layers[1].weights[k], hidden)) + float(spec.layers[1].bias[k])
         for k in range(2)]
    y1 = math.exp(z[0]) / (math.exp(z[0]) + math.exp(z[1]))
    table = render(trace, "table", width=200)
    assert f"= −log y₁ = −log({y1:.4f}) = {-math.log(y1):.4f}" in table
    assert "([i=k] − yₖ)" in table and "= yₖ − tₖ" in table
    assert table.index("= yₖ − tₖ") < table.index("δ₃ = y₁ − t₁")
    latex = render(trace, "latex")
    assert r"-\log y_{1}" in latex and r"\sum_i" in latex


# -- long runs ----------------------------------------------------------------------------------------

def test_latex_and_markdown_follow_show_steps():
    trace = _solve("adam_steps")
    latex = render(trace, "latex", show_steps="first,last")
    assert r"\section*{Step 1}" in latex and r"\section*{Step 5}" in latex and r"\section*{Step 2}" not in latex
    assert "Steps 2--4 are not written out" in latex or "Steps 2–4 are not written out" in latex
    md = render(trace, "markdown", show_steps="3")
    assert "## Step 3" in md and "## Step 1" not in md and "Steps 1–2" in md and "Steps 4–5" in md


def test_show_steps_bad_input_is_a_message_and_exit_2():
    bad = cold(["solve", str(CONFIGS / "adam_steps.yaml"), "--show-steps", "1,x"])
    assert bad.code == 2 and "--show-steps" in bad.stderr and "Traceback" not in bad.stderr
    past = cold(["solve", str(CONFIGS / "adam_steps.yaml"), "--show-steps", "9"])
    assert past.code == 2 and "step 9 is past the run (5 steps" in past.stderr


# -- LaTeX for other documents --------------------------------------------------------------------------

def test_heading_level_and_no_title():
    trace = _solve("bce_2_2_1")
    doc = render(trace, "latex", heading_level=2, title=False)
    assert r"\subsection*{Given values}" in doc and r"\section*" not in doc
    assert r"{\Large\bfseries" not in doc
    md = render(trace, "markdown", heading_level=2, title=False)
    assert "\n### Given values" in md and not md.startswith("#")
    graph = render(_solve("graph_circuit"), "latex", heading_level=3)
    assert r"\subsubsection*{" in graph and r"\section*" not in graph


@pytest.mark.parametrize("example", ["bce_2_2_1", "softmax_ce", "adam_steps", "graph_circuit", "batch_xor"])
@pytest.mark.parametrize("fmt", ["table", "latex", "markdown"])
def test_question_sheets_hold_the_givens_and_no_answers(example, fmt):
    trace = _solve(example)
    sheet = question_sheet(trace)
    text = render_questions(trace, fmt, width=100)
    answers = render(trace, "json")
    import json

    doc = json.loads(answers)
    asked = [n for task in sheet.tasks for n in task.names]
    assert asked
    blank = "________" if fmt == "table" else r"\underline{\hspace{5em}}"
    assert text.count(blank) == len(asked)
    # no computed answer appears: the values of the asked quantities are absent
    named = doc.get("named") or {}
    for name in asked:
        value = named.get(name)
        if isinstance(value, (int, float)) and abs(value) > 1e-3 and float(value) != round(float(value)):
            shown = format_number(value, 4, "unicode" if fmt == "table" else "latex")
            assert shown not in text, f"{name} = {shown} is an answer"
    # the givens are there
    if example == "bce_2_2_1":
        assert "0.4352" in text and "−0.1419" in text.replace("-0.1419", "−0.1419")


def test_questions_from_the_cli():
    run = cold(["solve", str(CONFIGS / "bce_2_2_1.yaml"), "--questions", "-f", "latex", "--no-title",
                "--heading-level", "2"])
    assert run.code == 0, run.describe()
    assert r"\subsection*{Tasks}" in run.stdout and r"\underline{\hspace{5em}}" in run.stdout
    assert "0.6478" not in run.stdout  # z₁, an answer
    bad = cold(["solve", str(CONFIGS / "bce_2_2_1.yaml"), "--questions", "-f", "json"])
    assert bad.code == 2 and "--questions" in bad.stderr
