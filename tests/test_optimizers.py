"""RMSprop and Adagrad (issue 12, item 3): PyTorch semantics, state names sq_/gavg_/buf_/sum_.

Oracles: the update rules written out by hand from torch.optim's documented algorithms
on a one-weight problem whose gradient is known in closed form (always), and PyTorch
float64 itself on random networks (when torch is installed).
"""
from __future__ import annotations

import json
import math

import pytest

from backprop_cli.network.solve import solve
from backprop_cli.load import loads_spec
from tests.cli_proc import cold
from tests.netgen import random_spec

RMSPROP = [
    "{name: rmsprop, lr: 0.01}",
    "{name: rmsprop, lr: 0.05, alpha: 0.9, momentum: 0.8}",
    "{name: rmsprop, lr: 0.02, centered: true, weight_decay: 0.1, eps: 1e-6}",
    "{name: rmsprop, lr: 0.03, alpha: 0.95, momentum: 0.5, centered: true}",
]
ADAGRAD = [
    "{name: adagrad, lr: 0.1}",
    "{name: adagrad, lr: 0.2, lr_decay: 0.3, initial_accumulator_value: 0.1}",
    "{name: adagrad, lr: 0.05, weight_decay: 0.2, eps: 1e-6}",
]


def one_weight(optimizer: str, steps: int) -> str:
    # L = (w·x − t)², one sample: ∂L/∂w = 2x(wx − t)
    return f"input: [1.5]\ntarget: [0.2]\nlayers:\n  - weights: [[0.8]]\nloss: mse\noptimizer: {optimizer}\nsteps: {steps}\n"


def by_hand(kind: str, h: dict, steps: int, w=0.8, x=1.5, t=0.2) -> list[dict]:
    """torch.optim.RMSprop / Adagrad's algorithm boxes, written out for one weight."""
    out, sq, gavg, buf, total = [], 0.0, 0.0, 0.0, h.get("initial_accumulator_value", 0.0)
    for s in range(1, steps + 1):
        g = 2 * x * (w * x - t) + h.get("weight_decay", 0.0) * w
        row = {}
        if kind == "rmsprop":
            a = h.get("alpha", 0.99)
            sq = a * sq + (1 - a) * g * g
            row["sq"] = sq
            if h.get("centered"):
                gavg = a * gavg + (1 - a) * g
                row["gavg"] = gavg
                avg = math.sqrt(sq - gavg * gavg) + h.get("eps", 1e-8)
            else:
                avg = math.sqrt(sq) + h.get("eps", 1e-8)
            if h.get("momentum"):
                buf = h["momentum"] * buf + g / avg
                row["buf"] = buf
                w = w - h["lr"] * buf
            else:
                w = w - h["lr"] * g / avg
        else:
            clr = h["lr"] / (1 + (s - 1) * h.get("lr_decay", 0.0))
            total += g * g
            row["sum"] = total
            w = w - clr * g / (math.sqrt(total) + h.get("eps", 1e-10))
        row["w"] = w
        out.append(row)
    return out


def _hyper(text: str) -> dict:
    import yaml

    h = yaml.safe_load(text)
    return {k: (float(v) if not isinstance(v, bool) else v) for k, v in h.items() if k != "name"}


@pytest.mark.parametrize("optimizer", RMSPROP + ADAGRAD)
@pytest.mark.parametrize("detail", ["scalar", "matrix"])
def test_one_weight_matches_the_algorithm_by_hand(optimizer, detail):
    kind = "rmsprop" if "rmsprop" in optimizer else "adagrad"
    trace = solve(loads_spec(one_weight(optimizer, 4)), detail=detail)
    want = by_hand(kind, _hyper(optimizer), 4)
    for s, row in enumerate(want, 1):
        suffix = "" if s == 1 else f"@{s}"
        assert trace.named[f"W1_new{suffix}"] == pytest.approx(row["w"], rel=1e-12, abs=1e-15)
        for state in ("sq", "gavg", "buf", "sum"):
            if state in row:
                assert trace.named[f"{state}_W1{suffix}"] == pytest.approx(row[state], rel=1e-12, abs=1e-15)


def test_every_update_equation_is_spelled_out():
    trace = solve(loads_spec(one_weight(RMSPROP[3], 2)), detail="scalar")
    by_name = {e.name: e.expression for e in trace.equations}
    assert by_name["sq_W1@2"] == "{alpha} * {sq_W1} + (1 - {alpha}) * {dL/dW1@2} ** 2"
    assert by_name["gavg_W1"] == "(1 - {alpha}) * {dL/dW1}"
    assert by_name["buf_W1@2"] == "{momentum} * {buf_W1} + {dL/dW1@2} / (sqrt({sq_W1@2} - {gavg_W1@2} ** 2) + {eps})"
    assert by_name["W1_new@2"] == "{W1@2} - {lr} * {buf_W1@2}"
    trace = solve(loads_spec(one_weight(ADAGRAD[1], 2)), detail="scalar")
    by_name = {e.name: e.expression for e in trace.equations}
    assert by_name["sum_W1"] == "{initial_accumulator_value} + {dL/dW1} ** 2"
    assert by_name["W1_new@2"] == "{W1@2} - {lr} / (1 + 1 * {lr_decay}) * ({dL/dW1@2} / (sqrt({sum_W1@2}) + {eps}))"


def test_check_reads_the_state_names(tmp_path):
    want = by_hand("rmsprop", _hyper(RMSPROP[3]), 2)
    spec = tmp_path / "net.yaml"
    spec.write_text(one_weight(RMSPROP[3], 2))
    key = tmp_path / "net.key.yaml"
    key.write_text(f"named:\n  sq_W1: {want[0]['sq']!r}\n  gavg_W1@2: {want[1]['gavg']!r}\n"
                   f"  buf_W1@2: {want[1]['buf']!r}\n  W1_new@2: {want[1]['w']!r}\n  alpha: 0.95\n")
    run = cold(["check", str(spec), "--format", "json"])
    assert run.code == 0, run.describe()
    assert len(json.loads(run.stdout)["specs"][0]["results"]) == 5
    key.write_text("named:\n  sum_W1: 0.5\n")  # an adagrad state on an rmsprop network
    run = cold(["check", str(spec)])
    assert run.code == 2 and "sum_W1" in run.stderr, run.describe()


def test_round_refuses_a_second_moment_rounded_to_zero(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(one_weight("{name: rmsprop, lr: 0.01}", 1).replace("[0.2]", "[1.19]"))  # g = 0.003
    run = cold(["solve", str(spec), "--round", "4"])
    assert run.code == 2 and "use more decimals" in run.stderr, run.describe()
    assert cold(["solve", str(spec), "--round", "8"]).code == 0


@pytest.mark.parametrize("field,value", [("alpha", "-0.1"), ("lr_decay", "-1"), ("eps", "-1e-8"),
                                         ("initial_accumulator_value", "-0.5"), ("centered", "maybe"),
                                         ("betas", "[0.9, 0.99]")])
def test_bad_hyperparameters_name_their_field(tmp_path, field, value):
    kind = "rmsprop" if field in ("alpha", "centered", "betas") else "adagrad"
    spec = tmp_path / "bad.yaml"
    spec.write_text(one_weight(f"{{name: {kind}, lr: 0.1, {field}: {value}}}", 1))
    run = cold(["validate", str(spec)])
    assert run.code == 2 and f"optimizer.{field}" in run.stderr and "Traceback" not in run.stderr, run.describe()


@pytest.mark.parametrize("seed", range(14))
def test_random_networks_match_torch(seed):
    pytest.importorskip("torch")
    from tests.test_torch_parity import compare

    optimizers = RMSPROP + ADAGRAD
    spec = loads_spec(random_spec(9100 + seed, optimizer=optimizers[seed % len(optimizers)], steps=3))
    compare(spec, 3)
    compare(spec, 3, detail="matrix")
