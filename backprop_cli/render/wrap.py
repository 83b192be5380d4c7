"""Equations that fit the terminal: broken as the LaTeX document breaks them.

A derivation line `name = formula = numbers = value` longer than the terminal is split
at `=` first, then at the `+`/`−`/`×` marks the formula printer left (shallow ones before
those inside parentheses); continuation lines start under the first `=`:

      z₃ = W₅ × σ₁ + W₆ × σ₂ + b₃
         = −0.1725 × 0.6565 + 0.1129 × 0.6732 − 0.3043 = −0.3415

The result never stands alone on a line when its numbers can make room for it, a line
never ends in an operator (breaks come *before* binary operators only, so never after
a unary minus), and a piece too long for any line is folded under the `=` column, never
at column 0. The width is the console's at render time (rich's `options.max_width`):
the terminal's, `COLUMNS` when set, 80 when piped.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

from .formula import MARK

_SPLIT = re.compile("(" + MARK + ".)")
FULL_ENOUGH = 0.4  # a line broken at + or × is at least this full (a break at = may come sooner)
RESULT = 90  # the priority of a break before the result: only when nothing else fits


class _Token:
    __slots__ = ("text", "style", "priority", "indent")

    def __init__(self, text: str, style: str, priority: Optional[int], indent: int) -> None:
        self.text, self.style, self.priority, self.indent = text, style, priority, indent

    def width(self, first: bool) -> int:
        """Cells it takes: in place, or first on a continuation line (indent, no lead space)."""
        return self.indent + cell_len(self.text.lstrip(" ")) if first else cell_len(self.text)


def pieces(marked: str) -> list[tuple[int, str]]:
    """A marked formula as (priority of the break before it, text) pieces; the first
    piece has priority -1 (no break before it)."""
    parts = _SPLIT.split(marked)
    out = [(-1, parts[0])]
    for m, text in zip(parts[1::2], parts[2::2]):
        out.append((ord(m[1]) - 0x30, text))
    return out


class BrokenEquation:
    """`name = part = part …` laid out at the console's width (see the module docstring).

    `parts` may carry break marks (FormulaPrinter.marked); the last part is the result,
    highlighted; `note` (a branch taken, a node off the path) follows, dimmed."""

    def __init__(self, name: str, parts: list[str], note: Optional[str] = None, indent: int = 2,
                 highlight_last: bool = True) -> None:
        self.name, self.parts, self.note, self.indent = name, parts, note, indent
        self.highlight_last = highlight_last

    def tokens(self) -> list[_Token]:
        head = " " * self.indent + self.name
        column = cell_len(head) + 1  # where the first "=" sits
        out = [_Token(head, "bold", None, 0)]
        last = len(self.parts) - 1
        for k, part in enumerate(self.parts):
            style = "bold cyan" if k == last and k > 0 and self.highlight_last else ""
            for n, (priority, text) in enumerate(pieces(part)):
                if n == 0:
                    text = " = " + text
                    # never break before the first part; the result stays with its numbers
                    prio = None if k == 0 else (RESULT if k == last else 0)
                    out.append(_Token(text, style, prio, column))
                else:
                    out.append(_Token(text, style, 1 + priority, column + 2))
        if self.note:
            out.append(_Token(f"   ({self.note})", "dim", 1, column + 2))
        return out

    def lines(self, width: int) -> list[Text]:
        tokens = self.tokens()
        rows = _fill(tokens, max(width, 20))
        out = []
        for r, (i, j) in enumerate(rows):
            line = Text(no_wrap=True, overflow="ignore")
            for k in range(i, j):
                tok = tokens[k]
                if k == i and r > 0:
                    line.append(" " * tok.indent)
                    line.append(tok.text.lstrip(" "), style=tok.style)
                else:
                    line.append(tok.text, style=tok.style)
            out.extend(fold(line, width, tokens[i + 1].indent if r == 0 and j > i + 1 else tokens[i].indent))
        return out

    def plain(self, width: int) -> str:
        return "\n".join(t.plain for t in self.lines(width))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.lines(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(20, options.max_width), options.max_width)


def _fill(tokens: list[_Token], width: int) -> list[tuple[int, int]]:
    """Token ranges of each line: greedy, then the best break among those that fit
    (lowest priority; of equals, the latest), a + or × break only on a full-enough line."""
    rows: list[tuple[int, int]] = []
    i, n = 0, len(tokens)
    while i < n:
        acc = tokens[i].width(first=bool(rows))
        j = i + 1
        while j < n and acc + tokens[j].width(False) <= width:
            acc += tokens[j].width(False)
            j += 1
        if j == n:
            rows.append((i, n))
            break
        start = tokens[i].width(first=bool(rows))
        candidates, used = [], start
        for k in range(i + 1, j + 1):
            if tokens[k].priority is not None:
                candidates.append((k, used))
            if k < n:
                used += tokens[k].width(False)
        good = [k for k, used in candidates
                if tokens[k].priority == 0 or used >= FULL_ENOUGH * width]
        pool = good or [k for k, _ in candidates]
        if not pool:  # nothing breakable fits: the next legal break, and fold what overflows
            later = [k for k in range(j + 1, n) if tokens[k].priority is not None]
            if not later:
                rows.append((i, n))
                break
            best = later[0]
        else:
            best = min(pool, key=lambda k: (tokens[k].priority, -k))
        rows.append((i, best))
        i = best
    return rows


def fold(line: Text, width: int, indent: int) -> list[Text]:
    """A line still wider than `width` (one unbreakable piece) cut into chunks, the
    continuation chunks indented (never at column 0)."""
    if line.cell_len <= width:
        return [line]
    indent = min(indent, width // 2)
    out: list[Text] = []
    rest = line
    room = width
    while rest.cell_len > room:
        cut = _cut_at(rest.plain, room)
        head, rest = rest[:cut], rest[cut:]
        out.append(head if not out else Text(" " * indent) + head)
        room = width - indent
    out.append(rest if not out else Text(" " * indent) + rest)
    return out


def _cut_at(text: str, cells: int) -> int:
    """The longest prefix of `text` within `cells` cells, preferably ending at a space."""
    used, end = 0, 0
    for idx, ch in enumerate(text):
        used += cell_len(ch)
        if used > cells:
            break
        end = idx + 1
    space = text.rfind(" ", 0, end)
    return space + 1 if space > end // 2 else max(end, 1)


class Hanging:
    """Prose (a heading, a note, a summary line) wrapped at the console's width with its
    continuation lines indented, never at column 0."""

    def __init__(self, text: Text, indent: int = 4) -> None:
        self.text, self.indent = text, indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        if self.text.cell_len <= width:
            yield self.text
            return
        lines = self.text.wrap(console, width - self.indent)
        for n, line in enumerate(lines):
            line.rstrip()
            yield line if n == 0 else Text(" " * self.indent) + line

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(20, options.max_width), options.max_width)


class FitOrElse:
    """A table when it fits the width unshrunk; else the same content as equation lines
    (a table squeezed below its natural width folds numbers mid-digit)."""

    def __init__(self, table, fallback: Iterable) -> None:
        self.table, self.fallback = table, list(fallback)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        natural = Measurement.get(console, options.update(width=10_000), self.table).maximum
        if natural <= options.max_width:
            yield self.table
        else:
            yield from self.fallback

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(20, options.max_width), options.max_width)


__all__ = ["BrokenEquation", "Hanging", "FitOrElse", "fold", "pieces"]
