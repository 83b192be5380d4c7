"""Each layer's backward pass as a student writes it, with the numbers of this step.

    conv      ∂L/∂W = the upstream gradient correlated with the input; one element worked
              out term by term (δ·x products), the rest as a matrix
    max-pool  which position of each window won, and the gradient routed to it
    batch norm the three-term gradient with Σdx̂ and Σdx̂·x̂ per channel, one element worked
    rnn/lstm  backprop through time: ∂L/∂W_hh = Σ_t (contribution of step t), each shown

A `Note` is a title key (translated by the renderers) and lines of plain math text —
computed values only, read from the caches the layer rules filled; nothing here is
recomputed from scratch except the one worked element's products, which are printed
beside the value they sum to. Numbers print through `q.fmt` (hand.py): 4 decimals in
float64, the D decimals of `--round D` under hand rounding — where every number is the
rounded one the next computation used, so re-doing a printed line gives its result.
"""
from __future__ import annotations

import numpy as np

from ..frozen import frozen
from .hand import Float
from .typed_names import element_name, prefix

MAX_LINES = 24  # a note longer than this shows its first lines and says how many more
WORKED_TERMS = 25  # the conv's worked element shows every product up to a 5×5 output (so it can be re-done)


@frozen
class Note:
    title: str  # conv | pool_max | pool_avg | batchnorm | layernorm | dropout | bptt | dense | flatten
    lines: tuple[str, ...]
    lines_ko: tuple[str, ...] = ()  # the same lines in Korean (--lang ko): numbers and math unchanged

    def in_language(self, lang: str) -> tuple[str, ...]:
        return self.lines_ko if lang == "ko" and self.lines_ko else self.lines


# The prose of the notes, per language; the math and the numbers are the same in both.
WORDS = {
    "en": {
        "worked": "worked element", "terms": "… ({n} terms)", "more": "… {n} more lines (all values: --format json)",
        "correlated": "(δ correlated with the{padded} input)", "padded": " zero-padded", "correlation": "(correlation)",
        "upstream": "upstream ⊙ activation′",
        "max_rule": "each output takes the largest value of its {kh}×{kw} window; the gradient flows only to that "
                    "position (the others get 0)",
        "window": "window at row {r}, col {c}",
        "avg_rule": "each output is the mean of its {kh}×{kw} window: every position of the window gets ∂L/∂out ÷ {k}",
        "per_channel": "over M = {M} values per channel (batch statistics)", "per_sample": "over M = {M} values per sample",
        "three": "(three terms)", "channel1": "channel 1", "sample1": "sample 1",
        "dropped": "(dropped positions get 0)",
        "bptt": "backprop through time: ∂L/∂W_hh = Σ_t δ_tᵀ h_(t−1) over t = {T}…1, each step's share:",
        "gate_order": "(PyTorch gate order)", "of_sample1": " (sample 1)",
        "contribution": "contribution of t = {t} to",
        "rows": "(rows: neurons)", "activation": "activation′",
        "relu": "1 where x > 0, else 0", "leaky": "1 where x > 0, else {slope}",
        "reshape": "reshape {a} → {b}; ∂L/∂x is ∂L/∂out reshaped back",
    },
    "ko": {
        "worked": "계산 예", "terms": "… (항 {n}개)", "more": "… {n}줄 더 (모든 값: --format json)",
        "correlated": "(δ와 {padded}입력의 상관(correlation))", "padded": "0으로 채운 ", "correlation": "(상관)",
        "upstream": "상류 기울기 ⊙ 활성화′",
        "max_rule": "각 출력은 {kh}×{kw} 창의 최댓값이고, 기울기는 그 위치로만 흐릅니다 (나머지는 0)",
        "window": "{r}행 {c}열의 창",
        "avg_rule": "각 출력은 {kh}×{kw} 창의 평균: 창의 모든 위치가 ∂L/∂out ÷ {k}를 받습니다",
        "per_channel": "채널마다 M = {M}개 값에 대해 (배치 통계)", "per_sample": "샘플마다 M = {M}개 값에 대해",
        "three": "(세 항)", "channel1": "채널 1", "sample1": "샘플 1",
        "dropped": "(버린 위치는 0)",
        "bptt": "시간 역전파(BPTT): ∂L/∂W_hh = Σ_t δ_tᵀ h_(t−1), t = {T}…1, 단계마다의 기여:",
        "gate_order": "(PyTorch 게이트 순서)", "of_sample1": " (샘플 1)",
        "contribution": "t = {t}의 기여:",
        "rows": "(행: 뉴런)", "activation": "활성화′",
        "relu": "x > 0이면 1, 아니면 0", "leaky": "x > 0이면 1, 아니면 {slope}",
        "reshape": "모양 바꾸기 {a} → {b}; ∂L/∂x는 ∂L/∂out을 원래 모양으로 되돌린 것",
    },
}


_FLOAT = Float()


def fmt(v: float) -> str:
    return _FLOAT.fmt(v)


def _idx(index) -> str:
    return "[" + ",".join(str(i + 1) for i in index) + "]"


def _matrix(name: str, arr, fmt=fmt) -> list[str]:
    arr = np.asarray(arr)
    if arr.ndim == 1:
        return [f"{name} = [" + ", ".join(fmt(v) for v in arr) + "]"]
    if arr.ndim == 2:
        return [f"{name} ="] + ["  [" + ", ".join(fmt(v) for v in row) + "]" for row in arr]
    out = []
    for lead in np.ndindex(arr.shape[:-2]):
        out += _matrix(f"{name}{_idx(lead)[:-1]},:,:]", arr[lead], fmt)
    return out


def _input_name(P: str) -> str:
    """The canonical name of layer P's input: the previous layer's output, or x."""
    l = int(P[1:])
    return f"{prefix(l - 1)}.out" if l > 1 else "x"


def _factor(fmt, v) -> str:
    """A number as an operand: a negative one in parentheses (0.5·(−1.0000), − (−0.43))."""
    text = fmt(v)
    return f"({text})" if text.startswith(("−", "-")) else text


def _trim(lines: list[str], w: dict) -> tuple[str, ...]:
    if len(lines) <= MAX_LINES:
        return tuple(lines)
    return tuple(lines[:MAX_LINES]) + (w["more"].format(n=len(lines) - MAX_LINES),)


def notes(layer, l: int, params, cache, upstream, grads, batched: bool, q=_FLOAT) -> list[Note]:
    """The layer's note in English, with its Korean lines beside (the renderer picks)."""
    P = prefix(l)
    rule = _RULES.get(layer.type)
    if rule is None:
        return []
    en = rule(layer, P, params, cache, upstream, grads, batched, q, WORDS["en"])
    ko = rule(layer, P, params, cache, upstream, grads, batched, q, WORDS["ko"])
    return [Note(en.title, en.lines, ko.lines)]


def _conv(layer, P, params, cache, upstream, grads, batched, q, w):
    W = params["weights"]
    if layer.type == "conv1d":
        xp, kshape = cache["xp"][:, :, 0, :], W.shape[2:]
    else:
        xp, kshape = cache["xp"], W.shape[2:]
    fmt = q.fmt
    dz = cache["dz"]  # δ as the backward rule computed it (rounded under --round)
    stride = layer.stride[-len(kshape):]
    lines = [f"δ = ∂L/∂{P}.z ({w['upstream']}); ∂L/∂{P}.weights[o,c,u,v] = Σ_n,i,j δ[n,o,i,j] · "
             f"x[n,c,i·{stride[0]}+u,j·{stride[-1]}+v]  "
             + w["correlated"].format(padded=w["padded"] if any(layer.padding) else "")
             if layer.type == "conv2d" else
             f"δ = ∂L/∂{P}.z; ∂L/∂{P}.weights[o,c,u] = Σ_n,i δ[n,o,i] · x[n,c,i·{stride[-1]}+u]  {w['correlation']}"]
    o, c = 0, 0
    k0 = (0,) * len(kshape)
    terms, total = [], 0
    for n in range(dz.shape[0]):
        for pos in np.ndindex(dz.shape[2:]):
            src = tuple(p * s + k for p, s, k in zip(pos, stride, k0))
            d, xv = dz[(n, o) + pos], xp[(n, c) + src]
            terms.append(f"{_factor(fmt, d)}·{_factor(fmt, xv)}")
            total += d * xv
    total = q(total)  # the exact sum of the printed products, then rounded (= the matrix's element)
    name = element_name(f"∂L/∂{P}.weights", (o, c) + k0)
    shown = " + ".join(terms[:WORKED_TERMS]) + (" + " + w["terms"].format(n=len(terms))
                                                 if len(terms) > WORKED_TERMS else "")
    lines.append(f"{w['worked']}: {name} = {shown} = {fmt(total)}")
    lines += _matrix(f"∂L/∂{P}.weights", grads["weights"], fmt)
    if "bias" in grads:
        lines.append(f"∂L/∂{P}.bias[o] = Σ_n,i,j δ[n,o,i,j] = [" + ", ".join(fmt(v) for v in grads["bias"]) + "]")
    return Note("conv", _trim(lines, w))


def _maxpool(layer, P, params, cache, upstream, grads, batched, q, w):
    fmt = q.fmt
    x, winner = cache["x"], cache["winner"]
    (kh, kw), (sh, sw) = layer.kernel, layer.stride
    lines = [w["max_rule"].format(kh=kh, kw=kw)]
    source = _input_name(P)  # the canonical name of the pool's input: a key can hold ∂L/∂L1.out[…]
    for index in np.ndindex(upstream.shape):
        n, c, i, j = index
        u, v = divmod(int(winner[index]), kw)
        src = (n, c, i * sh + u, j * sw + v)
        where = src if batched else src[1:]
        at = index if batched else index[1:]
        lines.append(f"{P}.out{_idx(at)} = max({w['window'].format(r=i * sh + 1, c=j * sw + 1)}) = {source}{_idx(where)} = "
                     f"{fmt(x[src])}  →  ∂L/∂{source}{_idx(where)} += {fmt(upstream[index])}")
    return Note("pool_max", _trim(lines, w))


def _avgpool(layer, P, params, cache, upstream, grads, batched, q, w):
    (kh, kw) = layer.kernel
    return Note("pool_avg", (w["avg_rule"].format(kh=kh, kw=kw, k=kh * kw),))


def _norm(layer, P, params, cache, upstream, grads, batched, q, w):
    fmt = q.fmt
    axes, xhat, std = cache["axes"], cache["xhat"], cache["std"]
    M = int(np.prod([cache["x"].shape[a] for a in axes]))
    lines = [f"x̂ = (x − μ) / √(σ² + ε), ε = {layer.eps:g}; y = γ·x̂ + β; "
             + w["per_channel" if layer.type == "batchnorm" else "per_sample"].format(M=M),
             f"∂L/∂x = (M·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂)) / (M·√(σ² + ε)),  dx̂ = ∂L/∂y · γ   {w['three']}"]
    dxhat, s1, s2 = cache["dxhat"], cache["sum_dxhat"], cache["sum_dxhat_xhat"]  # as the backward rule wrote them
    first = (0,) * upstream.ndim
    group = tuple(0 for _ in s1.shape)
    dx = q((M * dxhat[first] - s1[group] - xhat[first] * s2[group]) / (M * std[group]))
    lines.append(f"{w['channel1'] if layer.type == 'batchnorm' else w['sample1']}: μ = {fmt(cache['mean'][group])}, "
                 f"σ² = {fmt(cache['var'][group])}, Σdx̂ = {fmt(s1[group])}, Σ(dx̂·x̂) = {fmt(s2[group])}")
    at = first if batched else first[1:]
    lines.append(f"{w['worked']}: ∂L/∂{_input_name(P)}{_idx(at)} = ({M}·{_factor(fmt, dxhat[first])} − {_factor(fmt, s1[group])} − "
                 f"{_factor(fmt, xhat[first])}·{_factor(fmt, s2[group])}) / ({M}·{fmt(std[group])}) = {fmt(dx)}")
    lines += _matrix(f"∂L/∂{P}.gamma = Σ ∂L/∂y·x̂", grads["gamma"], fmt)
    lines += _matrix(f"∂L/∂{P}.beta = Σ ∂L/∂y", grads["beta"], fmt)
    return Note(layer.type, _trim(lines, w))


def _dropout(layer, P, params, cache, upstream, grads, batched, q, w):
    keep = 1 - layer.p
    return Note("dropout", (f"y = x ⊙ mask / (1 − p) = x ⊙ mask / {keep:g}; ∂L/∂x = ∂L/∂y ⊙ mask / {keep:g} "
                            + w["dropped"],))


def _recurrent(layer, P, params, cache, upstream, grads, batched, q, w):
    fmt = q.fmt
    contributions = cache["contributions"]
    W = "W_xh" if layer.type == "rnn" else "W_ih"
    T = len(contributions)
    lines = [("h_t = tanh(x_t W_xhᵀ + h_(t−1) W_hhᵀ + b); " if layer.type == "rnn" else
              f"[i f g o] = x_t W_ihᵀ + h_(t−1) W_hhᵀ + b {w['gate_order']}, c_t = f⊙c_(t−1) + i⊙g, "
              "h_t = o⊙tanh(c_t); ")
             + w["bptt"].format(T=T)]
    dH, dZ, hs = cache["dH"], cache["dZ"], cache["hs"]
    delta = ("δ_{t} = ∂L/∂h_{t} ⊙ (1 − h_{t}²)" if layer.type == "rnn" else "δ_{t} = ∂L/∂[i f g o]_{t}")

    def row(arr) -> str:
        return "[" + ", ".join(fmt(v) for v in arr) + "]"

    for t in range(T - 1, -1, -1):
        lines.append(f"t = {t + 1}: ∂L/∂h_{t + 1} = {row(dH[0, t])}" + (w["of_sample1"] if batched else ""))
        # an LSTM's δ in its four gate blocks (i, f, g, o): one row of 4·hidden values is too wide to print
        deltas = row(dZ[t][0]) if layer.type == "rnn" else ", ".join(row(block) for block in np.split(dZ[t][0], 4))
        lines.append(f"  {delta.format(t=t + 1)} = {deltas}, h_{t} = {row(hs[t][0])}")
        lines += _matrix(f"  {w['contribution'].format(t=t + 1)} ∂L/∂{P}.W_hh = δ_{t + 1}ᵀ h_{t}", contributions[t]["W_hh"], fmt)
    lines += _matrix(f"∂L/∂{P}.W_hh = Σ_t", grads["W_hh"], fmt)
    lines += _matrix(f"∂L/∂{P}.{W} = Σ_t δ_tᵀ x_t", grads[W], fmt)
    return Note("bptt", _trim(lines, w))


def _dense(layer, P, params, cache, upstream, grads, batched, q, w):
    lines = [f"δ = ∂L/∂{P}.z = ∂L/∂out ⊙ {w['activation']}; ∂L/∂{P}.weights = δᵀ x {w['rows']}, ∂L/∂x = δ W"]
    lines += _matrix(f"∂L/∂{P}.weights", grads["weights"].T if layer.layout == "in_out" else grads["weights"], q.fmt)
    return Note("dense", _trim(lines, w))


def _activation(layer, P, params, cache, upstream, grads, batched, q, w):
    rule = {"relu": w["relu"], "sigmoid": "σ(x)(1 − σ(x))", "tanh": "1 − tanh²(x)",
            "leaky_relu": w["leaky"].format(slope=f"{layer.activation.slope:g}")}[layer.type]
    return Note("activation", (f"∂L/∂x = ∂L/∂out ⊙ {layer.type}′(x), {layer.type}′ = {rule}",))


def _flatten(layer, P, params, cache, upstream, grads, batched, q, w):
    return Note("flatten", (w["reshape"].format(a=tuple(layer.in_shape), b=tuple(layer.out_shape)),))


_RULES = {"conv2d": _conv, "conv1d": _conv, "maxpool2d": _maxpool, "avgpool2d": _avgpool, "batchnorm": _norm,
          "layernorm": _norm, "dropout": _dropout, "rnn": _recurrent, "lstm": _recurrent, "dense": _dense,
          "flatten": _flatten, "relu": _activation, "sigmoid": _activation, "tanh": _activation,
          "leaky_relu": _activation}
