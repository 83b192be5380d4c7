"""--symbolic: simplified gradient formulas that evaluate to the recorded gradients."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backprop_cli.cli import app
from backprop_cli.errors import BackpropError
from backprop_cli.calc.expr import to_text
from backprop_cli.load import load_spec, loads_spec
from backprop_cli.network.solve import solve
from tests.netgen import random_spec

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_bce_after_sigmoid_collapses():
    trace = solve(load_spec(CONFIGS / "bce_2_2_1.yaml"), symbolic=True)
    formulas = {g.name: to_text(g.expr) for g in trace.symbolic}
    assert formulas["dL/db3"] == "{a3} - {t1}"
    # the example: ∂L/∂W1 = (σ3 − y)·W5·σ1(1 − σ1)·x1, in some factor order
    w1 = formulas["dL/dW1"]
    for factor in ("{a1}", "{W5}", "{x1}", "(1 - {a1})", "({a3} - {t1})"):
        assert factor in w1
    assert "dL/d" not in w1 and "da" not in w1  # nothing but forward quantities


@pytest.mark.parametrize("name", ["bce_2_2_1", "mazur", "softmax_ce", "relu_leaky", "adam_steps"])
def test_formulas_evaluate_to_the_gradients(name):
    trace = solve(load_spec(CONFIGS / f"{name}.yaml"), symbolic=True)
    assert trace.symbolic
    for g in trace.symbolic:
        assert g.value == pytest.approx(trace.named[g.name], rel=1e-9, abs=1e-12), g.name


@pytest.mark.parametrize("seed", range(15))
def test_random_networks(seed):
    spec = loads_spec(random_spec(5000 + seed, samples=1))
    trace = solve(spec, symbolic=True)
    for g in trace.symbolic:
        assert g.value == pytest.approx(trace.named[g.name], rel=1e-8, abs=1e-12), g.name


def test_json_carries_symbolic_equations():
    doc = json.loads(CliRunner().invoke(app, ["solve", str(CONFIGS / "bce_2_2_1.yaml"), "--symbolic", "-f", "json"]).stdout)
    entry = next(e for e in doc["symbolic"] if e["name"] == "dL/dW5")
    assert entry["expression"] == "{a1} * ({a3} - {t1})"
    assert entry["value"] == pytest.approx(doc["named"]["dL/dW5"], rel=1e-12)


def test_refused_where_it_cannot_hold():
    with pytest.raises(BackpropError, match="--round"):
        solve(load_spec(CONFIGS / "bce_2_2_1.yaml"), symbolic=True, round_digits=4)
    with pytest.raises(BackpropError, match="scalar derivation"):
        solve(load_spec(CONFIGS / "batch_xor.yaml"), symbolic=True)
