"""The Markdown renderer: every math span parses with KaTeX (what GitHub, Jupyter and KaTeX
pages render), headings and tables are Markdown, Korean prose with `--lang ko`.

The KaTeX check runs tests/katex_check.js with node; it is skipped when node or the
katex package is missing (for a local run: `npm install --no-save katex` in the repo).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from backprop_cli.render.notation import PRESETS
from backprop_cli.render import render
from tests.test_render_golden import ROOT, examples, trace_of

NODE = shutil.which("node")
CHECKER = Path(__file__).resolve().parent / "katex_check.js"
DISPLAY = re.compile(r"\$\$\n?(.*?)\n?\$\$", re.S)
INLINE = re.compile(r"(?<![\\$])\$(?!\$)((?:[^$\\\n]|\\.)+?)\$")


def math_spans(markdown: str, where: str) -> list[dict]:
    """Display ($$…$$) and inline ($…$) math, as Markdown math renderers find them."""
    spans = [{"tex": m.group(1), "display": True, "where": where} for m in DISPLAY.finditer(markdown)]
    rest = DISPLAY.sub("", markdown)
    rest = re.sub(r"`[^`]*`", "", rest)  # code spans hold no math
    spans += [{"tex": m.group(1), "display": False, "where": where} for m in INLINE.finditer(rest)]
    return spans


def variants(example: Path):
    """The other ways a user solves an example: hand-rounded, --symbolic, --detail scalar."""
    from backprop_cli.errors import BackpropError
    from backprop_cli.network.solve import solve
    from backprop_cli.load import load_spec

    spec = load_spec(example)
    if type(spec).__name__ == "GraphSpec" or getattr(spec, "kind", "network") in ("graph", "layered"):
        return  # graphs have no such variants; typed layers have no scalar/symbolic forms (docs/layers.md)
    for name, options in (("round4", {"round_digits": 4}), ("symbolic", {"symbolic": True}),
                          ("scalar", {"detail": "scalar"})):
        try:
            yield name, solve(spec, **options)
        except BackpropError:  # refused for this spec (adam with --round, batches with --symbolic…)
            continue


def katex_available() -> bool:
    if NODE is None:
        return False
    probe = subprocess.run([NODE, "-e", "require('katex')"], cwd=ROOT, capture_output=True)
    return probe.returncode == 0


def test_every_math_span_parses_with_katex():
    if not katex_available():
        pytest.skip("node or the katex npm package is missing (npm install --no-save katex)")
    spans = []
    for example in examples():
        trace = trace_of(example)
        for lang in ("en", "ko"):
            spans += math_spans(render(trace, "markdown", lang=lang), f"{example.stem}/{lang}")
        spans += math_spans(trace._repr_latex_(), f"{example.stem}/_repr_latex_")
        for name, variant in variants(example):
            for preset in PRESETS:
                spans += math_spans(render(variant, "markdown", notation=preset), f"{example.stem}/{name}/{preset}")
    assert len(spans) > 500
    run = subprocess.run([NODE, str(CHECKER)], input=json.dumps(spans), capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert run.returncode in (0, 1), run.stderr
    failures = json.loads(run.stdout or "[]")
    assert not failures, "\n".join(f"{f['where']}: {f['error']}\n  {f['tex'][:300]}" for f in failures[:10])


def test_math_spans_are_found():
    spans = math_spans("a $x_1$ b\n\n$$\n\\begin{aligned} z &= 1 \\end{aligned}\n$$\n`$no$` \\$5", "t")
    assert [s["tex"] for s in spans] == ["\\begin{aligned} z &= 1 \\end{aligned}", "x_1"]


def test_markdown_has_headings_tables_and_no_latex_only_commands():
    trace = trace_of(next(e for e in examples() if e.stem == "bce_2_2_1"))
    md = render(trace, "markdown")
    assert md.startswith("# 2-2-1 sigmoid network")
    for heading in ("## Network", "## Given values", "## Forward pass", "## Loss", "## Backward pass",
                    "## Updating the parameters", "## Before and after", "## Loss after the step"):
        assert heading + "\n" in md
    assert "| Parameter | Before | Gradient | After |" in md
    for latex_only in ("\\section", "\\begin{center}", "tabular", "tikz", "\\[", "\\textbf"):
        assert latex_only not in md


def test_korean_markdown():
    trace = trace_of(next(e for e in examples() if e.stem == "bce_2_2_1"))
    md = render(trace, "markdown", lang="ko")
    for heading in ("## 순전파(Forward Propagation)", "## 역전파(Back Propagation)", "## 가중치 갱신",
                    "## 가중치와 편향 갱신 비교"):
        assert heading in md
    assert "Forward pass" not in md


def test_multi_step_markdown_has_loss_table_and_text_chart():
    trace = trace_of(next(e for e in examples() if e.stem == "adam_steps"))
    md = render(trace, "markdown")
    assert "## Loss per step" in md and "| Step | Loss |" in md
    assert re.search(r"`[▁▂▃▄▅▆▇█]+`", md)


def test_jupyter_reprs():
    trace = trace_of(next(e for e in examples() if e.stem == "bce_2_2_1"))
    assert trace._repr_markdown_() == render(trace, "markdown")
    latex = trace._repr_latex_()
    assert latex.startswith("$$") and "\\begin{aligned}" in latex and "\\section" not in latex
