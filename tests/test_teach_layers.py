"""The teaching loop on typed layers: variants, keys, question sheets and solutions of
conv and recurrent templates. Keys are checked against PyTorch (layer_oracles) where it
is installed and against finite differences always — never against backprop's output."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from backprop_cli.load import load_spec
from tests.cli_proc import ROOT, cold
from tests.layer_oracles import finite_differences

CNN = """\
name: "conv → ReLU → max-pool → dense, one SGD step"
input: [[[{integer: [0, 3]}, {integer: [0, 3]}, 1, 0], [0, {integer: [0, 3]}, 2, 1],
         [1, 0, {integer: [0, 3]}, 2], [2, 1, 0, {integer: [0, 3]}]]]
target: [{choice: [0.5, 1.0]}]
layers:
  - type: conv2d
    weights: [[[[{uniform: [-1, 1], decimals: 1}, 0.5], [-0.5, {uniform: [-1, 1], decimals: 1}]]]]
    bias: [0.1]
    activation: relu
  - type: maxpool2d
    kernel: 3
  - type: flatten
  - weights: [[{uniform: [0.2, 1], decimals: 1}]]
    bias: [0.0]
loss: mse
optimizer: {name: sgd, lr: 0.1}
ask: [loss, "L2.out[1,1,1]", "dL/dL1.weights[1,1,1,1]", "dL/dL1.bias[1]", "L1.weights_new[1,1,2,2]"]
reject: {zero_gradient: true}
decimals: 4
"""


def _generate(tmp_path: Path, template: str, name: str, seed: int, *extra) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(template)
    out = tmp_path / "out"
    run = cold(["generate", path, "--count", 3, "--seed", seed, "--out", out, *extra], timeout=180)
    assert run.code == 0, run.describe()
    return out


TEMPLATES = {"rnn": (ROOT / "configs" / "templates" / "rnn_bptt.yaml").read_text(), "cnn": CNN}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_typed_layer_variants_keys_and_sheets(tmp_path: Path, name: str):
    out = _generate(tmp_path, TEMPLATES[name], name, 5)
    for i in (1, 2, 3):
        spec_path = out / f"v0{i}.yaml"
        key = yaml.safe_load((out / f"v0{i}.key.yaml").read_text())["named"]
        spec = load_spec(str(spec_path))
        fd, compared = finite_differences(spec), 0  # independent: a from-scratch NumPy forward
        for n, value in key.items():
            if not n.startswith("dL/d"):
                continue
            layer, rest = n[4:].split(".", 1)
            param, index = rest.rstrip("]").split("[")
            if param not in fd[int(layer[1:]) - 1]:  # ∂L/∂h: not a parameter (torch covers it below)
                continue
            compared += 1
            want = fd[int(layer[1:]) - 1][param][tuple(int(k) - 1 for k in index.split(","))]
            assert abs(value - want) < 2e-4, (name, i, n, value, want)
        assert compared >= 2
        sheet = (out / f"v0{i}.questions.md").read_text()
        assert "L1.weights" in sheet or "L1.W_xh" in sheet  # the givens
        for n, value in key.items():  # no answer leaks into the question sheet
            assert f"{value:.4f}" not in sheet, (n, value)
    check = cold(["check", out], timeout=120)
    assert check.code == 0, check.describe()


def test_typed_layer_keys_match_torch(tmp_path: Path):
    pytest.importorskip("torch")
    from tests.layer_oracles import torch_named

    out = _generate(tmp_path, TEMPLATES["rnn"], "rnn", 11)
    for i in (1, 2, 3):
        reference = torch_named(load_spec(str(out / f"v0{i}.yaml")))
        key = yaml.safe_load((out / f"v0{i}.key.yaml").read_text())["named"]
        assert len([n for n in key if n in reference]) >= 6
        for n, value in key.items():
            if n not in reference:  # ∂L/∂h_t: torch has no name for it (BPTT's inner gradient)
                continue
            assert abs(value - reference[n]) <= 0.5e-4 + 1e-12, (i, n, value, reference[n])


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_typed_layer_question_sheets_compile(tmp_path: Path):
    out = _generate(tmp_path, CNN, "cnn", 3, "--format", "latex", "--pdf")
    assert (out / "v01.questions.pdf").stat().st_size > 1000
    tex = (out / "v01.questions.tex").read_text()
    assert "?" not in tex.split(r"\begin{flushleft}")[1].split(r"\end{flushleft}")[0], "a character pdflatex cannot set"


@pytest.mark.parametrize("stem", ["cnn_maxpool", "batchnorm_mlp", "rnn_bptt", "lstm_sequence", "dropout_mlp"])
@pytest.mark.parametrize("fmt", ["table", "markdown", "latex"])
def test_solve_questions_on_typed_layers(stem: str, fmt: str):
    """`solve --questions` gives the arrays and the layer formulas, asks for every
    output, gradient and update, and leaks no answer from the shipped key."""
    spec = ROOT / "configs" / f"{stem}.yaml"
    run = cold(["solve", spec, "--questions", "--format", fmt])
    assert run.code == 0, run.describe()
    text = run.stdout.replace(r"\_", "_")
    assert "L1.out" in text and "loss" in text and "dL/dL1." in text and "_new" in text
    key = yaml.safe_load((ROOT / "configs" / f"{stem}.key.yaml").read_text())["named"]
    computed = [v for n, v in key.items() if n.startswith(("dL/d", "loss")) and abs(v) > 1e-3]
    assert computed and not any(f"{v:.4f}" in text for v in computed)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_typed_layer_questions_compile(tmp_path: Path, lang: str):
    import subprocess

    out = tmp_path / "q.tex"
    run = cold(["solve", ROOT / "configs" / "lstm_sequence.yaml", "--questions", "--format", "latex", "--standalone",
                "--lang", lang, "-o", out])
    assert run.code == 0, run.describe()
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


def test_grade_typed_layer_variants(tmp_path: Path):
    """A class graded on RNN variants: the key's own values earn every point; a flipped
    sign is wrong with check's cause. Typed layers carry no error forward (no scalar
    equations), which the gradebook's carried_forward column shows as 0."""
    import csv

    out = _generate(tmp_path, TEMPLATES["rnn"], "rnn", 2)
    key = yaml.safe_load((out / "v01.key.yaml").read_text())["named"]
    flipped = dict(key)
    flipped["dL/dL1.W_hh[1,1]"] = -key["dL/dL1.W_hh[1,1]"]
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "variant", *key])
        writer.writerow(["ann", "v01", *key.values()])
        writer.writerow(["bob", "v01", *flipped.values()])
    template = tmp_path / "rnn.yaml"
    run = cold(["grade", template, answers, "--variants", out, "--out", tmp_path / "grades"], timeout=120)
    assert run.code == 0, run.describe()
    rows = {r["student"]: r for r in csv.DictReader((tmp_path / "grades" / "gradebook.csv").open())}
    assert rows["ann"]["score"] == rows["ann"]["max"] and rows["bob"]["wrong"] == "1"
    assert "sign" in (tmp_path / "grades" / "feedback" / "bob.md").read_text()
