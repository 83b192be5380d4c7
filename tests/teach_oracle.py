"""A 2-2-1 sigmoid network with mean BCE and one SGD step, written out by hand.

The independent oracle of the teaching tests: textbook formulas in numpy, sharing no
code with the solver (δ₃ = a₃ − t for BCE after a sigmoid; hidden δ = δ₃·W·σ′)."""
from __future__ import annotations

import math

import numpy as np


def oracle_221(spec: dict) -> dict[str, float]:
    """One SGD step of a 2-2-1 sigmoid network with mean BCE (K = N = 1), by hand."""
    x = np.array(spec["input"], float)
    t = float(spec["target"][0])
    W1 = np.array(spec["layers"][0]["weights"], float)
    b1 = np.array(spec["layers"][0]["bias"], float)
    W2 = np.array(spec["layers"][1]["weights"], float)[0]
    b2 = float(spec["layers"][1]["bias"][0])
    lr = float(spec["optimizer"]["lr"])
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    z12 = W1 @ x + b1
    a12 = sig(z12)
    z3 = float(W2 @ a12 + b2)
    a3 = float(sig(z3))
    out = {"z1": z12[0], "z2": z12[1], "a1": a12[0], "a2": a12[1], "z3": z3, "a3": a3,
           "loss": -(t * math.log(a3) + (1 - t) * math.log(1 - a3))}
    delta3 = a3 - t  # BCE after a sigmoid
    out.update({"delta3": delta3, "dL/dW5": delta3 * a12[0], "dL/dW6": delta3 * a12[1], "dL/db3": delta3})
    hidden = delta3 * W2 * a12 * (1 - a12)
    out.update({"delta1": hidden[0], "delta2": hidden[1]})
    grads = {"dL/dW1": hidden[0] * x[0], "dL/dW2": hidden[0] * x[1], "dL/dW3": hidden[1] * x[0],
             "dL/dW4": hidden[1] * x[1], "dL/db1": hidden[0], "dL/db2": hidden[1]}
    out.update(grads)
    out["W1_new"] = W1[0, 0] - lr * grads["dL/dW1"]
    out["W5_new"] = W2[0] - lr * out["dL/dW5"]
    out["sigma_primes"] = [a * (1 - a) for a in [*a12, a3]]
    return {k: (v if isinstance(v, list) else float(v)) for k, v in out.items()}


def sigma_prime_left_out(spec: dict, layer: int) -> dict[str, float]:
    """The same step with σ′ taken as 1 in one layer (0 hidden, 1 output): the numbers
    of a student who forgot the activation derivative there."""
    x = np.array(spec["input"], float)
    t = float(spec["target"][0])
    W1 = np.array(spec["layers"][0]["weights"], float)
    b1 = np.array(spec["layers"][0]["bias"], float)
    W2 = np.array(spec["layers"][1]["weights"], float)[0]
    b2 = float(spec["layers"][1]["bias"][0])
    a12 = 1 / (1 + np.exp(-(W1 @ x + b1)))
    a3 = float(1 / (1 + np.exp(-(W2 @ a12 + b2))))
    dL_da3 = (a3 - t) / (a3 * (1 - a3))
    delta3 = dL_da3 if layer == 1 else dL_da3 * a3 * (1 - a3)
    hidden = delta3 * W2 * (1 if layer == 0 else a12 * (1 - a12))
    return {"delta3": delta3, "dL/dW5": delta3 * a12[0], "dL/dW1": hidden[0] * x[0], "delta1": hidden[0]}
