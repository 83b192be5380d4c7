"""The numbers a typed-layer solve computes with: float64, or hand arithmetic (`--round D`).

The layer rules (layers.py), the loss and the update (typed_solve.py) and the
derivation notes (derive.py) are written once, against a `Numbers` object `q`:

    q(a)            a number the derivation computes: rounded (identity in float64)
    q.given(a)      given data and hyperparameters, used as written
    q.c(x)          a constant of a rule (ε, 1 − p, the momentum) as written
    q.fn(f, a)      a function (tanh, exp, sqrt, σ) in float64, then rounded
    q.activate(…)   an activation and its derivative, each written down
    q.conv2d(…)     the convolution kernels (tensor/kernels.py), exact on rounded operands
    q.update(…)     one optimizer step of a parameter array

`Float` makes every one of these the float64 operation itself, so the float solve is
the PyTorch-parity one. `Hand` (SPEC §7's hand calculation) holds arrays as NumPy
object arrays of `Decimal`: + − × ÷, sums and matrix products on them are exact decimal
arithmetic (a 60-digit context, as RoundedArithmetic evaluates an equation), and `q(a)`
then rounds each element with the policy's own `finish` — half away from zero
(RoundedArithmetic) or toward zero (TruncatedArithmetic, check's "truncated, not
rounded"). So a tie such as 0.3 · 0.75 = 0.225 rounds to 0.23, never to the 0.22 that
float64's 0.22499999999999998 would give.

The convolution kernels (`conv2d_raw`, `conv2d_raw_backward`) are float64 code shared
with the tensor package; they are run *around*, not copied: each operand is scaled to
integers (x·10^dx, exactly, since a hand-rounded value has finitely many decimals),
long integers are split into base-10^6 digits, the kernel runs once per pair of digits
and sums products of integers below 10^12 — exact in float64 while every partial sum
stays below 2^53, which is checked by running the kernel on the absolute values — and
the digits' results are combined as Python integers and scaled back as a Decimal
before it is rounded. See docs/layers.md,
"Hand rounding".
"""
from __future__ import annotations

from contextlib import nullcontext
from decimal import Decimal, localcontext
from typing import Any, Callable

import numpy as np

from ..errors import ComputeError

_MORE_DECIMALS = "use more decimals with --round"
EXACT_FLOAT_INTEGER = 2.0 ** 53  # integers below this are exact in float64, and so are their sums
CHUNK = 10 ** 6  # base of the integer digits a convolution runs on: a product of two is < 10^12


class Float:
    """float64 throughout: every hook is the plain NumPy operation."""

    name = "float"
    digits = None

    def __call__(self, a):
        return a

    def given(self, a):
        return np.array(a, dtype=np.float64)

    def c(self, x):
        return x

    def one_minus(self, x):
        return 1 - x

    def fn(self, f: Callable, a):
        return f(a)

    def activate(self, name: str, z, slope: float):
        """(a, da/dz) of an elementwise activation (calc/functions.py)."""
        from ..calc import functions as F

        return F.activate(name, z, slope)

    def zeros(self, shape):
        return np.zeros(shape)

    def float(self, a):
        return a

    def fmt(self, v) -> str:
        text = f"{float(v):.4f}"
        return "0.0000" if text == "-0.0000" else text.replace("-", "−")  # −0 (a ReLU's 0·(−γ)) is 0

    def conv2d(self, kernel, x, W, b, stride, padding):
        """`kernel` is tensor/kernels.conv2d_raw, passed in by layers.py (hand.py imports no kernel)."""
        return kernel(x, W, b, stride, padding)

    def conv2d_backward(self, kernel, g, xp, W, stride, padding, x_shape):
        return kernel(g, xp, W, stride, padding, x_shape)

    def context(self):
        return nullcontext()

    def update(self, opt, p, g, state: dict, new_state: dict, key: tuple, step: int):
        from .engine import optimizer_step

        return optimizer_step(opt, p, g, state, new_state, key, step)


def _decimal(x) -> Decimal:
    """A float as written (its shortest repr); Decimals and ints pass through."""
    if isinstance(x, Decimal):
        return x
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return Decimal(int(x))
    return Decimal(repr(float(x)))


_to_decimal = np.frompyfunc(_decimal, 1, 1)
_to_float = np.frompyfunc(float, 1, 1)


def _decimals(a) -> int:
    """How many decimals the longest element of a Decimal array has (0 for integers)."""
    exponents = [_decimal(d).as_tuple().exponent for d in np.asarray(a, dtype=object).reshape(-1)]
    return max([0] + [-e for e in exponents if isinstance(e, int)])


class Hand:
    """Hand calculation: object arrays of Decimal, each computed number finished
    (rounded or truncated) to `arith.digits` decimals by `arith` (calc/arithmetic.py)."""

    PRECISION = 60

    def __init__(self, arith) -> None:
        self.arith = arith
        self.name = arith.name  # round | truncate
        self.digits = arith.digits
        self._finish = np.frompyfunc(self._finish_one, 1, 1)

    def _finish_one(self, value: Decimal) -> Decimal:
        out = self.arith.finish(value)
        return out.copy_abs() if out.is_zero() else out  # −0.0000 is 0.0000

    def context(self):
        """The decimal context every operation on the object arrays runs in: exact
        + − × and 60-digit ÷ (NumPy calls Decimal's operators, which read it)."""
        return localcontext(prec=self.PRECISION)

    def __call__(self, a):
        return self._finish(_to_decimal(a))

    def given(self, a):
        return np.asarray(_to_decimal(np.asarray(a)), dtype=object)

    def c(self, x):
        return _decimal(x)

    def one_minus(self, x):
        return Decimal(1) - _decimal(x)

    def fn(self, f: Callable, a):
        """f in float64 on the (rounded) operands, then rounded."""
        return self(self.raw_fn(f, a))

    def raw_fn(self, f: Callable, a):
        """f in float64, its result as a Decimal of its shortest repr, not yet rounded
        (a log inside the loss's sum, as RoundedArithmetic evaluates a call)."""
        with np.errstate(all="ignore"):
            value = f(np.asarray(self.float(a), dtype=np.float64))
        if not np.isfinite(value).all():
            raise ComputeError("a function of a rounded value is not a finite number")
        return _to_decimal(value)

    def activate(self, name: str, z, slope: float):
        """(a, da/dz), both written down: a = f(z) in float64 then rounded; the derivative
        from the rounded a where the student writes it so (σ′ = a(1 − a), tanh′ = 1 − a²),
        0/1 (or the slope as written) for the piecewise ones."""
        from ..calc import functions as F

        if name == "identity":
            return z, self.ones(np.shape(z))
        if name == "sigmoid":
            a = self.fn(lambda v: F.activate("sigmoid", v)[0], z)
            return a, self(a * (1 - a))
        if name == "tanh":
            a = self.fn(np.tanh, z)
            return a, self(1 - a * a)
        positive = np.asarray(self.float(z)) > 0
        if name == "relu":
            return self(np.where(positive, z, Decimal(0))), self(np.where(positive, Decimal(1), Decimal(0)))
        if name == "leaky_relu":
            k = _decimal(slope)
            return self(np.where(positive, z, k * z)), self(np.where(positive, Decimal(1), k))
        raise ValueError(f"unknown activation {name!r}")

    def zeros(self, shape):
        return np.full(shape, Decimal(0), dtype=object)

    def ones(self, shape):
        return np.full(shape, Decimal(1), dtype=object)

    def float(self, a):
        return np.asarray(_to_float(a), dtype=np.float64) if isinstance(a, np.ndarray) else float(a)

    def fmt(self, v) -> str:
        """A number as the derivation wrote it: D decimals, or a given value's own
        decimals where it has more (data are used as written, and printed so)."""
        d = _decimal(v)
        if isinstance(d.as_tuple().exponent, int) and -d.as_tuple().exponent <= self.digits:
            d = d.quantize(Decimal(1).scaleb(-self.digits))
        return f"{d:f}".replace("-", "−")

    # -- the optimizer, one element at a time as dense networks write it ----------------------

    STATES = ("buf", "sq", "gavg", "sum", "m", "v")

    def update(self, opt, p, g, state: dict, new_state: dict, key: tuple, step: int):
        """The parameter after step `step`: each element through the equations dense
        networks print (optim_equations.py), evaluated by this policy's arithmetic —
        state updates each rounded, the new value rounded, √ in float64 inside the
        update's expression; a second moment that rounds to 0 under a nonzero gradient
        is an error asking for more decimals, as for dense networks (SPEC §7)."""
        from ..calc.expr import Ref, evaluate
        from .names import at
        from .optim_equations import update_equations

        arith = self.arith
        given = {name: arith.given(n.value) for name, n in opt.hyperparameters().items()}
        p, g = np.asarray(p, dtype=object), np.asarray(g, dtype=object)
        out = np.empty(p.shape, dtype=object)
        states: dict[str, np.ndarray] = {}
        for index in np.ndindex(p.shape):
            env = dict(given, p=p[index], g=g[index])
            for kind in self.STATES:
                if (kind,) + key in state:
                    env[at(f"{kind}_w", step - 1)] = state[(kind,) + key][index]

            def emit(name, expression, env=env):
                env[name] = self._finish_one(evaluate(expression, env, arith))

            def guard(what, value, gradient, env=env):
                if value <= 0 and float(evaluate(gradient, env, arith)) != 0:
                    raise ComputeError(f"the {opt.name} second moment of a gradient rounds to "
                                       f"{'0' if value == 0 else 'a negative number'} where the update divides by "
                                       f"its square root: {_MORE_DECIMALS}")

            update_equations(opt, "w", step, Ref("p"), Ref("g"), emit, lambda name, env=env: float(env[name]), guard)
            out[index] = env[at("w_new", step)]
            for kind in self.STATES:
                if at(f"{kind}_w", step) in env:
                    states.setdefault(kind, np.empty(p.shape, dtype=object))[index] = env[at(f"{kind}_w", step)]
        for kind, values in states.items():
            new_state[(kind,) + key] = values
        return out

    # -- the convolution kernels, exact on integers -----------------------------------------

    def _digits(self, a, scale: int) -> list:
        """A Decimal array's integers a·10^scale (exact: `scale` is at least its decimals)
        as signed base-CHUNK digits, each a float64 array: a·10^scale = Σ_k digit_k·CHUNK^k.
        One digit for everyday values (|a|·10^scale < 10^6); more for long decimals."""
        flat = [_decimal(d).scaleb(scale) for d in np.asarray(a, dtype=object).reshape(-1)]
        ints = [int(d) for d in flat]
        if any(i != d for i, d in zip(ints, flat)):  # cannot happen: scale = the longest decimals
            raise ComputeError(f"--round {self.digits}: an operand of the convolution is not a decimal")
        signs, rest = [1 if i >= 0 else -1 for i in ints], [abs(i) for i in ints]
        digits = []
        while True:
            digits.append(np.array([sg * (r % CHUNK) for sg, r in zip(signs, rest)], dtype=np.float64)
                          .reshape(np.shape(a)))
            rest = [r // CHUNK for r in rest]
            if not any(rest):
                return digits

    @staticmethod
    def _exact(runs, scale: int):
        """Σ value·CHUNK^k over the kernel's runs, as exact Decimals ÷ 10^scale. Each run's
        `bound` (the kernel on absolute values) proves its partial sums stayed below 2^53."""
        total = 0
        for k, value, bound in runs:
            if np.size(bound) and float(np.max(bound)) >= EXACT_FLOAT_INTEGER:
                raise ComputeError("the convolution sums too many products per element (over 9,000) for exact "
                                   "hand arithmetic: drop --round")
            total = total + _to_int(value) * CHUNK ** k
        return np.asarray(np.frompyfunc(lambda v: Decimal(v).scaleb(-scale), 1, 1)(total), dtype=object)

    def conv2d(self, kernel, x, W, b, stride, padding):
        """The float64 `kernel` (tensor/kernels.conv2d_raw) on integer digits of the operands,
        once per pair of digits; its padded input comes back as digits too."""
        sx, sw = _decimals(x), _decimals(W)
        X, K = self._digits(x, sx), self._digits(W, sw)
        runs, padded = [], []
        for i, Xi in enumerate(X):
            for j, Kj in enumerate(K):
                out, XPi = kernel(Xi, Kj, None, stride, padding)
                bound, _ = kernel(np.abs(Xi), np.abs(Kj), None, stride, padding)
                runs.append((i + j, out, bound))
                if j == 0:
                    padded.append((i, XPi, np.abs(XPi)))
        z = self._exact(runs, sx + sw)
        if b is not None:
            z = z + np.asarray(b, dtype=object)[None, :, None, None]
        return self(z), self._exact(padded, sx)

    def conv2d_backward(self, kernel, g, xp, W, stride, padding, x_shape):
        """dx (g with W), dW (g with the padded input), db (Σ g) from the kernel on digits:
        run i, j pairs digit i of g with digit j of both xp and W (0 where one has fewer)."""
        sg, sx, sw = _decimals(g), _decimals(xp), _decimals(W)
        G, XP, K = self._digits(g, sg), self._digits(xp, sx), self._digits(W, sw)
        n = max(len(XP), len(K))
        XP += [np.zeros_like(XP[0])] * (n - len(XP))
        K += [np.zeros_like(K[0])] * (n - len(K))
        runs_dx, runs_dW, runs_db = [], [], []
        for i, Gi in enumerate(G):
            for j in range(n):
                dx, dW, db = kernel(Gi, XP[j], K[j], stride, padding, x_shape)
                bx, bW, bb = kernel(np.abs(Gi), np.abs(XP[j]), np.abs(K[j]), stride, padding, x_shape)
                runs_dx.append((i + j, dx, bx))
                runs_dW.append((i + j, dW, bW))
                if j == 0:
                    runs_db.append((i, db, bb))
        return (self(self._exact(runs_dx, sg + sw)), self(self._exact(runs_dW, sg + sx)),
                self(self._exact(runs_db, sg)))


_to_int = np.frompyfunc(lambda v: int(v), 1, 1)


def numbers(round_digits=None, arith: Any = None):
    """The Numbers of a solve: float64, `--round D`, or a given hand arithmetic."""
    if arith is not None:
        return Hand(arith)
    if round_digits is None:
        return Float()
    from ..calc.arithmetic import RoundedArithmetic

    return Hand(RoundedArithmetic(round_digits))
