"""The work budget for typed-layer specs (conv, pooling, norm, dropout, rnn, lstm).

A typed spec with a big image and many filters, a long sequence or many steps is refused
before any work (exit 2, the estimate and what to change), through the real command;
every shipped example and every typed spec the layer tests generate stays within it.
The estimate is also compared with a measured solve, so it cannot drift into refusing
everything or nothing.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from backprop_cli.budget import estimate_layered
from backprop_cli.load import load_spec, loads_spec
from backprop_cli.network.typed_solve import solve_layered
from tests.cli_proc import ROOT
from tests.test_layers import KINDS, case

CONFIGS = ROOT / "configs"


def conv_spec(channels: int, size: int, filters: int, steps: int = 1) -> str:
    """conv2d 3×3 → global average pool → dense softmax: small parameters, a big image."""
    rng = np.random.default_rng(0)
    x = np.round(rng.uniform(size=(channels, size, size)), 2).tolist()
    W = np.round(rng.normal(size=(filters, channels, 3, 3)) * 0.1, 3).tolist()
    return f"""input: {json.dumps(x)}
target: 1
layers:
  - type: conv2d
    weights: {json.dumps(W)}
    bias: {json.dumps([0.0] * filters)}
    activation: relu
  - type: avgpool2d
    kernel: {size - 2}
  - type: flatten
  - weights: {json.dumps(np.round(rng.normal(size=(2, filters)) * 0.1, 3).tolist())}
    bias: [0, 0]
    activation: softmax
loss: cross_entropy
optimizer: {{name: sgd, lr: 0.1}}
steps: {steps}
"""


def lstm_spec(T: int, hidden: int, steps: int = 1) -> str:
    rng = np.random.default_rng(1)
    arr = lambda *shape: json.dumps(np.round(rng.normal(size=shape) * 0.1, 3).tolist())  # noqa: E731
    return f"""input: {arr(T, 2)}
target: [0.5]
layers:
  - type: lstm
    W_ih: {arr(4 * hidden, 2)}
    W_hh: {arr(4 * hidden, hidden)}
    b: {json.dumps([0.0] * 4 * hidden)}
  - weights: {arr(1, hidden)}
    bias: [0]
loss: mse
optimizer: {{name: adam, lr: 0.01}}
steps: {steps}
"""


@pytest.mark.parametrize("name,text,args", [
    ("conv", lambda: conv_spec(3, 128, 64), ["--format", "json"]),
    ("conv", lambda: conv_spec(3, 128, 64), ["--format", "table"]),
    ("lstm", lambda: lstm_spec(5000, 8), ["--format", "json"]),
    ("steps", lambda: conv_spec(1, 16, 4, steps=1000), ["--format", "json"]),
    ("steps", lambda: conv_spec(1, 16, 4), ["--format", "json", "--steps", "5000"]),
])
def test_a_big_typed_spec_is_refused_fast_with_advice(cli, tmp_path, name, text, args):
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(text())
    run = cli.run(["solve", str(spec), *args, "-o", str(tmp_path / "out")])
    assert run.code == 2, run.describe()
    assert run.seconds < 2, run.describe()
    assert "estimated at" in run.stderr and "past the budget" in run.stderr and "--no-limits" in run.stderr
    advice = "fewer steps" if name == "steps" else "smaller input"
    assert advice in run.stderr, run.stderr
    assert not (tmp_path / "out").exists()


def test_check_budgets_a_typed_spec_too(cli, tmp_path):
    spec = tmp_path / "conv.yaml"
    spec.write_text(lstm_spec(5000, 32))  # 22 million BPTT shares: past the budget even unprinted
    key = tmp_path / "conv.key.yaml"
    key.write_text("named:\n  loss: 0.7\n")
    start = time.monotonic()
    run = cli.run(["check", str(spec)])
    assert run.code == 2 and "past the budget" in run.stderr, run.describe()
    assert time.monotonic() - start < 2


def test_no_limits_lifts_the_budget_for_a_trusted_file(cli, tmp_path):
    spec = tmp_path / "steps.yaml"
    spec.write_text(conv_spec(1, 6, 2, steps=3))
    assert cli.run(["solve", str(spec), "--steps", "20000", "--format", "json", "-o", str(tmp_path / "o")]).code == 2
    run = cli.run(["solve", str(spec), "--steps", "40", "--format", "json", "-o", str(tmp_path / "o"), "--no-limits"])
    assert run.code == 0, run.describe()


def test_every_shipped_typed_example_is_within_budget():
    typed = [p for p in sorted(CONFIGS.glob("*.yaml")) if ".key" not in p.name
             and getattr(load_spec(p), "kind", "") == "layered"]
    assert len(typed) >= 8
    for path in typed:
        spec = load_spec(path)
        for fmt in ("json", "table", "latex", "markdown", None):
            estimate = estimate_layered(spec, fmt=fmt)
            assert estimate.within(), (path.name, fmt, estimate.describe())
            assert estimate.seconds < 2, (path.name, fmt, estimate.describe())


@pytest.mark.parametrize("kind", KINDS)
def test_the_layer_tests_specs_are_within_budget(kind):
    for seed in range(3):
        spec = loads_spec(case(kind, seed))
        for fmt in ("json", "table", None):
            assert estimate_layered(spec, fmt=fmt).within(), (kind, seed, fmt)


@pytest.mark.parametrize("text", [lambda: conv_spec(3, 40, 8), lambda: lstm_spec(300, 8, steps=2)])
def test_the_estimate_follows_the_recorded_values(text):
    """The count behind the estimate is what the solve records (named values, within
    10 %), and the time estimate is not below the measured solve by more than 2×."""
    spec = loads_spec(text())
    estimate = estimate_layered(spec, fmt=None)
    counted = dict(estimate.counts)["recorded values"]
    start = time.process_time()
    trace = solve_layered(spec)
    seconds = time.process_time() - start
    assert 0.9 <= counted / len(trace.named) <= 1.1, (counted, len(trace.named))
    assert estimate.seconds - 0.5 >= seconds / 2, (estimate.describe(), seconds)
