"""PyTorch float64 is the reference for every number (issue 2, item 9).

Runs when torch is installed (`pip install torch==2.13.0`, the CPU build; CI installs
it) and skips cleanly otherwise. Each random network is rebuilt in torch from the spec
and trained with torch.optim; every recorded array must agree to 1e-9 relative.
"""
from __future__ import annotations

import numpy as np
import pytest

from backprop_cli.load import loads_spec
from backprop_cli.network.solve import solve
from tests.netgen import OPTIMIZERS, random_spec

torch = pytest.importorskip("torch")


def torch_run(spec, steps):
    torch.set_default_dtype(torch.float64)
    params, trainable = [], []
    for layer in spec.layers:
        W = torch.tensor(np.asarray(layer.weights), requires_grad=True)
        b = None if layer.bias is None else torch.tensor(np.asarray(layer.bias, dtype=float), requires_grad=True)
        params.append((W, b))
        if "weights" not in layer.freeze:
            trainable.append(W)
        if b is not None and "bias" not in layer.freeze:
            trainable.append(b)
    opt = spec.optimizer
    if opt.name == "sgd":
        optimizer = torch.optim.SGD(trainable, lr=opt.lr.value, momentum=opt.momentum.value,
                                    weight_decay=opt.weight_decay.value, nesterov=opt.nesterov)
    elif opt.name == "rmsprop":
        optimizer = torch.optim.RMSprop(trainable, lr=opt.lr.value, alpha=opt.alpha.value, eps=opt.eps.value,
                                        weight_decay=opt.weight_decay.value, momentum=opt.momentum.value,
                                        centered=opt.centered)
    elif opt.name == "adagrad":
        optimizer = torch.optim.Adagrad(trainable, lr=opt.lr.value, lr_decay=opt.lr_decay.value,
                                        weight_decay=opt.weight_decay.value, eps=opt.eps.value,
                                        initial_accumulator_value=opt.initial_accumulator_value.value)
    else:
        optimizer = torch.optim.Adam(trainable, lr=opt.lr.value, betas=(opt.beta1.value, opt.beta2.value),
                                     eps=opt.eps.value, weight_decay=opt.weight_decay.value)
    x = torch.tensor(np.asarray(spec.input))
    t = torch.tensor(np.asarray(spec.target))
    records = []
    for _ in range(steps + 1):
        for W, b in params:  # frozen tensors are outside the optimizer: zero them too
            W.grad = None
            if b is not None:
                b.grad = None
        a, zs, acts = x, [], []
        for layer, (W, b) in zip(spec.layers, params):
            z = a @ W.T + (b if b is not None else 0)
            z.retain_grad()
            name = layer.activation.name
            a = {"identity": lambda v: v * 1, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
                 "leaky_relu": lambda v: torch.nn.functional.leaky_relu(v, layer.activation.slope),
                 "softmax": lambda v: torch.softmax(v, dim=1)}[name](z)
            a.retain_grad()
            zs.append(z)
            acts.append(a)
        N = spec.samples
        if spec.loss == "mse":
            loss = torch.nn.MSELoss(reduction=spec.reduction)(a, t)
        elif spec.loss in ("sse", "half_sse"):
            loss = ((a - t) ** 2).sum() * (0.5 if spec.loss == "half_sse" else 1)
            loss = loss / N if spec.reduction == "mean" else loss
        elif spec.loss == "bce":
            loss = torch.nn.BCELoss(reduction=spec.reduction)(a, t)
        else:
            target = torch.tensor(spec.target_indices) if spec.target_indices is not None else t
            loss = torch.nn.CrossEntropyLoss(reduction=spec.reduction)(zs[-1], target)
        loss.backward()
        records.append({
            "loss": loss.item(),
            "z": [z.detach().numpy().copy() for z in zs],
            "a": [a.detach().numpy().copy() for a in acts],
            "delta": [z.grad.numpy().copy() for z in zs],
            "grad_w": [W.grad.numpy().copy() for W, _ in params],
            "grad_b": [None if b is None else b.grad.numpy().copy() for _, b in params],
        })
        optimizer.step()
        records[-1]["W_new"] = [W.detach().numpy().copy() for W, _ in params]
        records[-1]["b_new"] = [None if b is None else b.detach().numpy().copy() for _, b in params]
    return records


def assert_close(ours, theirs, what):
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float),
                               rtol=1e-9, atol=1e-13, err_msg=what)


def compare(spec, steps, detail="auto"):
    trace = solve(spec, steps=steps, detail=detail)
    ref = torch_run(spec, steps)
    for record, r in zip(trace.steps, ref):
        s = record.step
        assert_close(record.loss, r["loss"], f"loss step {s}")
        for l, layer in enumerate(record.layers):
            assert_close(layer.z, r["z"][l], f"z layer {l + 1} step {s}")
            assert_close(layer.a, r["a"][l], f"a layer {l + 1} step {s}")
            assert_close(layer.delta, r["delta"][l], f"delta layer {l + 1} step {s}")
            assert_close(layer.grad_weights, r["grad_w"][l], f"grad W layer {l + 1} step {s}")
            if layer.grad_bias is not None:
                assert_close(layer.grad_bias, r["grad_b"][l], f"grad b layer {l + 1} step {s}")
            assert_close(layer.weights, r["W_new"][l], f"W new layer {l + 1} step {s}")
            if layer.bias is not None:
                assert_close(layer.bias, r["b_new"][l], f"b new layer {l + 1} step {s}")
    assert_close(trace.loss_after, ref[steps]["loss"], "loss after")


@pytest.mark.parametrize("seed", range(60))
def test_random_networks_match_torch(seed):
    spec = loads_spec(random_spec(seed, optimizer=OPTIMIZERS[seed % len(OPTIMIZERS)], steps=3))
    compare(spec, 3)


@pytest.mark.parametrize("seed", range(20))
def test_batches_spelled_out_by_the_derivation_match_torch(seed):
    # --detail scalar on a batch: the derivation alone computes it, numpy-free
    spec = loads_spec(random_spec(7000 + seed, optimizer=OPTIMIZERS[seed % len(OPTIMIZERS)], steps=3,
                                  samples=2 + seed % 3))
    compare(spec, 3, detail="scalar")


def test_frozen_and_shared_bias_match_torch():
    spec = loads_spec("""
input: [[0.5, -1.0], [1.5, 0.25]]
target: [[0.2, 0.7], [0.9, 0.1]]
layers:
  - weights: [[0.1, 0.2], [-0.3, 0.4]]
    bias: 0.1
    activation: tanh
    freeze: [weights]
  - weights: [[0.5, -0.6], [0.7, 0.8]]
    bias: [0.05, -0.05]
    activation: sigmoid
    freeze: [bias]
loss: bce
optimizer: {name: adam, lr: 0.1, weight_decay: 0.01}
""")
    compare(spec, 4)


@pytest.mark.parametrize("path", ["bce_2_2_1", "mazur", "softmax_ce", "relu_leaky", "batch_xor", "adam_steps",
                                  "rmsprop_steps", "adagrad_steps"])
def test_shipped_examples_match_torch(path):
    from pathlib import Path

    from backprop_cli.load import load_spec

    spec = load_spec(Path(__file__).parent.parent / "configs" / f"{path}.yaml")
    compare(spec, spec.steps)
