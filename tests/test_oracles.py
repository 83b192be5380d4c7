"""Gradients against independent oracles on random networks (issue 2, item 9).

Every activation × loss × reduction × optimizer appears: the networks come from
tests/netgen.py with fixed seeds, so a failure is reproducible by its seed.
"""
from __future__ import annotations


import numpy as np
import pytest

from backprop_cli.load import loads_spec
from backprop_cli.network.solve import solve
from tests.netgen import HIDDEN_ACTIVATIONS, OPTIMIZERS, OUTPUT_FOR_LOSS, random_spec
from tests.oracles import finite_difference_gradients, sympy_gradients

COMBOS = [
    (loss, out, hidden, red)
    for loss, outs in OUTPUT_FOR_LOSS.items()
    for out in outs
    for hidden, red in [(HIDDEN_ACTIVATIONS[i % 5], ("mean", "sum")[i % 2]) for i in range(2)]
]


def _grads(trace):
    return {k[len("dL/d"):]: v for k, v in trace.named.items() if k.startswith("dL/d") and k[4] in "Wb" and "@" not in k}


@pytest.mark.parametrize("case", range(len(COMBOS)))
def test_gradients_match_sympy(case):
    loss, out, hidden, red = COMBOS[case]
    spec = loads_spec(random_spec(case, loss=loss, output=out, hidden=hidden, reduction=red))
    ours = _grads(solve(spec))
    expected = sympy_gradients(spec)
    assert set(ours) == set(expected)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("seed", range(40))
def test_gradients_match_finite_differences(seed):
    spec = loads_spec(random_spec(1000 + seed))
    ours = _grads(solve(spec))
    fd = finite_difference_gradients(spec)
    for name, value in fd.items():
        assert ours[name] == pytest.approx(value, rel=1e-5, abs=1e-7), name


# The scalar derivation against the numpy engine: tests/test_solve_paths.py.


def _manual_optimizer(kind, params, grads_per_step):
    """SPEC §2 optimizer formulas written out independently for one scalar parameter."""
    out = []
    p = params
    buf = m = v = None
    for t, g in enumerate(grads_per_step, 1):
        if kind == "momentum":
            buf = g if buf is None else 0.9 * buf + g
            p = p - 0.2 * buf
        elif kind == "adam":
            m = 0.1 * g if m is None else 0.9 * m + 0.1 * g
            v = 0.001 * g * g if v is None else 0.999 * v + 0.001 * g * g
            p = p - 0.05 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        out.append(p)
    return out


@pytest.mark.parametrize("kind,optimizer", [("momentum", OPTIMIZERS[1]), ("adam", OPTIMIZERS[3])])
def test_optimizer_follows_pytorch_formulas(kind, optimizer):
    spec = loads_spec(
        "input: [1.5]\ntarget: [0.2]\nlayers:\n  - weights: [[0.7]]\n"
        f"loss: mse\noptimizer: {optimizer}\nsteps: 4\n"
    )
    trace = solve(spec)
    grads = [trace.named["dL/dW1" + ("" if s == 1 else f"@{s}")] for s in range(1, 5)]
    expected = _manual_optimizer(kind, 0.7, grads)
    got = [trace.named["W1_new" + ("" if s == 1 else f"@{s}")] for s in range(1, 5)]
    assert got == pytest.approx(expected, rel=1e-12)


def test_gradients_use_the_weights_before_the_step():
    spec = loads_spec(
        "input: [1, 2]\ntarget: [1]\nlayers:\n  - weights: [[0.5, -0.5], [0.3, 0.2]]\n    activation: sigmoid\n"
        "  - weights: [[0.4, 0.6]]\nloss: mse\nlr: 10\n"
    )
    trace = solve(spec)
    # dL/da1 = dL/dz3 × W5 with the OLD W5 (0.4), not the updated one
    assert trace.named["dz3/da1"] == 0.4
    assert trace.named["dL/da1"] == pytest.approx(trace.named["delta3"] * 0.4)
