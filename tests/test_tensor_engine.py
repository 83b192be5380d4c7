"""The tensor engine against independent oracles: PyTorch float64 autograd (when
installed) and central finite differences of the engine's forward pass (always).

Random cases cover every op, broadcasting and shapes up to 4×5. A case is an
expression over leaves; the scalar output is f = sum(expr * R) with a fixed random R,
so every element's gradient is exercised with a different weight.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

from backprop_cli.calc.expr import Bin, Call, Neg, Num, Ref
from backprop_cli.tensor import ShapeError, Tape

# name → (expression builder over leaf refs, leaf shapes, value range per leaf)
U = (-2.0, 2.0)
P = (0.3, 2.0)  # positive: log, sqrt, powers with real exponents


def _cases():
    A, B, C = Ref("a"), Ref("b"), Ref("c")
    call = lambda fn, *args: Call(fn, tuple(args))  # noqa: E731
    cases = {
        "add": (Bin("+", A, B), [(3, 4), (3, 4)], [U, U]),
        "add_row_broadcast": (Bin("+", A, B), [(4, 5), (5,)], [U, U]),
        "add_scalar_broadcast": (Bin("+", A, B), [(2, 3), ()], [U, U]),
        "sub_col_broadcast": (Bin("-", A, B), [(4, 1), (1, 5)], [U, U]),
        "mul": (Bin("*", A, B), [(4, 5), (4, 5)], [U, U]),
        "mul_broadcast": (Bin("*", A, B), [(3,), (4, 3)], [U, U]),
        "div": (Bin("/", A, B), [(2, 3), (2, 3)], [U, P]),
        "div_broadcast": (Bin("/", A, B), [(3, 4), (4,)], [U, P]),
        "pow_const": (Bin("**", A, Num("3")), [(3, 2)], [U]),
        "pow_half": (Bin("**", A, Num("0.5")), [(4,)], [P]),
        "pow_tensor": (Bin("**", A, B), [(2, 3), (2, 3)], [P, U]),
        "neg": (Neg(A), [(2, 2)], [U]),
        "matmul_mm": (Bin("@", A, B), [(3, 4), (4, 5)], [U, U]),
        "matmul_mv": (Bin("@", A, B), [(4, 5), (5,)], [U, U]),
        "matmul_vm": (Bin("@", A, B), [(4,), (4, 3)], [U, U]),
        "matmul_dot": (Bin("@", A, B), [(5,), (5,)], [U, U]),
        "sum": (call("sum", A), [(4, 5)], [U]),
        "sum_axis0": (call("sum", A, Num("0")), [(4, 5)], [U]),
        "sum_axis1": (call("sum", A, Num("1")), [(4, 5)], [U]),
        "sum_axis_neg": (call("sum", A, Neg(Num("1"))), [(3, 4)], [U]),
        "mean": (call("mean", A), [(3, 5)], [U]),
        "mean_axis": (call("mean", A, Num("0")), [(3, 5)], [U]),
        "transpose": (call("transpose", A), [(3, 5)], [U]),
        "softmax_vec": (call("softmax", A), [(5,)], [U]),
        "softmax_rows": (call("softmax", A), [(3, 4)], [U]),
        "log_softmax_vec": (call("log_softmax", A), [(4,)], [U]),
        "softmax_axis_last": (call("softmax", A, Num("1")), [(3, 4)], [U]),
        "log_softmax_rows": (call("log_softmax", A), [(4, 5)], [U]),
        "norm_vec": (call("norm", A), [(5,)], [U]),
        "norm_mat": (call("norm", A), [(3, 4)], [U]),
        "max_reduce": (call("max", A), [(4, 5)], [U]),
        "max_elementwise": (call("max", A, B), [(3, 4), (3, 4)], [U, U]),
        "min_elementwise_broadcast": (call("min", A, B, C), [(3, 4), (4,), ()], [U, U, U]),
        "composite_layer": (call("sigmoid", Bin("+", Bin("@", A, B), C)), [(4, 3), (3, 5), (5,)], [U, U, U]),
        "composite_shared": (Bin("*", Bin("@", A, call("transpose", A)), B), [(3, 4), (3, 3)], [U, U]),
    }
    for fn, rng in [("exp", U), ("log", P), ("sqrt", P), ("sin", U), ("cos", U), ("tanh", U),
                    ("sigmoid", U), ("relu", U), ("abs", U)]:
        cases[fn] = (call(fn, A), [(4, 5)], [rng])
    return cases


CASES = _cases()


def _leaves(case, seed):
    rnd = np.random.default_rng(seed)
    _, shapes, ranges = CASES[case]
    out = {}
    for name, shape, (lo, hi) in zip("abc", shapes, ranges):
        value = rnd.uniform(lo, hi, size=shape)
        # keep clear of kinks and ties: finite differences cannot see a kink's branch
        value = np.where(np.abs(value) < 0.05, 0.3, value)
        out[name] = np.asarray(np.round(value, 3) + 0.0)
    return out


def _weights(case, leaves, seed):
    tape = Tape()
    for name, value in leaves.items():
        tape.leaf(name, value)
    shape = tape.node("q", CASES[case][0]).shape
    return np.round(np.random.default_rng(seed + 1).uniform(-1, 1, size=shape), 3)


def engine(case, leaves, R):
    """f and ∂f/∂leaf from the engine (f = sum(q * R))."""
    tape = Tape()
    for name, value in leaves.items():
        tape.leaf(name, value)
    tape.leaf("R", R)
    tape.node("q", CASES[case][0])
    tape.node("f", Call("sum", (Bin("*", Ref("q"), Ref("R")),)))
    grads = tape.backward("f")
    return float(tape.values["f"]), {n: grads[n] for n in leaves}


def forward_only(case, leaves, R):
    tape = Tape()
    for name, value in leaves.items():
        tape.leaf(name, value)
    q = tape.node("q", CASES[case][0])
    return float(np.sum(q * R))


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_match_finite_differences(case):
    leaves = _leaves(case, 7)
    R = _weights(case, leaves, 7)
    _, grads = engine(case, leaves, R)
    h = 1e-6
    for name, value in leaves.items():
        numeric = np.zeros_like(value, dtype=float)
        for index in np.ndindex(value.shape):
            up, down = dict(leaves), dict(leaves)
            up[name] = np.array(value, dtype=float)
            down[name] = np.array(value, dtype=float)
            up[name][index] += h
            down[name][index] -= h
            numeric[index] = (forward_only(case, up, R) - forward_only(case, down, R)) / (2 * h)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-6, err_msg=f"{case}: d/d{name}")
        assert grads[name].shape == value.shape


def _torch_eval(e, env):
    import torch

    if isinstance(e, Num):
        return torch.tensor(float(e.text), dtype=torch.float64)
    if isinstance(e, Ref):
        return env[e.name]
    if isinstance(e, Neg):
        return -_torch_eval(e.operand, env)
    if isinstance(e, Bin):
        a, b = _torch_eval(e.left, env), _torch_eval(e.right, env)
        return {"+": a.__add__, "-": a.__sub__, "*": a.__mul__, "/": a.__truediv__, "**": a.__pow__,
                "@": a.__matmul__}[e.op](b)
    fn = e.fn
    args = [_torch_eval(a, env) for a in (e.args[:1] if fn in ("softmax", "log_softmax") else e.args)]
    if fn in ("sum", "mean"):
        if len(e.args) == 2:
            axis = int(float(e.args[1].text)) if isinstance(e.args[1], Num) else -int(float(e.args[1].operand.text))
            return getattr(torch, fn)(args[0], dim=axis)
        return getattr(torch, fn)(args[0])
    if fn == "transpose":
        return args[0].T
    if fn in ("softmax", "log_softmax"):
        return getattr(torch, fn)(args[0], dim=-1)  # an axis given is the last one
    if fn == "norm":
        return torch.linalg.vector_norm(args[0])
    if fn == "max" and len(args) == 1:
        return torch.max(args[0])
    if fn in ("max", "min"):
        out = args[0]
        for x in args[1:]:
            out = (torch.maximum if fn == "max" else torch.minimum)(out, x)
        return out
    return getattr(torch, fn)(args[0])


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_match_pytorch(case):
    torch = pytest.importorskip("torch")
    for seed in (1, 2):
        leaves = _leaves(case, seed)
        R = _weights(case, leaves, seed)
        f, grads = engine(case, leaves, R)
        env = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in leaves.items()}
        out = (_torch_eval(CASES[case][0], env) * torch.tensor(R, dtype=torch.float64)).sum()
        out.backward()
        assert f == pytest.approx(out.item(), rel=1e-12, abs=1e-12)
        for name in leaves:
            np.testing.assert_allclose(grads[name], env[name].grad.numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{case}: d/d{name}")


def test_element_equations_evaluate_to_the_matrix_result():
    """The scalar element equations (what --round/--exact evaluate) agree with NumPy."""
    from backprop_cli.calc.arithmetic import FloatArithmetic
    from backprop_cli.calc.expr import evaluate

    arith = FloatArithmetic()
    for case in sorted(CASES):
        leaves = _leaves(case, 3)
        R = _weights(case, leaves, 3)
        tape = Tape()
        for name, value in leaves.items():
            tape.leaf(name, value)
        tape.leaf("R", R)
        tape.node("q", CASES[case][0])
        tape.node("f", Call("sum", (Bin("*", Ref("q"), Ref("R")),)))
        tape.backward("f")
        for eq in tape.equations:
            for element in eq.elements:
                got = evaluate(element.expr, dict(element.operands), arith)
                assert got == pytest.approx(element.value, rel=1e-9, abs=1e-12), (case, element.name)


def test_ties_split_the_gradient_as_pytorch_does():
    tape = Tape()
    tape.leaf("a", [1.0, 3.0, 3.0])
    tape.node("m", Call("max", (Ref("a"),)))
    assert tape.backward("m")["a"].tolist() == [0.0, 0.5, 0.5]


@pytest.mark.parametrize("expr, shapes, words", [
    (Bin("+", Ref("a"), Ref("b")), [(2, 3), (3, 2)], "broadcasting"),
    (Bin("@", Ref("a"), Ref("b")), [(2, 3), (2,)], "columns of the left (3) must equal the rows of the right (2)"),
    (Bin("@", Ref("a"), Ref("b")), [(3,), (2, 3)], "length of the left vector (3)"),
    (Bin("@", Ref("a"), Ref("b")), [(), (2,)], "use * to scale"),
    (Call("sum", (Ref("a"), Num("2"))), [(2, 3)], "axis 2 is out of range"),
    (Call("softmax", (Ref("a"),)), [()], "rank 1 or more"),
])
def test_shape_errors_name_node_shapes_and_rule(expr, shapes, words):
    tape = Tape()
    for name, shape in zip("ab", shapes):
        tape.leaf(name, np.ones(shape))
    with pytest.raises(ShapeError) as error:
        tape.node("q", expr)
    text = str(error.value)
    assert "node q" in text and words in text
    for shape in shapes:
        assert (f"({shape[0]},)" if len(shape) == 1 else "×".join(map(str, shape)) if shape else "()") in text


def test_a_non_scalar_output_needs_an_upstream_gradient():
    from backprop_cli.errors import ComputeError

    tape = Tape()
    tape.leaf("x", [1.0, 2.0])
    tape.node("q", Bin("*", Ref("x"), Num("3")))
    with pytest.raises(ComputeError, match="grad_output"):
        tape.backward("q")
    tape2 = Tape()
    tape2.leaf("x", [1.0, 2.0])
    tape2.node("q", Bin("*", Ref("x"), Ref("x")))
    assert tape2.backward("q", seed=[1.0, 0.5])["x"].tolist() == [2.0, 2.0]


def test_random_layered_graphs_match_pytorch():
    """Chains of random ops over shapes up to 4×5, several outputs' worth of fan-out."""
    torch = pytest.importorskip("torch")
    rnd = random.Random(11)
    unary = ["exp", "tanh", "sigmoid", "sin", "relu", "abs"]
    for trial in range(25):
        n, m = rnd.randint(1, 4), rnd.randint(1, 5)
        rng = np.random.default_rng(trial)
        leaves = {"W": rng.uniform(-1, 1, (n, m)), "x": rng.uniform(-1, 1, (m,)), "b": rng.uniform(-1, 1, (n,))}
        f1 = rnd.choice(unary)
        exprs = {
            "q": Bin("+", Bin("@", Ref("W"), Ref("x")), Ref("b")),
            "h": Call(f1, (Ref("q"),)),
            "s": Call("softmax", (Bin("*", Ref("h"), Ref("q")),)),
            "f": Bin("+", Call("sum", (Bin("*", Ref("s"), Ref("b")),)), Bin("**", Call("norm", (Ref("h"),)), Num("2"))),
        }
        tape = Tape()
        for k, v in leaves.items():
            tape.leaf(k, v)
        for k, e in exprs.items():
            tape.node(k, e)
        grads = tape.backward("f")
        env = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in leaves.items()}
        for k, e in exprs.items():
            env[k] = _torch_eval(e, env)
        env["f"].backward()
        for k in leaves:
            np.testing.assert_allclose(grads[k], env[k].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_the_parser_whitelist_is_the_engines_user_functions():
    from backprop_cli.calc.expr import GRAPH_FUNCTIONS
    from backprop_cli.tensor import USER_FUNCTIONS

    assert sorted(GRAPH_FUNCTIONS) == sorted(USER_FUNCTIONS)
