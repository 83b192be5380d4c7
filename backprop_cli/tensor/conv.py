"""Convolution and pooling as ops of the tensor engine, each beside its gradient rule.

    y: maxpool2d(relu(conv2d(x, K, 1, 0) + b), 2)

User functions (PyTorch's torch.nn.functional semantics, float64):

* `conv2d(x, W[, stride[, padding]])`: x (C, H, W) or (N, C, H, W), W (O, C, kh, kw);
  cross-correlation, zero padding, defaults stride 1, padding 0. A bias is added as
  `+ b` with b shaped (O, 1, 1) (PyTorch's b.view(O, 1, 1)), or `+ reshape(b, O, 1, 1)`.
* `conv1d(x, W[, stride[, padding]])`: x (C, L) or (N, C, L), W (O, C, k); bias (O, 1).
* `maxpool2d(x, kernel[, stride])`, `avgpool2d(x, kernel[, stride])`: square windows,
  no padding, stride defaulting to the kernel; max-pool's gradient goes to the first
  maximum of each window in row-major order (PyTorch's CPU kernel, and the typed layers).
* `reshape(x, d1, …)`, `flatten(x[, start_dim])` (torch.flatten): to chain conv → dense.

The gradient rules are expressions a student reads, through derivation-only helpers:

    ∂L/∂W = conv2d_grad_weight(g, x, s, p)   the input correlated with the upstream gradient
    ∂L/∂x = conv2d_grad_input(g, W, s, p)    g convolved back with the kernel ("full")
    ∂L/∂x = maxpool2d_route(g, x, k, s)      each window's g to the position that won
    ∂L/∂x = avgpool2d_spread(g, k, s)        each window's g / k² over its window

Each helper is itself an Op (shape, value, element rule), so under --round/--exact
every element of a gradient is its scalar sum, evaluated digit by digit. A stride that
leaves input positions unused is a ShapeError, as the typed layers refuse it (PyTorch
floors silently; in a worked example it is a mistake). Positions in the zero padding
are left out of element sums (they contribute 0).
"""
from __future__ import annotations

import math

import numpy as np

from ..calc.expr import Bin, Num, Ref
from . import kernels as K
from .op import Op, add_all, call, mul
from .shapes import Shape, ShapeError, show

AXES = {1: ("length",), 2: ("height", "width")}


# -- geometry: the shape rules ---------------------------------------------------------------

def _layout(d: int, name: str = "x") -> str:
    return "(C, L) or (N, C, L)" if d == 1 else "(C, H, W) or (N, C, H, W)"


def _kernel_layout(d: int) -> str:
    return "(O, C, k)" if d == 1 else "(O, C, kh, kw)"


def _check_constants(op: str, shapes, **values) -> None:
    least = {"stride": 1, "kernel": 1, "padding": 0}
    for what, v in values.items():
        if v < least[what]:
            raise ShapeError(op, shapes, f"the {what} must be an integer ≥ {least[what]}, found {v}")


def fits(op: str, shapes, size: int, kernel: int, stride: int, padding: int, axis: str) -> int:
    """The output length along one axis (PyTorch's floor), or a ShapeError: a kernel larger
    than the padded input, padding as large as the kernel, or a stride that leaves *input*
    positions unused — the typed layers' rule (docs/layers.md). Dropping only padding is
    fine: a 3×3 kernel, stride 2, padding 1 on an even size (ResNet's downsampling) never
    reads the last padded column and loses no input."""
    span = size + 2 * padding
    if padding >= kernel:
        raise ShapeError(op, shapes, f"padding {padding} along the {axis} is not smaller than the kernel ({kernel}): "
                         "border outputs would read padding only")
    if kernel > span:
        raise ShapeError(op, shapes, f"the kernel ({kernel}) is larger than the input along the {axis} "
                         f"({size}" + (f" + 2·padding {padding} = {span}" if padding else "") + ")")
    out = (span - kernel) // stride + 1
    last_read = (out - 1) * stride + kernel - 1  # in padded coordinates
    if last_read < padding + size - 1:
        unused = padding + size - 1 - last_read
        raise ShapeError(op, shapes, f"stride {stride} leaves input positions unused along the {axis}: (input {size}"
                         f" + 2·padding {padding} − kernel {kernel}) = {span - kernel} is not a multiple of "
                         f"{stride}, and the last {unused} input position{'s' if unused > 1 else ''} would never be "
                         "read — PyTorch would silently drop them (the typed layers refuse it too); change the "
                         "stride, the padding or the kernel")
    return out


def natural_input(out: int, kernel: int, stride: int, padding: int) -> int:
    """The input length a conv output implies when no padding is dropped: (out − 1)·s + k − 2p."""
    return (out - 1) * stride + kernel - 2 * padding


def _sp(consts) -> tuple[int, int]:
    """(stride, padding) from a conv call's constants, PyTorch's defaults 1 and 0."""
    stride = consts[0] if len(consts) > 0 else 1
    padding = consts[1] if len(consts) > 1 else 0
    return stride, padding


def _sizes(consts, d: int):
    """A gradient helper's explicit spatial sizes (the input's, or the kernel's), written
    only when the stride drops padding and the size is not (out − 1)·s + k − 2p."""
    return tuple(consts[2:2 + d]) if len(consts) >= 2 + d else None


def _ks(consts) -> tuple[int, int]:
    """(kernel, stride) of a pooling call: the stride defaults to the kernel."""
    return consts[0], consts[1] if len(consts) > 1 else consts[0]


def _input_rank(op: str, shapes, shape: Shape, d: int, what: str = "the input x") -> None:
    if len(shape) not in (d + 1, d + 2):
        raise ShapeError(op, shapes, f"{op} takes {what} shaped {_layout(d)}, found rank {len(shape)}")


def _conv_shape(op: str, d: int):
    def shape(shapes, consts):
        xs, ws = shapes
        stride, padding = _sp(consts)
        _check_constants(op, shapes, stride=stride, padding=padding)
        _input_rank(op, shapes, xs, d)
        if len(ws) != d + 2:
            raise ShapeError(op, shapes, f"the kernel W of {op} is shaped {_kernel_layout(d)}, found rank {len(ws)}")
        if xs[-d - 1] != ws[1]:
            raise ShapeError(op, shapes, f"the input's channels ({xs[-d - 1]}, axis {len(xs) - d - 1} of x) must "
                             f"equal the kernel's input channels ({ws[1]}, axis 1 of W)")
        out = tuple(fits(op, shapes, xs[len(xs) - d + a], ws[2 + a], stride, padding, AXES[d][a]) for a in range(d))
        return xs[:-d - 1] + (ws[0],) + out
    return shape


def _grad_input_shape(op: str, d: int):
    """conv_grad_input(g, W, s, p): g shaped like the conv's output, the result like its x;
    the input size is what the stride rule makes unique: (out − 1)·s + k − 2p."""
    def shape(shapes, consts):
        gs, ws = shapes
        stride, padding = _sp(consts)
        _check_constants(op, shapes, stride=stride, padding=padding)
        _input_rank(op, shapes, gs, d, "the upstream gradient g")
        if len(ws) != d + 2 or gs[-d - 1] != ws[0]:
            raise ShapeError(op, shapes, f"W is shaped {_kernel_layout(d)} with O = the channels of g")
        sizes = _sizes(consts, d) or tuple(natural_input(gs[len(gs) - d + a], ws[2 + a], stride, padding)
                                           for a in range(d))
        if min(sizes) < 1 or any((n + 2 * padding - ws[2 + a]) // stride + 1 != gs[len(gs) - d + a]
                                 for a, n in enumerate(sizes)):
            raise ShapeError(op, shapes, "no input fits this gradient, kernel, stride and padding")
        return gs[:-d - 1] + (ws[1],) + sizes
    return shape


def _grad_weight_shape(op: str, d: int):
    """conv_grad_weight(g, x, s, p): the kernel's size is x + 2p − (out − 1)·s."""
    def shape(shapes, consts):
        gs, xs = shapes
        stride, padding = _sp(consts)
        _check_constants(op, shapes, stride=stride, padding=padding)
        _input_rank(op, shapes, gs, d, "the upstream gradient g")
        if len(xs) != len(gs) or gs[:-d - 1] != xs[:-d - 1]:
            raise ShapeError(op, shapes, "g and x have the same rank and batch")
        sizes = _sizes(consts, d) or tuple(xs[len(xs) - d + a] + 2 * padding - (gs[len(gs) - d + a] - 1) * stride
                                           for a in range(d))
        if min(sizes) < 1 or any((xs[len(xs) - d + a] + 2 * padding - k) // stride + 1 != gs[len(gs) - d + a]
                                 for a, k in enumerate(sizes)):
            raise ShapeError(op, shapes, "no kernel fits this input, gradient, stride and padding")
        return (gs[-d - 1], xs[-d - 1]) + sizes
    return shape


def _pool_shape(op: str):
    def shape(shapes, consts):
        xs = shapes[0]
        kernel, stride = _ks(consts)
        _check_constants(op, shapes, kernel=kernel, stride=stride)
        _input_rank(op, shapes, xs, 2)
        out = tuple(fits(op, shapes, xs[len(xs) - 2 + a], kernel, stride, 0, AXES[2][a]) for a in range(2))
        return xs[:-2] + out
    return shape


def _route_shape(shapes, consts):
    """maxpool2d_route(g, x, k, s): x's shape; g must be the pooled shape."""
    gs, xs = shapes
    pooled = _pool_shape("maxpool2d_route")([xs], consts)
    if gs != pooled:
        raise ShapeError("maxpool2d_route", shapes, f"g must have the pooled shape {show(pooled)}")
    return xs


def _spread_shape(shapes, consts):
    gs = shapes[0]
    kernel, stride = _ks(consts)
    _check_constants("avgpool2d_spread", shapes, kernel=kernel, stride=stride)
    _input_rank("avgpool2d_spread", shapes, gs, 2, "the upstream gradient g")
    return gs[:-2] + tuple((n - 1) * stride + kernel for n in gs[-2:])


# -- values: the kernels of kernels.py, on (N, C, H, W) views -----------------------------------

def _lift(a: np.ndarray, d: int, batched: bool) -> np.ndarray:
    """(C, …) → (1, C, …); a 1-D signal (N, C, L) → (N, C, 1, L)."""
    a = a if batched else a[None]
    return a[:, :, None, :] if d == 1 else a


def _drop(a: np.ndarray, d: int, batched: bool) -> np.ndarray:
    a = a[:, :, 0, :] if d == 1 else a
    return a if batched else a[0]


def _pairs(d: int, stride: int, padding: int):
    return ((1, stride), (0, padding)) if d == 1 else ((stride, stride), (padding, padding))


def _conv_value(d: int):
    def value(xs, consts):
        x, W = xs
        batched = x.ndim == d + 2
        stride, padding = _pairs(d, *_sp(consts))
        Wk = W[:, :, None, :] if d == 1 else W
        out, _ = K.conv2d_raw(_lift(x, d, batched), Wk, None, stride, padding)
        return _drop(out, d, batched)
    return value


def _grad_input_value(d: int):
    def value(xs, consts):
        g, W = xs
        batched = g.ndim == d + 2
        s, p = _sp(consts)
        stride, padding = _pairs(d, s, p)
        g4 = _lift(g, d, batched)
        Wk = W[:, :, None, :] if d == 1 else W
        sizes = _sizes(consts, d) or tuple(natural_input(n, k, s, p) for n, k in zip(g.shape[g.ndim - d:], W.shape[2:]))
        x_shape = (g4.shape[0], W.shape[1]) + ((1,) + sizes if d == 1 else sizes)
        return _drop(K.conv2d_grad_input_raw(g4, Wk, stride, padding, x_shape), d, batched)
    return value


def _grad_weight_value(d: int):
    def value(xs, consts):
        g, x = xs
        batched = x.ndim == d + 2
        s, p = _sp(consts)
        stride, padding = _pairs(d, s, p)
        g4, xp = _lift(g, d, batched), K.pad2d(_lift(x, d, batched), *padding)
        kernel = tuple(xp.shape[2 + a] - (g4.shape[2 + a] - 1) * stride[a] for a in range(2))
        if _sizes(consts, d):
            kernel = ((1,) + _sizes(consts, d)) if d == 1 else _sizes(consts, d)
        dW = K.conv2d_grad_weight_raw(g4, xp, stride, kernel)
        return dW[:, :, 0, :] if d == 1 else dW
    return value


def _pool_value(kind: str):
    def value(xs, consts):
        x = xs[0]
        batched = x.ndim == 4
        kernel, stride = _ks(consts)
        x4 = _lift(x, 2, batched)
        if kind == "max":
            out, _ = K.maxpool2d_raw(x4, (kernel, kernel), (stride, stride))
        else:
            out = K.avgpool2d_raw(x4, (kernel, kernel), (stride, stride))
        return _drop(out, 2, batched)
    return value


def _route_value(xs, consts):
    g, x = xs
    batched = x.ndim == 4
    kernel, stride = _ks(consts)
    x4 = _lift(x, 2, batched)
    _, winner = K.maxpool2d_raw(x4, (kernel, kernel), (stride, stride))
    return _drop(K.maxpool2d_route_raw(_lift(g, 2, batched), winner, x4.shape, (kernel, kernel), (stride, stride)),
                 2, batched)


def _spread_value(xs, consts):
    g = xs[0]
    batched = g.ndim == 4
    kernel, stride = _ks(consts)
    g4 = _lift(g, 2, batched)
    x_shape = g4.shape[:2] + tuple((n - 1) * stride + kernel for n in g4.shape[2:])
    return _drop(K.avgpool2d_spread_raw(g4, x_shape, (kernel, kernel), (stride, stride)), 2, batched)


# -- element rules: one output element as the scalar sum a student writes -------------------

def _consts_of(args, first: int, r) -> list[int]:
    return [r.const(a) for a in args[first:]]


def _in_range(pos, sizes) -> bool:
    return all(0 <= p < n for p, n in zip(pos, sizes))


def _sum_or_zero(terms, r, why: str):
    if terms:
        return add_all(terms)
    r.condition(why)
    return Num("0")


def _conv_element(d: int):
    """out[n,o,i,j] = Σ_c,u,v W[o,c,u,v] · x[n,c,i·s−p+u, j·s−p+v] (taps in the padding left out)."""
    def element(index, args, r):
        x, W = args[0], args[1]
        s, p = _sp(_consts_of(args, 2, r))
        xs, ws = r.shape(x), r.shape(W)
        lead, o, pos = index[:len(xs) - d - 1], index[len(xs) - d - 1], index[len(index) - d:]
        terms = []
        for c in range(ws[1]):
            for off in np.ndindex(ws[2:]):
                src = tuple(pos[a] * s - p + off[a] for a in range(d))
                if _in_range(src, xs[len(xs) - d:]):
                    terms.append(mul(r.elem(W, (o, c) + off), r.elem(x, lead + (c,) + src)))
        return _sum_or_zero(terms, r, "the window lies in the padding")
    return element


def _grad_weight_element(d: int):
    """∂L/∂W[o,c,u,v] = Σ_n,i,j g[n,o,i,j] · x[n,c,i·s−p+u, j·s−p+v]: input ⋆ upstream gradient."""
    def element(index, args, r):
        g, x = args[0], args[1]
        s, p = _sp(_consts_of(args, 2, r))
        gs, xs = r.shape(g), r.shape(x)
        o, c, off = index[0], index[1], index[2:]
        terms = []
        for lead in np.ndindex(gs[:len(gs) - d - 1]):
            for pos in np.ndindex(gs[len(gs) - d:]):
                src = tuple(pos[a] * s - p + off[a] for a in range(d))
                if _in_range(src, xs[len(xs) - d:]):
                    terms.append(mul(r.elem(g, lead + (o,) + pos), r.elem(x, lead + (c,) + src)))
        return _sum_or_zero(terms, r, "this kernel position only ever meets padding")
    return element


def _grad_input_element(d: int):
    """∂L/∂x[n,c,y,x] = Σ over the outputs (i,j) and kernel taps (u,v) that read it
    (i·s − p + u = y): g[n,o,i,j] · W[o,c,u,v] — the full convolution, term by term."""
    def element(index, args, r):
        g, W = args[0], args[1]
        s, p = _sp(_consts_of(args, 2, r))
        gs, ws = r.shape(g), r.shape(W)
        lead, c, q = index[:len(gs) - d - 1], index[len(gs) - d - 1], index[len(index) - d:]
        out_sizes = gs[len(gs) - d:]
        terms = []
        for o in range(ws[0]):
            for off in np.ndindex(ws[2:]):
                t = tuple(q[a] + p - off[a] for a in range(d))
                if all(v % s == 0 for v in t):
                    pos = tuple(v // s for v in t)
                    if _in_range(pos, out_sizes):
                        terms.append(mul(r.elem(g, lead + (o,) + pos), r.elem(W, (o, c) + off)))
        return _sum_or_zero(terms, r, "no output reads this input position")
    return element


def _window(index, kernel: int, stride: int):
    """The input positions (row-major) of the pooling window behind output `index`."""
    lead, (i, j) = index[:-2], index[-2:]
    return [lead + (i * stride + u, j * stride + v) for u in range(kernel) for v in range(kernel)]


def _pool_element(kind: str):
    def element(index, args, r):
        kernel, stride = _ks(_consts_of(args, 1, r))
        items = [r.elem(args[0], q) for q in _window(index, kernel, stride)]
        if kind == "max":
            return items[0] if len(items) == 1 else call("max", *items)
        total = add_all(items)
        return Bin("/", total, Num(str(kernel * kernel))) if len(items) > 1 else total
    return element


def _windows_over(index, kernel: int, stride: int, pooled: Shape):
    """The pooling windows (lead…, i, j) that contain input position `index`."""
    lead, (y, x) = index[:-2], index[-2:]
    rows = range(max(0, math.ceil((y - kernel + 1) / stride)), min(pooled[-2] - 1, y // stride) + 1)
    cols = range(max(0, math.ceil((x - kernel + 1) / stride)), min(pooled[-1] - 1, x // stride) + 1)
    return [lead + (i, j) for i in rows for j in cols]


def _position(e, r, index) -> str:
    """How a condition names an input position: its element name, or its index."""
    element = r.elem(e, index)
    if isinstance(element, Ref):
        return element.name
    text = r.label(e, index)  # relu(z[1,1,2]) reads well; a long sum does not
    return text if len(text) <= 40 else "position [" + ",".join(str(i + 1) for i in index) + "]"


def _route_element(index, args, r):
    """∂L/∂x[…,y,x] = the sum of g over the windows whose first maximum (row-major) is
    at (y, x); 0 when it wins none. The branch taken is recorded as the condition."""
    g, x = args[0], args[1]
    kernel, stride = _ks(_consts_of(args, 2, r))
    values = r.value(x)
    terms, won = [], []
    for w in _windows_over(index, kernel, stride, r.shape(g)):
        cells = _window(w, kernel, stride)
        best = int(np.argmax([values[q] for q in cells]))
        if cells[best] == tuple(index):
            terms.append(r.elem(g, w))
            won.append("[" + ",".join(str(i + 1) for i in w[-2:]) + "]")
    name = _position(x, r, index)
    if won:
        r.condition(f"{name} is the max of window{'s' if len(won) > 1 else ''} {', '.join(won)}")
        return add_all(terms)
    r.condition(f"{name} is no window's max")
    return Num("0")


def _spread_element(index, args, r):
    """∂L/∂x[…,y,x] = (Σ of g over the windows containing (y, x)) / k²."""
    g = args[0]
    kernel, stride = _ks(_consts_of(args, 1, r))
    terms = [r.elem(g, w) for w in _windows_over(index, kernel, stride, r.shape(g))]
    if not terms:
        r.condition("no window covers this position")
        return Num("0")
    return Bin("/", add_all(terms), Num(str(kernel * kernel))) if kernel > 1 else add_all(terms)


# -- the gradient rules ------------------------------------------------------------------------

def _conv_vjp(d: int):
    name = f"conv{d}d"

    def vjp(g, k, args, r):
        x, W = args[0], args[1]
        s, p = _sp(_consts_of(args, 2, r))
        constants = (Num(str(s)), Num(str(p)))
        xs, ws = r.shape(x), r.shape(W)
        outs = tuple(fits(name, (xs, ws), xs[len(xs) - d + a], ws[2 + a], s, p, AXES[d][a]) for a in range(d))
        inputs, kernels = xs[len(xs) - d:], ws[2:]
        if k == 0:  # the input's size is written when the stride dropped padding (it is not unique then)
            natural = tuple(natural_input(o, kk, s, p) for o, kk in zip(outs, kernels))
            extra = () if natural == inputs else tuple(Num(str(n)) for n in inputs)
            return call(f"{name}_grad_input", g, W, *constants, *extra)
        natural = tuple(n + 2 * p - (o - 1) * s for n, o in zip(inputs, outs))
        extra = () if natural == kernels else tuple(Num(str(n)) for n in kernels)
        return call(f"{name}_grad_weight", g, x, *constants, *extra)
    return vjp


def _pool_vjp(kind: str):
    def vjp(g, k, args, r):
        kernel, stride = _ks(_consts_of(args, 1, r))
        constants = (Num(str(kernel)), Num(str(stride)))
        if kind == "max":
            return call("maxpool2d_route", g, args[0], *constants)
        return call("avgpool2d_spread", g, *constants)
    return vjp


# -- reshape and flatten: conv → dense in one graph ----------------------------------------------

def _reshape_shape(shapes, consts):
    xs = shapes[0]
    target = tuple(consts)
    if not 1 <= len(target) <= 4 or min(target) < 1:
        raise ShapeError("reshape", shapes, "reshape(x, d1, …) takes 1 to 4 sizes, each ≥ 1")
    if math.prod(target) != math.prod(xs):
        raise ShapeError("reshape", (xs, target), f"the sizes must hold the same number of elements "
                         f"({math.prod(xs)}), found {math.prod(target)}")
    return target


def _flatten_shape(shapes, consts):
    xs = shapes[0]
    if not xs:
        return (1,)
    start = consts[0] if consts else 0
    if not -len(xs) <= start < len(xs):
        raise ShapeError("flatten", shapes, f"start_dim {start} is out of range for rank {len(xs)}")
    start %= len(xs)
    return xs[:start] + (math.prod(xs[start:]),)


def _reshaped_element(op: str):
    """reshape/flatten: the element at the same row-major position."""
    def element(index, args, r):
        shape_in = r.shape(args[0])
        consts = _consts_of(args, 1, r)
        shape_out = _flatten_shape([shape_in], consts) if op == "flatten" else tuple(consts)
        flat = int(np.ravel_multi_index(index, shape_out)) if index else 0
        return r.elem(args[0], tuple(int(i) for i in np.unravel_index(flat, shape_in)) if shape_in else ())
    return element


def _reshape_vjp(g, k, args, r):
    return call("reshape", g, *(Num(str(n)) for n in r.shape(args[0]))) if r.shape(args[0]) else call("sum", g)


# -- the table -----------------------------------------------------------------------------------

def _conv_ops(d: int) -> dict[str, Op]:
    name = f"conv{d}d"
    return {
        name: Op(name, shape=_conv_shape(name, d), value=_conv_value(d), vjp=_conv_vjp(d),
                 element=_conv_element(d), arity=(2, 4), consts=2, tensors=2,
                 doc=f"{name}(x, W, stride, padding): cross-correlation (PyTorch), x {_layout(d)}, "
                     f"W {_kernel_layout(d)}"),
        f"{name}_grad_input": Op(f"{name}_grad_input", shape=_grad_input_shape(f"{name}_grad_input", d),
                                 value=_grad_input_value(d), vjp=None, element=_grad_input_element(d),
                                 arity=(2, 4 + d), consts=2 + d, tensors=2),
        f"{name}_grad_weight": Op(f"{name}_grad_weight", shape=_grad_weight_shape(f"{name}_grad_weight", d),
                                  value=_grad_weight_value(d), vjp=None, element=_grad_weight_element(d),
                                  arity=(2, 4 + d), consts=2 + d, tensors=2),
    }


FUNCTIONS: dict[str, Op] = {
    **_conv_ops(2),
    **_conv_ops(1),
    "maxpool2d": Op("maxpool2d", shape=_pool_shape("maxpool2d"), value=_pool_value("max"), vjp=_pool_vjp("max"),
                    element=_pool_element("max"), arity=(2, 3), consts=2, tensors=1,
                    doc="maxpool2d(x, kernel, stride): the max of each kernel×kernel window"),
    "avgpool2d": Op("avgpool2d", shape=_pool_shape("avgpool2d"), value=_pool_value("avg"), vjp=_pool_vjp("avg"),
                    element=_pool_element("avg"), arity=(2, 3), consts=2, tensors=1,
                    doc="avgpool2d(x, kernel, stride): the mean of each kernel×kernel window"),
    "maxpool2d_route": Op("maxpool2d_route", shape=_route_shape, value=_route_value, vjp=None,
                          element=_route_element, arity=(3, 4), consts=2, tensors=2),
    "avgpool2d_spread": Op("avgpool2d_spread", shape=_spread_shape, value=_spread_value, vjp=None,
                           element=_spread_element, arity=(2, 3), consts=2, tensors=1),
    "reshape": Op("reshape", shape=_reshape_shape, value=lambda x, c: np.reshape(x[0], tuple(c)), vjp=_reshape_vjp,
                  element=_reshaped_element("reshape"), arity=(2, 5), consts=4, tensors=1,
                  doc="reshape(x, d1, …): the same elements in row-major order, shaped d1×…"),
    "flatten": Op("flatten", shape=_flatten_shape,
                  value=lambda x, c: np.reshape(x[0], _flatten_shape([x[0].shape], c)), vjp=_reshape_vjp,
                  element=_reshaped_element("flatten"), arity=(1, 2), consts=1, tensors=1,
                  doc="flatten(x, start_dim=0): torch.flatten, the axes from start_dim joined"),
}

USER_FUNCTIONS = ("conv2d", "conv1d", "maxpool2d", "avgpool2d", "reshape", "flatten")
HELPERS = ("conv2d_grad_input", "conv2d_grad_weight", "conv1d_grad_input", "conv1d_grad_weight",
           "maxpool2d_route", "avgpool2d_spread")

__all__ = ["FUNCTIONS", "USER_FUNCTIONS", "HELPERS", "fits"]
