"""What every renderer of a network trace shares: symbols, numbers as written, labels.

`Look` is the one place a canonical name becomes a symbol and a value becomes text, so
the terminal table, the LaTeX document and the Markdown page tell the same story with
the same symbols. Renderers only *format* what the trace's equations hold.
"""
from __future__ import annotations

import re
from typing import Optional

from ..expr import Num, Ref
from ..frozen import frozen
from ..names import NetworkNames
from ..notation import Notation, Sym
from ..trace import Equation, Trace
from .formula import FormulaPrinter, format_number, resolve, exact_value_text

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

    @classmethod
    def of(cls, trace: Trace, style: str, digits: int = 4, notation: Optional[str] = None) -> "Look":
        """`notation` (the --notation preset) wins over the spec's `notation:` preset;
        the spec's per-letter overrides still apply."""
        spec = trace.spec
        return cls(Notation.of_spec(spec, notation), style, digits, given_texts(spec))

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
        return exact_value_text(eq.value, self.digits, self.style)

    def chain_marked(self, eq: Equation) -> list[str]:
        """Right-hand sides of `name = formula = numbers = value`, without repeats.

        LaTeX parts keep their break marks (formula.py) for the line breaker; a bare
        literal (∂z₃/∂b₃ = 1) is its own value, a bare name (∂z₃/∂W₅ = σ₁) gets only
        its value after it."""
        if self.latex:
            formula = self.printer().marked(eq.expr)
            numbers = self.printer(eq).marked(eq.expr)
        else:
            formula, numbers = self.formula(eq), self.numbers(eq)
        if isinstance(eq.expr, Num):
            candidates = [formula]
        elif isinstance(eq.expr, Ref):
            candidates = [formula, self.value(eq)]
        else:
            candidates = [formula, numbers, self.value(eq)]
        parts: list[str] = []
        for part in candidates:
            shown = resolve(part) if self.latex else part
            if not parts or shown != (resolve(parts[-1]) if self.latex else parts[-1]):
                parts.append(part)
        return parts

    def chain(self, eq: Equation) -> list[str]:
        """The parts of `name = formula = numbers = value`, each on one line."""
        parts = self.chain_marked(eq)
        if self.latex:
            parts = [resolve(p) for p in parts]
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
            parts.append(f"initial_accumulator_value={opt.initial_accumulator_value.text}")
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


def detailed_steps(trace: Trace, limit: int = 3) -> list:
    """The step records a document spells out in full: all of them when few, else the
    first ones and the last (the loss table and plot cover every step)."""
    steps = list(trace.steps)
    if len(steps) <= limit:
        return steps
    return steps[: limit - 1] + [steps[-1]]


def equation_values(trace: Trace) -> dict:
    """Every equation's value by canonical name, as its number policy computed it."""
    return {e.name: e.value for e in trace.equations}


def parameter_rows(trace: Trace, record, values: Optional[dict] = None):
    """Per layer: (layer, [(name, index, before, gradient, after, frozen)]) of every
    parameter. Values come from the equations when the derivation has them (so a
    hand-rounded document shows the rounded numbers it derived), else from the records."""
    from ..names import at, parameter_value

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
