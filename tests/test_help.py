"""`--help` at 80 columns, as `python -m backprop_cli` prints it: no type noise (`<bool>`,
`{spec}`, `<list[Path]>`), no line past 80 columns, every help sentence whole (no word
broken across lines)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from backprop_cli.cli import app
from tests.cli_proc import ENV, ROOT

COMMANDS = ["solve", "check", "validate", "init", "examples", "schema"]


def help_text(command: str) -> str:
    env = {**ENV, "COLUMNS": "80", "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    run = subprocess.run([sys.executable, "-m", "backprop_cli", command, "--help"], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _command(name: str):
    import typer.main

    group = typer.main.get_command(app)
    return group.commands[name]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_reads_cleanly_at_80_columns(command):
    text = help_text(command)
    assert re.match(rf"Usage: \S.* {command} ", text), text
    for noise in ("<bool>", "<list", "<int>", "<str>", "<path>", "{spec", "{SPEC"):
        assert noise not in text, (noise, text)
    assert max(len(line) for line in text.splitlines()) <= 80
    flat = " ".join(text.split())
    for param in _command(command).params:
        if param.help:
            assert " ".join(param.help.split()) in flat, param.help  # wrapped at spaces only
    for line in text.splitlines():
        assert not re.search(r"[A-Za-z]-$", line), line  # no hyphenation either


def test_flags_show_no_value_and_arguments_their_metavar():
    text = help_text("check")
    assert " check [OPTIONS] SPEC|DIR...\n" in text
    assert re.search(r"^  --exact +Compare", text, re.M)
    assert "--junit FILE" in text and "--max-size BYTES" in text
