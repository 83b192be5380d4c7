"""Numerics at the edges (issue 7 §3, SPEC §2/§8).

Sigmoid, tanh, softmax, log-sum-exp and the BCE clamp are stable for |z| up to 1e4: no
NaN, no inf, no numpy warning, and the same numbers as PyTorch float64 (or the known
limits). A number that cannot be represented anyway (an optimizer diverging, a probability
that underflowed to 0 under a log) is an error naming the file, the step and the
quantity — never printed.

The CLI runs here are processes of their own with every warning turned into an error (as
`python -W error`; a few cold, the rest forked from a warm interpreter, tests/cli_proc.py),
and their JSON is parsed with NaN/Infinity refused.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from backprop_cli.calc import functions as F
from backprop_cli.load import loads_spec

from .cli_proc import WarmCLI, cold

EXTREME = [-1e4, -1000.0, -745.2, -710.0, -37.0, -1e-300, 0.0, 1e-300, 37.0, 710.0, 745.2, 1000.0, 1e4]


def _no_float_trouble():
    return np.errstate(over="raise", invalid="raise", divide="raise")  # underflow to 0 is fine


# ----------------------------------------------------------------------------------------
# the functions themselves


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "identity"])
def test_activations_are_finite_and_silent(name):
    z = np.array([EXTREME])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a, da = F.activate(name, z)
    assert np.isfinite(a).all() and np.isfinite(da).all()
    if name == "sigmoid":
        assert a[0, 0] == 0.0 or a[0, 0] < 1e-300  # sigmoid(-1e4) underflows to 0, never NaN
        assert a[0, -1] == 1.0 and da[0, -1] == 0.0
        assert a[0, 6] == 0.5


def test_softmax_and_log_softmax_are_finite_and_silent():
    z = np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4], [-1e4, -1e4, -1e4], [710.0, 709.0, -745.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a, da = F.activate("softmax", z)
        lse = -F.log_softmax(z)[:, 0] + z[:, 0]  # log Σ exp z, recovered from the first column
    assert da is None
    assert np.isfinite(a).all() and np.isfinite(lse).all()
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-15)
    assert a[0].tolist() == [0.0, 0.0, 1.0]
    assert lse[0] == 1e4 and lse[1] == pytest.approx(1e4 + np.log(2), rel=1e-15)
    assert lse[2] == pytest.approx(-1e4 + np.log(3), rel=1e-15)


def test_bce_clamps_like_torch_at_0_and_1():
    a = np.array([[0.0, 1.0, 1e-300, 1.0 - 1e-16, 0.5]])
    t = np.array([[1.0, 0.0, 1.0, 0.0, 1.0]])
    with _no_float_trouble():
        loss = F.loss_value("bce", "sum", a, np.zeros_like(a), t)
        grad = F.loss_grad("bce", "sum", a, t)
    # −log clamped at 100: log 0 (twice) and log 1e-300 = −690.8 all count 100
    assert loss == pytest.approx(300 - np.log(1 - a[0, 3]) + np.log(2), rel=1e-15)
    assert np.isfinite(grad).all()
    eps = float(np.float32(1e-12))  # torch's EPSILON, a float32
    assert grad[0, 0] == -1 / eps and grad[0, 1] == 1 / eps  # (ŷ − t) / max(ŷ(1 − ŷ), eps)


def test_cross_entropy_gradient_has_no_0_over_0():
    a = np.array([[0.0, 1.0, 0.0]])  # softmax underflowed
    t = np.array([[0.0, 1.0, 0.0]])
    with _no_float_trouble():
        g = F.loss_grad("cross_entropy", "mean", a, t)
    assert g.tolist() == [[0.0, -1.0, 0.0]]


def test_functions_match_torch_at_the_extremes():
    torch = pytest.importorskip("torch")
    z = torch.tensor([EXTREME], dtype=torch.float64, requires_grad=True)
    for name, fn in (("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
        out = fn(z)
        (grad,) = torch.autograd.grad(out.sum(), z)
        a, da = F.activate(name, z.detach().numpy())
        # atol: at z = −710 torch flushes e^−710 = 4.5e-309 (a subnormal) to 0; we keep it
        np.testing.assert_allclose(a, out.detach().numpy(), rtol=1e-15, atol=1e-300, err_msg=name)
        np.testing.assert_allclose(da, grad.numpy(), rtol=1e-12, atol=1e-300, err_msg=name)
    logits = torch.tensor([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4], [710.0, 709.0, -745.0]], dtype=torch.float64)
    a, _ = F.activate("softmax", logits.numpy())
    np.testing.assert_allclose(a, torch.softmax(logits, dim=1).numpy(), rtol=1e-15, atol=0)
    np.testing.assert_array_equal(F.log_softmax(logits.numpy()), torch.log_softmax(logits, dim=1).numpy())
    targets = torch.tensor([2, 0, 1])
    ours = F.loss_value("cross_entropy", "mean", a, logits.numpy(), np.eye(3)[targets.numpy()])
    theirs = torch.nn.functional.cross_entropy(logits, targets).item()
    assert ours == pytest.approx(theirs, rel=1e-15)
    p = torch.tensor([[0.0, 1.0, 1e-300, 0.5, 1.0 - 1e-16]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0]], dtype=torch.float64)
    loss = torch.nn.BCELoss(reduction="mean")(p, t)
    (grad,) = torch.autograd.grad(loss, p)
    pn, tn = p.detach().numpy(), t.numpy()
    assert F.loss_value("bce", "mean", pn, pn, tn) == pytest.approx(loss.item(), rel=1e-15)
    # where ŷ(1 − ŷ) < 1e-12 torch divides by its eps as a float32 (9.99999996e-13): so do we
    np.testing.assert_allclose(F.loss_grad("bce", "mean", pn, tn), grad.numpy(), rtol=1e-15)


# ----------------------------------------------------------------------------------------
# whole solves through the CLI, under -W error


def _spec(weights, activation, loss, target, bias="", inp="[1, 1]", lr="0.5", extra=""):
    return (f"input: {inp}\ntarget: {target}\nlayers:\n  - weights: [[0.5, -0.25], [0.75, 0.5]]\n"
            f"    activation: sigmoid\n  - weights: {weights}\n{bias}    activation: {activation}\n"
            f"loss: {loss}\nlr: {lr}\n{extra}")


EXTREME_SPECS = {
    # sigmoid output driven to z ≈ ∓1e4: a = 0 or 1 exactly, BCE clamped at 100 / 0
    "sigmoid_bce_low_wrong": _spec("[[-10000, -10000]]", "sigmoid", "bce", "[1]"),
    "sigmoid_bce_low_right": _spec("[[-10000, -10000]]", "sigmoid", "bce", "[0]"),
    "sigmoid_bce_high_wrong": _spec("[[10000, 10000]]", "sigmoid", "bce", "[0]"),
    "sigmoid_mse_high": _spec("[[10000, 10000]]", "sigmoid", "mse", "[0.5]"),
    "tanh_mse_both": _spec("[[10000, 10000], [-10000, -10000]]", "tanh", "mse", "[0, 0]"),
    "relu_mse_big": _spec("[[10000, 10000]]", "relu", "mse", "[1]", lr="1e-9"),
    # softmax + cross-entropy with logits ±1e4 and the target on the big logit: finite
    "softmax_ce_confident_right": _spec("[[10000, 10000], [-10000, -10000]]", "softmax", "cross_entropy", "0"),
    "softmax_ce_batch": _spec("[[10000, 10000], [-10000, -10000], [0, 0]]", "softmax", "cross_entropy",
                              "[0, 0]", inp="[[1, 1], [2, 2]]"),
    "softmax_mse": _spec("[[10000, 10000], [-10000, -10000]]", "softmax", "mse", "[1, 0]"),
    "bias_1e4": _spec("[[0.1, 0.1]]", "sigmoid", "bce", "[1]", bias="    bias: [-10000]\n"),
}
def _strict_json(text):
    def refuse(constant):
        raise ValueError(f"{constant} in the JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def warm():
    cli = WarmCLI()
    yield cli
    cli.close()


def _run_all(warm, jobs, cwd, cold_count):
    """Run argument lists two at a time under -W error: the first `cold_count` cold."""
    def one(i_args):
        i, args = i_args
        if i < cold_count:
            return cold(args, cwd=cwd, timeout=60, python_flags=("-W", "error"))
        return warm.run(args, cwd=cwd, timeout=60, werror=True)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, enumerate(jobs)))


@pytest.fixture(scope="module")
def extreme_runs(tmp_path_factory, warm):
    root = tmp_path_factory.mktemp("extreme")
    jobs = []
    for name, text in EXTREME_SPECS.items():
        path = root / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        for detail in ("matrix", "scalar"):
            jobs.append(((name, detail), ["solve", path, "--format", "json", "--detail", detail]))
    runs = _run_all(warm, [args for _, args in jobs], root, cold_count=2)
    return {key: run for (key, _), run in zip(jobs, runs)}


def _check_against_torch(name, run):
    assert run.code == 0, run.describe()
    assert run.stderr == "", run.describe()  # no warning of any kind
    doc = _strict_json(run.stdout)
    pytest.importorskip("torch")
    from tests.test_torch_parity import torch_run

    spec = loads_spec(EXTREME_SPECS[name], f"{name}.yaml")
    ref = torch_run(spec, 1)
    step = doc["steps"][0]
    assert step["loss"] == pytest.approx(ref[0]["loss"], rel=1e-12, abs=1e-300)
    for l, layer in enumerate(step["layers"]):
        for ours, key in (("z", "z"), ("a", "a"), ("delta", "delta"), ("grad_weights", "grad_w"), ("weights", "W_new")):
            np.testing.assert_allclose(np.array(layer[ours], dtype=float), ref[0][key][l], rtol=1e-9, atol=1e-12,
                                       err_msg=f"{name}: {ours} of layer {l + 1}")
    assert doc["loss_after"] == pytest.approx(ref[1]["loss"], rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("name", sorted(EXTREME_SPECS))
def test_extreme_inputs_matrix_detail(name, extreme_runs):
    _check_against_torch(name, extreme_runs[(name, "matrix")])


@pytest.mark.parametrize("name", sorted(EXTREME_SPECS))
def test_extreme_inputs_scalar_detail(name, extreme_runs):
    _check_against_torch(name, extreme_runs[(name, "scalar")])


# ----------------------------------------------------------------------------------------
# what cannot be represented is an error naming file, step and quantity

DIVERGING = {
    # the update moves W by ~lr: the loss of step 2 is beyond float64
    "adam_absurd_lr": ("input: [1, 1]\ntarget: [0]\nlayers:\n  - weights: [[1, 1]]\nloss: mse\n"
                       "optimizer: {name: adam, lr: 1e300}\nsteps: 3\n", ["step 2", "loss", "not a finite number"]),
    "sgd_absurd_lr": ("input: [1, 1]\ntarget: [0]\nlayers:\n  - weights: [[1, 1]]\nloss: mse\n"
                      "optimizer: {name: sgd, lr: 1e300}\nsteps: 3\n", ["step 2", "loss", "not a finite number"]),
    "sgd_update_overflows": ("input: [1, -1]\ntarget: [1]\nlayers:\n  - weights: [[1e308, 1e308]]\nloss: mse\n"
                             "lr: 1e308\n", ["step 1", "updated weights of layer 1", "smaller lr"]),
    "forward_overflows": ("input: [1e300, 1e300]\ntarget: [0]\nlayers:\n  - weights: [[1e10, 1e10]]\nloss: mse\n"
                          "lr: 0.1\n", ["step 1", "z of layer 1", "not a finite number"]),
    # a probability that underflowed to 0 exactly: ∂L/∂ŷ = −t/ŷ is −inf (a documented limit)
    "ce_target_on_vanishing_class": (_spec("[[10000, 10000], [-10000, -10000]]", "softmax", "cross_entropy", "1"),
                                     ["step 1", "dL/da of layer 2", "not a finite number"]),
}


@pytest.mark.parametrize("detail", ["matrix", "scalar"])
def test_non_finite_results_are_named_errors(detail, tmp_path, warm):
    jobs = []
    for name, (text, _) in DIVERGING.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        jobs.append(["solve", path, "--format", "json", "--detail", detail])
    runs = _run_all(warm, jobs, tmp_path, cold_count=1)
    for (name, (_, words)), run in zip(DIVERGING.items(), runs):
        assert run.code == 2, (name, run.describe())
        assert run.stdout == "", (name, run.describe())
        assert run.stderr.startswith("error: ") and "Traceback" not in run.stderr, (name, run.describe())
        assert f"{name}.yaml" in run.stderr, (name, run.describe())
        for word in words:
            assert word in run.stderr, (name, word, run.describe())
