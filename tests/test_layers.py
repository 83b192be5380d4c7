"""Typed layers (issue 12, items 1 and 5): PyTorch float64 parity on random instances of
every layer type and combination (when torch is installed), finite differences always,
the derivation notes, and bad input for every new field (exit 2 with the field path).
"""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from backprop_cli.network.solve import solve_layered
from backprop_cli.spec import loads_spec
from tests.cli_proc import cold
from tests.layer_oracles import finite_differences, torch_run


def _n(rng, scale=1.0):
    return f"{rng.uniform(-scale, scale):.3f}"


def _arr(rng, shape, scale=1.0):
    if not shape:
        return _n(rng, scale)
    return "[" + ", ".join(_arr(rng, shape[1:], scale) for _ in range(shape[0])) + "]"


def _mask(rng, shape):
    if not shape:
        return str(rng.choice([0, 1, 1]))
    return "[" + ", ".join(_mask(rng, shape[1:]) for _ in range(shape[0])) + "]"


OPTIMIZERS = ["{name: sgd, lr: 0.1, momentum: 0.9}", "{name: adam, lr: 0.05}",
              "{name: rmsprop, lr: 0.01, momentum: 0.5}", "{name: adagrad, lr: 0.1, lr_decay: 0.1}",
              "{name: sgd, lr: 0.2, weight_decay: 0.01}"]


def case(kind: str, seed: int) -> str:
    """A random network exercising `kind` with the layers it is used with in courses."""
    rng = random.Random(seed)
    N = rng.choice([1, 2]) if kind not in ("batchnorm", "bn2d") else rng.choice([2, 3])
    opt = OPTIMIZERS[seed % len(OPTIMIZERS)]
    loss, act = "mse", "identity"
    if kind in ("conv2d", "maxpool", "avgpool", "bn2d"):
        C, H = rng.choice([1, 2]), 4
        O = rng.choice([1, 2])
        stride, pad = rng.choice([(1, 0), (1, 1), (2, 0)]) if kind == "conv2d" else (1, 0)
        k = 3 if (kind == "conv2d" and stride == 2) else 2 if kind != "conv2d" else rng.choice([2, 3])
        if kind == "conv2d" and stride == 1 and pad == 1:
            k = 3
        if stride == 2:
            H = 5  # (5 − 3) is a multiple of 2: the stride fits
        Ho = (H + 2 * pad - k) // stride + 1
        x = (C, H, H)
        conv_bias = "" if kind == "bn2d" else f"    bias: {_arr(rng, (O,), 0.2)}\n"
        layers = [f"  - type: conv2d\n    weights: {_arr(rng, (O, C, k, k), 0.5)}\n{conv_bias}"
                  f"    stride: {stride}\n    padding: {pad}\n    activation: {rng.choice(['relu', 'tanh', 'leaky_relu'])}\n"]
        feat = O * Ho * Ho
        if kind == "bn2d":
            layers.append(f"  - type: batchnorm\n    gamma: {_arr(rng, (O,))}\n    beta: {_arr(rng, (O,), 0.2)}\n")
        if kind in ("maxpool", "avgpool") and Ho % 2 == 0:
            layers.append(f"  - type: {'maxpool2d' if kind == 'maxpool' else 'avgpool2d'}\n    kernel: 2\n")
            feat = O * (Ho // 2) ** 2
        layers.append("  - type: flatten\n")
        K = rng.choice([2, 3])
        if seed % 2:
            loss, act = "cross_entropy", "softmax"
        layers.append(f"  - weights: {_arr(rng, (K, feat), 0.5)}\n    bias: {_arr(rng, (K,), 0.1)}\n    activation: {act}\n")
        out = (K,)
    elif kind == "conv1d":
        C, L, O, k = 2, 6, 2, rng.choice([2, 3])
        stride = 2 if (L - k) % 2 == 0 else 1
        x = (C, L)
        Lo = (L - k) // stride + 1
        layers = [f"  - type: conv1d\n    weights: {_arr(rng, (O, C, k), 0.5)}\n    bias: {_arr(rng, (O,), 0.2)}\n"
                  f"    stride: {stride}\n    activation: tanh\n", "  - type: flatten\n",
                  f"  - weights: {_arr(rng, (1, O * Lo), 0.5)}\n    activation: sigmoid\n"]
        loss, out = "bce", (1,)
    elif kind in ("batchnorm", "layernorm", "dropout"):
        I, Hd = 3, rng.choice([2, 3])
        x = (I,)
        # before batch norm a bias has gradient 0 up to rounding, which Adam would amplify
        # differently in any two implementations: no bias there (as the courses write it)
        bias = "" if kind == "batchnorm" else f"    bias: {_arr(rng, (Hd,), 0.2)}\n"
        layers = [f"  - weights: {_arr(rng, (Hd, I), 0.8)}\n{bias}"]
        if kind == "batchnorm":
            layers.append(f"  - type: batchnorm\n    gamma: {_arr(rng, (Hd,))}\n    beta: {_arr(rng, (Hd,), 0.2)}\n"
                          f"    momentum: 0.2\n    running_mean: {_arr(rng, (Hd,))}\n    running_var: [" +
                          ", ".join("1.5" for _ in range(Hd)) + "]\n")
        elif kind == "layernorm":
            layers.append(f"  - type: layernorm\n    gamma: {_arr(rng, (Hd,))}\n    beta: {_arr(rng, (Hd,), 0.2)}\n")
        else:
            layers.append(f"  - type: dropout\n    p: 0.25\n    mask: {_mask(rng, (N, Hd) if seed % 2 else (Hd,))}\n")
        layers.append(f"  - weights: {_arr(rng, (2, Hd), 0.8)}\n    activation: sigmoid\n")
        out = (2,)
    else:  # rnn / lstm, output last or all
        T, Fin, Hn = rng.choice([2, 3]), 2, 2
        gates = 1 if kind.startswith("rnn") else 4
        every = kind.endswith("all")
        x = (T, Fin)
        ih = "W_xh" if gates == 1 else "W_ih"
        rec = (f"  - type: {'rnn' if gates == 1 else 'lstm'}\n    {ih}: {_arr(rng, (gates * Hn, Fin), 0.7)}\n"
               f"    W_hh: {_arr(rng, (gates * Hn, Hn), 0.7)}\n    b: {_arr(rng, (gates * Hn,), 0.2)}\n"
               f"    h0: {_arr(rng, (Hn,), 0.3)}\n" + (f"    c0: {_arr(rng, (Hn,), 0.3)}\n" if gates == 4 else "")
               + f"    output: {'all' if every else 'last'}\n")
        layers = [rec, f"  - weights: {_arr(rng, (1, Hn), 0.8)}\n    bias: [0.1]\n"]
        out = (T, 1) if every else (1,)
    xs = _arr(rng, (N,) + x if N > 1 else x, 1.0)
    if loss == "cross_entropy":
        ts = "[" + ", ".join(str(rng.randrange(out[0])) for _ in range(N)) + "]" if N > 1 else str(rng.randrange(out[0]))
    elif loss == "bce":
        ts = "[" + ", ".join(f"[{rng.random():.2f}]" for _ in range(N)) + "]" if N > 1 else f"[{rng.random():.2f}]"
    else:
        ts = _arr(rng, (N,) + out if N > 1 else out, 0.8)
    return (f"input: {xs}\ntarget: {ts}\nlayers:\n" + "".join(layers)
            + f"loss: {loss}\nreduction: {rng.choice(['mean', 'sum'])}\noptimizer: {opt}\nsteps: 2\n")


KINDS = ["conv2d", "maxpool", "avgpool", "bn2d", "conv1d", "batchnorm", "layernorm", "dropout",
         "rnn", "rnn_all", "lstm", "lstm_all"]


def close(ours, theirs, what):
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), rtol=1e-9,
                               atol=1e-12, err_msg=what)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(3))
def test_gradients_match_finite_differences(kind, seed):
    spec = loads_spec(case(kind, seed))
    trace = solve_layered(spec, steps=1)
    fd = finite_differences(spec)
    for st, want in zip(trace.steps[0].layers, fd):
        for name, g in want.items():
            np.testing.assert_allclose(st.grads[name], g, rtol=1e-5, atol=1e-7, err_msg=f"{kind} L{st.layer}.{name}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(4))
def test_every_layer_matches_torch(kind, seed):
    pytest.importorskip("torch")
    spec = loads_spec(case(kind, 100 + seed))
    trace = solve_layered(spec)
    ref = torch_run(spec, spec.steps)
    for record, r in zip(trace.steps, ref):
        close(record.loss, r["loss"], f"loss step {record.step}")
        for st in record.layers:
            l = st.layer - 1
            close(st.output, r["out"][l], f"{kind} out L{st.layer}")
            if r["grad_out"][l] is not None:  # cross-entropy reads the logits: torch has no ∂L/∂softmax
                close(st.grad_output, r["grad_out"][l], f"{kind} dL/dout L{st.layer}")
            for name in st.params:
                close(st.grads[name], r["grads"][l][name], f"{kind} grad L{st.layer}.{name}")
                close(st.new_params[name], r["new"][l][name], f"{kind} new L{st.layer}.{name}")
            if "running_mean_new" in st.extras:
                close(st.extras["running_mean_new"], r["running"][l][0], "running mean")
                close(st.extras["running_var_new"], r["running"][l][1], "running var")
    close(trace.loss_after, ref[spec.steps]["loss"], "loss after")
