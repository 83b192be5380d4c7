"""The words of the Observations section (lessons/observations.py computes them).

One sentence per observation, in English or Korean, the same in every format: the
prose is escaped for its format and its `{fields}` are filled with math built from the
observation's own names and numbers (symbols of the renderer's notation). Nothing here
decides whether a remark holds — only how it reads.
"""
from __future__ import annotations

from typing import Callable, Optional

from ..lessons import Observation, observe
from .common import Look
from .formula import format_number

HEADING = {"en": "Observations", "ko": "관찰"}
HEADING_STEP = {"en": "Observations (step {s})", "ko": "관찰 ({s}단계)"}

SENTENCES = {
    "en": {
        "error_scale_cancel": "The backward pass starts from the output error {err}. With {pair} the "
                              "activation's slope cancels against the loss's derivative, so {delta}: "
                              "every gradient below is built from this error.",
        "error_scale": "The backward pass starts from the output error {err}, scaled by the "
                       "activation's slope: {delta}. Every gradient below is built from it, so it is "
                       "proportional to both.",
        "input_scale": "A weight's gradient is its input times its neuron's δ, so the update is "
                       "proportional to the input: {eqs}.",
        "zero_input": "{x}, so the weights it feeds ({ws}) get the gradient {x0} and stay as they are.",
        "zero_input_moved": "{x}, so the weights it feeds ({ws}) get no gradient from the loss "
                            "(the optimizer still moves them).",
        "layer_ratio": "Layer 1 changed far less than layer {L}: its weights moved by {first} on "
                       "average, layer {L}'s by {last} (ratio {ratio}).",
        "layer_ratio_sigmoid": "On its way back the gradient is multiplied by each sigmoid's slope "
                               "{slope} (here at most {s}) and by the weights, so it shrinks layer by "
                               "layer: the vanishing gradient problem.",
        "dead_relu": "Dead ReLU in layer {l}: {units} had {z} (largest {zmax}), so {relu} and {delta}; "
                     "their {n} incoming weights get no gradient and do not learn from this input.",
        "dead_relu_moved": "Dead ReLU in layer {l}: {units} had {z} (largest {zmax}), so {relu} and "
                           "{delta}; their {n} incoming weights get no gradient from the loss.",
        "saturated": "Saturated in layer {l}: {units} ({act}, {z}) have a slope of at most {s}, so "
                     "their δ is tiny and their weights barely learn (largest gradient {g}).",
        "likewise": "Likewise {delta}.",
        "pair_bce": "sigmoid and binary cross-entropy",
        "pair_ce": "softmax and cross-entropy",
    },
    "ko": {
        "error_scale_cancel": "역전파는 출력 오차 {err}에서 시작합니다. {pair}에서는 활성화 함수의 기울기가 "
                              "손실의 도함수와 약분되어 {delta}입니다: 아래의 모든 기울기가 이 오차로 "
                              "만들어집니다.",
        "error_scale": "역전파는 출력 오차 {err}에서 시작하고, 활성화 함수의 기울기가 곱해집니다: "
                       "{delta}. 아래의 모든 기울기가 이 값으로 만들어지므로 둘 모두에 비례합니다.",
        "input_scale": "가중치의 기울기는 그 입력과 뉴런의 δ의 곱이므로, 갱신량은 입력에 "
                       "비례합니다: {eqs}.",
        "zero_input": "{x}이므로 이 입력에 연결된 가중치({ws})의 기울기는 {x0}이고 값이 그대로 "
                      "유지됩니다.",
        "zero_input_moved": "{x}이므로 이 입력에 연결된 가중치({ws})는 손실로부터 기울기를 받지 "
                            "않습니다(옵티마이저는 여전히 값을 바꿉니다).",
        "layer_ratio": "1층은 {L}층보다 훨씬 적게 변했습니다: 가중치가 평균 {first}만큼, {L}층은 "
                       "{last}만큼 움직였습니다(비율 {ratio}).",
        "layer_ratio_sigmoid": "기울기는 거꾸로 전파되면서 시그모이드의 기울기 {slope}(여기서는 최대 "
                               "{s})와 가중치가 곱해져 층마다 작아집니다: 기울기 소실(vanishing "
                               "gradient) 문제입니다.",
        "dead_relu": "{l}층의 죽은 ReLU: {units}는 {z}(최대 {zmax})이므로 {relu}, {delta}입니다. "
                     "들어오는 가중치 {n}개는 기울기를 받지 못해 이 입력으로는 학습하지 않습니다.",
        "dead_relu_moved": "{l}층의 죽은 ReLU: {units}는 {z}(최대 {zmax})이므로 {relu}, {delta}입니다. "
                           "들어오는 가중치 {n}개는 손실로부터 기울기를 받지 못합니다.",
        "saturated": "{l}층의 포화된 뉴런: {units}({act}, {z})는 기울기가 최대 {s}라서 δ가 매우 작고 "
                     "가중치가 거의 학습하지 않습니다(가장 큰 기울기 {g}).",
        "likewise": "마찬가지로 {delta}입니다.",
        "pair_bce": "시그모이드와 이진 교차 엔트로피",
        "pair_ce": "소프트맥스와 교차 엔트로피",
    },
}

# the few operators the sentences' math needs, per style
_OPS = {
    "unicode": {"times": " × ", "minus": " − ", "delta": "δ", "le": " ≤ ", "ge": " ≥ ", "ellipsis": "…",
                "relu_prime": "ReLU′(z) = 0", "z_le": "z ≤ 0",
                "slope": "σ′(z) = σ(z)(1 − σ(z)) ≤ 0.25", "abs_z": "|z| ≥ "},
    "latex": {"times": r" \times ", "minus": " - ", "delta": r"\delta", "le": r" \le ", "ge": r" \ge ", "ellipsis": r"\dots",
              "relu_prime": r"\operatorname{ReLU}'(z) = 0", "z_le": r"z \le 0",
              "slope": r"\sigma'(z) = \sigma(z)\,(1 - \sigma(z)) \le 0.25", "abs_z": r"|z| \ge "},
}


class Wording:
    """How one renderer writes: its Look (symbols, numbers), how it escapes prose and
    how it wraps math (`$…$` in LaTeX and Markdown, nothing on a terminal)."""

    def __init__(self, spec, look: Look, lang: str, text: Callable[[str], str],
                 math: Callable[[str], str]) -> None:
        self.spec = spec
        self.look = look
        self.lang = lang
        self.text = text
        self.math = math
        self.op = _OPS["unicode" if look.style == "unicode" else "latex"]

    def sym(self, name: str) -> str:
        return self.look.symbol(name)

    def num(self, value: float, name: str = "") -> str:
        return self.look.number(value, name)

    def factor(self, value: float, name: str = "", decimals: Optional[int] = None) -> str:
        """A number as a factor of a product: a negative one in parentheses; given data
        as written, whole constants as integers, others with `decimals` decimals."""
        if name in self.look.given or float(value).is_integer():
            text = self.num(value, name) if name in self.look.given else self.num(value).split(".")[0]
            text = str(int(value)).replace("-", "−" if self.look.style == "unicode" else "-") \
                if name not in self.look.given else text
        else:
            text = format_number(value, self.look.digits if decimals is None else decimals, self.look.style)
        return "(" + text + ")" if text.startswith(("-", "−")) else text

    def product(self, factors: list[tuple[float, str]], result: float) -> tuple[list[str], str]:
        """The factors printed with as many decimals as it takes (the chosen digits, up
        to 10) for their printed product to round to the printed result, so the line
        can be re-done by hand; given data and whole constants print as they are."""
        digits = self.look.digits
        target = format_number(result, digits, "unicode")
        chosen = digits
        for d in range(digits, 11):
            shown = 1.0
            for value, name in factors:
                exact = name in self.look.given or float(value).is_integer()
                shown *= value if exact else round(value, d)
            if format_number(shown, digits, "unicode") == target:
                chosen = d
                break
        return [self.factor(v, name, chosen) for v, name in factors], self.num(result)

    def sentence(self, key: str, **fields: str) -> str:
        out = self.text(SENTENCES[self.lang][key])
        for field, value in fields.items():
            for placeholder in ("\\{" + field + "\\}", "{" + field + "}"):
                out = out.replace(placeholder, value)
        return out

    def names(self, obs: Observation, names, extra: int = 0) -> str:
        """Symbols of the names, and "…, (N)" when the list was cut."""
        listed = ", ".join(self.math(self.sym(n)) for n in names)
        if obs.total > len(names) + extra:
            listed += ", " + self.math(self.op["ellipsis"]) + f" ({obs.total - extra})"
        return listed

    # -- one method per kind ---------------------------------------------------------------------

    def error_scale(self, obs: Observation, again: bool = False) -> str:
        """δ = (ŷ − t) × slope; `again` for the second output on: only the equation."""
        a, t, delta = obs.names
        m, op, n = self.math, self.op, obs.number
        error = "(" + self.sym(a) + op["minus"] + self.sym(t) + ")"
        err = m(self.sym(a) + op["minus"] + self.sym(t) + " = " + self.num(n("error")))
        ratio = n("ratio")
        if n("cancels"):
            if abs(ratio - 1) < 1e-12:
                rhs = error[1:-1] + " = " + self.num(n("delta"))
            else:
                rhs = self.num(ratio) + op["times"] + error + " = " + self.num(n("delta"))
            pair = "pair_bce" if self.spec.layers[-1].activation.name == "sigmoid" else "pair_ce"
            if again:
                return self.sentence("likewise", delta=m(self.sym(delta) + " = " + rhs))
            return self.sentence("error_scale_cancel", err=err, pair=self.text(SENTENCES[self.lang][pair]),
                                 delta=m(self.sym(delta) + " = " + rhs))
        neuron = a[1:]
        slope_name = f"da{neuron}/dz{neuron}"
        c = n("constant")
        parts = [self.sym(slope_name), error]
        factors = [(n("da_dz"), ""), (n("error"), "")]
        if c is not None and abs(c - 1) > 1e-12:
            parts.insert(0, self.factor(c))
            factors.insert(0, (c, ""))
        values, result = self.product(factors, n("delta"))
        rhs = op["times"].join(parts) + " = " + op["times"].join(values) + " = " + result
        if again:
            return self.sentence("likewise", delta=m(self.sym(delta) + " = " + rhs))
        return self.sentence("error_scale", err=err, delta=m(self.sym(delta) + " = " + rhs))

    def input_scale(self, obs: Observation) -> str:
        delta, *weights = obs.names
        op, n = self.op, obs.number
        eqs = []
        for i, w in enumerate(weights, 1):
            x = f"x{i}"
            values, result = self.product([(n(x), x), (n("delta"), "")], n(f"g{i}"))
            eqs.append(self.math(self.sym(f"dL/d{w}") + " = " + self.sym(x) + op["times"] + self.sym(delta) + " = "
                                 + op["times"].join(values) + " = " + result))
        return self.sentence("input_scale", eqs=", ".join(eqs))

    def zero_input(self, obs: Observation) -> str:
        x, *weights = obs.names
        key = "zero_input" if obs.number("unchanged") else "zero_input_moved"
        return self.sentence(key, x=self.math(self.sym(x) + " = 0"), ws=self.names(obs, weights, extra=1),
                             x0=self.math(self.sym(x) + self.op["times"] + self.op["delta"] + " = 0"))

    def layer_ratio(self, obs: Observation) -> str:
        n, m = obs.number, self.math
        out = self.sentence("layer_ratio", L=str(obs.layer), first=m(self.num(n("first"))),
                            last=m(self.num(n("last"))), ratio=m(self.num(n("ratio"))))
        if n("max_da_dz") is not None:
            out += " " + self.sentence("layer_ratio_sigmoid", slope=m(self.op["slope"]), s=m(self.num(n("max_da_dz"))))
        return out

    def dead_relu(self, obs: Observation) -> str:
        n, m, op = obs.number, self.math, self.op
        key = "dead_relu" if n("no_gradient") else "dead_relu_moved"
        delta = self.op["delta"] + " = 0"
        return self.sentence(key, l=str(obs.layer), units=self.names(obs, obs.names), z=m(op["z_le"]),
                             zmax=m(self.num(n("max_z"))), relu=m(op["relu_prime"]), delta=m(delta),
                             n=str(int(n("weights"))))

    def saturated(self, obs: Observation) -> str:
        n, m = obs.number, self.math
        act = self.spec.layers[obs.layer - 1].activation.name
        return self.sentence("saturated", l=str(obs.layer), units=self.names(obs, obs.names), act=self.text(act),
                             z=m(self.op["abs_z"] + self.num(n("min_abs_z"))), s=m(self.num(n("max_da_dz"))),
                             g=m(self.num(n("max_grad"))))


def observation_lines(trace, look: Look, lang: str, text: Callable[[str], str],
                      math: Callable[[str], str]) -> tuple[str, list[str]]:
    """(heading, sentences) of a network trace's Observations; no sentences when the
    trace shows none of them (a graph, or a network where nothing applies)."""
    observations = observe(trace)
    if not observations:
        return "", []
    wording = Wording(trace.spec, look, lang, text, math)
    multi = len(trace.losses) > 2
    heading = HEADING_STEP[lang].format(s=observations[0].step) if multi else HEADING[lang]
    sentences = []
    for i, o in enumerate(observations):
        if o.kind == "error_scale" and i and observations[i - 1].kind == "error_scale":
            sentences.append(wording.error_scale(o, again=True))
        else:
            sentences.append(getattr(wording, o.kind)(o))
    return heading, sentences

