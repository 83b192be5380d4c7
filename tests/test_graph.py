"""Computational-graph mode (SPEC §3, §4, §5, §8): parser, reverse mode, second
derivatives, number policies, JSON and table rendering, shipped configs.

Derivatives are checked against sympy (exact differentiation of the same functions,
built independently of our parser) and against central finite differences; every
equation is re-evaluated by the shared verify_equations tool; every parser error is
pinned with its line, column and message, and shown to execute nothing.
"""
from __future__ import annotations

import builtins
import glob
import io
import json
import math
import os
import random
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import sympy as sp
from rich.console import Console

from backprop_cli.calc.arithmetic import ExactArithmetic, FloatArithmetic, RoundedArithmetic
from backprop_cli.errors import ComputeError, SpecError
from backprop_cli.calc.expr import evaluate
from backprop_cli.graph.minimize import solve_any_graph
from backprop_cli.graph.solve import GraphSpec, read_graph_spec, solve_graph
from backprop_cli.load import load_spec
from backprop_cli.render.graph_json import graph_to_json
from backprop_cli.render.graph_table import graph_symbol, graph_table
from backprop_cli.read.yamlsafe import load_text

ROOT = Path(__file__).resolve().parents[1]


def spec_of(text: str, file: str = "g.yaml") -> GraphSpec:
    return read_graph_spec(load_text(text, file), file)


def solve(text: str, arith=None):
    return solve_graph(spec_of(text), arith)


def graph(*lines: str, extra: str = "") -> str:
    return "graph:\n" + "".join(f"  {line}\n" for line in lines) + extra


def spec_error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        spec_of(text)
    return info.value




def assert_equations_hold(trace, verifier, digits=None):
    doc = json.loads(json.dumps(graph_to_json(trace)))
    every = [e for step in doc.get("steps", []) for e in step["equations"]] + doc["equations"]  # minimize: per step
    # matrix records (tensor graphs) have array operands: tests/test_tensor_graph.py checks them
    failures = [(e["name"], e["expression"], why) for e in every
                if e.get("form") != "matrix" and (why := verifier.check(e, digits))]
    assert not failures, failures


# ======================================================================================
# Seeds and shipped configs
# ======================================================================================

CIRCUIT = graph("x: -2", "y: 5", "z: -4", "q: x + y", "f: q * z")


def test_cs231n_circuit():
    t = solve(CIRCUIT)
    assert t.values == {"x": -2.0, "y": 5.0, "z": -4.0, "q": 3.0, "f": -12.0}
    assert t.gradients == {"x": -4.0, "y": -4.0, "z": 3.0, "q": -4.0, "f": 1.0}
    assert [(g.node, g.input, g.value) for g in t.local_gradients] == [
        ("q", "x", 1.0), ("q", "y", 1.0), ("f", "q", -4.0), ("f", "z", 3.0)]
    eq = {e.name: e for e in t.equations}
    assert eq["q"].expression == "{x} + {y}" and eq["q"].section == "forward"
    assert eq["dq/dx.local"].expression == "1"
    assert eq["df/dz.local"].expression == "{q}"
    assert eq["df/dx"].expression == "{df/dq} * {dq/dx.local}"
    assert dict(eq["df/dx"].operands) == {"df/dq": -4.0, "dq/dx.local": 1.0}
    assert t.output == "f" and t.second == {}


def test_seed_004_gradient_tape_power_chain():
    t = solve(graph("x: 5", "y: x**2", "z: y**2", "w: z**2"))
    assert t.values["w"] == 390625 == 5 ** 8
    assert t.gradients["x"] == 625000 == 8 * 5 ** 7  # tf prints 625000.0
    # The persistent tape: dz/dx = 500, dy/dx = 10.
    assert solve(graph("x: 5", "y: x**2", "z: y**2", "w: z**2", extra="output: z\n")).gradients["x"] == 500
    assert solve(graph("x: 5", "y: x**2", "z: y**2", extra="output: y\n")).gradients["x"] == 10
    assert solve(graph("x: 5", "w: 2", "y: x**3", "z: w**3", extra="output: y\n")).gradients["x"] == 75


def test_seed_004_second_derivative():
    t = solve(graph("x: 5", "y: x**2", extra="order: 2\n"))
    assert t.gradients["x"] == 10 and t.second == {"x": 2.0}
    assert t.named["d2y/dx2"] == 2.0
    t = solve(graph("x: 5", "y: x**2", "z: y**2", "w: z**2", extra="order: 2\n"))
    assert t.second["x"] == 56 * 5 ** 6


def _shipped():
    paths = []
    for pattern in ("graph_*.yaml", "tape_*.yaml", "neuron_gates*.yaml"):
        paths += [p for p in glob.glob(str(ROOT / "configs" / pattern)) if ".key." not in p]
    return sorted(paths)


def _default_tolerance(text: str) -> float:
    """SPEC §6: 1.5 units in the last decimal place; integers 1e-9."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return 1e-9
    mantissa, _, exponent = text.lower().partition("e")
    places = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 1.5 * 10.0 ** (-places + (int(exponent) if exponent else 0))


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: Path(p).name)
def test_shipped_config_matches_its_key(path, verifier):
    first = Path(path).read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# "), "each config starts with a comment saying what it is"
    trace = solve_any_graph(load_spec(path))  # gradient descent too (`minimize:`)
    key_root = load_text(Path(path).with_suffix("").with_suffix(".key.yaml").read_text(encoding="utf-8"))
    key_named = {k.value: v.value for k, v in {k.value: v for k, v in key_root.value}["named"].value}
    assert key_named
    for name, text in key_named.items():
        assert name in trace.named, name
        assert abs(trace.named[name] - float(text)) <= _default_tolerance(text), (name, trace.named[name], text)
    assert_equations_hold(trace, verifier)
    assert_equations_hold(solve_any_graph(load_spec(path), RoundedArithmetic(4)), verifier, 4)


def test_shipped_configs_exist():
    names = {Path(p).name for p in _shipped()}
    assert {"graph_circuit.yaml", "tape_power.yaml", "tape_second.yaml", "neuron_gates.yaml"} <= names


# ======================================================================================
# Random graphs against sympy and finite differences
# ======================================================================================

def _sig(a):
    return 1 / (1 + sp.exp(-a))


# (text template, sympy builder, inputs): smooth everywhere, bounded growth.
TEMPLATES = [
    ("{a} + {b}", lambda a, b: a + b, 2),
    ("{a} - {b}", lambda a, b: a - b, 2),
    ("{a} * {b}", lambda a, b: a * b, 2),
    ("{a} / (1 + {b} ** 2)", lambda a, b: a / (1 + b ** 2), 2),
    ("{a} ** 2", lambda a, b: a ** 2, 1),
    ("{a} ** 3 / 4", lambda a, b: a ** 3 / 4, 1),
    ("sin({a})", lambda a, b: sp.sin(a), 1),
    ("cos({a}) * {b}", lambda a, b: sp.cos(a) * b, 2),
    ("tanh({a})", lambda a, b: sp.tanh(a), 1),
    ("sigmoid({a})", lambda a, b: _sig(a), 1),
    ("exp(-{a} ** 2)", lambda a, b: sp.exp(-a ** 2), 1),
    ("sqrt(1 + {a} ** 2)", lambda a, b: sp.sqrt(1 + a ** 2), 1),
    ("log(1 + {a} ** 2)", lambda a, b: sp.log(1 + a ** 2), 1),
    ("{a} * {b} * {a}", lambda a, b: a * b * a, 2),
    ("-{a} + 2 * {b}", lambda a, b: -a + 2 * b, 2),
    ("({a} - {b}) ** 2 / 2", lambda a, b: (a - b) ** 2 / 2, 2),
    ("sigmoid({a} * {b})", lambda a, b: _sig(a * b), 2),
    ("1.5 * {a} - {b} / 4", lambda a, b: sp.Rational(3, 2) * a - b / 4, 2),
]


def _random_graph(rng: random.Random):
    """(spec text, leaf values, sympy expression of every node over leaf symbols)."""
    leaves = [f"a{i}" for i in range(rng.randint(2, 4))]
    values = {name: round(rng.uniform(0.3, 1.8) * rng.choice([-1, 1]), 2) for name in leaves}
    lines = [f"{name}: {values[name]}" for name in leaves]
    symbols = {name: sp.Symbol(name, real=True) for name in leaves}  # real: sympy's diff is faster
    exprs = dict(symbols)
    names = list(leaves)
    for i in range(rng.randint(3, 6)):
        text, build, arity = rng.choice(TEMPLATES)
        a = rng.choice(names[-3:])
        b = rng.choice(names)
        name = f"n{i}"
        lines.append(f"{name}: {text.format(a=a, b=b)}")
        exprs[name] = build(exprs[a], exprs[b])
        names.append(name)
    return graph(*lines, extra="order: 2\n"), values, symbols, exprs[names[-1]]


@pytest.mark.parametrize("seed", range(50))
def test_random_graph_against_sympy(seed, verifier):
    rng = random.Random(1000 + seed)
    text, values, symbols, f = _random_graph(rng)
    trace = solve(text)
    at = {symbols[k]: sp.Rational(str(v)) for k, v in values.items()}
    close = lambda got, want: math.isclose(got, float(want), rel_tol=1e-9, abs_tol=1e-10)  # noqa: E731
    assert close(trace.values[trace.output], f.evalf(30, subs=at)), text
    for leaf, symbol in symbols.items():
        first = sp.diff(f, symbol)
        assert close(trace.gradients[leaf], first.evalf(30, subs=at)), (text, leaf)
        assert close(trace.second[leaf], sp.diff(first, symbol).evalf(30, subs=at)), (text, leaf)
    assert_equations_hold(trace, verifier)
    assert_equations_hold(solve(text, RoundedArithmetic(4)), verifier, 4)


def _with_leaf(text: str, leaf: str, value: float) -> str:
    return re.sub(rf"^  {leaf}: .*$", f"  {leaf}: {value!r}", text, flags=re.M)


@pytest.mark.parametrize("seed", range(0, 50, 5))
def test_random_graph_against_finite_differences(seed):
    rng = random.Random(1000 + seed)
    text, values, _, _ = _random_graph(rng)
    trace = solve(text)
    f = trace.output
    for leaf, x in values.items():
        h = 1e-4
        up = solve(_with_leaf(text, leaf, x + h)).values[f]
        down = solve(_with_leaf(text, leaf, x - h)).values[f]
        centre = trace.values[f]
        assert math.isclose(trace.gradients[leaf], (up - down) / (2 * h), rel_tol=1e-6, abs_tol=1e-7)
        assert math.isclose(trace.second[leaf], (up - 2 * centre + down) / h ** 2, rel_tol=1e-3, abs_tol=1e-4)


def test_exact_policy_matches_sympy():
    x = sp.Symbol("x")
    trace = solve(graph("x: 1/2", "a: sigmoid(x)", "f: a * x ** (1/3) + log(x)", extra="order: 2\n"),
                  ExactArithmetic())
    f = _sig(x) * x ** sp.Rational(1, 3) + sp.log(x)
    at = {x: sp.Rational(1, 2)}
    exact = {k: v.to_sympy() if hasattr(v, "to_sympy") else v for k, v in trace.exact.items()}
    assert abs(sp.N(exact["df/dx"] - sp.diff(f, x).subs(at), 50)) < 1e-40
    assert abs(sp.N(exact["d2f/dx2"] - sp.diff(f, x, 2).subs(at), 50)) < 1e-40
    assert trace.gradients["x"] == pytest.approx(float(sp.diff(f, x).subs(at)), rel=1e-12)
    doc = graph_to_json(trace)
    assert doc["exact"]["x"] == "1/2"
    assert "exp" in doc["exact"]["a"] and "E" not in doc["exact"]["a"]
    json.dumps(doc)


# ======================================================================================
# Reverse mode: fan-out, local gradients, kinks, off-path nodes
# ======================================================================================

def test_fan_out_accumulates_and_shows_the_sum():
    t = solve(graph("x: 3", "a: 2 * x", "b: x ** 2", "f: a * b"))
    eq = {e.name: e for e in t.equations}
    assert eq["df/dx"].expression == "{df/da} * {da/dx.local} + {df/db} * {db/dx.local}"
    assert t.gradients["x"] == 9 * 2 + 6 * 6 == 54  # d(2x³)/dx = 6x² = 54
    assert eq["df/dx"].value == 54


def test_one_local_gradient_per_input():
    t = solve(graph("x: 3", "q: x * x"))
    assert [(g.node, g.input, g.value) for g in t.local_gradients] == [("q", "x", 6.0)]
    assert {e.name: e.expression for e in t.equations}["dq/dx.local"] == "2 * {x}"


def test_local_gradient_of_a_function_uses_the_node_value():
    t = solve(graph("z: 0.5", "s: sigmoid(z)", "th: tanh(s)", "e: exp(th)"))
    local = {e.name: e.expression for e in t.equations if e.section == "local"}
    assert local == {"ds/dz.local": "{s} * (1 - {s})", "dth/ds.local": "1 - {th} ** 2", "de/dth.local": "{e}"}


def test_off_path_nodes_get_gradient_zero():
    t = solve(graph("x: 1", "y: 2", "u: y * 3", "f: x * 2", "g: f + 1", extra="output: f\n"))
    assert t.gradients == {"x": 2.0, "y": 0.0, "u": 0.0, "f": 1.0, "g": 0.0}
    assert {(g.node, g.input) for g in t.local_gradients} == {("f", "x")}
    eq = {e.name: e for e in t.equations}
    assert eq["df/dy"].expression == "0" and "does not lead to f" in eq["df/dy"].condition


def test_leaf_output_and_wrt_defaults():
    t = solve(graph("x: 1", "y: 2", extra="output: x\norder: 2\n"))
    assert t.gradients == {"x": 1.0, "y": 0.0} and t.second == {"x": 0.0, "y": 0.0}
    assert spec_of(CIRCUIT).wrt == ("x", "y", "z")
    assert spec_of(CIRCUIT).output == "f"


@pytest.mark.parametrize("expression, x, gradient, condition", [
    ("relu(x)", 0, 0.0, "x <= 0"),
    ("relu(x)", 2, 1.0, "x > 0"),
    ("relu(x)", -1, 0.0, "x <= 0"),
    ("abs(x)", 0, 0.0, "x == 0"),
    ("abs(x)", -2, -1.0, "x < 0"),
    ("abs(x - 1)", 3, 1.0, "x - 1 > 0"),
    ("max(x, 1)", 1, 0.5, "x == 1"),
    ("max(x, 1)", 2, 1.0, "x > 1"),
    ("max(x, 1)", 0, 0.0, "1 > x"),
    ("min(x, 1)", 1, 0.5, "x == 1"),
    ("min(x, 1, 1)", 1, 1 / 3, "x == 1, x == 1"),
    ("max(x, x, 0)", 2, 1.0, "x == x, x > 0"),
])
def test_kinks_follow_pytorch(expression, x, gradient, condition):
    t = solve(graph(f"x: {x}", f"f: {expression}"))
    assert t.gradients["x"] == pytest.approx(gradient)
    local = next(e for e in t.equations if e.name == "df/dx.local")
    assert local.condition == condition


def test_kink_second_derivatives_are_zero_or_the_branch():
    assert solve(graph("x: 2", "f: relu(x) ** 2", extra="order: 2\n")).second == {"x": 2.0}
    assert solve(graph("x: -2", "f: relu(x) ** 2", extra="order: 2\n")).second == {"x": 0.0}
    assert solve(graph("x: 3", "f: max(x * x, 1)", extra="order: 2\n")).second == {"x": 2.0}


def test_pow_with_a_variable_exponent():
    t = solve(graph("a: 2", "b: 3", "f: a ** b", extra="order: 2\n"))
    assert t.gradients["a"] == pytest.approx(12) and t.gradients["b"] == pytest.approx(8 * math.log(2))
    assert t.second["b"] == pytest.approx(8 * math.log(2) ** 2)
    # PyTorch: d(a**b)/db is 0 where a = 0
    t = solve(graph("a: 0", "b: 2", "f: a ** b"))
    assert t.gradients["b"] == 0.0


@pytest.mark.parametrize("lines, node, words", [
    (("x: 0", "f: sqrt(x)"), "f", "sqrt′(0)"),
    (("x: -8", "f: x ** (1/3)"), "f", "non-integer exponent"),
    (("x: 0", "f: log(x)"), "f", "not a finite number"),
    (("x: -1", "f: log(x)"), "f", "not a finite number"),
    (("x: 0", "f: 1 / x"), "f", "division by zero"),
    (("x: 1e200", "y: x * x"), "y", "not a finite number"),
    (("x: 1e300", "y: x * 10"), "y", "beyond ±1e300"),
    (("x: 800", "y: exp(x)"), "y", "not a finite number"),
    (("x: 10", "y: x ** 400"), "y", "beyond ±1e300"),
    (("x: 0", "y: x ** 0.5", "f: y * 2"), "y", "division by zero"),
    (("x: 1e-200", "f: x ** -2"), "f", "beyond ±1e300"),
])
def test_non_finite_results_name_the_node(lines, node, words):
    with pytest.raises(ComputeError) as info:
        solve(graph(*lines))
    assert f"node {node}" in str(info.value) and words in str(info.value)
    # file:line:column of the node's value, then the node (issue 17)
    line = 2 + [l.split(":")[0] for l in lines].index(node)
    assert re.match(rf"g\.yaml:{line}:\d+: node ", str(info.value)), str(info.value)


def test_exact_mode_refuses_a_power_beyond_range_quickly():
    with pytest.raises(ComputeError, match="beyond"):
        solve(graph("x: 2", "y: x ** 900", "z: y ** 900"), ExactArithmetic())


# ======================================================================================
# Number policies: rounding, equations, named
# ======================================================================================

def test_every_equation_evaluates_to_its_value_under_each_policy():
    text = graph("x: 0.3", "y: -1.25", "a: x * y + sigmoid(x)", "b: a ** 2 / (1 + y ** 2)",
                 "f: tanh(b) + a * x", extra="order: 2\n")
    for arith in (FloatArithmetic(), RoundedArithmetic(4), RoundedArithmetic(2)):
        trace = solve(text, arith)
        for eq in trace.equations:
            again = arith.finish(evaluate(eq.expr, dict(eq.operands), arith))
            assert again == eq.value, eq.name


def test_rounding_rounds_computed_values_not_leaves(verifier):
    # x1: the verifier accepts long given data only under network-style names (x1, W1, …)
    t = solve(graph("x1: 0.123456", "y: x1 * 3", "f: y * y"), RoundedArithmetic(2))
    assert t.values["x1"] == 0.123456
    assert t.values["y"] == 0.37 and t.values["f"] == 0.14
    eq = {e.name: e for e in t.equations}
    assert eq["f"].operands == (("y", Decimal("0.37")),)  # later equations use the rounded value
    assert eq["df/dy.local"].expression == "2 * {y}" and eq["df/dy.local"].value == Decimal("0.74")
    assert eq["df/dx1"].value == Decimal("2.22")
    for e in t.equations:
        assert Decimal(repr(float(e.value))).as_tuple().exponent >= -2
    assert_equations_hold(t, verifier, 2)


def test_named_holds_every_canonical_name():
    t = solve(graph("x: 5", "y: x**2", extra="order: 2\n"))
    assert {"x", "y", "dy/dx.local", "dy/dy", "dy/dx", "d2y/dx2"} <= set(t.named)
    assert all(isinstance(v, float) for v in t.named.values())


# ======================================================================================
# JSON and table
# ======================================================================================

def test_json_shape():
    doc = graph_to_json(solve(CIRCUIT))
    assert list(doc) == ["format", "kind", "name", "output", "values", "local_gradients", "gradients",
                         "named", "equations"]
    assert doc["format"] == "backprop/1" and doc["kind"] == "graph" and doc["name"] == "g"
    assert doc["local_gradients"][0] == {"node": "q", "input": "x", "value": 1.0}
    assert doc["equations"][-1] == {"name": "df/dx", "expression": "{df/dq} * {dq/dx.local}",
                                    "operands": {"df/dq": -4.0, "dq/dx.local": 1.0}, "value": -4.0}
    json.dumps(doc)
    doc2 = graph_to_json(solve(graph("x: 0", "f: relu(x)", extra="order: 2\n")))
    assert doc2["second"] == {"x": 0.0}
    assert next(e for e in doc2["equations"] if e["name"] == "df/dx.local")["condition"] == "x <= 0"
    assert "condition" not in doc2["equations"][0]


def test_json_full_precision_and_no_negative_zero():
    doc = graph_to_json(solve(graph("x: 0.1", "y: 0.2", "s: x + y", "f: -s * 0")))
    assert doc["values"]["s"] == 0.30000000000000004
    zeros = [v for part in ("values", "gradients", "named") for v in doc[part].values() if v == 0]
    assert zeros and all(math.copysign(1, v) > 0 for v in zeros)


def _render(trace, width=80) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, force_terminal=False)
    console.print(graph_table(trace))
    return console.file.getvalue()


def test_table_shows_the_chain_rule_at_80_columns():
    out = _render(solve(CIRCUIT))
    assert "∂f/∂x = ∂f/∂q × ∂q/∂x|local = −4 × 1 = −4" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    out = _render(solve(graph("x: 3", "a: 2 * x", "b: x ** 2", "f: a * b", extra="order: 2\n"),
                        RoundedArithmetic(4)))
    assert "∂f/∂a × ∂a/∂x|local + ∂f/∂b × ∂b/∂x|local" in out and "∂²f/∂x²" in out and "hand-rounded" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "x ≤ 0" in _render(solve(graph("x: 0", "f: relu(x)")))


def test_graph_symbols():
    assert graph_symbol("df/dq", "f") == "∂f/∂q"
    assert graph_symbol("dq/dx.local", "f") == "∂q/∂x|local"
    assert graph_symbol("d2f/dx2", "f") == "∂²f/∂x²"
    assert graph_symbol("d2q/dx22", "f") == "d²q/dx2²"
    assert graph_symbol("dq/dx", "f") == "dq/dx"
    assert graph_symbol("d(dq/dp.local)/dx", "f") == "d(∂q/∂p|local)/dx"


def test_float_path_does_not_import_sympy():
    code = ("import sys; from backprop_cli.read.yamlsafe import load_text; "
            "from backprop_cli.graph.solve import read_graph_spec, solve_graph; "
            "from backprop_cli.render.graph_json import graph_to_json; "
            "t = solve_graph(read_graph_spec(load_text('graph:\\n  x: 2\\n  f: sigmoid(x)**2\\norder: 2\\n'), 'a')); "
            "graph_to_json(t); print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_library_code_never_evaluates_text():
    for path in ("backprop_cli/graph/solve.py", "backprop_cli/render/graph_json.py", "backprop_cli/render/graph_table.py"):
        source = (ROOT / path).read_text(encoding="utf-8")
        assert not re.search(r"(?<![\w.])(eval|exec|sympify|parse_expr|literal_eval|compile)\s*\(", source), path
        assert not re.search(r"(?<![\w.])print\(", source), path


# ======================================================================================
# Spec errors (structure)
# ======================================================================================

@pytest.mark.parametrize("text, line, path, words", [
    ("grph:\n  x: 1\n", 1, "grph", "did you mean 'graph'"),
    ("graph:\n  x: 1\nlayers: []\n", 3, "layers", "not both"),
    ("name: t\n", 1, None, "missing key 'graph'"),
    ("graph: [1, 2]\n", 1, "graph", "a mapping of node names"),
    ("graph: {}\n", 1, "graph", "no nodes"),
    ("graph:\n  x: 1\n  exp: 2\n", 3, "graph.exp", "function name"),
    ("graph:\n  x: 1\n  values: 2\n", 3, "graph.values", "structure"),
    ("graph:\n  x: 1\n  __class__: 2\n", 3, "graph.__class__", "dunder"),
    ("graph:\n  x: 1\n  lambda: 2\n", 3, "graph.lambda", "keyword"),
    ("graph:\n  x: 1\n  2x: 2\n", 3, "graph.2x", "plain identifier"),
    ("graph:\n  x: 1\n  a b: 2\n", 3, "graph.a b", "plain identifier"),
    ("graph:\n  x: true\n", 2, "graph.x", "the boolean true"),
    ("graph:\n  x:\n", 2, "graph.x", "nothing (null)"),
    ("graph:\n  x: {a: 1}\n", 2, "graph.x", "a number, a list of numbers or an expression"),
    ("graph:\n  x: [1, [2]]\n", 2, "graph.x[1]", "a number"),
    ("graph:\n  x: [[1, 2], [3]]\n", 2, "graph.x[1]", "ragged tensor"),
    ("graph:\n  x: [1]\n", 2, "output", "non-scalar output needs an upstream gradient"),
    ("graph:\n  x: 1\n  q: x * 2\nwrt: [q]\n", 4, "wrt[0]", "not a leaf"),
    ("graph:\n  x: 1\nwrt: [x, z]\n", 3, "wrt[1]", "unknown node 'z'"),
    ("graph:\n  x: 1\nwrt: [x, x]\n", 3, "wrt[1]", "listed twice"),
    ("graph:\n  x: 1\nwrt: []\n", 3, "wrt", "at least one"),
    ("graph:\n  total: 1\noutput: totl\n", 3, "output", "did you mean 'total'"),
    ("graph:\n  x: 1\norder: 3\n", 3, "order", "1 or 2"),
    ("graph:\n  x: 1\nname: [a]\n", 3, "name", "a title"),
    ("- 1\n", 1, None, "a mapping"),
])
def test_structure_errors(text, line, path, words):
    e = spec_error(text)
    assert e.line == line and e.path == path and e.file == "g.yaml"
    assert words in str(e)


def test_yaml_words_that_are_node_names_are_references():
    t = solve(graph("y: 2", "on: 3", "f: y * on"))
    assert t.values["f"] == 6
    assert spec_of(graph("x: 1", "q: x + 1", extra="wrt: x\n")).wrt == ("x",)


def test_leaf_forms():
    spec = spec_of(graph("a: 1e-3", "b: '1/4'", "c: -2", "d: 2 * 3", "e: .5"))
    assert [n.is_leaf for n in spec.nodes] == [True, True, True, False, True]
    assert solve(graph("a: 1e-3", "b: '1/4'", "f: a + b")).values["f"] == pytest.approx(0.251)
    assert spec.wrt == ("a", "b", "c", "e")


# ======================================================================================
# Expression errors: line of the node, column inside the expression, caret
# ======================================================================================

def caret_of(error: SpecError) -> tuple[str, str]:
    lines = error.message.split("\n")
    return lines[-2][4:], lines[-1][4:]


CASES = [
    # expression, column (1-based, inside the expression), width of the caret, message words, hint words
    ("x * zz", 5, 2, "unknown name 'zz'", "did you mean 'z'"),
    ("x + w", 5, 1, "unknown name 'w'", "defined so far: x, y, z"),
    ("x + later", 5, 5, "used before it is defined (line 7)", "move 'later' above 'q'"),
    ("q + 1", 1, 1, "refers to itself", None),
    ("x + r", 5, 1, "cycle: q → r → q", None),
    ("x +", 4, 1, "the expression ends where a number, a name or '(' is expected", None),
    ("(x + y", 1, 1, "'(' is never closed", "add the missing ')'"),
    ("x + y)", 6, 1, "unmatched ')'", None),
    ("x y", 3, 1, "expected an operator or the end of the expression, found 'y'", "write * for multiplication"),
    ("2x", 1, 2, "'2x' is not a number", "2 * x"),
    ("", 1, 1, "empty expression", None),
    ("* x", 1, 1, "expected a number, a name or '(', found '*'", None),
    ("x ^ 2", 3, 1, "'^' is not an operator here", "use **"),
    ("x // 2", 3, 2, "floor division", None),
    ("x.__class__", 2, 1, "attribute access", None),
    ("x[0]", 2, 1, "brackets are not allowed", None),
    ("[x for x in y]", 1, 1, "brackets are not allowed", None),
    ("(x for x in y)", 4, 3, "Python keyword 'for'", None),
    ("lambda: 1", 1, 6, "Python keyword 'lambda'", None),
    ("max(a=1, x)", 5, 2, "keyword arguments are not allowed", None),
    ("x + 'os'", 5, 4, "strings are not allowed", None),
    ("__import__('os').system('touch PWNED')", 1, 10, "unknown function '__import__'", None),
    ("eval('1')", 1, 4, "unknown function 'eval'", None),
    ("sigmod(x)", 1, 6, "unknown function 'sigmod'", "did you mean 'sigmoid'"),
    ("x(y)", 1, 1, "'x' is a node, not a function", None),
    ("exp + 1", 1, 3, "'exp' is a function: call it as exp(...)", None),
    ("exp(x, y)", 1, 9, "exp takes exactly 1 argument, found 2", None),
    ("max()", 1, 5, "max takes at least 1 argument", None),
    ("sum(x, y)", 1, 9, "must be an integer constant", None),
    ("sum(x, 0, 1)", 1, 12, "sum takes 1 or 2 arguments", None),
    ("max(x, )", 8, 1, "expected an argument after ','", None),
    ("x == y", 3, 2, "comparison '==' is not allowed", None),
    ("x < y", 3, 1, "comparison '<' is not allowed", None),
    ("x; y", 2, 1, "';' is not allowed", None),
    ("{x} + 1", 1, 1, "braces are not allowed", "without braces"),
    ("x × y", 3, 1, "unexpected character '×'", "'*'"),
    ("2 ** 1001", 3, 2, "exponent too large: a constant exponent (1001)", None),
    ("x ** -5000", 3, 2, "exponent too large", None),
    ("10 ** 10 ** 10", 4, 2, "exponent too large: a power tower of constants", None),
    ("x ** (2 ** 2000)", 9, 2, "exponent too large: a constant exponent (2000)", None),
    ("x ** (2 ** 1000 * 2 ** 1000)", 3, 2, "a power tower of constants (too large to compute)", None),
    ("010 + x", 1, 3, "'010' is not a number: a leading zero", None),
    ("1_000 * x", 1, 5, "underscores", None),
    ("0x1F", 1, 4, "hexadecimal", None),
    ("1e500 * x", 1, 5, "an exponent beyond ±400", None),
    ("nan * x", 1, 3, "'nan' is not a finite number", None),
    ("x + inf", 5, 3, "'inf' is not a finite number", None),
    ("x if y else z", 3, 2, "Python keyword 'if'", None),
    ("x = 1", 3, 1, "'=' is not allowed", None),
    ("x % 2", 3, 1, "'%' is not allowed", None),
]


@pytest.mark.parametrize("expression, column, width, words, hint", CASES, ids=[c[0] or "empty" for c in CASES])
def test_expression_errors(expression, column, width, words, hint, tmp_path, monkeypatch):
    def boom(*args, **kwargs):  # pragma: no cover - reaching it is the failure
        raise AssertionError("user text was executed")

    monkeypatch.setattr(os, "system", boom)
    monkeypatch.setattr(builtins, "eval", boom)
    monkeypatch.setattr(builtins, "exec", boom)
    # q is on line 5; `later` (line 7) and `r` (line 8, which uses q) come after it.
    text = graph("x: 1", "y: 2", "z: 3", f"q: {json.dumps(expression)}", "p: 4", "later: 1", "r: q * 2")
    error = spec_error(text)
    assert error.line == 5, str(error)
    assert error.column == column, str(error)
    assert error.path == "graph.q"
    assert words in error.message, str(error)
    if hint:
        assert hint in (error.hint or ""), str(error)
    shown, caret = caret_of(error)
    assert shown == expression
    assert caret == " " * (column - 1) + "^" * width, str(error)
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_caret_message_format():
    error = spec_error(graph("x: 1", "z: 2", "q: x * zz"))
    assert error.message == "unknown name 'zz'\n    x * zz\n        ^^"
    assert str(error).startswith("g.yaml:4:5: graph.q: unknown name 'zz'\n    x * zz\n        ^^")


def test_error_line_is_the_line_of_the_node():
    error = spec_error("# comment\nname: t\ngraph:\n  x: 1\n\n  q: x ^ 2\n")
    assert (error.line, error.column) == (6, 3)


def test_forward_reference_and_longer_cycle():
    e = spec_error(graph("x: 1", "a: x + b", "b: c * 2", "c: a - 1"))
    assert "cycle: a → b → c → a" in e.message and e.path == "graph.a"
    e = spec_error(graph("x: 1", "a: x + b", "b: x * 2"))
    assert "'b' is used before it is defined (line 4)" in e.message


def test_too_long_expression():
    expression = "+".join(["x"] * 5001)
    e = spec_error(graph("x: 1", f"q: {expression}"))
    assert "expression too long (10,001 characters" in e.message and e.column == 1


@pytest.mark.parametrize("expression", [
    "(" * 201 + "x" + ")" * 201,
    "x" + " + x" * 201,
    "-" * 201 + "x",
    "x" + " ** x" * 201,
    "exp(" * 201 + "x" + ")" * 201,
    "(" * 4000 + "x" + ")" * 4000,
    "-(" * 3000 + "x" + ")" * 3000,
])
def test_too_deep_is_an_error_not_a_recursion_error(expression):
    e = spec_error(graph("x: 1", f"q: {json.dumps(expression)}"))
    assert "nested deeper than 200 levels" in e.message
    assert e.line == 3


def test_200_levels_are_fine():
    t = solve(graph("x: 0.5", "q: " + "(" * 199 + "x" + ")" * 199, "f: " + "sin(" * 100 + "x" + ")" * 100,
                    "g: x" + " + x" * 199, extra="output: g\n"))
    assert t.values["q"] == 0.5 and t.values["g"] == 100.0
    t = solve(graph("x: 0.5", "f: " + "sin(" * 150 + "x" + ")" * 150))
    assert -1 < t.gradients["x"] < 1


def test_python_precedence():
    values = solve(graph("a: 2", "b: 3", "p: -a**2", "q: a**b**2", "r: a - b - 1", "s: a / b / 2",
                         "t: 2**-1", "u: -a * b", "v: +a", "w: a * -b ** 2", "k: (a + b) * 2",
                         "m: 2 * 3")).values
    assert values["p"] == -4 and values["q"] == 512 and values["r"] == -2
    assert values["s"] == pytest.approx(1 / 3) and values["t"] == 0.5 and values["u"] == -6
    assert values["v"] == 2 and values["w"] == -18 and values["k"] == 10 and values["m"] == 6


def test_expression_text_round_trips_through_the_printer():
    t = solve(graph("a: 2", "b: 3", "p: -a**2", "q: (a - b) - (a - b)", "r: a - (b - a)", "s: (-a) ** 2"))
    shown = {e.name: e.expression for e in t.equations if e.section == "forward"}
    assert shown == {"p": "-{a} ** 2", "q": "{a} - {b} - ({a} - {b})", "r": "{a} - ({b} - {a})",
                     "s": "(-{a}) ** 2"}
    assert t.values["s"] == 4 and t.values["r"] == 1


def test_deepest_legal_expressions_solve_render_or_refuse_cleanly():
    product = "x" + " * x" * 199  # 200 deep: its derivative is ~400 deep, 40,000 operations
    trace = solve(graph("x: 1.01", f"f: {product}"))
    assert trace.gradients["x"] == pytest.approx(200 * 1.01 ** 199)
    json.dumps(graph_to_json(trace))
    out = _render(trace)
    assert "⟨40,197 operations: see the JSON⟩" in out and max(len(line) for line in out.splitlines()) <= 80
    with pytest.raises(ComputeError, match="too large to write out"):
        solve(graph("x: 1.01", f"f: {product}", extra="order: 2\n"))
