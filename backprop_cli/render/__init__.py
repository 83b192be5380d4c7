"""Renderers: Trace in, text out. They format; they never compute.

`render(trace, "table" | "json" | "latex" | "markdown", …)` is the one entry point the
CLI and library users call; each format lives in its own module.
"""
from __future__ import annotations

import io

from ..errors import BackpropError

FORMATS = ("table", "latex", "markdown", "json")
LANGS = ("en", "ko")


def render(
    trace,
    format: str = "table",
    *,
    digits: int = 4,
    lang: str = "en",
    notation: str | None = None,
    standalone: bool = False,
    width: int = 100,
    color: bool = False,
) -> str:
    """Render a solved trace as text in one of FORMATS."""
    if format not in FORMATS:
        raise BackpropError(f"unknown format {format!r}: choose one of {', '.join(FORMATS)}")
    if lang not in LANGS:
        raise BackpropError(f"unknown language {lang!r}: choose en or ko")
    if not 0 <= digits <= 15:
        raise BackpropError(f"--digits takes 0…15, got {digits}")
    if getattr(trace, "kind", "network") == "layered" and format != "table":
        from .layered import render_layered

        return render_layered(trace, format, digits=digits, lang=lang, standalone=standalone)
    if format == "json":
        from .json_out import render_json

        return render_json(trace)
    if format == "table":
        from rich.console import Console

        from .table import render_table

        buffer = io.StringIO()
        console = Console(file=buffer, width=width, color_system="standard" if color else None,
                          force_terminal=color, legacy_windows=False)
        console.print(render_table(trace, digits=digits, lang=lang, notation=notation))
        return buffer.getvalue()
    if format == "latex":
        from .latex import render_latex

        return render_latex(trace, digits=digits, lang=lang, notation=notation, standalone=standalone)
    from .markdown import render_markdown

    return render_markdown(trace, digits=digits, lang=lang, notation=notation)
