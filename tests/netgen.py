"""Random network specs for oracle tests: every activation × loss × reduction × optimizer.

Specs are written as YAML text and loaded through the real loader, so the tests exercise
the same path a user's file takes.
"""
from __future__ import annotations

import random

HIDDEN_ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
LOSSES = ["mse", "sse", "half_sse", "bce", "cross_entropy"]
OUTPUT_FOR_LOSS = {
    "mse": ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"],
    "sse": ["identity", "sigmoid", "tanh", "softmax"],
    "half_sse": ["identity", "sigmoid", "tanh"],
    "bce": ["sigmoid", "softmax"],
    "cross_entropy": ["softmax"],
}
OPTIMIZERS = [
    "{name: sgd, lr: 0.3}",
    "{name: sgd, lr: 0.2, momentum: 0.9}",
    "{name: sgd, lr: 0.1, momentum: 0.8, nesterov: true, weight_decay: 0.01}",
    "{name: adam, lr: 0.05}",
    "{name: adam, lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weight_decay: 0.1}",
]


def _num(rng: random.Random, scale: float = 1.0) -> str:
    # avoid exact zeros so ReLU kinks are not hit by accident in finite differences
    value = rng.uniform(-scale, scale)
    if abs(value) < 0.05:
        value += 0.1
    return f"{value:.4f}"


def _row(rng, n, scale=1.0):
    return "[" + ", ".join(_num(rng, scale) for _ in range(n)) + "]"


def random_spec(seed: int, *, loss=None, hidden=None, output=None, optimizer=None,
                samples=None, steps=1, reduction=None) -> str:
    rng = random.Random(seed)
    loss = loss or rng.choice(LOSSES)
    output = output or rng.choice(OUTPUT_FOR_LOSS[loss])
    hidden = hidden or rng.choice(HIDDEN_ACTIVATIONS)
    widths = [rng.randint(1, 3)] + [rng.randint(1, 3) for _ in range(rng.randint(0, 2))]
    K = rng.randint(2, 3) if output == "softmax" else rng.randint(1, 2)
    widths.append(K)
    N = samples if samples is not None else rng.choice([1, 1, 2, 3])
    layers = []
    for l in range(1, len(widths)):
        act = output if l == len(widths) - 1 else hidden
        rows = ", ".join(_row(rng, widths[l - 1]) for _ in range(widths[l]))
        bias_kind = rng.choice(["vector", "vector", "shared", "none"])
        if act == "softmax" and bias_kind == "shared":
            # softmax ignores a shift: the shared bias's gradient is pure rounding noise,
            # which Adam would amplify differently in any two implementations
            bias_kind = "vector"
        bias = {"vector": f"    bias: {_row(rng, widths[l], 0.5)}\n", "shared": f"    bias: {_num(rng, 0.5)}\n", "none": ""}[bias_kind]
        act_text = "{name: leaky_relu, slope: 0.05}" if act == "leaky_relu" else act
        layers.append(f"  - weights: [{rows}]\n{bias}    activation: {act_text}\n")
    xs = [_row(rng, widths[0], 2.0) for _ in range(N)]
    if loss == "cross_entropy":
        if rng.random() < 0.5:
            ts = [str(rng.randrange(K)) for _ in range(N)]
        else:
            ts = []
            for _ in range(N):
                p = [rng.random() + 0.1 for _ in range(K)]
                s = sum(p)
                ts.append("[" + ", ".join(f"{v / s:.6f}" for v in p[:-1]) + f", {1 - sum(round(v / s, 6) for v in p[:-1]):.6f}]")
    elif loss == "bce":
        ts = ["[" + ", ".join(f"{rng.random():.3f}" for _ in range(K)) + "]" for _ in range(N)]
    else:
        ts = [_row(rng, K) for _ in range(N)]
    if N == 1 and rng.random() < 0.7:
        x_text, t_text = xs[0], ts[0]
    else:
        x_text = "[" + ", ".join(xs) + "]"
        t_text = "[" + ", ".join(ts) + "]"
    opt = optimizer or rng.choice(OPTIMIZERS)
    red = reduction or rng.choice(["mean", "sum"])
    return (
        f"name: random {seed}\ninput: {x_text}\ntarget: {t_text}\nlayers:\n" + "".join(layers)
        + f"loss: {loss}\nreduction: {red}\noptimizer: {opt}\nsteps: {steps}\n"
    )
