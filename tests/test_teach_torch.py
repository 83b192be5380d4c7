"""Every generated variant's key agrees with an independent PyTorch float64 solve.

`torch_named` (tests/test_check_keys_torch.py) reads the variant's spec with plain
`yaml.safe_load` and computes every canonical name with torch.autograd: it shares no
code with backprop. Several templates, several seeds; the template constraints are
re-checked on the torch values."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")

from tests.cli_proc import ROOT, cold  # noqa: E402
from tests.test_check_keys_torch import torch_named  # noqa: E402
from backprop_cli.check.keys import literal_tolerance  # noqa: E402

SOFTMAX = """name: softmax CE
input: [{uniform: [-2, 2], decimals: 1}, {uniform: [-2, 2], decimals: 1}, 1]
target: {integer: [0, 2]}
layers:
  - weights: [[{uniform: [-1, 1], decimals: 2}, 0.2, -0.1], [0.4, {uniform: [-1, 1], decimals: 2}, 0.3],
              [-0.5, 0.1, {uniform: [-1, 1], decimals: 2}]]
    bias: [0, {choice: [-0.5, 0, 0.5]}, 0]
    activation: softmax
loss: cross_entropy
optimizer: {name: sgd, lr: {choice: [0.1, 0.5]}, momentum: 0.9}
steps: 2
constraints: ["loss@2 < loss"]
ask: [z1, a2, loss, dL/dW1, dL/db2, W1_new, W5_new@2, loss_after]
"""

RELU = """name: relu mse
input: [{uniform: [-1, 1], decimals: 1}, {uniform: [-1, 1], decimals: 1}]
target: [{uniform: [0, 1], decimals: 1}, {uniform: [-1, 0], decimals: 1}]
layers:
  - weights: [[{uniform: [-1, 1], decimals: 1}, {uniform: [-1, 1], decimals: 1}],
              [{uniform: [-1, 1], decimals: 1}, {uniform: [-1, 1], decimals: 1}],
              [{uniform: [-1, 1], decimals: 1}, {uniform: [-1, 1], decimals: 1}]]
    bias: {uniform: [-0.5, 0.5], decimals: 1}
    activation: relu
  - weights: [[0.5, {uniform: [-1, 1], decimals: 1}, -0.3], [{uniform: [-1, 1], decimals: 1}, 0.2, 0.1]]
    activation: {name: leaky_relu, slope: {choice: [0.01, 0.1]}}
loss: half_sse
optimizer: {name: adam, lr: 0.01}
"""

TEMPLATES = {
    "sigmoid_2_2_1": (ROOT / "configs" / "templates" / "sigmoid_2_2_1.yaml").read_text(),
    "softmax": SOFTMAX,
    "relu": RELU,
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("seed", [1, 2])
def test_variant_keys_match_torch(tmp_path: Path, name: str, seed: int):
    template = tmp_path / f"{name}.yaml"
    template.write_text(TEMPLATES[name])
    out = tmp_path / "out"
    run = cold(["generate", template, "--count", 4, "--seed", seed, "--out", out], timeout=120)
    assert run.code == 0, run.describe()
    for i in range(1, 5):
        spec = out / f"v0{i}.yaml"
        reference = torch_named(spec)
        key = yaml.safe_load((out / f"v0{i}.key.yaml").read_text())["named"]
        text = {line.split(":", 1)[0].strip().strip('"'): line.split(":", 1)[1].strip()
                for line in (out / f"v0{i}.key.yaml").read_text().splitlines()[2:]}
        for n, value in key.items():
            assert literal_tolerance(text[n]).allows(float(value), reference[n]), (name, i, n, value, reference[n])
        if name == "sigmoid_2_2_1":
            assert abs(reference["dL/dW1"]) >= 0.001 and 0.05 < reference["a3"] < 0.95
            assert sum(yaml.safe_load(spec.read_text())["input"]) >= 1
        if name == "softmax":
            assert reference["loss@2"] < reference["loss"]
        if name == "relu":  # built-in: no dead ReLU in the hidden layer, no gradient printing as 0
            assert all(reference[f"z{m}"] > 0 for m in (1, 2, 3))
            assert all(abs(v) >= 0.5e-4 for k, v in reference.items() if k.startswith("dL/d") and "@" not in k
                       and k[4] in "Wb")
