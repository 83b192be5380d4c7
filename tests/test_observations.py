"""Observations: present on networks built to show each one, absent where the numbers do
not show it; their figures checked against hand-written formulas and the sympy
gradient oracle (never the tool's own backward pass); every format, en and ko."""
from __future__ import annotations

import json
import math
import re

import pytest

from backprop_cli import solve
from backprop_cli.lessons import observe
from backprop_cli.load import loads_spec
from tests.cli_proc import cold
from tests.oracles import sympy_gradients


def kinds(text: str):
    return [o.kind for o in observe(solve(loads_spec(text)))]


def only(text: str, kind: str):
    found = [o for o in observe(solve(loads_spec(text))) if o.kind == kind]
    assert len(found) == 1, found
    return found[0]


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


TWO_LAYER = """input: [{x1}, {x2}]
target: [{t}]
layers:
  - weights: [[{w1}, {w2}], [{w3}, {w4}]]
    bias: [{b1}, {b2}]
    activation: {act1}
  - weights: [[{w5}, {w6}]]
    bias: [{b3}]
    activation: {act2}
loss: {loss}
optimizer: {{name: sgd, lr: 0.5{extra}}}
"""
BASE = dict(x1=1, x2=2, t=1, w1=0.15, w2=-0.2, w3=0.25, w4=0.3, b1=0.1, b2=-0.1, w5=0.4, w6=0.45, b3=0.05,
            act1="sigmoid", act2="sigmoid", loss="mse", extra="")


def net(**changes) -> str:
    return TWO_LAYER.format(**{**BASE, **changes})


def forward(p):
    """Hand-written forward pass of TWO_LAYER (sigmoid, sigmoid)."""
    z1 = p["w1"] * p["x1"] + p["w2"] * p["x2"] + p["b1"]
    z2 = p["w3"] * p["x1"] + p["w4"] * p["x2"] + p["b2"]
    a1, a2 = sigmoid(z1), sigmoid(z2)
    z3 = p["w5"] * a1 + p["w6"] * a2 + p["b3"]
    return z1, z2, a1, a2, z3, sigmoid(z3)


# -- error_scale: δ = (ŷ − t) × σ′ × 2 for MSE; the slope cancels for BCE ------------------------

def test_error_scale_mse_is_error_times_slope_times_two():
    o = only(net(), "error_scale")
    *_, y = forward(BASE)
    assert o.names == ("a3", "t1", "delta3")
    assert o.number("error") == pytest.approx(y - 1, rel=1e-12)
    assert o.number("da_dz") == pytest.approx(y * (1 - y), rel=1e-12)
    assert o.number("constant") == pytest.approx(2.0, rel=1e-12)  # d/dŷ (ŷ − t)² = 2(ŷ − t)
    assert o.number("delta") == pytest.approx(2 * (y - 1) * y * (1 - y), rel=1e-12)
    assert not o.number("cancels")


def test_error_scale_bce_sigmoid_cancels():
    o = only(net(loss="bce", t=0), "error_scale")
    *_, y = forward(BASE)
    assert o.number("cancels") == 1 and o.number("delta") == pytest.approx(y, rel=1e-12)
    assert o.number("da_dz") is None


def test_no_error_scale_for_a_batch_or_a_perfect_output():
    batch = net().replace("input: [1, 2]", "input: [[1, 2], [2, 1]]").replace("target: [1]", "target: [[1], [0]]")
    assert "error_scale" not in kinds(batch) and "input_scale" not in kinds(batch)
    exact = net(act2="identity", w5=0, w6=0, b3=1)  # ŷ = 1 = t
    assert "error_scale" not in kinds(exact)


# -- input_scale: ∂L/∂W_ji = x_i δ_j -------------------------------------------------------------

def test_input_scale_gradients_are_input_times_delta():
    o = only(net(), "input_scale")
    grads = sympy_gradients(loads_spec(net()))
    assert o.names[1:] == ("W1", "W2")
    assert o.number("g1") == pytest.approx(grads["W1"], rel=1e-9)
    assert o.number("g2") == pytest.approx(grads["W2"], rel=1e-9)
    assert o.number("g2") / o.number("g1") == pytest.approx(2.0)  # x2 / x1


def test_no_input_scale_for_equal_inputs_or_weight_decay():
    assert "input_scale" not in kinds(net(x1=1, x2=1))
    assert "input_scale" not in kinds(net(extra=", weight_decay: 0.1"))
    assert "input_scale" not in kinds(net().replace("{name: sgd, lr: 0.5}", "{name: adam, lr: 0.5}"))


# -- zero_input ----------------------------------------------------------------------------------

def test_zero_input_leaves_its_weights_unchanged():
    o = only(net(x2=0), "zero_input")
    assert o.names == ("x2", "W2", "W4") and o.number("unchanged") == 1
    grads = sympy_gradients(loads_spec(net(x2=0)))
    assert grads["W2"] == 0 and grads["W4"] == 0


def test_zero_input_with_weight_decay_still_moves():
    o = only(net(x2=0, extra=", weight_decay: 0.1"), "zero_input")  # no gradient, but λW moves it
    assert o.number("unchanged") == 0
    assert "zero_input" not in kinds(net())


# -- layer_ratio ---------------------------------------------------------------------------------

def test_layer_ratio_from_the_oracle_gradients():
    text = net(loss="bce", t=0)
    o = only(text, "layer_ratio")
    g = sympy_gradients(loads_spec(text))
    first = 0.5 * sum(abs(g[w]) for w in ("W1", "W2", "W3", "W4")) / 4
    last = 0.5 * sum(abs(g[w]) for w in ("W5", "W6")) / 2
    assert o.number("first") == pytest.approx(first, rel=1e-9)
    assert o.number("last") == pytest.approx(last, rel=1e-9)
    assert o.number("ratio") <= 0.5
    z1, z2, a1, a2, *_ = forward({**BASE, "t": 0})
    assert o.number("max_da_dz") == pytest.approx(max(a1 * (1 - a1), a2 * (1 - a2)), rel=1e-12)
    assert o.number("max_da_dz") <= 0.25


def test_no_layer_ratio_when_layer_one_moves_as_much():
    # identity hidden layer and large output weights: layer 1's gradient is δ × 5 × x
    assert "layer_ratio" not in kinds(net(act1="identity", w5=5, w6=5))


def test_layer_ratio_without_sigmoid_says_nothing_of_sigmoid():
    o = only(net(act1="relu", w1=0.5, w2=0.5, w3=0.5, w4=0.5, w5=0.1, w6=0.1), "layer_ratio")
    assert o.number("max_da_dz") is None


# -- dead_relu -----------------------------------------------------------------------------------

def test_dead_relu_gets_no_gradient():
    text = net(act1="relu", w1=-1, w2=-1)  # z1 = −1 − 2 + 0.1 < 0
    o = only(text, "dead_relu")
    assert o.names == ("a1",) and o.layer == 1
    assert o.number("max_z") == pytest.approx(-2.9) and o.number("no_gradient") == 1
    g = sympy_gradients(loads_spec(text))
    assert g["W1"] == 0 and g["W2"] == 0 and g["b1"] == 0


def test_no_dead_relu_when_every_unit_is_active():
    assert "dead_relu" not in kinds(net(act1="relu", w2=0.2))  # z1 = 0.65, z2 = 0.75
    batch = net(act1="relu", w1=-1, w2=-1).replace("input: [1, 2]", "input: [[1, 2], [-4, 0]]") \
        .replace("target: [1]", "target: [[1], [0]]")
    assert "dead_relu" not in kinds(batch)  # alive for sample 2 (z1 = 4.1)


# -- saturated -----------------------------------------------------------------------------------

def test_saturated_hidden_unit():
    text = net(w3=4, w4=4)  # z2 = 4 + 8 − 0.1: σ′ ≈ 7e-6
    o = only(text, "saturated")
    z2 = 4 + 8 - 0.1
    assert o.names == ("a2",) and o.number("max_da_dz") == pytest.approx(sigmoid(z2) * (1 - sigmoid(z2)), rel=1e-9)
    g = sympy_gradients(loads_spec(text))
    assert o.number("max_grad") == pytest.approx(max(abs(g["W3"]), abs(g["W4"])), rel=1e-6)


def test_a_saturated_bce_output_still_learns():
    assert "saturated" not in kinds(net(loss="bce", t=0, w5=4, w6=4, b3=3))
    assert "saturated" in kinds(net(loss="mse", t=0, w5=4, w6=4, b3=3))  # σ′ reaches δ
    assert "saturated" not in kinds(net())


def test_graphs_have_no_observations():
    assert observe(solve(loads_spec("graph:\n  x: 2\n  y: x * x\n"))) == ()


# -- every format, en and ko, through the real command ------------------------------------------

@pytest.mark.parametrize("lang,heading", [("en", "Observations"), ("ko", "관찰")])
def test_every_format_has_the_section(tmp_path, lang, heading):
    spec = tmp_path / "dead.yaml"
    spec.write_text(net(act1="relu", w1=-1, w2=-1))
    for fmt in ("table", "latex", "markdown"):
        run = cold(["solve", str(spec), "-f", fmt, "--lang", lang])
        assert run.code == 0, run.describe()
        assert heading in run.stdout and "ReLU" in run.stdout, fmt
    doc = json.loads(cold(["solve", str(spec), "-f", "json"]).stdout)
    assert "dead_relu" in [o["kind"] for o in doc["observations"]]
    dead = next(o for o in doc["observations"] if o["kind"] == "dead_relu")
    assert dead["names"] == ["a1"] and dead["numbers"]["max_z"] == pytest.approx(-2.9)


def test_no_section_where_nothing_holds(tmp_path):
    spec = tmp_path / "b.yaml"
    spec.write_text(net().replace("input: [1, 2]", "input: [[1, 2], [2, 1]]")
                    .replace("target: [1]", "target: [[1], [0]]").replace("lr: 0.5", "lr: 0.5, momentum: 0.9"))
    kinds_here = kinds(spec.read_text())
    run = cold(["solve", str(spec)])
    assert run.code == 0
    assert ("Observations" in run.stdout) == bool(kinds_here)


# -- every printed product re-done by hand gives the printed result ---------------------------

NUMBER = r"\(?[−-]?\d+(?:\.\d+)?\)?"
PRODUCT = re.compile(rf"= ((?:{NUMBER} × )+{NUMBER}) = ({NUMBER})")


def _value(text: str) -> float:
    return float(text.strip("()").replace("−", "-"))


@pytest.mark.parametrize("name", ["bce_2_2_1", "mazur", "mazur_post", "softmax_ce", "relu_leaky", "adam_steps",
                                  "rational_relu"])
def test_printed_products_reproduce(name):
    from backprop_cli import render
    from backprop_cli.load import load_spec
    from tests.cli_proc import ROOT

    text = render(solve(load_spec(ROOT / "configs" / f"{name}.yaml")), "table", width=400)
    section = text[text.index("Observations"):] if "Observations" in text else ""
    for factors, result in PRODUCT.findall(section):
        product = math.prod(_value(f) for f in factors.split(" × "))
        decimals = len(result.strip("()").split(".")[1]) if "." in result else 0
        assert f"{product:.{decimals}f}".replace("-", "−") == result.strip("()") or \
            abs(product - _value(result)) <= 0.5 * 10 ** -decimals + 1e-12, (factors, result)
