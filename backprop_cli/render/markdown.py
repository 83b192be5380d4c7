"""`--format markdown`: the same worked example as the LaTeX document, for GitHub,
Jupyter and any KaTeX/MathJax page.

It is the LaTeX writer's story with Markdown syntax: headings `#`, pipe tables, `$…$`
inline and `$$…$$` display math (aligned, bmatrix — only commands KaTeX supports; no
TikZ, so the network is described by its layer table). Korean prose with `--lang ko`.
User text (the spec's name) is escaped so it can add no markup.
"""
from __future__ import annotations

from typing import Optional

from .common import Look, sparkline, thin
from .formula import markdown_text
from .latex import FRAGMENT_WIDTH, LatexWriter, Options


class MarkdownSyntax:
    """The DocWriter primitives in Markdown (mixed in before a LaTeX writer)."""

    def heading(self, level: int, text: str) -> str:
        return "#" * min(level + self.opt.heading_level + 1, 6) + " " + text

    def title_block(self, text: str) -> str:
        if not self.opt.title:
            return ""
        return "#" * min(self.opt.heading_level, 6) + " " + text

    def text(self, s: str) -> str:
        return markdown_text(s)

    def bold(self, s: str) -> str:
        return "**" + s + "**"

    def display(self, math: str) -> str:
        return "$$\n" + math + "\n$$"

    def table(self, head: list[str], rows: list[list[str]], align: str, caption: str = "",
              rules: bool = True) -> str:
        if not head:  # a key–value table reads better as a list (Markdown tables need a header)
            return "\n".join("- " + ": ".join(r) for r in rows)
        marks = {"l": ":--", "r": "--:", "c": ":-:"}
        lines = []
        if caption:
            lines += [self.bold(caption), ""]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join(marks[a] for a in align) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)


class MarkdownWriter(MarkdownSyntax, LatexWriter):
    """The network story of LatexWriter, in Markdown."""

    def figure(self) -> str:
        return ""

    def plot(self, losses: list[float]) -> str:
        """A text chart: Markdown has no pgfplots."""
        return "`" + sparkline([losses[i] for i in thin(losses, 60)]) + "`"


def render_markdown(trace, digits: int = 4, lang: str = "en", notation: Optional[str] = None,
                    show_steps: Optional[tuple] = None, heading_level: int = 1, title: bool = True) -> str:
    """The worked example as Markdown with KaTeX-compatible math."""
    options = Options(digits, lang, False, show_steps, heading_level, title)
    look = Look.of(trace, "latex", digits, notation)
    writer = MarkdownWriter(trace, look, options)
    return writer.body() + "\n"


__all__ = ["render_markdown", "MarkdownSyntax", "MarkdownWriter", "FRAGMENT_WIDTH"]
