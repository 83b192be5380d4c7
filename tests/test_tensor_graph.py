"""Tensor graph specs end to end, through the real `backprop` command (issue 11).

Oracles: PyTorch float64 autograd when installed, central finite differences of a NumPy
forward pass written here (always), the hand-worked seed examples, and re-evaluation of
every printed equation (scalar records by the shared verify_equations tool, matrix
records by a small NumPy evaluator below). Every shape error is bad input (exit 2).
"""
from __future__ import annotations

import ast
import json

import numpy as np
import pytest

from tests.equation_oracles import matrix_eval
from tests.cli_proc import ROOT, cold, solve_json

CONFIGS = ROOT / "configs"


# -- random graphs: every op, broadcasting, shapes up to 4×5 -------------------------------

def _np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# (expression in the spec, the same in NumPy for finite differences, leaf shapes, positive leaves)
TEMPLATES = [
    ("sum((W @ x + b) ** 2)", lambda W, x, b: np.sum((W @ x + b) ** 2), {"W": (3, 4), "x": (4,), "b": (3,)}, False),
    ("sum(sigmoid(A @ transpose(B)) * C)", lambda A, B, C: np.sum(1 / (1 + np.exp(-(A @ B.T))) * C),
     {"A": (4, 5), "B": (3, 5), "C": (4, 3)}, False),
    ("mean(tanh(A) - B)", lambda A, B: np.mean(np.tanh(A) - B), {"A": (4, 5), "B": (5,)}, False),
    ("norm(A * B + c)", lambda A, B, c: np.linalg.norm(A * B + c), {"A": (2, 3), "B": (2, 1), "c": ()}, False),
    ("sum(log_softmax(Z) * T)", lambda Z, T: np.sum((Z - np.log(np.exp(Z).sum(-1, keepdims=True))) * T),
     {"Z": (3, 4), "T": (3, 4)}, False),
    ("sum(softmax(z) * w)", lambda z, w: np.sum(_np_softmax(z) * w), {"z": (5,), "w": (5,)}, False),
    ("sum(sum(A, 0) ** 2) + sum(mean(A, 1) * v)", lambda A, v: np.sum(A.sum(0) ** 2) + np.sum(A.mean(1) * v),
     {"A": (4, 5), "v": (4,)}, False),
    ("sum(log(A) / B + sqrt(A) * exp(B - 1))", lambda A, B: np.sum(np.log(A) / B + np.sqrt(A) * np.exp(B - 1)),
     {"A": (3, 4), "B": (3, 4)}, True),
    ("max(A * v) + sum(relu(A) + abs(A) * sin(v) - cos(A))",
     lambda A, v: np.max(A * v) + np.sum(np.maximum(A, 0) + np.abs(A) * np.sin(v) - np.cos(A)),
     {"A": (3, 4), "v": (4,)}, False),
    ("sum(max(A, B, 0.1) - min(A, B)) + x @ y", lambda A, B, x, y: np.sum(np.maximum(np.maximum(A, B), 0.1)
                                                                           - np.minimum(A, B)) + x @ y,
     {"A": (2, 3), "B": (3,), "x": (4,), "y": (4,)}, False),
    ("sum(softmax(Z, 1) * T) - mean(log_softmax(Z, -1))",
     lambda Z, T: np.sum(_np_softmax(Z) * T) - np.mean(Z - np.log(np.exp(Z).sum(-1, keepdims=True))),
     {"Z": (3, 4), "T": (3, 4)}, False),
    ("sum((x @ M) ** 3) / 2", lambda x, M: np.sum((x @ M) ** 3) / 2, {"x": (4,), "M": (4, 2)}, False),
    ("sum(A ** B)", lambda A, B: np.sum(A ** B), {"A": (2, 3), "B": (2, 3)}, True),
]


def _leaf_values(shapes, positive, seed):
    rnd = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes.items():
        v = rnd.uniform(0.3, 2.0, size=shape) if positive else rnd.uniform(-2, 2, size=shape)
        v = np.where(np.abs(v) < 0.05, 0.4, v)  # keep clear of kinks
        out[name] = np.asarray(np.round(v, 2) + 0.0)
    return out


def _spec_text(expr, leaves):
    lines = ["graph:"]
    for name, v in leaves.items():
        lines.append(f"  {name}: {json.dumps(v.tolist())}")
    lines.append(f"  f: {expr}")
    return "\n".join(lines) + "\n"


def _cases():
    for t, (expr, fn, shapes, positive) in enumerate(TEMPLATES):
        for seed in (0, 1):
            yield f"{t}-{seed}", expr, fn, _leaf_values(shapes, positive, 100 * t + seed)


CASES = list(_cases())


@pytest.fixture(scope="module")
def solved(cli, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tensor_graphs")
    out = {}
    for case, expr, fn, leaves in CASES:
        path = folder / f"g{case}.yaml"
        path.write_text(_spec_text(expr, leaves), encoding="utf-8")
        out[case] = solve_json(cli, path)
    return out


def _element(name, index):
    return name if not index else f"{name}[{','.join(str(i + 1) for i in index)}]"


@pytest.mark.parametrize("case, expr, fn, leaves", CASES, ids=[c[0] for c in CASES])
def test_random_graphs_match_finite_differences(solved, case, expr, fn, leaves):
    doc = solved[case]
    assert doc["values"]["f"] == pytest.approx(float(fn(**leaves)), rel=1e-12, abs=1e-12)
    h = 1e-6
    for name, value in leaves.items():
        for index in np.ndindex(value.shape):
            up, down = {k: np.array(v, dtype=float) for k, v in leaves.items()}, {k: np.array(v, dtype=float) for k, v in leaves.items()}
            up[name][index] += h
            down[name][index] -= h
            numeric = (fn(**up) - fn(**down)) / (2 * h)
            assert doc["named"][f"df/d{_element(name, index)}"] == pytest.approx(numeric, rel=1e-5, abs=1e-6), \
                (expr, name, index)


def _torch_value(expr, env):
    """The spec's expression, evaluated by PyTorch (our grammar is a subset of Python's)."""
    import torch

    fns = {
        "sum": lambda x, d=None: torch.sum(x) if d is None else torch.sum(x, dim=d),
        "mean": lambda x, d=None: torch.mean(x) if d is None else torch.mean(x, dim=d),
        "transpose": lambda x: x.T, "softmax": lambda x, d=-1: torch.softmax(x, dim=d),
        "log_softmax": lambda x, d=-1: torch.log_softmax(x, dim=d), "norm": torch.linalg.vector_norm,
        "max": lambda *a: torch.max(a[0]) if len(a) == 1 else _fold(torch.maximum, a),
        "min": lambda *a: torch.min(a[0]) if len(a) == 1 else _fold(torch.minimum, a),
        **{f: getattr(torch, f) for f in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs")},
    }

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant):
            return torch.tensor(float(n.value), dtype=torch.float64)
        if isinstance(n, ast.Name):
            return env[n.id]
        if isinstance(n, ast.UnaryOp):
            return -ev(n.operand)
        if isinstance(n, ast.BinOp):
            a, b = ev(n.left), ev(n.right)
            return {ast.Add: a.__add__, ast.Sub: a.__sub__, ast.Mult: a.__mul__, ast.Div: a.__truediv__,
                    ast.Pow: a.__pow__, ast.MatMult: a.__matmul__}[type(n.op)](b)
        if isinstance(n, ast.Call):
            args = [int(ast.literal_eval(a)) if i > 0 and n.func.id in ("sum", "mean", "softmax", "log_softmax")
                    else ev(a)
                    for i, a in enumerate(n.args)]
            return fns[n.func.id](*args)
        raise AssertionError(ast.dump(n))

    return ev(ast.parse(expr, mode="eval"))


def _fold(f, args):
    out = args[0]
    for a in args[1:]:
        out = f(out, a)
    return out


@pytest.mark.parametrize("case, expr, fn, leaves", CASES, ids=[c[0] for c in CASES])
def test_random_graphs_match_pytorch(solved, case, expr, fn, leaves):
    torch = pytest.importorskip("torch")
    doc = solved[case]
    env = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in leaves.items()}
    f = _torch_value(expr, env)
    f.backward()
    assert doc["named"]["f"] == pytest.approx(f.item(), rel=1e-12, abs=1e-12)
    for name, t in env.items():
        grad = t.grad.numpy()
        for index in np.ndindex(grad.shape):
            assert abs(doc["named"][f"df/d{_element(name, index)}"] - grad[index]) <= 1e-9 * max(1, abs(grad[index])), \
                (expr, name, index)
        np.testing.assert_allclose(np.asarray(doc["gradients"][name]), grad, rtol=1e-12, atol=1e-12)


# -- the shipped examples, every format and policy --------------------------------------------

TENSOR_CONFIGS = ["tape_tensor.yaml", "tape_persistent.yaml", "norm_wx.yaml", "softmax_ce_matrix.yaml"]


def test_seed_004_tensor_tape(cli):
    doc = solve_json(cli, CONFIGS / "tape_tensor.yaml")
    assert doc["gradients"]["x"] == [[8.0, 8.0], [8.0, 8.0]]
    assert doc["named"]["dz/dx[2,1]"] == 8.0 and doc["shapes"]["x"] == [2, 2]


def test_persistent_tape_names_each_outputs_derivatives(cli):
    doc = solve_json(cli, CONFIGS / "tape_persistent.yaml")
    assert doc["output"] == ["w", "z", "y"]
    assert (doc["named"]["dw/dx"], doc["named"]["dz/dx"], doc["named"]["dy/dx"]) == (625000.0, 500.0, 10.0)
    assert doc["gradients"]["z"]["x"] == 500.0


def test_grad_output_is_pytorchs_backward_gradient(cli, tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text("graph:\n  W: [[0.1, 0.5], [-0.3, 0.8]]\n  x: [0.2, 0.4]\n  q: W @ x\n"
                    "grad_output: {q: [1, -2]}\n", encoding="utf-8")
    doc = solve_json(cli, path)
    # q.backward(gradient=g): dW = g xᵀ, dx = Wᵀ g
    np.testing.assert_allclose(doc["gradients"]["W"], [[0.2, 0.4], [-0.4, -0.8]], rtol=1e-12)
    np.testing.assert_allclose(doc["gradients"]["x"], [0.1 + 0.6, 0.5 - 1.6], rtol=1e-12)




def _matrix_eval(expression: str, operands: dict):
    """A matrix record's expression in NumPy, independent of the engine's evaluator."""
    helpers = {
        "ones": lambda *d: np.ones(d), "outer": np.multiply.outer, "transpose": np.transpose,
        "sum": lambda x, a=None: np.sum(x, axis=a), "mean": lambda x, a=None: np.mean(x, axis=a),
        "rowsum": lambda x: np.sum(x, axis=-1, keepdims=True), "softmax": _np_softmax,
        "log_softmax": lambda z: np.log(_np_softmax(z)), "norm": lambda x: np.sqrt(np.sum(x * x)),
        "step": lambda x: (x > 0) * 1.0, "sign": np.sign, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
        "sin": np.sin, "cos": np.cos, "tanh": np.tanh, "abs": np.abs, "relu": lambda x: np.maximum(x, 0),
        "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        "expand": lambda g, a, *shape: np.broadcast_to(np.expand_dims(g, a), shape),
        "sum_to": lambda g, *shape: _sum_to(g, shape),
    }


    return matrix_eval(expression, operands, helpers)


def _sum_to(g, shape):
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for k, n in enumerate(shape):
        if n == 1 and g.shape[k] != 1:
            g = g.sum(axis=k, keepdims=True)
    return g


@pytest.mark.parametrize("config", TENSOR_CONFIGS)
def test_every_printed_equation_holds(cli, verifier, config):
    for args, digits in (((), None), (("--round", "4"), 4)):
        doc = solve_json(cli, CONFIGS / config, *args)
        scalar = [e for e in doc["equations"] if e.get("form") != "matrix"]
        matrix = [e for e in doc["equations"] if e.get("form") == "matrix"]
        assert scalar
        bad = [(e["name"], verifier.check(e, digits)) for e in scalar if verifier.check(e, digits)]
        assert not bad, bad
        for e in matrix:
            got = _matrix_eval(e["expression"], e["operands"])
            tol = 0 if digits is None else 10 ** -digits * 5 * max(1, len(e["operands"]))
            np.testing.assert_allclose(got, np.asarray(e["value"]), rtol=1e-9, atol=1e-12 + tol, err_msg=e["name"])
            assert list(np.shape(e["value"])) == e["shapes"][e["name"]]


def test_exact_mode_gives_fractions(cli):
    doc = solve_json(cli, CONFIGS / "norm_wx.yaml", "--exact")
    assert doc["exact"]["df/dW[1,2]"] == "22/125"  # 0.44 · 0.4 = 0.176 exactly
    assert doc["exact"]["f"] == "29/250"


@pytest.mark.parametrize("fmt", ["table", "latex", "markdown"])
def test_every_format_shows_matrix_form_and_a_worked_element(cli, fmt):
    run = cli.run(["solve", str(CONFIGS / "norm_wx.yaml"), "--format", fmt])
    assert run.code == 0, run.stderr
    out = run.stdout
    if fmt == "table":
        assert "∂f/∂W = ∂f/∂q xᵀ" in out and "(2,) (2,) → (2×2)" in out
        assert "∂f/∂W[1,1] = ∂f/∂q[1] · x[1] = 0.4400 · 0.2000 = 0.0880" in out
    else:
        assert r"\begin{bmatrix}" in out and r"^{\top}" in out
        assert r"\frac{\partial f}{\partial W_{11}}" in out


def test_check_accepts_element_names_and_whole_arrays(cli):
    for config in TENSOR_CONFIGS:
        run = cli.run(["check", str(CONFIGS / config)])
        assert run.code == 0, run.stdout + run.stderr


def test_a_wrong_whole_array_in_a_key_is_a_mismatch(cli, tmp_path):
    spec = tmp_path / "t.yaml"
    spec.write_text((CONFIGS / "tape_tensor.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "t.key.yaml").write_text("named:\n  dz/dx: [[8, 8], [8, 7]]\n", encoding="utf-8")
    run = cli.run(["check", str(spec), "--format", "json"])
    assert run.code == 1
    results = json.loads(run.stdout)["specs"][0]["results"]
    assert [r["name"] for r in results if not r["ok"]] == ["dz/dx[2,2]"]
    (tmp_path / "t.key.yaml").write_text("named:\n  dz/dx: [8, 8]\n", encoding="utf-8")
    run = cli.run(["check", str(spec)])
    assert run.code == 2 and "wrong shape" in run.stderr


# -- bad input: every shape error -------------------------------------------------------------

SHAPE_ERRORS = [
    ("A: [[1, 2], [3, 4]]\n  B: [1, 2, 3]\n  f: sum(A + B)", "graph.f", ["(2×2)", "(3,)", "broadcasting"]),
    ("A: [[1, 2], [3, 4]]\n  B: [1, 2, 3]\n  f: sum(A @ B)", "graph.f", ["(2×2)", "(3,)", "columns of the left (2)"]),
    ("A: [1, 2, 3]\n  B: [[1, 2], [3, 4]]\n  f: sum(A @ B)", "graph.f", ["(3,)", "(2×2)", "length of the left vector"]),
    ("a: 2\n  B: [1, 2]\n  f: sum(a @ B)", "graph.f", ["scalar", "use * to scale"]),
    ("A: [[[1, 2]]]\n  B: [[1], [2]]\n  f: sum(A @ B)", "graph.f", ["(1×1×2)", "rank 1 or 2"]),
    ("A: [[1, 2], [3, 4]]\n  f: sum(sum(A, 2))", "graph.f", ["axis 2 is out of range", "rank 2"]),
    ("a: 3\n  f: sum(softmax(a))", "graph.f", ["softmax", "rank 1 or more"]),
    ("a: [[1, 2], [3, 4]]\n  f: sum(softmax(a, 0))", "graph.f", ["(2×2)", "along the last axis"]),
    ("a: [1, 2]\n  b: [1, 2, 3]\n  f: sum(max(a, b))", "graph.f", ["(2,)", "(3,)", "broadcasting"]),
    ("a: [1, 2]\n  q: a * 2\noutput: q\ngrad_output: {q: [1, 2, 3]}", "grad_output.q", ["(3,)", "(2,)"]),
    ("a: [1, 2]\n  q: a * 2", "output", ["non-scalar output", "grad_output"]),
    ("a: [[1, 2], [3]]\n  f: sum(a)", "graph.a[1]", ["ragged tensor"]),
]


@pytest.mark.parametrize("body, path, words", SHAPE_ERRORS, ids=[s[1] + str(i) for i, s in enumerate(SHAPE_ERRORS)])
def test_shape_errors_are_bad_input(cli, tmp_path, body, path, words):
    spec = tmp_path / "bad.yaml"
    spec.write_text("graph:\n  " + body + "\n", encoding="utf-8")
    for command in (["solve", str(spec), "--format", "json"], ["validate", str(spec)]):
        run = cli.run(command)
        assert run.code == 2, (command, run.stdout, run.stderr)
        assert run.stdout == "" and "Traceback" not in run.stderr
        assert "bad.yaml:" in run.stderr and path in run.stderr, run.stderr
        for w in words:
            assert w in run.stderr, (w, run.stderr)


def test_order_two_is_for_scalar_graphs(cli, tmp_path):
    spec = tmp_path / "o.yaml"
    spec.write_text("graph:\n  x: [1, 2]\n  f: sum(x ** 3)\norder: 2\n", encoding="utf-8")
    run = cli.run(["solve", str(spec)])
    assert run.code == 2 and "order" in run.stderr and "scalar graphs" in run.stderr


def test_cold_cli_solves_a_tensor_graph():
    run = cold(["solve", CONFIGS / "tape_tensor.yaml", "--format", "json"])
    assert run.code == 0 and json.loads(run.stdout)["gradients"]["x"] == [[8.0, 8.0], [8.0, 8.0]]
