"""Computational-graph specs (SPEC §4): a whitelisting expression parser and scalar
reverse-mode differentiation that writes every step down as an equation.

    graph:                      forward   q = {x} + {y}
      x: -2                     local     dq/dx.local = 1
      y: 5                      backward  df/dx = {df/dq} * {dq/dx.local}
      z: -4                     second    d2f/dx2 = … (order: 2)
      q: x + y
      f: q * z

Three parts, in three modules:

1. Reading the spec (here): the YAML node tree (yamlsafe) → a frozen `GraphSpec`. Every
   expression goes through our own tokenizer and recursive-descent parser
   (graph_parse.py). User text
   never reaches eval/exec/sympify: a name is either an earlier node or one of the
   whitelisted functions, and everything else is an error with a caret under it.
2. Symbolic differentiation on `expr` trees (graph_calculus.py), one rule per operation beside the
   operation (micrograd style). A local gradient is the derivative of ONE node's
   expression with respect to ONE input, specialised at the current point — kinks
   (relu, abs, max, min) take the branch PyTorch takes and record it as a condition.
3. `solve_graph` (here): forward values, local gradients, reverse accumulation over fan-out,
   and for `order: 2` the second derivative d²f/dx² of every `wrt` leaf by forward
   (Taylor) propagation of first and second tangents:

       dq/dx   = Σ_p ∂q/∂p · dp/dx
       d²q/dx² = Σ_p ∂q/∂p · d²p/dx² + d(∂q/∂p)/dx · dp/dx

   where d(∂q/∂p)/dx is the local gradient's own expression differentiated along x.
   Each of these is an `Equation` evaluated under the number policy, so the hand-
   rounded derivation stays arithmetically true as printed.
"""
from __future__ import annotations

import keyword
import math
from pathlib import PurePath
from typing import Any, Mapping

import yaml

from ..calc.arithmetic import FloatArithmetic
from ..errors import ComputeError, SpecError
from ..calc.expr import GRAPH_FUNCTIONS as FUNCTIONS, TENSOR_FUNCTIONS, Bin, Call, Expr, Ref, evaluate, refs
from ..frozen import frozen
from .calculus import ONE, ZERO, is_zero, differentiate, s_mul, s_sum
from ..read.suggest import suggest
from ..calc.expr import children
from .parse import IDENTIFIER, NameTable, Scope, parse_expression
from ..read.numbers import Number, describe, number, number_vector, parse_text, words
from ..safe_text import clip, quoted
from ..trace import Equation, GraphTrace, LocalGradient
from ..read.yamlsafe import is_plain, where

MAX_MAGNITUDE = 1e300  # beyond this a value is refused (SPEC §4)
# A derived expression (a derivative, a fan-out sum) is written out in full; beyond
# these bounds it is unreadable and evaluating or printing it would recurse too deep.
MAX_DERIVED_NODES = 100_000
MAX_DERIVED_DEPTH = 450

TOP_LEVEL_KEYS = ("name", "graph", "output", "wrt", "order", "grad_output", "minimize", "optimizer", "lr", "steps")
MAX_MINIMIZE_STEPS = 1000  # every step writes the whole derivation out
# Words of the JSON/answer-key structure (SPEC §6): a node with one of these names would
# make `named:` keys ambiguous.
STRUCTURE_WORDS = frozenset({
    "steps", "named", "tolerance", "values", "gradients", "local_gradients", "second",
    "equations", "layers", "kind", "format", "name", "output", "wrt", "order", "graph", "exact",
})
# YAML 1.1 booleans and nulls: a node written `x: true` or `x:` is an error, not a name
# (unless a node of that name exists: `q: y` refers to node y).
_PLAIN_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "", "~", "null"}


# ======================================================================================
# 1. The spec
# ======================================================================================

@frozen
class GraphNode:
    """One line of `graph:` — a leaf (given number) or an expression over earlier nodes."""

    name: str
    expr: Expr | None  # None for a leaf
    given: Number | None  # the number of a scalar leaf, as written
    text: str
    line: int | None = None
    shape: tuple[int, ...] = ()  # a tensor leaf's shape (a scalar leaf: ())
    values: tuple[float, ...] = ()  # a tensor leaf's numbers, row-major
    texts: tuple[str, ...] = ()  # … as written (exact mode reads 0.1 as 1/10)
    column: int | None = None  # of the node's value: where compute errors point

    @property
    def is_leaf(self) -> bool:
        return self.expr is None

    @property
    def is_tensor_leaf(self) -> bool:
        return self.expr is None and self.given is None

    @property
    def inputs(self) -> tuple[str, ...]:
        """Distinct operand names in first-use order: one local gradient each."""
        return tuple(refs(self.expr)) if self.expr is not None else ()


@frozen
class GraphSpec:
    name: str
    nodes: tuple[GraphNode, ...]
    output: str  # the first output (the only one of a scalar graph)
    wrt: tuple[str, ...]
    order: int
    file: str
    outputs: tuple[str, ...] = ()  # `output: [w, z, y]`: every output, in order
    grad_output: tuple = ()  # ((node, shape, values, texts, line), …): upstream gradients given
    tensor: bool = False  # solved by the tensor engine (graph/tensor_solve.py)
    # gradient descent on the output (`minimize: f`): the wrt leaves are the parameters,
    # updated by `optimizer` (a spec.Optimizer, read by spec.py) for `steps` steps
    minimize: str | None = None
    optimizer: Any = None
    steps: int = 1

    def node(self, name: str) -> GraphNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def leaves(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if n.is_leaf)


def read_graph_spec(root: yaml.Node, file: str) -> GraphSpec:
    """Validate a composed graph spec into a frozen GraphSpec; every problem is a
    SpecError naming the line, column and field path."""
    if not isinstance(root, yaml.MappingNode):
        raise SpecError(
            "a graph spec is a mapping", file=file, **where(root),
            expected="a mapping with a `graph:` key", found=describe(root),
        )
    fields = _top_level(root, file)
    if "graph" not in fields:
        raise SpecError("missing key 'graph'", file=file, **where(root),
                        expected="`graph:` with the nodes, one per line")
    nodes = _read_nodes(fields["graph"][1], file)
    minimize = _read_minimize(fields, nodes, file)
    outputs = (minimize,) if minimize else _read_output(fields.get("output"), nodes, file)
    wrt = _read_wrt(fields.get("wrt"), nodes, file)
    order = _read_order(fields.get("order"), file)
    title = _read_name(fields.get("name"), file)
    if title is None:
        title = PurePath(file).stem if file else "graph"
    grad_output = _read_grad_output(fields.get("grad_output"), nodes, outputs, file)
    tensor = len(outputs) > 1 or bool(grad_output) or any(_uses_tensors(n) for n in nodes)
    if tensor:  # imported here: scalar graphs never load numpy
        from .tensor_solve import check_shapes

        if minimize:
            _check_tensor_minimize(fields, nodes, minimize, grad_output, file)
        else:
            check_shapes(nodes, outputs, grad_output, file)
        if order == 2:
            _, v = fields["order"]
            raise SpecError("order: 2 (second derivatives) applies to scalar graphs", file=file, path="order",
                            **where(v), expected="order: 1 for a graph with tensors or several outputs",
                            found="order: 2")
    steps = 1
    if minimize and "steps" in fields:
        steps = _read_steps(fields["steps"][1], file)
    return GraphSpec(title, tuple(nodes), outputs[0], wrt, order, file, outputs=outputs, grad_output=grad_output,
                     tensor=tensor, minimize=minimize, steps=steps)


def _check_tensor_minimize(fields, nodes: list[GraphNode], minimize: str, grad_output, file: str) -> None:
    """Gradient descent on a tensor graph lowers one number: the minimized node must be
    a scalar (sum(...), mean(...), norm(...) of the tensors), as PyTorch's loss.backward()
    needs; an upstream gradient has no place in it."""
    from .tensor_solve import check_shapes
    from ..tensor.shapes import show

    shapes = check_shapes(nodes, (), (), file)
    if grad_output:
        k, _ = fields["grad_output"]
        raise SpecError("grad_output does not apply with minimize: the minimized node is a scalar, its "
                        "upstream gradient is 1", file=file, path="grad_output", **where(k),
                        hint="drop grad_output")
    if shapes[minimize] != ():
        node = next(n for n in nodes if n.name == minimize)
        _, v = fields["minimize"]
        raise SpecError(f"minimize: {minimize} has shape {show(shapes[minimize])}; gradient descent lowers one "
                        f"number", file=file, path=f"graph.{minimize}", line=node.line, column=node.column,
                        expected="a scalar node (a loss)", found=f"shape {show(shapes[minimize])}",
                        hint=f"minimize a reduction of it, e.g. sum({minimize} ** 2) or mean({minimize})")


def _uses_tensors(node: GraphNode) -> bool:
    """A tensor leaf, or an expression with @, a tensor function or max/min of one tensor."""
    if node.is_leaf:
        return node.is_tensor_leaf
    stack = [node.expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Bin) and e.op == "@":
            return True
        if isinstance(e, Call) and (e.fn in TENSOR_FUNCTIONS or (e.fn in ("max", "min") and len(e.args) == 1)):
            return True
        stack += children(e)
    return False


def _read_grad_output(field, nodes: list[GraphNode], outputs: tuple[str, ...], file: str) -> tuple:
    """`grad_output: {q: [[1, 0], [0, 1]]}` — the upstream gradient of a non-scalar output
    (PyTorch's q.backward(gradient=…)); one entry per output that needs one."""
    if field is None:
        return ()
    _, v = field
    if not isinstance(v, yaml.MappingNode):
        raise SpecError(file=file, path="grad_output", **where(v),
                        expected="a mapping of output names to numbers or lists", found=describe(v))
    out = []
    for k, item in v.value:
        name = k.value if isinstance(k, yaml.ScalarNode) else ""
        path = f"grad_output.{name}"
        if name not in outputs:
            raise SpecError(f"{name!r} is not an output", file=file, path=path, **where(k),
                            expected="one of the outputs: " + ", ".join(outputs),
                            hint=suggest(name, outputs) or "list it under `output:` first")
        if isinstance(item, yaml.SequenceNode):
            shape, values, texts = read_tensor(item, path, file)
        else:
            n = number(item, path, file, what="a number or a (nested) list of numbers")
            shape, values, texts = (), (n.value,), (n.text,)
        out.append((name, shape, values, texts, where(item)["line"]))
    return tuple(out)


def read_tensor(node: yaml.SequenceNode, path: str, file: str) -> tuple[tuple[int, ...], tuple[float, ...], tuple[str, ...]]:
    """A rectangular nested list of numbers → (shape, row-major floats, texts as written).
    A ragged list is an error naming the row; at most rank 4."""
    if not node.value:
        raise SpecError(file=file, path=path, **where(node), expected="a non-empty list of numbers",
                        found="an empty list")
    if isinstance(node.value[0], yaml.ScalarNode):
        for i, child in enumerate(node.value):
            if not isinstance(child, yaml.ScalarNode):
                raise SpecError(file=file, path=f"{path}[{i}]", **where(child),
                                expected=f"a number, like {path}[0]", found=describe(child),
                                hint="every row of a tensor has the same shape")
        values, texts = number_vector(node, path, file)
        return (len(values),), tuple(values), tuple(texts)
    shape = None
    values: list[float] = []
    texts: list[str] = []
    for i, child in enumerate(node.value):
        here = f"{path}[{i}]"
        if not isinstance(child, yaml.SequenceNode):
            raise SpecError(file=file, path=here, **where(child), expected=f"a list like the other rows ({path}[0])",
                            found=describe(child), hint="every row of a tensor has the same shape")
        sub, vs, ts = read_tensor(child, here, file)
        if shape is None:
            shape = sub
        elif sub != shape:
            raise SpecError(f"ragged tensor: row {i} has shape {_shape_words(sub)}, row 0 has {_shape_words(shape)}",
                            file=file, path=here, **where(child), expected=f"shape {_shape_words(shape)}",
                            found=f"shape {_shape_words(sub)}", hint="every row of a tensor has the same length")
        values += vs
        texts += ts
    full = (len(node.value),) + shape
    if len(full) > 4:
        raise SpecError(file=file, path=path, **where(node), expected="a tensor of rank at most 4",
                        found=f"rank {len(full)}")
    return full, tuple(values), tuple(texts)


def _shape_words(shape: tuple[int, ...]) -> str:
    return "(" + "×".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _read_minimize(fields, nodes: list[GraphNode], file: str) -> str | None:
    """`minimize: f` names the node gradient descent lowers; `optimizer`/`lr` and
    `steps` belong to it (the optimizer itself is read by spec.py, as for networks)."""
    if "minimize" not in fields:
        for key in ("optimizer", "lr", "steps"):
            if key in fields:
                k, _ = fields[key]
                raise SpecError(f"{key!r} applies to gradient descent on the graph", file=file, path=key,
                                **where(k), hint="add `minimize: <node>` to run an optimizer on the graph's leaves")
        return None
    k, v = fields["minimize"]
    names = [n.name for n in nodes]
    if not isinstance(v, yaml.ScalarNode) or v.value not in names:
        found = repr(v.value) if isinstance(v, yaml.ScalarNode) else describe(v)
        raise SpecError(file=file, path="minimize", **where(v), expected="the name of a computed node",
                        found=found, hint=suggest(v.value, names) if isinstance(v, yaml.ScalarNode) else None)
    node = next(n for n in nodes if n.name == v.value)
    if node.is_leaf:
        raise SpecError(f"{node.name!r} is a given number: there is nothing to minimize", file=file,
                        path="minimize", **where(v), expected="a computed node (an expression of the leaves)")
    if "output" in fields and fields["output"][1].value != v.value:
        raise SpecError("`output` and `minimize` name different nodes", file=file, path="output",
                        **where(fields["output"][1]), hint="drop `output`: the minimized node is the output")
    if "optimizer" not in fields and "lr" not in fields:
        raise SpecError("missing required field 'optimizer' (or the shorthand 'lr')", file=file, path="optimizer",
                        **where(k), hint="add e.g. `optimizer: {name: sgd, lr: 0.1}` or `lr: 0.1`")
    return v.value


def _read_steps(node: yaml.Node, file: str) -> int:
    n = number(node, "steps", file, what=f"a whole number of steps from 1 to {MAX_MINIMIZE_STEPS}")
    if n.value != int(n.value) or not n.text.lstrip("+").isdigit() or not 1 <= n.value <= MAX_MINIMIZE_STEPS:
        raise SpecError(file=file, path="steps", **where(node),
                        expected=f"a whole number of steps from 1 to {MAX_MINIMIZE_STEPS}", found=n.text)
    return int(n.value)


def _top_level(root: yaml.MappingNode, file: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    keys = [k.value for k, _ in root.value if isinstance(k, yaml.ScalarNode)]
    for k, v in root.value:
        if not isinstance(k, yaml.ScalarNode):
            raise SpecError("keys must be plain words", file=file, **where(k), found=describe(k))
        key = k.value
        if key == "layers" and "graph" in keys:
            raise SpecError(
                "a spec has either `graph:` (a computational graph) or `layers:` (a network), "
                "not both", file=file, path="layers", **where(k),
                hint="split it into two files",
            )
        if key not in TOP_LEVEL_KEYS:
            raise SpecError(
                f"unknown key {quoted(key)}", file=file, path=clip(key), **where(k),
                expected="one of " + ", ".join(TOP_LEVEL_KEYS),
                hint=suggest(key, TOP_LEVEL_KEYS),
            )
        fields[key] = (k, v)
    return fields


def _read_name(field, file: str) -> str | None:
    if field is None:
        return None
    return words(field[1], "name", file)


def _read_order(field, file: str) -> int:
    if field is None:
        return 1
    _, v = field
    n = number(v, "order", file, what="1 or 2")
    if n.value not in (1.0, 2.0):
        raise SpecError(file=file, path="order", **where(v), expected="1 or 2", found=n.text,
                        hint="2 adds the second derivatives d²f/dx² (diagonal only)")
    return int(n.value)


def _read_output(field, nodes: list[GraphNode], file: str) -> tuple[str, ...]:
    """`output: f` or several, `output: [w, z, y]` (TensorFlow's persistent tape)."""
    names = [n.name for n in nodes]
    if field is None:
        return (names[-1],)
    _, v = field
    items = v.value if isinstance(v, yaml.SequenceNode) else [v]
    if isinstance(v, yaml.SequenceNode) and not items:
        raise SpecError(file=file, path="output", **where(v), expected="at least one node name", found="an empty list")
    chosen: list[str] = []
    for i, item in enumerate(items):
        path = f"output[{i}]" if isinstance(v, yaml.SequenceNode) else "output"
        if not isinstance(item, yaml.ScalarNode) or (is_plain(item) and item.value.lower() in ("", "~")):
            raise SpecError(file=file, path=path, **where(item), expected="the name of a node", found=describe(item))
        if item.value not in names:
            raise SpecError(
                f"unknown node {quoted(item.value)}", file=file, path=path, **where(item),
                expected="one of " + ", ".join(names[-10:]), hint=suggest(item.value, names),
            )
        if item.value in chosen:
            raise SpecError(f"{quoted(item.value)} is listed twice", file=file, path=path, **where(item))
        chosen.append(item.value)
    return tuple(chosen)


def _read_wrt(field, nodes: list[GraphNode], file: str) -> tuple[str, ...]:
    """`wrt` names leaves (a list, or one name); default: every leaf."""
    leaves = [n.name for n in nodes if n.is_leaf]
    if field is None:
        return tuple(leaves)
    _, v = field
    items = [v] if isinstance(v, yaml.ScalarNode) else v.value if isinstance(v, yaml.SequenceNode) else None
    if items is None:
        raise SpecError(file=file, path="wrt", **where(v), expected="a list of leaf names", found=describe(v))
    if not items:
        raise SpecError(file=file, path="wrt", **where(v), expected="at least one leaf name", found="an empty list")
    names = {n.name: n for n in nodes}
    chosen: list[str] = []
    for i, item in enumerate(items):
        path = f"wrt[{i}]" if isinstance(v, yaml.SequenceNode) else "wrt"
        if not isinstance(item, yaml.ScalarNode):
            raise SpecError(file=file, path=path, **where(item), expected="a leaf name", found=describe(item))
        name = item.value
        if name not in names:
            raise SpecError(f"unknown node {quoted(name)}", file=file, path=path, **where(item),
                            expected="a leaf: " + ", ".join(leaves[:10]), hint=suggest(name, names))
        if not names[name].is_leaf:
            raise SpecError(
                f"{quoted(name)} is computed ({name}: {clip(names[name].text.strip())}), not a leaf", file=file,
                path=path, **where(item), expected="a leaf (a node given as a number)",
                hint="derivatives are taken with respect to given numbers; df/d" + name
                + " is in the gradients anyway",
            )
        if name in chosen:
            raise SpecError(f"{quoted(name)} is listed twice", file=file, path=path, **where(item))
        chosen.append(name)
    return tuple(chosen)


def _check_node_name(key: yaml.Node, file: str) -> str:
    """Node names become canonical names (`df/dq`) and JSON keys: plain identifiers only."""
    if not isinstance(key, yaml.ScalarNode):
        raise SpecError("a node name must be a plain word", file=file, path="graph", **where(key),
                        found=describe(key))
    name = key.value
    path = f"graph.{name}"
    if not IDENTIFIER.fullmatch(name):
        raise SpecError(
            f"{quoted(name)} is not a valid node name", file=file, path=path, **where(key),
            expected="a plain identifier (letters, digits and _, not starting with a digit)",
        )
    reason = None
    if name.startswith("__") and name.endswith("__"):
        reason = "a __dunder__ name"
    elif keyword.iskeyword(name):
        reason = "a Python keyword"
    elif name in FUNCTIONS:
        reason = "a function name"
    elif name in STRUCTURE_WORDS:
        reason = "a word of the output's structure (SPEC §6)"
    if reason:
        raise SpecError(f"{quoted(name)} cannot be a node name: it is {reason}", file=file, path=path,
                        **where(key), hint=f"rename it, e.g. {name.strip('_')}_1")
    return name


def _read_nodes(graph: yaml.Node, file: str) -> list[GraphNode]:
    if not isinstance(graph, yaml.MappingNode):
        raise SpecError(file=file, path="graph", **where(graph),
                        expected="a mapping of node names to numbers or expressions", found=describe(graph))
    if not graph.value:
        raise SpecError("the graph has no nodes", file=file, path="graph", **where(graph),
                        expected="at least one node")
    entries = [(_check_node_name(k, file), v) for k, v in graph.value]
    table = NameTable(
        tuple(name for name, _ in entries),
        {name: i for i, (name, _) in enumerate(entries)},
        {name: v.value if isinstance(v, yaml.ScalarNode) else "" for name, v in entries},
        {name: v.start_mark.line + 1 for name, v in entries},
    )
    return [_read_node(name, value, Scope(table, i), file) for i, (name, value) in enumerate(entries)]


def _read_node(name: str, value: yaml.Node, scope: "Scope", file: str) -> GraphNode:
    path = f"graph.{name}"
    loc = where(value)
    if isinstance(value, yaml.SequenceNode):  # a vector, matrix or higher tensor leaf
        shape, values, texts = read_tensor(value, path, file)
        return GraphNode(name, None, None, "", loc["line"], shape=shape, values=values, texts=texts, column=loc.get("column"))
    if not isinstance(value, yaml.ScalarNode):
        raise SpecError(file=file, path=path, **loc, expected="a number, a list of numbers or an expression",
                        found=describe(value))
    word = value.value.lower()
    if is_plain(value) and word in _PLAIN_WORDS and not scope.is_defined(value.value):
        found = "nothing (null)" if word in ("", "~", "null") else f"the boolean {value.value}"
        raise SpecError(file=file, path=path, **loc, expected="a number or an expression", found=found)
    text = value.value
    given = parse_text(text)
    if isinstance(given, Number):
        return GraphNode(name, None, given, text, loc["line"], column=loc.get("column"))
    expr = parse_expression(text, scope, file=file, line=loc["line"], path=path)
    return GraphNode(name, expr, None, text, loc["line"], column=loc.get("column"))


# ======================================================================================
# 3. Solving
# ======================================================================================

class _Bounded:
    """A number policy that refuses a power whose result would pass ±1e300 *before*
    computing it — exact arithmetic would otherwise build 2**(10**9) digit by digit."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def binary(self, op: str, a, b):
        if op == "**":
            self._check_power(a, b)
        return self.inner.binary(op, a, b)

    def _check_power(self, a, b) -> None:
        fa, fb = abs(self.inner.to_float(a)), self.inner.to_float(b)
        if fa in (0.0, 1.0) or not math.isfinite(fa) or not math.isfinite(fb):
            return
        if fb * math.log10(fa) > 300.01:
            raise ComputeError(f"{fa:.6g} ** {fb:.6g} is beyond ±1e300")


def local_name(node: str, input_: str) -> str:
    return f"d{node}/d{input_}.local"


def gradient_name(output: str, node: str) -> str:
    return f"d{output}/d{node}"


def second_name(node: str, leaf: str) -> str:
    return f"d2{node}/d{leaf}2"


def local_tangent_name(node: str, input_: str, leaf: str) -> str:
    return f"d({local_name(node, input_)})/d{leaf}"


def expression_size(e: Expr) -> tuple[int, int]:
    """(operations written out, depth) of an expression, without recursion — derived
    expressions share subtrees, so the written size can far exceed the object count.
    Renderers use it to elide formulas too long to read (or to print recursively)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[Expr, bool]] = [(e, False)]
    while stack:
        n, done = stack.pop()
        key = id(n)
        if key in size:
            continue
        kids = children(n)
        if done or not kids:
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
        else:
            stack.append((n, True))
            stack += [(k, False) for k in kids if id(k) not in size]
    return size[id(e)], depth[id(e)]


class GraphSolver:
    """The state of one solve: the environment of computed values and the equations
    in the order a derivation shows them. Used once, by `solve_graph`."""

    def __init__(self, spec: GraphSpec, arith) -> None:
        self.spec = spec
        self.arith = arith
        self.policy = _Bounded(arith)
        self.env: dict[str, Any] = {}
        self.equations: list[Equation] = []

    def point(self, e: Expr):
        return evaluate(e, self.env, self.policy)

    def equation(self, node: str, name: str, e: Expr, section: str, condition: str | None = None) -> Equation:
        """Evaluate name = e under the policy, round it (finish), record it."""
        where_ = f"node {node}" if name == node else f"node {node}, {name}"
        size, depth = expression_size(e)
        if size > MAX_DERIVED_NODES or depth > MAX_DERIVED_DEPTH:
            raise ComputeError(f"{where_}: the equation is too large to write out ({size:,} operations, "
                               f"{depth} deep); split the expression into smaller nodes")
        try:
            value = self.arith.finish(evaluate(e, self.env, self.policy))
            self.check_magnitude(value)
        except ComputeError as exc:
            raise ComputeError(f"{where_}: {exc}") from None
        except (ArithmeticError, ValueError, OverflowError) as exc:
            raise ComputeError(f"{where_}: not a finite number ({type(exc).__name__})") from None
        eq = Equation(name, e, tuple((r, self.env[r]) for r in refs(e)), value, section, condition or None)
        self.env[name] = value
        self.equations.append(eq)
        return eq

    def check_magnitude(self, value) -> None:
        f = self.arith.to_float(value)
        if not math.isfinite(f):
            raise ComputeError("the result is not a finite number")
        if abs(f) > MAX_MAGNITUDE:
            raise ComputeError(f"{f:.6g} is beyond ±1e300")

    # -- passes ------------------------------------------------------------------------
    def forward(self, leaves: Mapping[str, Any] | None = None) -> None:
        """Node values in order; `leaves` replaces given leaf values (a later step of
        gradient descent starts from the updated parameters)."""
        for node in self.spec.nodes:
            if node.is_leaf and leaves and node.name in leaves:
                self.env[node.name] = leaves[node.name]
            elif node.is_leaf:
                given = node.given.fraction()
                self.env[node.name] = self.arith.given(given)
                try:
                    if given != 0 and self.arith.name != "exact" and self.arith.to_float(self.env[node.name]) == 0:
                        raise ComputeError(
                            f"{node.text} underflows to 0 in float64 (the smallest positive number is "
                            "≈ 4.9e-324): use a larger value, or --exact"
                        )
                    self.check_magnitude(self.env[node.name])
                except ComputeError as exc:
                    raise ComputeError(f"node {node.name}: {exc}") from None
            else:
                self.equation(node.name, node.name, node.expr, "forward")

    def on_path(self) -> list[GraphNode]:
        """The output and every node it depends on, in graph order."""
        by_name = {n.name: n for n in self.spec.nodes}
        keep = {self.spec.output}
        stack = [self.spec.output]
        while stack:
            for p in by_name[stack.pop()].inputs:
                if p not in keep:
                    keep.add(p)
                    stack.append(p)
        return [n for n in self.spec.nodes if n.name in keep]

    def local_gradients(self, path: list[GraphNode]) -> dict[tuple[str, str], Expr]:
        exprs: dict[tuple[str, str], Expr] = {}
        for node in path:
            for p in node.inputs:
                name = local_name(node.name, p)
                try:
                    g, conditions = differentiate(node.expr, {p: ONE}, self.point, (node.expr, Ref(node.name)))
                except ComputeError as exc:
                    raise ComputeError(f"node {node.name}, {name}: {exc}") from None
                self.equation(node.name, name, g, "local", ", ".join(conditions))
                exprs[(node.name, p)] = g
        return exprs

    def backward(self, path: list[GraphNode]) -> None:
        """df/dp = Σ over p's consumers q of df/dq · dq/dp.local, output first."""
        f = self.spec.output
        self.equation(f, gradient_name(f, f), ONE, "backward")
        on = {n.name for n in path}
        consumers: dict[str, list[str]] = {n.name: [] for n in self.spec.nodes}
        for q in path:
            for p in q.inputs:
                consumers[p].append(q.name)
        for node in reversed(path):
            if node.name != f:
                terms = [s_mul(Ref(gradient_name(f, q)), Ref(local_name(q, node.name))) for q in consumers[node.name]]
                e = terms[0]
                for t in terms[1:]:
                    e = Bin("+", e, t)  # never merged: the fan-out sum is shown term by term
                self.equation(node.name, gradient_name(f, node.name), e, "backward")
        for node in self.spec.nodes:
            if node.name not in on:
                self.equation(node.name, gradient_name(f, node.name), ZERO, "backward",
                              f"{node.name} does not lead to {f}")

    def second(self, path: list[GraphNode], local: Mapping[tuple[str, str], Expr]) -> None:
        """d²f/dx² for each wrt leaf by forward propagation of tangents (see module doc)."""
        f = self.spec.output
        on = {n.name for n in path}
        for x in self.spec.wrt:
            if x == f or x not in on:
                why = None if x == f else f"{x} does not lead to {f}"
                self.equation(f, second_name(f, x), ZERO, "second", why)
                continue
            self.second_for(x, path, local)

    def second_for(self, x: str, path: list[GraphNode], local: Mapping[tuple[str, str], Expr]) -> None:
        f = self.spec.output
        tangent: dict[str, Expr] = {x: ONE}  # dp/dx as an expression (1 for x itself)
        curvature: dict[str, Expr] = {x: ZERO}  # d²p/dx²
        for node in path:
            q = node.name
            inputs = [p for p in node.inputs if p in tangent]
            if node.is_leaf or not inputs:
                continue
            if q != f:  # the output's tangent is df/dx, already computed in reverse
                e = s_sum(s_mul(Ref(local_name(q, p)), tangent[p]) for p in inputs)
                self.equation(q, gradient_name(q, x), e, "second")
            tangent[q] = Ref(gradient_name(q, x))
            along = {p: tangent[p] for p in inputs}
            along[q] = tangent[q]
            terms: list[Expr] = []
            for p in inputs:
                terms.append(s_mul(Ref(local_name(q, p)), curvature[p]))
                name = local_tangent_name(q, p, x)
                try:
                    g, conditions = differentiate(local[(q, p)], along, self.point)
                except ComputeError as exc:
                    raise ComputeError(f"node {q}, {name}: {exc}") from None
                if not is_zero(g):
                    self.equation(q, name, g, "second", ", ".join(conditions))
                    terms.append(s_mul(Ref(name), tangent[p]))
            e = s_sum(terms)
            if q == f or not is_zero(e):
                self.equation(q, second_name(q, x), e, "second")
                curvature[q] = Ref(second_name(q, x))
            else:
                curvature[q] = ZERO


def _node_place(spec: GraphSpec, message: str) -> dict:
    """Line and column of the node a solver message starts with ("node q: …", "node q, …")."""
    for node in spec.nodes:
        if message.startswith((f"node {node.name}:", f"node {node.name},")):
            return {"line": node.line, "column": node.column}
    return {}


def solve_graph(spec: GraphSpec, arith=None) -> GraphTrace:
    """Forward values, local gradients, reverse-mode gradients of the output with
    respect to every node and, for `order: 2`, d²f/dx² for each `wrt` leaf — all as
    equations under the number policy `arith` (float64 when None)."""
    if spec.tensor:
        from .tensor_solve import solve_tensor_graph

        return solve_tensor_graph(spec, arith)
    arith = arith if arith is not None else FloatArithmetic()
    solver = GraphSolver(spec, arith)
    try:
        solver.forward()
        path = solver.on_path()
        local = solver.local_gradients(path)
        solver.backward(path)
        if spec.order == 2:
            solver.second(path, local)
    except ComputeError as exc:  # every message to a user names the file, line and column
        raise exc.located(file=spec.file, **_node_place(spec, str(exc))) from None

    env, f = solver.env, spec.output
    as_float = lambda v: float(arith.to_float(v)) + 0.0  # noqa: E731  (+0.0: no -0.0 in JSON)
    values = {n.name: as_float(env[n.name]) for n in spec.nodes}
    local_gradients = tuple(
        LocalGradient(q, p, as_float(env[local_name(q, p)])) for (q, p) in local
    )
    gradients = {n.name: as_float(env[gradient_name(f, n.name)]) for n in spec.nodes}
    second = {x: as_float(env[second_name(f, x)]) for x in spec.wrt} if spec.order == 2 else {}
    named = dict(values)
    named.update((eq.name, as_float(eq.value)) for eq in solver.equations)
    exact = dict(env) if getattr(arith, "name", "") == "exact" else {}
    return GraphTrace(
        name=spec.name, spec=spec, output=f, values=values, local_gradients=local_gradients,
        gradients=gradients, second=second, named=named, equations=tuple(solver.equations),
        policy=getattr(arith, "name", "float"), digits=getattr(arith, "digits", None), exact=exact,
    )

