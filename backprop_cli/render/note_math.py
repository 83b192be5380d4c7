"""A typed layer's derivation notes (network/derive.py) as math: LaTeX for pdflatex and
for KaTeX (Markdown, Jupyter).

A note is lines of plain math text whose numbers the solver already formatted. This
module only changes how they are set, never what they say: ∂L/∂x → \\partial L/\\partial x,
x̂ → \\hat{x}, √(σ² + ε) → \\sqrt{\\sigma^{2} + \\varepsilon}, Σ_n,i,j → \\sum_{n,i,j},
a list of numbers → a row bmatrix, a `name =` line followed by `[…]` rows → a bmatrix,
a negative number after an operator → in parentheses (4·(−0.0000), never 4·−0.0000).
Runs of English words stay prose (\\text{} in display math, plain text in a paragraph).

`note_items` sorts the lines into paragraphs (mostly prose: text with inline math) and
display rows (mostly math), and breaks a display row too wide for the page at its
top-level =, + and − (a conv worked element's sum of products).
"""
from __future__ import annotations

import re
from typing import Union

from ..frozen import frozen
from ..safe_text import latex_text, markdown_text
from .formula import tex_width

WIDTH = 27.0  # em: a display row wider than this is broken at a top-level relation or sum

_SYMBOLS = {"δ": r"\delta", "μ": r"\mu", "σ": r"\sigma", "γ": r"\gamma", "β": r"\beta", "ε": r"\varepsilon",
            "Σ": r"\Sigma ", "·": r"\cdot", "⊙": r"\odot", "×": r"\times", "→": r"\to", "←": r"\leftarrow", "≥": r"\geq",
            "≤": r"\leq", "…": r"\ldots", "÷": r"\div", "′": "'", "ᵀ": r"^{\top}", "²": "^{2}", "∂": r"\partial ",
            "−": "-", "{": r"\{", "}": r"\}", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$", "~": r"\sim",
            "^": r"\hat{}", "\\": r"\backslash "}
_FUNCTIONS = {"max": r"\max", "min": r"\min", "tanh": r"\tanh", "exp": r"\exp", "log": r"\log"}
_PARAMS = {"gamma": r"\gamma", "beta": r"\beta"}
_OPERATORS = {r"\cdot", r"\odot", r"\times", r"\div", "+", "-"}  # a negative number after these gets ( )
_RELATIONS = {"=", r"\to", r"\mathrel{+}=", r"\leftarrow"}

_TOKEN = re.compile(r"""
    (?P<numbers>\[\s*−?\d+\.\d+(?:,\s*−?\d+\.\d+)+\s*\])   # [0.12, −0.5]: a row vector
  | (?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![A-Za-z]))
  | (?P<path>L\d+\.[A-Za-z_]+)                                     # L1.weights, L1.W_hh
  | (?P<hat>d?[A-Za-z]\u0302)                                      # x̂, dx̂
  | (?P<sub>[A-Za-zδΣ]_(?:\([^()]*\)|[A-Za-z0-9]+(?:,[A-Za-z0-9]+)*))  # h_(t−1), W_hh, Σ_n,i,j
  | (?P<word>[A-Za-z]{2,}(?:'[a-z]+)?)                            # words, step's
  | (?P<letter>[A-Za-z])
  | (?P<sqrt>√\()
  | (?P<pluseq>\+=)
  | (?P<space>\s+)
  | (?P<other>.)
""", re.X)


@frozen
class Tok:
    kind: str  # math | prose | space
    tex: str
    raw: str = ""


def _sub(text: str) -> str:
    """A subscript's content: t−1 → t-1, hh → hh (upright when it is a word)."""
    inner = text[1:-1] if text.startswith("(") else text
    return "".join(t.tex for t in tokens(inner) if t.kind != "space")


def tokens(line: str) -> list[Tok]:
    out: list[Tok] = []
    i = 0
    while i < len(line):
        m = _TOKEN.match(line, i)
        kind, raw = m.lastgroup, m.group(0)
        i = m.end()
        if kind == "numbers":
            cells = [c.strip().replace("−", "-") for c in raw.strip("[] ").split(",")]
            out.append(Tok("math", r"\begin{bmatrix}" + " & ".join(cells) + r"\end{bmatrix}", raw))
        elif kind == "num":
            mant, _, exp = raw.partition("e")
            tex = mant if not exp else f"{mant} \\times 10^{{{int(exp)}}}"
            if out and out[-1].tex == "-" and _unary(out[:-1]):  # −0.5 is one number
                out.pop()
                tex = "-" + tex
                if _after_operator(out):
                    tex = r"\left(" + tex + r"\right)"
            out.append(Tok("math", tex, raw))
        elif kind == "path":
            layer, _, param = raw.partition(".")
            out.append(Tok("math", r"\mathrm{" + layer + "}." + param_tex(param), raw))
        elif kind == "hat":
            out.append(Tok("math", ("d" if raw[0] == "d" and len(raw) == 3 else "") + r"\hat{" + raw[-2] + "}", raw))
        elif kind == "sub":
            head, _, rest = raw.partition("_")
            head_tex = {"δ": r"\delta", "Σ": r"\sum\nolimits"}.get(head, head)
            sub = _sub(rest)
            if re.fullmatch(r"[a-z]{2,}", rest):  # W_hh: a name, not a product of indices
                sub = r"\mathrm{" + rest + "}"
            out.append(Tok("math", head_tex + "_{" + sub + "}", raw))
        elif kind == "word":
            if raw in _FUNCTIONS:
                out.append(Tok("math", _FUNCTIONS[raw], raw))
            elif line[i:i + 1] == "′" or line[m.start() - 1:m.start()] == "∂":  # relu′, ∂L/∂out
                out.append(Tok("math", r"\mathrm{" + raw + "}", raw))
            else:
                out.append(Tok("prose", raw, raw))
        elif kind == "letter":
            out.append(Tok("math", raw, raw))
        elif kind == "sqrt":
            depth, j = 1, i
            while j < len(line) and depth:
                depth += {"(": 1, ")": -1}.get(line[j], 0)
                j += 1
            inner = line[i:j - 1] if depth == 0 else line[i:]
            out.append(Tok("math", r"\sqrt{" + "".join(t.tex if t.kind != "prose" else r"\text{" + t.tex + "}"
                                                          for t in tokens(inner) if t.kind != "space") + "}", raw))
            i = j
        elif kind == "pluseq":
            out.append(Tok("math", r"\mathrel{+}=", raw))
        elif kind == "space":
            out.append(Tok("space", " ", raw))
        else:
            out.append(Tok("math", _SYMBOLS.get(raw, raw if raw.isascii() else r"\text{" + latex_text(raw) + "}"), raw))
    return out


def param_tex(name: str) -> str:
    """A layer parameter's name: weights → \\mathrm{weights}, W_hh → W_{\\mathrm{hh}}, gamma → \\gamma."""
    if name in _PARAMS:
        return _PARAMS[name]
    head, _, rest = name.partition("_")
    if rest:
        return head + r"_{\mathrm{" + rest + "}}"
    return r"\mathrm{" + name + "}" if len(name) > 1 else name


def _significant(toks: list[Tok]):
    return next((t for t in reversed(toks) if t.kind != "space"), None)


def _unary(before: list[Tok]) -> bool:
    """Whether a − is a sign: at the start, after an operator, a relation, ( or ,."""
    prev = _significant(before)
    return prev is None or prev.tex in _OPERATORS | _RELATIONS or prev.tex in ("(", ",", "[", r"\left(")


def _after_operator(before: list[Tok]) -> bool:
    prev = _significant(before)
    return prev is not None and prev.tex in _OPERATORS


# -- segments: prose and math ------------------------------------------------------------

Segment = tuple[str, str]  # ("text", unicode prose) | ("math", latex)


_PUNCT = ",;:'"
_NOT_ATOM = set("=+−-·⊙×÷→←,;:()[]/'<>≤≥") | {"+="}
_VARIABLE_NEIGHBOURS = ("⊙", "/", "·", "=", "×", "÷")


def segments(line: str) -> list[Segment]:
    """The line as alternating prose and math. A lone word between operators is math
    (x ⊙ mask / 0.5); punctuation next to prose and parentheses opened in prose join it."""
    toks = tokens(line)
    solid = [k for k, t in enumerate(toks) if t.kind != "space"]
    kinds = {k: "text" if toks[k].kind == "prose" else "math" for k in solid}
    for n, k in enumerate(solid):  # a lone word between operators is a variable
        if kinds[k] == "text":
            around = [j for j in (solid[n - 1] if n else None, solid[n + 1] if n + 1 < len(solid) else None)
                      if j is not None]
            if all(kinds[j] == "math" for j in around) and any(toks[j].raw in _VARIABLE_NEIGHBOURS for j in around):
                kinds[k] = "var"
    opened: list[bool] = []
    for n, k in enumerate(solid):
        raw = toks[k].raw
        prev = kinds.get(solid[n - 1]) if n else None
        nxt = kinds.get(solid[n + 1]) if n + 1 < len(solid) else None
        if raw == "(":
            opened.append(nxt == "text")
            if nxt == "text":
                kinds[k] = "text"
        elif raw == ")":
            if (opened.pop() if opened else prev == "text"):
                kinds[k] = "text"
        elif raw in _PUNCT and prev == "text":
            kinds[k] = "text"
        elif raw == "-" and prev == "text" and nxt == "text" and toks[k - 1].kind != "space":
            kinds[k] = "text"  # zero-padded
    out: list[list] = []
    pending_space = False
    last_math = None
    for k, t in enumerate(toks):
        if t.kind == "space":
            pending_space = True
            continue
        kind = kinds[k]
        if kind == "var":
            kind, tex = "math", r"\mathrm{" + t.raw + "}"
        else:
            tex = t.raw if kind == "text" else t.tex
        if out and out[-1][0] == kind:
            if kind == "text":
                out[-1][1] += (" " if pending_space else "") + tex
            else:
                atoms = last_math is not None and last_math.raw not in _NOT_ATOM and t.raw not in _NOT_ATOM
                glue = r" \, " if pending_space and atoms else (" " if pending_space or _letter_after_command(out[-1][1], tex) else "")
                out[-1][1] += glue + tex
        else:
            if pending_space and out:
                if kind == "text":
                    tex = " " + tex
                else:
                    out[-1][1] += " "
            out.append([kind, tex])
        last_math = t if kind == "math" else None
        pending_space = False
    return [(k, v) for k, v in out if v.strip()]


def _letter_after_command(before: str, tex: str) -> bool:
    """\\cdot then d: a space, or TeX reads \\cdotd."""
    return bool(re.search(r"\\[A-Za-z]+$", before)) and tex[:1].isalpha()


def math_of(segs: list[Segment]) -> str:
    """The whole line as display math: prose in \\text{}."""
    parts = []
    for kind, s in segs:
        parts.append(s if kind == "math" else r"\text{" + latex_text(s) + "}")
    return " ".join(parts)


def is_prose(segs: list[Segment]) -> bool:
    """A sentence with some math in it reads as a paragraph; a formula with a word as math."""
    words = sum(len(s.split()) for kind, s in segs if kind == "text")
    return words >= 6


# -- items: paragraphs and display rows --------------------------------------------------

@frozen
class Para:
    segments: tuple


@frozen
class Rows:
    rows: tuple  # LaTeX rows, each already narrow enough; set left-aligned (`&row`)


Item = Union[Para, Rows]

_MATRIX_ROW = re.compile(r"^\s*\[(.*)\]\s*$")


def note_items(lines) -> list[Item]:
    """A note's lines as paragraphs and groups of display rows, in order."""
    items: list[Item] = []
    lines = list(lines)
    i = 0
    while i < len(lines):
        line = lines[i]
        rows = []
        j = i + 1
        while line.rstrip().endswith(" =") and j < len(lines) and _MATRIX_ROW.match(lines[j]):
            rows.append(_MATRIX_ROW.match(lines[j]).group(1))
            j += 1
        if rows:  # name = then its rows: one bmatrix
            cells = [[c.strip().replace("−", "-") for c in r.split(",")] for r in rows]
            lhs = math_of(segments(line.rstrip()[:-2].strip()))
            _add_rows(items, matrix_rows(lhs, "=", cells))
            i = j
            continue
        if line.lstrip().startswith("…"):  # "… 12 more lines (all values: --format json)"
            items.append(Para((("text", line.strip()),)))
            i += 1
            continue
        segs = segments(line)
        if is_prose(segs):
            items.append(Para(tuple(segs)))
        else:
            _add_rows(items, broken(segs))
        i += 1
    return items


COLUMNS = 8  # a wider matrix is shown in blocks of columns, each saying which


def matrix_rows(lhs: str, relation: str, cells: list[list[str]], more_rows: int = 0,
                vector: bool = False) -> list[str]:
    """`lhs = bmatrix` display rows from formatted cells (LaTeX numbers): blocks of
    COLUMNS columns when wider, the matrix under its name when the row is too wide,
    and ⋮ with how many rows are not shown."""
    width = max(len(r) for r in cells)
    columns = min(COLUMNS, width)
    while columns > 1 and tex_width(r"\quad = " + _bmatrix([r[:columns] for r in cells])) > WIDTH:
        columns -= 1  # as many columns as fit the page
    out = []
    for start in range(0, width, columns):
        block = [r[start:start + columns] for r in cells]
        body = r" \\ ".join(" & ".join(r) for r in block)
        if more_rows:
            body += r" \\ " + " & ".join([r"\vdots"] * len(block[0]))
        where = ""
        if width > columns:
            what = "entries" if vector else "columns"
            where = rf"\;\text{{({what} {start + 1}--{min(start + columns, width)})}}"
        more = rf"\quad\text{{({more_rows} more rows)}}" if more_rows else ""
        matrix = r"\begin{bmatrix}" + body + r"\end{bmatrix}" + more
        row = f"{lhs}{where} {relation} {matrix}"
        out += [row] if tex_width(row) <= WIDTH else [f"{lhs}{where}", rf"\quad {relation} {matrix}"]
    return out


def _bmatrix(cells: list[list[str]]) -> str:
    return r"\begin{bmatrix}" + r" \\ ".join(" & ".join(r) for r in cells) + r"\end{bmatrix}"


def _add_rows(items: list, rows: list[str]) -> None:
    if items and isinstance(items[-1], Rows):
        items[-1] = Rows(items[-1].rows + tuple(rows))
    else:
        items.append(Rows(tuple(rows)))


def broken(segs: list[Segment]) -> list[str]:
    """One display line, set in rows no wider than WIDTH: cut after its top-level commas
    and semicolons (a statement ending in ; ends its row), and a clause still too wide
    before its relations, sums, prose or a parenthetical."""
    whole = math_of(segs)
    if tex_width(whole) <= WIDTH:
        return [whole]
    toks, depth = [], 0  # (tex, depth before it, kind)
    for kind, s in segs:
        for t in ([r"\text{" + latex_text(s) + "}"] if kind == "text" else _split_top(s)):
            after = depth + sum(t.count(c) for c in "({[") - sum(t.count(c) for c in ")}]")
            toks.append((t, depth, kind, after))
            depth = after
    clauses: list[list] = [[]]
    for t in toks:
        clauses[-1].append(t)
        if t[3] == 0 and t[0].endswith((",", ";")) and t[0] not in (",", r"\,"):
            clauses.append([])
    units: list[str] = []
    for clause in clauses:
        if not clause:
            continue
        text = " ".join(t[0] for t in clause)
        if tex_width(text) <= WIDTH:
            units.append(text)
            continue
        current: list[str] = []
        for t, d, kind, _ in clause:
            starts = kind == "text" or t in ("=", "+", "-", r"\to", r"\mathrel{+}=") or t.startswith("(")
            if current and d == 0 and starts:
                units.append(" ".join(current))
                current = []
            current.append(t)
        units.append(" ".join(current))
    rows: list[str] = []
    row = ""
    for u in units:
        said = "=" in row or r"\to" in row or row.startswith(r"\quad")  # never a left-hand side alone
        if row and said and tex_width(row + " " + u) > WIDTH:
            rows.append(row)
            row = r"\quad " + u
        else:
            row = (row + " " + u).strip()
        if row.endswith(";"):  # a statement ends: the next starts its own row
            rows.append(row)
            row = ""
    if row:
        rows.append(row)
    return rows


def _split_top(tex: str) -> list[str]:
    """A math segment cut at its spaces (its operators and relations are space-separated)."""
    return [t for t in re.split(r"(?<=\S) (?=\S)", tex) if t]


# -- writing -----------------------------------------------------------------------------

def paragraph(para: Para, markdown: bool) -> str:
    """Prose as text (escaped for its format), math inline: `$…$` (both formats)."""
    out = []
    for kind, s in para.segments:
        if kind == "math":
            lead, core, tail = s[:len(s) - len(s.lstrip())], s.strip(), s[len(s.rstrip()):]
            out.append(lead + f"${core}$" + tail)
        else:
            out.append(markdown_text(s) if markdown else latex_text(s).replace("--", "-{}-"))  # --format
    return "".join(out).strip()


def display_rows(rows) -> str:
    """Rows of one note, left-aligned (KaTeX and amsmath both know aligned)."""
    return r"\begin{aligned}" + "\n" + " \\\\\n".join("&" + r for r in rows) + "\n" + r"\end{aligned}"


__all__ = ["matrix_rows", "note_items", "segments", "tokens", "Para", "Rows", "paragraph", "display_rows", "broken"]
