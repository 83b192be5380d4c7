"""`layout: in_out` (h = xW, as CS231n and many textbooks write it) beside nn.Linear's (out, in).

Oracle: the textbook's own matrix formulas in numpy on the matrices *as written*
(h = xW + b, ∂L/∂W = xᵀδ), never the tool's (out, in) path. Canonical names keep their
(out, in) meaning: W2 is the weight from x2 into neuron 1, i.e. the written [1][0].
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tests.cli_proc import cold

SPEC = """\
input: [1, 2]
target: [0.5, -1]
layers:
  - layout: in_out
    weights: [[0.1, -0.2, 0.3],
              [0.4, 0.5, -0.6]]
    bias: [0.1, 0.2, -0.1]
    activation: tanh
  - layout: in_out
    weights: [[0.3, -0.1], [0.2, 0.7], [-0.1, 0.25]]
    bias: [0.05, 0.0]
loss: mse
lr: 0.5
"""


def textbook(x, W1, b1, W2, b2, t, lr):
    """h = tanh(x W1 + b1); y = h W2 + b2; L = mean (y − t)²; plain SGD."""
    h = np.tanh(x @ W1 + b1)
    y = h @ W2 + b2
    dy = 2 * (y - t) / y.size
    dW2 = np.outer(h, dy)
    dh = dy @ W2.T
    dz = dh * (1 - h ** 2)
    dW1, db1 = np.outer(x, dz), dz
    return {"dW1": dW1, "dW2": dW2, "W1_new": W1 - lr * dW1, "W2_new": W2 - lr * dW2, "z1": x @ W1 + b1,
            "db1": db1}


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    path = tmp_path_factory.mktemp("layout") / "in_out.yaml"
    path.write_text(SPEC)
    run = cold(["solve", str(path), "--format", "json"])
    assert run.code == 0, run.describe()
    return json.loads(run.stdout)


def _oracle():
    x = np.array([1.0, 2.0])
    W1 = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]])
    W2 = np.array([[0.3, -0.1], [0.2, 0.7], [-0.1, 0.25]])
    return textbook(x, W1, np.array([0.1, 0.2, -0.1]), W2, np.array([0.05, 0.0]), np.array([0.5, -1.0]), 0.5)


def test_matrices_are_shown_as_written(solved):
    want = _oracle()
    layers = solved["steps"][0]["layers"]
    np.testing.assert_allclose(layers[0]["grad_weights"], want["dW1"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layers[1]["grad_weights"], want["dW2"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layers[0]["weights"], want["W1_new"], rtol=1e-12)
    np.testing.assert_allclose(layers[1]["weights"], want["W2_new"], rtol=1e-12)
    np.testing.assert_allclose(layers[0]["z"][0], want["z1"], rtol=1e-12)


def test_canonical_names_keep_their_out_in_meaning(solved):
    want, named = _oracle(), solved["named"]
    # layer 1 written (in=2) × (out=3): W1 = [0][0], W2 = [1][0] (x2 → neuron 1), W3 = [0][1]
    assert named["W2"] == 0.4 and named["W3"] == -0.2
    assert named["dL/dW2"] == pytest.approx(want["dW1"][1, 0], rel=1e-12)
    assert named["dL/dW3"] == pytest.approx(want["dW1"][0, 1], rel=1e-12)
    # layer 2 starts at W7; written [0][1] (h1 → output 2) is (out 1, in 0) → W7 + 1·3 + 0 = W10
    assert named["W10_new"] == pytest.approx(want["W2_new"][0, 1], rel=1e-12)


def test_structured_key_reads_the_written_layout(tmp_path):
    want = _oracle()
    spec = tmp_path / "net.yaml"
    spec.write_text(SPEC)
    row = ", ".join(f"{v:.6f}" for v in want["W1_new"][1])
    (tmp_path / "net.key.yaml").write_text(f"steps:\n  - layers:\n      - {{layer: 1, weights: [[{', '.join(f'{v:.6f}' for v in want['W1_new'][0])}], [{row}]]}}\n")
    run = cold(["check", str(spec)])
    assert run.code == 0, run.describe()
    # the same numbers read as (out, in) would not fit: a key written transposed fails
    (tmp_path / "net.key.yaml").write_text(f"steps:\n  - layers:\n      - {{layer: 1, weights: [[{row}], [{row}]]}}\n")
    assert cold(["check", str(spec)]).code == 1


def test_in_out_shape_mismatch_names_the_field(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.replace("[[0.3, -0.1], [0.2, 0.7], [-0.1, 0.25]]", "[[0.3, -0.1, 0.2], [0.2, 0.7, 0.1]]"))
    run = cold(["solve", str(spec)])
    assert run.code == 2
    assert "layers[1].weights" in run.stderr and "in_out" in run.stderr and "Traceback" not in run.stderr
    spec.write_text(SPEC.replace("layout: in_out\n    weights: [[0.1", "layout: inout\n    weights: [[0.1"))
    run = cold(["solve", str(spec)])
    assert run.code == 2 and "layers[0].layout" in run.stderr and "in_out" in run.stderr


@pytest.mark.parametrize("fmt", ["table", "latex", "markdown"])
def test_renderers_show_the_written_matrix(tmp_path, fmt):
    spec = tmp_path / "net.yaml"
    spec.write_text(SPEC)
    run = cold(["solve", str(spec), "--format", fmt, "--detail", "matrix"])
    assert run.code == 0, run.describe()
    # dL/dW of layer 2 written (in, out) is 3 × 2: its first row is (dW[0][0], dW[0][1])
    if fmt == "table":  # the terminal's number format is its own (significant digits): the shape says it
        assert "∂L/∂W⁽²⁾  (in × out)   (3×2)" in run.stdout, run.stdout[-3000:]
        return
    dW2 = _oracle()["dW2"]  # written (in, out) = 3 × 2: read row by row, the columns alternate
    text = " ".join(run.stdout.replace("&", " ").replace("\\\\", " ").split())
    a, b = f"{dW2[0, 0]:.4f}"[:5], f"{dW2[0, 1]:.4f}"
    assert re.search(rf"{a}\d* {b} {a}\d* {b} -{a}\d* -{b}", text), text[-3000:]
