"""Expression trees: the one representation of every equation's right-hand side.

An equation such as dL/dW5 = dL/da3 · da3/dz3 · dz3/dW5 is a tree of `Ref` (a canonical
name), `Num` (a literal the math has, like the 1 in 1 − a3), `Neg`, `Bin` and `Call`.
The same tree is

* printed as SPEC §5 text (`{dL/da3} * {da3/dz3} * {dz3/dW5}`) for JSON,
* printed with symbols or numbers by the LaTeX / Unicode renderers,
* evaluated under a number policy (float64, hand-rounded decimal, exact sympy),

so what is shown and what is computed can never drift apart. Graph specs (SPEC §4)
parse user text into these same nodes.
"""
from __future__ import annotations

from typing import Callable, Mapping, Union

from ..frozen import frozen

# Python's precedence, which SPEC §4 adopts (-2**2 == -4).
PREC_ADD, PREC_MUL, PREC_NEG, PREC_POW, PREC_ATOM = 1, 2, 3, 4, 5

FUNCTIONS_1 = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs")
FUNCTIONS_N = ("max", "min")
FUNCTIONS = FUNCTIONS_1 + FUNCTIONS_N
# Functions of tensor graphs (the tensor engine, tensor/ops.py): whole-tensor operations.
# `sum(x, axis)` / `mean(x, axis)` take a 0-based integer axis (PyTorch's dim);
# `softmax(x, axis)` / `log_softmax(x, axis)` accept the last axis (their default).
# Convolution and pooling (tensor/conv.py) take tensors, then integer constants: the
# table below gives, per function, (how many tensors, the constants' names, how many
# constants are required, the least value of each constant or None).
TENSOR_FUNCTIONS = ("sum", "mean", "transpose", "softmax", "log_softmax", "norm",
                    "conv2d", "conv1d", "maxpool2d", "avgpool2d", "reshape", "flatten")
TENSOR_FUNCTIONS_AXIS = ("sum", "mean", "softmax", "log_softmax")
TENSOR_FUNCTIONS_CONSTANTS = {
    "conv2d": (2, ("stride", "padding"), 0, (1, 0)),
    "conv1d": (2, ("stride", "padding"), 0, (1, 0)),
    "maxpool2d": (1, ("kernel", "stride"), 1, (1, 1)),
    "avgpool2d": (1, ("kernel", "stride"), 1, (1, 1)),
    "reshape": (1, ("d1", "d2", "d3", "d4"), 1, (1, 1, 1, 1)),
    "flatten": (1, ("start_dim",), 0, (None,)),
}
GRAPH_FUNCTIONS = FUNCTIONS + TENSOR_FUNCTIONS  # what a graph spec may call


# The derivation builds these by the million: each writes its fields straight into
# the instance (frozen.py keeps a class's own __init__), three times as fast as the
# generic constructor.

@frozen
class Num:
    """A numeric literal the derivation itself writes (1, 2, 100, 0.5)."""

    text: str

    def __init__(self, text: str) -> None:
        self.__dict__["text"] = text


@frozen
class Ref:
    """An operand: a canonical name whose value lives in the environment."""

    name: str

    def __init__(self, name: str) -> None:
        self.__dict__["name"] = name


@frozen
class Neg:
    operand: "Expr"

    def __init__(self, operand: "Expr") -> None:
        self.__dict__["operand"] = operand


@frozen
class Bin:
    op: str  # one of + - * / **
    left: "Expr"
    right: "Expr"

    def __init__(self, op: str, left: "Expr", right: "Expr") -> None:
        fields = self.__dict__
        fields["op"], fields["left"], fields["right"] = op, left, right


@frozen
class Call:
    fn: str
    args: tuple["Expr", ...]

    def __init__(self, fn: str, args: tuple) -> None:
        fields = self.__dict__
        fields["fn"], fields["args"] = fn, args


Expr = Union[Num, Ref, Neg, Bin, Call]

_PREC = {"+": PREC_ADD, "-": PREC_ADD, "*": PREC_MUL, "/": PREC_MUL, "@": PREC_MUL, "**": PREC_POW}  # @: tensor graphs


def precedence(e: Expr) -> int:
    if isinstance(e, Bin):
        return _PREC[e.op]
    if isinstance(e, Neg):
        return PREC_NEG
    return PREC_ATOM


def needs_parens(child: Expr, parent_op: str, side: str) -> bool:
    """Whether `child` must be parenthesised under `parent_op` so that Python's parser
    (and ours) rebuild exactly this tree — the rounding of `a - (b - c)` depends on it."""
    pc, pp = precedence(child), _PREC[parent_op]
    if parent_op == "**":
        # left: (-a)**2 and (a*b)**2 need parens, and so does a nested power (right-assoc).
        return pc <= pp if side == "left" else pc < PREC_ATOM and pc != PREC_POW
    if side == "left":
        return pc < pp
    return pc <= pp


def children(e: Expr) -> tuple:
    """The sub-expressions of a node, left to right."""
    if isinstance(e, Bin):
        return (e.left, e.right)
    if isinstance(e, Neg):
        return (e.operand,)
    if isinstance(e, Call):
        return e.args
    return ()


def postorder(e: Expr) -> list:
    """Every distinct node below and including `e`, children before parents, left to
    right — without recursion: a neuron with 1,000 inputs is a 1,000-deep sum, past
    Python's recursion limit (issue 17). Shared subtrees appear once."""
    order: list = []
    seen: set[int] = set()
    stack: list = [(e, False)]
    while stack:
        n, expanded = stack.pop()
        if expanded:
            order.append(n)
            continue
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.append((n, True))
        stack.extend((k, False) for k in reversed(children(n)))
    return order


def _bottom_up(e: Expr, leaf: Callable, node: Callable):
    """Fold a tree without recursion: leaf(n) for Num/Ref, node(n, child results)."""
    done: dict[int, object] = {}
    for n in postorder(e):
        kids = children(n)
        done[id(n)] = node(n, [done[id(k)] for k in kids]) if kids else leaf(n)
    return done[id(e)]


def to_text(e: Expr, name: Callable[[str], str] = lambda n: "{" + n + "}") -> str:
    """SPEC §5 expression text; `name` formats a reference (braced canonical name)."""
    try:
        return _to_text(e, name)
    except RecursionError:  # a long sum: the same text, built without recursion
        return _bottom_up(e, lambda n: _to_text(n, name), lambda n, kids: _compose_text(n, kids))


def _to_text(e: Expr, name: Callable[[str], str]) -> str:
    if isinstance(e, Num):
        return e.text
    if isinstance(e, Ref):
        return name(e.name)
    if isinstance(e, Neg):
        return _compose_text(e, [_to_text(e.operand, name)])
    if isinstance(e, Bin):
        return _compose_text(e, [_to_text(e.left, name), _to_text(e.right, name)])
    if isinstance(e, Call):
        return _compose_text(e, [_to_text(a, name) for a in e.args])
    raise TypeError(f"not an expression node: {e!r}")


def _compose_text(e: Expr, kids: list) -> str:
    if isinstance(e, Neg):
        return f"-({kids[0]})" if precedence(e.operand) < PREC_POW else f"-{kids[0]}"
    if isinstance(e, Bin):
        left, right = kids
        if needs_parens(e.left, e.op, "left"):
            left = f"({left})"
        if needs_parens(e.right, e.op, "right"):
            right = f"({right})"
        return f"{left} {e.op} {right}"
    if isinstance(e, Call):
        return f"{e.fn}({', '.join(kids)})"
    raise TypeError(f"not an expression node: {e!r}")


def refs(e: Expr) -> list[str]:
    """Operand names in first-use order, each once."""
    seen: dict[str, None] = {}

    def walk(n: Expr) -> None:
        if isinstance(n, Ref):
            seen.setdefault(n.name)
        elif isinstance(n, Neg):
            walk(n.operand)
        elif isinstance(n, Bin):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Call):
            for a in n.args:
                walk(a)

    try:
        walk(e)
    except RecursionError:  # a long sum: postorder visits the references in the same order
        seen = {n.name: None for n in postorder(e) if isinstance(n, Ref)}
    return list(seen)


def evaluate(e: Expr, env: Mapping[str, object], arith) -> object:
    """Evaluate under a number policy (see arithmetic.py); no rounding of the result."""
    try:
        return _evaluate(e, env, arith)
    except RecursionError:  # a long sum: the same operations in the same order, without recursion
        return _bottom_up(e, lambda n: _evaluate(n, env, arith), lambda n, kids: _apply(n, kids, arith))


def _apply(e: Expr, kids: list, arith) -> object:
    if isinstance(e, Neg):
        return arith.neg(kids[0])
    if isinstance(e, Bin):
        return arith.binary(e.op, kids[0], kids[1])
    if isinstance(e, Call):
        return arith.call(e.fn, kids)
    raise TypeError(f"not an expression node: {e!r}")


def _evaluate(e: Expr, env: Mapping[str, object], arith) -> object:
    if isinstance(e, Num):
        return arith.literal(e.text)
    if isinstance(e, Ref):
        return env[e.name]
    if isinstance(e, Neg):
        return arith.neg(_evaluate(e.operand, env, arith))
    if isinstance(e, Bin):
        return arith.binary(e.op, _evaluate(e.left, env, arith), _evaluate(e.right, env, arith))
    if isinstance(e, Call):
        return arith.call(e.fn, [_evaluate(a, env, arith) for a in e.args])
    raise TypeError(f"not an expression node: {e!r}")


# -- small constructors that keep the solver's templates readable ---------------------

def rename(e: Expr, name: Callable[[str], str]) -> Expr:
    """The expression with every reference renamed by `name` (a step's names qualified
    with @s in gradient descent on a graph)."""
    if isinstance(e, Ref):
        return Ref(name(e.name))
    if isinstance(e, Num):
        return e
    if isinstance(e, Neg):
        return Neg(rename(e.operand, name))
    if isinstance(e, Bin):
        return Bin(e.op, rename(e.left, name), rename(e.right, name))
    if isinstance(e, Call):
        return Call(e.fn, tuple(rename(a, name) for a in e.args))
    raise TypeError(type(e).__name__)  # pragma: no cover - the parser builds no other node


def ref(name: str) -> Ref:
    return Ref(name)


def num(value) -> Num:
    """A literal from an int or a decimal string; never scientific text for small ints."""
    return Num(str(value))


def add(*terms: Expr) -> Expr:
    out = terms[0]
    for t in terms[1:]:
        out = Bin("+", out, t)
    return out


def mul(*factors: Expr) -> Expr:
    out = factors[0]
    for f in factors[1:]:
        out = Bin("*", out, f)
    return out


def sub(a: Expr, b: Expr) -> Expr:
    return Bin("-", a, b)


def div(a: Expr, b: Expr) -> Expr:
    return Bin("/", a, b)


def power(a: Expr, b: Expr) -> Expr:
    return Bin("**", a, b)


def call(fn: str, *args: Expr) -> Call:
    return Call(fn, tuple(args))
