"""The tape: named tensors, one equation per computed tensor, reverse mode over them.

    tape = Tape()                                  # float64; Tape(RoundedArithmetic(4)) by hand
    tape.leaf("W", [[0.1, 0.5], [-0.3, 0.8]])
    tape.leaf("x", [0.2, 0.4])
    tape.node("q", Bin("@", Ref("W"), Ref("x")))   # records  q = {W} @ {x}
    tape.node("f", Call("sum", (Bin("**", Ref("q"), Num("2")),)))
    grads = tape.backward("f")                     # records df/df, df/dq, df/dW, df/dx

Every value is an equation (`TensorEquation`): its matrix-form expression in the tensor
grammar (expr trees with `@`, sum, transpose, outer, …), the named operands it reads,
the result, and — for tensors of at most ELEMENT_LIMIT elements, or always under
--round/--exact — one scalar `Equation` per element (q[1] = {W[1,1]} * {x[1]} + …).

Number policies: under float64 the matrix expression is evaluated with NumPy. Under
hand rounding or exact arithmetic each element is its scalar expression evaluated by
the policy (`arithmetic.py`) and finished (rounded) — so every printed element
equation stays arithmetically true as printed — and the float arrays are read from
those values; NumPy then only supplies shapes and the branch a kink takes.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np

from ..calc.arithmetic import FloatArithmetic
from ..errors import ComputeError
from ..calc.expr import Bin, Call, Expr, Neg, Num, Ref, evaluate as evaluate_scalar, refs, to_text
from ..frozen import frozen
from ..trace import Equation
from . import shapes as S
from .names import element_name, split_element
from .ops import BINARY, lookup, split_args
from .shapes import ShapeError

ELEMENT_LIMIT = 36  # element equations for every element of tensors up to 6×6 (float64)
POLICY_TERMS_LIMIT = 2_000_000  # scalar operations --round/--exact may spell out
# Element lookups (Rules.elem calls) one element's rule may make. Rules compose: the
# element of conv2d_grad_input(avgpool2d_spread(… conv2d(…) …)) written in ONE node
# reads every element it depends on through every op, a product of fan-ins. Under
# float64 such elements are only a display (and unreadable): the equation's element
# records are left out past ELEMENT_WORK_FLOAT (per element) or ELEMENT_WORK_TOTAL (per
# equation). Under --round/--exact they are the computation: past ELEMENT_WORK_POLICY
# for one element the node must be split (a sum of that many terms is no hand work);
# POLICY_TERMS_LIMIT bounds the whole solve.
ELEMENT_WORK_FLOAT = 5_000
ELEMENT_WORK_TOTAL = 20_000
ELEMENT_WORK_POLICY = 20_000


class ElementWorkExceeded(Exception):
    """Raised by Rules.elem past its budget (caught by Tape._elements)."""


@frozen
class TensorEquation:
    """name = expr in matrix form, evaluated: operands (name → float array), the float
    result, its shape, and the element equations (scalar, one per element) when small."""

    name: str
    expr: Expr
    operands: tuple[tuple[str, Any], ...]
    value: Any  # np.ndarray of float64 (0-d for a scalar)
    section: str  # forward | backward
    node: str  # the graph node this equation belongs to
    elements: tuple[Equation, ...] = ()
    note: Optional[str] = None  # e.g. "q does not lead to f"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.value))

    @property
    def expression(self) -> str:
        return to_text(self.expr)

    @property
    def operand_shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(np.shape(v)) for name, v in self.operands}


def gradient_name(output: str, node: str) -> str:
    return f"d{output}/d{node}"


def as_array(value) -> np.ndarray:
    return np.asarray(value, dtype=float)


class Rules:
    """What an op's rules may ask while one expression is evaluated, derived or
    scalarised: shapes and float values of sub-expressions, constants, element
    expressions, and where to record a kink's branch (see ops.py)."""

    def __init__(self, tape: "Tape", memo: dict[int, np.ndarray], root: Expr | None = None,
                 root_name: str | None = None, budget: int | None = None) -> None:
        self.tape, self.memo = tape, memo
        self.root, self.root_name = root, root_name
        self.current: Expr | None = None
        self.conditions: list[str] = []
        self.budget = budget  # element lookups left (None: unbounded)

    def value(self, e: Expr) -> np.ndarray:
        key = id(e)
        if key not in self.memo:
            self.tape.evaluate(e, self.memo)
        return self.memo[key]

    def shape(self, e: Expr) -> tuple[int, ...]:
        return tuple(np.shape(self.value(e)))

    def const(self, e: Expr) -> int:
        return constant_int(e)

    def result(self) -> Expr:
        """The current operation's result: the node's own name when it is the whole node
        (σ(z)(1 − σ(z)) reads {a}), else the sub-expression itself."""
        if self.current is self.root and self.root_name is not None:
            return Ref(self.root_name)
        return self.current

    def condition(self, text: str) -> None:
        if text not in self.conditions:
            self.conditions.append(text)

    def label(self, e: Expr, index: tuple[int, ...]) -> str:
        element = self.elem(e, index)
        return element.name if isinstance(element, Ref) else to_text(element, lambda n: n)

    def elem(self, e: Expr, index: tuple[int, ...]) -> Expr:
        """`e`[index] as a scalar expression over element names (broadcast operands read
        the element they were stretched from)."""
        if self.budget is not None:
            self.budget -= 1
            if self.budget < 0:
                raise ElementWorkExceeded(self.budget)
        shape = self.shape(e)
        index = S.broadcast_index(tuple(index), shape)
        if isinstance(e, Num):
            return e
        if isinstance(e, Ref):
            return Ref(element_name(e.name, index))
        if isinstance(e, Neg):
            return Neg(self.elem(e.operand, index))
        op = lookup(e)
        return op.element(index, e.args if isinstance(e, Call) else (e.left, e.right), self)


def constant_int(e: Expr) -> int:
    """An integer constant argument (an axis, a size); ComputeError otherwise."""
    sign = 1
    while isinstance(e, Neg):
        sign, e = -sign, e.operand
    if isinstance(e, Num):
        try:
            value = float(e.text) if "/" not in e.text else None
        except ValueError:
            value = None
        if value is not None and value == int(value):
            return sign * int(value)
    raise ComputeError(f"expected an integer constant (an axis), found {to_text(e, lambda n: n)}")


class Tape:
    """Named tensors and the equations that computed them (module docstring)."""

    def __init__(self, arith=None, element_limit: int = ELEMENT_LIMIT) -> None:
        self.arith = arith if arith is not None else FloatArithmetic()
        self.exact_policy = getattr(self.arith, "name", "float") != "float"
        self.element_limit = element_limit
        self.values: dict[str, np.ndarray] = {}  # float arrays, by name
        self.policy: dict[str, Any] = {}  # element name → the policy's value (--round/--exact)
        self.exprs: dict[str, Expr] = {}  # node name → its expression (leaves absent)
        self.order: list[str] = []
        self.equations: list[TensorEquation] = []
        self.terms = 0

    # -- building ----------------------------------------------------------------------
    def leaf(self, name: str, value, given: Optional[Iterable] = None) -> np.ndarray:
        """A given tensor. `given` (row-major, optional) holds the numbers as written
        (Fractions or text) for the policy; floats are used otherwise."""
        array = as_array(value)
        if self.exact_policy:
            flat = list(given) if given is not None else array.reshape(-1).tolist()
            for index, v in zip(np.ndindex(array.shape), flat):
                self.policy[element_name(name, index)] = self.arith.given(v)
            array = np.array([self.arith.to_float(self.policy[element_name(name, i)])
                              for i in np.ndindex(array.shape)], dtype=float).reshape(array.shape)
        self.values[name] = array
        self.order.append(name)
        return array

    def node(self, name: str, expr: Expr) -> np.ndarray:
        """A computed tensor: its forward equation is recorded."""
        self.exprs[name] = expr
        self.order.append(name)
        self.record(name, expr, "forward", name)
        return self.values[name]

    def record(self, name: str, expr: Expr, section: str, node: str, note: str | None = None) -> TensorEquation:
        """Evaluate name = expr under the policy, store the value, record the equation."""
        memo: dict[int, np.ndarray] = {}
        where = f"node {node}" if name == node else f"node {node}, {name}"
        try:
            value = self.evaluate(expr, memo)
        except ShapeError as error:
            raise error.at(node) from None
        except ComputeError as error:
            raise ComputeError(f"{where}: {error}") from None
        if not np.all(np.isfinite(value)):
            raise ComputeError(f"{where}: not a finite number (overflow, division by zero or log of a "
                               "non-positive number)")
        if np.any(np.abs(value) > 1e300):
            raise ComputeError(f"{where}: a value is beyond ±1e300")
        elements: tuple[Equation, ...] = ()
        if self.exact_policy or value.size <= self.element_limit:
            elements, value = self._elements(name, expr, memo, value, section, node)
        self.values[name] = value
        operands = tuple((r, self.values[r]) for r in refs(expr))
        eq = TensorEquation(name, expr, operands, value, section, node, elements, note)
        self.equations.append(eq)
        return eq

    def _elements(self, name, expr, memo, value, section, node):
        per_element = ELEMENT_WORK_POLICY if self.exact_policy else ELEMENT_WORK_FLOAT
        try:
            return self._element_equations(name, expr, memo, value, section, node, per_element)
        except ElementWorkExceeded:
            if not self.exact_policy:
                return (), value  # too large to read: the matrix form stands alone
            raise ComputeError(f"node {node}: an element of {name} is too large to spell out by hand (more than "
                               f"{per_element:,} element terms); split the expression into smaller nodes, or "
                               "drop --round/--exact") from None

    def _element_equations(self, name, expr, memo, value, section, node, per_element):
        rules = Rules(self, memo)
        out = []
        floats = value.astype(float).copy()
        total = 0
        for index in np.ndindex(value.shape):
            rules.budget = per_element
            if not self.exact_policy and total > ELEMENT_WORK_TOTAL:
                raise ElementWorkExceeded(total)
            rules.conditions = []
            try:
                scalar = rules.elem(expr, index)
            except ComputeError as error:
                raise ComputeError(f"node {node}, {element_name(name, index)}: {error}") from None
            total += per_element - rules.budget
            operands = tuple((r, self.element_value(r)) for r in refs(scalar))
            if self.exact_policy:
                self.terms += len(operands) + 1
                if self.terms > POLICY_TERMS_LIMIT:
                    raise ComputeError(f"node {node}: too large to spell out by hand (more than "
                                       f"{POLICY_TERMS_LIMIT:,} scalar operations); drop --round/--exact")
                try:
                    v = self.arith.finish(evaluate_scalar(scalar, self.policy, self.arith))
                except ComputeError as error:
                    raise ComputeError(f"node {node}, {element_name(name, index)}: {error}") from None
                except (ArithmeticError, ValueError, OverflowError) as error:
                    raise ComputeError(f"node {node}, {element_name(name, index)}: not a finite number "
                                       f"({type(error).__name__})") from None
                self.policy[element_name(name, index)] = v
                floats[index] = self.arith.to_float(v)
            else:
                v = float(value[index])
            out.append(Equation(element_name(name, index), scalar, operands, v, section,
                                ", ".join(rules.conditions) or None))
        return tuple(out), np.asarray(floats + 0.0)  # + 0.0: no −0; asarray: a 0-d result stays an array

    def element_value(self, name: str):
        """An element's value under the policy (its float under float64)."""
        if self.exact_policy:
            return self.policy[name]
        if name in self.values:
            return float(self.values[name])
        base, index = split_element(name)
        return float(self.values[base][index])

    # -- evaluation --------------------------------------------------------------------
    def evaluate(self, e: Expr, memo: dict[int, np.ndarray]) -> np.ndarray:
        """Float64 value of a tensor expression (NumPy), shapes checked op by op; every
        sub-expression's value is kept in `memo` (by id) for the rules."""
        key = id(e)
        if key in memo:
            return memo[key]
        if isinstance(e, Num):
            out = np.asarray(float(self.arith.to_float(self.arith.literal(e.text))))
        elif isinstance(e, Ref):
            out = self.values[e.name]
        elif isinstance(e, Neg):
            out = -self.evaluate(e.operand, memo)
        else:
            op = lookup(e)
            if isinstance(e, Bin):
                args, consts = (e.left, e.right), ()
            else:
                args, consts = split_args(e, op)
            xs = [self.evaluate(a, memo) for a in args]
            c = [constant_int(a) for a in consts]
            op.shape([x.shape for x in xs], c)
            if isinstance(e, Bin) and e.op == "**":
                _check_power(xs[0], xs[1])
            if isinstance(e, Bin) and e.op == "/" and np.any(xs[1] == 0):
                raise ComputeError("division by zero")
            with np.errstate(all="ignore"):
                out = np.asarray(op.value(xs, c), dtype=float)
        memo[key] = out
        return out

    # -- reverse mode ------------------------------------------------------------------
    def backward(self, output: str, seed=None, given_seed: Optional[Iterable] = None) -> dict[str, np.ndarray]:
        """d{output}/d{node} for every node, recorded as equations, the output first and
        then backwards through the nodes; nodes off the output's path get 0 (with a note).
        `seed` is the upstream gradient of a non-scalar output (PyTorch's
        backward(gradient=…)); a scalar output's seed is 1."""
        out_shape = self.values[output].shape
        seed_name = gradient_name(output, output)
        if seed is None:
            if out_shape != ():
                raise ComputeError(f"output {output} has shape {S.show(out_shape)}: a non-scalar output "
                                   f"needs an upstream gradient (grad_output: {{{output}: …}}, as "
                                   f"PyTorch's backward(gradient=…)), or reduce it first, e.g. sum({output})")
            self._given(seed_name, np.asarray(1.0), [1])
        else:
            seed = as_array(seed)
            if seed.shape != out_shape:
                raise ShapeError("grad_output", (seed.shape, out_shape),
                                 f"grad_output for {output} must have the output's shape", output)
            self._given(seed_name, seed, given_seed)
        reach = self._ancestors(output)
        contributions: dict[str, list[Expr]] = {}
        for q in reversed(self.order):
            if q not in reach:
                continue
            if q != output:
                self.record(gradient_name(output, q), _sum_terms(contributions[q]), "backward", q)
            if q in self.exprs:
                self._derive(q, Ref(gradient_name(output, q)), contributions)
        for n in self.order:
            if n not in reach:
                self._zero(gradient_name(output, n), self.values[n].shape, n, f"{n} does not lead to {output}")
        return {n: self.values[gradient_name(output, n)] for n in self.order}

    def _given(self, name: str, array: np.ndarray, given: Optional[Iterable]) -> None:
        """A given tensor that is not a node (an upstream gradient)."""
        if self.exact_policy:
            flat = list(given) if given is not None else array.reshape(-1).tolist()
            for index, v in zip(np.ndindex(array.shape), flat):
                self.policy[element_name(name, index)] = self.arith.given(v)
        self.values[name] = array

    def _zero(self, name, shape, node, note) -> TensorEquation:
        expr = Num("0") if shape == () else Bin("*", Num("0"), Call("ones", tuple(Num(str(n)) for n in shape)))
        return self.record(name, expr, "backward", node, note)

    def _ancestors(self, output: str) -> set[str]:
        keep, stack = {output}, [output]
        while stack:
            q = stack.pop()
            for p in refs(self.exprs[q]) if q in self.exprs else ():
                if p not in keep:
                    keep.add(p)
                    stack.append(p)
        return keep

    def _derive(self, q: str, upstream: Expr, contributions: dict[str, list[Expr]]) -> None:
        """Push ∂f/∂q back through q's expression tree, op by op (ops.py's vjp rules);
        each operand name collects its contribution terms."""
        root = self.exprs[q]
        rules = Rules(self, {}, root, q)

        def walk(e: Expr, g: Expr) -> None:
            if isinstance(e, Num):
                return
            if isinstance(e, Ref):
                contributions.setdefault(e.name, []).append(g)
                return
            if isinstance(e, Neg):
                walk(e.operand, Neg(g))
                return
            op = lookup(e)
            args = (e.left, e.right) if isinstance(e, Bin) else e.args  # constants have no refs
            for k, a in enumerate(args):
                if not refs(a):
                    continue
                rules.current = e
                try:
                    gk = op.vjp(g, k, args, rules)
                except ArithmeticError as error:
                    raise ComputeError(f"node {q}: {error}") from None
                elementwise = isinstance(e, Bin) and e.op in BINARY and e.op != "@" or (
                    isinstance(e, Call) and e.fn in ("max", "min") and len(e.args) > 1)
                if elementwise and rules.shape(a) != rules.shape(e):
                    gk = Call("sum_to", (gk,) + tuple(Num(str(n)) for n in rules.shape(a)))
                walk(a, gk)

        walk(root, upstream)


def _sum_terms(terms: list[Expr]) -> Expr:
    out = terms[0]
    for t in terms[1:]:
        out = Bin("+", out, t)  # the fan-out sum, term by term
    return out


def _check_power(a: np.ndarray, b: np.ndarray) -> None:
    a, b = np.broadcast_arrays(a, b)
    if np.any((a < 0) & (b != np.round(b))):
        raise ComputeError("a negative base with a non-integer exponent")
    if np.any((a == 0) & (b < 0)):
        raise ComputeError("0 to a negative power: division by zero")
    big = (np.abs(a) > 1) & np.isfinite(b)
    with np.errstate(all="ignore"):
        if np.any(big & (b * np.log10(np.where(big, np.abs(a), 2.0)) > 300.01)):
            raise ComputeError("a power beyond ±1e300")


__all__ = ["Tape", "TensorEquation", "Rules", "gradient_name", "constant_int", "ELEMENT_LIMIT"]


def infer_shape(e: Expr, shapes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    """The shape of a tensor expression from its operands' shapes alone (no values): what
    `validate` checks, so a shape error is reported before anything is computed."""
    if isinstance(e, Num):
        return ()
    if isinstance(e, Ref):
        return shapes[e.name]
    if isinstance(e, Neg):
        return infer_shape(e.operand, shapes)
    op = lookup(e)
    if isinstance(e, Bin):
        args, consts = (e.left, e.right), ()
    else:
        args, consts = split_args(e, op)
    return op.shape([infer_shape(a, shapes) for a in args], [constant_int(c) for c in consts])
