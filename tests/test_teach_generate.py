"""`backprop generate` / `backprop key` through the real console entry point.

Oracles: a 2-2-1 sigmoid/BCE step written out by hand below (numpy, textbook formulas,
independent of the solver), the graph f = (x + y)·z by hand, the standard library's
XML and zip readers for every export, and `backprop check` on the written keys."""
from __future__ import annotations

import csv
import filecmp
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.cli_proc import ROOT, cold
from tests.teach_oracle import oracle_221

TEMPLATE = ROOT / "configs" / "templates" / "sigmoid_2_2_1.yaml"
COUNT = 12


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    run = cold(["generate", TEMPLATE, "--count", COUNT, "--seed", 11, "--out", out / "a",
                "--moodle", out / "a.xml", "--gift", out / "a.gift", "--qti", out / "a.zip"], timeout=120)
    assert run.code == 0, run.describe()
    return out


def test_same_seed_is_byte_identical_and_another_seed_differs(generated: Path, tmp_path: Path):
    run = cold(["generate", TEMPLATE, "--count", COUNT, "--seed", 11, "--out", tmp_path / "b",
                "--moodle", tmp_path / "b.xml", "--gift", tmp_path / "b.gift", "--qti", tmp_path / "b.zip"], timeout=120)
    assert run.code == 0, run.describe()
    a, b = generated / "a", tmp_path / "b"
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors
    for ext in ("xml", "gift", "zip"):
        assert (generated / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes()
    other = cold(["generate", TEMPLATE, "--count", 3, "--seed", 12, "--out", tmp_path / "c"])
    assert other.code == 0, other.describe()
    assert (tmp_path / "c" / "v01.yaml").read_text() != (a / "v01.yaml").read_text()


def test_variants_are_distinct_and_listed(generated: Path):
    rows = list(csv.DictReader((generated / "a" / "variants.csv").open()))
    assert [r["id"] for r in rows] == [f"v{i:02d}" for i in range(1, COUNT + 1)]
    specs = [(generated / "a" / r["spec"]).read_text().split("\n", 1)[1] for r in rows]
    assert len(set(specs)) == COUNT
    for r in rows:
        for column in ("spec", "key", "questions", "solution"):
            assert (generated / "a" / r[column]).is_file()
    assert (generated / "a" / "exam.md").read_text().count("<div style=\"page-break-after: always;\"></div>") == COUNT - 1


def test_keys_match_the_hand_oracle_and_constraints_hold(generated: Path):
    for i in range(1, COUNT + 1):
        spec = yaml.safe_load((generated / "a" / f"v{i:02d}.yaml").read_text())
        key = yaml.safe_load((generated / "a" / f"v{i:02d}.key.yaml").read_text())["named"]
        truth = oracle_221(spec)
        for name, value in key.items():
            assert abs(float(value) - truth[name]) <= 1.5e-4, (i, name, value, truth[name])
        # the template's constraints
        assert spec["input"][0] + spec["input"][1] >= 1
        assert abs(truth["dL/dW1"]) >= 0.001
        assert 0.05 < truth["a3"] < 0.95
        # built-in rejections: no saturated sigmoid, no gradient printing as 0 at 4 decimals
        assert min(truth["sigma_primes"]) >= 0.01
        assert all(abs(truth[g]) >= 0.5e-4 for g in truth if g.startswith("dL/d"))
        # no answer leaks into the question sheet
        sheet = (generated / "a" / f"v{i:02d}.questions.md").read_text()
        assert f"{key['loss']}" not in sheet and str(key["W5_new"]) not in sheet


def test_the_written_keys_pass_check(generated: Path):
    run = cold(["check", generated / "a" / "v01.yaml", "--key", generated / "a" / "v01.key.yaml"])
    assert run.code == 0, run.describe()


def test_moodle_xml_parses_with_cloze_blanks_and_diagnosed_wrong_answers(generated: Path, tmp_path: Path):
    root = ET.parse(generated / "a.xml").getroot()
    assert root.tag == "quiz"
    types = [q.get("type") for q in root.findall("question")]
    assert types.count("cloze") == COUNT and types.count("category") == COUNT
    cloze = [q for q in root.findall("question") if q.get("type") == "cloze"]
    text = cloze[0].find("questiontext/text").text
    key = yaml.safe_load((generated / "a" / "v01.key.yaml").read_text())["named"]
    blanks = re.findall(r"\{(\d+):NUMERICAL:(.*?)(?<!\\)\}", text)
    assert len(blanks) == len(key)
    # every blank: the correct answer first, with the tolerance; wrong answers at 0 %
    for weight, body in blanks:
        first = body.split("~")[0]
        m = re.fullmatch(r"=(-?[0-9.e+-]+):([0-9.]+)#.*", first)
        assert m and float(m.group(2)) == pytest.approx(1.5e-4)
        assert all(alt.startswith("%0%") for alt in body.split("~")[1:])
    assert "you left out the activation derivative" in text
    # a wrong answer's value is what `check` itself diagnoses with that cause
    body = dict((n, b) for n, b in zip(key, (b for _, b in blanks)))["dL/dW1"]
    wrong = next(alt for alt in body.split("~") if "activation derivative" in alt)
    value = re.match(r"%0%(-?[0-9.e+-]+):", wrong).group(1)
    key_file = tmp_path / "mistake.key.yaml"
    key_file.write_text(f"named:\n  dL/dW1: {value}\n")
    run = cold(["check", generated / "a" / "v01.yaml", "--key", key_file, "--abs", "1.5e-4"])
    assert run.code == 1 and "activation derivative left out" in run.stdout, run.describe()


def test_moodle_numerical_type(tmp_path: Path):
    run = cold(["generate", TEMPLATE, "--count", 2, "--seed", 5, "--out", tmp_path / "o",
                "--moodle", tmp_path / "n.xml", "--moodle-type", "numerical"])
    assert run.code == 0, run.describe()
    questions = [q for q in ET.parse(tmp_path / "n.xml").getroot() if q.get("type") == "numerical"]
    assert len(questions) == 2 * 19
    for q in questions:
        answers = q.findall("answer")
        assert answers[0].get("fraction") == "100"
        assert float(answers[0].find("tolerance").text) == pytest.approx(1.5e-4)
        assert all(a.get("fraction") == "0" and a.find("feedback/text").text for a in answers[1:])


def test_gift_has_one_numerical_question_per_blank(generated: Path):
    text = (generated / "a.gift").read_text()
    questions = re.findall(r"^::(v\d+ [^:]+)::\[html\].*?\{#\n(.*?)\n\}", text, re.S | re.M)
    assert len(questions) == COUNT * 19
    for _, answers in questions:
        lines = [line.strip() for line in answers.splitlines()]
        assert re.fullmatch(r"=-?[0-9.e+-]+:[0-9.]+#correct", lines[0])
        assert all(line.startswith("=%0%") for line in lines[1:])


def test_qti_zip_manifest_lists_parsable_assessments(generated: Path):
    with zipfile.ZipFile(generated / "a.zip") as z:
        manifest = ET.fromstring(z.read("imsmanifest.xml"))
        ns = {"m": "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"}
        resources = manifest.findall("m:resources/m:resource", ns)
        assert len(resources) == COUNT
        for resource in resources:
            assert resource.get("type") == "imsqti_xmlv1p2"
            href = resource.find("m:file", ns).get("href")
            doc = ET.fromstring(z.read(href))
            q = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
            items = doc.findall(f".//{q}item")
            assert len(items) == 19
            kinds = {f.findtext(f"{q}fieldentry") for f in doc.iter(f"{q}qtimetadatafield")
                     if f.findtext(f"{q}fieldlabel") == "question_type"}
            assert kinds == {"numerical_question"}


GRAPH = """name: circuit
graph:
  x: {integer: [-5, 5], exclude: [0]}
  y: {integer: [-5, 5]}
  z: {uniform: [-4, 4], decimals: 1}
  q: x + y
  f: q * z
output: f
constraints:
  - q != 0
  - "abs(df/dz) >= 1"
"""


def test_graph_template(tmp_path: Path):
    template = tmp_path / "graph.yaml"
    template.write_text(GRAPH)
    run = cold(["generate", template, "--count", 6, "--seed", 2, "--out", tmp_path / "g"])
    assert run.code == 0, run.describe()
    for i in range(1, 7):
        spec = yaml.safe_load((tmp_path / "g" / f"v{i:02d}.yaml").read_text())
        key = yaml.safe_load((tmp_path / "g" / f"v{i:02d}.key.yaml").read_text())["named"]
        x, y, z = (float(spec["graph"][n]) for n in "xyz")
        q = x + y
        assert x != 0 and q != 0 and abs(q) >= 1
        truth = {"q": q, "f": q * z, "df/dx": z, "df/dy": z, "df/dz": q}
        assert {k: float(v) for k, v in key.items()} == pytest.approx(truth, abs=1e-4)
        assert "constraints" not in spec


RELU = """name: relu net
input: [{uniform: [-1, 1], decimals: 1}, {uniform: [-1, 1], decimals: 1}]
target: [{uniform: [0, 1], decimals: 1}]
layers:
  - weights: [[{uniform: [-1, 1], decimals: 1}, {uniform: [-1, 1], decimals: 1}],
              [{uniform: [-1, 1], decimals: 1}, {uniform: [-1, 1], decimals: 1}]]
    bias: [{uniform: [-0.5, 0.5], decimals: 1}, {uniform: [-0.5, 0.5], decimals: 1}]
    activation: relu
  - weights: [[{uniform: [-1, 1], decimals: 1}, {uniform: [-1, 1], decimals: 1}]]
    activation: identity
loss: mse
lr: 0.1
"""


def test_no_dead_relu_by_default_and_off_on_request(tmp_path: Path):
    template = tmp_path / "relu.yaml"
    template.write_text(RELU)
    run = cold(["generate", template, "--count", 8, "--seed", 4, "--out", tmp_path / "r"])
    assert run.code == 0, run.describe()
    for i in range(1, 9):
        spec = yaml.safe_load((tmp_path / "r" / f"v{i:02d}.yaml").read_text())
        z = np.array(spec["layers"][0]["weights"], float) @ np.array(spec["input"], float) + spec["layers"][0]["bias"]
        assert (z > 0).all()
    template.write_text(RELU + "reject: {dead_relu: false, zero_gradient: false}\nconstraints: [z1 <= 0]\n")
    run = cold(["generate", template, "--count", 3, "--seed", 4, "--out", tmp_path / "r2"])
    assert run.code == 0, run.describe()


def test_impossible_constraint_exits_2_naming_it(tmp_path: Path):
    template = tmp_path / "t.yaml"
    template.write_text(TEMPLATE.read_text().replace("  - 0.05 < a3 < 0.95", "  - 0.05 < a3 < 0.95\n  - a3 > 1.5"))
    run = cold(["generate", template, "--count", 2, "--seed", 1, "--out", tmp_path / "o", "--max-tries", 50])
    assert run.code == 2, run.describe()
    assert "a3 > 1.5" in run.stderr and "50 tries" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "o").exists()


BASE = """input: [{GEN}, 1]
target: [0]
layers:
  - weights: [[0.5, -0.4]]
    bias: [0.1]
    activation: sigmoid
loss: bce
lr: 1
"""


@pytest.mark.parametrize("gen, extra, where, words", [
    ("{normal: [0, 1]}", "", "t.yaml:1:10: input[0].normal", "unknown generator 'normal'"),
    ("{uniform: [1, -1]}", "", "t.yaml:1:19: input[0].uniform", "low above high"),
    ("{integer: [0.5, 2]}", "", "t.yaml:1:19: input[0].integer", "integers"),
    ("{uniform: [0.01, 0.02], decimals: 1}", "", "input[0].uniform", "no value with 1 decimals"),
    ("{choice: []}", "", "input[0].choice", "non-empty list"),
    ("{choice: [1], exclude: [1]}", "", "input[0].choice", "every choice is excluded"),
    ("{uniform: [0, 1], decimals: 99}", "", "input[0].decimals", "0…10"),
    ("{uniform: [0, 1]}", "constraints: [abs(dL/dW9) > 0]\n", "t.yaml:9:19: constraints[0]", "unknown name 'dL/dW9'"),
    ("{uniform: [0, 1]}", "constraints: [a1 >]\n", "t.yaml:9:", "nothing to compare"),
    ("{uniform: [0, 1]}", "constraints: [a1 + 1]\n", "t.yaml:9:15: constraints[0]", "a constraint compares"),
    ("{uniform: [0, 1]}", "constraints: [exp(a1 > 0]\n", "t.yaml:9:", "never closed"),
    ("{uniform: [0, 1]}", "ask: [z1, a9]\n", "t.yaml:9:11: ask[1]", "unknown name 'a9'"),
    ("{uniform: [0, 1]}", "reject: {dead_neuron: true}\n", "t.yaml:9:10: reject.dead_neuron", "unknown rejection"),
    ("{uniform: [0, 1]}", "points: {z9: 2}\n", "points.z9", "not asked"),
    ("{uniform: [0, 1]}", "target: [{integer: [2, 3]}]\n", "t.yaml:2:9: target[0]", "bce targets"),
])
def test_bad_templates_exit_2_with_the_field_path(tmp_path: Path, gen, extra, where, words):
    template = tmp_path / "t.yaml"
    text = BASE.replace("{GEN}", gen) + extra
    if extra.startswith("target:"):  # a drawn value the spec reader refuses: a bce target of 2
        text = BASE.replace("{GEN}", gen).replace("target: [0]", extra.strip())
    template.write_text(text)
    run = cold(["generate", template, "--count", 1, "--seed", 1, "--out", tmp_path / "o"])
    assert run.code == 2, run.describe()
    assert where in run.stderr and words in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not run.stdout


def test_existing_files_are_not_overwritten(generated: Path):
    run = cold(["generate", TEMPLATE, "--count", 1, "--seed", 11, "--out", generated / "a"])
    assert run.code == 2 and "already exists" in run.stderr


def test_key_skeleton_and_names(tmp_path: Path):
    spec = ROOT / "configs" / "bce_2_2_1.yaml"
    run = cold(["key", spec])
    assert run.code == 0, run.describe()
    skeleton = yaml.safe_load(run.stdout)["named"]
    solved = cold(["solve", spec, "--format", "json"])
    import json

    assert list(skeleton) == list(json.loads(solved.stdout)["named"])
    assert all(v is None for v in skeleton.values())
    names = cold(["key", spec, "--names"])
    line = next(l for l in names.stdout.splitlines() if l.startswith("a3 "))
    assert "σ₃" in line and "activation" in line
    out = tmp_path / "k.yaml"
    assert cold(["key", spec, "-o", out]).code == 0
    again = cold(["key", spec, "-o", out])
    assert again.code == 2 and "already exists" in again.stderr


@pytest.mark.parametrize("stem", ["cnn_maxpool", "batchnorm_mlp", "lstm_sequence"])
def test_key_skeleton_of_typed_layers(tmp_path: Path, stem: str):
    """Typed layers get a skeleton too: every name of the solve, meaning from the layer;
    filled from an independent source (torch or finite differences elsewhere), it checks."""
    import json

    spec = ROOT / "configs" / f"{stem}.yaml"
    run = cold(["key", spec])
    assert run.code == 0, run.describe()
    skeleton = yaml.safe_load(run.stdout)["named"]
    solved = json.loads(cold(["solve", spec, "--format", "json"]).stdout)["named"]
    assert list(skeleton) == list(solved)
    names = cold(["key", spec, "--names"]).stdout.splitlines()
    assert any(l.startswith("dL/dL1.") and "gradient of the loss with respect to layer 1" in l for l in names)
    unexplained = [l for l in names if len(l.split()) < 3 or l.split()[2] == l.split()[0]]
    assert not unexplained, unexplained[:5]


# Moodle's own cloze parser (question/type/multianswer/questiontype.php,
# qtype_multianswer_extract_question), its regular expressions ported to Python
# (PCRE's variable-width look-behind split into three fixed ones).
_FRACTION = r"=|%(-?[0-9]+(?:[.,][0-9]*)?)%"
_ANSWER = r".+?(?<!\\)(?<!&)(?<!&amp;)(?=[~#}]|$)"
_FEEDBACK = r".*?(?<!\\)(?=[~}]|$)"
_ALTERNATIVE = f"({_FRACTION})?({_ANSWER})(#({_FEEDBACK}))?"
_MOODLE_ANSWER = re.compile(r"\{([0-9]*):((NUMERICAL|NM)):(" + _ALTERNATIVE + "(~" + _ALTERNATIVE + ")*)\\}", re.S)
_NUMBER = r"-?(([0-9]+[.,]?[0-9]*|[.,][0-9]+)([eE][-+]?[0-9]+)?)"
_NUMERICAL = re.compile(f"^({_NUMBER})(:{_NUMBER})?$")


def moodle_subquestions(text: str) -> list[list[tuple[float, float, float, str]]]:
    """[(fraction, answer, tolerance, feedback)] per embedded answer, as Moodle reads them."""
    out = []
    while (m := _MOODLE_ANSWER.search(text)):
        alternatives, rest = [], m.group(4)
        while (a := re.match("~?" + _ALTERNATIVE, rest, re.S)) and a.group(0):
            fraction = 1.0 if a.group(1) == "=" else 0.01 * float(a.group(2)) if a.group(2) else 0.0
            number = _NUMERICAL.match(a.group(3))
            assert number, f"Moodle would not read {a.group(3)!r} as a number"
            alternatives.append((fraction, float(number.group(1)), float(number.group(6) or 0), a.group(5) or ""))
            rest = rest[len(a.group(0)):]
        out.append(alternatives)
        text = text[:m.start()] + f"{{#{len(out)}}}" + text[m.end():]
    return out


def test_moodle_cloze_as_moodles_importer_reads_it(generated: Path):
    root = ET.parse(generated / "a.xml").getroot()
    cloze = [q for q in root.findall("question") if q.get("type") == "cloze"]
    for i, question in enumerate(cloze, 1):
        key = yaml.safe_load((generated / "a" / f"v{i:02d}.key.yaml").read_text())["named"]
        subs = moodle_subquestions(question.find("questiontext/text").text)
        assert len(subs) == len(key)
        for (name, value), alternatives in zip(key.items(), subs):
            right = [a for a in alternatives if a[0] == 1.0]
            assert len(right) == 1 and abs(right[0][1] - float(value)) <= 1e-4 and right[0][2] == 1.5e-4
            for fraction, answer, tolerance, feedback in alternatives[1:]:
                assert fraction == 0 and abs(answer - float(value)) > 2 * tolerance and feedback


BATCH = """name: batch, tanh, adam
input: [[{integer: [0, 1]}, 1], [0, {integer: [0, 1]}]]
target: [[{choice: [0, 1]}], [1]]
layers:
  - weights: [[{uniform: [-1, 1], decimals: 1}, 0.5], [0.3, -0.2]]
    bias: 0.1
    activation: tanh
  - weights: [[0.7, {uniform: [-1, 1], decimals: 1}]]
    activation: sigmoid
loss: mse
optimizer: {name: adam, lr: 0.1}
steps: 2
constraints: ["z1#2 != 0", "loss@2 < loss"]
ask: [z1#1, a3#2, loss, loss@2, dL/dW1, W1_new, W1_new@2]
"""


def test_batch_adam_two_step_template_keys_pass_check(tmp_path: Path):
    template = tmp_path / "batch.yaml"
    template.write_text(BATCH)
    run = cold(["generate", template, "--count", 3, "--seed", 9, "--out", tmp_path / "b", "--moodle", tmp_path / "b.xml"])
    assert run.code == 0, run.describe()
    for i in (1, 2, 3):
        key = yaml.safe_load((tmp_path / "b" / f"v0{i}.key.yaml").read_text())["named"]
        assert list(key) == ["z1#1", "a3#2", "loss", "loss@2", "dL/dW1", "W1_new", "W1_new@2"]
        assert float(key["loss@2"]) < float(key["loss"])
        checked = cold(["check", tmp_path / "b" / f"v0{i}.yaml", "--key", tmp_path / "b" / f"v0{i}.key.yaml"])
        assert checked.code == 0, checked.describe()
    ET.parse(tmp_path / "b.xml")


@pytest.mark.skipif(__import__("shutil").which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_sheets_compile_to_pdf(tmp_path: Path):
    run = cold(["generate", TEMPLATE, "--count", 1, "--seed", 3, "--out", tmp_path / "t", "--format", "latex", "--pdf"],
               timeout=180)
    assert run.code == 0, run.describe()
    for name in ("v01.questions", "v01.solution", "exam", "exam-solutions"):
        assert (tmp_path / "t" / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        assert not (tmp_path / "t" / f"{name}.aux").exists()
    assert "compiled 4 PDFs" in run.stdout
    again = cold(["generate", TEMPLATE, "--count", 1, "--seed", 3, "--out", tmp_path / "u", "--format", "latex", "--pdf"],
                 timeout=180)
    assert again.code == 0, again.describe()
    assert (tmp_path / "t" / "exam.pdf").read_bytes() == (tmp_path / "u" / "exam.pdf").read_bytes()


@pytest.mark.parametrize("text, holds", [
    ("z1 > 0 and z2 > 0", False),
    ("z2 > 0 or a3 ≥ 0.5", True),
    ("abs(dL/dW1) ≥ 0.001 and a3/a1 > 2", True),  # dL/dW1 one name; a3/a1 a division
    ("0.05 < a3 < 0.95", True),
    ("0.05 < a3 < 0.4", False),
    ("exp(-z1) < 1e-3 + 1", True),
    ("df/dx/x == 2", True),
    ("max(z1, z2) >= 1 and z1#2 != 0", True),
    ("a3 ≠ 0.5", False),
    ("log(z2) > 0", False),  # cannot be evaluated: the constraint fails
])
def test_constraints_evaluate_as_written(text, holds):
    from backprop_cli.teach.constraints import parse_constraint
    from backprop_cli.teach.template import Setting

    values = {"z1": 1.0, "z2": -1.0, "a3": 0.5, "dL/dW1": 0.01, "a1": 0.2, "df/dx": 2.0, "x": 1.0, "z1#2": 3.0}
    assert parse_constraint(Setting(text, 1, 1, "constraints[0]"), values, "t.yaml").holds(values) is holds


def test_settings_may_sit_under_a_template_mapping(tmp_path: Path):
    template = tmp_path / "t.yaml"
    template.write_text(BASE.replace("{GEN}", "{uniform: [0, 1]}") +
                        "template:\n  constraints: [a1 > 0.45]\n  ask: [z1, a1]\n  points: {z1: 3}\n")
    run = cold(["generate", template, "--count", 3, "--seed", 1, "--out", tmp_path / "o"])
    assert run.code == 0, run.describe()
    for i in (1, 2, 3):
        assert "template" not in (tmp_path / "o" / f"v0{i}.yaml").read_text()
        key = yaml.safe_load((tmp_path / "o" / f"v0{i}.key.yaml").read_text())["named"]
        assert list(key) == ["z1", "a1"] and float(key["a1"]) > 0.45
    template.write_text(BASE.replace("{GEN}", "{uniform: [0, 1]}") + "template:\n  ask: [z1]\n  points: {z9: 3}\n")
    run = cold(["generate", template, "--count", 1, "--seed", 1, "--out", tmp_path / "p"])
    assert run.code == 2 and "t.yaml:11:12: template.points.z9" in run.stderr, run.describe()
