"""One tensor engine: ops beside their local-gradient rules, equations recorded per op.

Graph specs with vectors and matrices use it (graph/tensor_solve.py); network layer types
(conv, pool, norm, RNN) build on it too. Modules, one job each:

* `shapes.py` — `Shape` tuples, broadcasting (NumPy/PyTorch rules), `@`'s rule, and
  `ShapeError(op, shapes, rule, node)`: bad input (exit 2) naming both shapes and the rule.
* `ops.py`    — every operation as an `Op`: shape rule, float64 value, vector-Jacobian
  rule (as a matrix-form *expression*), element rule (as a *scalar* expression).
* `tape.py`   — `Tape`: named leaves and nodes, forward equations, reverse mode
  (`backward`) that records ∂out/∂node as equations, number policies.
* `names.py`  — element names with 1-based indices: W[1,2], dz/dx[2,1].
* `op.py`     — the `Op` record and the expression builders rules use.
* `conv.py`   — convolution, pooling and reshape ops with their gradient helpers.
* `kernels.py` — their NumPy kernels, shared with the typed layers (network/layers.py).

Using the tape
--------------
    from backprop_cli.calc.expr import Bin, Call, Num, Ref
    from backprop_cli.tensor import Tape

    tape = Tape()                                   # or Tape(RoundedArithmetic(4)), Tape(ExactArithmetic())
    tape.leaf("W", [[0.1, 0.5], [-0.3, 0.8]])       # given tensors (any rank; numbers or nested lists)
    tape.leaf("x", [0.2, 0.4])
    tape.node("q", Bin("@", Ref("W"), Ref("x")))    # records the equation  q = {W} @ {x}
    tape.node("f", Call("sum", (Bin("**", Ref("q"), Num("2")),)))
    grads = tape.backward("f")                      # {"W": array, "x": …}; records df/df … df/dW
    # a non-scalar output takes an upstream gradient: tape.backward("q", seed=[[1, 0], [0, 1]])

    for eq in tape.equations:                       # TensorEquation, in the order computed
        eq.name, eq.expression, eq.operands, eq.value, eq.shape, eq.section
        eq.elements                                 # scalar trace.Equation per element (≤ ELEMENT_LIMIT
                                                    #   elements, or always under --round/--exact)

Expressions are the project's `expr` trees (expr.py) with one more operator, `@`, and
more functions: the user-callable ones (USER_FUNCTIONS: the scalar functions applied
elementwise, max/min of several tensors elementwise, max of one tensor, sum, mean,
sum/mean(x, axis), transpose, softmax, log_softmax, norm; conv2d, conv1d, maxpool2d,
avgpool2d, reshape, flatten from conv.py) and derivation helpers that name what a
gradient rule does (HELPERS: ones, sum_to, expand, outer, rowsum, step, sign,
max_share, min_share, argmax_share; conv2d_grad_weight, conv2d_grad_input,
conv1d_grad_*, maxpool2d_route, avgpool2d_spread). Constants (axes, shapes, strides)
are `Num` arguments.

Defining an op
--------------
Add one `Op` to `ops.FUNCTIONS` (or `ops.BINARY` for an operator):

    FUNCTIONS["square"] = Op(
        "square",
        shape=lambda shapes, consts: shapes[0],                     # or raise ShapeError(...)
        value=lambda xs, consts: xs[0] ** 2,                         # float64 NumPy arrays in, out
        vjp=lambda g, k, args, r: Bin("*", Bin("*", g, Num("2")), args[0]),   # ∂f/∂args[k], matrix form
        element=lambda index, args, r: Bin("**", r.elem(args[0], index), Num("2")),  # result[index], scalar
    )

* `vjp(g, k, args, r)` gets the upstream gradient *expression* `g` (same shape as the
  result) and returns the gradient of argument `k` as an expression in the same
  grammar: this is the equation students read (∂f/∂W = g @ transpose(x)). It may use
  `r.result()` (the op's own result: the node's name when the op is the whole node),
  `r.shape(e)`, `r.value(e)` (float arrays, e.g. to refuse a kink) and other ops,
  including helpers. Broadcasting is undone by the tape (`sum_to`) for the binary
  elementwise operators and max/min; other ops return the argument's own shape.
* `element(index, args, r)` returns result[index] as a scalar expression built from
  `r.elem(arg, idx)` (an argument's element), so a worked element can be printed and
  evaluated by --round/--exact. A piecewise rule returns a literal (`Num("1")`) and
  calls `r.condition("z[1] > 0")` to record the branch taken.
* `arity=(least, most)` and `consts=n` (how many trailing `Num` constants, such as an
  axis) describe the call; `tensors=k` says the first k arguments are tensors and the
  rest constants (conv2d(x, W, stride, padding)). A function users may call must also
  join the graph parser's whitelist, `calc/expr.py`'s GRAPH_FUNCTIONS (a test keeps it
  equal to `ops.USER_FUNCTIONS`), and TENSOR_FUNCTIONS_CONSTANTS when it takes
  constants (the parser checks them, with their column).

Policies: floats use `value`; --round/--exact evaluate each element's scalar
expression with `arithmetic.py` and round it, so printed element equations stay true.
"""
from __future__ import annotations

from .names import element_name, elements, split_element
from .ops import BINARY, FUNCTIONS, HELPERS, USER_FUNCTIONS, Op
from .shapes import ShapeError, show
from .tape import ELEMENT_LIMIT, Rules, Tape, TensorEquation, gradient_name

__all__ = [
    "Tape", "TensorEquation", "Rules", "Op", "BINARY", "FUNCTIONS", "USER_FUNCTIONS", "HELPERS",
    "ShapeError", "show", "element_name", "elements", "split_element", "gradient_name", "ELEMENT_LIMIT",
]
