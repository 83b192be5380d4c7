"""What every renderer of a network trace shares: symbols, numbers as written, labels."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..expr import Num, Ref
from ..names import NetworkNames
from ..notation import Notation
from ..trace import Equation, Trace
from .formula import FormulaPrinter, format_number

SECTION_ORDER = ("forward", "loss", "backward", "update", "after")


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
    """Given text fit for a formula: fractions keep their slash, a leading + goes."""
    return text[1:] if text.startswith("+") else text


@dataclass(frozen=True)
class Look:
    """Symbols and numbers for one renderer (style: unicode | latex)."""

    notation: Notation
    style: str
    digits: int
    given: dict

    @classmethod
    def of(cls, trace: Trace, style: str, digits: int = 4, notation: Optional[str] = None) -> "Look":
        spec = trace.spec
        preset, overrides = notation, None
        if preset is None and isinstance(spec.notation, str):
            preset = spec.notation
        elif isinstance(spec.notation, dict):
            overrides = dict(spec.notation)
            preset = preset or overrides.pop("preset", None)
        return cls(Notation.build(preset, overrides, spec), style, digits, given_texts(spec))

    def symbol(self, name: str) -> str:
        return self.notation.unicode(name) if self.style == "unicode" else self.notation.latex(name)

    def number(self, value, name: str = "") -> str:
        text = self.given.get(name)
        if text is not None:
            text = _clean_given(text)
            if "/" in text and self.style == "latex":
                p, q = text.lstrip("-").split("/")
                return ("-" if text.startswith("-") else "") + r"\tfrac{" + p + "}{" + q + "}"
            if text.lower().count("e") and self.style == "latex":
                mant, exp = text.lower().split("e")
                return f"{mant}\\times10^{{{int(exp)}}}"
            return text.replace("-", "−") if self.style == "unicode" else text
        return format_number(value, self.digits, self.style)

    def formula(self, eq: Equation) -> str:
        return FormulaPrinter(self.symbol, self.style, self.digits).show(eq.expr)

    def numbers(self, eq: Equation) -> str:
        return FormulaPrinter(self.symbol, self.style, self.digits, dict(eq.operands), self.number).show(eq.expr)

    def value(self, eq: Equation) -> str:
        return format_number(eq.value, self.digits, self.style)

    def chain(self, eq: Equation) -> list[str]:
        """The parts of `name = formula = numbers = value`, without repeats."""
        parts = [self.symbol(eq.name)]
        formula, numbers, value = self.formula(eq), self.numbers(eq), self.value(eq)
        trivial = isinstance(eq.expr, (Ref, Num))  # ∂z₃/∂W₅ = σ₁ = 0.6565: no separate numbers
        for part in (formula, value) if trivial else (formula, numbers, value):
            if part != parts[-1]:
                parts.append(part)
        return parts


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
    else:
        parts.append(f"betas=({opt.beta1.text}, {opt.beta2.text})")
        parts.append(f"eps={opt.eps.text}")
    if opt.weight_decay.value:
        parts.append(f"weight_decay={opt.weight_decay.text}")
    return f"{opt.name.upper() if opt.name == 'sgd' else 'Adam'} ({', '.join(parts)})"


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
