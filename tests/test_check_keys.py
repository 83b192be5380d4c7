"""Answer keys: literal tolerances, what a key may say, and how bad keys fail (exit 2)."""
from __future__ import annotations

from pathlib import Path

import pytest

from backprop_cli.check.compare import CheckOptions, check_spec, solve_for_check
from backprop_cli.errors import KeyFileError
from backprop_cli.check.keys import Tolerance, literal_decimals, literal_tolerance, read_key, resolve
from backprop_cli.load import load_spec

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


@pytest.mark.parametrize("text, tolerance", [
    ("0.4510", 1.5e-4), ("-0.7196", 1.5e-4), ("2.5e-5", 1.5e-6), ("1.2e3", 150.0), ("3.", 1.5),
    ("1e-3", 1.5e-3), ("12", 1e-9), ("-3", 1e-9), ("3/4", 1e-9), ("0.5", 0.15),
])
def test_literal_tolerance(text: str, tolerance: float) -> None:
    assert literal_tolerance(text).abs == pytest.approx(tolerance)
    assert literal_tolerance(text).rel == 0


def test_literal_decimals() -> None:
    assert [literal_decimals(t) for t in ("0.4510", "2.5e-5", "12", "3/4")] == [4, 6, None, None]


def test_tolerance_is_abs_or_rel() -> None:
    t = Tolerance(abs=1e-3, rel=1e-2)
    assert t.allows(100.0, 100.9) and t.allows(0.0, 0.0009)
    assert not t.allows(100.0, 101.1) and not t.allows(0.0, 0.0011)
    assert t.limit(100.0) == pytest.approx(1.0)
    assert Tolerance(abs=1.5e-4).allows(0.4514, 0.45155)  # exactly on the limit


def entries(spec: str, key_text: str, tmp_path: Path):
    key = tmp_path / "k.key.yaml"
    key.write_text(key_text, encoding="utf-8")
    solution = solve_for_check(load_spec(CONFIGS / f"{spec}.yaml"))
    return resolve(read_key(key), solution)


def key_error(spec: str, key_text: str, tmp_path: Path) -> KeyFileError:
    with pytest.raises(KeyFileError) as info:
        entries(spec, key_text, tmp_path)
    return info.value


# -- what a key may say ---------------------------------------------------------------------


def test_named_and_bare_names_and_step_suffixes(tmp_path: Path) -> None:
    got = entries("batch_xor", "loss: 0.2646\nnamed:\n  loss@1: 0.2646\n  W5_new@3: 0.6608\n"
                  "  loss_after@1: 0.2639\n  loss_after@3: 0.2608\n  z3#2: -0.3665\n", tmp_path)
    assert [(e.label, e.name) for e in got] == [
        ("loss", "loss"), ("loss@1", "loss"), ("W5_new@3", "W5_new@3"),
        ("loss_after@1", "loss@2"), ("loss_after@3", "loss_after"), ("z3#2", "z3#2"),
    ]
    assert all(abs(e.computed - e.expected) < 1.5e-4 for e in got)


def test_single_sample_rows_may_drop_the_batch_nesting(tmp_path: Path) -> None:
    flat = entries("bce_2_2_1", "steps:\n  - layers:\n      - {layer: 2, z: [-0.3415], a: [0.4154]}\n", tmp_path)
    nested = entries("bce_2_2_1", "steps:\n  - layers:\n      - {layer: 2, z: [[-0.3415]], a: [[0.4154]]}\n", tmp_path)
    assert [e.label for e in flat] == [e.label for e in nested] == ["steps[0].layers[1].z[0][0]", "steps[0].layers[1].a[0][0]"]
    assert [e.name for e in flat] == ["z3", "a3"]


def test_records_match_by_their_step_and_layer_fields(tmp_path: Path) -> None:
    got = entries("batch_xor", "steps:\n  - step: 3\n    loss: 0.2625\n    layers:\n"
                  "      - layer: 2\n        delta: [[0.07], [-0.07], [-0.05], [0.06]]\n", tmp_path)
    assert got[0].label == "steps[2].loss" and got[0].name == "loss@3"
    assert got[1].label == "steps[2].layers[1].delta[0][0]" and got[1].name == "delta3#1@3"


def test_shared_bias_is_a_scalar_and_names_one_parameter(tmp_path: Path) -> None:
    got = entries("mazur", "steps:\n  - layers:\n      - {layer: 2, bias: 0.599192, grad_bias: 0.101616}\n"
                  "named: {b2_new: 0.599192}\n", tmp_path)
    assert [(e.label, e.name) for e in got] == [
        ("steps[0].layers[1].bias", "b2_new"), ("steps[0].layers[1].grad_bias", "dL/db2"), ("b2_new", "b2_new"),
    ]


def test_losses_and_equations_of_the_json_structure(tmp_path: Path) -> None:
    got = entries("bce_2_2_1", "losses: [0.5368, 0.2804]\nloss_after: 0.2804\nsteps:\n  - equations:\n"
                  "      - {name: dL/dW5, value: 0.2727, operands: {dz3/dW5: 0.6565}}\n", tmp_path)
    assert [(e.label, e.name) for e in got] == [
        ("losses[0]", "loss"), ("losses[1]", "loss_after"), ("loss_after", "loss_after"),
        ("steps[0].equations[" + str(_equation_index("dL/dW5")) + "].value", "dL/dW5"),
        ("steps[0].equations[" + str(_equation_index("dL/dW5")) + "].operands.dz3/dW5", "dz3/dW5"),
    ]


def _equation_index(name: str) -> int:
    from backprop_cli.network.solve import solve

    trace = solve(load_spec(CONFIGS / "bce_2_2_1.yaml"))
    return next(i for i, e in enumerate(trace.steps[0].equations) if e.name == name)


def test_local_factors_need_the_scalar_derivation(tmp_path: Path) -> None:
    got = entries("bce_2_2_1", "named: {dz3/dW5: 0.6565, dz3/da1: -0.1725, x1: 1, lr: 1}\n", tmp_path)
    assert [e.computed for e in got] == pytest.approx([0.6565145265936446, -0.1725, 1, 1])


def test_text_fields_are_compared_as_text(tmp_path: Path) -> None:
    key = tmp_path / "k.key.yaml"
    key.write_text("kind: network\nformat: backprop/2\nsteps:\n  - layers:\n      - {layer: 1, frozen: []}\n")
    report = check_spec(CONFIGS / "bce_2_2_1.yaml", key, CheckOptions())
    assert [(r.name, r.ok) for r in report.results] == [
        ("format", False), ("kind", True), ("steps[0].layers[0].frozen", True),
    ]


def test_the_json_output_itself_is_a_passing_key(tmp_path: Path) -> None:
    from backprop_cli.render.json_out import render_json
    from backprop_cli.network.solve import solve

    key = tmp_path / "all.key.yaml"
    key.write_text(render_json(solve(load_spec(CONFIGS / "mazur.yaml"))), encoding="utf-8")
    report = check_spec(CONFIGS / "mazur.yaml", key, CheckOptions())
    assert report.ok and len(report.results) > 300


# -- bad keys: exit 2 with file, line, column, path and a suggestion ------------------------------


def test_name_this_network_lacks(tmp_path: Path) -> None:
    e = key_error("bce_2_2_1", "named:\n  W99_new: 0.1\n", tmp_path)
    assert (e.line, e.column, e.path) == (2, 3, "named.W99_new")
    assert "this network has no W99_new" in str(e)
    assert "did you mean 'W6_new'?" in str(e) and "W1…W6" in str(e)


def test_unknown_name_with_suggestion(tmp_path: Path) -> None:
    e = key_error("bce_2_2_1", "named:\n  dl/dW5: 0.2727\n", tmp_path)
    assert "unknown name 'dl/dW5'" in str(e) and "did you mean 'dL/dW5'?" in str(e)


@pytest.mark.parametrize("text, message", [
    ("named: {W5_new@2: 0.1}", "step 2 is out of range"),
    ("steps: [{step: 4, loss: 0.1}]", "step 4 is out of range"),
    ("steps: [{loss: 0.1}, {loss: 0.1}]", "record 1 is out of range"),
    ("steps: [{layers: [{layer: 3, z: [0.1]}]}]", "layer 3 is out of range"),
    ("steps: [{layers: [{layer: 1, weights: [[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]]}]}]", "wrong shape"),
    ("steps: [{layers: [{layer: 1, weights: [0.1, 0.2]}]}]", "wrong shape"),
    ("steps: [{layers: [{layer: 1, wieghts: [[0.1]]}]}]", "did you mean 'weights'?"),
    ("named: {loss: abc}", "expected a number, found 'abc'"),
    ("named: {loss: true}", "found the boolean true"),
    ("named: {loss: .nan}", "not a finite number"),
    ("named: {loss: [0.5]}", "expected a number, found a list of 1"),
    ("named: [loss]", "expected a mapping"),
    ("values: {x: 1}", "'values' belongs to graph specs"),
    ("weights: [[1]]", "layer fields go under steps"),
    ("tolerance: {abs: -1}", "expected a number ≥ 0"),
    ("tolerance: {abss: 1}", "did you mean 'abs'?"),
    ("- loss: 1", "not an answer key"),
    ("loss: 1\nloss: 2", "duplicate key 'loss'"),
])
def test_bad_keys(tmp_path: Path, text: str, message: str) -> None:
    e = key_error("bce_2_2_1", text + "\n", tmp_path)
    assert message in str(e)
    assert e.file.endswith("k.key.yaml") and e.line is not None


def test_batch_names_need_a_sample(tmp_path: Path) -> None:
    e = key_error("batch_xor", "z1: 0.1\n", tmp_path)
    assert "this spec is a batch" in str(e) and "z1#1 … z1#4" in str(e)


def test_softmax_layer_has_no_da_dz(tmp_path: Path) -> None:
    e = key_error("softmax_ce", "steps: [{layers: [{layer: 2, da_dz: [0.1, 0.2]}]}]\n", tmp_path)
    assert "layer 2 is softmax: it has no da_dz" in str(e)


def test_layer_without_bias(tmp_path: Path) -> None:
    spec = tmp_path / "nobias.yaml"
    spec.write_text("input: [1]\ntarget: [1]\nlayers:\n  - weights: [[0.5]]\nloss: mse\nlr: 0.1\n")
    key = tmp_path / "nobias.key.yaml"
    key.write_text("steps: [{layers: [{layer: 1, bias: 0.1}]}]\n")
    with pytest.raises(KeyFileError, match="the output has null here"):
        check_spec(spec, key, CheckOptions())
    key.write_text("named: {b1: 0.1}\n")
    with pytest.raises(KeyFileError, match="this network has no biases"):
        check_spec(spec, key, CheckOptions())


def test_exact_comparison_of_fraction_strings() -> None:
    """--exact: rationals compare equal or not; closed forms to 1e-30 relative."""
    import sympy
    from fractions import Fraction

    from backprop_cli.check.compare import _exact_compare

    assert _exact_compare(Fraction(272, 625), "272/625") == (True, 0.0, 0.0)
    assert _exact_compare(Fraction(1, 3), "333/1000")[0] is False
    close = sympy.Rational(1, 3) + sympy.exp(-1000, evaluate=False)  # 1/3 + 5e-435
    ok, gap, limit = _exact_compare(close, "1/3")
    assert ok and limit == pytest.approx(1e-30 / 3)
    assert _exact_compare(sympy.sqrt(2), "1414213562373095/1000000000000000")[0] is False
