"""Network matrix detail (issue 11, item 5): the layer-level equations that fill a step's
`equations` when a network is derived in matrix form (batches, big layers).

Every equation is re-evaluated from its own printed operands with NumPy, independently of
the engine that produced the values; the names and shapes follow the textbook form
Z(l) = A(l-1) W(l)ᵀ + b(l), δ(l) = (δ(l+1) W(l+1)) ⊙ σ′(Z(l)), ∂L/∂W(l) = δ(l)ᵀ A(l-1); and
the optimizer's buffers of the previous step are operands, so step 2 checks by hand.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli_proc import ROOT, WarmCLI
from tests.test_tensor_graph import _matrix_eval

CONFIGS = ROOT / "configs"
NETWORKS = ["batch_xor.yaml", "adam_steps.yaml", "bce_2_2_1.yaml", "softmax_ce.yaml", "relu_leaky.yaml",
            "mazur.yaml", "rational_relu.yaml"]


@pytest.fixture(scope="module")
def cli():
    warm = WarmCLI()
    yield warm
    warm.close()


def _matrix_doc(cli, path):
    run = cli.run(["solve", str(path), "--format", "json", "--detail", "matrix", "--steps", "2"])
    assert run.code == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("config", NETWORKS)
def test_every_matrix_equation_holds_from_its_printed_operands(cli, config):
    doc = _matrix_doc(cli, CONFIGS / config)
    for step in doc["steps"]:
        names = [e["name"] for e in step["equations"]]
        assert names[:2] == ["Z(1)", "A(1)"] and "loss" in names and "dL/dW(1)" in names
        for e in step["equations"]:
            if e.get("condition"):  # a clamp the printed form leaves out
                continue
            got = _matrix_eval(e["expression"], e["operands"])
            np.testing.assert_allclose(got, np.asarray(e["value"]), rtol=1e-9, atol=1e-12, err_msg=f"{config}: {e['name']}")
            assert list(np.shape(e["value"])) == e["shapes"][e["name"]]


def test_matrix_equations_are_the_layer_records(cli):
    doc = _matrix_doc(cli, CONFIGS / "batch_xor.yaml")
    step = doc["steps"][0]
    eq = {e["name"]: e for e in step["equations"]}
    for layer in step["layers"]:
        l = layer["layer"]
        assert eq[f"Z({l})"]["value"] == layer["z"] and eq[f"delta({l})"]["value"] == layer["delta"]
        assert eq[f"dL/dW({l})"]["value"] == layer["grad_weights"]
        assert eq[f"W({l})_new"]["value"] == layer["weights"]
    assert eq["dL/dW(1)"]["expression"] == "transpose({delta(1)}) @ {X}"
    assert eq["dL/dA(1)"]["expression"] == "{delta(2)} @ {W(2)}"


def test_step_two_momentum_and_adam_use_the_previous_buffers(cli):
    doc = _matrix_doc(cli, CONFIGS / "batch_xor.yaml")  # SGD with momentum
    second = {e["name"]: e for e in doc["steps"][1]["equations"]}
    first = {e["name"]: e for e in doc["steps"][0]["equations"]}
    buf = second["buf_W(1)"]
    assert buf["expression"] == "{momentum} * {buf_W(1)@1} + {dL/dW(1)}"
    assert buf["operands"]["buf_W(1)@1"] == first["buf_W(1)"]["value"]
    adam = _matrix_doc(cli, CONFIGS / "adam_steps.yaml")
    a2 = {e["name"]: e for e in adam["steps"][1]["equations"]}
    assert "{m_W(1)@1}" in a2["m_W(1)"]["expression"] and "{v_W(1)@1}" in a2["v_W(1)"]["expression"]
    assert "** 2" in a2["W(1)_new"]["expression"]  # bias correction of step 2: 1 - beta ** 2


@pytest.mark.parametrize("fmt, words", [("table", ["Z⁽¹⁾ = X @ W⁽¹⁾ᵀ + b⁽¹⁾", "δ⁽¹⁾ = ∂L/∂A⁽¹⁾ ⊙ ∂A⁽¹⁾/∂Z⁽¹⁾"]),
                                        ("latex", [r"Z^{(1)} &= X \, {W^{(1)}}^{\top} + \mathbf{b}^{(1)}"]),
                                        ("markdown", [r"\mathrm{buf}_{W^{(1)}}"])])
def test_renderers_show_the_equations_not_bare_matrices(cli, fmt, words):
    run = cli.run(["solve", str(CONFIGS / "batch_xor.yaml"), "--format", fmt])
    assert run.code == 0, run.stderr
    for w in words:
        assert w in run.stdout, w
