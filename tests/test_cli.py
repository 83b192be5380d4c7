"""The commands as a user runs them: exit codes, stdout/stderr, files written."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backprop_cli.cli import app
from backprop_cli.read.examples import list_examples

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
NETWORK_EXAMPLES = ["bce_2_2_1", "mazur", "softmax_ce", "relu_leaky", "batch_xor", "adam_steps", "rmsprop_steps",
                    "adagrad_steps"]


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("name", NETWORK_EXAMPLES)
def test_solve_every_example_as_table_and_json(name):
    spec = CONFIGS / f"{name}.yaml"
    table = run("solve", spec)
    assert table.exit_code == 0, table.output
    assert "Traceback" not in table.output
    result = run("solve", spec, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["format"] == "backprop/1" and doc["kind"] == "network"
    assert len(doc["losses"]) == len(doc["steps"]) + 1 or len(doc["steps"]) < len(doc["losses"])
    assert doc["loss_after"] == doc["losses"][-1]


def test_bce_2_2_1_numbers_in_json():
    doc = json.loads(run("solve", CONFIGS / "bce_2_2_1.yaml", "--format", "json").stdout)
    named = doc["named"]
    assert named["loss"] == pytest.approx(0.5368841905553434, rel=1e-12)
    assert named["dL/dW5"] == pytest.approx(0.2727, abs=5e-5)
    assert named["W2_new"] == pytest.approx(0.3707, abs=5e-5)  # not the post's swapped 0.1848
    eq = next(e for e in doc["steps"][0]["equations"] if e["name"] == "dL/dW5")
    assert eq["expression"] == "{dL/da3} * {da3/dz3} * {dz3/dW5}"
    assert set(eq["operands"]) == {"dL/da3", "da3/dz3", "dz3/dW5"}


def test_table_shows_the_chain_rule_with_numbers():
    out = run("solve", CONFIGS / "bce_2_2_1.yaml").stdout
    assert "∂L/∂W₅ = ∂L/∂σ₃ × ∂σ₃/∂z₃ × ∂z₃/∂W₅ = 1.7107 × 0.2428 × 0.6565 = 0.2727" in out
    assert "0.4352 × 1 + 0.3545 × 1 − 0.1419 = 0.6478" in out


def test_digits_and_output_file(tmp_path):
    out = tmp_path / "seed.json"
    result = run("solve", CONFIGS / "bce_2_2_1.yaml", "--format", "json", "--output", out)
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text())["name"].startswith("2-2-1 sigmoid")
    six = run("solve", CONFIGS / "bce_2_2_1.yaml", "--digits", "6").stdout
    assert "0.272738" in six


def test_steps_override():
    doc = json.loads(run("solve", CONFIGS / "bce_2_2_1.yaml", "--steps", "3", "--format", "json").stdout)
    assert [s["step"] for s in doc["steps"]] == [1, 2, 3]
    assert doc["losses"][0] > doc["losses"][1] > doc["losses"][2] > doc["losses"][3]
    assert "W5_new@3" in doc["named"] and "loss_after@2" in doc["named"]


def test_round_refused_with_adam():
    result = run("solve", CONFIGS / "adam_steps.yaml", "--round", "4")
    assert result.exit_code == 2
    assert "adam" in result.stderr


def test_validate_many_reports_every_bad_file(tmp_path):
    ok = run("validate", CONFIGS / "bce_2_2_1.yaml", CONFIGS / "mazur.yaml")
    assert ok.exit_code == 0 and ok.stdout.count("ok") == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1]\ntarget: [0]\nlayers:\n  - weights: [[1]]\nloss: mse\nlr: 1\nlayres: []\n")
    result = run("validate", CONFIGS / "bce_2_2_1.yaml", bad, CONFIGS / "mazur.yaml")
    assert result.exit_code == 2
    assert "bad.yaml:7:1" in result.stderr and "did you mean 'layers'" in result.stderr
    assert "ok  " + str(CONFIGS / "mazur.yaml") in result.stdout  # went on past the bad file


def test_validate_directory_skips_keys():
    result = run("validate", CONFIGS)
    assert result.exit_code == 0, result.output
    assert ".key." not in result.stdout


def test_init_writes_and_never_overwrites(tmp_path):
    target = tmp_path / "net.yaml"
    assert run("init", target).exit_code == 0
    assert run("validate", target).exit_code == 0
    again = run("init", target)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert run("init", target, "--example", "mazur", "--force").exit_code == 0
    assert "Mazur" in target.read_text()
    unknown = run("init", tmp_path / "x.yaml", "--example", "mazr")
    assert unknown.exit_code == 2 and "mazur" in unknown.stderr


def test_examples_lists_every_config_with_a_description():
    result = run("examples")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    names = [line.split()[0] for line in lines]
    assert names == [e.name for e in list_examples()]
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)
    assert "bce_2_2_1" in names and not any(".key" in n for n in names)


def test_schema_is_json_schema():
    doc = json.loads(run("schema").stdout)
    assert doc["$schema"].startswith("http://json-schema.org/")
    network = doc["definitions"]["network"]
    assert set(network["required"]) == {"input", "target", "layers", "loss"}


def test_python_dash_m_and_errors_on_stderr_only(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("input: [1, 2\n")
    proc = subprocess.run([sys.executable, "-m", "backprop_cli", "solve", str(bad), "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "broken.yaml" in proc.stderr and "Traceback" not in proc.stderr
    ok = subprocess.run([sys.executable, "-m", "backprop_cli", "examples"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "bce_2_2_1" in ok.stdout


def test_every_command_has_help():
    for command in ("solve", "validate", "init", "examples", "schema"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Example" in result.stdout


def test_library_api_without_cli():
    import backprop_cli

    trace = backprop_cli.solve(backprop_cli.load_spec(CONFIGS / "bce_2_2_1.yaml"))
    assert trace.named["W5_new"] == pytest.approx(-0.4452, abs=5e-5)
    text = backprop_cli.render(trace, "json")
    assert json.loads(text)["loss_after"] == trace.loss_after


def test_notation_block_is_checked_when_the_spec_is_read(tmp_path):
    base = "input: [1]\ntarget: [0]\nlayers:\n  - weights: [[1]]\nloss: mse\nlr: 1\nnotation:\n  preset: mazur\n"
    bad = tmp_path / "n.yaml"
    bad.write_text(base + "  activaton: o\n")
    result = run("validate", bad)
    assert result.exit_code == 2 and "n.yaml:9:3" in result.stderr and "did you mean 'activation'" in result.stderr
    good = tmp_path / "g.yaml"
    good.write_text(base + "  activation: o\n")
    assert run("validate", good).exit_code == 0
    assert "oₒ₁ = netₒ₁" in run("solve", good).stdout  # the override replaced "out"


def test_console_entry_pauses_the_collector_only_while_importing():
    """entry.main imports with gc paused, then freezes and re-enables it (entry.py)."""
    import subprocess
    import sys

    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('GC', gc.isenabled(), gc.get_freeze_count() > 0))\n"
        "sys.argv = ['backprop', 'examples']\n"
        "from backprop_cli.entry import main\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "bce_2_2_1" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "GC True True"
