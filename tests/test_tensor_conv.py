"""Convolution and pooling as tensor-graph ops, end to end through the `backprop` command.

Oracles (tests/conv_oracles.py): PyTorch float64 autograd when installed; central finite
differences of plain-loop NumPy forwards (always); every printed equation re-evaluated —
element records by the shared verify_equations tool, matrix records (conv2d_grad_weight(…)
and the like) by loop implementations of the helpers' definitions, --round 4 element
equations in Decimal and --exact ones in Fraction, here. Bad input exits 2 with file,
line, column and field path.
"""
from __future__ import annotations

import ast
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
import pytest
import yaml

from tests import conv_oracles as O
from tests.equation_oracles import matrix_eval, parse_record
from tests.cli_proc import ROOT, solve_json

CONFIGS = ROOT / "configs"


# (spec expression, the same over a namespace of ops (NumPy loops or torch), leaf shapes)
CASES = [
    ("sum(tanh(conv2d(x, W, 1, 1) + b) * T)", lambda F, x, W, b, T: F.sum(F.tanh(F.conv2d(x, W, 1, 1) + b) * T),
     {"x": (2, 5, 5), "W": (3, 2, 3, 3), "b": (3, 1, 1), "T": (3, 5, 5)}),
    ("sum(conv2d(x, W, 2) ** 2)", lambda F, x, W: F.sum(F.conv2d(x, W, 2) ** 2),
     {"x": (2, 1, 5, 5), "W": (2, 1, 3, 3)}),
    ("sum(sigmoid(conv2d(x, W, 2, 1)) * T)", lambda F, x, W, T: F.sum(F.sigmoid(F.conv2d(x, W, 2, 1)) * T),
     {"x": (1, 5, 5), "W": (2, 1, 3, 3), "T": (2, 3, 3)}),
    ("sum(conv2d(x, W, 1, 2) * T)", lambda F, x, W, T: F.sum(F.conv2d(x, W, 1, 2) * T),
     {"x": (2, 2, 3, 4), "W": (1, 2, 3, 3), "T": (2, 1, 5, 6)}),
    ("sum(tanh(conv2d(x, W, 2, 1)) * T)", lambda F, x, W, T: F.sum(F.tanh(F.conv2d(x, W, 2, 1)) * T),
     {"x": (2, 2, 6, 6), "W": (2, 2, 3, 3), "T": (2, 2, 3, 3)}),  # ResNet's downsampling: drops padding only
    ("sum(conv1d(x, W, 2, 1) * T)", lambda F, x, W, T: F.sum(F.conv1d(x, W, 2, 1) * T),
     {"x": (2, 6), "W": (3, 2, 3), "T": (3, 3)}),
    ("sum(conv1d(x, W, 2) ** 2)", lambda F, x, W: F.sum(F.conv1d(x, W, 2) ** 2),
     {"x": (2, 7), "W": (3, 2, 3)}),
    ("sum(tanh(conv1d(x, W, 1, 1) + c) * T)", lambda F, x, W, c, T: F.sum(F.tanh(F.conv1d(x, W, 1, 1) + c) * T),
     {"x": (2, 2, 6), "W": (2, 2, 3), "c": (2, 1), "T": (2, 2, 6)}),
    ("sum(maxpool2d(relu(conv2d(x, W) + b), 2) ** 2)",
     lambda F, x, W, b: F.sum(F.maxpool2d(F.relu(F.conv2d(x, W) + b), 2) ** 2),
     {"x": (1, 5, 5), "W": (2, 1, 2, 2), "b": (2, 1, 1)}),
    ("sum(maxpool2d(x, 3, 1) * T)", lambda F, x, T: F.sum(F.maxpool2d(x, 3, 1) * T),
     {"x": (2, 2, 4, 4), "T": (2, 2, 2, 2)}),
    ("sum(avgpool2d(x, 2) ** 2)", lambda F, x: F.sum(F.avgpool2d(x, 2) ** 2), {"x": (2, 4, 6)}),
    ("sum(avgpool2d(tanh(x), 3, 2) * T)", lambda F, x, T: F.sum(F.avgpool2d(F.tanh(x), 3, 2) * T),
     {"x": (2, 1, 5, 7), "T": (2, 1, 2, 3)}),
    ("sum(tanh(V @ flatten(maxpool2d(conv2d(x, W), 2))))",
     lambda F, V, x, W: F.sum(F.tanh(V @ F.flatten(F.maxpool2d(F.conv2d(x, W), 2)))),
     {"V": (3, 8), "x": (1, 5, 5), "W": (2, 1, 2, 2)}),
    ("sum((flatten(avgpool2d(conv2d(x, W, 1, 1), 2), 1) @ transpose(V)) ** 2)",
     lambda F, x, W, V: F.sum((F.flatten(F.avgpool2d(F.conv2d(x, W, 1, 1), 2), 1) @ F.T(V)) ** 2),
     {"x": (2, 1, 4, 4), "W": (2, 1, 3, 3), "V": (3, 8)}),
    ("sum(relu(conv2d(x, W) + reshape(c, 2, 1, 1)) * T)",
     lambda F, x, W, c, T: F.sum(F.relu(F.conv2d(x, W) + F.reshape(c, 2, 1, 1)) * T),
     {"x": (1, 4, 4), "W": (2, 1, 2, 2), "c": (2,), "T": (2, 3, 3)}),
]


def _leaf_values(shapes, seed):
    """Distinct two-decimal values (no max-pool ties, no kinks at 0)."""
    rnd = np.random.default_rng(seed)
    out = {}
    for k, (name, shape) in enumerate(shapes.items()):
        n = int(np.prod(shape))
        picks = rnd.choice(np.concatenate([np.arange(-150, 0), np.arange(1, 151)]), size=n, replace=False)
        out[name] = (picks / 100.0).reshape(shape)
    return out


def _spec_text(expr, leaves):
    lines = ["graph:"] + [f"  {n}: {json.dumps(v.tolist())}" for n, v in leaves.items()] + [f"  f: {expr}"]
    return "\n".join(lines) + "\noutput: f\n"


@pytest.fixture(scope="module")
def solved(cli, tmp_path_factory):
    folder = tmp_path_factory.mktemp("conv")
    out = {}
    for k, (expr, fn, shapes) in enumerate(CASES):
        leaves = _leaf_values(shapes, 100 + k)
        path = folder / f"case{k}.yaml"
        path.write_text(_spec_text(expr, leaves), encoding="utf-8")
        out[k] = (path, leaves, solve_json(cli, path))
    return out


def _call(fn, F, leaves):
    return fn(F, *leaves.values())


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0][:40] for c in CASES])
def test_values_and_gradients_match_finite_differences(solved, case):
    _, fn, _ = CASES[case]
    _, leaves, doc = solved[case]
    assert doc["values"]["f"] == pytest.approx(float(_call(fn, O.NUMPY, leaves)), rel=1e-12, abs=1e-12)
    h = 1e-6
    for name, value in leaves.items():
        fd = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            up, down = dict(leaves), dict(leaves)
            up[name], down[name] = value.copy(), value.copy()
            up[name][index] += h
            down[name][index] -= h
            fd[index] = (_call(fn, O.NUMPY, up) - _call(fn, O.NUMPY, down)) / (2 * h)
        np.testing.assert_allclose(np.asarray(doc["gradients"][name]), fd, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0][:40] for c in CASES])
def test_values_and_gradients_match_pytorch(solved, case):
    torch = pytest.importorskip("torch")
    _, fn, _ = CASES[case]
    _, leaves, doc = solved[case]
    tensors = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in leaves.items()}
    f = _call(fn, O.torch_namespace(), tensors)
    f.backward()
    assert abs(doc["values"]["f"] - f.item()) <= 1e-9 * max(1, abs(f.item()))
    for name, t in tensors.items():
        np.testing.assert_allclose(np.asarray(doc["gradients"][name]), t.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)
        for index in np.ndindex(t.shape):  # JSON `named` holds every element under its 1-based name
            key = "df/d" + name + ("[" + ",".join(str(i + 1) for i in index) + "]" if index else "")
            assert abs(doc["named"][key] - t.grad[index].item()) <= 1e-9


# -- every printed equation holds -------------------------------------------------------------------



def _matrix_eval(expression: str, operands: dict):
    """A matrix record's expression in NumPy with the oracle helpers, not the engine."""
    return matrix_eval(expression, operands, O.HELPERS)


def _check_matrix_records(doc, tol=0.0):
    matrix = [e for e in doc["equations"] if e.get("form") == "matrix"]
    assert matrix
    for e in matrix:
        got = _matrix_eval(e["expression"], e["operands"])
        np.testing.assert_allclose(got, np.asarray(e["value"]), rtol=1e-9, atol=1e-12 + tol, err_msg=e["name"])
    return {e["expression"] for e in matrix}


def test_every_equation_of_the_random_graphs_holds(solved, verifier):
    helpers_seen = set()
    for case, (_, _, doc) in solved.items():
        for expression in _check_matrix_records(doc):
            helpers_seen |= set(re.findall(r"([a-z0-9_]+)\(", expression))
        scalar = [e for e in doc["equations"] if e.get("form") != "matrix"]
        bad = [(e["name"], verifier.check(e, None)) for e in scalar if verifier.check(e, None)]
        assert not bad, (CASES[case][0], bad[:3])
    downsampling = solved[next(k for k, c in enumerate(CASES) if c[0] == "sum(tanh(conv2d(x, W, 2, 1)) * T)")][2]
    # 6 → 3 at stride 2, padding 1: the input size is not implied by the output, so it is written
    assert any(e["expression"].startswith("conv2d_grad_input(") and e["expression"].endswith(", {W}, 2, 1, 6, 6)")
               for e in downsampling["equations"] if e.get("form") == "matrix"), \
        [e["expression"] for e in downsampling["equations"] if e.get("form") == "matrix"]
    assert helpers_seen >= {"conv2d_grad_weight", "conv2d_grad_input", "conv1d_grad_weight", "conv1d_grad_input",
                            "maxpool2d_route", "avgpool2d_spread", "reshape"}


def test_the_gradient_rules_read_as_correlation_and_full_convolution(cli):
    doc = solve_json(cli, CONFIGS / "graph_cnn.yaml")
    by_name = {e["name"]: e for e in doc["equations"] if e.get("form") == "matrix"}
    assert by_name["dL/dK"]["expression"] == "conv2d_grad_weight({dL/dz}, {x}, 1, 0)"
    assert by_name["dL/dx"]["expression"] == "conv2d_grad_input({dL/dz}, {K}, 1, 0)"
    assert by_name["dL/da"]["expression"] == "maxpool2d_route({dL/dy}, {a}, 2, 2)"
    elements = {e["name"]: e for e in doc["equations"] if e.get("form") == "element"}
    # ∂L/∂K[1,1,1,1] = Σ_i,j ∂L/∂z[1,i,j] · x[1,i,j]: 16 products, the input correlated with ∂L/∂z
    terms = elements["dL/dK[1,1,1,1]"]["expression"].split(" + ")
    assert len(terms) == 16 and terms[0] == "{dL/dz[1,1,1]} * {x[1,1,1]}"
    # the winner of window [1,1] of channel 1 is a[1,2,1] (z = 0.51): it gets dL/dy[1,1,1]
    assert elements["dL/da[1,2,1]"]["expression"] == "{dL/dy[1,1,1]}"
    assert "a[1,2,1] is the max of window [1,1]" in elements["dL/da[1,2,1]"]["condition"]
    assert elements["dL/da[1,1,1]"]["expression"] == "0"


def _decimal_eval(expression: str, operands: dict, number):
    """+ − × ÷ over `number` (Decimal or Fraction) of the printed operands; max/relu by comparison."""
    tree, names = parse_record(expression)

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant):
            return number(str(n.value))
        if isinstance(n, ast.Name):
            return operands[names[n.id]]
        if isinstance(n, ast.UnaryOp):
            return -ev(n.operand)
        if isinstance(n, ast.BinOp):
            a, b = ev(n.left), ev(n.right)
            if isinstance(n.op, ast.Pow):
                return a ** int(b)
            return {ast.Add: a.__add__, ast.Sub: a.__sub__, ast.Mult: a.__mul__, ast.Div: a.__truediv__}[type(n.op)](b)
        if isinstance(n, ast.Call):
            args = [ev(a) for a in n.args]
            return {"max": max, "relu": lambda z: max(z, number("0"))}[n.func.id](*args)
        raise AssertionError(ast.dump(n))

    return ev(tree)


def test_round_4_element_equations_hold_in_decimal(cli):
    doc = solve_json(cli, CONFIGS / "graph_cnn.yaml", "--round", "4")
    elements = [e for e in doc["equations"] if e.get("form") in ("element", "scalar")]
    assert len(elements) > 150
    for e in elements:
        operands = {k: Decimal(repr(float(v))) for k, v in e["operands"].items()}
        expected = _decimal_eval(e["expression"], operands, Decimal).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        assert Decimal(repr(float(e["value"]))) == expected, (e["name"], e["expression"], e["value"], expected)
    # hand rounding changes nothing here but the MSE's last digits: the key still checks
    assert abs(doc["named"]["dL/dK[1,1,1,1]"] - 0.1613) < 1e-12


def test_exact_element_equations_hold_in_fractions(cli):
    doc = solve_json(cli, CONFIGS / "graph_cnn.yaml", "--exact")
    exact = {k: Fraction(v) for k, v in doc["exact"].items()}
    elements = [e for e in doc["equations"] if e.get("form") in ("element", "scalar")]
    assert len(elements) > 150
    for e in elements:
        operands = {k: exact[k] for k in e["operands"]}
        assert _decimal_eval(e["expression"], operands, Fraction) == exact[e["name"]], e["name"]
    assert exact["dL/dK[1,1,1,1]"] == Fraction("0.16125")
    assert exact["L"] == Fraction(744100, 8000000)


# -- the shipped example -------------------------------------------------------------------------

def test_shipped_key_agrees_with_torch():
    pytest.importorskip("torch")
    graph = yaml.safe_load((CONFIGS / "graph_cnn.yaml").read_text(encoding="utf-8"))["graph"]
    ref = O.torch_graph_cnn(graph)
    key = yaml.safe_load((CONFIGS / "graph_cnn.key.yaml").read_text(encoding="utf-8"))["named"]
    assert len(key) >= 10
    for name, expected in key.items():
        base, _, index = name.partition("[")
        value = ref[base]
        if index:
            value = value[tuple(int(i) - 1 for i in index.rstrip("]").split(","))]
        np.testing.assert_allclose(np.asarray(expected, dtype=float), value, atol=1.5e-6, err_msg=name)


def test_shipped_example_checks_green(cli):
    run = cli.run(["check", str(CONFIGS / "graph_cnn.yaml")])
    assert run.code == 0, run.stdout + run.stderr


@pytest.mark.parametrize("fmt", ["table", "latex", "markdown"])
def test_every_format_shows_the_convolution_gradients(cli, fmt):
    run = cli.run(["solve", str(CONFIGS / "graph_cnn.yaml"), "--format", fmt])
    assert run.code == 0, run.stderr
    assert "conv2d" in run.stdout and ("conv2d_grad_weight" in run.stdout or r"conv2d\_grad\_weight" in run.stdout)


# -- bad input: exit 2 with file, line, column and the node's field path -------------------------

BAD = [
    ("x: [[[1, 2], [3, 4]]]\n  K: [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]\n  f: sum(conv2d(x, K))",
     ["conv2d", "kernel (3) is larger than the input along the height (2)"]),
    ("x: [[[1, 2, 3], [3, 4, 5], [1, 1, 1]]]\n  K: [[[[1, 2], [3, 4]], [[1, 2], [3, 4]]]]\n  f: sum(conv2d(x, K))",
     ["(1×3×3)", "(1×2×2×2)", "input's channels (1", "kernel's input channels (2"]),
    ("x: [[[1, 2, 3], [3, 4, 5], [1, 1, 1]]]\n  K: [[[[1, 2], [3, 4]]]]\n  f: sum(conv2d(x, K, 1.5))",
     ["stride of conv2d(x, W, stride, padding) must be an integer constant", "1.5"]),
    ("x: [[[1, 2, 3], [3, 4, 5], [1, 1, 1]]]\n  K: [[[[1, 2], [3, 4]]]]\n  f: sum(conv2d(x, K, 2))",
     ["stride 2 leaves input positions unused along the height", "kernel 2) = 1 is not a multiple of 2"]),
    ("x: [[[1, 2, 3], [3, 4, 5], [1, 1, 1]]]\n  f: sum(maxpool2d(x, 2))",
     ["maxpool2d", "stride 2 leaves input positions unused", "typed layers refuse it too"]),
    ("x: [[[1, 2, 3], [3, 4, 5], [1, 1, 1]]]\n  f: sum(maxpool2d(x))",
     ["maxpool2d takes 2 to 3 arguments (maxpool2d(x, kernel, stride)), found 1"]),
    ("x: [[[1, 2, 3], [3, 4, 5], [1, 1, 1]]]\n  k: 2\n  f: sum(avgpool2d(x, k))",
     ["the kernel of avgpool2d(x, kernel, stride) must be an integer constant, found 'k'"]),
    ("x: [[1, 2, 3], [3, 4, 5]]\n  K: [[[1, 2]]]\n  f: sum(conv1d(x, K, 1, -1))",
     ["padding of conv1d(x, W, stride, padding) must be at least 0, found -1"]),
    ("x: [1, 2, 3, 4]\n  K: [[[[1]]]]\n  f: sum(conv2d(x, K))", ["(C, H, W) or (N, C, H, W)", "rank 1"]),
    ("x: [[1, 2, 3], [3, 4, 5]]\n  f: sum(reshape(x, 4, 2))", ["reshape", "same number of elements (6)"]),
    ("x: [[[1, 2, 3, 4], [3, 4, 5, 6], [1, 1, 1, 1], [0, 1, 0, 1]]]\n  K: [[[[1, 2], [3, 4]]], [[[1, 0], [0, 1]]]]\n"
     "  b: [0.5, -0.5]\n  f: sum(conv2d(x, K) + b)",
     ["(2×3×3) and (2,)", "a bias per channel is shaped (2, 1, 1)", "reshape(b, 2, 1, 1)"]),
]


@pytest.mark.parametrize("body, words", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_convolution_input_is_exit_2_with_line_and_column(cli, tmp_path, body, words):
    spec = tmp_path / "bad.yaml"
    spec.write_text("graph:\n  " + body + "\n", encoding="utf-8")
    line = body.count("\n") + 2  # f is the last node
    for command in (["solve", str(spec), "--format", "json"], ["validate", str(spec)]):
        run = cli.run(command)
        assert run.code == 2, (command, run.stdout, run.stderr)
        assert run.stdout == "" and "Traceback" not in run.stderr
        assert re.search(rf"bad\.yaml:{line}:[0-9]+: graph\.f:", run.stderr), run.stderr
        for w in words:
            assert w in run.stderr, (w, run.stderr)


def test_graph_and_layer_refuse_the_same_stride(cli, tmp_path):
    """The typed layer and the graph op agree: (4 − 2) is not a multiple of 3."""
    layer = tmp_path / "net.yaml"
    layer.write_text("input: [[[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]]\ntarget: [1]\n"
                     "loss: mse\nlr: 0.1\nlayers:\n  - type: conv2d\n    weights: [[[[1, 0], [0, 1]]]]\n"
                     "    stride: 3\n  - type: flatten\n  - weights: [[1]]\n", encoding="utf-8")
    graph = tmp_path / "g.yaml"
    graph.write_text("graph:\n  x: [[[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]]\n"
                     "  K: [[[[1, 0], [0, 1]]]]\n  f: sum(conv2d(x, K, 3))\n", encoding="utf-8")
    for path in (layer, graph):
        run = cli.run(["solve", str(path)])
        assert run.code == 2 and "stride" in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_one_node_nesting_many_convolutions_stays_bounded(cli, solved):
    """Element rules compose: one node holding conv → pool → flatten → @ would spell each
    gradient element through every op. Under float64 those elements are left out (the
    matrix form stands); under --round they are the computation, so the node must be split."""
    path, _, doc = solved[next(k for k, c in enumerate(CASES) if c[0].startswith("sum((flatten(avgpool2d"))]
    grads = [e for e in doc["equations"] if e["name"].startswith("df/dW")]
    assert [e["form"] for e in grads] == ["matrix"]
    run = cli.run(["solve", str(path), "--format", "json", "--round", "4"])
    assert run.code == 2 and "split the expression into smaller nodes" in run.stderr, run.stderr


@pytest.mark.parametrize("size, stride, padding, pool", [(6, 1, 0, 2), (5, 2, 1, 3), (6, 1, 1, 3), (7, 2, 0, 1),
                                                         (6, 2, 1, 3)])
def test_graph_ops_and_typed_layers_give_the_same_bits(size, stride, padding, pool):
    """One set of kernels: the tape's conv2d/maxpool2d and the typed layers' rules agree
    bit for bit, forward and backward (batch of 2, 2 → 3 channels)."""
    from types import SimpleNamespace

    from backprop_cli.calc.expr import Call, Num, Ref
    from backprop_cli.network import layers
    from backprop_cli.network.spec import Activation
    from backprop_cli.tensor import Tape

    rnd = np.random.default_rng(stride * 10 + padding)
    x, W = rnd.normal(size=(2, 2, size, size)), rnd.normal(size=(3, 2, 3, 3))
    conv = SimpleNamespace(stride=(stride, stride), padding=(padding, padding), activation=Activation("identity"))
    z, cache = layers.conv2d_forward(conv, {"weights": W}, x)
    assert (z.shape[-1] - pool) % pool == 0
    pooler = SimpleNamespace(kernel=(pool, pool), stride=(pool, pool))
    y, pool_cache = layers.maxpool2d_forward(pooler, {}, z)
    g = rnd.normal(size=y.shape)
    dz, _ = layers.maxpool2d_backward(pooler, {}, pool_cache, g)
    dx, grads = layers.conv2d_backward(conv, {"weights": W}, cache, dz)

    tape = Tape()
    tape.leaf("x", x)
    tape.leaf("W", W)
    tape.node("z", Call("conv2d", (Ref("x"), Ref("W"), Num(str(stride)), Num(str(padding)))))
    tape.node("y", Call("maxpool2d", (Ref("z"), Num(str(pool)))))
    got = tape.backward("y", seed=g)
    assert np.array_equal(tape.values["z"], z) and np.array_equal(tape.values["y"], y)
    assert np.array_equal(got["z"], dz) and np.array_equal(got["x"], dx) and np.array_equal(got["W"], grads["weights"])
