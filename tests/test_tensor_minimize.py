"""Gradient descent on tensor graphs (`minimize:` with vectors and matrices, issue 12 item 3).

Oracles: torch.optim stepping the same problems' tensors in float64 (when torch is
installed), central finite differences of NumPy forward passes written here and SGD
steps worked with NumPy (always), re-evaluation of every JSON equation (scalar and
element records by the shared verify_equations tool, matrix records by the tensor
tests' NumPy evaluator). Bad input goes through the real `backprop` command: exit 2
with the field path, line and column.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from backprop_cli.graph.minimize import solve_any_graph
from backprop_cli.load import loads_spec
from tests.cli_proc import ROOT
from tests.test_tensor_graph import _matrix_eval

CONFIGS = ROOT / "configs"


def _at(name: str, s: int) -> str:
    return name if s == 1 else f"{name}@{s}"


def _yaml_list(a) -> str:
    return json.dumps(np.round(np.asarray(a, dtype=float), 6).tolist())


# -- random problems ------------------------------------------------------------------------
# Each problem: leaves (name → array), the graph's computed nodes, the parameters, and a
# NumPy forward pass of the minimized value (written here, independent of the engine).

def least_squares(rng):
    X, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    leaves = {"X": X, "y": y, "w": rng.normal(size=3) * 0.5, "b": np.asarray(rng.normal() * 0.3)}
    nodes = {"r": "X @ w + b - y", "f": "sum(r ** 2) / 5"}
    return leaves, nodes, ["w", "b"], lambda v: float(np.sum((v["X"] @ v["w"] + v["b"] - v["y"]) ** 2) / 5)


def logistic(rng):
    X, t = rng.normal(size=(6, 2)), (rng.random(6) > 0.5) * 1.0
    leaves = {"X": X, "t": t, "w": rng.normal(size=2) * 0.5}
    nodes = {"p": "sigmoid(X @ w)", "f": "-mean(t * log(p) + (1 - t) * log(1 - p))"}

    def f(v):
        p = 1 / (1 + np.exp(-(v["X"] @ v["w"])))
        return float(-np.mean(v["t"] * np.log(p) + (1 - v["t"]) * np.log(1 - p)))
    return leaves, nodes, ["w"], f


def matrix_norm(rng):
    A, x, b = rng.normal(size=(3, 4)) * 0.5, rng.normal(size=4), rng.normal(size=3)
    leaves = {"A": A, "x": x, "b": b}
    nodes = {"q": "A @ x - b", "f": "norm(q) ** 2"}
    return leaves, nodes, ["A", "b"], lambda v: float(np.sum((v["A"] @ v["x"] - v["b"]) ** 2))


PROBLEMS = {"least_squares": least_squares, "logistic": logistic, "matrix_norm": matrix_norm}

OPTIMIZERS = [
    "{name: sgd, lr: 0.05}",
    "{name: sgd, lr: 0.03, momentum: 0.9}",
    "{name: sgd, lr: 0.02, momentum: 0.8, nesterov: true, weight_decay: 0.1}",
    "{name: adam, lr: 0.05}",
    "{name: adam, lr: 0.02, betas: [0.8, 0.95], eps: 1.0e-6, weight_decay: 0.01}",
    "{name: rmsprop, lr: 0.01}",
    "{name: rmsprop, lr: 0.01, alpha: 0.9, momentum: 0.5, centered: true, weight_decay: 0.05}",
    "{name: adagrad, lr: 0.1}",
    "{name: adagrad, lr: 0.2, lr_decay: 0.1, initial_accumulator_value: 0.5, weight_decay: 0.02}",
]


def spec_text(leaves, nodes, wrt, opt: str, steps: int) -> str:
    lines = ["graph:"]
    for name, value in leaves.items():
        value = np.asarray(value)
        lines.append(f"  {name}: {_yaml_list(value) if value.ndim else repr(round(float(value), 6))}")
    lines += [f"  {name}: {expr}" for name, expr in nodes.items()]
    lines += ["minimize: f", f"wrt: [{', '.join(wrt)}]", f"optimizer: {opt}", f"steps: {steps}"]
    return "\n".join(lines) + "\n"


def rounded_leaves(leaves):
    """The leaves as the spec file writes them (6 decimals)."""
    return {k: np.round(np.asarray(v, dtype=float), 6) for k, v in leaves.items()}


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_matches_torch_optim(problem, opt):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(abs(hash((problem, opt))) % 2**32)
    leaves, nodes, wrt, _ = PROBLEMS[problem](rng)
    steps = 4
    trace = solve_any_graph(loads_spec(spec_text(leaves, nodes, wrt, opt, steps)))
    values = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k in wrt) for k, v in rounded_leaves(leaves).items()}
    h = yaml.safe_load(opt)
    cls = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad,
           "sgd": torch.optim.SGD}[h.pop("name")]
    optimizer = cls([values[p] for p in wrt], **h)

    def forward(v):
        if problem == "least_squares":
            return ((v["X"] @ v["w"] + v["b"] - v["y"]) ** 2).sum() / 5
        if problem == "logistic":
            p = torch.sigmoid(v["X"] @ v["w"])
            return -(v["t"] * torch.log(p) + (1 - v["t"]) * torch.log(1 - p)).mean()
        return torch.linalg.vector_norm(v["A"] @ v["x"] - v["b"]) ** 2

    for s in range(1, steps + 1):
        optimizer.zero_grad()
        f = forward(values)
        f.backward()
        assert trace.named[_at("loss", s)] == pytest.approx(f.item(), rel=1e-9, abs=1e-12)
        for p in wrt:
            np.testing.assert_allclose(trace.steps[s - 1].gradients[p], values[p].grad.numpy(), rtol=1e-9, atol=1e-12)
        optimizer.step()
        for p in wrt:
            np.testing.assert_allclose(trace.steps[s - 1].updates[p], values[p].detach().numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=f"{p} after step {s}")
            state = optimizer.state[values[p]]
            ours = {"momentum_buffer": "buf", "exp_avg": "m", "exp_avg_sq": "v", "square_avg": "sq",
                    "grad_avg": "gavg", "sum": "sum"}
            for theirs, prefix in ours.items():
                if theirs in state and (prefix != "buf" or state[theirs] is not None):
                    np.testing.assert_allclose(trace.array(_at(f"{prefix}_{p}", s)), state[theirs].numpy(),
                                               rtol=1e-9, atol=1e-12, err_msg=f"{prefix}_{p}@{s}")
    with torch.no_grad():
        assert trace.named["loss_after"] == pytest.approx(forward(values).item(), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_gradients_match_finite_differences_at_every_step(problem):
    rng = np.random.default_rng(7)
    leaves, nodes, wrt, f = PROBLEMS[problem](rng)
    trace = solve_any_graph(loads_spec(spec_text(leaves, nodes, wrt, "{name: sgd, lr: 0.05, momentum: 0.9}", 3)))
    for record in trace.steps:
        point = {k: np.asarray(v, dtype=float) for k, v in record.values.items()}
        for p in wrt:
            numeric = np.zeros_like(point[p])
            for index in np.ndindex(point[p].shape):
                h = 1e-6
                up, down = {**point, p: point[p].copy()}, {**point, p: point[p].copy()}
                up[p][index] += h
                down[p][index] -= h
                numeric[index] = (f(up) - f(down)) / (2 * h)
            np.testing.assert_allclose(record.gradients[p], numeric, rtol=1e-6, atol=1e-8)
            assert record.values["f"] == pytest.approx(f(point), rel=1e-12)


def test_sgd_momentum_worked_with_numpy():
    """buf = μ·buf + g, w ← w − lr·buf, with g = 2Xᵀ(Xw + b − y)/n written out here."""
    rng = np.random.default_rng(3)
    leaves, nodes, wrt, _ = least_squares(rng)
    trace = solve_any_graph(loads_spec(spec_text(leaves, nodes, wrt, "{name: sgd, lr: 0.05, momentum: 0.9}", 5)))
    v = rounded_leaves(leaves)
    w, b, buf_w, buf_b = v["w"], float(v["b"]), None, None
    for s in range(1, 6):
        r = v["X"] @ w + b - v["y"]
        gw, gb = 2 * v["X"].T @ r / 5, 2 * r.sum() / 5
        buf_w = gw if buf_w is None else 0.9 * buf_w + gw
        buf_b = gb if buf_b is None else 0.9 * buf_b + gb
        w, b = w - 0.05 * buf_w, b - 0.05 * buf_b
        for i in range(3):
            assert trace.named[_at(f"w_new[{i + 1}]", s)] == pytest.approx(w[i], rel=1e-12, abs=1e-14)
            assert trace.named[_at(f"buf_w[{i + 1}]", s)] == pytest.approx(buf_w[i], rel=1e-12, abs=1e-14)
        assert trace.named[_at("b_new", s)] == pytest.approx(b, rel=1e-12, abs=1e-14)
        assert trace.named[_at("w[1]", s + 1)] == pytest.approx(w[0], rel=1e-12, abs=1e-14)
    assert trace.named["loss_after"] == pytest.approx(np.sum((v["X"] @ w + b - v["y"]) ** 2) / 5, rel=1e-12)


# -- through the command ------------------------------------------------------------------------



def _solve(cli, path, *args) -> dict:
    run = cli.run(["solve", str(path), "--format", "json", *args])
    assert run.code == 0, run.describe()
    return json.loads(run.stdout)


@pytest.mark.parametrize("opt,digits", [
    ("{name: sgd, lr: 0.01, momentum: 0.5}", None), ("{name: sgd, lr: 0.01, momentum: 0.5}", 4),
    ("{name: adam, lr: 0.1}", None), ("{name: rmsprop, lr: 0.01, momentum: 0.5, centered: true}", None),
    ("{name: rmsprop, lr: 0.01, alpha: 0.9}", 4), ("{name: adagrad, lr: 0.1, lr_decay: 0.5}", 3),
    ("{name: sgd, lr: 0.01, nesterov: true, momentum: 0.9, weight_decay: 0.1}", 3),
])
def test_every_json_equation_holds(cli, verifier, tmp_path, opt, digits):
    text = (CONFIGS / "graph_least_squares.yaml").read_text()
    spec = tmp_path / "ls.yaml"
    spec.write_text(text.replace("{name: sgd, lr: 0.01, momentum: 0.5}", opt))
    doc = _solve(cli, spec, *(("--round", str(digits)) if digits is not None else ()))
    assert [s["step"] for s in doc["steps"]] == [1, 2, 3] and doc["loss_after"] == doc["losses"][-1]
    records = doc["equations"] + [e for s in doc["steps"] for e in s["equations"]]
    updates = [e for s in doc["steps"] for e in s["equations"] if e["name"].startswith(("w_new", "b_new"))]
    assert {"w_new", "w_new[2]@3", "b_new@2"} <= {e["name"] for e in updates}
    matrix = [e for e in records if e.get("form") == "matrix"]
    scalar = [e for e in records if e.get("form") != "matrix"]
    bad = [(e["name"], why) for e in scalar if (why := verifier.check(e, digits))]
    assert not bad, bad
    for e in matrix:
        got = _matrix_eval(e["expression"], e["operands"])
        tol = 0 if digits is None else 10 ** -digits * 5 * max(1, len(e["operands"]))
        np.testing.assert_allclose(got, np.asarray(e["value"]), rtol=1e-9, atol=1e-12 + tol, err_msg=e["name"])
        assert list(np.shape(e["value"])) == e["shapes"][e["name"]]
    # the update's matrix form: w_new = w − lr·(its direction), over the step's own names
    w_new = next(e for e in matrix if e["name"] == "w_new@2")
    assert w_new["expression"].startswith("{w@2} - ")
    if digits is not None:  # every element of a hand-rounded run has at most D decimals
        assert all(round(v, digits) == v for k, v in doc["named"].items() if "[" in k and "@" in k)


def test_example_key_checks_green_and_json_shape(cli):
    run = cli.run(["check", str(CONFIGS / "graph_least_squares.yaml")])
    assert run.code == 0, run.describe()
    doc = _solve(cli, CONFIGS / "graph_least_squares.yaml")
    assert doc["kind"] == "graph" and doc["output"] == "f" and doc["shapes"]["w"] == [2]
    step = doc["steps"][1]
    assert set(step) == {"step", "loss", "values", "gradients", "updates", "equations"}
    assert step["updates"]["w"] == doc["steps"][2]["values"]["w"] and isinstance(step["updates"]["b"], float)
    assert len(doc["losses"]) == 4 and doc["named"]["loss@2"] == doc["losses"][1]
    assert doc["equations"][-1]["name"] == "loss_after"


def test_check_diagnoses_an_update_in_the_wrong_direction(cli, tmp_path):
    doc = _solve(cli, CONFIGS / "graph_least_squares.yaml")
    named = doc["named"]
    wrong = 2 * named["w[2]@2"] - named["w_new[2]@2"]  # w + lr·buf instead of w − lr·buf
    key = tmp_path / "k.yaml"
    key.write_text(f"named:\n  w_new[2]@2: {wrong!r}\n  w_new@3: [{named['w_new[1]@3']!r}, {named['w_new[2]@3']!r}]\n")
    run = cli.run(["check", str(CONFIGS / "graph_least_squares.yaml"), "--key", str(key), "--format", "json"])
    assert run.code == 1, run.describe()
    results = [r for spec in json.loads(run.stdout)["specs"] for r in spec["results"]]
    miss = [r for r in results if not r["ok"]]
    assert [r["name"] for r in miss] == ["w_new[2]@2"], run.stdout
    assert "wrong direction" in miss[0]["cause"]


@pytest.mark.parametrize("fmt", ["table", "latex", "markdown"])
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_format_shows_the_matrix_update(cli, fmt, lang):
    run = cli.run(["solve", str(CONFIGS / "graph_least_squares.yaml"), "--format", fmt, "--lang", lang])
    assert run.code == 0, run.describe()
    out = run.stdout
    if fmt == "table":
        assert "w(2) = w - α · buf[w](1)" in out and "w[1](2)" in out and "∂f/∂w(2)" in out
    else:
        assert r"\begin{bmatrix}" in out and "(2)" in out and r"\mathrm{buf}_{w}(1)" in out
    rounded = cli.run(["solve", str(CONFIGS / "graph_least_squares.yaml"), "--format", fmt, "--round", "3",
                       "--show-steps", "all"])
    assert rounded.code == 0 and "(3)" in rounded.stdout, rounded.describe()


def test_steps_option_and_exact(cli):
    doc = _solve(cli, CONFIGS / "graph_least_squares.yaml", "--steps", "5")
    assert len(doc["steps"]) == 5 and "w_new[1]@5" in doc["named"]
    exact = _solve(cli, CONFIGS / "graph_least_squares.yaml", "--exact", "--steps", "2")
    assert exact["exact"]["w_new[1]"] == "43/100" and exact["exact"]["b_new"] == "3/20"


# -- bad input ----------------------------------------------------------------------------------

BASE = (CONFIGS / "graph_least_squares.yaml").read_text()


@pytest.mark.parametrize("edit,where,words", [
    (lambda t: t.replace("minimize: f", "minimize: r"), ("graph.r", ":11:6:"), ("shape (4,)", "scalar")),
    (lambda t: t.replace("wrt: [w, b]", "wrt: [w, r]"), ("wrt[1]", ":14:10:"), ("computed",)),
    (lambda t: t.replace("w: [0, 0]", "w: [0, .nan]"), ("graph.w[1]", ":9:"), ("finite",)),
    (lambda t: t.replace("w: [0, 0]", "w: [0, .inf]"), ("graph.w[1]", ":9:"), ("finite",)),
    (lambda t: t + "grad_output: {f: 1}\n", ("grad_output", ":17:1:"), ("minimize",)),
    (lambda t: t.replace("w: [0, 0]", "w: [0, 0, 0]"), ("graph.r", ":11:6:"), ("shape mismatch",)),
])
def test_bad_input_exits_2_with_path_line_and_column(cli, tmp_path, edit, where, words):
    spec = tmp_path / "bad.yaml"
    spec.write_text(edit(BASE))
    for command in (["validate", str(spec)], ["solve", str(spec), "--format", "json"]):
        run = cli.run(command)
        assert run.code == 2, run.describe()
        assert "Traceback" not in run.stderr and "internal error" not in run.stderr
        for w in where + words:
            assert w in run.stderr, (w, run.stderr)


def test_adam_under_round_is_refused_as_for_networks(cli, tmp_path):
    spec = tmp_path / "adam.yaml"
    spec.write_text(BASE.replace("{name: sgd, lr: 0.01, momentum: 0.5}", "{name: adam, lr: 0.1}"))
    run = cli.run(["solve", str(spec), "--round", "4"])
    assert run.code == 2 and "--round is not available with adam" in run.stderr, run.describe()
    run = cli.run(["check", str(spec), "--key", str(CONFIGS / "graph_least_squares.key.yaml"), "--round", "4"])
    assert run.code == 2 and "adam" in run.stderr, run.describe()


def test_a_diverging_run_names_the_update(cli, tmp_path):
    spec = tmp_path / "big.yaml"
    spec.write_text(BASE.replace("lr: 0.01, momentum: 0.5", "lr: 1.0e+150, momentum: 0.5").replace("steps: 3", "steps: 20"))
    run = cli.run(["solve", str(spec), "--format", "json"])
    assert run.code == 2 and "Traceback" not in run.stderr, run.describe()
    assert "big.yaml:12:6: step 2: node f" in run.stderr and "1e300" in run.stderr, run.describe()


def test_a_long_descent_on_big_tensors_is_refused_before_the_work(cli, tmp_path):
    """100 parameters × 100 samples: 30 steps solve; 1000 steps (≈ 2 minutes, 12 GB to
    JSON by measurement of 30) are refused at once, and --round at 30 steps too."""
    rng = np.random.default_rng(0)
    spec = tmp_path / "ls100.yaml"
    spec.write_text(spec_text({"X": rng.normal(size=(100, 100)), "y": rng.normal(size=100), "w": np.zeros(100)},
                              {"r": "X @ w - y", "f": "sum(r ** 2) / 100"}, ["w"], "{name: sgd, lr: 0.05}", 1000))
    run = cli.run(["solve", str(spec), "--format", "json", "-o", str(tmp_path / "out.json")])
    assert run.code == 2 and run.seconds < 2 and "budget" in run.stderr and "--steps" in run.stderr, run.describe()
    run = cli.run(["solve", str(spec), "--format", "json", "--steps", "30", "--round", "4"])
    assert run.code == 2 and "budget" in run.stderr, run.describe()
    run = cli.run(["check", str(spec), "--key", str(CONFIGS / "graph_least_squares.key.yaml")])
    assert run.code == 2 and "budget" in run.stderr, run.describe()
    run = cli.run(["solve", str(spec), "--format", "json", "--steps", "3", "-o", str(tmp_path / "out.json")])
    assert run.code == 0, run.describe()


def test_a_structured_key_is_read_and_diagnosed_like_named_values(cli, tmp_path):
    doc = _solve(cli, CONFIGS / "graph_least_squares.yaml")
    w2, buf = doc["steps"][1]["values"]["w"], doc["named"]["buf_w[2]@2"]
    wrong = w2[1] + 0.01 * buf  # the gradient step added
    key = tmp_path / "k.yaml"
    key.write_text(f"steps:\n  - step: 2\n    updates: {{w: [{doc['steps'][1]['updates']['w'][0]!r}, {wrong!r}]}}\n"
                   f"    loss: {doc['losses'][1]!r}\nlosses: {json.dumps(doc['losses'])}\n")
    run = cli.run(["check", str(CONFIGS / "graph_least_squares.yaml"), "--key", str(key), "--format", "json"])
    assert run.code == 1, run.describe()
    results = [r for spec in json.loads(run.stdout)["specs"] for r in spec["results"]]
    miss = [r for r in results if not r["ok"]]
    assert len(results) == 7 and [r["name"] for r in miss] == ["steps[1].updates.w[1]"], results
    assert "wrong direction" in miss[0]["cause"]
