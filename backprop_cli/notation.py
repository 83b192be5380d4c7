"""Canonical name → display symbol, in Unicode (terminal) or LaTeX (documents).

Canonical names (SPEC §3) never change; only how they are shown does. A preset says
which letter each kind of quantity gets:

* `seed000` (default): z, σ, W, b, x, y for the target — seed 000's notation.
* `mazur`: net, out, w, b, i for inputs, target — Matt Mazur / seed 001 & 003 style
  (hidden h1…, outputs o1…).
* `seed002`: z, h (hidden activations), y (outputs), w, t.
* `indexed`: layer-indexed W⁽ˡ⁾ⱼₖ, b⁽ˡ⁾ⱼ, z⁽ˡ⁾ⱼ, a⁽ˡ⁾ⱼ.

A spec's `notation:` (a preset name, or a mapping with `preset:` and per-letter
overrides such as `activation: o`) picks the preset; `--notation` overrides it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Optional

SUB = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
SUP = str.maketrans("0123456789+-=()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾")

GREEK_LATEX = {"σ": r"\sigma", "δ": r"\delta", "α": r"\alpha", "β": r"\beta", "η": r"\eta", "ε": r"\epsilon", "λ": r"\lambda", "μ": r"\mu"}

PRESETS = ("seed000", "mazur", "seed002", "indexed")

# letters each preset uses: weighted sum, activation (hidden, output), weight, bias,
# input, target, loss
_LETTERS = {
    "seed000": dict(z="z", a="σ", a_out="σ", W="W", b="b", x="x", t="y", L="L"),
    "mazur": dict(z="net", a="out", a_out="out", W="w", b="b", x="i", t="target", L="E"),
    "seed002": dict(z="z", a="h", a_out="y", W="w", b="b", x="x", t="t", L="L"),
    "indexed": dict(z="z", a="a", a_out="a", W="W", b="b", x="x", t="y", L="L"),
}

_HYPER = {"lr": "α", "momentum": "μ", "weight_decay": "λ", "beta1": "β₁", "beta2": "β₂", "eps": "ε", "slope": "slope"}
_HYPER_LATEX = {"lr": r"\alpha", "momentum": r"\mu", "weight_decay": r"\lambda", "beta1": r"\beta_1", "beta2": r"\beta_2", "eps": r"\epsilon", "slope": r"\mathrm{slope}"}

_NAME = re.compile(r"^(?P<base>.+?)(?P<sample>#\d+)?(?P<step>@\d+)?$")
_QUANTITY = re.compile(r"^(?P<kind>z|a|delta|x|t|W|b)(?P<i>\d+)$")
_PARAM_NEW = re.compile(r"^(?P<kind>W|b)(?P<i>\d+)_new$")
_STATE = re.compile(r"^(?P<state>buf|m|v)_(?P<kind>W|b)(?P<i>\d+)$")
_DL = re.compile(r"^dL/d(?P<kind>a|W|b|x|z)(?P<i>\d+)$")
_LOCAL = re.compile(r"^d(?P<top>[az])(?P<ti>\d+)/d(?P<kind>[zWbax])(?P<i>\d+)$")


@dataclass(frozen=True)
class Notation:
    preset: str = "seed000"
    letters: dict = field(default_factory=lambda: dict(_LETTERS["seed000"]))
    # neuron number → (layer index 1-based, position 1-based, is_output); filled per network
    neurons: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)  # W number → (layer, j, i)
    biases: dict = field(default_factory=dict)  # b number → (layer, j)
    hidden_count: int = 0

    @classmethod
    def build(cls, preset: Optional[str] = None, overrides: Optional[dict] = None, spec: Any = None) -> "Notation":
        name = preset or "seed000"
        letters = dict(_LETTERS[name])
        for key, value in (overrides or {}).items():
            if key in ("activation", "a"):
                letters["a"] = letters["a_out"] = value
            elif key in ("sum", "z"):
                letters["z"] = value
            elif key in ("weight", "W"):
                letters["W"] = value
            elif key in ("bias", "b"):
                letters["b"] = value
            elif key in ("input", "x"):
                letters["x"] = value
            elif key in ("target", "t"):
                letters["t"] = value
            elif key in ("loss", "L"):
                letters["L"] = value
            elif key in ("output",):
                letters["a_out"] = value
        notation = cls(preset=name, letters=letters)
        return notation.for_network(spec) if spec is not None else notation

    def for_network(self, spec: Any) -> "Notation":
        neurons, weights, biases = {}, {}, {}
        n = w = b = 0
        last = len(spec.layers) - 1
        for l, layer in enumerate(spec.layers):
            for j in range(layer.units):
                n += 1
                neurons[n] = (l + 1, j + 1, l == last)
                for i in range(layer.fan_in):
                    w += 1
                    weights[w] = (l + 1, j + 1, i + 1)
            if layer.bias_kind == "vector":
                for j in range(layer.units):
                    b += 1
                    biases[b] = (l + 1, j + 1)
            elif layer.bias_kind == "shared":
                b += 1
                biases[b] = (l + 1, 0)
        hidden = sum(layer.units for layer in spec.layers[:-1])
        return replace(self, neurons=neurons, weights=weights, biases=biases, hidden_count=hidden)

    # ---------------------------------------------------------------------------------

    def _neuron_letter(self, kind: str, i: int) -> tuple[str, str]:
        """(letter, subscript) for z/a/delta of neuron i, per preset."""
        layer, pos, is_out = self.neurons.get(i, (0, i, False))
        if self.preset == "indexed":
            return self.letters["z" if kind == "z" else "a"] + f"^({layer})", str(pos)
        if self.preset == "mazur":
            sub = (f"o{pos}" if is_out else f"h{i}") if self.neurons else str(i)
            return self.letters[kind] if kind in ("z",) else self.letters["a"], sub
        if self.preset == "seed002" and kind == "a":
            return (self.letters["a_out"], str(pos)) if is_out else (self.letters["a"], str(i))
        return self.letters["z"] if kind == "z" else self.letters["a"], str(i)

    def _parts(self, name: str) -> tuple[str, str, str]:
        """(letter, subscript, superscript-ish suffix) of a simple quantity, no d/d."""
        m = _QUANTITY.match(name)
        if not m:
            return name, "", ""
        kind, i = m.group("kind"), int(m.group("i"))
        if kind in ("z", "a"):
            letter, sub = self._neuron_letter(kind, i)
            return letter, sub, ""
        if kind == "delta":
            letter, sub = self._neuron_letter("z", i)
            layer_mark = re.search(r"\^\(\d+\)$", letter)
            return "δ" + (layer_mark.group(0) if layer_mark else ""), sub, ""
        if kind == "x":
            return self.letters["x"], str(i), ""
        if kind == "t":
            return self.letters["t"], str(i), ""
        if kind == "W":
            if self.preset == "indexed" and i in self.weights:
                layer, j, k = self.weights[i]
                return f"{self.letters['W']}^({layer})", f"{j}{k}", ""
            return self.letters["W"], str(i), ""
        if kind == "b":
            if self.preset == "indexed" and i in self.biases:
                layer, j = self.biases[i]
                return f"{self.letters['b']}^({layer})", str(j) if j else "", ""
            return self.letters["b"], str(i), ""
        return name, "", ""

    # -- Unicode ----------------------------------------------------------------------------

    def unicode(self, canonical: str) -> str:
        m = _NAME.match(canonical)
        base, sample, step = m.group("base"), m.group("sample"), m.group("step")
        text = self._unicode_base(base)
        if sample:
            text += f"⁽{sample[1:].translate(SUP)}⁾"
        if step:
            text += f"[{step[1:]}]"
        return text

    def _u(self, name: str) -> str:
        letter, sub, _ = self._parts(name)
        letter = re.sub(r"\^\((\d+)\)", lambda mm: f"⁽{mm.group(1).translate(SUP)}⁾", letter)
        if sub.isdigit():
            return letter + sub.translate(SUB)
        return letter + (f"_{sub}" if sub else "")

    def _unicode_base(self, base: str) -> str:
        if base in ("loss", "loss_after"):
            return self.letters["L"] if base == "loss" else self.letters["L"] + "′"
        if base in _HYPER:
            return _HYPER[base]
        m = _PARAM_NEW.match(base)
        if m:
            return self._u(m.group("kind") + m.group("i")) + "⁺"
        m = _STATE.match(base)
        if m:
            return f"{m.group('state')}({self._u(m.group('kind') + m.group('i'))})"
        m = _DL.match(base)
        if m:
            return f"∂{self.letters['L']}/∂{self._u(m.group('kind') + m.group('i'))}"
        m = _LOCAL.match(base)
        if m:
            return f"∂{self._u(m.group('top') + m.group('ti'))}/∂{self._u(m.group('kind') + m.group('i'))}"
        return self._u(base)

    # -- LaTeX ------------------------------------------------------------------------------

    def _l(self, name: str) -> str:
        letter, sub, _ = self._parts(name)
        for greek, macro in GREEK_LATEX.items():
            letter = letter.replace(greek, macro + " ")
        letter = letter.strip()
        sup = ""
        mm = re.search(r"\^\((\d+)\)$", letter)
        if mm:
            sup = "^{(" + mm.group(1) + ")}"
            letter = letter[: mm.start()]
        if len(letter) > 1 and not letter.startswith("\\"):
            letter = r"\mathrm{" + letter + "}"
        sub_tex = "_{" + (r"\mathrm{" + sub + "}" if sub and not sub.isdigit() else sub) + "}" if sub else ""
        return letter + sup + sub_tex

    def latex(self, canonical: str) -> str:
        m = _NAME.match(canonical)
        base, sample, step = m.group("base"), m.group("sample"), m.group("step")
        text = self._latex_base(base)
        if sample:
            text = "{" + text + "}^{(" + sample[1:] + ")}"
        if step:
            text = text + r"\big|_{t=" + step[1:] + "}"
        return text

    def _latex_base(self, base: str) -> str:
        L = self.letters["L"]
        L_tex = r"\mathcal{L}" if L == "L" else L
        if base == "loss":
            return L_tex
        if base == "loss_after":
            return L_tex + r"_{\text{after}}"
        if base in _HYPER_LATEX:
            return _HYPER_LATEX[base]
        m = _PARAM_NEW.match(base)
        if m:
            return self._l(m.group("kind") + m.group("i")) + r"^{+}"
        m = _STATE.match(base)
        if m:
            return r"\mathrm{" + m.group("state") + "}(" + self._l(m.group("kind") + m.group("i")) + ")"
        m = _DL.match(base)
        if m:
            return r"\frac{\partial " + L_tex + r"}{\partial " + self._l(m.group("kind") + m.group("i")) + "}"
        m = _LOCAL.match(base)
        if m:
            return (r"\frac{\partial " + self._l(m.group("top") + m.group("ti")) + r"}{\partial "
                    + self._l(m.group("kind") + m.group("i")) + "}")
        return self._l(base)
