"""Hostile and careless use (issues 15 and 16), through the real console entry point.

* A canary terminal: injection strings in every user-text field × every format — no
  ESC, BEL, NUL or C1 byte may reach stdout or stderr, no LaTeX or Markdown command from
  user text may be live, no rich markup may be obeyed.
* A canary file whose bytes must not change: `-o` and `--junit` onto the inputs of the
  run (directly, by symlink, by hard link), `init` onto a symlink.
* A failing write (RLIMIT_FSIZE, in a subprocess) leaves the old output whole and no
  temporary file behind.
* FIFOs, devices and sockets as spec or key: exit 2 within 10 s.
* Megabyte fields: stderr stays under 10 KB.
* Every JUnit report of a bad or hostile key parses (expat).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import socket
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from backprop_cli.safe_text import clip, latex_text, markdown_text, visible, xml_text

from .cli_proc import ENV, WarmCLI, cold

BASE = (Path(__file__).parent / "bad_inputs" / "valid" / "base.yaml").read_text(encoding="utf-8")
GRAPH = "graph:\n  x: -2\n  y: 5\n  q: x + y\n  f: q * y\n"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# YAML double-quoted escapes: each decodes to a control sequence a terminal would obey
INJECTIONS = {
    "osc_title": r"\e]0;pwned\a",
    "clear": r"\e[2J\e[H",
    "c1_csi": r"\u009b31mred",
    "osc8_link": r"\e]8;;https://evil.example\e\\click\e]8;;\e\\",
    "nul_del": r"a\0b\x7fc",
    "bidi": r"abc\u202edcba",
    "newline_spoof": r"ok\nerror: forged line",
    "rich_markup": "[bold red]x[/] [/] [link=https://evil.example]y[/link]",
    "latex": r"\\input{/etc/passwd} \\write18{touch /tmp/x} $\\require{html}$",
    "markdown": "<script>alert(1)</script> [link](https://evil.example) ![i](x) $x$",
}


@pytest.fixture(scope="module")
def warm():
    cli = WarmCLI()
    yield cli
    cli.close()


def _no_raw(run, what):
    found = RAW.search(run.stdout + run.stderr)
    assert found is None, f"{what}: raw U+{ord(found.group()):04X} reached the terminal\n{run.describe()}"
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, f"{what}\n{run.describe()}"


def _quoted_yaml(text: str) -> str:
    """A YAML double-quoted scalar holding `text`'s escapes as written above."""
    return '"' + text.replace('"', '\\"') + '"'


# ----------------------------------------------------------------------------------------
# 1. the canary terminal: every user-text field × every format


def _specs(tmp_path: Path) -> list[tuple[str, Path, int]]:
    """(label, file, expected exit) for each injection in each field that reaches output."""
    out = []
    for label, payload in INJECTIONS.items():
        q = _quoted_yaml(payload)
        fields = {
            "name": (f"name: {q}\n" + BASE, 0),
            "description": (f"description: {q}\n" + BASE, 0),
            "graph_name": (f"name: {q}\n" + GRAPH, 0),
            "notation": (BASE + f"notation: {{activation: {q}}}\n", 2),
            "unknown_key": (BASE + f"? {q}\n: 1\n", 2),
            "activation": (BASE.replace("activation: sigmoid", f"activation: {q}", 1), 2),
            "graph_node": (GRAPH.replace("  q: x + y", f"  {q}: x + y"), 2),
            "graph_expr": (GRAPH.replace("x + y", f"x + {q}"), 2),
        }
        for field, (text, code) in fields.items():
            path = tmp_path / f"{field}_{label}.yaml"
            path.write_text(text, encoding="utf-8")
            out.append((f"{field}/{label}", path, code))
    return out


def test_no_control_character_reaches_the_terminal_from_a_spec(tmp_path, warm):
    cases = _specs(tmp_path)
    for label, path, code in cases:
        formats = ("table", "latex", "markdown", "json") if code == 0 else ("json",)
        for fmt in formats:
            run = warm.run(["solve", path, "--format", fmt], cwd=tmp_path)
            assert run.code == code, f"{label} {fmt}\n{run.describe()}"
            _no_raw(run, f"{label} {fmt}")
            if fmt == "latex":
                assert "\\input{/etc/passwd}" not in run.stdout and "\\write18{" not in run.stdout, label
            if fmt == "markdown":
                for live in ("<script>", "[link](", "![i]"):
                    assert live not in run.stdout, (label, live)
                # a command is live only after an odd run of backslashes (`\\require` is text)
                assert not re.search(r"(?<!\\)(\\\\)*\\(require|input|write18)", run.stdout), label
            if fmt == "table":  # rich markup shown as written, never obeyed
                assert "\x1b]8;" not in run.stdout
                if label.startswith("name/rich"):
                    assert "[bold red]x[/]" in run.stdout
        if code == 2:
            assert warm.run(["validate", path], cwd=tmp_path).code == 2


def _on_a_terminal(args, cwd) -> tuple[int, bytes]:
    """The command with a pseudo-terminal as stdin, stdout and stderr: rich styles its
    output there, so this is the terminal a user sees."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "backprop_cli", *map(str, args)], cwd=cwd,
                            env={**ENV, "TERM": "xterm-256color"}, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=60), out


def test_the_canary_terminal_sees_only_rich_own_colours(tmp_path):
    """On a real (pseudo-)terminal the only escape sequences are rich's colours (SGR,
    `ESC [ … m`): no title change, clear screen, hyperlink, bell or C1 byte from user text."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: " + _quoted_yaml(" ".join(INJECTIONS.values())) + "\n" + BASE, encoding="utf-8")
    key = tmp_path / "spec.key.yaml"
    key.write_text("loss: 0.5369\nW1_new: 9\n", encoding="utf-8")
    graph = tmp_path / "graph.yaml"
    graph.write_text("name: " + _quoted_yaml(INJECTIONS["osc_title"] + INJECTIONS["c1_csi"]) + "\n" + GRAPH,
                     encoding="utf-8")
    bad_key = tmp_path / "bad.key.yaml"
    bad_key.write_text("named:\n  " + _quoted_yaml(INJECTIONS["osc8_link"]) + ": 1\n", encoding="utf-8")
    for args, code in ((["solve", spec], 0), (["check", spec], 1), (["solve", graph], 0),
                       (["check", spec, "--key", bad_key], 2), (["solve", spec, "--notation", "\x1b]0;x\x07"], 2)):
        status, out = _on_a_terminal(args, tmp_path)
        assert status == code, (args, out[-2000:])
        rest = re.sub(rb"\x1b\[[0-9;]*m", b"", out)
        assert b"\x1b" not in rest and b"\x07" not in rest and not re.search(rb"\xc2[\x80-\x9f]", rest), \
            (args, rest[:3000])


def test_a_hostile_name_is_shown_escaped_not_dropped(tmp_path, warm):
    path = tmp_path / "t.yaml"
    path.write_text(f"name: {_quoted_yaml(INJECTIONS['osc_title'])}\n" + BASE, encoding="utf-8")
    table = warm.run(["solve", path], cwd=tmp_path)
    assert "\\x1b]0;pwned\\x07" in table.stdout, table.describe()
    md = warm.run(["solve", path, "--format", "markdown"], cwd=tmp_path)
    assert "\\\\x1b\\]0;pwned\\\\x07" in md.stdout, md.describe()  # visible, then Markdown-escaped
    c1 = tmp_path / "c1.yaml"
    c1.write_text('name: "a\\u009bb\\e"\n' + BASE, encoding="utf-8")
    out = warm.run(["solve", c1, "--format", "json"], cwd=tmp_path)
    assert "a\\u009bb\\u001b" in out.stdout and json.loads(out.stdout)["name"] == "a\x9bb\x1b"  # same string
    latex = warm.run(["solve", path, "--format", "latex"], cwd=tmp_path)
    assert "\\textbackslash{}x1b]0;pwned\\textbackslash{}x07" in latex.stdout, latex.describe()


def test_file_names_and_cli_options_are_echoed_escaped(tmp_path, warm):
    evil = tmp_path / "evil\x1b]0;pwned\x07.yaml"
    evil.write_text(BASE, encoding="utf-8")
    runs = [
        warm.run(["solve", evil, "--notation", "\x1b[2Jnope"], cwd=tmp_path),
        warm.run(["check", evil, "--abs", "\x9b31m"], cwd=tmp_path),
        warm.run(["validate", evil], cwd=tmp_path),
        warm.run(["check", evil], cwd=tmp_path),  # no key: the summary names the file
        warm.run(["init", tmp_path / "new\x1b[31m.yaml", "--example", "\x1b]0;x\x07"], cwd=tmp_path),
        warm.run(["solve", tmp_path / "missing\x1b[2J.yaml"], cwd=tmp_path),
    ]
    for run in runs:
        _no_raw(run, "option/file name")
    assert runs[0].code == 2 and "\\x1b[2Jnope" in runs[0].stderr
    assert runs[2].code == 0 and "evil\\x1b]0;pwned\\x07.yaml" in runs[2].stdout


def _key_cases(tmp_path: Path) -> list[Path]:
    keys = []
    for label, payload in INJECTIONS.items():
        q = _quoted_yaml(payload)
        for field, text in {
            "named": f"named:\n  {q}: 0.5\n",
            "bare": f"{q}: 0.5\n",
            "value": f"loss: {q}\n",
            "record": f"steps:\n  - layers:\n      - {{layer: 1, {q}: [[0.1]]}}\n",
            "record_id": f"steps:\n  - layers:\n      - {{layer: {q}, weights: [[0.1]]}}\n",
            "tolerance": f"tolerance: {{{q}: 1}}\nloss: 0.5\n",
        }.items():
            path = tmp_path / f"{field}_{label}.key.yaml"
            path.write_text(text, encoding="utf-8")
            keys.append(path)
    return keys


def test_hostile_keys_reach_no_terminal_and_every_junit_report_parses(tmp_path, warm):
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE, encoding="utf-8")
    keys = _key_cases(tmp_path)
    # a key that checks fine and one that mismatches, both named by a hostile file name
    good = tmp_path / "ok\x1b]0;t\x07\u009b.key.yaml"
    good.write_text("loss: 0.5369\nW1_new: 9\n", encoding="utf-8")
    keys.append(good)
    # and the shipped bad-key corpus
    keys += sorted((Path(__file__).parent / "bad_inputs" / "keys").glob("*.key.yaml"))
    for key in keys:
        for fmt in ("table", "json"):
            report = tmp_path / f"report-{fmt}.xml"
            run = warm.run(["check", spec, "--key", key, "--format", fmt, "--junit", report], cwd=tmp_path)
            assert run.code in (0, 1, 2), run.describe()
            _no_raw(run, f"{key.name} {fmt}")
            assert report.exists(), f"{key.name}: no JUnit report\n{run.describe()}"
            root = ET.parse(report).getroot()  # expat: raises on any character XML 1.0 forbids
            assert root.tag == "testsuites"
            assert not RAW.search(report.read_text(encoding="utf-8")), key.name
    run = warm.run(["check", spec, "--key", good], cwd=tmp_path)
    assert run.code == 1 and "ok\\x1b]0;t\\x07\\u009b.key.yaml" in run.stdout, run.describe()


# ----------------------------------------------------------------------------------------
# 2. notation symbols: a whitelist


@pytest.mark.parametrize("symbol, shown", [
    ("\\hat{y}", "ŷ"), ("\\mathbf{W}", "W"), ("\\tilde{a}", "ã"), ("h'", "h'"), ("σ′", "σ′"),
    ("\\alpha", "α"), ("out", "out"), ("\\bar{x}", "x̄"), ("\\vec{v}", "v⃗"),
])
def test_whitelisted_symbols_render_in_every_format(tmp_path, warm, symbol, shown):
    path = tmp_path / "n.yaml"
    path.write_text(BASE + f"notation: {{activation: {_quoted_yaml(symbol.replace(chr(92), chr(92) * 2))}}}\n",
                    encoding="utf-8")
    table = warm.run(["solve", path], cwd=tmp_path)
    assert table.code == 0 and shown in table.stdout, table.describe()
    for fmt in ("latex", "markdown"):
        run = warm.run(["solve", path, "--format", fmt], cwd=tmp_path)
        assert run.code == 0, run.describe()
        if "\\" in symbol:
            assert symbol in run.stdout, (fmt, run.stdout[:3000])


def test_unicode_accents_become_tex_accents(tmp_path, warm):
    path = tmp_path / "n.yaml"
    path.write_text(BASE + 'notation: {activation: "ŷ", weight: "x\u0304"}\n', encoding="utf-8")
    latex = warm.run(["solve", path, "--format", "latex"], cwd=tmp_path)
    assert latex.code == 0 and "\\hat{y}" in latex.stdout and "\\bar{x}" in latex.stdout, latex.describe()
    table = warm.run(["solve", path], cwd=tmp_path)
    assert "ŷ" in table.stdout and "x̄" in table.stdout


@pytest.mark.parametrize("symbol", [
    "\\input{/etc/passwd}", "\\write18{ls}", "\\require{html}", "\\def\\x{y}", "\\href{u}{x}",
    "x^^5cinput", "[/]", "[link=https://e.example]x[/link]", "a$b", "a%b", "a#b", "a&b", "a~b",
    "<b>", "{x", "x}", "\\", "a\\ b", "x^", "\\hat", "",
])
def test_other_symbols_are_refused_with_the_field_path(tmp_path, warm, symbol):
    path = tmp_path / "n.yaml"
    path.write_text(BASE + f"notation: {{weight: {_quoted_yaml(symbol.replace(chr(92), chr(92) * 2))}}}\n",
                    encoding="utf-8")
    run = warm.run(["solve", path], cwd=tmp_path)
    assert run.code == 2 and "notation.weight" in run.stderr and ":12:" in run.stderr, run.describe()
    assert run.stdout == "" and "\x1b" not in run.stderr


# ----------------------------------------------------------------------------------------
# 3. nothing is lost: outputs never over inputs, writes atomic, init never follows a link


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_output_onto_any_input_is_refused_and_the_canary_is_untouched(tmp_path, warm):
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE, encoding="utf-8")
    key = tmp_path / "spec.key.yaml"
    key.write_text("loss: 0.5369\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.yaml").symlink_to(spec)
    os.link(spec, tmp_path / "hard.yaml")
    (tmp_path / "keylink.xml").symlink_to(key)
    os.link(key, tmp_path / "keyhard.xml")
    before = {p: _digest(p) for p in (spec, key)}
    attempts = []
    for target in (spec, tmp_path / "link.yaml", tmp_path / "hard.yaml", tmp_path / "sub" / ".." / "spec.yaml",
                   Path("spec.yaml")):
        for fmt in ("json", "latex", "markdown", "table"):
            attempts.append(["solve", spec, "--format", fmt, "-o", target])
    for target in (spec, key, tmp_path / "keylink.xml", tmp_path / "keyhard.xml", tmp_path / "link.yaml"):
        attempts.append(["check", spec, "--junit", target])
        attempts.append(["check", spec, "--key", key, "--junit", target])
    for args in attempts:
        run = warm.run(args, cwd=tmp_path)
        assert run.code == 2 and "refusing to write over" in run.stderr, (args, run.describe())
        _no_raw(run, str(args))
    assert {p: _digest(p) for p in (spec, key)} == before
    assert (tmp_path / "link.yaml").is_symlink() and (tmp_path / "keylink.xml").is_symlink()
    # a fresh output is fine, and a second run replaces it whole
    out = tmp_path / "out.json"
    assert warm.run(["solve", spec, "--format", "json", "-o", out], cwd=tmp_path).code == 0
    assert warm.run(["solve", spec, "--format", "latex", "-o", out], cwd=tmp_path).code == 0
    assert out.read_text(encoding="utf-8").startswith("%")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    # through a symlink to a file that is no input: the target is replaced, the link stays
    (tmp_path / "real.json").write_text("old\n", encoding="utf-8")
    (tmp_path / "out-link.json").symlink_to(tmp_path / "real.json")
    assert warm.run(["solve", spec, "--format", "json", "-o", tmp_path / "out-link.json"], cwd=tmp_path).code == 0
    assert (tmp_path / "out-link.json").is_symlink()
    assert (tmp_path / "real.json").read_text(encoding="utf-8").startswith("{")
    # a device is a stream: written, never renamed over
    assert warm.run(["solve", spec, "--format", "json", "-o", "/dev/null"], cwd=tmp_path).code == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    run = warm.run(["solve", spec, "--format", "json", "-o", tmp_path], cwd=tmp_path)
    assert run.code == 2 and "is a directory" in run.stderr


def _limited(limit: int):
    def preexec():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_a_failing_write_leaves_the_old_file_whole_and_no_temporary(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE, encoding="utf-8")
    out = tmp_path / "out.tex"
    old = "% the previous document, which must survive\n" * 20
    out.write_text(old, encoding="utf-8")
    junit = tmp_path / "report.xml"
    junit.write_text("<old/>\n", encoding="utf-8")
    (tmp_path / "spec.key.yaml").write_text("loss: 0.5369\n", encoding="utf-8")
    for args, target, before in (
        (["solve", spec, "--format", "latex", "--standalone", "-o", out], out, old),
        (["check", spec, "--junit", junit], junit, "<old/>\n"),
    ):
        proc = subprocess.run([sys.executable, "-m", "backprop_cli", *map(str, args)], cwd=tmp_path, env=ENV,
                              capture_output=True, text=True, timeout=60, preexec_fn=_limited(200))
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "cannot write" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert target.read_text(encoding="utf-8") == before
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_init_never_follows_a_symlink_without_force(tmp_path, warm):
    canary = tmp_path / "canary.yaml"
    canary.write_text("precious\n", encoding="utf-8")
    link = tmp_path / "net.yaml"
    link.symlink_to(canary)
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "nowhere" / "x.yaml")
    for target in (link, dangling):
        run = warm.run(["init", target], cwd=tmp_path)
        assert run.code == 2 and "symbolic link" in run.stderr, run.describe()
    assert canary.read_text(encoding="utf-8") == "precious\n"
    assert not (tmp_path / "nowhere").exists()
    run = warm.run(["init", link, "--force"], cwd=tmp_path)
    assert run.code == 0, run.describe()
    assert not link.is_symlink() and "layers" in link.read_text(encoding="utf-8")
    assert canary.read_text(encoding="utf-8") == "precious\n"  # the link was replaced, not followed
    existing = tmp_path / "existing.yaml"
    existing.write_text("mine\n", encoding="utf-8")
    assert warm.run(["init", existing], cwd=tmp_path).code == 2
    assert existing.read_text(encoding="utf-8") == "mine\n"


# ----------------------------------------------------------------------------------------
# 4. non-regular files: refused before they are opened


def test_fifos_devices_and_sockets_are_refused_within_10_seconds(tmp_path, warm):
    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "spec.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE, encoding="utf-8")
    try:
        jobs = []
        for bad in (fifo, Path("/dev/zero"), Path("/dev/urandom"), sock_path):
            jobs += [["solve", bad], ["validate", bad], ["check", bad, "--key", spec], ["check", spec, "--key", bad]]
        for args in jobs:
            run = warm.run(args, cwd=tmp_path, timeout=10)
            assert not run.timed_out and run.code == 2, (args, run.describe())
            assert "not a regular file" in run.stderr, run.describe()
        cold_run = cold(["solve", fifo], cwd=tmp_path, timeout=10)  # the installed entry point, cold
        assert not cold_run.timed_out and cold_run.code == 2 and "named pipe" in cold_run.stderr
    finally:
        server.close()


# ----------------------------------------------------------------------------------------
# 5. floods: megabyte fields, a few lines of message


def _floods(tmp_path: Path) -> list[list]:
    big, spaced = "A" * 1_000_000, "a " * 500_000
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE, encoding="utf-8")
    files = {
        "unknown_key": BASE + f"? {big}\n: 1\n",
        "unknown_key_spaced": BASE + f'? "{spaced}"\n: 1\n',
        "activation": BASE.replace("activation: sigmoid", f"activation: {big}", 1),
        "loss": BASE.replace("loss: bce", f'loss: "{spaced}"'),
        "optimizer_key": BASE.replace("optimizer: {name: sgd, lr: 1}", f"optimizer:\n  name: sgd\n  lr: 1\n  ? {big}\n  : 1"),
        "notation_key": BASE + f"notation:\n  ? {big}\n  : x\n",
        "notation_symbol": BASE + f"notation: {{activation: {big}}}\n",
        "graph_node": f"graph:\n  x: 1\n  ? \"{spaced}\"\n  : x*2\n",
        "graph_output": f"graph:\n  x: 1\n  y: x*2\noutput: \"{spaced}\"\n",
        "graph_expression": f"graph:\n  x: 1\n  y: x*{big}\n",
        "number": BASE.replace("[-0.3043]", f'["{spaced}"]'),
    }
    jobs = []
    for name, text in files.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        jobs.append(["solve", path, "--format", "json"])
    keys = {
        "named": f"named:\n  ? {big}\n  : 1\n",
        "bare": f'? "{spaced}"\n: 1\n',
        "record": f"steps:\n  - layers:\n      - layer: 1\n        ? {big}\n        : 1\n",
        "value": f'loss: "{spaced}"\n',
        "tolerance": f"tolerance: {{abs: {big}}}\n",
        "escaped": f'named:\n  ? "W1\\e{spaced}"\n  : 1\n',
    }
    for name, text in keys.items():
        path = tmp_path / f"{name}.key.yaml"
        path.write_text(text, encoding="utf-8")
        jobs.append(["check", spec, "--key", path, "--junit", tmp_path / f"{name}.xml"])
    jobs += [
        ["solve", spec, "--notation", "n" * 100_000],
        ["solve", spec, "--format", "f" * 100_000],  # typer's own usage errors, too
        ["solve", spec, "--digits", "9" * 100_000],
        ["solve", spec, "--bogus" + "b" * 100_000],
        ["check", spec, "--abs", "1" * 100_000],
        ["init", tmp_path / "x.yaml", "--example", "e" * 100_000],
        ["solve", tmp_path / ("d" * 200) / ("d" * 200) / ("f" * 200 + ".yaml")],
    ]
    return jobs


def test_megabyte_fields_give_a_short_message(tmp_path, warm):
    for args in _floods(tmp_path):
        run = warm.run(args, cwd=tmp_path, timeout=30)
        assert run.code == 2, (args[:2], run.describe())
        size = len(run.stderr.encode())
        assert size < 10_000, (args[:2], size, run.stderr[:500])
        assert run.stderr.startswith(("error: ", "Usage: ")) and run.stdout == "", run.describe()
        _no_raw(run, str(args[:2]))
        if "--junit" in args:
            report = Path(args[-1])
            assert report.stat().st_size < 20_000 and ET.parse(report).getroot() is not None


# ----------------------------------------------------------------------------------------
# 6. messages that name what is wrong; a null name is a type error


def test_messages_name_the_alias_the_tag_path_and_1_based_names(tmp_path, warm):
    alias = tmp_path / "alias.yaml"
    alias.write_text(BASE.replace("loss: bce", "loss: *the_loss"), encoding="utf-8")
    tag = tmp_path / "tag.yaml"
    tag.write_text(BASE.replace("[-0.3043]", "[!!binary AAAA]"), encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE, encoding="utf-8")
    key = tmp_path / "zero.key.yaml"
    key.write_text("named:\n  delta0: 0.1\n", encoding="utf-8")
    runs = [warm.run(["solve", alias], cwd=tmp_path), warm.run(["solve", tag], cwd=tmp_path),
            warm.run(["check", spec, "--key", key], cwd=tmp_path)]
    assert runs[0].code == 2 and "'*the_loss'" in runs[0].stderr, runs[0].describe()
    assert runs[1].code == 2 and "layers[1].bias[0]" in runs[1].stderr and "!!binary" in runs[1].stderr
    assert runs[2].code == 2 and "delta0" in runs[2].stderr and "1-based" in runs[2].stderr


@pytest.mark.parametrize("value", ["!!null", "!!null ''", "~", "null", "", "true", "42", "!!int 3", "[a]", "{a: 1}"])
def test_a_non_string_name_is_a_type_error(tmp_path, warm, value):
    for text in (f"name: {value}\n" + BASE, f"name: {value}\n" + GRAPH):
        path = tmp_path / "n.yaml"
        path.write_text(text, encoding="utf-8")
        run = warm.run(["solve", path, "--format", "json"], cwd=tmp_path)
        assert run.code == 2 and "n.yaml:1:" in run.stderr and "name: expected text (a title)" in run.stderr, run.describe()


def test_a_quoted_name_is_text(tmp_path, warm):
    path = tmp_path / "n.yaml"
    path.write_text('name: "42"\n' + BASE, encoding="utf-8")
    run = warm.run(["solve", path, "--format", "json"], cwd=tmp_path)
    assert run.code == 0 and '"name": "42"' in run.stdout


# ----------------------------------------------------------------------------------------
# 7. the helpers themselves, against hand-written expectations


def test_visible_spells_out_every_control_character():
    assert visible("a\x1b[2J\x07\x00\x7f\x9b\u202e") == "a\\x1b[2J\\x07\\x00\\x7f\\u009b\\u202e"
    assert visible("one\ntwo\tthree") == "one\\ntwo\\tthree"
    assert visible("one\ntwo", lines=True) == "one\ntwo"
    assert visible("\ud800") == "\\ud800"
    assert all(not RAW.search(visible(chr(c))) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)


def test_clip_cuts_and_says_the_length():
    assert clip("x" * 60) == "x" * 60
    assert clip("x" * 1_000_000) == "x" * 60 + "… (1,000,000 characters)"
    assert clip("\x1b" * 100) == "\\x1b" * 60 + "… (100 characters)"


def test_escapers_for_each_language():
    assert latex_text("\\input{/etc/passwd}") == "\\textbackslash{}input\\{/etc/passwd\\}"
    assert markdown_text("<script>[a](b)$x$") == "\\<script\\>\\[a\\](b)\\$x\\$"
    assert xml_text("a\x00b\ufffe\x1b") == "a\\x00b\\ufffe\\x1b"
    ET.fromstring("<a>" + xml_text("".join(map(chr, range(0x20)))) + "</a>")
