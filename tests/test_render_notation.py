"""Notation presets (standard, mazur, hidden_output, indexed), the spec's `notation:` block and
`--notation`: display symbols change, canonical names (JSON, answer keys) never do."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from backprop_cli.cli import app
from backprop_cli.errors import BackpropError
from backprop_cli.render.notation import PRESETS, Notation
from backprop_cli.render import render
from tests.test_render_golden import ROOT, solve_example

CONFIGS = ROOT / "configs"


@pytest.fixture(scope="module")
def mazur_spec():
    from backprop_cli.load import load_spec

    return load_spec(CONFIGS / "mazur.yaml")


EXPECTED = {  # canonical name → (Unicode, LaTeX) per preset, on the 2-2-2 Mazur network
    "standard": {"z1": ("z₁", "z_{1}"), "a3": ("σ₃", "\\sigma_{3}"), "W5": ("W₅", "W_{5}"),
                "W5_new": ("W₅(2)", "W_{5}(2)"), "W5@2": ("W₅(2)", "W_{5}(2)"),
                "dL/dW5": ("∂L/∂W₅", "\\frac{\\partial \\mathcal{L}}{\\partial W_{5}}"),
                "da3/dz3": ("∂σ₃/∂z₃", "\\frac{\\partial \\sigma_{3}}{\\partial z_{3}}"),
                "t1": ("y₁", "y_{1}"), "lr": ("α", "\\alpha"), "loss": ("L", "\\mathcal{L}")},
    "mazur": {"z1": ("netₕ₁", "\\mathrm{net}_{h1}"), "a3": ("outₒ₁", "\\mathrm{out}_{o1}"),
              "W5": ("w₅", "w_{5}"), "W5_new": ("w₅⁺", "w^{+}_{5}"), "x1": ("i₁", "i_{1}"),
              "delta3": ("δₒ₁", "\\delta_{o1}"), "t2": ("targetₒ₂", "\\mathrm{target}_{o2}"),
              "dL/dW5": ("∂E/∂w₅", "\\frac{\\partial E}{\\partial w_{5}}"), "loss": ("E", "E")},
    "hidden_output": {"a1": ("h₁", "h_{1}"), "a3": ("y₁", "y_{1}"), "t1": ("t₁", "t_{1}"), "W5": ("w₅", "w_{5}")},
    "indexed": {"W5": ("W⁽²⁾₁₁", "W^{(2)}_{11}"), "z3": ("z⁽²⁾₁", "z^{(2)}_{1}"), "a1": ("a⁽¹⁾₁", "a^{(1)}_{1}"),
                "b2": ("b⁽²⁾", "b^{(2)}"), "delta1": ("δ⁽¹⁾₁", "\\delta^{(1)}_{1}"),
                "W5_new": ("W⁽²⁾₁₁(2)", "W^{(2)}_{11}(2)")},
}


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_in_unicode_and_latex(mazur_spec, preset):
    n = Notation.build(preset, None, mazur_spec)
    for name, (uni, tex) in EXPECTED[preset].items():
        assert (n.unicode(name), n.latex(name)) == (uni, tex), name


def test_samples_and_steps(mazur_spec):
    n = Notation.build("standard", None, mazur_spec)
    assert n.latex("z3#2") == "z^{(2)}_{3}"
    assert n.unicode("dL/da3#2") == "∂L/∂σ₃⁽²⁾"
    assert n.latex("m_W1@2") == "m_{W_{1}}(2)"
    assert n.unicode("z3@2") == "z₃"  # neuron quantities carry no step mark (the heading does)
    assert Notation.build("indexed", None, mazur_spec).latex("z3#2") == "z^{(2)[2]}_{1}"


def test_single_output_target_has_no_index():
    from backprop_cli.load import load_spec

    n = Notation.of_spec(load_spec(CONFIGS / "bce_2_2_1.yaml"))
    assert n.unicode("t1") == "y" and n.latex("t1") == "y"


def test_spec_notation_mapping_with_overrides(tmp_path):
    path = tmp_path / "n.yaml"
    path.write_text((CONFIGS / "bce_2_2_1.yaml").read_text(encoding="utf-8").replace(
        "notation: standard", "notation: {preset: indexed, activation: φ, weight: w}"), encoding="utf-8")
    trace = solve_example(path)
    tex = render(trace, "latex")
    assert "\\phi^{(1)}_{1}" in tex and "w^{(2)}_{11}" in tex
    assert "φ⁽¹⁾₁" in render(trace, "table")


def test_unknown_notation_keys_and_presets_are_bad_input():
    with pytest.raises(BackpropError, match="unknown notation"):
        Notation.build("tex")
    with pytest.raises(BackpropError, match="notation.colour"):
        Notation.build("standard", {"colour": "red"})


def test_cli_notation_flag_overrides_the_spec_and_json_names_never_change():
    runner = CliRunner()
    spec = str(CONFIGS / "bce_2_2_1.yaml")
    tex = runner.invoke(app, ["solve", spec, "--format", "latex", "--notation", "mazur"])
    assert tex.exit_code == 0, tex.output
    assert "\\mathrm{net}_{h1}" in tex.stdout and "w^{+}_{5}" in tex.stdout
    plain = json.loads(runner.invoke(app, ["solve", spec, "--format", "json"]).stdout)
    renamed = json.loads(runner.invoke(app, ["solve", spec, "--format", "json", "--notation", "indexed"]).stdout)
    assert plain == renamed and "W5_new" in plain["named"] and "dL/dW5" in plain["named"]
    bad = runner.invoke(app, ["solve", spec, "--format", "latex", "--notation", "nope"])
    assert bad.exit_code == 2 and "unknown notation" in bad.output


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_renders_every_format(preset):
    trace = solve_example(CONFIGS / "relu_leaky.yaml")
    for fmt in ("table", "latex", "markdown"):
        assert render(trace, fmt, notation=preset)


@pytest.mark.parametrize("legacy, preset", [("seed000", "standard"), ("seed002", "hidden_output")])
def test_legacy_preset_names_still_read(mazur_spec, legacy, preset, tmp_path):
    """Specs written for 0.1.0 name the presets seed000/seed002: they still load and render."""
    from backprop_cli.load import load_spec

    assert Notation.build(legacy, None, mazur_spec).letters == Notation.build(preset, None, mazur_spec).letters
    text = (CONFIGS / "mazur.yaml").read_text(encoding="utf-8")
    spec = tmp_path / "legacy.yaml"
    spec.write_text(text.replace("notation: mazur", f"notation: {legacy}"), encoding="utf-8")
    assert load_spec(spec) is not None
