"""`--format markdown` for a computational graph: graph_latex.py's story in Markdown
(KaTeX math, pipe tables; the circuit picture needs TikZ, so it is left out)."""
from __future__ import annotations

from typing import Optional

from ..trace import GraphTrace
from .graph_latex import GraphWriter
from .latex import Options
from .markdown import MarkdownSyntax


class GraphMarkdownWriter(MarkdownSyntax, GraphWriter):
    def figure(self) -> str:
        return ""


def graph_markdown(trace: GraphTrace, digits: int = 4, lang: str = "en", options: Optional[Options] = None) -> str:
    """A graph's derivation as Markdown with KaTeX-compatible math."""
    return GraphMarkdownWriter(trace, options or Options(digits, lang, standalone=False)).body() + "\n"
