"""Typed-layer networks (conv, pooling, norm, dropout, rnn, lstm) in every format.

The story per step: each layer's output in the forward pass, the loss, then each
layer's backward pass as a student writes it (network/derive.py's notes: the conv
correlation with a worked element, max-pool routing, batch norm's three terms, BPTT's
contributions), then the update. Renderers format; every number comes from the trace.
JSON (`"kind": "layered"`) holds every array and every canonical name.
"""
from __future__ import annotations

import re

from typing import Any

import numpy as np

from .common import optimizer_text
from ..safe_text import latex_text
from .json_out import dumps, json_float

WORDS = {
    "en": {"forward": "Forward pass", "loss": "Loss", "backward": "Backward pass", "update": "Update",
           "after": "Loss after {n} step(s)", "step": "Step {s}", "layer": "Layer {l}", "output": "output",
           "optimizer": "Optimizer", "losses": "Loss per step", "shape": "shape",
           "conv": "convolution: the gradient is a correlation", "pool_max": "max-pool routing",
           "pool_avg": "average pooling", "batchnorm": "batch norm: the three-term gradient",
           "layernorm": "layer norm: the three-term gradient", "dropout": "dropout with the given mask",
           "bptt": "backprop through time", "dense": "dense layer", "flatten": "flatten",
           "running": "running statistics after the step", "activation": "activation",
           "rounded": "hand-rounded to {d} decimals: every computed number rounded, later steps use the rounded "
                      "numbers"},
    "ko": {"forward": "순전파", "loss": "오차", "backward": "역전파", "update": "가중치 갱신",
           "after": "{n}단계 학습 후 오차", "step": "{s}단계", "layer": "{l}번째 층", "output": "출력",
           "optimizer": "최적화", "losses": "단계별 오차", "shape": "형태",
           "conv": "합성곱: 기울기는 상관(correlation)", "pool_max": "최대 풀링: 기울기 전달 위치",
           "pool_avg": "평균 풀링", "batchnorm": "배치 정규화: 세 항의 기울기",
           "layernorm": "층 정규화: 세 항의 기울기", "dropout": "주어진 마스크의 드롭아웃",
           "bptt": "시간 역전파(BPTT)", "dense": "완전연결층", "flatten": "평탄화",
           "running": "갱신된 이동 평균 통계", "activation": "활성화 함수",
           "rounded": "소수점 {d}자리 반올림 풀이: 계산한 모든 값을 반올림하고 이후 계산에 반올림한 값을 사용"},
}


def _array(value) -> Any:
    arr = np.asarray(value, dtype=np.float64)
    return json_float(float(arr)) if arr.ndim == 0 else [_array(v) for v in arr]


def layered_document(trace) -> dict:
    """SPEC §5's network document for typed layers: a record per layer per step with its
    PyTorch-named arrays (out, grad_out, params, grads, params after the step, extras)."""
    steps = []
    for record in trace.steps:
        layers = []
        for st in record.layers:
            layout = trace.spec.layers[st.layer - 1].layout
            shown = (lambda name, arr: arr.T if name == "weights" and layout == "in_out" else arr)  # noqa: E731
            layers.append({
                "layer": st.layer, "type": st.type,
                "out": _array(st.output), "grad_out": _array(st.grad_output),
                "params": {k: _array(shown(k, v)) for k, v in st.params.items()},
                "grads": {k: _array(shown(k, v)) for k, v in st.grads.items()},
                "new_params": {k: _array(shown(k, v)) for k, v in st.new_params.items()},
                **{k.replace("dL/dh", "grad_h"): _array(v) for k, v in st.extras.items()},
                "derivation": [{"title": n.title, "lines": list(n.lines)} for n in st.notes],
            })
        steps.append({"step": record.step, "loss": json_float(record.loss), "layers": layers})
    doc = {
        "format": "backprop/1", "kind": "layered", "name": trace.name, "steps": steps,
        "losses": [json_float(v) for v in trace.losses], "loss_after": json_float(trace.loss_after),
        "named": {k: json_float(v) for k, v in trace.named.items()},
    }
    if trace.policy == "round":  # as dense networks' JSON says it (SPEC §5)
        doc["round"] = trace.digits
    return doc


def _fmt(v, digits: int) -> str:
    text = f"{float(v):.{digits}f}"
    if text.lstrip("-").strip("0.") == "":  # a −0 or a tiny negative printed as 0: no sign
        text = text.lstrip("-")
    return text.replace("-", "−")


ROW_VALUES = 16  # values shown per printed row; the rest are counted
SLICES = 4  # leading slices shown of a rank-3+ array (a conv output's samples × channels)


def _row(values, digits: int) -> str:
    shown = ", ".join(_fmt(v, digits) for v in values[:ROW_VALUES])
    more = len(values) - ROW_VALUES
    return "[" + shown + (f", … {more} more" if more > 0 else "") + "]"


def _rows(arr, digits: int, limit: int = 12) -> list[str]:
    """An array as text rows: a matrix row per line; higher ranks by their last two axes.
    Big arrays are cut (16 values a row, 12 rows, 4 slices) and say how much is left out:
    the terminal is for reading — JSON has every value."""
    arr = np.asarray(arr)
    if arr.ndim <= 1:
        return [_row(np.atleast_1d(arr), digits)]
    if arr.ndim == 2:
        out = [_row(row, digits) for row in arr[:limit]]
        return out + ([f"… {arr.shape[0] - limit} more rows"] if arr.shape[0] > limit else [])
    out = []
    leads = list(np.ndindex(arr.shape[:-2]))
    for lead in leads[:SLICES]:
        out.append("[" + ",".join(str(i + 1) for i in lead) + ",:,:] =")
        out += ["  " + r for r in _rows(arr[lead], digits, limit)]
    if len(leads) > SLICES:
        out.append(f"… {len(leads) - SLICES} more slices [" + ",".join("·" for _ in arr.shape[:-2]) + ",:,:] "
                   "(--format json has every value)")
    return out


def _blocks(trace, digits: int, lang: str) -> list[tuple]:
    """(kind, heading, lines, parts) in reading order; kind: title | h1 | h2 | text.

    `lines` is the terminal's plain text; `parts` what the math formats (Markdown,
    LaTeX) set instead: ("prose", text), ("array", label in LaTeX, an array of the
    trace), ("note", a derivation note's lines), ("display", LaTeX)."""
    W = WORDS.get(lang, WORDS["en"])
    spec = trace.spec
    batched = spec.batched
    one = (lambda a: a) if batched else (lambda a: np.asarray(a)[0])  # noqa: E731
    shapes = " → ".join(f"{layer.type}{tuple(layer.out_shape)}" for layer in spec.layers)
    about = f"{W['loss']}: {spec.loss} ({spec.reduction}); {W['optimizer']}: {optimizer_text(spec)}"
    rounded = [W["rounded"].format(d=trace.digits)] if trace.policy == "round" else []
    out = [("title", trace.name, [], []),
           ("text", "", [shapes, about] + rounded, [("prose", line) for line in [shapes, about] + rounded])]
    shown = trace.steps if len(trace.steps) <= 3 else (trace.steps[0], trace.steps[-1])
    for record in shown:
        out.append(("h1", W["step"].format(s=record.step), [], []))
        out.append(("h2", W["forward"], [], []))
        for st in record.layers:
            head = f"{W['layer'].format(l=st.layer)} ({st.type}) — {W['output']} L{st.layer}.out"
            out.append(("text", head, _rows(one(st.output), digits),
                        [("array", rf"\mathrm{{L{st.layer}}}.\mathrm{{out}}", one(st.output))]))
        out.append(("text", f"{W['loss']} = {_fmt(record.loss, digits)}", [],
                    [("display", r"\mathcal{L} = " + _tex_number(record.loss, digits))]))
        out.append(("h2", W["backward"], [], []))
        for st in reversed(record.layers):
            for note in st.notes:
                lines = note.in_language(lang)
                out.append(("text", f"{W['layer'].format(l=st.layer)}: {W.get(note.title, note.title)}",
                            list(lines), [("note", lines)]))
            if "running_mean_new" in st.extras:
                out.append(("text", f"{W['layer'].format(l=st.layer)}: {W['running']}",
                            ["running_mean = " + _rows(st.extras["running_mean_new"], digits)[0],
                             "running_var = " + _rows(st.extras["running_var_new"], digits)[0]],
                            [("array", r"\mathrm{running\_mean}", st.extras["running_mean_new"]),
                             ("array", r"\mathrm{running\_var}", st.extras["running_var_new"])]))
        out.append(("h2", W["update"], [], []))
        for st in record.layers:
            for name, value in st.new_params.items():
                layout = spec.layers[st.layer - 1].layout
                v = value.T if name == "weights" and layout == "in_out" else value
                frozen = " (frozen)" if name in spec.layers[st.layer - 1].freeze else ""
                label = rf"\mathrm{{L{st.layer}}}.{_param_tex(name)}"
                out.append(("text", f"L{st.layer}.{name}{frozen} ←", _rows(v, digits),
                            [("array", label + (r"\;\text{(frozen)}" if frozen else "") + r" \leftarrow", v)]))
    n = len(trace.steps)
    out.append(("h1", W["after"].format(n=n), [], []))
    out.append(("text", W["losses"], [" → ".join(_fmt(v, digits) for v in trace.losses)],
                [("display", r"\mathcal{L}:\; " + r" \to ".join(_tex_number(v, digits) for v in trace.losses))]))
    return out


def shown_digits(trace, digits: int) -> int:
    """Decimals printed: under --round D the D-decimal numbers the derivation used."""
    return trace.digits if trace.policy == "round" else digits


def _tex_number(v, digits: int) -> str:
    return _fmt(v, digits).replace("−", "-")


def _param_tex(name: str) -> str:
    """weights → \\mathrm{weights}, W_hh → W_{\\mathrm{hh}}, gamma → \\gamma (note_math's spelling)."""
    from .note_math import param_tex

    return param_tex(name)


def layered_table(trace, digits: int = 4, lang: str = "en"):
    digits = shown_digits(trace, digits)
    from rich.console import Group
    from rich.rule import Rule
    from rich.text import Text

    from .wrap import Hanging

    parts = []  # headings on their own lines (a rule's title is cut at the width); lines wrap indented
    for kind, heading, lines, _ in _blocks(trace, digits, lang):
        if kind in ("title", "h1"):
            parts += [Hanging(Text(heading, style="bold")), Rule()]
        elif kind == "h2":
            parts.append(Hanging(Text(heading, style="bold underline")))
        else:
            if heading:
                parts.append(Hanging(Text(heading, style="bold")))
            parts += [Hanging(Text("  " + _short_lists(line)), indent=6) for line in lines]
    return Group(*parts)


_NUMBER_LIST = re.compile(r"\[(−?[0-9.]+(?:, −?[0-9.]+)+)\]")


def _short_lists(line: str) -> str:
    """A derivation line for the terminal: a bracketed list of more than ROW_VALUES
    numbers (a 392-wide gradient row) cut like the printed arrays; JSON, LaTeX and
    Markdown keep the whole line."""
    def cut(m):
        values = m.group(1).split(", ")
        if len(values) <= ROW_VALUES:
            return m.group(0)
        return "[" + ", ".join(values[:ROW_VALUES]) + f", … {len(values) - ROW_VALUES} more]"
    return _NUMBER_LIST.sub(cut, line)


def layered_markdown(trace, digits: int = 4, lang: str = "en") -> str:
    """Headings, prose, and the derivations as math KaTeX renders: `$$…$$` for
    matrices and formulas, `$…$` inside sentences (note_math.py)."""
    digits = shown_digits(trace, digits)
    from ..safe_text import markdown_text

    out = []
    for kind, heading, lines, parts in _blocks(trace, digits, lang):
        if kind == "title":
            out.append(f"# {markdown_text(heading)}")
        elif kind == "h1":
            out.append(f"## {markdown_text(heading)}")
        elif kind == "h2":
            out.append(f"### {markdown_text(heading)}")
        else:
            if heading and not _labelled(parts):
                out.append(f"**{markdown_text(heading)}**")
            out += [_md(item) for item in _math_items(parts, digits)]
    return "\n\n".join(p for p in out if p) + "\n"


def layered_math(trace, digits: int = 4, lang: str = "en") -> str:
    """Jupyter's `_repr_latex_`: every display of the Markdown page, in order."""
    digits = shown_digits(trace, digits)
    from .note_math import Rows, display_rows

    out = []
    for kind, _, _, parts in _blocks(trace, digits, lang):
        for item in _math_items(parts, digits):
            if isinstance(item, Rows):
                out += ["$$\n" + display_rows(rows) + "\n$$" for rows in _chunks(item.rows)]
    return "\n".join(out)


def _labelled(parts) -> bool:
    """An update or loss block: its math carries its name (L1.weights ←, 𝓛 =), no heading needed."""
    return any((p[0] == "array" and p[1].endswith(r"\leftarrow")) or (p[0] == "display" and p[1].startswith(r"\mathcal{L} ="))
               for p in parts)


def _math_items(parts, digits: int) -> list:
    """Each part as paragraphs (Para) or display rows (Rows), in order."""
    from .note_math import Para, Rows, note_items

    items: list = []
    for part in parts:
        if part[0] == "prose":
            items.append(Para((("text", part[1]),)))
        elif part[0] == "display":
            items.append(Rows((part[1],)))
        elif part[0] == "array":
            items.append(Rows(tuple(array_rows(part[1], part[2], digits))))
        else:
            items += note_items(part[1])
    return items


DISPLAY_ROWS = 8  # rows per display: a long note breaks across pages between its displays


def _chunks(rows) -> list:
    """Rows in displays of about DISPLAY_ROWS, never parting a row from its continuation."""
    out: list[list] = []
    for row in rows:
        if out and (len(out[-1]) < DISPLAY_ROWS or row.startswith(r"\quad")):
            out[-1].append(row)
        else:
            out.append([row])
    return out


def _md(item) -> str:
    from .note_math import Para, display_rows, paragraph

    if isinstance(item, Para):
        return paragraph(item, markdown=True)
    return "\n\n".join("$$\n" + display_rows(rows) + "\n$$" for rows in _chunks(item.rows))


def _tex(item) -> str:
    from .note_math import Para, display_rows, paragraph

    if isinstance(item, Para):
        return r"{\raggedright\sloppy\noindent " + paragraph(item, markdown=False) + r"\par}"  # long math breaks
    return "\n".join("\\[\n" + display_rows(rows) + "\n\\]" for rows in _chunks(item.rows))


MATRIX_ROWS = 12  # as the terminal's _rows


def array_rows(label: str, value, digits: int) -> list[str]:
    """An array of the trace as display rows `label = bmatrix` (`label ← bmatrix` for
    an update): a vector as a row, a matrix as itself, higher ranks by their last two
    axes (label[1,2,:,:]); wide ones in blocks of columns, at most MATRIX_ROWS rows."""
    from .note_math import matrix_rows

    arr = np.asarray(value, dtype=np.float64)
    arrow = label.endswith(r"\leftarrow")
    name = label[:-len(r" \leftarrow")] if arrow else label
    relation = r"\leftarrow" if arrow else "="
    if arr.ndim == 0:
        return [f"{name} {relation} {_tex_number(arr, digits)}"]
    if arr.ndim > 2:
        out = []
        for lead in list(np.ndindex(arr.shape[:-2]))[:MATRIX_ROWS]:
            index = "[" + ",".join(str(i + 1) for i in lead) + ",:,:]"
            out += array_rows(name + index + (r" \leftarrow" if arrow else ""), arr[lead], digits)
        return out
    matrix = arr[None] if arr.ndim == 1 else arr
    cells = [[_tex_number(v, digits) for v in row] for row in matrix[:MATRIX_ROWS]]
    return matrix_rows(name, relation, cells, max(0, matrix.shape[0] - MATRIX_ROWS), vector=arr.ndim == 1)


# Unicode math in the derivation lines → LaTeX (pdflatex has no Greek in text mode)
_LATEX = {"δ": r"\delta", "Σ": r"\Sigma", "·": r"\cdot", "∂": r"\partial", "⊙": r"\odot", "σ": r"\sigma",
          "√": r"\surd", "γ": r"\gamma", "β": r"\beta", "ε": r"\varepsilon", "μ": r"\mu", "ᵀ": r"^{\top}",
          "−": "-", "×": r"\times", "→": r"\to", "←": r"\leftarrow", "≥": r"\geq", "≤": r"\leq", "′": "'",
          "…": r"\ldots", "÷": r"\div", "²": "^2", "⁽": "(", "⁾": ")"}


def latex_line(line: str) -> str:
    out = []
    i = 0
    while i < len(line):
        ch = line[i]
        if i + 1 < len(line) and line[i + 1] == "\u0302":  # x̂
            out.append(r"$\hat{" + latex_text(ch) + "}$")
            i += 2
            continue
        if ch in _LATEX:
            sym = _LATEX[ch]
            out.append(sym if sym in ("-", "(", ")", "'") else f"${sym}$")
        else:
            out.append(latex_text(ch))
        i += 1
    return "".join(out)


def layered_latex(trace, digits: int = 4, lang: str = "en", standalone: bool = False) -> str:
    """The Markdown page's story in LaTeX: sections, prose with inline math, and the
    derivations and matrices as displays (amsmath's aligned, bmatrix) for pdflatex."""
    digits = shown_digits(trace, digits)
    from .latex import fragment_header, has_hangul, preamble

    body = []
    for kind, heading, lines, parts in _blocks(trace, digits, lang):
        if kind == "title":
            body.append(r"\begin{center}{\Large\bfseries " + latex_line(heading) + r"}\end{center}")
        elif kind == "h1":
            body.append(r"\section*{" + latex_line(heading) + "}")
        elif kind == "h2":
            body.append(r"\subsection*{" + latex_line(heading) + "}")
        else:
            if heading and not _labelled(parts):
                body.append(r"\noindent\textbf{" + latex_line(heading) + "}")
            body += [_tex(item) for item in _math_items(parts, digits)]
    text = "\n\n".join(p for p in body if p)
    korean = lang == "ko" or has_hangul(text)
    if standalone:
        return preamble(lang, tikz=False, plot=False, korean=korean) + text + "\n\n\\end{document}\n"
    return fragment_header(lang, korean=korean) + text + "\n"


def render_layered(trace, format: str, digits: int = 4, lang: str = "en", standalone: bool = False) -> str:
    if format == "json":
        return dumps(layered_document(trace)) + "\n"
    if format == "markdown":
        return layered_markdown(trace, digits, lang)
    if format == "latex":
        return layered_latex(trace, digits, lang, standalone)
    raise ValueError(format)


__all__ = ["layered_document", "layered_table", "render_layered"]
