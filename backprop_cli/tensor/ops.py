"""Every tensor operation beside its local-gradient (vector-Jacobian) rule.

micrograd's lesson at tensor scale: an `Op` says, in one place,

* `shape(shapes, consts)`     the result's shape, or a ShapeError naming the rule;
* `value(xs, consts)`         the float64 result (NumPy, PyTorch semantics);
* `vjp(g, k, args, r)`        ∂f/∂(argument k) as an *expression* in the tensor grammar,
                              given the upstream gradient expression g = ∂f/∂(result):
                              the matrix form a textbook writes (g @ transpose(x));
* `element(index, args, r)`   result[index] as a *scalar* expression over element names
                              (q[1] = W[1,1]·x[1] + W[1,2]·x[2]) — the worked element,
                              and what --round/--exact evaluate, digit by digit.

`r` is a `Rules` context: it builds sub-expressions (`r.elem(e, index)` scalarises an
argument, `r.shape(e)` is an argument's shape, `r.value(e)` its float value,
`r.condition(...)` records the branch a kink took). Arguments `args` are `expr` trees;
constants (an axis, a target shape) are `Num` arguments that `consts` hands over as ints.

Operations are found by name: binary operators in BINARY (+ - * / ** @), functions in
FUNCTIONS. Functions a user may call in a graph spec are listed in USER_FUNCTIONS; the
others (ones, sum_to, expand, outer, rowsum, step, sign, max_share, argmax_share) only
appear in derived gradients, where they name what the rule does.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..calc.expr import Bin, Call, Expr, Neg, Num
from . import conv
from . import shapes as S
from .op import Op, add_all, call, ints, mul, number_text
from .shapes import Shape, ShapeError


# -- elementwise ----------------------------------------------------------------------

def _elementwise_shape(op):
    return lambda shapes, consts: S.broadcast(op, *shapes)


def _bin_element(op):
    def element(index, args, r):
        return Bin(op, r.elem(args[0], index), r.elem(args[1], index))
    return element


def _pow_vjp(g, k, args, r):
    a, b = args
    if k == 0:
        if isinstance(b, Num):  # constant exponent: d(a**n)/da = n·a**(n−1), written out
            n = float(Fraction(b.text))
            if n == 1:
                return g
            lower = Num(number_text(n - 1))
            base = a if n - 1 == 1 else Bin("**", a, lower)
            return mul(mul(g, b), base)
        return mul(mul(g, b), Bin("**", a, Bin("-", b, Num("1"))))
    return mul(mul(g, r.result()), call("log", a))


BINARY: dict[str, Op] = {
    "+": Op("+", shape=_elementwise_shape("+"), value=lambda x, c: x[0] + x[1],
            vjp=lambda g, k, a, r: g, element=_bin_element("+"), arity=(2, 2)),
    "-": Op("-", shape=_elementwise_shape("-"), value=lambda x, c: x[0] - x[1],
            vjp=lambda g, k, a, r: g if k == 0 else Neg(g), element=_bin_element("-"), arity=(2, 2)),
    "*": Op("*", shape=_elementwise_shape("*"), value=lambda x, c: x[0] * x[1],
            vjp=lambda g, k, a, r: mul(g, a[1 - k]), element=_bin_element("*"), arity=(2, 2)),
    "/": Op("/", shape=_elementwise_shape("/"), value=lambda x, c: x[0] / x[1],
            vjp=lambda g, k, a, r: Bin("/", g, a[1]) if k == 0
            else Neg(Bin("/", mul(g, a[0]), Bin("**", a[1], Num("2")))),
            element=_bin_element("/"), arity=(2, 2)),
    "**": Op("**", shape=_elementwise_shape("**"), value=lambda x, c: np.power(x[0], x[1]),
             vjp=_pow_vjp, element=_bin_element("**"), arity=(2, 2)),
}


# -- matrix product ---------------------------------------------------------------------

def transpose(e: Expr) -> Expr:
    """eᵀ, with (xᵀ)ᵀ written as x."""
    if isinstance(e, Call) and e.fn == "transpose":
        return e.args[0]
    return call("transpose", e)


def _matmul_vjp(g, k, args, r):
    a, b = args
    ra, rb = len(r.shape(a)), len(r.shape(b))
    if ra == 2 and rb == 2:
        return Bin("@", g, transpose(b)) if k == 0 else Bin("@", transpose(a), g)
    if ra == 1 and rb == 2:
        return Bin("@", b, g) if k == 0 else call("outer", a, g)
    if ra == 2 and rb == 1:
        return call("outer", g, b) if k == 0 else Bin("@", transpose(a), g)
    return mul(g, b) if k == 0 else mul(g, a)  # dot product


def _matmul_element(index, args, r):
    a, b = args
    sa, sb = r.shape(a), r.shape(b)
    i = index[:1] if len(sa) == 2 else ()
    j = index[-1:] if len(sb) == 2 else ()
    return add_all([mul(r.elem(a, i + (k,)), r.elem(b, (k,) + j)) for k in range(sa[-1])])


BINARY["@"] = Op("@", shape=lambda shapes, c: S.matmul(*shapes), value=lambda x, c: np.matmul(x[0], x[1]),
                 vjp=_matmul_vjp, element=_matmul_element, arity=(2, 2))


# -- scalar functions applied elementwise -----------------------------------------------

def _unary(fn, value, vjp):
    return Op(fn, shape=lambda shapes, c: shapes[0], value=lambda x, c: value(x[0]), vjp=vjp,
              element=lambda index, args, r: call(fn, r.elem(args[0], index)))


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def _sqrt_vjp(g, k, args, r):
    if np.any(r.value(args[0]) == 0):
        raise ArithmeticError("sqrt'(0) is not finite (the derivative 1/(2·sqrt(x)) divides by 0)")
    return Bin("/", g, mul(Num("2"), r.result()))


FUNCTIONS: dict[str, Op] = {
    "exp": _unary("exp", np.exp, lambda g, k, a, r: mul(g, r.result())),
    "log": _unary("log", np.log, lambda g, k, a, r: Bin("/", g, a[0])),
    "sqrt": _unary("sqrt", np.sqrt, _sqrt_vjp),
    "sin": _unary("sin", np.sin, lambda g, k, a, r: mul(g, call("cos", a[0]))),
    "cos": _unary("cos", np.cos, lambda g, k, a, r: Neg(mul(g, call("sin", a[0])))),
    "tanh": _unary("tanh", np.tanh,
                   lambda g, k, a, r: mul(g, Bin("-", Num("1"), Bin("**", r.result(), Num("2"))))),
    "sigmoid": _unary("sigmoid", _sigmoid,
                      lambda g, k, a, r: mul(mul(g, r.result()), Bin("-", Num("1"), r.result()))),
    "relu": _unary("relu", lambda x: np.maximum(x, 0.0), lambda g, k, a, r: mul(g, call("step", a[0]))),
    "abs": _unary("abs", np.abs, lambda g, k, a, r: mul(g, call("sign", a[0]))),
}


# -- n-ary elementwise max/min: ties split the gradient equally (PyTorch's maximum) ------

def _extreme(fn):
    pick = np.maximum if fn == "max" else np.minimum

    def value(xs, c):
        out = xs[0]
        for x in xs[1:]:
            out = pick(out, x)
        return out

    return Op(fn, shape=lambda shapes, c: S.broadcast(fn, *shapes), value=value,
              vjp=lambda g, k, args, r: mul(g, call(f"{fn}_share", Num(str(k + 1)), *args)),
              element=lambda index, args, r: call(fn, *(r.elem(a, index) for a in args)), arity=(2, None))


def _share_value(fn):
    def value(xs, consts):
        k = consts[0] - 1
        best = np.max(np.broadcast_arrays(*xs), axis=0) if fn == "max" else np.min(np.broadcast_arrays(*xs), axis=0)
        ties = sum((x == best).astype(float) for x in xs)
        return np.broadcast_to((xs[k] == best) / ties, best.shape).astype(float)
    return value


def _share_element(fn):
    def element(index, args, r):
        k = int(args[0].text) - 1
        values = [float(r.value(a)[S.broadcast_index(index, r.shape(a))]) for a in args[1:]]
        best = max(values) if fn == "max" else min(values)
        ties = sum(v == best for v in values)
        names = [r.label(a, index) for a in args[1:]]
        if values[k] != best:
            share = "0"
            r.condition(f"{names[k]} {'<' if fn == 'max' else '>'} {fn}({', '.join(names)})")
        else:
            share = number_text(1 / ties)
            r.condition(f"{names[k]} is the {fn}" + (f" (a tie of {ties}: shared)" if ties > 1 else ""))
        return Num(share)
    return element


for _fn in ("max", "min"):
    FUNCTIONS[_fn] = _extreme(_fn)
    FUNCTIONS[f"{_fn}_share"] = Op(
        f"{_fn}_share", shape=lambda shapes, c: S.broadcast("share", *shapes), value=_share_value(_fn),
        vjp=None, element=_share_element(_fn), arity=(3, None), consts=1)


# -- reductions and shape operations ----------------------------------------------------

def _all_elements(e, r):
    return [r.elem(e, i) for i in np.ndindex(r.shape(e))]


def _axis_shape(op):
    def shape(shapes, consts):
        if not consts:
            return ()
        axis = S.axis_of(op, shapes[0], consts[0])
        return shapes[0][:axis] + shapes[0][axis + 1:]
    return shape


def _reduce_vjp(mean):
    def vjp(g, k, args, r):
        shape = r.shape(args[0])
        n = int(np.prod(shape)) if len(args) == 1 else shape[S.axis_of("sum", shape, r.const(args[1]))]
        if len(args) == 1:
            out = mul(g, call("ones", *ints(*shape))) if shape else g
        else:
            out = call("expand", g, Num(str(S.axis_of("sum", shape, r.const(args[1])))), *ints(*shape))
        return Bin("/", out, Num(str(n))) if mean and n != 1 else out
    return vjp


def _reduce_element(mean):
    def element(index, args, r):
        x = args[0]
        shape = r.shape(x)
        if len(args) == 1:
            terms = _all_elements(x, r)
        else:
            axis = S.axis_of("sum", shape, r.const(args[1]))
            terms = [r.elem(x, index[:axis] + (k,) + index[axis:]) for k in range(shape[axis])]
        total = add_all(terms)
        return Bin("/", total, Num(str(len(terms)))) if mean and len(terms) > 1 else total
    return element


FUNCTIONS["sum"] = Op("sum", shape=_axis_shape("sum"), value=lambda x, c: np.sum(x[0], axis=c[0] if c else None),
                      vjp=_reduce_vjp(False), element=_reduce_element(False), arity=(1, 2), consts=1,
                      doc="sum(x): every element; sum(x, axis): along one axis (0-based, as PyTorch's dim)")
FUNCTIONS["mean"] = Op("mean", shape=_axis_shape("mean"), value=lambda x, c: np.mean(x[0], axis=c[0] if c else None),
                       vjp=_reduce_vjp(True), element=_reduce_element(True), arity=(1, 2), consts=1)


def _max_value(xs, c):
    return np.max(xs[0])


def _max_element(index, args, r):
    items = _all_elements(args[0], r)
    return items[0] if len(items) == 1 else call("max", *items)


def _reduce_max_shape(shapes, c):
    if 0 in shapes[0]:
        raise ShapeError("max", shapes, "max of an empty tensor")
    return ()




def _argmax_share_value(xs, c):
    x = xs[0]
    hit = (x == np.max(x)).astype(float)
    return hit / hit.sum()


def _argmax_share_element(index, args, r):
    x = r.value(args[0])
    best = np.max(x)
    ties = int(np.sum(x == best))
    name = r.label(args[0], index)
    if x[index] == best:
        r.condition(f"{name} is the max" + (f" (a tie of {ties}: shared)" if ties > 1 else ""))
        return Num(number_text(1 / ties))
    r.condition(f"{name} < max")
    return Num("0")


def _transpose_element(index, args, r):
    return r.elem(args[0], tuple(reversed(index)))


def _rank_at_least(op, k):
    def shape(shapes, c):
        if len(shapes[0]) < k:
            raise ShapeError(op, shapes, f"{op} needs a tensor of rank {k} or more (a vector or a matrix)")
        if c and S.axis_of(op, shapes[0], c[0]) != len(shapes[0]) - 1:
            raise ShapeError(op, shapes, f"{op} works along the last axis ({len(shapes[0]) - 1}, or -1); "
                             "transpose first to normalise another axis")
        return shapes[0]
    return shape


def _softmax_value(xs, c):
    x = xs[0]
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _log_softmax_value(xs, c):
    x = xs[0]
    m = np.max(x, axis=-1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def _row(index, x, r):
    return [r.elem(x, index[:-1] + (k,)) for k in range(r.shape(x)[-1])]


def _softmax_element(index, args, r):
    row = _row(index, args[0], r)
    return Bin("/", call("exp", r.elem(args[0], index)), add_all([call("exp", t) for t in row]))


def _log_softmax_element(index, args, r):
    row = _row(index, args[0], r)
    return Bin("-", r.elem(args[0], index), call("log", add_all([call("exp", t) for t in row])))


def _norm_vjp(g, k, args, r):
    if float(np.sqrt(np.sum(np.square(r.value(args[0]))))) == 0.0:
        return mul(Num("0"), mul(g, args[0]))  # PyTorch: the subgradient 0 at x = 0 (‖x‖² is smooth there)
    return Bin("/", mul(g, args[0]), r.result())


FUNCTIONS.update({
    "transpose": Op("transpose", shape=lambda shapes, c: tuple(reversed(shapes[0])),
                    value=lambda x, c: np.transpose(x[0]), vjp=lambda g, k, a, r: transpose(g),
                    element=_transpose_element),
    "softmax": Op("softmax", shape=_rank_at_least("softmax", 1), value=_softmax_value,
                  vjp=lambda g, k, a, r: mul(r.result(), Bin("-", g, call("rowsum", mul(g, r.result())))),
                  element=_softmax_element, arity=(1, 2), consts=1,
                  doc="softmax along the last axis (PyTorch dim=-1); softmax(x, axis) names it"),
    "log_softmax": Op("log_softmax", shape=_rank_at_least("log_softmax", 1), value=_log_softmax_value,
                      vjp=lambda g, k, a, r: Bin("-", g, mul(call("softmax", a[0]), call("rowsum", g))),
                      element=_log_softmax_element, arity=(1, 2), consts=1),
    "norm": Op("norm", shape=lambda shapes, c: (), value=lambda x, c: np.sqrt(np.sum(np.square(x[0]))),
               vjp=_norm_vjp,
               element=lambda index, args, r: call("sqrt", add_all([Bin("**", t, Num("2")) for t in _all_elements(args[0], r)])),
               doc="the 2-norm of every element (Frobenius for a matrix)"),
    # -- derivation-only helpers: they appear in gradients, never in a user's spec --------
    "ones": Op("ones", shape=lambda shapes, c: tuple(c), value=lambda x, c: np.ones(tuple(c)),
               vjp=None, element=lambda index, args, r: Num("1"), arity=(0, None), consts=99),
    "sum_to": Op("sum_to", shape=lambda shapes, c: tuple(c[0:]),
                 value=lambda x, c: _sum_to(x[0], tuple(c)), vjp=None,
                 element=lambda index, args, r: add_all([
                     r.elem(args[0], j) for j in np.ndindex(r.shape(args[0]))
                     if S.broadcast_index(j, tuple(r.const(n) for n in args[1:])) == index]),
                 arity=(1, None), consts=99),
    "expand": Op("expand", shape=lambda shapes, c: tuple(c[1:]),
                 value=lambda x, c: np.broadcast_to(np.expand_dims(x[0], c[0]), tuple(c[1:])).copy(), vjp=None,
                 element=lambda index, args, r: r.elem(args[0], index[:r.const(args[1])] + index[r.const(args[1]) + 1:]),
                 arity=(1, None), consts=99),
    "outer": Op("outer", shape=lambda shapes, c: shapes[0] + shapes[1], value=lambda x, c: np.multiply.outer(x[0], x[1]),
                vjp=None, element=lambda index, args, r: mul(r.elem(args[0], index[:1]), r.elem(args[1], index[1:])),
                arity=(2, 2)),
    "rowsum": Op("rowsum", shape=lambda shapes, c: shapes[0][:-1] + (1,),
                 value=lambda x, c: np.sum(x[0], axis=-1, keepdims=True), vjp=None,
                 element=lambda index, args, r: add_all(_row(index, args[0], r))),
    "step": Op("step", shape=lambda shapes, c: shapes[0], value=lambda x, c: (x[0] > 0).astype(float), vjp=None,
               element=lambda index, args, r: _kink(index, args, r, "step")),
    "sign": Op("sign", shape=lambda shapes, c: shapes[0], value=lambda x, c: np.sign(x[0]), vjp=None,
               element=lambda index, args, r: _kink(index, args, r, "sign")),
    "argmax_share": Op("argmax_share", shape=lambda shapes, c: shapes[0], value=_argmax_share_value, vjp=None,
                       element=_argmax_share_element),
})
# max of ONE tensor is the reduction (max of several is elementwise, above).
REDUCE_MAX = Op("max", shape=_reduce_max_shape, value=_max_value,
                vjp=lambda g, k, a, r: mul(g, call("argmax_share", a[0])), element=_max_element)


def _kink(index, args, r, fn):
    """relu′ and abs′ at one element: a literal, with the branch taken (PyTorch: 0 at 0)."""
    v = float(r.value(args[0])[S.broadcast_index(index, r.shape(args[0]))])
    name = r.label(args[0], index)
    if v > 0:
        r.condition(f"{name} > 0")
        return Num("1")
    if fn == "step" or v == 0:
        r.condition(f"{name} <= 0" if fn == "step" else f"{name} = 0")
        return Num("0")
    r.condition(f"{name} < 0")
    return Num("-1")


def _sum_to(g: np.ndarray, shape: Shape) -> np.ndarray:
    """Undo broadcasting: sum the axes that were added or stretched from size 1."""
    lead = g.ndim - len(shape)
    out = g.sum(axis=tuple(range(lead))) if lead else g
    stretched = tuple(k for k, n in enumerate(shape) if n == 1 and out.shape[k] != 1)
    return out.sum(axis=stretched, keepdims=True) if stretched else out


FUNCTIONS.update(conv.FUNCTIONS)  # convolution, pooling, reshape (conv.py)

USER_FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "max", "min",
                  "sum", "mean", "transpose", "softmax", "log_softmax", "norm") + conv.USER_FUNCTIONS
HELPERS = ("ones", "sum_to", "expand", "outer", "rowsum", "step", "sign", "max_share", "min_share",
           "argmax_share") + conv.HELPERS


def lookup(e: Expr) -> Op:
    """The Op an expression node applies (max of one tensor is the reduction)."""
    if isinstance(e, Bin):
        return BINARY[e.op]
    if isinstance(e, Call):
        if e.fn == "max" and len(e.args) == 1:
            return REDUCE_MAX
        return FUNCTIONS[e.fn]
    raise TypeError(e)


def split_args(e: Call, op: Op) -> tuple[tuple[Expr, ...], tuple[Expr, ...]]:
    """(tensor arguments, constant arguments) of a call: constants come last (sum's axis)
    or first (a share's position)."""
    if not op.consts:
        return e.args, ()
    if op.tensors is not None:
        return e.args[:op.tensors], e.args[op.tensors:]
    if op.name in ("max_share", "min_share"):
        return e.args[1:], e.args[:1]
    if op.name in ("ones",):
        return (), e.args
    return e.args[:1], e.args[1:]


__all__ = ["Op", "BINARY", "FUNCTIONS", "USER_FUNCTIONS", "HELPERS", "REDUCE_MAX", "lookup", "split_args",
           "ShapeError"]
