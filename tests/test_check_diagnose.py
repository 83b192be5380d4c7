"""Each cause of SPEC §6, found from a key with exactly that planted mistake.

The planted keys (tests/data/keys/*.key.yaml) hold correct PyTorch values plus one
wrong number, computed by hand from the formula of the mistake (its first comment
line). Each must fail at exactly that number, with that cause named.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from backprop_cli.check.compare import CheckOptions, check_spec, solve_for_check
from backprop_cli.check.diagnose import Diagnoser, Miss, parse, swap_kind
from backprop_cli.check.keys import literal_decimals, literal_tolerance
from backprop_cli.load import load_spec, loads_spec

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
KEYS = ROOT / "tests" / "data" / "keys"

PLANTED = [
    ("bce_2_2_1.sign", "dL/dW5", "sign flipped: the expected value is −computed"),
    ("bce_2_2_1.direction", "W5_new", "update in the wrong direction: old + lr·g (the gradient added instead of subtracted)"),
    ("softmax_ce.lr_left_out", "W5_new", "lr left out: old − g (lr = 0.1 not applied)"),
    ("softmax_ce.lr_twice", "W1_new", "lr applied twice: old − lr²·g (lr = 0.1)"),
    ("bce_2_2_1.sigma_output", "dL/dW5", "activation derivative left out: the chain recomputed with layer 2's σ′ = 1 (sigmoid)"),
    ("mazur.sigma_hidden", "dL/dW1", "activation derivative left out: the chain recomputed with layer 1's σ′ = 1 (sigmoid)"),
    ("bce_2_2_1.updated_weights", "dL/dW1", "updated weights used in backprop: the chain through the post-step weights"),
    ("mazur.half_left_out", "dL/dW5", "loss factor: computed × 2 (a ½ in the loss left out?)"),
    ("three_outputs.per_output", "loss", "loss factor: computed × K = 3 (the mean over the 3 outputs left out?)"),
    ("batch_xor.summed", "dL/dW5", "batch summed vs averaged: computed × N = 4 (the batch summed, not averaged?)"),
    ("softmax_ce.rounding", "dL/da3", "hand rounding at 3 decimals: backprop solve --round 3 reproduces it"),
    ("bce_2_2_1.swap_forward", "z1", "matches z2: indices swapped?"),
    ("bce_2_2_1.unexplained", "W5_new", None),
]


def spec_for(stem: str) -> Path:
    path = CONFIGS / f"{stem}.yaml"
    return path if path.exists() else KEYS / f"{stem}.yaml"


@pytest.mark.parametrize("fixture, name, cause", PLANTED, ids=[p[0] for p in PLANTED])
def test_planted_mistake_is_found_and_named(fixture: str, name: str, cause: str | None) -> None:
    key = KEYS / f"{fixture}.key.yaml"
    report = check_spec(spec_for(fixture.split(".")[0]), key, CheckOptions())
    assert [(r.name, r.cause) for r in report.mismatches] == [(name, cause)]
    assert len(report.results) > 1 and all(r.ok for r in report.results[1:])


# -- the same causes on other kinds of names, and their order -----------------------------------


@pytest.fixture(scope="module")
def seed():
    return solve_for_check(load_spec(CONFIGS / "bce_2_2_1.yaml"))


def cause(solution, name: str, expected: float, text: str | None = None) -> str | None:
    text = text or f"{expected:.6f}"
    miss = Miss(name, float(text), solution.value(name), literal_tolerance(text), literal_decimals(text))
    assert not miss.tolerance.allows(miss.expected, miss.computed), "not a mismatch"
    return Diagnoser(solution).cause(miss)


def test_sigma_left_out_carried_into_the_update(seed) -> None:
    n = seed.named
    g = n["dL/da3"] * n["W5"] * n["da1/dz1"] * 1.0  # output σ′ taken as 1, then down to W1
    assert cause(seed, "W1_new", n["W1"] - 1.0 * g).startswith("activation derivative left out: the chain recomputed with layer 2")


def test_updated_weights_carried_into_the_update(seed) -> None:
    n = seed.named
    g = n["delta3"] * n["W6_new"] * n["da2/dz2"] * 1.0
    assert cause(seed, "W4_new", n["W4"] - g) == "updated weights used in backprop: the chain through the post-step weights"


def test_updated_weights_in_hidden_delta_and_dL_da(seed) -> None:
    n = seed.named
    dL_da1 = n["delta3"] * n["W5_new"]
    assert cause(seed, "dL/da1", dL_da1).startswith("updated weights used in backprop")
    assert cause(seed, "delta1", dL_da1 * n["da1/dz1"]).startswith("updated weights used in backprop")


def test_half_added_to_the_loss(seed) -> None:
    assert cause(seed, "loss", seed.named["loss"] / 2) == "loss factor: computed × ½ (a ½ in the loss added?)"


def test_divided_by_K_outputs() -> None:
    solution = solve_for_check(load_spec(KEYS / "three_outputs.yaml"))
    assert cause(solution, "dL/dW1", solution.named["dL/dW1"] / 3) == \
        "loss factor: computed ÷ K = 3 (divided by the 3 outputs?)"


def test_batch_averaged_instead_of_summed() -> None:
    spec = loads_spec(
        "input: [[1, 0], [0, 1], [1, 1]]\ntarget: [[1], [0], [1]]\nlayers:\n"
        "  - weights: [[0.3, -0.2]]\n    bias: [0.1]\n    activation: sigmoid\n"
        "loss: bce\nreduction: sum\noptimizer: {name: sgd, lr: 0.5}\n"
    )
    solution = solve_for_check(spec)
    n = solution.named
    assert cause(solution, "loss", n["loss"] / 3) == \
        "batch summed vs averaged: computed ÷ N = 3 (the batch averaged, not summed?)"
    # W1_new from the averaged gradient: old − lr·g/N
    assert cause(solution, "W1_new", n["W1"] - 0.5 * n["dL/dW1"] / 3).startswith("batch summed vs averaged: computed ÷ N = 3")


def test_softmax_jacobian_left_out() -> None:
    solution = solve_for_check(load_spec(CONFIGS / "softmax_ce.yaml"))
    n = solution.named
    delta3 = n["dL/da3"]  # δ taken as ∂L/∂a = −t/ŷ
    assert cause(solution, "dL/dW5", delta3 * n["a1"]).startswith("activation derivative left out: layer 2's softmax Jacobian")


def test_hand_rounding_at_the_literal_decimals(seed) -> None:
    # --round 3 gives dL/da3 = 1.709; the float value is 1.710668 (1.7 units away)
    assert cause(seed, "dL/da3", 1.709, "1.709") == "hand rounding at 3 decimals: backprop solve --round 3 reproduces it"


def test_hand_rounding_is_skipped_for_adam() -> None:
    solution = solve_for_check(load_spec(CONFIGS / "adam_steps.yaml"))
    assert cause(solution, "W1_new@5", 0.5, "0.5000") is None


def test_causes_are_tested_in_spec_order() -> None:
    """W1 = 0.3 written as −0.3: both 'sign flipped' and 'matches W2' explain it; §6's
    order puts the sign first."""
    spec = loads_spec(
        "input: [1, 1]\ntarget: [1]\nlayers:\n  - weights: [[0.3, -0.3]]\n    bias: [0]\n"
        "    activation: sigmoid\nloss: mse\noptimizer: {name: sgd, lr: 1}\n"
    )
    solution = solve_for_check(spec)
    assert cause(solution, "W1", -0.3, "-0.3000") == "sign flipped: the expected value is −computed"
    assert cause(solution, "W2", 0.3, "0.3000") == "sign flipped: the expected value is −computed"


def test_swap_prefers_the_closest_name_of_the_same_kind_and_step() -> None:
    solution = solve_for_check(load_spec(CONFIGS / "batch_xor.yaml"))
    n = solution.named
    assert cause(solution, "z1#2", n["z1#3"]) == "matches z1#3: indices swapped?"
    assert cause(solution, "W1_new@3", n["W2_new@3"]) == "matches W2_new@3: indices swapped?"


def test_swap_kinds() -> None:
    assert swap_kind("W2_new", graph=False) == swap_kind("W3_new", graph=False)
    assert swap_kind("W2_new", graph=False) != swap_kind("W2_new@2", graph=False)
    assert swap_kind("W2", graph=False) != swap_kind("b2", graph=False)
    assert swap_kind("z1#2", graph=False) == swap_kind("z2#2", graph=False)
    assert swap_kind("df/dx", graph=True) == swap_kind("df/dy", graph=True) != swap_kind("x", graph=True)


def test_parse() -> None:
    p = parse("W5_new@2")
    assert (p.base, p.step, p.kind, p.param) == ("W5_new", 2, "new", "W5")
    assert parse("delta3#2").sample == 2 and parse("delta3#2").kind == "delta"
    assert parse("dL/db1").kind == "gradient" and parse("z1").kind is None
