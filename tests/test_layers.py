"""Typed layers (issue 12, items 1 and 5): PyTorch float64 parity on random instances of
every layer type and combination (when torch is installed), finite differences always,
the derivation notes, and bad input for every new field (exit 2 with the field path).
"""
from __future__ import annotations

import importlib.util
import json
import random

import numpy as np
import pytest

from backprop_cli.network.typed_solve import solve_layered
from backprop_cli.load import loads_spec
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
        stride, pad = rng.choice([(1, 0), (1, 1), (2, 0), (2, 1)]) if kind == "conv2d" else (1, 0)
        k = 3 if (kind == "conv2d" and stride == 2) else 2 if kind != "conv2d" else rng.choice([2, 3])
        if kind == "conv2d" and stride == 1 and pad == 1:
            k = 3
        if stride == 2:  # 5 − 3 is a multiple of 2; with padding 1 on 6 only the last padded column is unread
            H = 5 if pad == 0 else 6
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
        if kind == "batchnorm":  # affine → batch norm → activation layer (CS231n's order)
            layers.append(f"  - type: batchnorm\n    gamma: {_arr(rng, (Hd,))}\n    beta: {_arr(rng, (Hd,), 0.2)}\n"
                          f"    momentum: 0.2\n    running_mean: {_arr(rng, (Hd,))}\n    running_var: [" +
                          ", ".join("1.5" for _ in range(Hd)) + "]\n")
            layers.append(rng.choice(["  - type: relu\n", "  - type: tanh\n", "  - type: sigmoid\n",
                                      "  - type: leaky_relu\n    slope: 0.1\n"]))
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
        if every and seed % 2:  # a character-level RNN: softmax over 3 classes at every time step
            layers[1] = f"  - weights: {_arr(rng, (3, Hn), 0.8)}\n    bias: {_arr(rng, (3,), 0.1)}\n    activation: softmax\n"
            loss, out = "cross_entropy", (T, 3)
    xs = _arr(rng, (N,) + x if N > 1 else x, 1.0)
    if loss == "cross_entropy" and len(out) == 2:  # one class index per time step
        one = lambda: "[" + ", ".join(str(rng.randrange(out[1])) for _ in range(out[0])) + "]"  # noqa: E731
        ts = "[" + ", ".join(one() for _ in range(N)) + "]" if N > 1 else one()
    elif loss == "cross_entropy":
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



@pytest.mark.parametrize("seed", [3, 104])
def test_stride_that_drops_only_padding_is_accepted(seed):
    """3×3, stride 2, padding 1 on an even size (ResNet's downsampling): PyTorch's floor
    leaves only the last padded column unread — no input lost, so no error."""
    text = case("conv2d", seed)
    assert "stride: 2\n    padding: 1" in text and "[[[[" in text
    spec = loads_spec(text)
    trace = solve_layered(spec, steps=1)
    for st, want in zip(trace.steps[0].layers, finite_differences(spec)):
        for name, g in want.items():
            np.testing.assert_allclose(st.grads[name], g, rtol=1e-5, atol=1e-7, err_msg=f"L{st.layer}.{name}")
    if importlib.util.find_spec("torch") is not None:
        ref = torch_run(spec, 1)
        for st in trace.steps[0].layers:
            for name in st.params:
                close(st.grads[name], ref[0]["grads"][st.layer - 1][name], f"grad L{st.layer}.{name}")

# ---------------------------------------------------------------------------------------
# shipped examples: one per layer type, keys computed by PyTorch


LAYER_EXAMPLES = ["cnn_maxpool", "cnn_avgpool", "conv1d_signal", "batchnorm_mlp", "layernorm_mlp", "dropout_mlp",
                  "rnn_bptt", "lstm_sequence"]


def test_every_layer_type_has_a_shipped_example():
    from pathlib import Path

    from backprop_cli.load import load_spec

    seen = set()
    for stem in LAYER_EXAMPLES:
        spec = load_spec(Path(__file__).parent.parent / "configs" / f"{stem}.yaml")
        seen |= {layer.type for layer in spec.layers}
    assert seen >= {"conv2d", "conv1d", "maxpool2d", "avgpool2d", "flatten", "batchnorm", "layernorm", "dropout",
                    "rnn", "lstm", "dense"}


@pytest.mark.parametrize("stem", LAYER_EXAMPLES)
def test_shipped_layer_keys_agree_with_torch(stem):
    pytest.importorskip("torch")
    from pathlib import Path

    import yaml

    from backprop_cli.load import load_spec
    from tests.layer_oracles import torch_named

    configs = Path(__file__).parent.parent / "configs"
    named = torch_named(load_spec(configs / f"{stem}.yaml"))
    key = yaml.safe_load((configs / f"{stem}.key.yaml").read_text())["named"]
    assert len(key) >= 10
    for name, expected in key.items():
        text = str(expected)
        decimals = len(text.split(".")[1]) if "." in text and "e" not in text.lower() else None
        tol = 1.5 * 10 ** -decimals if decimals is not None else abs(float(expected)) * 1e-3 + 1e-12
        assert abs(named[name] - float(expected)) <= tol, (stem, name, expected, named[name])


def test_shipped_examples_check_clean_and_flag_an_erratum(tmp_path):
    import shutil
    from pathlib import Path

    configs = Path(__file__).parent.parent / "configs"
    run = cold(["check"] + [str(configs / f"{stem}.yaml") for stem in LAYER_EXAMPLES])
    assert run.code == 0, run.describe()
    # a published erratum: the BPTT gradient with only the last step's contribution
    shutil.copy(configs / "rnn_bptt.yaml", tmp_path / "rnn.yaml")
    trace = solve_layered(loads_spec((configs / "rnn_bptt.yaml").read_text()))
    last_only = trace.steps[0].layers[0].notes  # the derivation lists each step's share
    assert any("contribution of t = 3" in line for note in last_only for line in note.lines)
    right = trace.named["dL/dL1.W_hh[1,1]"]
    (tmp_path / "rnn.key.yaml").write_text(f"named:\n  dL/dL1.W_hh[1,1]: {-right:.6f}\n  loss: {trace.named['loss']:.6f}\n")
    run = cold(["check", str(tmp_path / "rnn.yaml"), "--format", "json"])
    assert run.code == 1, run.describe()
    result = next(r for r in json.loads(run.stdout)["specs"][0]["results"] if not r["ok"])
    assert result["name"] == "dL/dL1.W_hh[1,1]" and "sign" in result["cause"]


# ---------------------------------------------------------------------------------------
# bad input: every new field, exit 2 with its path


BASE_CONV = """\
input: [[[1, 2, 0, 1], [0, 1, 3, 1], [2, 1, 0, 2], [1, 0, 1, 1]]]
target: [0.5]
layers:
  - type: conv2d
    weights: [[[[0.1, -0.2], [0.3, 0.4]]]]
    stride: 1
  - type: maxpool2d
    kernel: 3
  - type: flatten
  - weights: [[0.5]]
loss: mse
lr: 0.1
"""
BASE_RNN = """\
input: [[1.0], [0.5], [-1.0]]
target: [0.5]
layers:
  - type: rnn
    W_xh: [[0.5], [-0.3]]
    W_hh: [[0.1, 0.4], [-0.2, 0.3]]
    b: [0.0, 0.1]
  - type: dropout
    p: 0.5
    mask: [1, 0]
  - weights: [[0.8, -0.6]]
loss: mse
lr: 0.1
"""
BASE_BN = """\
input: [[1, 2], [2, 0], [0, 1]]
target: [[1], [0], [1]]
layers:
  - weights: [[0.2, -0.5], [0.8, 0.1]]
  - type: batchnorm
    gamma: [1.0, 0.5]
    momentum: 0.2
  - weights: [[0.3, -0.4]]
    activation: sigmoid
loss: bce
lr: 0.1
"""
BASE_CHAR = """\
input: [[1, 0], [0, 1], [1, 1]]
target: [0, 2, 1]
layers:
  - type: rnn
    W_xh: [[0.1, 0.2], [0.3, -0.1]]
    W_hh: [[0.5, -0.2], [0.0, 0.3]]
    output: all
  - weights: [[1.0, -1.0], [0.5, 0.2], [-0.3, 0.8]]
    activation: softmax
loss: cross_entropy
lr: 0.1
"""
BAD = [
    (BASE_CHAR, "target: [0, 2, 1]", "target: [0, 2]", "target", "one per time step"),
    (BASE_BN, "momentum: 0.2", "momentum: 2", "layers[1].momentum", "[0, 1]"),
    (BASE_BN, "momentum: 0.2", "momentum: 0.2\n    running_var: [1, -1]", "layers[1].running_var", "never negative"),
    (BASE_BN, "momentum: 0.2", "momentum: 0.2\n    eps: -1", "layers[1].eps", "≥ 0"),
    (BASE_BN, "gamma: [1.0, 0.5]", "gamma: [1.0]", "layers[1].gamma", "shape"),
    (BASE_CHAR, "target: [0, 2, 1]", "target: [0, 2, 3]", "target[2]", "class index 0…2"),
    (BASE_CHAR, "target: [0, 2, 1]", "target: [0, [0.5, -0.5, 1], 1]", "target[1]", "non-negative"),
    (BASE_CONV, "[[[[0.1, -0.2], [0.3, 0.4]]]]", "[[[[0.1, -0.2, 0.1, 0.1, 0.1], [0.3, 0.4, 0.1, 0.1, 0.1]]]]",
     "layers[0].weights", "kernel larger"),
    (BASE_CONV, "    stride: 1\n", "    stride: 3\n", "layers[0].stride", "stride does not fit"),
    (BASE_CONV, "    kernel: 3\n", "    kernel: 2\n", "layers[1].stride", "stride does not fit"),
    (BASE_CONV, "    kernel: 3\n", "    kernel: 4\n", "layers[1].kernel", "kernel larger"),
    (BASE_CONV, "[[[[0.1, -0.2], [0.3, 0.4]]]]", "[[[[0.1, -0.2], [0.3, 0.4]], [[0.1, -0.2], [0.3, 0.4]]]]",
     "layers[0].weights", "channel mismatch"),
    (BASE_CONV, "  - type: flatten\n", "  - type: flaten\n", "layers[2].type", "did you mean 'flatten'"),
    (BASE_CONV, "    stride: 1\n", "    stride: 0\n", "layers[0].stride", "from 1 to 10000"),
    (BASE_CONV, "    stride: 1\n", "    strides: 1\n", "layers[0].strides", "did you mean 'stride'"),
    (BASE_RNN, "mask: [1, 0]", "mask: [1, 0, 1]", "layers[1].mask", "shape"),
    (BASE_RNN, "mask: [1, 0]", "mask: [1, 0.5]", "layers[1].mask", "0s and 1s"),
    (BASE_RNN, "p: 0.5", "p: 1", "layers[1].p", "[0, 1)"),
    (BASE_RNN, "input: [[1.0], [0.5], [-1.0]]", "input: [[[1.0], [0.5], [-1.0]], [[1.0], [0.5]]]",
     "input[1]", "sequence length mismatch"),
    (BASE_RNN, "W_hh: [[0.1, 0.4], [-0.2, 0.3]]", "W_hh: [[0.1, 0.4, 0.1], [-0.2, 0.3, 0.1]]", "layers[0].W_hh",
     "shape"),
    (BASE_RNN, "W_xh: [[0.5], [-0.3]]", "W_xh: [[0.5, 0.1], [-0.3, 0.1]]", "layers[0].W_xh", "shape"),
    (BASE_RNN, "    b: [0.0, 0.1]\n", "    b: [0.0, 0.1]\n    output: every\n", "layers[0].output", "last or all"),
    (BASE_RNN.replace("  - type: dropout\n    p: 0.5\n    mask: [1, 0]\n", ""), "    b: [0.0, 0.1]\n",
     "    b: [0.0, 0.1]\n    output: all\n", "target", "one target per time step"),
    (BASE_RNN, "    b: [0.0, 0.1]\n", "    b: [0.0, 0.1]\n    h0: [0.0]\n", "layers[0].h0", "shape"),
    (BASE_RNN, "  - type: dropout\n", "  - type: batchnorm\n    momentum: 0.1\n  - type: dropout\n", "layers[1]",
     "more than one value per channel"),
]


@pytest.mark.parametrize("base,old,new,path,words", BAD, ids=[f"{b[3]}-{b[4]}" for b in BAD])
def test_bad_layer_fields(tmp_path, base, old, new, path, words):
    assert old in base
    spec = tmp_path / "bad.yaml"
    spec.write_text(base.replace(old, new, 1))
    run = cold(["validate", str(spec)])
    assert run.code == 2, run.describe()
    assert path in run.stderr and words in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert run.stdout == ""


def test_check_names_the_causes_of_typed_layer_errata(tmp_path):
    """A BPTT gradient with only the last step's share, an update in the wrong direction,
    swapped indices — each named; the expected values are derived from the torch oracle."""
    from pathlib import Path

    from tests.layer_oracles import torch_run

    pytest.importorskip("torch")
    configs = Path(__file__).parent.parent / "configs"
    spec = loads_spec((configs / "rnn_bptt.yaml").read_text())
    ref = torch_run(spec, 1)[0]
    # the last step's share of ∂L/∂W_hh, by hand from the torch forward: δ_3ᵀ h_2
    import numpy as np

    x = spec.input[0]
    W_xh, W_hh, b = (spec.layers[0].params[k] for k in ("W_xh", "W_hh", "b"))
    h = [np.zeros(2)]
    for t in range(3):
        h.append(np.tanh(W_xh @ x[t] + W_hh @ h[-1] + b))
    dh3 = ref["grad_out"][0][0]
    share = np.outer(dh3 * (1 - h[3] ** 2), h[2])
    g = ref["grads"][0]["W_hh"]
    old = spec.layers[0].params["W_hh"]
    (tmp_path / "rnn.yaml").write_text((configs / "rnn_bptt.yaml").read_text())
    (tmp_path / "rnn.key.yaml").write_text(
        f"named:\n  dL/dL1.W_hh[1,2]: {share[0, 1]:.6f}\n  L1.W_hh_new[1,1]: {old[0, 0] + 0.1 * g[0, 0]:.6f}\n"
        f"  dL/dL1.W_hh[2,1]: {g[0, 1]:.6f}\n")
    run = cold(["check", str(tmp_path / "rnn.yaml"), "--format", "json"])
    assert run.code == 1, run.describe()
    causes = {r["name"]: r["cause"] for r in json.loads(run.stdout)["specs"][0]["results"]}
    assert "stopped at the last step" in causes["dL/dL1.W_hh[1,2]"]
    assert "wrong direction" in causes["L1.W_hh_new[1,1]"]
    assert causes["dL/dL1.W_hh[2,1]"] == "matches dL/dL1.W_hh[1,2]: indices swapped?"


POOL_NET = """\
input: [[[1, 2, 0, 1], [0, 1, 3, 2], [2, 1, 0, 1], [1, 0, 2, 3]]]
target: [1.0, 0.5]
layers:
  - type: conv2d
    weights: [[[[1, 0, 0.5], [0.5, 1, -0.5], [0, 0.2, 0.3]]]]
    bias: [0.1]
    padding: 1
    activation: relu
  - type: maxpool2d
    kernel: 2
  - type: flatten
  - weights: [[0.1, 0.2, 0.3, 0.4], [-0.1, 0.2, -0.3, 0.4]]
loss: mse
lr: 0.1
"""


def test_check_names_a_flipped_kernel_and_max_pool_routing(tmp_path):
    """Two CNN errata: ∂L/∂W written 180° rotated (a convolution where PyTorch
    cross-correlates) and a pooled gradient routed to a position that did not win.
    ∂L/∂W comes from finite differences; the window maxima from the conv written here."""
    spec = loads_spec(POOL_NET)
    dW = finite_differences(spec)[0]["weights"][0, 0]  # (3, 3)
    # the conv's output by hand (zero padding 1, cross-correlation), then relu
    x = np.pad(spec.input[0, 0], 1)
    K = spec.layers[0].params["weights"][0, 0]
    a = np.maximum(np.array([[(x[i:i + 3, j:j + 3] * K).sum() + 0.1 for j in range(4)] for i in range(4)]), 0)
    window = a[:2, :2]  # the first pooling window; its maximum wins
    u, v = divmod(int(window.argmax()), 2)
    loser = (1 - u, v)
    trace = solve_layered(spec)
    g = trace.steps[0].layers[1].grad_output[0, 0, 0, 0]  # the pooled output's gradient
    (tmp_path / "cnn.yaml").write_text(POOL_NET)
    (tmp_path / "cnn.key.yaml").write_text(
        "named:\n"
        f"  dL/dL1.weights[1,1,1,1]: {dW[2, 2]:.6f}\n"
        f"  dL/dL1.weights[1,1,1,2]: {dW[2, 1]:.6f}\n"
        f"  dL/dL1.out[1,{loser[0] + 1},{loser[1] + 1}]: {g:.6f}\n"
        f"  dL/dL1.out[1,{u + 1},{v + 1}]: 0.0\n")
    run = cold(["check", str(tmp_path / "cnn.yaml"), "--format", "json"])
    assert run.code == 1, run.describe()
    causes = {r["name"]: r["cause"] for r in json.loads(run.stdout)["specs"][0]["results"]}
    assert causes["dL/dL1.weights[1,1,1,1]"].startswith("matches dL/dL1.weights[1,1,3,3], the kernel rotated 180°")
    assert "rotated 180°" in causes["dL/dL1.weights[1,1,1,2]"]
    assert causes[f"dL/dL1.out[1,{loser[0] + 1},{loser[1] + 1}]"].startswith("max-pool routing: the gradient of L2.out[1,1,1]")
    assert f"L1.out[1,{u + 1},{v + 1}] = {window[u, v]:.4g}" in causes[f"dL/dL1.out[1,{loser[0] + 1},{loser[1] + 1}]"]
    assert "is the maximum" in causes[f"dL/dL1.out[1,{u + 1},{v + 1}]"]


def test_check_names_lstm_gates_in_another_order(tmp_path):
    """A key whose gate blocks are in a blog's a, i, f, o order: each row matches the
    same element of another gate's block (gradients by finite differences)."""
    from pathlib import Path

    text = (Path(__file__).parent.parent / "configs" / "lstm_sequence.yaml").read_text()
    spec = loads_spec(text)
    H = spec.layers[0].params["W_hh"].shape[1]
    dW = finite_differences(spec)[0]["W_ih"]
    (tmp_path / "lstm.yaml").write_text(text)
    # row 1 of the i block written with the g block's first row (a, i, f, o puts g first)
    (tmp_path / "lstm.key.yaml").write_text(f"named:\n  dL/dL1.W_ih[1,1]: {dW[2 * H, 0]:.6f}\n")
    run = cold(["check", str(tmp_path / "lstm.yaml"), "--format", "json"])
    assert run.code == 1, run.describe()
    cause = json.loads(run.stdout)["specs"][0]["results"][0]["cause"]
    assert cause.startswith(f"matches dL/dL1.W_ih[{2 * H + 1},1], the same element of the g gate's rows"), cause


def test_check_names_the_wrong_variance_of_batch_norm(tmp_path):
    """Batch norm's classic slips, computed here by hand: normalising with the unbiased
    variance (÷ (M − 1)), and running_var updated with the biased one."""
    from pathlib import Path

    text = (Path(__file__).parent.parent / "configs" / "batchnorm_mlp.yaml").read_text()
    spec = loads_spec(text)
    h = spec.input @ spec.layers[0].params["weights"].T  # the affine layer (no bias)
    bn = spec.layers[1]
    unbiased = h.var(axis=0, ddof=1)
    xhat = (h - h.mean(axis=0)) / np.sqrt(unbiased + bn.eps)
    out = bn.params["gamma"] * xhat + bn.params["beta"]
    running = (1 - bn.momentum) * bn.running_var + bn.momentum * h.var(axis=0)
    (tmp_path / "bn.yaml").write_text(text)
    (tmp_path / "bn.key.yaml").write_text(
        f"named:\n  L2.var[1]: {unbiased[0]:.6f}\n  L2.xhat[2,3]: {xhat[1, 2]:.6f}\n  L2.out[4,2]: {out[3, 1]:.6f}\n"
        f"  L2.running_var_new[3]: {running[2]:.6f}\n")
    run = cold(["check", str(tmp_path / "bn.yaml"), "--format", "json"])
    assert run.code == 1, run.describe()
    causes = {r["name"]: r["cause"] for r in json.loads(run.stdout)["specs"][0]["results"]}
    for name in ("L2.var[1]", "L2.xhat[2,3]", "L2.out[4,2]"):
        assert causes[name].startswith("normalised with the unbiased variance (÷ (M − 1), M = 4)"), causes
    assert causes["L2.running_var_new[3]"].startswith("running_var updated with the biased batch variance"), causes


def test_a_big_typed_network_reads_in_the_terminal():
    """8 samples × 8 channels of 14×14 and a 10×392 gradient: the terminal shows the first
    slices, rows and values and counts the rest (JSON keeps every value)."""
    rng = np.random.default_rng(3)

    def arr(*shape, scale=1.0):
        return json.dumps(np.round(rng.uniform(-scale, scale, shape), 2).tolist())

    text = (f"input: {arr(8, 3, 16, 16)}\ntarget: {json.dumps([int(k) for k in rng.integers(0, 10, 8)])}\nlayers:\n"
            f"  - {{type: conv2d, weights: {arr(8, 3, 3, 3, scale=0.3)}, activation: relu}}\n"
            f"  - {{type: maxpool2d, kernel: 2}}\n  - {{type: flatten}}\n"
            f"  - {{weights: {arr(10, 392, scale=0.05)}, activation: softmax}}\nloss: cross_entropy\nlr: 0.1\n")
    from backprop_cli.render import render

    trace = solve_layered(loads_spec(text))
    page = render(trace, "table", width=80)
    lines = page.splitlines()
    assert len(lines) < 500, len(lines)
    assert "more slices" in page and "376 more]" in " ".join(page.split())
    assert max(len(line) for line in lines) <= 80
