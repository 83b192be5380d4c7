"""Hand rounding (`--round D`, SPEC §7) on typed layers, against oracles written here.

* An independent Decimal re-implementation of a tanh RNN + dense head, forward, BPTT
  and SGD, every written-down number rounded (or truncated) to D decimals and carried:
  the tool's hand-rounded solve must equal it exactly, name by name, over several steps.
* Ties: 0.3 · 0.75 = 0.225 exactly, which float64 computes as 0.22499999999999998;
  hand rounding to 2 decimals must give 0.23 (dense, conv and batch norm paths).
* The derivation notes re-done in Decimal from their printed numbers: the conv worked
  element, batch norm's three-term line, one BPTT contribution.
* `check`: a key of hand-rounded (and of truncated) values, from the oracle, is
  diagnosed as "hand rounding at 4 decimals" (and "truncated, not rounded").
"""
from __future__ import annotations

import json
import math
import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext

import numpy as np
import pytest

from backprop_cli.load import loads_spec
from backprop_cli.network.typed_solve import solve_layered
from tests.cli_proc import cold

# ------------------------------------------------------------------------------------------
# the oracle: a tanh RNN (output: last) → dense (identity), mse, SGD, in Decimal


def _d(x) -> Decimal:
    return Decimal(repr(float(x)))


def rnn_oracle(x, t, W_xh, W_hh, b, h0, Wd, bd, lr, steps, digits, rounding=ROUND_HALF_UP) -> dict[str, Decimal]:
    """Every canonical name (docs/layers.md) of `steps` SGD steps, by hand: each number
    a student writes down is rounded to `digits` decimals and used rounded afterwards;
    tanh in float64 then rounded; given numbers as written. One sample, N = 1."""
    unit = Decimal(1).scaleb(-digits)

    def r(v: Decimal) -> Decimal:
        out = v.quantize(unit, rounding=rounding)
        return abs(out) if out == 0 else out

    def tanh(v: Decimal) -> Decimal:
        return r(_d(math.tanh(float(v))))

    def at(name: str, s: int) -> str:
        return name if s == 1 else f"{name}@{s}"

    x = [[_d(v) for v in row] for row in x]
    t = _d(t)
    W_xh = [[_d(v) for v in row] for row in W_xh]
    W_hh = [[_d(v) for v in row] for row in W_hh]
    b = [_d(v) for v in b]
    h0 = [_d(v) for v in h0]
    Wd = [_d(v) for v in Wd]
    bd = _d(bd)
    lr = _d(lr)
    T, F, H = len(x), len(x[0]), len(W_hh)
    out: dict[str, Decimal] = {}

    def forward():
        hs = [h0]
        for step in range(T):
            z = [r(sum(x[step][j] * W_xh[i][j] for j in range(F)) + sum(hs[-1][k] * W_hh[i][k] for k in range(H)) + b[i])
                 for i in range(H)]
            hs.append([tanh(v) for v in z])
        y = r(sum(Wd[k] * hs[-1][k] for k in range(H)) + bd)
        return hs, y

    with localcontext() as ctx:
        ctx.prec = 60
        for s in range(1, steps + 1):
            hs, y = forward()
            loss = r((y - t) ** 2)
            out[at("loss", s)] = loss
            out[at("L2.out[1]", s)] = y
            for k in range(H):
                out[at(f"L1.out[{k + 1}]", s)] = hs[-1][k]
            g = r(2 * (y - t))
            dWd = [r(g * hs[-1][k]) for k in range(H)]
            dbd = r(g)
            up = [r(g * Wd[k]) for k in range(H)]
            dW_xh = [[Decimal(0)] * F for _ in range(H)]
            dW_hh = [[Decimal(0)] * H for _ in range(H)]
            db = [Decimal(0)] * H
            dh_next = [Decimal(0)] * H
            for step in range(T - 1, -1, -1):
                dh = [r((up[k] if step == T - 1 else 0) + dh_next[k]) for k in range(H)]
                dz = [r(dh[i] * (1 - hs[step + 1][i] ** 2)) for i in range(H)]
                for i in range(H):
                    for j in range(F):
                        share = r(dz[i] * x[step][j])
                        out[at(f"L1.W_xh_share[{step + 1},{i + 1},{j + 1}]", s)] = share
                        dW_xh[i][j] += share
                    for k in range(H):
                        share = r(dz[i] * hs[step][k])
                        out[at(f"L1.W_hh_share[{step + 1},{i + 1},{k + 1}]", s)] = share
                        dW_hh[i][k] += share
                    db[i] += r(dz[i])
                    out[at(f"dL/dL1.h[{step + 1},{i + 1}]", s)] = dh[i]
                dh_next = [r(sum(dz[i] * W_hh[i][k] for i in range(H))) for k in range(H)]
            for i in range(H):
                for j in range(F):
                    out[at(f"dL/dL1.W_xh[{i + 1},{j + 1}]", s)] = dW_xh[i][j]
                    W_xh[i][j] = r(W_xh[i][j] - lr * dW_xh[i][j])
                    out[at(f"L1.W_xh_new[{i + 1},{j + 1}]", s)] = W_xh[i][j]
                for k in range(H):
                    out[at(f"dL/dL1.W_hh[{i + 1},{k + 1}]", s)] = dW_hh[i][k]
                    W_hh[i][k] = r(W_hh[i][k] - lr * dW_hh[i][k])
                    out[at(f"L1.W_hh_new[{i + 1},{k + 1}]", s)] = W_hh[i][k]
                out[at(f"dL/dL1.b[{i + 1}]", s)] = db[i]
                b[i] = r(b[i] - lr * db[i])
                out[at(f"L1.b_new[{i + 1}]", s)] = b[i]
            for k in range(H):
                out[at(f"dL/dL2.weights[1,{k + 1}]", s)] = dWd[k]
                Wd[k] = r(Wd[k] - lr * dWd[k])
                out[at(f"L2.weights_new[1,{k + 1}]", s)] = Wd[k]
            out[at("dL/dL2.bias[1]", s)] = dbd
            bd = r(bd - lr * dbd)
            out[at("L2.bias_new[1]", s)] = bd
        _, y = forward()
        out["loss_after"] = r((y - t) ** 2)
    return out


RNN_SPEC = """\
name: rnn by hand
input: {x}
target: [{t}]
layers:
  - type: rnn
    W_xh: {W_xh}
    W_hh: {W_hh}
    b: {b}
    h0: {h0}
    output: last
  - weights: [{Wd}]
    bias: [{bd}]
loss: mse
optimizer: {{name: sgd, lr: {lr}}}
steps: {steps}
"""


def _drawer(seed: int):
    """(rng, draw): draw(*shape) gives uniform numbers in ±0.9 with 2 decimals, as a
    worked example writes them, from the same generator as the case's other numbers."""
    rng = np.random.default_rng(seed)
    return rng, lambda *shape: np.round(rng.uniform(-0.9, 0.9, shape), 2).tolist()


def _mismatches(trace, expected: dict) -> dict:
    """name → (the oracle's Decimal, the tool's value) wherever they differ at all."""
    return {name: (str(v), trace.named.get(name)) for name, v in expected.items() if trace.named.get(name) != float(v)}


def rnn_case(seed: int, T: int = 4, H: int = 2, F: int = 1, steps: int = 3, lr: float = 0.5):
    rng, draw = _drawer(seed)
    case = dict(x=draw(T, F), t=round(float(rng.uniform(-0.9, 0.9)), 2), W_xh=draw(H, F), W_hh=draw(H, H), b=draw(H),
                h0=draw(H), Wd=draw(H), bd=round(float(rng.uniform(-0.5, 0.5)), 2), lr=lr, steps=steps)
    return case, RNN_SPEC.format(**case)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("digits", [2, 4])
def test_rnn_by_hand_equals_the_decimal_oracle(seed, digits):
    case, text = rnn_case(seed)
    trace = solve_layered(loads_spec(text, "rnn.yaml"), round_digits=digits)
    expected = rnn_oracle(case["x"], case["t"], case["W_xh"], case["W_hh"], case["b"], case["h0"], case["Wd"],
                          case["bd"], case["lr"], case["steps"], digits)
    assert len(expected) > 60
    assert not _mismatches(trace, expected)
    assert trace.policy == "round" and trace.digits == digits


def test_rnn_truncated_equals_the_decimal_oracle():
    from backprop_cli.calc.arithmetic import TruncatedArithmetic

    case, text = rnn_case(7)
    trace = solve_layered(loads_spec(text, "rnn.yaml"), arith=TruncatedArithmetic(4))
    expected = rnn_oracle(case["x"], case["t"], case["W_xh"], case["W_hh"], case["b"], case["h0"], case["Wd"],
                          case["bd"], case["lr"], case["steps"], 4, ROUND_DOWN)
    assert not _mismatches(trace, expected)


# ------------------------------------------------------------------------------------------
# the oracle: an LSTM (PyTorch gate order, output: last) → dense, mse, SGD, in Decimal


def _rounder(digits: int, rounding):
    unit = Decimal(1).scaleb(-digits)

    def r(v) -> Decimal:
        out = Decimal(v).quantize(unit, rounding=rounding)
        return abs(out) if out == 0 else out

    return r


def _at(name: str, s: int) -> str:
    return name if s == 1 else f"{name}@{s}"


def lstm_oracle(case: dict, digits: int, rounding=ROUND_HALF_UP) -> dict[str, Decimal]:
    """The documented hand rule (docs/layers.md): z, each gate, c, tanh(c), h, ∂L/∂h,
    ∂L/∂c, each gate's δ, each share, the sums and the new parameters rounded; σ and
    tanh in float64 then rounded."""
    r = _rounder(digits, rounding)

    def sig(v):
        return r(_d(1 / (1 + math.exp(-float(v)))))

    def tanh(v):
        return r(_d(math.tanh(float(v))))

    x = [[_d(v) for v in row] for row in case["x"]]
    t = _d(case["t"])
    W_ih = [[_d(v) for v in row] for row in case["W_ih"]]
    W_hh = [[_d(v) for v in row] for row in case["W_hh"]]
    b = [_d(v) for v in case["b"]]
    Wd, bd, lr = [_d(v) for v in case["Wd"]], _d(case["bd"]), _d(case["lr"])
    T, F, H = len(x), len(x[0]), len(W_hh[0])
    out: dict[str, Decimal] = {}

    def forward():
        hs, cs, tcs, gates = [[Decimal(0)] * H], [[Decimal(0)] * H], [], []
        for step in range(T):
            z = [r(sum(x[step][j] * W_ih[a][j] for j in range(F)) + sum(hs[-1][k] * W_hh[a][k] for k in range(H)) + b[a])
                 for a in range(4 * H)]
            i, f = [sig(v) for v in z[:H]], [sig(v) for v in z[H:2 * H]]
            g, o = [tanh(v) for v in z[2 * H:3 * H]], [sig(v) for v in z[3 * H:]]
            c = [r(f[k] * cs[-1][k] + i[k] * g[k]) for k in range(H)]
            tc = [tanh(v) for v in c]
            hs.append([r(o[k] * tc[k]) for k in range(H)])
            cs.append(c)
            tcs.append(tc)
            gates.append((i, f, g, o))
        y = r(sum(Wd[k] * hs[-1][k] for k in range(H)) + bd)
        return hs, cs, tcs, gates, y

    with localcontext() as ctx:
        ctx.prec = 60
        for s in range(1, case["steps"] + 1):
            hs, cs, tcs, gates, y = forward()
            out[_at("loss", s)] = r((y - t) ** 2)
            out[_at("L2.out[1]", s)] = y
            for step in range(T):
                for k in range(H):
                    out[_at(f"L1.h[{step + 1},{k + 1}]", s)] = hs[step + 1][k]
                    out[_at(f"L1.c[{step + 1},{k + 1}]", s)] = cs[step + 1][k]
                    for name, gate in zip("ifgo", gates[step]):
                        out[_at(f"L1.{name}[{step + 1},{k + 1}]", s)] = gate[k]
            g_out = r(2 * (y - t))
            dWd = [r(g_out * hs[-1][k]) for k in range(H)]
            up = [r(g_out * Wd[k]) for k in range(H)]
            dW_ih = [[Decimal(0)] * F for _ in range(4 * H)]
            dW_hh = [[Decimal(0)] * H for _ in range(4 * H)]
            db = [Decimal(0)] * (4 * H)
            dh_next, dc_next = [Decimal(0)] * H, [Decimal(0)] * H
            for step in range(T - 1, -1, -1):
                i, f, g, o = gates[step]
                tc = tcs[step]
                dh = [r((up[k] if step == T - 1 else 0) + dh_next[k]) for k in range(H)]
                dc = [r(dc_next[k] + dh[k] * o[k] * (1 - tc[k] ** 2)) for k in range(H)]
                dz = ([r(dc[k] * g[k] * i[k] * (1 - i[k])) for k in range(H)]
                      + [r(dc[k] * cs[step][k] * f[k] * (1 - f[k])) for k in range(H)]
                      + [r(dc[k] * i[k] * (1 - g[k] ** 2)) for k in range(H)]
                      + [r(dh[k] * tc[k] * o[k] * (1 - o[k])) for k in range(H)])
                for a in range(4 * H):
                    for j in range(F):
                        dW_ih[a][j] += r(dz[a] * x[step][j])
                    for k in range(H):
                        share = r(dz[a] * hs[step][k])
                        out[_at(f"L1.W_hh_share[{step + 1},{a + 1},{k + 1}]", s)] = share
                        dW_hh[a][k] += share
                    db[a] += r(dz[a])
                for k in range(H):
                    out[_at(f"dL/dL1.h[{step + 1},{k + 1}]", s)] = dh[k]
                dh_next = [r(sum(dz[a] * W_hh[a][k] for a in range(4 * H))) for k in range(H)]
                dc_next = [r(dc[k] * f[k]) for k in range(H)]
            for a in range(4 * H):
                for j in range(F):
                    out[_at(f"dL/dL1.W_ih[{a + 1},{j + 1}]", s)] = dW_ih[a][j]
                    W_ih[a][j] = r(W_ih[a][j] - lr * dW_ih[a][j])
                    out[_at(f"L1.W_ih_new[{a + 1},{j + 1}]", s)] = W_ih[a][j]
                for k in range(H):
                    out[_at(f"dL/dL1.W_hh[{a + 1},{k + 1}]", s)] = dW_hh[a][k]
                    W_hh[a][k] = r(W_hh[a][k] - lr * dW_hh[a][k])
                    out[_at(f"L1.W_hh_new[{a + 1},{k + 1}]", s)] = W_hh[a][k]
                out[_at(f"dL/dL1.b[{a + 1}]", s)] = db[a]
                b[a] = r(b[a] - lr * db[a])
                out[_at(f"L1.b_new[{a + 1}]", s)] = b[a]
            for k in range(H):
                Wd[k] = r(Wd[k] - lr * dWd[k])
                out[_at(f"L2.weights_new[1,{k + 1}]", s)] = Wd[k]
            bd = r(bd - lr * r(g_out))
            out[_at("L2.bias_new[1]", s)] = bd
        out["loss_after"] = r((forward()[-1] - t) ** 2)
    return out


LSTM_SPEC = """\
name: lstm by hand
input: {x}
target: [{t}]
layers:
  - type: lstm
    W_ih: {W_ih}
    W_hh: {W_hh}
    b: {b}
    output: last
  - weights: [{Wd}]
    bias: [{bd}]
loss: mse
optimizer: {{name: sgd, lr: {lr}}}
steps: {steps}
"""


def lstm_case(seed: int, T: int = 3, H: int = 2, F: int = 2, steps: int = 2, lr: float = 0.5):
    rng, draw = _drawer(seed)
    case = dict(x=draw(T, F), t=round(float(rng.uniform(-0.9, 0.9)), 2), W_ih=draw(4 * H, F), W_hh=draw(4 * H, H),
                b=draw(4 * H), Wd=draw(H), bd=round(float(rng.uniform(-0.5, 0.5)), 2), lr=lr, steps=steps)
    return case, LSTM_SPEC.format(**case)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("digits", [3, 4])
def test_lstm_by_hand_equals_the_decimal_oracle(seed, digits):
    case, text = lstm_case(seed)
    trace = solve_layered(loads_spec(text, "lstm.yaml"), round_digits=digits)
    expected = lstm_oracle(case, digits)
    assert len(expected) > 150
    assert not _mismatches(trace, expected)


# ------------------------------------------------------------------------------------------
# the oracle: batch norm (training mode) → dense, mse over a batch, SGD, in Decimal


def bn_oracle(case: dict, digits: int, rounding=ROUND_HALF_UP) -> dict[str, Decimal]:
    """μ, σ² from the rounded μ, σ = √(σ² + ε) (float64, rounded), x̂, y, the running
    statistics; backward dx̂ = ∂L/∂y·γ is not needed for layer 1's parameters: ∂L/∂γ =
    Σ ∂L/∂y·x̂, ∂L/∂β = Σ ∂L/∂y."""
    r = _rounder(digits, rounding)
    X = [[_d(v) for v in row] for row in case["x"]]
    T = [_d(v) for v in case["t"]]
    gamma, beta = [_d(v) for v in case["gamma"]], [_d(v) for v in case["beta"]]
    Wd, bd, lr = [_d(v) for v in case["Wd"]], _d(case["bd"]), _d(case["lr"])
    eps, m = _d(1e-5), _d(0.1)
    rm, rv = [Decimal(0)] * 2, [Decimal(1)] * 2
    N, C = len(X), 2
    out: dict[str, Decimal] = {}

    def forward():
        mu = [r(sum(X[n][c] for n in range(N)) / N) for c in range(C)]
        var = [r(sum((X[n][c] - mu[c]) ** 2 for n in range(N)) / N) for c in range(C)]
        std = [r(_d(math.sqrt(float(var[c] + eps)))) for c in range(C)]
        xhat = [[r((X[n][c] - mu[c]) / std[c]) for c in range(C)] for n in range(N)]
        y = [[r(gamma[c] * xhat[n][c] + beta[c]) for c in range(C)] for n in range(N)]
        z = [r(sum(Wd[c] * y[n][c] for c in range(C)) + bd) for n in range(N)]
        return mu, var, xhat, y, z

    with localcontext() as ctx:
        ctx.prec = 60
        for s in range(1, case["steps"] + 1):
            mu, var, xhat, y, z = forward()
            out[_at("loss", s)] = r(sum((z[n] - T[n]) ** 2 for n in range(N)) / N)
            for c in range(C):
                out[_at(f"L1.mean[{c + 1}]", s)], out[_at(f"L1.var[{c + 1}]", s)] = mu[c], var[c]
                rm[c] = r((1 - m) * rm[c] + m * mu[c])
                rv[c] = r((1 - m) * rv[c] + m * (var[c] * N / (N - 1)))
                out[_at(f"L1.running_mean_new[{c + 1}]", s)] = rm[c]
                out[_at(f"L1.running_var_new[{c + 1}]", s)] = rv[c]
                for n in range(N):
                    out[_at(f"L1.xhat[{n + 1},{c + 1}]", s)] = xhat[n][c]
                    out[_at(f"L1.out[{n + 1},{c + 1}]", s)] = y[n][c]
            g = [r(2 * (z[n] - T[n]) / N) for n in range(N)]
            dWd = [r(sum(g[n] * y[n][c] for n in range(N))) for c in range(C)]
            dbd = r(sum(g))
            dy = [[r(g[n] * Wd[c]) for c in range(C)] for n in range(N)]
            for c in range(C):
                dgamma = r(sum(dy[n][c] * xhat[n][c] for n in range(N)))
                dbeta = r(sum(dy[n][c] for n in range(N)))
                out[_at(f"dL/dL1.gamma[{c + 1}]", s)], out[_at(f"dL/dL1.beta[{c + 1}]", s)] = dgamma, dbeta
                gamma[c], beta[c] = r(gamma[c] - lr * dgamma), r(beta[c] - lr * dbeta)
                out[_at(f"L1.gamma_new[{c + 1}]", s)], out[_at(f"L1.beta_new[{c + 1}]", s)] = gamma[c], beta[c]
                out[_at(f"dL/dL2.weights[1,{c + 1}]", s)] = dWd[c]
                Wd[c] = r(Wd[c] - lr * dWd[c])
                out[_at(f"L2.weights_new[1,{c + 1}]", s)] = Wd[c]
            bd = r(bd - lr * dbd)
            out[_at("L2.bias_new[1]", s)] = bd
        z = forward()[-1]
        out["loss_after"] = r(sum((z[n] - T[n]) ** 2 for n in range(N)) / N)
    return out


BN_ORACLE_SPEC = """\
name: batch norm by hand
input: {x}
target: {t}
layers:
  - type: batchnorm
    gamma: {gamma}
    beta: {beta}
  - weights: [{Wd}]
    bias: [{bd}]
loss: mse
optimizer: {{name: sgd, lr: {lr}}}
steps: {steps}
"""


def bn_case(seed: int, N: int = 4, steps: int = 2, lr: float = 0.5):
    rng, draw = _drawer(seed)
    case = dict(x=draw(N, 2), t=draw(N), gamma=np.round(rng.uniform(0.5, 1.5, 2), 2).tolist(), beta=draw(2),
                Wd=draw(2), bd=round(float(rng.uniform(-0.5, 0.5)), 2), lr=lr, steps=steps)
    text = BN_ORACLE_SPEC.format(**{**case, "t": [[v] for v in case["t"]]})
    return case, text


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("digits", [2, 4])
def test_batchnorm_by_hand_equals_the_decimal_oracle(seed, digits):
    case, text = bn_case(seed)
    trace = solve_layered(loads_spec(text, "bn.yaml"), round_digits=digits)
    expected = bn_oracle(case, digits)
    assert len(expected) > 40
    assert not _mismatches(trace, expected)


# ------------------------------------------------------------------------------------------
# ties: exact decimal arithmetic, not float noise

TIE_DENSE = """\
name: tie
input: [0.3]
target: [0.0]
layers:
  - weights: [[0.75]]
  - type: relu               # a typed layer: the network is solved by the layer rules
loss: mse
optimizer: {name: sgd, lr: 0.1}
"""

TIE_CONV = """\
name: tie conv
input: [[[0.3, 0.0], [0.0, 0.0]]]
target: [[[0.0, 0.0], [0.0, 0.0]]]
layers:
  - type: conv2d
    weights: [[[[0.75]]]]
loss: sse
optimizer: {name: sgd, lr: 0.1}
"""


def test_a_tie_rounds_half_away_from_zero_on_the_exact_product():
    assert 0.3 * 0.75 == 0.22499999999999998  # what float64 computes: a naive rounding gives 0.22
    dense = solve_layered(loads_spec(TIE_DENSE, "tie.yaml"), round_digits=2)
    assert dense.named["L1.z[1]"] == 0.23 and dense.named["L2.out[1]"] == 0.23
    conv = solve_layered(loads_spec(TIE_CONV, "tie.yaml"), round_digits=2)
    assert conv.named["L1.out[1,1,1]"] == 0.23
    # the gradient 2·0.23 = 0.46; dL/dW = 0.46 · 0.3 = 0.138 → 0.14; W_new = 0.75 − 0.1·0.14 = 0.736 → 0.74
    assert conv.named["dL/dL1.weights[1,1,1,1]"] == 0.14
    assert conv.named["L1.weights_new[1,1,1,1]"] == 0.74


def test_negative_tie_rounds_away_from_zero():
    text = TIE_DENSE.replace("input: [0.3]", "input: [-0.3]")
    assert solve_layered(loads_spec(text, "tie.yaml"), round_digits=2).named["L1.z[1]"] == -0.23


# ------------------------------------------------------------------------------------------
# the printed derivation lines, re-done in Decimal

NUM = r"−?[0-9]+\.[0-9]+"
OPERAND = rf"\(?({NUM})\)?"  # a negative operand is printed in parentheses: 0.5·(−1.0000)


def _num(text: str) -> Decimal:
    return Decimal(text.replace("−", "-"))


def _notes(trace, layer: int, step: int = 0) -> list[str]:
    return [line for note in trace.steps[step].layers[layer - 1].notes for line in note.lines]


CONV_SPEC = """\
name: conv worked element
input: [[[0.35, -0.72, 0.15], [0.48, 0.91, -0.26], [-0.13, 0.57, 0.66]]]
target: [[[0.2, -0.1], [0.4, 0.3]]]
layers:
  - type: conv2d
    weights: [[[[0.25, -0.45], [0.65, 0.15]]]]
    bias: [0.05]
    activation: tanh
loss: mse
optimizer: {name: sgd, lr: 0.1}
"""


@pytest.mark.parametrize("digits", [3, 4])
def test_conv_worked_element_redone_from_its_printed_numbers(digits):
    trace = solve_layered(loads_spec(CONV_SPEC, "conv.yaml"), round_digits=digits)
    line = next(l for l in _notes(trace, 1) if l.startswith("worked element"))
    products = re.findall(rf"{OPERAND}·{OPERAND}", line)
    assert len(products) == 4  # the 2×2 output: every term printed
    printed = _num(re.search(rf"= ({NUM})$", line).group(1))
    with localcontext() as ctx:
        ctx.prec = 60
        exact = sum(_num(a) * _num(b) for a, b in products)
    assert exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP) == printed
    assert float(printed) == trace.named["dL/dL1.weights[1,1,1,1]"]


BN_SPEC = """\
name: bn three terms
input: [[0.37, -1.21], [0.85, 0.44], [-0.63, 0.18], [1.12, -0.55]]
target: [[0.5], [-0.2], [0.1], [0.8]]
layers:
  - weights: [[1.0, 0.0], [0.0, 1.0]]   # identity: batch norm's input is the data as written
  - type: batchnorm
    gamma: [1.3, 0.7]
    beta: [0.1, -0.2]
  - weights: [[0.6, -0.9]]
    bias: [0.05]
loss: mse
optimizer: {name: sgd, lr: 0.1}
"""


@pytest.mark.parametrize("digits", [3, 4])
def test_batchnorm_three_term_line_redone_from_its_printed_numbers(digits):
    trace = solve_layered(loads_spec(BN_SPEC, "bn.yaml"), round_digits=digits)
    line = next(l for l in _notes(trace, 2) if l.startswith("worked element"))
    m = re.fullmatch(rf"worked element: ∂L/∂L1\.out\[1,1\] = \(([0-9]+)·{OPERAND} − {OPERAND} − {OPERAND}·{OPERAND}\) / "
                     rf"\(([0-9]+)·({NUM})\) = ({NUM})", line)
    assert m, line
    M, dxhat, s1, xhat, s2, M2, std, printed = (_num(v) for v in m.groups())
    with localcontext() as ctx:
        ctx.prec = 60
        exact = (M * dxhat - s1 - xhat * s2) / (M2 * std)
    assert exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP) == printed
    # the printed operands are the recorded ones, and the result is what flows on down
    assert float(xhat) == trace.named["L2.xhat[1,1]"]
    assert float(printed) == trace.named["dL/dL1.out[1,1]"]
    # μ and σ² lines: the statistics of channel 1, by hand from the input as written
    stats = next(l for l in _notes(trace, 2) if l.startswith("channel 1"))
    mu, var = (_num(v) for v in re.findall(rf"(?:μ|σ²) = ({NUM})", stats))
    std = M2 and _num(re.search(rf"/ \([0-9]+·({NUM})\)", line).group(1))
    with localcontext() as ctx:
        ctx.prec = 60
        xs = [Decimal("0.37"), Decimal("0.85"), Decimal("-0.63"), Decimal("1.12")]
        unit = Decimal(1).scaleb(-digits)
        mu_hand = (sum(xs) / 4).quantize(unit, rounding=ROUND_HALF_UP)
        var_hand = (sum((v - mu_hand) ** 2 for v in xs) / 4).quantize(unit, rounding=ROUND_HALF_UP)
        std_hand = Decimal(repr(math.sqrt(float(var_hand + Decimal("0.00001"))))).quantize(unit, rounding=ROUND_HALF_UP)
    assert (mu, var, std) == (mu_hand, var_hand, std_hand)


def test_bptt_contribution_redone_from_its_printed_numbers():
    case, text = rnn_case(3, T=3)
    trace = solve_layered(loads_spec(text, "rnn.yaml"), round_digits=4)
    lines = _notes(trace, 1)
    k = next(i for i, l in enumerate(lines) if l.strip().startswith("δ_3 ="))
    m = re.fullmatch(rf"\s*δ_3 = ∂L/∂h_3 ⊙ \(1 − h_3²\) = \[({NUM}), ({NUM})\], h_2 = \[({NUM}), ({NUM})\]", lines[k])
    assert m, lines[k]
    delta, h_prev = [_num(v) for v in m.groups()[:2]], [_num(v) for v in m.groups()[2:]]
    assert "contribution of t = 3" in lines[k + 1]
    rows = [[_num(v) for v in re.findall(NUM, lines[k + 2 + i])] for i in range(2)]
    with localcontext() as ctx:
        ctx.prec = 60
        for i in range(2):
            for j in range(2):
                assert (delta[i] * h_prev[j]).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) == rows[i][j]
    # δ_3 itself from the printed ∂L/∂h_3 and the recorded h_3
    dh = [_num(v) for v in re.findall(NUM, lines[k - 1])]
    h3 = [Decimal(repr(trace.named[f"L1.h[3,{i}]"])) for i in (1, 2)]
    with localcontext() as ctx:
        ctx.prec = 60
        assert [(dh[i] * (1 - h3[i] ** 2)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) for i in range(2)] == delta


# ------------------------------------------------------------------------------------------
# check: keys a student would write by hand


def _drifting(kind: str):
    """A case whose hand-rounded values drift past the default tolerance of a 4-decimal
    literal (1.5e-4) from float64 — long enough, and a large lr — with its oracle
    (digits, rounding) → values."""
    if kind == "rnn":
        case, text = rnn_case(11, T=6, H=3, F=2, steps=4, lr=0.9)
        args = (case["x"], case["t"], case["W_xh"], case["W_hh"], case["b"], case["h0"], case["Wd"], case["bd"],
                case["lr"], case["steps"])
        return text, lambda digits, rounding=ROUND_HALF_UP: rnn_oracle(*args, digits, rounding)
    case, text = lstm_case(6, T=4, steps=4, lr=1.5) if kind == "lstm" else bn_case(5, N=4, steps=4, lr=0.5)
    oracle = lstm_oracle if kind == "lstm" else bn_oracle
    return text, lambda digits, rounding=ROUND_HALF_UP: oracle(case, digits, rounding)


def _key(values: dict[str, Decimal], names) -> str:
    return "named:\n" + "".join(f'  "{n}": {values[n]}\n' for n in names)


def _check(tmp_path, text: str, key: str, *extra) -> dict:
    spec, key_path = tmp_path / "hand.yaml", tmp_path / "hand.student.key.yaml"
    spec.write_text(text)
    key_path.write_text(key)
    run = cold(["check", spec, "--key", key_path, "--format", "json", *extra], timeout=120)
    assert run.code in (0, 1), run.describe()
    return {r["name"]: r for r in json.loads(run.stdout)["specs"][0]["results"]}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "bn"])
def test_check_names_hand_rounding_and_truncation_for_a_typed_layer_key(tmp_path, kind):
    text, oracle = _drifting(kind)
    rounded, cut = oracle(4), oracle(4, ROUND_DOWN)
    floats = solve_layered(loads_spec(text, "hand.yaml")).named
    names = [n for n in rounded if "share" not in n and n.endswith("@4") or n == "loss_after"]

    # hand-rounded: every value float64 does not reproduce is hand rounding at 4 decimals
    drifted = [n for n in names if abs(float(rounded[n]) - floats[n]) > 2e-4]
    assert len(drifted) >= 3, "the case must drift past the tolerance to test anything"
    results = _check(tmp_path, text, _key(rounded, names))
    for n in drifted:
        assert results[n]["ok"] is False
        assert results[n]["cause"] == "hand rounding at 4 decimals: backprop solve --round 4 reproduces it", results[n]
    # and `check --round 4` compares with the hand-rounded solve: everything matches
    assert all(r["ok"] for r in _check(tmp_path, text, _key(rounded, names), "--round", "4").values())

    # truncated: values neither float64 nor hand rounding (at 4, 3 or 5 decimals, tried first) reproduce;
    # not the new parameters nor values under 0.01, where a small step or share can also look
    # like one of SPEC's earlier causes ("lr left out", "only the last step's share")
    others = [rounded, oracle(3), oracle(5)]
    cut_off = [n for n in names if "_new" not in n and abs(cut[n]) > Decimal("0.01")
               and abs(float(cut[n]) - floats[n]) > 2e-4
               and all(abs(cut[n] - other[n]) > Decimal("2e-4") for other in others)]
    assert len(cut_off) >= 3
    results = _check(tmp_path, text, _key(cut, names))
    for n in cut_off:
        assert results[n]["cause"] == \
            "truncated, not rounded, to 4 decimals: every intermediate cut off instead of rounded", results[n]


# ------------------------------------------------------------------------------------------
# the CLI: every format, Korean, the refusals


LAYERED = ["rnn_bptt", "cnn_maxpool", "cnn_avgpool", "batchnorm_mlp", "layernorm_mlp", "dropout_mlp"]


@pytest.mark.parametrize("example", LAYERED)
def test_every_format_under_round(example):
    from tests.test_render_golden import ROOT

    spec = ROOT / "configs" / f"{example}.yaml"
    run = cold(["solve", spec, "--round", "3", "--format", "json"])
    assert run.code == 0, run.describe()
    doc = json.loads(run.stdout)
    assert doc["round"] == 3
    for value in doc["named"].values():  # every number a 3-decimal one (given data here have ≤ 3)
        assert abs(value * 1000 - round(value * 1000)) < 1e-6, value
    for fmt, lang in (("table", "en"), ("markdown", "ko"), ("latex", "en"), ("table", "ko")):
        run = cold(["solve", spec, "--round", "3", "--format", fmt, "--lang", lang])
        assert run.code == 0, run.describe()
        assert ("반올림" if lang == "ko" else "hand-rounded to 3 decimals") in run.stdout
        assert not re.search(r"[0-9]\.[0-9]{4}", run.stdout.replace("1e-05", "")), "numbers print with 3 decimals"


def test_exact_is_refused_with_the_reason(tmp_path):
    from tests.test_render_golden import ROOT

    run = cold(["solve", ROOT / "configs" / "rnn_bptt.yaml", "--exact"])
    assert run.code == 2 and "no rational values" in run.stderr and "--round" in run.stderr, run.describe()


def test_adam_is_refused_under_round():
    from tests.test_render_golden import ROOT

    run = cold(["solve", ROOT / "configs" / "conv1d_signal.yaml", "--round", "4"])
    assert run.code == 2 and "adam" in run.stderr, run.describe()


def test_rmsprop_second_moment_rounded_to_zero_asks_for_more_decimals():
    """lstm_sequence uses RMSprop (α = 0.99): sq = 0.01·g² rounds to 0 at 4 decimals for
    small gradients, as it does for dense networks (exit 2), and works with 12."""
    from tests.test_render_golden import ROOT

    spec = ROOT / "configs" / "lstm_sequence.yaml"
    run = cold(["solve", spec, "--round", "4"])
    assert run.code == 2 and "use more decimals with --round" in run.stderr, run.describe()
    run = cold(["solve", spec, "--round", "12", "--format", "json"])
    assert run.code == 0, run.describe()
    assert json.loads(run.stdout)["round"] == 12


def test_float_solve_is_unchanged_by_the_numbers_object():
    """The float path through the same rules: a float64 value, not a rounded one."""
    case, text = rnn_case(0)
    named = solve_layered(loads_spec(text, "rnn.yaml")).named
    assert named["loss"] != round(named["loss"], 4)


def test_batchnorm_sigma_rounded_to_zero_asks_for_more_decimals(tmp_path):
    """A channel whose values are all equal: σ² = 0, σ = √ε = 0.0032 rounds to 0.00."""
    spec = tmp_path / "bn0.yaml"
    spec.write_text("name: constant channel\ninput: [[0.5, 1.0], [0.5, -1.0]]\ntarget: [[0.1], [0.2]]\n"
                    "layers:\n  - type: batchnorm\n  - weights: [[0.3, 0.4]]\nloss: mse\noptimizer: {name: sgd, lr: 0.1}\n")
    run = cold(["solve", spec, "--round", "2"])
    assert run.code == 2 and "σ = √(σ² + ε) rounds to 0" in run.stderr and "more decimals" in run.stderr, run.describe()
    assert cold(["solve", spec, "--round", "4"]).code == 0


def test_a_big_hand_rounded_solve_is_refused_before_it_starts(tmp_path):
    """Hand arithmetic is Decimal work: budget.estimate_layered refuses what would take
    minutes (exit 2, with the estimate and the hint) before any of the work."""
    rng = np.random.default_rng(0)
    H, F, T = 96, 16, 40

    def draw(*shape):
        return json.dumps(np.round(rng.uniform(-0.3, 0.3, shape), 2).tolist())

    spec = tmp_path / "big.yaml"
    spec.write_text(f"name: big lstm\ninput: {draw(T, F)}\ntarget: [0.5]\nlayers:\n"
                    f"  - {{type: lstm, W_ih: {draw(4 * H, F)}, W_hh: {draw(4 * H, H)}, output: last}}\n"
                    f"  - {{weights: {draw(1, H)}}}\nloss: mse\noptimizer: {{name: sgd, lr: 0.1}}\nsteps: 20\n")
    run = cold(["solve", spec, "--round", "4", "--format", "json"])
    assert run.code == 2 and "estimated" in run.stderr and "drop --round" in run.stderr, run.describe()
    assert run.seconds < 10
    run = cold(["check", spec, "--key", spec, "--round", "4"])
    assert run.code == 2 and "estimated" in run.stderr, run.describe()


LONG_CONV = """\
name: long decimals through the convolution kernel
input: [[[0.123456789, -0.987654321, 0.5], [0.314159265, 0.271828182, -0.141421356], [0.25, -0.75, 0.333333333]]]
target: [[[0.1, -0.2], [0.3, 0.05]]]
layers:
  - type: conv2d
    weights: [[[[0.707106781, -0.577350269], [0.866025403, 0.1]]]]
    bias: [0.012345678]
loss: sse
optimizer: {name: sgd, lr: 0.1}
"""


@pytest.mark.parametrize("digits", [12, 9])
def test_convolution_is_exact_on_long_decimals(digits):
    """Operands of 9 decimals are integers past 10^6: the kernel runs on base-10^6 digits
    of them (hand.py) and must still give the exact decimal result, here re-done in
    Decimal: z = Σ x·W + b, then ∂L/∂z = 2(z − t), ∂L/∂W[u,v] = Σ δ·x, each rounded."""
    spec = loads_spec(LONG_CONV, "conv.yaml")
    trace = solve_layered(spec, round_digits=digits)
    r = _rounder(digits, ROUND_HALF_UP)
    x = [[Decimal(v) for v in row] for row in
         (["0.123456789", "-0.987654321", "0.5"], ["0.314159265", "0.271828182", "-0.141421356"],
          ["0.25", "-0.75", "0.333333333"])]
    W = [[Decimal("0.707106781"), Decimal("-0.577350269")], [Decimal("0.866025403"), Decimal("0.1")]]
    t = [[Decimal("0.1"), Decimal("-0.2")], [Decimal("0.3"), Decimal("0.05")]]
    with localcontext() as ctx:
        ctx.prec = 60
        z = [[r(sum(x[i + u][j + v] * W[u][v] for u in range(2) for v in range(2)) + Decimal("0.012345678"))
              for j in range(2)] for i in range(2)]
        delta = [[r(2 * (z[i][j] - t[i][j])) for j in range(2)] for i in range(2)]
        dW = [[r(sum(delta[i][j] * x[i + u][j + v] for i in range(2) for j in range(2))) for v in range(2)]
              for u in range(2)]
    for i in range(2):
        for j in range(2):
            assert trace.named[f"L1.z[1,{i + 1},{j + 1}]"] == float(z[i][j])
    for u in range(2):
        for v in range(2):
            assert trace.named[f"dL/dL1.weights[1,1,{u + 1},{v + 1}]"] == float(dW[u][v])


def test_rmsprop_update_by_hand_follows_the_dense_equations():
    """Each element: sq = (1 − α)·g² rounded; new = p − lr·g/(√sq + ε) with √ in float64
    inside the expression, then rounded — re-done here in Decimal from the recorded g."""
    case, text = bn_case(2)
    text = text.replace("{name: sgd, lr: 0.5}", "{name: rmsprop, lr: 0.01, alpha: 0.9}")
    trace = solve_layered(loads_spec(text, "bn.yaml"), round_digits=6)
    r = _rounder(6, ROUND_HALF_UP)
    with localcontext() as ctx:
        ctx.prec = 60
        for c in (1, 2):
            g = Decimal(repr(trace.named[f"dL/dL1.gamma[{c}]"]))
            p = Decimal(repr(case["gamma"][c - 1]))
            sq = r(Decimal("0.1") * g ** 2)
            assert trace.named[f"sq_L1.gamma[{c}]"] == float(sq)
            root = Decimal(repr(math.sqrt(float(sq))))
            assert trace.named[f"L1.gamma_new[{c}]"] == float(r(p - Decimal("0.01") * (g / (root + Decimal("1e-08")))))
