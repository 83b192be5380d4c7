"""Golden files: every renderer's exact output on every shipped example (configs/*.yaml,
answer keys skipped), in English and Korean.

Regenerate them after an intended change of the output, then review the diff:

    BACKPROP_REGEN_GOLDEN=1 python -m pytest tests/test_render_golden.py
    git diff --stat tests/golden/

(`python tests/test_render_golden.py` does the same.) A new example in configs/ fails
here until its goldens are generated that way.

Variants per example: the terminal table (widths 80 and 120, no colour), the LaTeX fragment,
the standalone LaTeX document and the Markdown page, each `en` and `ko`.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python tests/test_render_golden.py`
    sys.path.insert(0, str(ROOT))

from backprop_cli.read.examples import is_key_file  # noqa: E402
from backprop_cli.render import render  # noqa: E402

CONFIGS = ROOT / "configs"
GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("BACKPROP_REGEN_GOLDEN") == "1"

VARIANTS = {  # name → (format, extension, options)
    "table": ("table", "txt", {"width": 80, "color": False}),
    "table120": ("table", "txt", {"width": 120, "color": False}),
    "latex": ("latex", "tex", {}),
    "standalone": ("latex", "tex", {"standalone": True}),
    "markdown": ("markdown", "md", {}),
}
LANGS = ("en", "ko")


def examples() -> list[Path]:
    return sorted(p for p in CONFIGS.glob("*.yaml") if not is_key_file(p))


def solve_example(path: Path):
    """Load and solve a spec the way `backprop solve` does (network or graph)."""
    from backprop_cli.load import load_spec

    spec = load_spec(path)
    if getattr(spec, "kind", "network") == "graph" or type(spec).__name__ == "GraphSpec":
        from backprop_cli.graph.minimize import solve_any_graph  # gradient descent too (`minimize:`)

        return solve_any_graph(spec)
    if getattr(spec, "kind", "network") == "layered":
        from backprop_cli.network.typed_solve import solve_layered

        return solve_layered(spec)
    from backprop_cli.network.solve import solve

    return solve(spec)


_TRACES: dict[Path, object] = {}


def trace_of(path: Path):
    if path not in _TRACES:
        _TRACES[path] = solve_example(path)
    return _TRACES[path]


def golden_path(example: Path, variant: str, lang: str) -> Path:
    ext = VARIANTS[variant][1]
    return GOLDEN / f"{example.stem}.{variant}.{lang}.{ext}"


def rendered(example: Path, variant: str, lang: str) -> str:
    fmt, _, options = VARIANTS[variant]
    return render(trace_of(example), fmt, lang=lang, **options)


CASES = [(e, v, lang) for e in examples() for v in VARIANTS for lang in LANGS]


@pytest.mark.parametrize("example,variant,lang", CASES,
                         ids=[f"{e.stem}-{v}-{lang}" for e, v, lang in CASES])
def test_golden(example: Path, variant: str, lang: str):
    text = rendered(example, variant, lang)
    path = golden_path(example, variant, lang)
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path.relative_to(ROOT)}: run "
                    "`BACKPROP_REGEN_GOLDEN=1 python -m pytest tests/test_render_golden.py`")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"{example.name} rendered as {variant}/{lang} differs from {path.relative_to(ROOT)}; "
        "if the change is intended, regenerate the goldens (see the top of this file)")


def test_no_stale_goldens():
    """Every golden file belongs to a shipped example and a known variant."""
    if REGEN:
        return
    wanted = {golden_path(e, v, lang) for e, v, lang in CASES}
    stale = [p.name for p in GOLDEN.glob("*.*") if p not in wanted]
    assert not stale, f"golden files with no example or variant: {stale}"


if __name__ == "__main__":
    os.environ["BACKPROP_REGEN_GOLDEN"] = "1"
    sys.exit(pytest.main([__file__, "-q"]))
