"""The terminal output fits its width: every shipped example and bigger generated ones
(3-3-2 networks, batches spelled out as scalars, Adam over 5 steps, long graphs) rendered
at 80 columns have no line wider than 80 cells, and nothing wrapped starts at column 0.

"Nothing wrapped starts at column 0" is checked against the same output at a width where
nothing wraps: every line that starts at column 0 at 80 columns must be the start of a
line that starts at column 0 there (a heading, a title, a rule), never a piece of an
equation or a sentence pushed to the margin. Equation breaks are checked to be those of
the LaTeX document: at `=` first, the result never alone, no line ending in an operator.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from rich.cells import cell_len

from backprop_cli.read.examples import is_key_file
from backprop_cli.render import render
from backprop_cli.render.wrap import BrokenEquation
from backprop_cli.load import load_spec, loads_spec

from .netgen import random_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "configs").glob("*.yaml") if not is_key_file(p))

WIDE = 1000


def _solve(spec, **kw):
    if type(spec).__name__ == "GraphSpec" or getattr(spec, "kind", "") == "graph":
        from backprop_cli.graph.minimize import solve_any_graph  # gradient descent too (`minimize:`)

        return solve_any_graph(spec)
    if getattr(spec, "kind", "") == "layered":
        from backprop_cli.network.typed_solve import solve_layered

        return solve_layered(spec, **kw)
    from backprop_cli.network.solve import solve

    return solve(spec, **kw)


NET_332 = """name: a 3-3-2 sigmoid network trained with Adam for five steps, every number written out
input: [0.35, -0.9, 1.25]
target: [0.01, 0.99]
layers:
  - weights: [[0.15, -0.2, 0.25], [0.3, 0.35, -0.4], [-0.45, 0.5, 0.55]]
    bias: [0.35, -0.35, 0.1]
    activation: sigmoid
  - weights: [[0.4, -0.45, 0.5], [0.55, 0.6, -0.65]]
    bias: [0.6, -0.6]
    activation: sigmoid
loss: mse
optimizer: {name: adam, lr: 0.05}
steps: 5
"""

BATCH = """name: XOR batch of four, tanh hidden layer, spelled out sample by sample
input: [[0, 0], [0, 1], [1, 0], [1, 1]]
target: [[0], [1], [1], [0]]
layers:
  - weights: [[0.51, -0.32], [0.27, 0.83], [-0.64, 0.12]]
    bias: [0.1, -0.2, 0.05]
    activation: tanh
  - weights: [[0.7, -0.45, 0.33]]
    bias: [0.02]
    activation: sigmoid
loss: bce
optimizer: {name: sgd, lr: 0.5, momentum: 0.9}
steps: 2
"""

LONG_GRAPH = """name: a neuron with five inputs and a sigmoid, as a graph
graph:
  w0: 2.25
  x0: -1.125
  w1: -3.5
  x1: -2.75
  w2: 0.625
  x2: 1.875
  w3: -0.4375
  x3: 3.0625
  b: -3.0
  s: w0*x0 + w1*x1 + w2*x2 + w3*x3 + b + w0*w1*x2*x3 - w2*w3*x0*x1 + w0*x3 - w1*x2
  f: 1 / (1 + exp(-s))
output: f
wrt: [w0, x0, w1, x1, w2, x2, w3, x3, b]
"""


def _wide_batch() -> str:
    """Ten samples of twelve inputs, nine ReLU units, softmax: matrices wider than 80."""
    import random

    rng = random.Random(3)

    def row(n, scale=1.0):
        return "[" + ", ".join(f"{rng.uniform(-scale, scale):.4f}" for _ in range(n)) + "]"

    return (f"name: a wide batch\ninput: [{', '.join(row(12, 3) for _ in range(10))}]\n"
            "target: [0, 2, 1, 1, 0, 0, 1, 2, 2, 1]\nlayers:\n"
            f"  - weights: [{', '.join(row(12) for _ in range(9))}]\n    bias: {row(9)}\n    activation: relu\n"
            f"  - weights: [{', '.join(row(9) for _ in range(3))}]\n    bias: {row(3)}\n    activation: softmax\n"
            "loss: cross_entropy\noptimizer: {name: adam, lr: 0.01}\nsteps: 4\n")


def _cases():
    for path in EXAMPLES:
        yield path.stem, load_spec(path), {}
    yield "net_332_adam", loads_spec(NET_332), {}
    yield "batch_scalar", loads_spec(BATCH), {"detail": "scalar"}
    yield "batch_matrix", loads_spec(BATCH), {}
    yield "long_graph", loads_spec(LONG_GRAPH), {}
    yield "wide_batch", loads_spec(_wide_batch()), {}
    for seed in range(6):
        yield f"random_{seed}", loads_spec(random_spec(seed, steps=2)), {}


CASES = list(_cases())


def margin_lines(text: str) -> list[str]:
    """Lines that start at column 0, rules' dashes taken off (a rule spans the width)."""
    return [line.strip("─ ") for line in text.splitlines() if line and not line[0].isspace()]


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("name,spec,kw", CASES, ids=[c[0] for c in CASES])
def test_fits_80_columns(name, spec, kw, lang):
    trace = _solve(spec, **kw)
    narrow = render(trace, "table", width=80, lang=lang)
    wide = render(trace, "table", width=WIDE, lang=lang)
    too_long = [line for line in narrow.splitlines() if cell_len(line) > 80]
    assert not too_long, f"{len(too_long)} lines wider than 80 cells, e.g. {too_long[0]!r}"
    cut = [line for line in narrow.splitlines() if "…" in line and "…" not in wide]
    assert not cut, f"a number cut short to fit: {cut[0]!r}"
    starts = margin_lines(wide)
    pushed = [line for line in margin_lines(narrow)
              if not any(full.startswith(line.rstrip()) for full in starts)]
    assert not pushed, f"wrapped to column 0: {pushed[:3]}"


def test_a_long_run_is_not_printed_in_full():
    """--steps 1000 writes out steps 1, 2 and 1000; the loss table says which rows it shows."""
    trace = _solve(loads_spec(NET_332), steps=40)
    text = render(trace, "table", width=80)
    rules = [line for line in text.splitlines() if "──── Step " in line]
    assert [r.split("Step ")[1].split()[0] for r in rules] == ["1", "2", "40"]
    assert "Steps 3–39 are not written out" in text
    assert "after step 40" in text
    assert "showing 12 of 41" in text
    every = render(trace, "table", width=80, show_steps="all")
    assert every.count("──── Step ") == 40
    ends = render(trace, "table", width=80, show_steps="first,last")
    assert ends.count("──── Step ") == 2 and "Steps 2–39 are not written out" in ends


def _broken(width: int, name: str, parts: list[str]) -> list[str]:
    return BrokenEquation(name, parts).plain(width).splitlines()


def test_breaks_at_equals_first_and_keeps_the_result_with_its_numbers():
    from backprop_cli.render.formula import mark

    formula = "W₅ × σ₁" + mark(0) + " + W₆ × σ₂" + mark(0) + " + b₃"
    numbers = "−0.1725 × 0.6565" + mark(0) + " + 0.1129 × 0.6732" + mark(0) + " − 0.3043"
    lines = _broken(60, "z₃", [formula, numbers, "−0.3415"])
    assert lines == ["  z₃ = W₅ × σ₁ + W₆ × σ₂ + b₃",
                     "     = −0.1725 × 0.6565 + 0.1129 × 0.6732 − 0.3043 = −0.3415"]
    # narrower: the numbers break at a +, under the "=", and the result stays on a line
    # with numbers; no line ends in an operator
    lines = _broken(40, "z₃", [formula, numbers, "−0.3415"])
    assert all(len(line) <= 40 for line in lines)
    assert all(line.startswith("     ") for line in lines[1:])
    assert lines[-1].strip() != "= −0.3415" and lines[-1].endswith("= −0.3415")
    assert not any(line.rstrip().endswith(("+", "−", "×", "=")) for line in lines)


def test_an_unbreakable_piece_is_folded_under_the_equals():
    lines = _broken(30, "q", ["x" * 70, "1"])
    assert all(len(line) <= 30 for line in lines)
    assert all(line.startswith("    ") for line in lines[1:])


def _piped(columns: str | None, *args: str) -> str:
    """`python -m backprop_cli …` (what cold() runs) with stdout piped and COLUMNS set or unset."""
    import os
    import subprocess
    import sys

    from .cli_proc import ENV

    env = dict(ENV)
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = columns
    run = subprocess.run([sys.executable, "-m", "backprop_cli", *args], env=env, capture_output=True,
                         text=True, timeout=120, cwd=os.fspath(ROOT))
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_piped_output_is_80_columns_and_respects_COLUMNS(tmp_path):
    spec = str(ROOT / "configs" / "softmax_ce.yaml")
    piped = _piped(None, "solve", spec)
    assert max(cell_len(line) for line in piped.splitlines()) <= 80
    wide = _piped("150", "solve", spec)
    assert max(cell_len(line) for line in wide.splitlines()) > 80
    assert max(cell_len(line) for line in wide.splitlines()) <= 150
    out = tmp_path / "out.txt"
    _piped(None, "solve", spec, "-o", str(out))
    assert out.read_text(encoding="utf-8") == piped
