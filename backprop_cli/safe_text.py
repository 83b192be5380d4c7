"""User text on its way out: the one place that decides how it is made harmless.

Everything a user wrote (a spec's name and description, notation symbols, graph node
names, answer-key names and records, file names, option values) may be hostile or just
careless. Where it meets an output, one of these functions stands between:

* `visible` — for terminals and plain text: control characters (C0, DEL, C1 such as
  U+009B, which some terminals read as CSI) and the bidirectional overrides that can
  reorder what a reader sees become their escape spelled out (`\\x1b`, `\\u009b`), so
  `\\e]0;pwned\\a` is shown, never obeyed.
* `clip` / `quoted` — for messages: a fragment of user text is cut to `LIMIT`
  characters and its length said (`… (1,048,576 characters)`), so a megabyte field
  yields a line, not a flood.
* `latex_text`, `markdown_text`, `xml_text` — the same promise in each output
  language: LaTeX specials escaped so `\\input{/etc/passwd}` is printed, Markdown
  punctuation escaped so `<script>` and `[link](…)` are shown, XML 1.0's forbidden
  characters replaced so every report parses. (JSON needs no function of its own:
  `json.dumps` escapes C0, and `visible` turns a raw C1 character into `\\u009b` —
  a valid JSON escape of the same string.)

No function here knows about specs or traces: renderers and messages call them where
user text enters their output.
"""
from __future__ import annotations

import re

LIMIT = 60  # characters of user text echoed in a message before it is cut
MESSAGE_LIMIT = 2000  # characters of one whole message (≤ 8 KB even in 4-byte UTF-8)

# C0 except newline and tab (kept by `visible(..., lines=True)`), DEL, C1, and the
# Unicode format characters that reorder or hide text (bidi embeddings, overrides and
# isolates, zero-width marks, the line/paragraph separators some terminals obey).
_HIDDEN = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200B, 0x200E, 0x200F,
           *range(0x2028, 0x202F), *range(0x2066, 0x206A), 0xFEFF]
_HIDDEN_SET = frozenset(_HIDDEN)
_NAMED = {0x0A: "\\n", 0x09: "\\t", 0x0D: "\\r"}


def _spell(code: int) -> str:
    if code in _NAMED:
        return _NAMED[code]
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


_VISIBLE = {c: _spell(c) for c in _HIDDEN}
_VISIBLE_LINES = {c: s for c, s in _VISIBLE.items() if c not in (0x0A, 0x09)}
_SURROGATE = re.compile("[\ud800-\udfff]")


def visible(text: str, lines: bool = False) -> str:
    """`text` with every control or reordering character spelled out as an escape.

    `lines=True` keeps newlines and tabs (multi-line messages, documents); otherwise
    a newline is shown as `\\n`, so one field stays one line. Lone surrogates (a YAML
    `"\\ud800"`) cannot be encoded at all and are spelled out too."""
    text = str(text)
    out = text.translate(_VISIBLE_LINES if lines else _VISIBLE)
    if _SURROGATE.search(out):
        out = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)
    return out


def clip(text: str, limit: int = LIMIT) -> str:
    """At most `limit` characters of `text`, then `… (N characters)` when it was longer,
    made visible: the helper for every echo of user text in a message."""
    text = str(text)
    if len(text) <= limit:
        return visible(text)
    return visible(text[:limit]) + f"… ({len(text):,} characters)"


def quoted(text: str, limit: int = LIMIT) -> str:
    """`'text'` for messages, clipped and visible (what `repr` gave, without the flood)."""
    text = str(text)
    if len(text) <= limit:
        return "'" + visible(text).replace("'", "\\'") + "'"
    return "'" + visible(text[:limit]).replace("'", "\\'") + f"…' ({len(text):,} characters)"


_LONG_RUN = re.compile(r"[^\s]{%d,}" % (4 * LIMIT))


def clip_message(text: str, limit: int = LIMIT) -> str:
    """A whole message kept short whatever was put in it: every run of more than
    4 × `limit` non-space characters is clipped, and every line beyond 1,000 characters
    cut, the whole at most MESSAGE_LIMIT. The backstop under the per-fragment `clip` calls: a path nobody thought of
    still cannot flood stderr."""
    text = visible(text, lines=True)
    text = _LONG_RUN.sub(lambda m: m.group()[:limit] + f"… ({len(m.group()):,} characters)", text)
    lines = text.split("\n")
    if len(lines) > 40:
        lines = lines[:40] + [f"… ({len(lines) - 40:,} more lines)"]
    text = "\n".join(line if len(line) <= 500 else line[:500] + f"… ({len(line):,} characters)"
                      for line in lines)
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + f"… (message cut at {MESSAGE_LIMIT:,} characters)"


# -- LaTeX ---------------------------------------------------------------------------------

# Greek letters as LaTeX math (notation.py spells symbols with it; here a Greek letter in a
# title becomes $\alpha$ rather than a character pdflatex cannot set)
GREEK_LATEX = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\epsilon", "ζ": r"\zeta",
    "η": r"\eta", "θ": r"\theta", "κ": r"\kappa", "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu",
    "ξ": r"\xi", "π": r"\pi", "ρ": r"\rho", "σ": r"\sigma", "τ": r"\tau", "φ": r"\phi",
    "χ": r"\chi", "ψ": r"\psi", "ω": r"\omega", "Δ": r"\Delta", "Σ": r"\Sigma", "Φ": r"\Phi",
    "Ω": r"\Omega", "Θ": r"\Theta",
}


_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}

_TEXT_UNICODE = {  # beyond ASCII: what pdflatex's UTF-8 input can typeset without extra fonts
    "—": "---", "–": "--", "‘": "`", "’": "'", "“": "``", "”": "''", "…": r"\ldots{}", "−": "-",
    "×": r"$\times$", "÷": r"$\div$", "·": r"$\cdot$", "→": r"$\to$", "←": r"$\leftarrow$",
    "≤": r"$\le$", "≥": r"$\ge$", "≠": r"$\ne$", "≈": r"$\approx$", "∂": r"$\partial$",
    "²": r"$^2$", "³": r"$^3$", "½": r"$\frac12$", "°": r"$^\circ$", "±": r"$\pm$", "\u00a0": "~",
    "ᵀ": r"$^{\top}$", "⊙": r"$\odot$", "√": r"$\surd$", "∑": r"$\sum$",
}


def _is_hangul(ch: str) -> bool:
    o = ord(ch)
    return 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F


def latex_text(text: str) -> str:
    """User text (a spec's name) made safe for LaTeX text mode: every special escaped,
    control characters spelled out (`\\x1b`), so no input can run a command or break
    the document.
    Beyond ASCII, what pdflatex cannot set without more fonts becomes `?`; Hangul stays
    (documents with Hangul load kotex), Greek letters become math."""
    out = []
    for ch in visible(text, lines=True):  # a control character shows as \x1b, then is escaped
        if ch in _TEXT_ESCAPES:
            out.append(_TEXT_ESCAPES[ch])
        elif ch in "\n\r\t":
            out.append(" ")
        elif ord(ch) < 32 or ord(ch) == 127:
            continue
        elif ord(ch) < 128 or _is_hangul(ch) or (0xC0 <= ord(ch) <= 0xFF and ch not in "×÷"):
            out.append(ch)
        elif ch in _TEXT_UNICODE:
            out.append(_TEXT_UNICODE[ch])
        elif ch in GREEK_LATEX:
            out.append("$" + GREEK_LATEX[ch] + "$")
        elif 0x80 <= ord(ch) < 0xC0 or ord(ch) in _HIDDEN_SET:
            continue
        else:
            out.append("?")
    return "".join(out)


# -- Markdown ------------------------------------------------------------------------------


def markdown_text(text: str) -> str:
    """User text made inert in Markdown: no emphasis, links, HTML, tables or math from a
    name; control characters shown as escapes. Parentheses stay as they are: `\\(` would
    open inline math in Jupyter."""
    out = []
    for ch in visible(text):
        if ch in "\\`*_[]<>#|$~":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


# -- XML ----------------------------------------------------------------------------------

# XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """User text every XML 1.0 parser accepts: the characters XML forbids (and the C1 and
    reordering ones a terminal would obey) spelled out as escapes; newlines and tabs stay."""
    text = visible(str(text), lines=True)
    return _XML_ILLEGAL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
