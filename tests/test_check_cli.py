"""`backprop check` through the CLI: exit codes, the report formats, many files at once."""
from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backprop_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
SEED = CONFIGS / "bce_2_2_1.yaml"
PUBLISHED = CONFIGS / "bce_2_2_1.published.key.yaml"

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["check", *map(str, args)])


def run_json(*args: str) -> tuple[int, dict]:
    result = run(*args, "--format", "json")
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """bce_2_2_1.yaml copied to a temp dir, to give it keys of our own."""
    spec = tmp_path / "bce_2_2_1.yaml"
    shutil.copyfile(SEED, spec)
    return spec


def write_key(spec: Path, text: str, name: str | None = None) -> Path:
    key = spec.with_name(name or spec.stem + ".key.yaml")
    key.write_text(text, encoding="utf-8")
    return key


# -- the shipped keys ------------------------------------------------------------------------


def test_every_shipped_example_passes_its_key() -> None:
    files = sorted(p for p in CONFIGS.glob("*.yaml"))
    result = run(*files)
    assert result.exit_code == 0, result.stdout + result.stderr
    specs = [p for p in files if ".key." not in p.name]
    assert result.stdout.count("PASS") == len(specs)
    assert "published" not in result.stdout  # key files given as specs are skipped
    assert "NO KEY" not in result.stdout


def test_bce_2_2_1_published_table_fails_exactly_at_the_w2_w3_swap() -> None:
    code, doc = run_json(SEED, "--key", PUBLISHED)
    assert code == 1
    (spec,) = doc["specs"]
    bad = {r["name"]: r["cause"] for r in spec["results"] if not r["ok"]}
    assert bad == {
        "W2": "matches W3: indices swapped?",
        "W3": "matches W2: indices swapped?",
        "W2_new": "matches W3_new: indices swapped?",
        "W3_new": "matches W2_new: indices swapped?",
    }
    assert len(spec["results"]) == 18


def test_published_table_in_the_rich_report() -> None:
    result = run(SEED, "--key", PUBLISHED)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    rows = [line for line in lines if "✗" in line]
    assert len(rows) == 4 and all("indices swapped" in line for line in rows)
    first_ok = next(i for i, line in enumerate(lines) if "✓" in line)
    assert max(i for i, line in enumerate(lines) if "✗" in line) < first_ok  # mismatches first
    assert "FAIL    " in result.stdout and "4 of 18 values mismatch" in result.stdout


# -- the JSON report (SPEC §6) ----------------------------------------------------------------


def test_json_report_shape(seed: Path) -> None:
    write_key(seed, "named:\n  loss: 0.5368\n  W5_new: -0.4452\n  W2_new: 0.1848\n")
    code, doc = run_json(seed)
    assert code == 1
    assert set(doc) == {"ok", "specs"} and doc["ok"] is False
    (spec,) = doc["specs"]
    assert set(spec) == {"spec", "key", "ok", "results"}
    assert spec["spec"] == str(seed) and spec["key"] == str(seed.with_name("bce_2_2_1.key.yaml"))
    first = spec["results"][0]
    assert set(first) == {"name", "expected", "computed", "difference", "tolerance", "ok", "cause"}
    assert first["name"] == "W2_new" and first["ok"] is False
    assert first["expected"] == 0.1848 and first["computed"] == pytest.approx(0.37066006107590283)
    assert first["difference"] == pytest.approx(first["computed"] - 0.1848)
    assert first["tolerance"] == pytest.approx(1.5e-4)
    assert first["cause"] == "matches W3_new: indices swapped?"
    assert [r["cause"] for r in spec["results"][1:]] == [None, None]


def test_no_simple_explanation_is_null_in_json_and_spelled_out_in_the_table(seed: Path) -> None:
    write_key(seed, "named:\n  W5_new: -0.3452\n")
    code, doc = run_json(seed)
    assert code == 1 and doc["specs"][0]["results"][0]["cause"] is None
    assert "no simple explanation" in run(seed).stdout


def test_structured_entries_are_named_by_their_json_path_and_diagnosed(seed: Path) -> None:
    write_key(seed, "steps:\n  - layers:\n      - {layer: 1, weights: [[0.4514, 0.1848], [0.3707, 0.4732]]}\n")
    code, doc = run_json(seed)
    assert code == 1
    bad = {r["name"]: r["cause"] for r in doc["specs"][0]["results"] if not r["ok"]}
    assert bad == {
        "steps[0].layers[0].weights[0][1]": "matches W3_new: indices swapped?",
        "steps[0].layers[0].weights[1][0]": "matches W2_new: indices swapped?",
    }


# -- JUnit -----------------------------------------------------------------------------------


def test_junit_has_one_testcase_per_value_and_failures_with_the_cause(tmp_path: Path) -> None:
    out = tmp_path / "check.xml"
    result = run(SEED, "--key", PUBLISHED, "--junit", out)
    assert result.exit_code == 1
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "18" and root.get("failures") == "4"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 18
    failed = {c.get("name"): c.find("failure").get("message") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"W2", "W3", "W2_new", "W3_new"}
    assert "expected 0.1848" in failed["W2_new"] and "matches W3_new: indices swapped?" in failed["W2_new"]
    assert all(c.get("file") == str(PUBLISHED) and c.get("line") for c in cases)


def test_junit_reports_bad_input_and_missing_keys(tmp_path: Path, seed: Path) -> None:
    write_key(seed, "named: {W99_new: 1}\n")
    lonely = tmp_path / "lonely.yaml"
    shutil.copyfile(SEED, lonely)
    out = tmp_path / "check.xml"
    result = run(seed, lonely, "--junit", out)
    assert result.exit_code == 2
    root = ET.parse(out).getroot()
    assert root.get("errors") == "1" and root.get("skipped") == "1"
    assert "W99_new" in root.find(".//error").get("message")


# -- exit codes over many files --------------------------------------------------------------


def test_many_files_bad_input_wins_over_mismatch(tmp_path: Path) -> None:
    good, bad, wrong = (tmp_path / f"{n}.yaml" for n in ("good", "bad", "wrong"))
    for spec in (good, bad, wrong):
        shutil.copyfile(SEED, spec)
    write_key(good, "loss: 0.5368\n")
    write_key(wrong, "loss: 0.6000\n")
    write_key(bad, "los: 0.5368\n")
    result = run(tmp_path)  # a directory means every spec in it
    assert result.exit_code == 2
    assert "bad.key.yaml:1:1: los: unknown name 'los'" in result.stderr
    assert "did you mean 'loss'?" in result.stderr
    assert "PASS    " in result.stdout and "FAIL    " in result.stdout
    assert "ERROR" not in result.stdout  # bad input is reported on stderr only (SPEC §8)
    (tmp_path / "bad.key.yaml").unlink()
    result = run(tmp_path)
    assert result.exit_code == 1, result.stdout  # bad.yaml has no key now: reported, not fatal
    assert f"NO KEY  {tmp_path / 'bad.yaml'}" in result.stdout
    assert "2 specs checked" in result.stdout and "1 without a key" in result.stdout


def test_a_spec_without_any_key_is_bad_input(seed: Path) -> None:
    result = run(seed)
    assert result.exit_code == 2
    assert "no answer key found" in result.stderr


def test_only_key_files_given(tmp_path: Path) -> None:
    result = run(PUBLISHED)
    assert result.exit_code == 2 and "no spec files" in result.stderr


def test_missing_key_file_given_with_key_option(seed: Path) -> None:
    result = run(seed, "--key", seed.with_name("nope.key.yaml"))
    assert result.exit_code == 2
    assert "nope.key.yaml: no such file" in result.stderr


def test_bad_key_is_one_located_message_on_stderr_and_nothing_on_stdout(seed: Path) -> None:
    write_key(seed, "named:\n  loss: 0.5368\n  W99_new: 0.1\n")
    result = run(seed, "--format", "json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "bce_2_2_1.key.yaml:3:3: named.W99_new: this network has no W99_new" in result.stderr
    assert "hint: did you mean 'W6_new'?" in result.stderr
    assert "Traceback" not in result.stderr


# -- tolerances and number policies -------------------------------------------------------------


def test_cli_tolerance_replaces_the_literal_default(seed: Path) -> None:
    write_key(seed, "named:\n  loss: 0.5368\n")
    assert run(seed).exit_code == 0
    assert run(seed, "--abs", "1e-6").exit_code == 1
    assert run(seed, "--rel", "2e-4").exit_code == 0  # 0.5368 × 2e-4 = 1.07e-4 ≥ 8.4e-5
    assert run(seed, "--rel", "1e-4").exit_code == 1
    assert run(seed, "--abs", "1e-6", "--rel", "2e-4").exit_code == 0  # either suffices


def test_key_tolerance_replaces_the_default_and_cli_replaces_both(seed: Path) -> None:
    write_key(seed, "tolerance: {abs: 1e-6}\nnamed:\n  loss: 0.5368\n")
    assert run(seed).exit_code == 1
    assert run(seed, "--abs", "1e-3").exit_code == 0


@pytest.mark.parametrize("flag, value", [("--abs", "nan"), ("--rel", "-1"), ("--abs", "0x10")])
def test_bad_tolerance_flags(seed: Path, flag: str, value: str) -> None:
    write_key(seed, "loss: 0.5368\n")
    result = run(seed, flag, value)
    assert result.exit_code == 2 and flag in result.stderr


def test_round_checks_against_the_hand_rounded_computation(tmp_path: Path) -> None:
    spec = tmp_path / "softmax_ce.yaml"
    shutil.copyfile(CONFIGS / "softmax_ce.yaml", spec)
    write_key(spec, "named:\n  a3: 0.426\n  dL/da3: -2.347\n")  # −1/0.426, as a student computes it
    code, doc = run_json(spec)
    assert code == 1
    assert doc["specs"][0]["results"][0]["cause"] == "hand rounding at 3 decimals: backprop solve --round 3 reproduces it"
    assert run(spec, "--round", "3").exit_code == 0


def test_round_with_adam_is_bad_input(tmp_path: Path) -> None:
    spec = tmp_path / "adam_steps.yaml"
    shutil.copyfile(CONFIGS / "adam_steps.yaml", spec)
    write_key(spec, "loss: 0.1\n")
    result = run(spec, "--round", "4")
    assert result.exit_code == 2 and "adam" in result.stderr


def test_exact_compares_fraction_strings_exactly(tmp_path: Path) -> None:
    spec = tmp_path / "linear.yaml"
    spec.write_text(
        "input: [1, 2]\ntarget: [1]\nlayers:\n  - weights: [[0.5, 0.25]]\n    bias: [0]\n"
        "loss: mse\noptimizer: {name: sgd, lr: 0.1}\n", encoding="utf-8",
    )
    # z1 = 1/2·1 + 1/4·2 = 1 = t: every value is rational (the loss and gradients are 0)
    write_key(spec, 'named:\n  W2: "1/4"\n  z1: "1/1"\n  W1_new: "1/2"\n')
    assert run(spec, "--exact").exit_code == 0
    write_key(spec, 'named:\n  W2: "1/4"\n  z1: "1000000000001/1000000000000"\n')
    code, doc = run_json(spec, "--exact")
    assert code == 1  # 1e-12 apart: inside the float tolerance 1e-9, not equal exactly
    bad = [r for r in doc["specs"][0]["results"] if not r["ok"]]
    assert [r["name"] for r in bad] == ["z1"] and bad[0]["tolerance"] == 0.0
    assert run(spec).exit_code == 0


def test_round_and_exact_together_are_bad_input(seed: Path) -> None:
    write_key(seed, "loss: 0.5368\n")
    result = run(seed, "--round", "4", "--exact")
    assert result.exit_code == 2 and "cannot be combined" in result.stderr


# -- graph specs -------------------------------------------------------------------------------


def test_graph_keys_with_planted_mistakes(tmp_path: Path) -> None:
    spec = tmp_path / "circuit.yaml"
    shutil.copyfile(CONFIGS / "graph_circuit.yaml", spec)
    write_key(spec, "f: 12\nnamed:\n  df/dx: -4\n  df/dz: -4\ngradients: {y: -4}\nvalues: {q: 3}\n")
    code, doc = run_json(spec)
    assert code == 1
    bad = {r["name"]: r["cause"] for r in doc["specs"][0]["results"] if not r["ok"]}
    assert bad["f"] == "sign flipped: the expected value is −computed"
    assert bad["df/dz"].startswith("matches df/") and bad["df/dz"].endswith(": indices swapped?")
    assert set(bad) == {"f", "df/dz"}


def test_graph_key_unknown_node(tmp_path: Path) -> None:
    spec = tmp_path / "circuit.yaml"
    shutil.copyfile(CONFIGS / "graph_circuit.yaml", spec)
    write_key(spec, "values: {qq: 3}\n")
    result = run(spec)
    assert result.exit_code == 2
    assert "values.qq" in result.stderr and "did you mean 'q'?" in result.stderr


def test_check_table_reads_at_80_columns(tmp_path):
    """Piped with COLUMNS=80 (a narrow log, `… | less`), the table fits and the cause is
    readable words, not three letters a line: difference and tolerance give way."""
    import os
    import subprocess
    import sys

    spec = tmp_path / "rnn.yaml"
    shutil.copy(ROOT / "configs" / "rnn_bptt.yaml", spec)
    (tmp_path / "rnn.key.yaml").write_text("named:\n  dL/dL1.W_hh[1,2]: 0.183955\n  dL/dL1.W_hh[2,1]: 0.324093\n")
    env = {**os.environ, "COLUMNS": "80"}
    run = subprocess.run([sys.executable, "-m", "backprop_cli", "check", str(spec)], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80, run.stdout
    assert "tolerance" not in run.stdout
    assert "indices swapped?" in " ".join(" ".join(lines).split()), run.stdout
    wide = subprocess.run([sys.executable, "-m", "backprop_cli", "check", str(spec)], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, cwd=tmp_path)
    assert "tolerance" in wide.stdout and "±" in wide.stdout
