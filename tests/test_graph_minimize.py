"""Gradient descent on a graph (`minimize: f`, issue 12 item 3).

Oracles: gradients written by hand for a quadratic (always) and torch.optim stepping the
same expression's leaves (when torch is installed). CLI cases go through the real entry
point; every bad field exits 2 naming its path.
"""
from __future__ import annotations

import json

import pytest

from backprop_cli.graph.minimize import solve_any_graph
from backprop_cli.load import loads_spec
from tests.cli_proc import cold

QUADRATIC = """\
graph:
  w: 3
  b: -1
  x: 2
  q: w * x + b
  f: (q - 1) ** 2
minimize: f
wrt: [w, b]
optimizer: {opt}
steps: {steps}
"""


def by_hand_momentum(steps: int, lr=0.05, mu=0.9):
    """f = (wx + b − 1)², ∂f/∂w = 2(q − 1)x, ∂f/∂b = 2(q − 1); SGD with momentum."""
    w, b, x, bw, bb, out = 3.0, -1.0, 2.0, None, None, []
    for _ in range(steps):
        q = w * x + b
        gw, gb = 2 * (q - 1) * x, 2 * (q - 1)
        bw = gw if bw is None else mu * bw + gw
        bb = gb if bb is None else mu * bb + gb
        out.append({"f": (q - 1) ** 2, "gw": gw, "w": w - lr * bw, "b": b - lr * bb, "buf_w": bw})
        w, b = w - lr * bw, b - lr * bb
    return out, (w * x + b - 1) ** 2


def test_momentum_by_hand():
    trace = solve_any_graph(loads_spec(QUADRATIC.format(opt="{name: sgd, lr: 0.05, momentum: 0.9}", steps=4)))
    want, after = by_hand_momentum(4)
    for s, row in enumerate(want, 1):
        at = "" if s == 1 else f"@{s}"
        assert trace.named[f"loss{at}"] == pytest.approx(row["f"], rel=1e-12)
        assert trace.named[f"df/dw{at}"] == pytest.approx(row["gw"], rel=1e-12)
        assert trace.named[f"buf_w{at}"] == pytest.approx(row["buf_w"], rel=1e-12)
        assert trace.named[f"w_new{at}"] == pytest.approx(row["w"], rel=1e-12, abs=1e-14)
        assert trace.named[f"b_new{at}"] == pytest.approx(row["b"], rel=1e-12, abs=1e-14)
    assert trace.named["loss_after"] == pytest.approx(after, rel=1e-12)
    assert "x_new" not in trace.named  # x is not a parameter (not in wrt)
    assert [s.step for s in trace.steps] == [1, 2, 3, 4] and len(trace.losses) == 5


@pytest.mark.parametrize("opt", [
    "{name: adam, lr: 0.1}", "{name: rmsprop, lr: 0.01, momentum: 0.5, centered: true}",
    "{name: adagrad, lr: 0.3, lr_decay: 0.1}", "{name: sgd, lr: 0.02, nesterov: true, momentum: 0.8, weight_decay: 0.1}",
])
def test_optimizers_match_torch_on_a_graph(opt):
    torch = pytest.importorskip("torch")
    import yaml

    trace = solve_any_graph(loads_spec(QUADRATIC.format(opt=opt, steps=3)))
    h = yaml.safe_load(opt)
    name = h.pop("name")
    w = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-1.0, dtype=torch.float64, requires_grad=True)
    cls = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad,
           "sgd": torch.optim.SGD}[name]
    optimizer = cls([w, b], **h)
    for s in range(1, 4):
        optimizer.zero_grad()
        f = (w * 2.0 + b - 1) ** 2
        f.backward()
        optimizer.step()
        at = "" if s == 1 else f"@{s}"
        assert trace.named[f"loss{at}"] == pytest.approx(f.item(), rel=1e-9)
        assert trace.named[f"w_new{at}"] == pytest.approx(w.item(), rel=1e-9, abs=1e-12)
        assert trace.named[f"b_new{at}"] == pytest.approx(b.item(), rel=1e-9, abs=1e-12)


def test_cli_json_steps_and_overrides(tmp_path):
    spec = tmp_path / "g.yaml"
    spec.write_text(QUADRATIC.format(opt="{name: sgd, lr: 0.05, momentum: 0.9}", steps=2))
    run = cold(["solve", str(spec), "--format", "json", "--steps", "4"])
    assert run.code == 0, run.describe()
    doc = json.loads(run.stdout)
    want, after = by_hand_momentum(4)
    assert [s["step"] for s in doc["steps"]] == [1, 2, 3, 4]
    assert doc["steps"][2]["updates"]["w"] == pytest.approx(want[2]["w"], rel=1e-12)
    assert doc["losses"][-1] == doc["loss_after"] == pytest.approx(after, rel=1e-12)
    for fmt in ("table", "latex", "markdown"):
        for lang in ("en", "ko"):
            out = cold(["solve", str(spec), "--format", fmt, "--lang", lang, "--round", "3"])
            assert out.code == 0 and "w(3)" in out.stdout, out.describe()
    assert cold(["solve", str(spec), "--steps", "5000"]).code == 2


@pytest.mark.parametrize("edit,path", [
    (lambda t: t.replace("minimize: f", "minimize: w"), "minimize"),
    (lambda t: t.replace("minimize: f", "minimize: g"), "minimize"),
    (lambda t: t.replace("minimize: f\n", ""), "optimizer"),
    (lambda t: t.replace("optimizer: {name: sgd, lr: 0.1}\n", ""), "optimizer"),
    (lambda t: t.replace("  x: 2", "  lr: 2").replace("w * x", "w * lr"), "graph.lr"),
    (lambda t: t.replace("  x: 2", "  w_new: 2").replace("w * x", "w * w_new"), "graph.w_new"),
    (lambda t: t.replace("steps: 2", "steps: 0"), "steps"),
    (lambda t: t + "output: q\n", "output"),
    (lambda t: t.replace("{name: sgd, lr: 0.1}", "{name: sgd, lr: 0.1, betas: [0.9, 0.9]}"), "optimizer.betas"),
])
def test_bad_descent_fields_exit_2_with_their_path(tmp_path, edit, path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(edit(QUADRATIC.format(opt="{name: sgd, lr: 0.1}", steps=2)))
    run = cold(["validate", str(spec)])
    assert run.code == 2 and path in run.stderr and "Traceback" not in run.stderr, run.describe()


def test_adam_under_round_is_refused_on_scalar_graphs_too(tmp_path):
    """SPEC §7: --round is not available with adam — for a network, a tensor descent and
    a scalar descent alike."""
    spec = tmp_path / "adam.yaml"
    spec.write_text("graph: {w1: 0, w2: 0, a: w1 - 2, b: w2 + 1, f: a ** 2 + 3 * b ** 2}\nminimize: f\n"
                    "optimizer: {name: adam, lr: 0.1}\nsteps: 2\n")
    run = cold(["solve", spec, "--round", "4"])
    assert run.code == 2 and "--round is not available with adam" in run.stderr, run.describe()
    assert cold(["solve", spec]).code == 0
