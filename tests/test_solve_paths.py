"""The two ways a float solve runs agree, and the numpy-free one is really taken.

Small networks are solved by the scalar derivation alone (every value its printed
expression, evaluated in float64, numpy never imported); the rest by the numpy engine.
Both are the same math written twice, so each checks the other: every canonical name,
every record array, every loss, on random networks over every activation × loss ×
reduction × optimizer, single samples and batches, over several steps.
"""
from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from backprop_cli.grid import Grid
from backprop_cli.network.names import NetworkNames
from backprop_cli.network.solve import RECORD_ALL_STEPS, solve
from backprop_cli.network.solve_engine import solve_with_engine
from backprop_cli.load import loads_spec
from tests.netgen import OPTIMIZERS, random_spec

ARRAYS = ("z", "a", "dL_da", "da_dz", "delta", "weights_before", "bias_before", "grad_weights",
          "grad_bias", "weights", "bias")


def _engine(spec, steps: int):
    return solve_with_engine(spec, NetworkNames.of(spec), steps, list(range(1, steps + 1)), "scalar", None)


def _close(a, b, what: str) -> None:
    if a is None or b is None:
        assert a is None and b is None, what
        return
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=1e-11, atol=1e-13, err_msg=what)


@pytest.mark.parametrize("seed,optimizer", list(itertools.product(range(8), range(len(OPTIMIZERS)))))
def test_derivation_path_agrees_with_engine(seed, optimizer):
    spec = loads_spec(random_spec(3000 + seed * 11 + optimizer, optimizer=OPTIMIZERS[optimizer], steps=3))
    ours = solve(spec, detail="scalar")
    engine = _engine(spec, 3)
    assert isinstance(ours.steps[0].layers[0].z, Grid), "the numpy-free path was not taken"
    assert set(ours.named) == set(engine.named)
    for name, value in engine.named.items():
        assert ours.named[name] == pytest.approx(value, rel=1e-11, abs=1e-13), name
    assert ours.losses == pytest.approx(engine.losses, rel=1e-12)
    assert [e.name for e in ours.equations] == [e.name for e in engine.equations]
    assert [e.expression for e in ours.equations] == [e.expression for e in engine.equations]
    for mine, theirs in zip(ours.steps, engine.steps):
        for l, (a, b) in enumerate(zip(mine.layers, theirs.layers)):
            for field in ARRAYS:
                _close(getattr(a, field), getattr(b, field), f"step {mine.step} layer {l + 1} {field}")


def test_overflowing_printed_form_falls_back_to_the_stable_engine():
    # e^800 overflows the printed 1/(1 + e^−z): the engine's values are used instead
    spec = loads_spec("input: [1]\ntarget: [1]\nlayers:\n  - weights: [[-800]]\n    activation: sigmoid\n"
                 "loss: mse\nlr: 0.1\n")
    trace = solve(spec)
    assert not isinstance(trace.steps[0].layers[0].z, Grid)
    assert trace.named["a1"] == 0.0 and trace.named["z1"] == -800.0


def test_softmax_of_very_negative_logits_keeps_its_digits():
    # e^−740 is subnormal: the printed e^z / Σ e^z would lose digits; the shift keeps them
    spec = loads_spec("input: [1]\ntarget: 0\nlayers:\n  - weights: [[-740], [-741]]\n    activation: softmax\n"
                 "loss: cross_entropy\nlr: 0.1\n")
    ours = solve(spec)
    engine = _engine(spec, 1)
    assert isinstance(ours.steps[0].layers[0].z, Grid)
    for name in ("a1", "a2", "loss", "dL/dW1", "dL/dW2", "loss_after"):
        assert ours.named[name] == pytest.approx(engine.named[name], rel=1e-14), name
    assert ours.named["a1"] == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-15)


def test_cross_entropy_of_a_nearly_right_prediction_keeps_its_digits():
    # loss = log(1 + e^−20) ≈ 2.06e-9: PyTorch's log-softmax form, not log Σ e^z − z
    spec = loads_spec("input: [1]\ntarget: 0\nlayers:\n  - weights: [[20], [0]]\n    activation: softmax\n"
                 "loss: cross_entropy\nlr: 0.1\n")
    ours = solve(spec)
    engine = _engine(spec, 1)
    assert ours.named["loss"] == engine.named["loss"]
    assert ours.named["loss"] == pytest.approx(-np.log(1 / (1 + np.exp(-20.0))), rel=1e-7)


def test_large_long_or_batched_solves_use_the_engine():
    big = loads_spec(random_spec(7, samples=3))
    assert not isinstance(solve(big).steps[0].layers[0].z, Grid)  # a batch: matrix detail
    long = loads_spec(random_spec(8, samples=1))
    trace = solve(long, steps=RECORD_ALL_STEPS + 1)
    assert not isinstance(trace.steps[0].layers[0].z, Grid)


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_a_worked_example_never_imports_numpy(fmt):
    code = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: sys.stderr.write('MODULES ' + ' '.join(m for m in sys.modules"
        " if m.split('.')[0] == 'numpy')))\n"
        "sys.argv = ['backprop'] + sys.argv[1:]\n"
        "runpy.run_module('backprop_cli', run_name='__main__')\n"
    )
    out = subprocess.run([sys.executable, "-c", code, "solve", "configs/bce_2_2_1.yaml", "--format", fmt],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr.split("MODULES")[-1].split() == []


@pytest.mark.parametrize("example", ["relu_leaky", "rational_relu"])
def test_json_never_writes_negative_zero(example):
    # a ReLU's zero derivative times a negative number is −0.0 in float arithmetic
    from backprop_cli.render import render
    from backprop_cli.load import load_spec

    text = render(solve(load_spec(f"configs/{example}.yaml"), steps=2), "json")
    assert "-0.0," not in text and "-0.0]" not in text


@pytest.mark.parametrize("enabled", [True, False])
def test_solve_restores_the_collector_as_it_found_it(enabled):
    import gc

    from backprop_cli.load import load_spec

    spec = load_spec("configs/bce_2_2_1.yaml")
    (gc.enable if enabled else gc.disable)()
    try:
        solve(spec)
        assert gc.isenabled() is enabled
        with pytest.raises(Exception):
            solve(spec, steps=0)  # an error inside the pause restores it too
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_solve_leaves_nothing_frozen_unless_the_caller_froze_first():
    import gc

    from backprop_cli.load import load_spec

    spec = load_spec("configs/bce_2_2_1.yaml")
    assert gc.get_freeze_count() == 0
    solve(spec)
    assert gc.get_freeze_count() == 0  # a library caller's heap stays the collector's
    gc.freeze()  # as the CLI's entry does after start-up
    try:
        before = gc.get_freeze_count()
        solve(spec)
        assert gc.get_freeze_count() > before  # the solve's objects joined, nothing was unfrozen
    finally:
        gc.unfreeze()
