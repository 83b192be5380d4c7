"""Hand rounding (SPEC §7 `--round D`): every equation of every SGD example holds as
printed, checked by the shared tool `verify_equations.py --round 4` on the JSON output
(found at ../shared/tools relative to the repo root; skipped when absent). The rendered
documents show exactly those numbers."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from backprop_cli.render import render
from tests.equation_oracles import VERIFY
from tests.test_render_golden import ROOT, examples



def _rounded(path, digits=4):
    from backprop_cli.load import load_spec

    spec = load_spec(path)
    if getattr(spec, "kind", "network") == "graph" or type(spec).__name__ == "GraphSpec":
        from backprop_cli.calc.arithmetic import RoundedArithmetic
        from backprop_cli.graph.solve import solve_graph

        return solve_graph(spec, arith=RoundedArithmetic(digits))
    if getattr(spec, "kind", "network") == "layered" or spec.optimizer.name != "sgd":
        return None
    from backprop_cli.network.solve import solve

    return solve(spec, round_digits=digits)


ROUNDABLE = [e for e in examples()]


def _scalar_records(text: str) -> str:
    """The JSON with matrix-form records left out: their operands are arrays, which the
    shared tool does not read (tests/test_tensor_graph.py re-evaluates them with numpy);
    the element equations spelled out beside them stay and are checked here."""
    doc = json.loads(text)
    for holder in [doc, *doc.get("steps", [])]:
        if "equations" in holder:
            holder["equations"] = [e for e in holder["equations"] if e.get("form") != "matrix"]
    return json.dumps(doc)


@pytest.mark.parametrize("example", ROUNDABLE, ids=[e.stem for e in ROUNDABLE])
def test_round_4_equations_hold_as_printed(example):
    if not VERIFY.exists():
        pytest.skip(f"{VERIFY} is not here")
    trace = _rounded(example)
    if trace is None:
        pytest.skip("--round is refused for adam (SPEC §7); typed layers print no equations (tests/test_layers_round.py)")
    doc = _scalar_records(render(trace, "json"))
    run = subprocess.run([sys.executable, str(VERIFY), "--round", "4"], input=doc, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-500:]


def test_rounded_document_prints_the_rounded_numbers():
    """The Korean tutorial by hand: the loss 0.5368 and ∂L/∂σ₃ = 1.7106, as the post prints them."""
    trace = _rounded(ROOT / "configs" / "bce_2_2_1.yaml")
    tex = render(trace, "latex")
    assert "&= 0.5368" in tex and "&= 1.7106" in tex
    assert "hand" in tex.lower()
    table = render(trace, "table")
    assert "= 0.5368" in table and "1.7106" in table
