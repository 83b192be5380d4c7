"""An equation's right-hand side as a person writes it: with symbols, or with numbers.

One printer, two dialects (Unicode for the terminal, LaTeX for documents), driven by
the expression tree so the shown arithmetic is exactly the computed arithmetic.
Display-only simplifications, each an identity a student would also write:
`a + (−b)` and `a + (−b)·c` show as `a − b`, `a − b·c`; `−(−b)` shows as `b` (the worked example's
`e^{0.3415}`); a negative factor is parenthesised; `x ** 2` is a superscript; a
sigmoid keeps its fraction.

`marked()` output carries *break marks* (where a long line may be split: before a + or ×,
with a priority — shallower first; both dialects, so the terminal breaks where the
document does) and, in LaTeX, *paren tokens* (resolved per line into
`\\left( … \\right)` when both ends land on one line, `\\Bigl(`/`\\Bigr)` when a break
separates them). `resolve()` turns that into plain LaTeX; latex.py's line breaker reads
the marks. Everything inside braces (fractions, exponents) is unbreakable.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Callable, Mapping, Optional

from ..calc.expr import PREC_ADD, PREC_ATOM, PREC_MUL, PREC_NEG, PREC_POW, Bin, Call, Expr, Neg, Num, Ref

SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")

MARK = "\x03"  # + one priority character: a place a long line may break
OPEN, CLOSE = "\x02(", "\x02)"  # + "T" (tall content) or "F": a parenthesis to resolve
_MARK_RE = re.compile("\x03.")
_TOKEN_RE = re.compile("\x02([()])([TF])")

HYPERPARAMETERS = ("lr", "momentum", "weight_decay", "beta1", "beta2", "eps", "slope", "alpha", "lr_decay",
                   "initial_accumulator_value")


def format_number(value, digits: int, style: str = "unicode", policy: str = "float") -> str:
    """A value with `digits` decimals; hand-rounded values print as they were rounded;
    exact rationals (--exact) print as fractions, exact closed forms as a decimal
    followed by … (the closed form itself is the expression printed beside it)."""
    if getattr(value, "is_rational", False):
        return _fraction(value.expr, style)
    if hasattr(value, "is_rational"):  # an exact closed form
        return format_number(float(value), digits, style) + ("…" if style == "unicode" else r"\ldots")
    if isinstance(value, Decimal):
        text = format(value, "f")
        if text.startswith("-") and value == 0:
            text = text[1:]
    else:
        x = float(value)
        places = decimals_for(x, digits)
        if math.isfinite(x) and x == int(x) and abs(x) < 1e15:  # an exact integer prints as written: 625000, 1, 0
            text = str(int(x))
        elif places is None:
            text = f"{x:.{SMALL_FIGURES - 1}e}"
            if style == "latex":
                mant, exp = text.split("e")
                text = f"{mant}\\times10^{{{int(exp)}}}"
            else:
                text = text.replace("e-", "e−")  # the minus of the given 1e−8 beside it
        else:
            text = f"{x:.{places}f}"
            if text.startswith("-") and float(text) == 0:
                text = text[1:]
    if text.startswith("-"):
        text = ("−" if style == "unicode" else "-") + text[1:]
    return text


SMALL_FIGURES = 3  # significant digits a small value keeps (Adam's v = 0.0000665, not 0.0001)
MAX_EXTRA_PLACES = 4  # decimals beyond --digits before a small value turns scientific


def decimals_for(x: float, digits: int):
    """Decimals to print x with: `digits`, or more for a small value so that it keeps
    min(digits, SMALL_FIGURES) significant digits (a line stays re-doable by hand at
    its printed precision); None: too small for that, print it in scientific form."""
    if x == 0 or not math.isfinite(x):
        return digits
    figures = min(digits, SMALL_FIGURES)
    exponent = math.floor(math.log10(abs(x)))
    places = max(digits, figures - 1 - exponent)
    if places > digits + MAX_EXTRA_PLACES:
        return None
    return places


def _fraction(q, style: str) -> str:
    sign = "−" if style == "unicode" else "-"
    text = sign if q < 0 else ""
    p, d = abs(q.numerator), q.denominator
    if d == 1:
        return text + str(p)
    return text + (f"{p}/{d}" if style == "unicode" else r"\tfrac{" + str(p) + "}{" + str(d) + "}")


def exact_value_text(value, digits: int, style: str) -> str:
    """The result of an exact equation: 59/288 ≈ 0.2049, or the decimal of a closed form."""
    text = format_number(value, digits, style)
    if getattr(value, "is_rational", False) and value.expr.denominator != 1:
        approx = format_number(float(value), digits, style)
        text += (" ≈ " if style == "unicode" else r" \approx ") + approx
    return text


_GREEK_NAMES = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "kappa", "lambda",
                "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega")


def latex_math_name(name: str) -> str:
    """A plain identifier (a graph node) as a math symbol: x1 → x_{1}, alpha → \\alpha,
    x_in → \\mathit{x\\_in}. Identifiers only ever contain [A-Za-z0-9_]."""
    m = re.fullmatch(r"([A-Za-z]+)(\d*)", name)
    if m:
        head, digits = m.groups()
        if head in _GREEK_NAMES:
            head = "\\" + head
        elif len(head) > 1:
            head = r"\mathit{" + head + "}"
        return head + ("_{" + digits + "}" if digits else "")
    m = re.fullmatch(r"([A-Za-z])_([A-Za-z0-9]+)", name)
    if m:
        return m.group(1) + "_{" + m.group(2) + "}"
    safe = re.sub(r"[^A-Za-z0-9]", lambda c: r"\_" if c.group(0) == "_" else "", name)
    return r"\mathit{" + (safe or "?") + "}"


# -- marks and paren tokens ---------------------------------------------------------------------

def mark(priority: int) -> str:
    return MARK + chr(0x30 + max(0, min(priority, 70)))


def deepen(text: str, by: int = 2) -> str:
    """Marks inside a parenthesis are worse places to break than the ones outside it."""
    return _MARK_RE.sub(lambda m: mark(ord(m.group(0)[1]) - 0x30 + by), text)


def strip_marks(text: str) -> str:
    return _MARK_RE.sub("", text)


def resolve(text: str) -> str:
    """Marks removed and paren tokens made LaTeX, for text that stays on one line."""
    return resolve_line(strip_marks(text))


def resolve_line(text: str) -> str:
    """Paren tokens → LaTeX for one line: a pair on the line → \\left( \\right) (or plain
    parens around flat content); a lone half (its partner is on another line) → \\Bigl/\\Bigr."""
    tokens = list(_TOKEN_RE.finditer(text))
    if not tokens:
        return text
    partner: dict[int, int] = {}
    stack: list[int] = []
    for idx, t in enumerate(tokens):
        if t.group(1) == "(":
            stack.append(idx)
        elif stack:
            o = stack.pop()
            partner[o], partner[idx] = idx, o
    out, last = [], 0
    for idx, t in enumerate(tokens):
        out.append(text[last:t.start()])
        opening, tall = t.group(1) == "(", t.group(2) == "T"
        if idx in partner:
            out.append(("\\left(" if opening else "\\right)") if tall else t.group(1))
        else:
            out.append(("\\Bigl(" if opening else "\\Bigr)") if tall else t.group(1))
        last = t.end()
    out.append(text[last:])
    return "".join(out)


def _is_negative(value) -> bool:
    try:
        return float(value) < 0
    except (TypeError, ValueError):
        return False


class FormulaPrinter:
    """Prints expressions; `values` given → numbers instead of names.

    Dispatch is by node type (`_print_Num`, `_print_Ref`, …), as in sympy's printers;
    an unknown node fails loudly. Each method returns (text, precedence of what it printed).
    """

    def __init__(
        self,
        symbol: Callable[[str], str],
        style: str = "unicode",
        digits: int = 4,
        values: Optional[Mapping[str, object]] = None,
        number: Optional[Callable[[object, str], str]] = None,
    ) -> None:
        if style not in ("unicode", "latex"):
            raise ValueError(f"unknown style {style!r}")
        self.symbol = symbol
        self.style = style
        self.digits = digits
        self.values = values
        self.number = number or (lambda v, name="": format_number(v, digits, style))
        self.latex = style == "latex"

    def show(self, e: Expr) -> str:
        """One line, ready to print."""
        return resolve(self._p(e)[0]) if self.latex else strip_marks(self._p(e)[0])

    def marked(self, e: Expr) -> str:
        """The text with break marks (and, in LaTeX, paren tokens), for a line breaker:
        latex.py's for documents, wrap.py's for the terminal."""
        return self._p(e)[0]

    # -- dispatch ----------------------------------------------------------------------------

    def _p(self, e: Expr) -> tuple[str, int]:
        method = getattr(self, "_print_" + type(e).__name__, None)
        if method is None:
            raise TypeError(f"not an expression node: {e!r}")
        return method(e)

    def _print_Num(self, e: Num) -> tuple[str, int]:
        text = e.text
        if self.latex and "e" in text.lower():
            mant, exp = text.lower().split("e")
            text = f"{mant}\\times10^{{{int(exp)}}}"
        return text, PREC_ATOM

    def _print_Ref(self, e: Ref) -> tuple[str, int]:
        if self.values is None:
            return self.symbol(e.name), PREC_ATOM
        text = self.number(self.values[e.name], e.name)
        return text, (PREC_NEG if text.startswith(("−", "-")) else PREC_ATOM)

    def _print_Neg(self, e: Neg) -> tuple[str, int]:
        if self._leaf_negative(e.operand):  # −(−0.3415) → 0.3415
            return self._abs_leaf(e.operand), PREC_ATOM
        inner, p = self._p(e.operand)
        minus = "-" if self.latex else "−"
        if inner.startswith(("−", "-")) or p < PREC_POW:
            inner = self._paren(inner)
        return minus + inner, PREC_NEG

    def _print_Bin(self, e: Bin) -> tuple[str, int]:
        return getattr(self, {"+": "_add", "-": "_add", "*": "_mul", "/": "_div", "**": "_pow", "@": "_matmul"}[e.op])(e)

    def _print_Call(self, e: Call) -> tuple[str, int]:
        if e.fn == "exp":
            arg = self._p(e.args[0])[0]
            if self.latex:
                return "e^{" + self._brace(arg) + "}", PREC_ATOM
            return f"e^({deepen(arg, 4)})", PREC_ATOM
        args = [self._p(a)[0] for a in e.args]
        if not self.latex:
            args = [deepen(a, 4) for a in args]
        if not self.latex:
            if e.fn == "sqrt":
                return f"√({args[0]})", PREC_ATOM
            if e.fn == "abs":
                return f"|{args[0]}|", PREC_ATOM
            return f"{e.fn}({', '.join(args)})", PREC_ATOM
        if e.fn == "sqrt":
            return r"\sqrt{" + self._brace(args[0]) + "}", PREC_ATOM
        if e.fn == "abs":
            return r"\left|" + self._brace(args[0]) + r"\right|", PREC_ATOM
        name = {"log": r"\log", "sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh", "max": r"\max",
                "min": r"\min"}.get(e.fn, r"\operatorname{" + e.fn + "}")
        return name + self._paren(", ".join(args)), PREC_ATOM

    # -- helpers -----------------------------------------------------------------------------

    def _leaf_negative(self, e: Expr) -> bool:
        return self.values is not None and isinstance(e, Ref) and _is_negative(self.values.get(e.name, 0))

    def _abs_leaf(self, e: Ref) -> str:
        return self.number(self.values[e.name], e.name).lstrip("−-")

    def _paren(self, text: str) -> str:
        if not self.latex:
            return f"({deepen(text)})"
        tall = "T" if ("\\frac" in text or "\\sum" in text) else "F"
        return OPEN + tall + deepen(text) + CLOSE + tall

    def _brace(self, text: str) -> str:
        """Content of a {…} group: one unbreakable line."""
        return resolve(text) if self.latex else text

    def _op(self, symbol: str, priority: int) -> str:
        return mark(priority) + f" {symbol} "

    def _negated_product(self, e: Expr) -> Optional[str]:
        """−(printed e) when e is a product whose leftmost factor is a negative number:
        lets `a + (−b)·c` print as `a − b·c`."""
        if not (isinstance(e, Bin) and e.op == "*"):
            return None
        chain = [e]
        while isinstance(chain[-1], Bin) and chain[-1].op == "*":
            chain.append(chain[-1].left)
        if not self._leaf_negative(chain[-1]):
            return None
        text = self._abs_leaf(chain[-1])
        for node in reversed(chain[:-1]):
            right, pr = self._p(node.right)
            if pr <= PREC_MUL or pr == PREC_NEG:
                right = self._paren(right)
            text = text + self._times(node, text, right) + right
        return text

    def _add(self, e: Bin) -> tuple[str, int]:
        op = e.op
        left, _ = self._p(e.left)
        flipped = None
        if self._leaf_negative(e.right):  # a + (−b) → a − b, a − (−b) → a + b
            flipped = self._abs_leaf(e.right)
        else:
            flipped = self._negated_product(e.right)
        if flipped is not None:
            right = flipped
            op = "-" if op == "+" else "+"
        else:
            right, pr = self._p(e.right)
            if pr <= PREC_ADD or (pr == PREC_NEG and right.startswith(("−", "-"))):
                right = self._paren(right)
        sign = {"+": "+", "-": "-" if self.latex else "−"}[op]
        return left + self._op(sign, 0) + right, PREC_ADD

    def _times(self, e: Bin, left: str, right: str) -> str:
        """× between numbers and between derivatives; juxtaposition (W₁x₁, α ∂L/∂W) in
        symbolic LaTeX, as the seeds write it."""
        if not self.latex:
            return mark(1) + " × "
        if self.values is None:
            plain_right = strip_marks(right)
            starts_number = plain_right[:1].isdigit() or plain_right.startswith(("-", "."))
            fractions = "\\frac" in left or "\\frac" in plain_right
            hyper = isinstance(e.left, Ref) and e.left.name in HYPERPARAMETERS
            indexed = isinstance(e.left, Ref) and resolve(left).endswith(")")  # W₁(2) × x₁, not W₁(2)x₁
            if not starts_number and not indexed and (not fractions or hyper):
                return " "
        return mark(1) + r" \times "

    def _factors(self, e: Bin) -> tuple[str, str]:
        """Both operands of a product, parenthesised where a product needs it."""
        left, pl = self._p(e.left)
        right, pr = self._p(e.right)
        if pl < PREC_MUL:
            left = self._paren(left)
        if pr <= PREC_MUL or pr == PREC_NEG:
            right = self._paren(right)
        return left, right

    def _mul(self, e: Bin) -> tuple[str, int]:
        left, right = self._factors(e)
        return left + self._times(e, left, right) + right, PREC_MUL

    def _matmul(self, e: Bin) -> tuple[str, int]:
        """A matrix product (tensor graphs): juxtaposition in LaTeX, @ in text."""
        left, right = self._factors(e)
        return left + (r" \, " if self.latex else " @ ") + right, PREC_MUL

    def _div(self, e: Bin) -> tuple[str, int]:
        left, pl = self._p(e.left)
        right, pr = self._p(e.right)
        if self.latex and tex_width(resolve(left)) <= 22 and tex_width(resolve(right)) <= 22:
            return r"\frac{" + self._brace(left) + "}{" + self._brace(right) + "}", PREC_ATOM
        if pl < PREC_MUL:
            left = self._paren(left)
        if pr <= PREC_MUL:
            right = self._paren(right)
        slash = mark(1) + (r" \,/\, " if self.latex else " / ")
        return left + slash + right, PREC_MUL

    def _pow(self, e: Bin) -> tuple[str, int]:
        base, pb = self._p(e.left)
        if pb < PREC_ATOM:
            base = self._paren(base)
        if isinstance(e.right, Num) and not self.latex and e.right.text.lstrip("-").isdigit():
            return base + e.right.text.translate(SUP), PREC_POW
        exponent = self._p(e.right)[0]
        if self.latex:
            if "^" in strip_marks(base) and not base.startswith(OPEN):  # σ^{(1)}_{1} squared: no double ^
                base = "{" + resolve(base) + "}"
            return base + "^{" + self._brace(exponent) + "}", PREC_POW
        return (f"{base}^{exponent}" if len(exponent) == 1 else f"{base}^({deepen(exponent, 4)})"), PREC_POW


# -- width of LaTeX math, in em (for line breaking; a deliberate overestimate) ----------------

_CMD_WIDTH = {
    "times": 1.25, "cdot": 0.8, "partial": 0.6, "quad": 1.0, "qquad": 2.0, ",": 0.17, ";": 0.28,
    ":": 0.22, "!": -0.17, " ": 0.33, "log": 1.35, "exp": 1.5, "sin": 1.2, "cos": 1.35, "tanh": 1.9,
    "max": 1.75, "min": 1.6, "cdots": 1.35, "ldots": 1.35, "vdots": 0.5, "ddots": 1.3, "odot": 1.25,
    "top": 0.8, "sum": 1.5, "to": 1.3, "leftarrow": 1.3, "mid": 0.6, "approx": 1.35, "in": 1.2,
    "%": 0.9, "#": 0.9, "_": 0.55, "&": 0.8, "$": 0.55, "{": 0.55, "}": 0.55,
}
_CMD_WIDTH.update({"left": 0.2, "right": 0.2, "Bigl": 0.15, "Bigr": 0.15})  # tall delimiters are wider
_ZERO = ("bigl", "bigr", "big", "Big", "biggl", "biggr", "displaystyle",
         "textstyle", "limits", "nolimits", "phantom")


def _group(s: str, i: int) -> tuple[str, int]:
    """The {…} group starting at s[i] (or one character/command), and the index after it."""
    if i >= len(s):
        return "", i
    if s[i] == "{":
        depth = 0
        for j in range(i, len(s)):
            if s[j] == "{" and (j == 0 or s[j - 1] != "\\"):
                depth += 1
            elif s[j] == "}" and s[j - 1] != "\\":
                depth -= 1
                if depth == 0:
                    return s[i + 1:j], j + 1
        return s[i + 1:], len(s)
    if s[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", s[i:])
        return m.group(0), i + len(m.group(0))
    return s[i], i + 1


def tex_width(s: str, scale: float = 1.0) -> float:
    """Approximate rendered width (em, display style) of a LaTeX math string."""
    s = strip_marks(s)
    s = _TOKEN_RE.sub(lambda m: m.group(1), s)
    total, i, prev_operand = 0.0, 0, False
    last_script = 0.0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", s[i:])
            cmd = m.group(1)
            i += len(m.group(0))
            if cmd in ("frac", "dfrac", "tfrac"):
                num, i = _group(s, i)
                den, i = _group(s, i)
                f = 0.75 if cmd == "tfrac" else 1.0
                total += f * max(tex_width(num), tex_width(den)) + 0.45
                prev_operand = True
            elif cmd == "begin":
                env, i = _group(s, i)
                end = s.find("\\end{" + env + "}", i)
                body = s[i:end if end >= 0 else len(s)]
                i = (end + len("\\end{" + env + "}")) if end >= 0 else len(s)
                total += _matrix_width(body) + (0.9 if env.endswith("matrix") else 0)
                prev_operand = True
            elif cmd in ("mathrm", "mathit", "text", "mathbf", "operatorname", "textbf", "boldsymbol",
                         "mathcal", "hat", "bar", "tilde", "sqrt", "overline"):
                arg, i = _group(s, i)
                if cmd in ("text", "textbf"):
                    total += sum(1.0 if ord(c) > 0x2E80 else 0.5 for c in arg)
                elif cmd in ("mathrm", "operatorname", "mathit"):
                    total += tex_width(arg) * 0.9
                elif cmd == "mathcal":
                    total += 0.8
                elif cmd == "sqrt":
                    total += tex_width(arg) + 0.9
                else:
                    total += tex_width(arg)
                prev_operand = True
            elif cmd in _ZERO:
                if cmd == "phantom":
                    _, i = _group(s, i)
            elif cmd in ("\\",):
                pass
            elif cmd in _CMD_WIDTH:
                total += _CMD_WIDTH[cmd]
                prev_operand = cmd not in ("times", "cdot", "odot", "to", "approx", "in")
            else:  # Greek letters and other symbols
                total += 0.62
                prev_operand = True
            continue
        if ch in "^_":
            arg, i = _group(s, i + 1)
            w = 0.72 * tex_width(arg)
            if last_script and i - 1 >= 0:
                total += max(0.0, w - last_script)
                last_script = 0.0
            else:
                total += w
                last_script = w
            continue
        last_script = 0.0
        i += 1
        if ch in "{}& \n":
            continue
        if ch in "+-":
            total += 1.25 if prev_operand else 0.78
            prev_operand = False
        elif ch in "=<>":
            total += 1.35
            prev_operand = False
        elif ch.isdigit():
            total += 0.5
            prev_operand = True
        elif ch in ".,;:":
            total += 0.28
        elif ch in "()[]|/":
            total += 0.4 if ch != "/" else 0.5
            prev_operand = ch in ")]|"
        elif ch == "−":
            total += 1.25 if prev_operand else 0.78
            prev_operand = False
        elif ch.isupper():
            total += 0.8
            prev_operand = True
        elif ord(ch) > 0x2E80:
            total += 1.0
            prev_operand = True
        else:
            total += 0.56
            prev_operand = True
    return total * scale


def _matrix_width(body: str) -> float:
    rows = [r for r in body.split("\\\\")]
    widths: list[float] = []
    for row in rows:
        for c, cell in enumerate(row.split("&")):
            w = tex_width(cell)
            if c < len(widths):
                widths[c] = max(widths[c], w)
            else:
                widths.append(w)
    return sum(widths) + 1.0 * len(widths)
