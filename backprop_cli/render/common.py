"""What every renderer of a network trace shares: symbols, numbers as written, labels.

`Look` is the one place a canonical name becomes a symbol and a value becomes text, so
the terminal table, the LaTeX document and the Markdown page tell the same story with
the same symbols. Renderers only *format* what the trace's equations hold.
"""
from __future__ import annotations

import re
from typing import Optional

from ..calc.expr import Num, Ref
from ..frozen import frozen
from ..network.names import NetworkNames
from .notation import Notation, Sym
from ..trace import Equation, Trace
from .formula import FormulaPrinter, exact_value_text, format_number, resolve, strip_marks

SECTION_ORDER = ("forward", "loss", "backward", "update", "after")
_CONDITION = re.compile(r"^(?P<name>\S+) (?P<op><=|>=|==|=|<|>) (?P<rhs>.+)$")


def given_texts(spec) -> dict[str, str]:
    """Given data as the user wrote it (x1 = 1, not 1.0000): the seeds write it that way."""
    names = NetworkNames.of(spec)
    out: dict[str, str] = {}
    for n in range(spec.samples):
        for i, text in enumerate(spec.input_text[n]):
            out[names.sample(f"x{i + 1}", n)] = text
        for k, text in enumerate(spec.target_text[n]):
            out[names.sample(f"t{k + 1}", n)] = text
    for l, layer in enumerate(spec.layers):
        for j in range(layer.units):
            for i in range(layer.fan_in):
                out[names.weight(l, j, i)] = layer.weights_text[j][i]
        if layer.bias_kind == "vector":
            for j in range(layer.units):
                out[names.bias(l, j)] = layer.bias_text[j]
        elif layer.bias_kind == "shared":
            out[names.bias(l, 0)] = layer.bias_text
        if layer.activation.name == "leaky_relu":
            out["slope"] = layer.activation.slope_text
    for key, number in spec.optimizer.hyperparameters().items():
        out[key] = number.text
    return out


def _clean_given(text: str) -> str:
    """Given text fit for a formula: a leading + goes, 1.0e-3 keeps its form."""
    return text[1:] if text.startswith("+") else text


@frozen
class Look:
    """Symbols and numbers for one renderer (style: unicode | latex)."""

    notation: Notation
    style: str
    digits: int
    given: dict
    noise: frozenset = frozenset()  # names whose value is float rounding of an exact 0

    @classmethod
    def of(cls, trace: Trace, style: str, digits: int = 4, notation: Optional[str] = None) -> "Look":
        """`notation` (the --notation preset) wins over the spec's `notation:` preset;
        the spec's per-letter overrides still apply."""
        spec = trace.spec
        return cls(Notation.of_spec(spec, notation), style, digits, given_texts(spec), rounding_noise(trace))

    @property
    def latex(self) -> bool:
        return self.style == "latex"

    def symbol(self, name: str) -> str:
        return self.notation.unicode(name) if self.style == "unicode" else self.notation.latex(name)

    def sym(self, sym: Sym) -> str:
        return self.notation.spell(sym, self.style)

    def param_at(self, name: str, step: int, new: bool = False) -> str:
        """A parameter with its time index shown: W₅(1), W₅(2) (tables of before/after)."""
        return self.sym(self.notation.param_at(name, step, new))

    def number(self, value, name: str = "") -> str:
        """A value as text: given data exactly as the user wrote it, else `digits` decimals."""
        text = self.given.get(name)
        if text is not None:
            text = _clean_given(text)
            if "/" in text and self.latex:
                p, q = text.lstrip("-").split("/")
                return ("-" if text.startswith("-") else "") + r"\tfrac{" + p + "}{" + q + "}"
            if "e" in text.lower() and self.latex:
                mant, exp = text.lower().split("e")
                return f"{mant}\\times10^{{{int(exp)}}}"
            return text.replace("-", "−") if self.style == "unicode" else text
        if name in self.noise:
            return f"{0:.{self.digits}f}"
        return format_number(value, self.digits, self.style)

    def printer(self, eq: Optional[Equation] = None) -> FormulaPrinter:
        values = dict(eq.operands) if eq is not None else None
        return FormulaPrinter(self.symbol, self.style, self.digits, values, self.number if values is not None else None)

    def formula(self, eq: Equation) -> str:
        return self.printer().show(eq.expr)

    def numbers(self, eq: Equation) -> str:
        return self.printer(eq).show(eq.expr)

    def value(self, eq: Equation) -> str:
        if isinstance(eq.expr, Ref) and eq.expr.name in self.given:  # ∂z₁/∂W₁ = x₁ = 1
            return self.number(eq.value, eq.expr.name)
        if eq.name in self.noise:
            return f"{0:.{self.digits}f}"
        return exact_value_text(eq.value, self.digits, self.style)

    def chain_marked(self, eq: Equation) -> list[str]:
        """Right-hand sides of `name = formula = numbers = value`, without repeats.

        Parts keep their break marks (formula.py) for the line breakers; a bare
        literal (∂z₃/∂b₃ = 1) is its own value, a bare name (∂z₃/∂W₅ = σ₁) gets only
        its value after it."""
        formula = self.printer().marked(eq.expr)
        numbers = self.printer(eq).marked(eq.expr)
        if isinstance(eq.expr, Num):
            candidates = [formula]
        elif isinstance(eq.expr, Ref):
            candidates = [formula, self.value(eq)]
        else:
            candidates = [formula, numbers, self.value(eq)]
        parts: list[str] = []
        plain = resolve if self.latex else strip_marks
        for part in candidates:
            if not parts or plain(part) != plain(parts[-1]):
                parts.append(part)
        return parts

    def chain(self, eq: Equation) -> list[str]:
        """The parts of `name = formula = numbers = value`, each on one line."""
        parts = [(resolve if self.latex else strip_marks)(p) for p in self.chain_marked(eq)]
        return [self.symbol(eq.name)] + parts

    def condition(self, eq: Equation, frozen_word: str = "frozen") -> str:
        """The branch a piecewise derivative took (z₁ > 0), in this look's symbols."""
        if not eq.condition:
            return ""
        if eq.condition == "frozen":
            return (r"\text{" + frozen_word + "}") if self.latex else frozen_word
        m = _CONDITION.match(eq.condition)
        if not m:
            return eq.condition
        op = m.group("op")
        if self.latex:
            op = {"<=": r"\le", ">=": r"\ge", "==": "="}.get(op, op)
        else:
            op = {"<=": "≤", ">=": "≥", "==": "="}.get(op, op)
        return f"{self.symbol(m.group('name'))} {op} {m.group('rhs')}"

    def layer_of(self, eq: Equation) -> Optional[int]:
        return self.notation.layer_of(eq.name)


NOISE = 1e-12  # relative size below which a float result is the rounding of a cancellation


def rounding_noise(trace) -> frozenset:
    """Names of equations whose float value is rounding left by a cancellation (0.2 − 0.1
    − 0.1 = 2.8e-17): printed as 0.0000, as the exact arithmetic gives, so that printing
    small values with their significant digits does not print noise. Tiny values that
    are not a cancellation (a loss of 1e-22 after many steps) keep their digits."""
    out = set()
    for eq in getattr(trace, "equations", ()):
        value = eq.value
        if not isinstance(value, float) or value == 0 or abs(value) > 1e-9:
            continue
        scale = 0.0
        for _, operand in eq.operands:
            try:
                scale = max(scale, abs(float(operand)))
            except (TypeError, ValueError):
                continue
        if abs(value) <= NOISE * scale:
            out.add(eq.name)
    return frozenset(out)


def sections(equations) -> dict[str, list[Equation]]:
    out: dict[str, list[Equation]] = {k: [] for k in SECTION_ORDER}
    for e in equations:
        out.setdefault(e.section, []).append(e)
    return out


def architecture(spec) -> str:
    widths = [spec.input.shape[1]] + [layer.units for layer in spec.layers]
    return "-".join(str(w) for w in widths)


def optimizer_text(spec) -> str:
    opt = spec.optimizer
    parts = [f"lr={opt.lr.text}"]
    if opt.name == "sgd":
        if opt.momentum.value:
            parts.append(f"momentum={opt.momentum.text}")
        if opt.nesterov:
            parts.append("nesterov")
    elif opt.name == "adam":
        parts.append(f"betas=({opt.beta1.text}, {opt.beta2.text})")
        parts.append(f"eps={opt.eps.text}")
    elif opt.name == "rmsprop":
        parts.append(f"alpha={opt.alpha.text}")
        parts.append(f"eps={opt.eps.text}")
        if opt.momentum.value:
            parts.append(f"momentum={opt.momentum.text}")
        if opt.centered:
            parts.append("centered")
    else:
        if opt.lr_decay.value:
            parts.append(f"lr_decay={opt.lr_decay.text}")
        if opt.initial_accumulator_value.value:
            parts.append(f"G₀={opt.initial_accumulator_value.text}")  # initial_accumulator_value: fits 80 columns
        parts.append(f"eps={opt.eps.text}")
    if opt.weight_decay.value:
        parts.append(f"weight_decay={opt.weight_decay.text}")
    return f"{OPTIMIZER_TITLES[opt.name]} ({', '.join(parts)})"


OPTIMIZER_TITLES = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop", "adagrad": "Adagrad"}


def sparkline(values) -> str:
    """A one-line text chart of the loss per step."""
    bars = "▁▂▃▄▅▆▇█"
    lo, hi = min(values), max(values)
    if hi - lo <= 0:
        return bars[0] * len(values)
    return "".join(bars[min(7, int((v - lo) / (hi - lo) * 7.999))] for v in values)


def thin(values: list, limit: int) -> list[int]:
    """Indices to show of a long series: evenly spread, first and last always."""
    n = len(values)
    if n <= limit:
        return list(range(n))
    step = (n - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})


SHOW_ALL_UP_TO = 3  # runs of at most this many steps are written out in full by default


def detailed_steps(trace: Trace, limit: int = SHOW_ALL_UP_TO) -> list:
    """The step records a document spells out in full by default: all of them when few,
    else steps 1, 2 and the last (the loss table covers every step)."""
    steps = list(trace.steps)
    if len(steps) <= limit:
        return steps
    return steps[: limit - 1] + [steps[-1]]


def parse_show_steps(text: Optional[str]) -> Optional[tuple]:
    """`--show-steps`: None (the default), ("all",), or a tuple of step numbers and the
    words first/last, as written: `all`, `first,last`, `1,2,5`. Bad text is bad input."""
    from ..errors import BackpropError

    if text is None:
        return None
    words = [w.strip().lower() for w in text.split(",")]
    if words == ["all"]:
        return ("all",)
    out: list = []
    for w in words:
        if w in ("first", "last"):
            out.append(w)
        elif w.isdigit() and int(w) >= 1:
            out.append(int(w))
        else:
            raise BackpropError(f"--show-steps: expected all, first, last or step numbers from 1 separated "
                                f"by commas (e.g. first,last or 1,2,5), found {text!r}")
    return tuple(out)


def chosen_steps(trace: Trace, show: Optional[tuple] = None) -> list:
    """The step records to write out: `show` as parse_show_steps returns it (None: the
    default of detailed_steps). A step past the run is bad input, named."""
    from ..errors import BackpropError

    steps = list(trace.steps)
    if show is None:
        return detailed_steps(trace)
    if show == ("all",):
        return steps
    n = len(steps)
    wanted = set()
    for item in show:
        k = 1 if item == "first" else n if item == "last" else item
        if not 1 <= k <= n:
            raise BackpropError(f"--show-steps: step {k} is past the run ({n} step{'s' if n != 1 else ''}: "
                                f"choose 1–{n}, first, last or all)")
        wanted.add(k)
    return [r for r in steps if r.step in wanted]


def equation_values(trace: Trace) -> dict:
    """Every equation's value by canonical name, as its number policy computed it."""
    return {e.name: e.value for e in trace.equations}


def parameter_rows(trace: Trace, record, values: Optional[dict] = None):
    """Per layer: (layer, [(name, index, before, gradient, after, frozen)]) of every
    parameter. Values come from the equations when the derivation has them (so a
    hand-rounded document shows the rounded numbers it derived), else from the records."""
    from ..network.names import at, parameter_value

    names = NetworkNames.of(trace.spec)
    values = values if values is not None else equation_values(trace)
    s = record.step

    out = []
    for l, layer in enumerate(record.layers):
        rows = []
        for name, index in names.parameters(l):
            is_frozen = ("weights" if index[0] == "w" else "bias") in layer.frozen
            before = values.get(at(f"{name}_new", s - 1)) if s > 1 else None
            rows.append((
                name, index,
                before if before is not None else parameter_value(layer.weights_before, layer.bias_before, index),
                values.get(at(f"dL/d{name}", s), parameter_value(layer.grad_weights, layer.grad_bias, index)),
                values.get(at(f"{name}_new", s), parameter_value(layer.weights, layer.bias, index)),
                is_frozen,
            ))
        out.append((l + 1, rows))
    return out
