"""Network matrix detail (issue 11, item 5): the layer-level equations that fill a step's
`equations` when a network is derived in matrix form (batches, big layers).

Every equation is re-evaluated from its own printed operands with NumPy, independently of
the engine that produced the values; the names and shapes follow the textbook form
Z(l) = A(l-1) W(l)ᵀ + b(l), δ(l) = (δ(l+1) W(l+1)) ⊙ σ′(Z(l)), ∂L/∂W(l) = δ(l)ᵀ A(l-1); and
the optimizer's buffers of the previous step are operands, so step 2 checks by hand.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli_proc import ROOT
from tests.test_tensor_graph import _matrix_eval

CONFIGS = ROOT / "configs"
NETWORKS = ["batch_xor.yaml", "adam_steps.yaml", "bce_2_2_1.yaml", "softmax_ce.yaml", "relu_leaky.yaml",
            "mazur.yaml", "rational_relu.yaml"]


def _matrix_doc(cli, path):
    run = cli.run(["solve", str(path), "--format", "json", "--detail", "matrix", "--steps", "2"])
    assert run.code == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("config", NETWORKS)
def test_every_matrix_equation_holds_from_its_printed_operands(cli, config):
    doc = _matrix_doc(cli, CONFIGS / config)
    for step in doc["steps"]:
        names = [e["name"] for e in step["equations"]]
        assert names[:2] == ["Z(1)", "A(1)"] and "loss" in names and "dL/dW(1)" in names
        for e in step["equations"]:
            if e.get("condition"):  # a clamp the printed form leaves out
                continue
            got = _matrix_eval(e["expression"], e["operands"])
            np.testing.assert_allclose(got, np.asarray(e["value"]), rtol=1e-9, atol=1e-12, err_msg=f"{config}: {e['name']}")
            assert list(np.shape(e["value"])) == e["shapes"][e["name"]]


def test_matrix_equations_are_the_layer_records(cli):
    doc = _matrix_doc(cli, CONFIGS / "batch_xor.yaml")
    step = doc["steps"][0]
    eq = {e["name"]: e for e in step["equations"]}
    for layer in step["layers"]:
        l = layer["layer"]
        assert eq[f"Z({l})"]["value"] == layer["z"] and eq[f"delta({l})"]["value"] == layer["delta"]
        assert eq[f"dL/dW({l})"]["value"] == layer["grad_weights"]
        assert eq[f"W({l})_new"]["value"] == layer["weights"]
    assert eq["dL/dW(1)"]["expression"] == "transpose({delta(1)}) @ {X}"
    assert eq["dL/dA(1)"]["expression"] == "{delta(2)} @ {W(2)}"


def test_step_two_momentum_and_adam_use_the_previous_buffers(cli):
    doc = _matrix_doc(cli, CONFIGS / "batch_xor.yaml")  # SGD with momentum
    second = {e["name"]: e for e in doc["steps"][1]["equations"]}
    first = {e["name"]: e for e in doc["steps"][0]["equations"]}
    buf = second["buf_W(1)"]
    assert buf["expression"] == "{momentum} * {buf_W(1)@1} + {dL/dW(1)}"
    assert buf["operands"]["buf_W(1)@1"] == first["buf_W(1)"]["value"]
    adam = _matrix_doc(cli, CONFIGS / "adam_steps.yaml")
    a2 = {e["name"]: e for e in adam["steps"][1]["equations"]}
    assert "{m_W(1)@1}" in a2["m_W(1)"]["expression"] and "{v_W(1)@1}" in a2["v_W(1)"]["expression"]
    assert "** 2" in a2["W(1)_new"]["expression"]  # bias correction of step 2: 1 - beta ** 2


@pytest.mark.parametrize("fmt, words", [("table", ["Z⁽¹⁾ = X @ W⁽¹⁾ᵀ + b⁽¹⁾", "δ⁽¹⁾ = ∂L/∂A⁽¹⁾ ⊙ ∂A⁽¹⁾/∂Z⁽¹⁾"]),
                                        ("latex", [r"Z^{(1)} &= X \, {W^{(1)}}^{\top} + \mathbf{b}^{(1)}"]),
                                        ("markdown", [r"\mathrm{buf}_{W^{(1)}}"])])
def test_renderers_show_the_equations_not_bare_matrices(cli, fmt, words):
    run = cli.run(["solve", str(CONFIGS / "batch_xor.yaml"), "--format", fmt])
    assert run.code == 0, run.stderr
    for w in words:
        assert w in run.stdout, w


# -- layout: in_out (h = xW + b) per layer, and RMSprop/Adagrad in matrix form ----------------

MIXED = """\
input: [[0.5, -1.0, 0.25], [1.5, 0.3, -0.7], [-0.2, 0.8, 1.1], [0.9, -0.4, 0.6]]
target: [[0.2, -0.3], [0.7, 0.1], [-0.5, 0.4], [0.3, 0.9]]
layers:
  - layout: in_out
    weights: [[0.1, -0.2, 0.3, 0.05], [0.4, 0.5, -0.6, 0.2], [-0.3, 0.15, 0.25, -0.1]]
    bias: [0.1, 0.2, -0.1, 0.0]
    activation: tanh
  - weights: [[0.3, -0.1, 0.2, 0.4], [0.2, 0.7, -0.5, 0.1], [-0.1, 0.25, 0.3, -0.2]]
    bias: [0.05, 0.0, -0.05]
    activation: sigmoid
  - layout: in_out
    weights: [[0.3, -0.1], [0.2, 0.7], [-0.1, 0.25]]
    bias: [0.05, 0.0]
loss: mse
"""
OPTIMIZERS = {
    "sgd_momentum": "{name: sgd, lr: 0.3, momentum: 0.9, nesterov: true, weight_decay: 0.01}",
    "adam": "{name: adam, lr: 0.05, weight_decay: 0.02}",
    "rmsprop": "{name: rmsprop, lr: 0.01, alpha: 0.9, eps: 1e-8}",
    "rmsprop_full": "{name: rmsprop, lr: 0.01, alpha: 0.8, eps: 1e-6, momentum: 0.5, centered: true, weight_decay: 0.05}",
    "adagrad": "{name: adagrad, lr: 0.1}",
    "adagrad_full": "{name: adagrad, lr: 0.1, lr_decay: 0.05, initial_accumulator_value: 0.2, weight_decay: 0.01, eps: 1e-9}",
}
STEPS = 3


def _mixed(tmp_path, optimizer: str):
    path = tmp_path / "mixed.yaml"
    path.write_text(MIXED + f"optimizer: {OPTIMIZERS[optimizer]}\nsteps: {STEPS}\n")
    return path


def _matrix_records(cli, path):
    run = cli.run(["solve", str(path), "--format", "json", "--detail", "matrix", "--steps", str(STEPS)])
    assert run.code == 0, run.stderr
    return [{e["name"]: e for e in step["equations"]} for step in json.loads(run.stdout)["steps"]]


def _textbook_forward(x, t, Ws, bs):
    """The book's own matrix form on the matrices as written: Z = A W + b for in_out
    layers, Z = A Wᵀ + b for (out, in) ones; the backward pass likewise per layer."""
    acts, zs = [x], []
    for l, (W, b, in_out) in enumerate(zip(Ws, bs, (True, False, True))):
        z = acts[-1] @ (W if in_out else W.T) + b
        zs.append(z)
        acts.append(np.tanh(z) if l == 0 else (1 / (1 + np.exp(-z)) if l == 1 else z))
    delta = 2 * (acts[-1] - t) / t.size
    grads = [None] * 3
    for l in (2, 1, 0):
        in_out = l != 1
        grads[l] = (acts[l].T @ delta if in_out else delta.T @ acts[l], delta.sum(axis=0))
        if l:
            da = delta @ (Ws[l].T if in_out else Ws[l])
            a = acts[l]
            delta = da * ((1 - a ** 2) if l == 1 else a * (1 - a))
    return zs, grads


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_mixed_layouts_and_every_optimizer_hold_from_their_printed_operands(cli, tmp_path, optimizer):
    steps = _matrix_records(cli, _mixed(tmp_path, optimizer))
    assert len(steps) == STEPS
    for eq in steps:
        for e in eq.values():
            got = _matrix_eval(e["expression"], e["operands"])
            np.testing.assert_allclose(got, np.asarray(e["value"]), rtol=1e-9, atol=1e-12, err_msg=e["name"])
            assert list(np.shape(e["value"])) == e["shapes"][e["name"]]
    first = steps[0]
    # the written layout per layer: (in, out) for layers 1 and 3, (out, in) for layer 2
    assert first["Z(1)"]["expression"] == "{X} @ {W(1)} + {b(1)}"
    assert first["Z(2)"]["expression"] == "{A(1)} @ transpose({W(2)}) + {b(2)}"
    assert first["dL/dW(3)"]["expression"] == "transpose({A(2)}) @ {delta(3)}"
    assert first["dL/dW(2)"]["expression"] == "transpose({delta(2)}) @ {A(1)}"
    assert first["dL/dA(2)"]["expression"] == "{delta(3)} @ transpose({W(3)})"
    assert first["dL/dA(1)"]["expression"] == "{delta(2)} @ {W(2)}"
    assert np.shape(first["W(1)_new"]["value"]) == (3, 4) and np.shape(first["W(2)_new"]["value"]) == (3, 4)
    # and the numbers are the textbook's, computed here from the spec as written
    x, t = np.asarray(first["Z(1)"]["operands"]["X"]), np.asarray(first["loss"]["operands"]["T"])
    Ws = [np.asarray(first[f"Z({l})"]["operands"][f"W({l})"]) for l in (1, 2, 3)]
    bs = [np.asarray(first[f"Z({l})"]["operands"][f"b({l})"]) for l in (1, 2, 3)]
    np.testing.assert_allclose(Ws[0], [[0.1, -0.2, 0.3, 0.05], [0.4, 0.5, -0.6, 0.2], [-0.3, 0.15, 0.25, -0.1]])
    zs, grads = _textbook_forward(x, t, Ws, bs)
    for l in (1, 2, 3):
        np.testing.assert_allclose(first[f"Z({l})"]["value"], zs[l - 1], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(first[f"dL/dW({l})"]["value"], grads[l - 1][0], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(first[f"dL/db({l})"]["value"], grads[l - 1][1], rtol=1e-10, atol=1e-14)
    # step 2 reads the previous step's buffers and weights
    state = {"sgd_momentum": "buf", "adam": "m", "rmsprop": "sq", "rmsprop_full": "gavg",
             "adagrad": "sum", "adagrad_full": "sum"}[optimizer]
    second = steps[1][f"{state}_W(1)"]
    assert second["operands"][f"{state}_W(1)@1"] == first[f"{state}_W(1)"]["value"]
    assert steps[1]["Z(1)"]["operands"]["W(1)"] == first["W(1)_new"]["value"]


def _torch_run(torch, optimizer: str, x, t, Ws, bs):
    """torch.optim on nn.Linear-style (out, in) parameters: each step's written weights and state."""
    params = []
    for W, b, in_out in zip(Ws, bs, (True, False, True)):
        w = torch.tensor(np.asarray(W).T if in_out else np.asarray(W), dtype=torch.float64, requires_grad=True)
        params += [w, torch.tensor(np.asarray(b), dtype=torch.float64, requires_grad=True)]
    spec = yaml_optimizer(optimizer)
    name = spec.pop("name")
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop,
           "adagrad": torch.optim.Adagrad}[name]
    opt = cls(params, **spec)
    X, T = torch.tensor(x, dtype=torch.float64), torch.tensor(t, dtype=torch.float64)
    out = []
    for _ in range(STEPS):
        opt.zero_grad()
        h = torch.tanh(X @ params[0].T + params[1])
        h = torch.sigmoid(h @ params[2].T + params[3])
        y = h @ params[4].T + params[5]
        torch.nn.functional.mse_loss(y, T).backward()
        opt.step()
        written = lambda k: params[2 * k].detach().numpy().copy().T if k != 1 else params[2 * k].detach().numpy().copy()  # noqa: E731
        states = {k: {s: (v.numpy().T if k != 1 else v.numpy()).copy() for s, v in opt.state[params[2 * k]].items()
                      if torch.is_tensor(v) and v.ndim == 2} for k in range(3)}
        out.append(([written(k) for k in range(3)], states))
    return out


def yaml_optimizer(optimizer: str) -> dict:
    import yaml

    spec = dict(yaml.safe_load(OPTIMIZERS[optimizer]))
    return {k: v if isinstance(v, (bool, str)) and k in ("name", "nesterov", "centered") else float(v)
            for k, v in spec.items()}


@pytest.mark.parametrize("optimizer", ["rmsprop", "rmsprop_full", "adagrad", "adagrad_full", "adam", "sgd_momentum"])
def test_matrix_updates_match_torch_optim(cli, tmp_path, optimizer):
    torch = pytest.importorskip("torch")
    steps = _matrix_records(cli, _mixed(tmp_path, optimizer))
    first = steps[0]
    x, t = np.asarray(first["Z(1)"]["operands"]["X"]), np.asarray(first["loss"]["operands"]["T"])
    Ws = [np.asarray(first[f"Z({l})"]["operands"][f"W({l})"]) for l in (1, 2, 3)]
    bs = [np.asarray(first[f"Z({l})"]["operands"][f"b({l})"]) for l in (1, 2, 3)]
    ours = {"square_avg": "sq", "grad_avg": "gavg", "momentum_buffer": "buf", "sum": "sum", "exp_avg": "m",
            "exp_avg_sq": "v"}
    for s, (weights, states) in enumerate(_torch_run(torch, optimizer, x, t, Ws, bs)):
        for l in (1, 2, 3):
            np.testing.assert_allclose(steps[s][f"W({l})_new"]["value"], weights[l - 1], rtol=1e-10, atol=1e-13,
                                       err_msg=f"{optimizer} step {s + 1} W({l})")
            compared = 0
            for torch_name, value in states[l - 1].items():
                mine = steps[s].get(f"{ours[torch_name]}_W({l})")
                if mine is not None:
                    np.testing.assert_allclose(mine["value"], value, rtol=1e-10, atol=1e-13, err_msg=torch_name)
                    compared += 1
            assert compared, f"no optimizer state of layer {l} compared"


@pytest.mark.parametrize("optimizer", ["rmsprop_full", "adagrad_full"])
def test_matrix_updates_agree_with_the_scalar_derivation(cli, tmp_path, optimizer):
    """The same spec derived one weight at a time (--detail scalar) names every element:
    sq_W5@2 is element 5 of sq_W(l) at step 2, counted (out, in) row-major whatever the layout."""
    path = _mixed(tmp_path, optimizer)
    steps = _matrix_records(cli, path)
    run = cli.run(["solve", str(path), "--format", "json", "--detail", "scalar", "--steps", str(STEPS)])
    assert run.code == 0, run.stderr
    named = json.loads(run.stdout)["named"]
    states = ("sq", "gavg", "buf") if optimizer.startswith("rmsprop") else ("sum",)
    checked, offset = 0, 0
    for l, in_out in zip((1, 2, 3), (True, False, True)):
        for s in range(1, STEPS + 1):
            suffix = "" if s == 1 else f"@{s}"
            for state in states + ("new",):
                record = steps[s - 1][f"W({l})_new" if state == "new" else f"{state}_W({l})"]
                arr = np.asarray(record["value"])
                canonical = (arr.T if in_out else arr).ravel()
                for k, v in enumerate(canonical):
                    key = f"W{offset + k + 1}_new{suffix}" if state == "new" else f"{state}_W{offset + k + 1}{suffix}"
                    assert named[key] == pytest.approx(v, rel=1e-10, abs=1e-13), key
                    checked += 1
        offset += np.asarray(steps[0][f"W({l})_new"]["value"]).size
    assert checked == (len(states) + 1) * STEPS * 30  # 12 + 12 + 6 weights


@pytest.mark.parametrize("config", ["rmsprop_steps.yaml", "adagrad_steps.yaml"])
def test_shipped_adaptive_examples_in_matrix_form(cli, config):
    doc = _matrix_doc(cli, CONFIGS / config)
    for step in doc["steps"]:
        for e in step["equations"]:
            got = _matrix_eval(e["expression"], e["operands"])
            np.testing.assert_allclose(got, np.asarray(e["value"]), rtol=1e-9, atol=1e-12, err_msg=e["name"])
    names = {e["name"] for e in doc["steps"][1]["equations"]}
    assert ({"sq_W(1)", "buf_W(1)", "W(1)_new"} <= names) if "rmsprop" in config else ({"sum_W(2)", "W(2)_new"} <= names)


@pytest.mark.parametrize("fmt, words", [
    ("table", ["s[W⁽¹⁾] = ρ · s[W⁽¹⁾] (step 1) + (1 − ρ) · ∂L/∂W⁽¹⁾²",
               "buf[W⁽¹⁾] = μ · buf[W⁽¹⁾] (step 1) + ∂L/∂W⁽¹⁾ ÷ (√(s[W⁽¹⁾]) + ε)"]),
    ("latex", [r"s_{W^{(1)}} &= \rho \cdot s_{W^{(1)}}\big|_{\text{step 1}} + \left(1 - \rho\right) \cdot",
               r"\sqrt{s_{W^{(1)}}} + \epsilon"]),
    ("markdown", [r"\bar{g}_{W^{(1)}}", r"\sqrt{s_{W^{(1)}} - {\bar{g}_{W^{(1)}}}^{2}}"]),
])
def test_adaptive_optimizers_render_in_matrix_form(cli, tmp_path, fmt, words):
    spec = CONFIGS / "rmsprop_steps.yaml"
    if fmt == "markdown":
        spec = _mixed(tmp_path, "rmsprop_full")
    run = cli.run(["solve", str(spec), "--format", fmt, "--detail", "matrix", "--steps", "2"])
    assert run.code == 0, run.stderr
    for w in words:
        assert w in run.stdout, (w, run.stdout[-4000:])
