"""Renderers: Trace in, text out. They format; they never compute.

`render(trace, "table" | "json" | "latex" | "markdown", …)` is the one entry point the
CLI and library users call; each format lives in its own module.
"""
from __future__ import annotations

import io

from ..errors import BackpropError
from ..trace import NotebookDisplay

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
    width: int | None = 100,
    color: bool = False,
    show_steps: str | tuple | None = None,
    heading_level: int = 1,
    title: bool = True,
) -> str:
    """Render a solved trace as text in one of FORMATS. `show_steps`: the steps written
    out (`all`, `first,last`, `1,2,5`; default: all of a run of up to 3 steps, else 1, 2
    and the last); `heading_level`, `title`: for a document the output is placed in;
    `width` None: the terminal's (COLUMNS, else 80 when not a terminal)."""
    if format not in FORMATS:
        raise BackpropError(f"unknown format {format!r}: choose one of {', '.join(FORMATS)}")
    if lang not in LANGS:
        raise BackpropError(f"unknown language {lang!r}: choose en or ko")
    if not 0 <= digits <= 15:
        raise BackpropError(f"--digits takes 0…15, got {digits}")
    if getattr(trace, "kind", "network") == "layered" and format != "table":
        from .layered import render_layered

        return render_layered(trace, format, digits=digits, lang=lang, standalone=standalone)
    from .common import parse_show_steps

    if isinstance(show_steps, str):
        show_steps = parse_show_steps(show_steps)
    if not 1 <= heading_level <= 4:
        raise BackpropError(f"--heading-level takes 1…4, got {heading_level}")
    graph = getattr(trace, "kind", "network") == "graph"
    if format == "json":
        if graph:
            from .graph_json import render_graph_json

            return render_graph_json(trace)
        from .json_out import render_json

        return render_json(trace)
    if format == "table":
        from rich.console import Console

        buffer = io.StringIO()
        console = Console(file=buffer, width=width, color_system="standard" if color else None,
                          force_terminal=color, legacy_windows=False)
        console.print(table_renderable(trace, digits=digits, lang=lang, notation=notation, show_steps=show_steps))
        return buffer.getvalue()
    if format == "latex":
        if graph:
            from .graph_latex import graph_latex
            from .latex import Options

            return graph_latex(trace, digits=digits, lang=lang, standalone=standalone,
                               options=Options(digits, lang, standalone, show_steps, heading_level, title))
        from .latex import render_latex

        return render_latex(trace, digits=digits, lang=lang, notation=notation, standalone=standalone,
                            show_steps=show_steps, heading_level=heading_level, title=title)
    if graph:
        from .graph_markdown import graph_markdown
        from .latex import Options

        return graph_markdown(trace, digits=digits, lang=lang,
                              options=Options(digits, lang, False, show_steps, heading_level, title))
    from .markdown import render_markdown

    return render_markdown(trace, digits=digits, lang=lang, notation=notation, show_steps=show_steps,
                           heading_level=heading_level, title=title)


def table_renderable(trace, *, digits: int = 4, lang: str = "en", notation: str | None = None,
                     show_steps: tuple | None = None):
    """The rich renderable of the table format (the CLI prints it to the real terminal)."""
    if getattr(trace, "kind", "network") == "graph":
        from .graph_table import graph_table

        return graph_table(trace, digits=digits, lang=lang, show_steps=show_steps)
    if getattr(trace, "kind", "network") == "layered":  # conv, pooling, norm, dropout, rnn, lstm
        from .layered import layered_table

        return layered_table(trace, digits=digits, lang=lang)
    from .table import render_table

    return render_table(trace, digits=digits, lang=lang, notation=notation, show_steps=show_steps)


def latex_math(trace, *, digits: int = 4, lang: str = "en") -> str:
    """The derivation as display math only (Jupyter's `_repr_latex_`)."""
    if getattr(trace, "tensor", False) and getattr(trace, "steps", ()):  # descent on tensors
        from .tensor_descent import descent_math

        return descent_math(trace, digits=digits, lang=lang)
    if getattr(trace, "tensor", False):  # each equation's aligned block, nothing else
        from .tensor_graph import tensor_graph_math

        return tensor_graph_math(trace, digits=digits, lang=lang)
    if getattr(trace, "kind", "network") == "graph":
        from .graph_latex import graph_latex_math

        return graph_latex_math(trace, digits=digits, lang=lang)
    if getattr(trace, "kind", "network") == "layered":  # the displays of its Markdown page
        from .layered import layered_math

        return layered_math(trace, digits=digits, lang=lang)
    from .latex import render_latex_math

    return render_latex_math(trace, digits=digits, lang=lang)


def _notebook_show(trace, kind: str) -> str:
    """What a notebook shows for a trace (trace.NotebookDisplay's renderer)."""
    return render(trace, "markdown") if kind == "markdown" else latex_math(trace)


NotebookDisplay.show = _notebook_show
