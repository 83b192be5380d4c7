"""Formatting pieces for tensor equations, shared by the tensor-graph document
(tensor_graph.py) and the network's matrix detail (latex.py, table.py): names as symbols
(df/dW[1,2] → ∂f/∂W₁₂, Z(1) → Z⁽¹⁾), matrices as bmatrix or text with corners elided,
and a printer for the tensor grammar (@ as juxtaposition, ⊙ vs ·, xᵀ, ‖x‖, 𝟙[z > 0]).

The worked element is shown for results of at most WORKED_LIMIT elements (6×6; the
element whose equation has the most terms, so a matrix product shows its sum); matrices
larger than SHOW_LIMIT rows or columns show their corners and ⋯. Nothing is computed here.
"""
from __future__ import annotations

import re
from typing import Callable

import numpy as np

from ..calc.expr import Bin, Call, Neg, Num, Ref, needs_parens, precedence
from ..tensor.names import split_element
from ..tensor.tape import infer_shape
from ..safe_text import latex_text
from .formula import format_number, latex_math_name, tex_width

WORKED_LIMIT = 36
LATEX_WIDTH = 27.0  # em: a display row wider than this is split or left out (FRAGMENT_WIDTH is 29)
SHOW_LIMIT = 8  # rows/columns printed in full; larger matrices show their corners

GRADIENT = re.compile(r"^d(\w+)/d(\w+)$")


# -- names --------------------------------------------------------------------------

def unicode_name(name: str) -> str:
    """df/dW → ∂f/∂W, df/dW[1,2] → ∂f/∂W[1,2], W[1,2] stays."""
    split = split_element(name)
    base, index = split if split else (name, None)
    m = GRADIENT.match(base)
    text = f"∂{m[1]}/∂{m[2]}" if m else base
    return text + (f"[{','.join(str(i + 1) for i in index)}]" if index else "")


def latex_name(name: str) -> str:
    """W → W, W[1,2] → W_{12}, df/dW[1,2] → ∂f/∂W_{12} as a fraction."""
    split = split_element(name)
    base, index = split if split else (name, None)
    sub = ""
    if index:
        joined = ("," if any(i >= 9 for i in index) else "").join(str(i + 1) for i in index)
        sub = "_{" + joined + "}"
    m = GRADIENT.match(base)
    if m:
        top, bottom = latex_math_name(m[1]), latex_math_name(m[2])
        return r"\frac{\partial " + top + r"}{\partial " + _subscripted(bottom, sub) + "}"
    return _subscripted(latex_math_name(base), sub)


def _subscripted(symbol: str, sub: str) -> str:
    if not sub:
        return symbol
    return "{" + symbol + "}" + sub if "_" in symbol else symbol + sub


# -- numbers and matrices ------------------------------------------------------------

def _corner(n: int) -> list[int | None]:
    return list(range(n)) if n <= SHOW_LIMIT else [0, 1, 2, None, n - 1]


def matrix_latex(value, digits: int) -> str:
    a = np.asarray(value, dtype=float)
    num = lambda x: format_number(x, digits, "latex")  # noqa: E731
    if a.ndim == 0:
        return num(a.item())
    if a.ndim == 1:  # a column vector, as textbooks write x in W x
        cells = [num(a[i]) if i is not None else r"\vdots" for i in _corner(a.shape[0])]
        return r"\begin{bmatrix}" + r" \\ ".join(cells) + r"\end{bmatrix}"
    if a.ndim > 2:  # (C, H, W): its matrices stacked in brackets (one column: pages are narrow)
        parts = [matrix_latex(a[i], digits) if i is not None else r"\vdots" for i in _corner(a.shape[0])]
        return r"\left[\begin{matrix}" + r" \\[3pt] ".join(parts) + r"\end{matrix}\right]"
    rows = []
    for i in _corner(a.shape[0]):
        if i is None:
            rows.append(" & ".join(r"\vdots" if j is not None else r"\ddots" for j in _corner(a.shape[1])))
        else:
            rows.append(" & ".join(num(a[i, j]) if j is not None else r"\cdots" for j in _corner(a.shape[1])))
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def matrix_text(value, digits: int) -> str:
    a = np.asarray(value, dtype=float)
    num = lambda x: format_number(x, digits, "unicode")  # noqa: E731
    if a.ndim == 0:
        return num(a.item())
    if a.ndim == 1:
        return "[" + ", ".join(num(a[i]) if i is not None else "…" for i in _corner(a.shape[0])) + "]"
    if a.ndim > 2:  # (C, H, W): nested as NumPy prints it, the inner matrices indented
        parts = [matrix_text(a[i], digits).replace("\n", "\n ") if i is not None else " ⋮" for i in _corner(a.shape[0])]
        return "[" + ",\n ".join(parts) + "]"
    rows = []
    for i in _corner(a.shape[0]):
        if i is None:
            rows.append("  ⋮")
        else:
            rows.append("[" + ", ".join(num(a[i, j]) if j is not None else "…" for j in _corner(a.shape[1])) + "]")
    return "[" + ",\n ".join(rows) + "]"


def one_line(value, digits: int) -> str:
    """A matrix on one line ([[1, 2], [3, 4]]): the terminal breaks it under its `=`."""
    return re.sub(r",?\n\s*", lambda m: ", " if m.group().startswith(",") else " ", matrix_text(value, digits))


def shape_text(shape) -> str:
    if len(shape) == 0:
        return "scalar"
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + "×".join(map(str, shape)) + ")"


# -- expressions ---------------------------------------------------------------------

class Printer:
    """A tensor-grammar expression as LaTeX (`latex=True`) or Unicode text; `name` prints
    an operand (its symbol, or its value)."""

    def __init__(self, name: Callable[[str], str], shapes: dict, latex: bool, textbook: bool = False) -> None:
        self.name, self.shapes, self.latex = name, shapes, latex
        # textbook: the terminal writes the scalar derivation's signs (√(s), g², ÷, −), not the grammar's
        self.textbook = textbook and not latex

    def shape(self, e):
        try:
            return infer_shape(e, self.shapes)
        except Exception:  # a shape the printer cannot tell only changes ⊙ vs ·
            return (2,)

    def p(self, e) -> str:
        L = self.latex
        if isinstance(e, Num):
            return e.text if "/" not in e.text or not L else r"\tfrac{" + e.text.replace("/", "}{") + "}"
        if isinstance(e, Ref):
            return self.name(e.name)
        if isinstance(e, Neg):
            inner = self.p(e.operand)
            return "-" + (f"\\left({inner}\\right)" if L else f"({inner})") if precedence(e.operand) < 3 else "-" + inner
        if isinstance(e, Bin):
            left, right = self.p(e.left), self.p(e.right)
            if needs_parens(e.left, e.op, "left") or (e.op == "**" and (left[:1] in "-−" or "frac" in left)):
                left = self.paren(left)
            if needs_parens(e.right, e.op, "right") or right[:1] in "-−":  # a + (−b), never a + −b
                right = self.paren(right)
            if e.op == "**":
                if self.textbook and isinstance(e.right, Num) and e.right.text.isdigit():
                    return left + e.right.text.translate(_SUP)
                return _base(left) + "^{" + right + "}" if L else f"{left} ** {right}"
            if e.op == "@":
                return f"{left} \\, {right}" if L else f"{left} @ {right}"
            if e.op == "*":
                both = self.shape(e.left) != () and self.shape(e.right) != ()
                sym = (r"\odot" if both else r"\cdot") if L else ("⊙" if both else "·")
                return f"{left} {sym} {right}"
            if e.op == "/" and L:
                return r"\frac{" + self.p(e.left) + "}{" + self.p(e.right) + "}"
            if self.textbook and e.op in "-/":
                both = self.shape(e.left) != () and self.shape(e.right) != ()
                return f"{left} {'−' if e.op == '-' else ('÷' if both else '/')} {right}"
            return f"{left} {e.op} {right}"
        return self.call(e)

    def paren(self, s: str) -> str:
        return r"\left(" + s + r"\right)" if self.latex else f"({s})"

    def call(self, e: Call) -> str:
        L, fn = self.latex, e.fn
        args = [self.p(a) for a in e.args]
        dims = lambda: ("\\times" if L else "×").join(a.text for a in e.args)  # noqa: E731
        if fn == "transpose":
            inner = args[0] if isinstance(e.args[0], (Ref, Num)) else self.paren(args[0])
            return _base(inner) + "^{\\top}" if L else inner + "ᵀ"
        if fn == "outer":
            right = args[1] if isinstance(e.args[1], (Ref, Num)) else self.paren(args[1])
            return f"{args[0]} \\, {_base(right)}^{{\\top}}" if L else f"{args[0]} {right}ᵀ"
        if fn == "ones":
            return r"\mathbf{1}_{" + dims() + "}" if L else f"1₍{dims()}₎"
        if fn == "sqrt":
            return r"\sqrt{" + args[0] + "}" if L else (f"√({args[0]})" if self.textbook else f"sqrt({args[0]})")
        if fn == "norm":
            return r"\left\lVert " + args[0] + r" \right\rVert" if L else f"‖{args[0]}‖"
        if fn == "step":
            return r"\mathbb{1}\!\left[" + args[0] + r" > 0\right]" if L else f"[{args[0]} > 0]"
        if fn in ("sum", "mean") and len(e.args) == 2:
            name = r"\sum" if (L and fn == "sum") else (r"\operatorname{mean}" if L else fn)
            return (name + "_{\\text{axis } " + args[1] + "}" + self.paren(args[0])) if L else f"{fn}({args[0]}, axis {args[1]})"
        if fn == "sum" and L:
            return r"\sum " + self.paren(args[0])
        if fn in ("sum_to", "expand") and L:
            sub = r"\times".join(a.text for a in (e.args[1:] if fn == "sum_to" else e.args[2:])) or "1"
            return r"\operatorname{" + fn.replace("_", r"\_") + "}_{" + sub + "}" + self.paren(args[0])
        if fn in ("max_share", "min_share") and L:
            return r"\operatorname{" + fn.replace("_", r"\_") + "}_{" + args[0] + "}" + self.paren(", ".join(args[1:]))
        if L:
            known = {"exp": r"\exp", "log": r"\log", "sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh",
                     "sigmoid": r"\sigma", "max": r"\max", "min": r"\min"}
            head = known.get(fn) or r"\operatorname{" + fn.replace("_", r"\_") + "}"
            return head + self.paren(", ".join(args))
        return f"{fn}({', '.join(args)})"


def _base(text: str) -> str:
    """A base that already carries a script gets braces: {W^{(1)}}^{\\top}, never W^{(1)}^{\\top}."""
    return "{" + text + "}" if "^" in text or "_" in text and not text.startswith(r"\\left") else text


def fits(row: str, width: float = LATEX_WIDTH) -> bool:
    return tex_width(row) <= width


def operand_shapes(eq) -> dict:
    return {k: tuple(np.shape(v)) for k, v in eq.operands}


def worked_element(eq):
    """The element equation to spell out: the first with the most operands (a product's
    full sum), or None when the result is larger than WORKED_LIMIT or has no elements."""
    if not eq.elements or np.size(eq.value) > WORKED_LIMIT or eq.shape == ():
        return None
    return max(eq.elements, key=lambda e: len(e.operands))


def values_of(element) -> dict:
    return dict(element.operands)


def fmt_policy(value, digits: int, style: str, policy: str, wrap: bool = False) -> str:
    text = format_number(value, digits, style, policy)
    if wrap and text[:1] in "-−":
        return r"\left(" + text + r"\right)" if style == "latex" else f"({text})"
    return text


def indent(text: str, by: int) -> str:
    return text.replace("\n", "\n" + " " * by)


# -- network matrix detail (matrix_detail.py's layer-level equations) -------------------------

_NET = re.compile(r"^(?:(buf|m|v|sq|gavg|sum)_)?([A-Za-z]+)\((\d+)\)(_new)?(?:@(\d+))?$")
_NET_GRAD = re.compile(r"^d(\w+(?:\(\d+\))?)/d(\w+\(\d+\))$")
_HYPER_LATEX = {"lr": r"\alpha", "momentum": r"\mu", "beta1": r"\beta_1", "beta2": r"\beta_2", "eps": r"\epsilon",
                "weight_decay": r"\lambda", "slope": r"\text{slope}", "loss": r"\mathcal{L}", "X": "X", "T": "T",
                "alpha": r"\rho", "lr_decay": r"\mathrm{lr\_decay}", "initial_accumulator_value": "G_0"}
_HYPER_TEXT = {"lr": "α", "momentum": "μ", "beta1": "β₁", "beta2": "β₂", "eps": "ε", "weight_decay": "λ",
               "loss": "L", "alpha": "ρ", "lr_decay": "lr_decay", "initial_accumulator_value": "G₀"}
# RMSprop's and Adagrad's state as the scalar derivation shows it (notation.py): s[W], ḡ[W], G[W]
_STATE_LATEX = {"buf": r"\mathrm{buf}", "m": "m", "v": "v", "sq": "s", "gavg": r"\bar{g}", "sum": "G"}
_STATE_TEXT = {"sq": "s", "gavg": "ḡ", "sum": "G"}
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


def network_latex_name(name: str) -> str:
    """Z(1) → Z^{(1)}, dL/dW(2) → ∂L/∂W^{(2)}, buf_W(1)@1 → buf of W^{(1)} after step 1."""
    if name in _HYPER_LATEX:
        return _HYPER_LATEX[name]
    m = _NET_GRAD.match(name)
    if m:
        top = r"\mathcal{L}" if m[1] == "L" else network_latex_name(m[1])
        return r"\frac{\partial " + top + r"}{\partial " + network_latex_name(m[2]) + "}"
    m = _NET.match(name)
    if not m:
        return latex_math_name(name)
    base = {"delta": r"\delta", "b": r"\mathbf{b}"}.get(m[2], m[2])
    text = base + "^{(" + m[3] + ")}"
    if m[4]:
        text = "{" + text + r"}_{\text{new}}"
    if m[1]:
        text = _STATE_LATEX[m[1]] + "_{" + text + "}"
    if m[5]:
        text += r"\big|_{\text{step " + m[5] + "}}"
    return text


def network_text_name(name: str) -> str:
    if name in _HYPER_TEXT:
        return _HYPER_TEXT[name]
    m = _NET_GRAD.match(name)
    if m:
        return f"∂{'L' if m[1] == 'L' else network_text_name(m[1])}/∂{network_text_name(m[2])}"
    m = _NET.match(name)
    if not m:
        return name
    text = {"delta": "δ"}.get(m[2], m[2]) + f"({m[3]})".translate(_SUP)
    if m[4]:
        text += "_new"
    if m[1]:
        text = f"{_STATE_TEXT.get(m[1], m[1])}[{text}]"
    if m[5]:
        text += f" (step {m[5]})"
    return text


def equation_rows_latex(eq, name, digits: int) -> list[str]:
    """`lhs &= matrix form`, then the numbers (small tensors), then the result."""
    shapes = operand_shapes(eq)
    rows = [name(eq.name) + " &= " + Printer(name, shapes, True).p(eq.expr)]
    values = dict(eq.operands)
    if values and max(np.size(v) for v in values.values()) <= WORKED_LIMIT:
        numbers = "&= " + Printer(lambda n: matrix_latex(values[n], digits), shapes, True).p(eq.expr)
        if fits(numbers):
            rows.append(numbers)
    rows.append("&= " + matrix_latex(eq.value, digits))
    if eq.note:
        rows[-1] += r" \quad \text{(" + latex_text(eq.note) + ")}"
    return rows


def network_matrix_text(eq, digits: int, with_value: bool = True) -> list:
    """One layer-level equation for the terminal: matrix form, result (unless the caller
    shows it as a block), the shapes as a note."""
    from .wrap import BrokenEquation

    shapes = operand_shapes(eq)
    sym = Printer(network_text_name, shapes, False, textbook=True).p(eq.expr)
    shape_line = " ".join(shape_text(s) for s in shapes.values()) + " → " + shape_text(eq.shape)
    note = "shapes " + shape_line + (f"; {eq.note}" if eq.note else "")
    sides = [sym, one_line(eq.value, digits)] if with_value else [sym]
    return [BrokenEquation(network_text_name(eq.name), sides, note=note)]


_WEIGHT_SHAPED = re.compile(r"^(?:(?:buf|m|v|sq|gavg|sum)_)?(?:dL/d)?W\((\d+)\)(?:_new)?$")


def weight_layer(name: str):
    """The layer (1-based) whose weight matrix, gradient, buffer or update `name` is, else None."""
    m = _WEIGHT_SHAPED.match(name)
    return int(m[1]) if m else None
