"""`--format markdown` for a computational graph: graph_latex.py's story in Markdown
(KaTeX math, pipe tables; the circuit as a Mermaid flowchart instead of TikZ)."""
from __future__ import annotations

from typing import Optional

from ..trace import GraphTrace
from .graph_latex import GraphWriter
from .latex import Options
from .markdown import MarkdownSyntax


class GraphMarkdownWriter(MarkdownSyntax, GraphWriter):
    def figure(self) -> str:
        from .mermaid import graph_mermaid

        return graph_mermaid(self.trace, self.opt.digits)


def graph_markdown(trace: GraphTrace, digits: int = 4, lang: str = "en", options: Optional[Options] = None) -> str:
    """A graph's derivation as Markdown with KaTeX-compatible math."""
    if getattr(trace, "tensor", False) and getattr(trace, "steps", ()):  # descent on tensors
        from .tensor_descent import descent_markdown

        return descent_markdown(trace, digits=digits, lang=lang, options=options)
    if getattr(trace, "tensor", False):  # vectors and matrices: tensor_graph.py
        from .tensor_graph import tensor_graph_markdown

        return tensor_graph_markdown(trace, digits=digits, lang=lang)
    return GraphMarkdownWriter(trace, options or Options(digits, lang, standalone=False)).body() + "\n"
