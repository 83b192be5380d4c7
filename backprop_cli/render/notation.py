"""Canonical name → display symbol, in Unicode (terminal) or LaTeX (documents).

Canonical names (SPEC §3) never change; only how they are shown does. A preset says
which letter each kind of quantity gets:

* `standard` (default): z, σ (a for a layer that is not sigmoid: σ means sigmoid to a
  student), W, b, x and y for the target, global numbering, updated
  parameters as W₅(2) — the Korean PyTorch tutorial's notation (its
  `W_5(2) = W_5(1) − α ∂L/∂W_5(1)`).
* `mazur`: net, out, w, b, i for inputs, target; hidden neurons h1…, outputs o1…, loss E,
  updated weights w₅⁺ — Matt Mazur's worked example.
* `hidden_output`: z, h (hidden activations), y (outputs), w, t for the target.

The earlier names `seed000` and `seed002` are still read (LEGACY_PRESETS).
* `indexed`: layer-indexed W⁽ˡ⁾ⱼₖ, b⁽ˡ⁾ⱼ, z⁽ˡ⁾ⱼ, a⁽ˡ⁾ⱼ, δ⁽ˡ⁾ⱼ.

A spec's `notation:` (a preset name, or a mapping with `preset:` and per-letter
overrides such as `activation: o`) picks the preset; `--notation` overrides the preset.

Marks, chosen so that every symbol a derivation shows is unambiguous *within its step*:
a parameter at step s > 1 carries its time index W₅(s); an updated parameter W₅(s+1)
(w₅⁺ for mazur); optimizer state always m[W₅](s). Neuron quantities and gradients carry
no step mark — renderers put them under a "Step s" heading. A batch sample n is a
superscript (n) (indexed: [n], since (l) is the layer there).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import field
from typing import Any, Optional

from ..errors import BackpropError
from ..frozen import frozen, replace
from ..safe_text import GREEK_LATEX, clip, latex_text, quoted, visible
from .formula import latex_math_name

SUB = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
SUP = str.maketrans("0123456789+-=()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾")
_SUB_LETTERS = dict(zip("aehijklmnoprstuvx", "ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))

_LATEX_GREEK = {v[1:]: k for k, v in GREEK_LATEX.items()}

PRESETS = ("standard", "mazur", "hidden_output", "indexed")
# names of 0.1.0, still accepted in specs and --notation; not listed anywhere a user reads
LEGACY_PRESETS = {"seed000": "standard", "seed002": "hidden_output"}

# letters each preset uses: weighted sum, activation (hidden, output), weight, bias,
# input, target, loss, error signal
_LETTERS = {
    "standard": dict(z="z", a="σ", a_out="σ", W="W", b="b", x="x", t="y", L="L", delta="δ"),
    "mazur": dict(z="net", a="out", a_out="out", W="w", b="b", x="i", t="target", L="E", delta="δ"),
    "hidden_output": dict(z="z", a="h", a_out="y", W="w", b="b", x="x", t="t", L="L", delta="δ"),
    "indexed": dict(z="z", a="a", a_out="a", W="W", b="b", x="x", t="y", L="L", delta="δ"),
}

# spec `notation:` keys → letter slot (both the long and the one-letter spelling)
OVERRIDE_KEYS = {
    "activation": ("a", "a_out"), "a": ("a", "a_out"), "hidden": ("a",), "output": ("a_out",),
    "sum": ("z",), "z": ("z",), "net": ("z",), "weight": ("W",), "W": ("W",), "w": ("W",),
    "bias": ("b",), "b": ("b",), "input": ("x",), "x": ("x",), "target": ("t",), "t": ("t",),
    "y": ("t",), "loss": ("L",), "L": ("L",), "delta": ("delta",),
}

# RMSprop's alpha is shown as ρ (the decay rate of Hinton's slides and Goodfellow et al.):
# α is already the learning rate here. Adagrad's initial accumulator is G₀.
_HYPER = {"lr": "α", "momentum": "μ", "weight_decay": "λ", "beta1": "β₁", "beta2": "β₂", "eps": "ε",
          "slope": "slope", "alpha": "ρ", "lr_decay": "lr_decay", "initial_accumulator_value": "G₀"}
_HYPER_LATEX = {"lr": r"\alpha", "momentum": r"\mu", "weight_decay": r"\lambda", "beta1": r"\beta_1",
                "beta2": r"\beta_2", "eps": r"\epsilon", "slope": r"\mathrm{slope}", "alpha": r"\rho",
                "lr_decay": r"\mathrm{lr\_decay}", "initial_accumulator_value": r"G_0"}



# Optimizer states of a graph's gradient descent: prefix → (Unicode, LaTeX) letter
STATE_SYMBOL = {"buf": ("buf", r"\mathrm{buf}"), "m": ("m", "m"), "v": ("v", "v"), "sq": ("s", "s"),
                 "gavg": ("ḡ", r"\bar{g}"), "sum": ("G", "G")}


def hyper_symbol(name: str, style: str = "unicode") -> Optional[str]:
    """The symbol of a hyperparameter's canonical name (lr → α, alpha → ρ), else None."""
    table = _HYPER if style == "unicode" else _HYPER_LATEX
    return table.get(name)


_NAME = re.compile(r"^(?P<base>.+?)(?:#(?P<sample>\d{1,9}))?(?:@(?P<step>\d{1,9}))?$")
_QUANTITY = re.compile(r"^(?P<kind>z|a|delta|x|t|W|b)(?P<i>\d{1,9})$")
_PARAM_NEW = re.compile(r"^(?P<kind>W|b)(?P<i>\d{1,9})_new$")
_STATE = re.compile(r"^(?P<state>buf|m|v|sq|gavg|sum)_(?P<kind>W|b)(?P<i>\d{1,9})$")
_DERIVATIVE = re.compile(r"^d(?P<top>L|[az]\d+)/d(?P<bottom>[zWbax]\d+)$")
_PER_SAMPLE = ("z", "a", "delta", "x", "t")


@frozen
class Sym:
    """One display symbol, before it is spelled in Unicode or LaTeX."""

    letter: str  # Unicode letters: "σ", "net", "W"
    sub: str = ""  # "1", "h1", "12", "10,3"
    layer: Optional[int] = None  # indexed preset: superscript (l)
    sample: Optional[int] = None  # batch sample n
    time: str = ""  # "(2)" time index, "+" updated (mazur), "" none
    sample_style: str = "paren"  # paren: ⁽ⁿ⁾ | bracket: [n] (indexed)


# -- user symbols (`notation:` overrides): a whitelist, never raw TeX ----------------------------

# The math commands a symbol may use: Greek letters, accents and font changes — what a
# textbook's notation needs, and nothing that reads files, runs commands or defines macros
# (`\input`, `\write18`, `\require`, `\def`, `\href` are all refused).
GREEK_COMMANDS = tuple(v[1:] for v in GREEK_LATEX.values()) + (
    "Gamma", "Lambda", "Pi", "Psi", "Xi", "Upsilon", "upsilon", "omicron", "varepsilon",
    "vartheta", "varphi", "varrho", "varsigma", "varpi")
ACCENT_COMMANDS = {  # command → the combining character that shows it in a terminal
    "hat": "\u0302", "widehat": "\u0302", "tilde": "\u0303", "widetilde": "\u0303",
    "bar": "\u0304", "overline": "\u0305", "vec": "\u20d7", "dot": "\u0307", "ddot": "\u0308",
    "check": "\u030c", "breve": "\u0306", "acute": "\u0301", "grave": "\u0300",
    "underline": "\u0332",
}
FONT_COMMANDS = ("mathbf", "mathrm", "mathit", "mathsf", "mathtt", "mathcal", "mathbb", "mathfrak",
                 "boldsymbol")
OTHER_COMMANDS = {"prime": "′", "ast": "*", "star": "⋆", "dagger": "†"}
SYMBOL_COMMANDS = (frozenset(GREEK_COMMANDS) | frozenset(ACCENT_COMMANDS) | frozenset(FONT_COMMANDS)
                   | frozenset(OTHER_COMMANDS))
SYMBOL_PUNCTUATION = "'′″‴*+-,.()^_{}"
_SUBSUP = frozenset("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓⁱⁿ")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_PRIMES = {"′": "'", "″": "''", "‴": "'''"}
MAX_SYMBOL = 24


def symbol_problem(text: str) -> Optional[str]:
    """Why `text` is not an acceptable notation symbol, or None when it is.

    Accepted: letters (Latin, Greek, any alphabet), digits, primes, Unicode sub- and
    superscripts, `^ _ { } ( ) , . + - *`, and the commands in SYMBOL_COMMANDS (`\\hat`,
    `\\tilde`, `\\bar`, `\\vec`, `\\mathbf`, `\\alpha`, …), braces balanced. Everything else
    is refused, so a symbol can add no TeX, Markdown, HTML or rich markup."""
    if not text or not text.strip():
        return "an empty symbol"
    if len(text) > MAX_SYMBOL:
        return f"{len(text):,} characters (at most {MAX_SYMBOL})"
    if "^^" in text:  # TeX's ^^5c spells any character, a backslash included
        return "'^^' (TeX's character-code escape)"
    depth, i = 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            m = _COMMAND.match(text, i)
            if not m:
                return "a backslash that does not start a command"
            if m.group(1) not in SYMBOL_COMMANDS:
                return (f"the command \\{m.group(1)} (allowed: Greek letters, accents such as \\hat, "
                        "\\tilde, \\bar, \\vec, fonts such as \\mathbf)")
            i = m.end()
            takes_argument = m.group(1) in ACCENT_COMMANDS or m.group(1) in FONT_COMMANDS
            if takes_argument and (i == len(text) or text[i] in "}^_ "):
                return f"\\{m.group(1)} without the letter it applies to (write \\{m.group(1)}{{x}})"
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return "a '}' without its '{'"
        elif ch in _COMBINING_LATEX and i and text[i - 1].isalpha():
            pass  # x̄ written with a combining accent: shown as \\bar{x} in LaTeX
        elif not (ch.isalpha() or ch.isdigit() or ch in SYMBOL_PUNCTUATION or ch in _SUBSUP):
            kind = "character" if ch.isprintable() else "control character"
            return f"the {kind} {visible(ch)} (U+{ord(ch):04X})"
        i += 1
    if depth:
        return "a '{' without its '}'"
    if text.rstrip().endswith(("^", "_")):
        return "a '^' or '_' with nothing after it"
    return None


def _is_markup(letter: str) -> bool:
    return any(c in letter for c in "\\^_{}")


def _greek_to_latex(letter: str) -> str:
    return "".join(GREEK_LATEX.get(ch, ch) + (" " if ch in GREEK_LATEX else "") for ch in letter)


def _letter_latex(letter: str) -> str:
    """A letter (Unicode or user-given) as safe LaTeX math: Greek → macro, words → \\mathrm.
    Commands and braces are kept only in a symbol `symbol_problem` accepts."""
    if letter in GREEK_LATEX:
        return GREEK_LATEX[letter]
    if letter.startswith("\\") and letter[1:] in _LATEX_GREEK:
        return letter
    if re.fullmatch(r"[A-Za-z]", letter):
        return letter
    if re.fullmatch(r"[A-Za-z]+", letter):
        return r"\mathrm{" + letter + "}"
    if symbol_problem(letter) is None:
        out = _greek_to_latex(_accents_to_latex(letter))
        for prime, ticks in _PRIMES.items():
            out = out.replace(prime, ticks)
        if _is_markup(out) and out.isascii():
            return "{" + out.strip() + "}"
        if re.fullmatch(r"[A-Za-z0-9 \\']+", out):
            return r"\mathrm{" + out.strip() + "}" if not out.startswith("\\") else out.strip()
    return r"\text{" + latex_text(letter) + "}"


_COMBINING_LATEX = {"\u0302": "hat", "\u0303": "tilde", "\u0304": "bar", "\u0305": "overline",
                   "\u20d7": "vec", "\u0307": "dot", "\u0308": "ddot", "\u030c": "check", "\u0306": "breve",
                   "\u0301": "acute", "\u0300": "grave", "\u0332": "underline"}


def _accents_to_latex(letter: str) -> str:
    """ŷ → \\hat{y}: a Latin letter with a combining accent (precomposed or not) as the
    TeX accent pdflatex can set; anything else is left as it is."""
    decomposed = unicodedata.normalize("NFD", letter)
    if not any(ch in _COMBINING_LATEX for ch in decomposed):
        return letter
    out: list[str] = []
    for ch in decomposed:
        if ch in _COMBINING_LATEX and out and out[-1].isascii() and out[-1].isalpha():
            out[-1] = "\\" + _COMBINING_LATEX[ch] + "{" + out[-1] + "}"
        else:
            out.append(ch)
    return "".join(out)


def _letter_unicode(letter: str) -> str:
    if letter.startswith("\\") and letter[1:] in _LATEX_GREEK:
        return _LATEX_GREEK[letter[1:]]
    if _is_markup(letter) and symbol_problem(letter) is None:
        return _markup_unicode(letter)
    return letter


def _markup_unicode(letter: str) -> str:
    """A whitelisted TeX symbol for the terminal: \\hat{y} → ŷ, \\mathbf{W} → W, \\alpha → α.
    An accent goes on the next letter (or the first of the next {group})."""
    out: list[str] = []
    pending: list[str] = []
    i = 0
    while i < len(letter):
        m = _COMMAND.match(letter, i)
        if m:
            name = m.group(1)
            i = m.end()
            if name in ACCENT_COMMANDS:
                pending.append(ACCENT_COMMANDS[name])
                continue
            text = _LATEX_GREEK.get(name) or OTHER_COMMANDS.get(name) or ""
        else:
            text = letter[i]
            i += 1
            if text in "{}":
                continue
        for ch in text:
            out.append(ch)
            if pending and ch.strip():
                out.extend(pending)
                pending = []
    return unicodedata.normalize("NFC", "".join(out))  # ŷ as one character where Unicode has it


def _sub_unicode(sub: str) -> str:
    if not sub:
        return ""
    if all(c.isdigit() for c in sub):
        return sub.translate(SUB)
    if all(c.isdigit() or c in _SUB_LETTERS for c in sub):
        return "".join(_SUB_LETTERS.get(c, c.translate(SUB)) for c in sub)
    if all(c.isdigit() or c == "," for c in sub):
        return sub.translate(SUB)
    return "_" + sub


@frozen
class Notation:
    preset: str = "standard"
    letters: dict = field(default_factory=lambda: dict(_LETTERS["standard"]))
    # neuron number → (layer 1-based, position 1-based, is_output); filled per network
    neurons: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)  # W number → (layer, j, i)
    biases: dict = field(default_factory=dict)  # b number → (layer, j); j = 0: shared
    outputs: int = 0
    # layers (1-based) whose activation is not a sigmoid: σ is sigmoid to a student, so
    # the standard preset writes their activations with a plain `a` instead
    plain_layers: frozenset = frozenset()

    @classmethod
    def build(cls, preset: Optional[str] = None, overrides: Optional[dict] = None, spec: Any = None) -> "Notation":
        """A preset with per-letter overrides, fitted to a network when `spec` is given.

        Unknown presets and override keys are bad input (a message, not a KeyError)."""
        name = LEGACY_PRESETS.get(preset or "standard", preset or "standard")
        if name not in _LETTERS:
            raise BackpropError(f"unknown notation {quoted(name)}: choose one of {', '.join(PRESETS)}")
        letters = dict(_LETTERS[name])
        for key, value in (overrides or {}).items():
            if key == "preset":
                continue
            if key not in OVERRIDE_KEYS:
                raise BackpropError(
                    f"notation.{clip(key)}: unknown notation key (known: preset, "
                    + ", ".join(k for k in OVERRIDE_KEYS if len(k) > 1) + ")"
                )
            text = str(value).strip()
            problem = symbol_problem(text)
            if problem is not None:
                raise BackpropError(f"notation.{key}: expected a symbol (letters, digits, primes, "
                                    f"sub/superscripts, commands such as \\hat), found {quoted(text)}: {problem}")
            for slot in OVERRIDE_KEYS[key]:
                letters[slot] = text
        notation = cls(preset=name, letters=letters)
        return notation.for_network(spec) if spec is not None else notation

    @classmethod
    def of_spec(cls, spec: Any, preset: Optional[str] = None) -> "Notation":
        """The notation a render uses: `--notation` (preset) over the spec's `notation:`."""
        chosen, overrides = preset, None
        declared = getattr(spec, "notation", None)
        if isinstance(declared, str):
            chosen = chosen or declared
        elif isinstance(declared, dict):
            overrides = dict(declared)
            chosen = chosen or overrides.get("preset")
        return cls.build(chosen, overrides, spec)

    def for_network(self, spec: Any) -> "Notation":
        neurons, weights, biases = {}, {}, {}
        n = w = b = 0
        last = len(spec.layers) - 1
        plain = frozenset(l + 1 for l, layer in enumerate(spec.layers)
                          if getattr(getattr(layer, "activation", None), "name", "sigmoid") != "sigmoid")
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
        return replace(self, neurons=neurons, weights=weights, biases=biases, outputs=spec.layers[-1].units,
                       plain_layers=plain)

    def activation_letter(self, layer: Optional[int], is_out: bool = False) -> str:
        """The letter of a layer's activations: the preset's (σ in `standard`), but a
        plain `a` for a non-sigmoid layer where the preset's letter is σ."""
        letter = self.letters["a_out"] if is_out else self.letters["a"]
        if letter == "σ" and layer in self.plain_layers:
            return "a"
        return letter

    @property
    def generic_activation_letter(self) -> str:
        """The letter of aⱼ in rules that hold for every layer (∂L/∂aⱼ = Σₖ …)."""
        return "a" if self.letters["a"] == "σ" and self.plain_layers else self.letters["a"]

    # -- which layer a name belongs to (renderers group the derivation by it) ------------

    def layer_of(self, canonical: str) -> Optional[int]:
        """The layer (1-based) of the quantity a name is *about*: ∂z₃/∂σ₁ is about σ₁."""
        base = _NAME.match(canonical).group("base")
        for pattern in (_PARAM_NEW, _STATE):
            m = pattern.match(base)
            if m:
                base = m.group("kind") + m.group("i")
        m = _DERIVATIVE.match(base)
        if m:
            base = m.group("bottom")
        m = _QUANTITY.match(base)
        if not m:
            return None
        kind, i = m.group("kind"), int(m.group("i"))
        if kind in ("z", "a", "delta"):
            return self.neurons.get(i, (None,))[0]
        if kind == "W":
            return self.weights.get(i, (None,))[0]
        if kind == "b":
            return self.biases.get(i, (None,))[0]
        return 0

    # -- canonical name → Sym -------------------------------------------------------------

    def _neuron(self, kind: str, i: int, sample: Optional[int]) -> Sym:
        layer, pos, is_out = self.neurons.get(i, (None, i, False))
        style = "bracket" if self.preset == "indexed" else "paren"
        if kind == "delta":
            letter = self.letters["delta"]
        elif kind == "z":
            letter = self.letters["z"]
        else:
            letter = self.activation_letter(layer, is_out)
        if self.preset == "indexed" and layer is not None:
            return Sym(letter, str(pos), layer=layer, sample=sample, sample_style=style)
        if self.preset == "mazur" and self.neurons:
            return Sym(letter, f"o{pos}" if is_out else f"h{i}", sample=sample)
        if self.preset == "hidden_output" and kind == "a" and is_out:
            return Sym(letter, str(pos), sample=sample)
        return Sym(letter, str(i), sample=sample, sample_style=style)

    def _quantity(self, kind: str, i: int, sample: Optional[int] = None, time: str = "") -> Sym:
        style = "bracket" if self.preset == "indexed" else "paren"
        if kind in ("z", "a", "delta"):
            return self._neuron(kind, i, sample)
        if kind == "x":
            return Sym(self.letters["x"], str(i), sample=sample, sample_style=style)
        if kind == "t":
            if self.preset == "mazur":
                return Sym(self.letters["t"], f"o{i}", sample=sample)
            sub = "" if self.outputs == 1 else str(i)
            return Sym(self.letters["t"], sub, sample=sample, sample_style=style)
        if kind == "W":
            if self.preset == "indexed" and i in self.weights:
                layer, j, k = self.weights[i]
                sub = f"{j}{k}" if j < 10 and k < 10 else f"{j},{k}"
                return Sym(self.letters["W"], sub, layer=layer, time=time)
            return Sym(self.letters["W"], str(i), time=time)
        if self.preset == "indexed" and i in self.biases:
            layer, j = self.biases[i]
            return Sym(self.letters["b"], str(j) if j else "", layer=layer, time=time)
        return Sym(self.letters["b"], str(i), time=time)

    def _param_time(self, step: int, new: bool) -> str:
        if new:
            return "+" if self.preset == "mazur" else f"({step + 1})"
        return f"({step})" if step > 1 else ""

    def param_at(self, canonical: str, step: int, new: bool = False) -> Sym:
        """A parameter with its time index forced: W₅(1) before step 1, W₅(2) after it."""
        m = _QUANTITY.match(canonical)
        time = self._param_time(step, new)
        if not new and not time:
            time = "" if self.preset == "mazur" else f"({step})"
        return self._quantity(m.group("kind"), int(m.group("i")), time=time)

    # -- rendering --------------------------------------------------------------------------

    def unicode(self, canonical: str) -> str:
        return self._spell(canonical, "unicode")

    def latex(self, canonical: str) -> str:
        return self._spell(canonical, "latex")

    def unicode_sym(self, sym: Sym) -> str:
        text = _letter_unicode(sym.letter)
        if sym.layer is not None:
            text += "⁽" + str(sym.layer).translate(SUP) + "⁾"
        text += _sub_unicode(sym.sub)
        if sym.sample is not None:
            text += f"[{sym.sample}]" if sym.sample_style == "bracket" else "⁽" + str(sym.sample).translate(SUP) + "⁾"
        if sym.time == "+":
            text += "⁺"
        elif sym.time:
            text += sym.time
        return text

    def latex_sym(self, sym: Sym) -> str:
        text = _letter_latex(sym.letter)
        sup = ""
        if sym.layer is not None:
            sup += f"({sym.layer})"
        if sym.sample is not None:
            sup += f"[{sym.sample}]" if sym.sample_style == "bracket" else f"({sym.sample})"
        if sym.time == "+":
            sup += "+"
        if sup:
            text += "^{" + sup + "}"
        if sym.sub:
            text += "_{" + sym.sub + "}"
        if sym.time and sym.time != "+":
            text += sym.time
        return text

    def spell(self, sym: Sym, style: str) -> str:
        return self.unicode_sym(sym) if style == "unicode" else self.latex_sym(sym)

    def loss_symbol(self, style: str) -> str:
        L = self.letters["L"]
        if style == "unicode":
            return _letter_unicode(L)
        return r"\mathcal{L}" if L == "L" else _letter_latex(L)

    def _spell(self, canonical: str, style: str) -> str:
        m = _NAME.match(canonical)
        base = m.group("base")
        sample = int(m.group("sample")) if m.group("sample") else None
        step = int(m.group("step")) if m.group("step") else 1
        if base == "loss":
            return self.loss_symbol(style)
        if base == "loss_after":
            return self.loss_symbol(style) + ("′" if style == "unicode" else r"_{\mathrm{after}}")
        if base in _HYPER:
            return _HYPER[base] if style == "unicode" else _HYPER_LATEX[base]
        mm = _PARAM_NEW.match(base)
        if mm:
            return self.spell(self._quantity(mm.group("kind"), int(mm.group("i")), time=self._param_time(step, True)), style)
        mm = _STATE.match(base)
        if mm:
            param = self.spell(self._quantity(mm.group("kind"), int(mm.group("i"))), style)
            state = {"buf": "buf", "m": "m", "v": "v", "sq": "s", "gavg": "ḡ", "sum": "G"}[mm.group("state")]
            if style == "unicode":
                return f"{state}[{param}]({step})"
            letter = {"buf": r"\mathrm{buf}", "ḡ": r"\bar{g}"}.get(state, state)
            return letter + "_{" + param + "}(" + str(step) + ")"
        mm = _DERIVATIVE.match(base)
        if mm:
            top = self.loss_symbol(style) if mm.group("top") == "L" else self._part(mm.group("top"), sample, step, style)
            bottom = self._part(mm.group("bottom"), sample, step, style)
            if style == "unicode":
                return f"∂{top}/∂{bottom}"
            return r"\frac{\partial " + top + r"}{\partial " + bottom + "}"
        mm = _QUANTITY.match(base)
        if mm:
            return self._part(base, sample, step, style)
        return _escape_unknown(canonical, style)

    def _part(self, base: str, sample: Optional[int], step: int, style: str) -> str:
        m = _QUANTITY.match(base)
        kind, i = m.group("kind"), int(m.group("i"))
        if kind in ("W", "b"):
            return self.spell(self._quantity(kind, i, time=self._param_time(step, False)), style)
        return self.spell(self._quantity(kind, i, sample if kind in _PER_SAMPLE else None), style)


def _escape_unknown(name: str, style: str) -> str:
    """A name no rule knows (graph node names pass through here): shown as written."""
    if style == "unicode":
        return name
    return latex_math_name(name)
