"""Layer-level equations of one network step in matrix form (SPEC §5 matrix detail).

Batches and big layers are derived a layer at a time, as lectures write them:

    Z(l)      = A(l-1) @ transpose(W(l)) + b(l)           (N×in)(in×out) + (out,) → (N×out)
    A(l)      = σ(Z(l))
    delta(L)  = dL/dA(L) ⊙ dA(L)/dZ(L)        (softmax + cross-entropy: (A ⊙ rowsum(T) − T)/N)
    dL/dA(l)  = delta(l+1) @ W(l+1)
    delta(l)  = dL/dA(l) ⊙ dA(l)/dZ(l)
    dL/dW(l)  = transpose(delta(l)) @ A(l-1),   dL/db(l) = sum(delta(l), 0)
    buf_W(l)  = momentum · buf_W(l)@(s−1) + g;  m_W(l), v_W(l) for Adam;  sq_W(l), gavg_W(l)
                for RMSprop; sum_W(l) for Adagrad;  W(l)_new = …

A layer written `layout: in_out` (h = xW, CS231n's form) keeps its written matrix: W(l)
is (in, out), Z(l) = A(l-1) @ W(l) + b(l), dL/dW(l) = transpose(A(l-1)) @ delta(l), the
layer below gets delta(l) @ transpose(W(l)), and its update, buffers and W(l)_new are
(in, out) too — per layer, so a mixed network is right at each layer.

Each is a tensor/tape.py `TensorEquation` in the tensor grammar, so the graph renderers'
matrix printers show it and the tensor engine can re-evaluate it (the tests do). The
values are the numpy engine's arrays (solve_engine.py), which match PyTorch; X and T
are the batch's inputs and targets, A(0) = X. Optimizer buffers of the previous step
appear as operands (`buf_W(1)@1`), so a step-2 update can be checked by hand.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..calc.conventions import loss_scale
from ..calc.expr import Bin, Call, Expr, Neg, Num, Ref, refs
from ..tensor.tape import TensorEquation


def _c(fn: str, *args: Expr) -> Call:
    return Call(fn, tuple(args))


def _num(x) -> Num:
    x = float(x)
    return Num(str(int(x)) if x == int(x) and abs(x) < 1e15 else repr(x))


def layer_name(kind: str, l: int) -> str:
    """Z(1), A(0) = X, W(2), delta(1), dL/dW(1), buf_W(1) — a whole layer's array."""
    if kind == "A" and l == 0:
        return "X"
    return f"{kind}({l})"


class _Recorder:
    def __init__(self) -> None:
        self.values: dict[str, np.ndarray] = {}
        self.out: list[TensorEquation] = []

    def given(self, name: str, value) -> None:
        self.values[name] = np.asarray(value, dtype=float)

    def eq(self, name: str, expr: Expr, value, section: str, node: str, note: Optional[str] = None) -> None:
        value = np.asarray(value, dtype=float)
        operands = tuple((r, self.values[r]) for r in refs(expr))
        self.out.append(TensorEquation(name, expr, operands, value, section, node, (), note))
        self.values[name] = value


def written(layer, weights):
    """A weight-shaped array as the layer writes it: (in, out) under `layout: in_out`."""
    return np.asarray(weights).T if getattr(layer, "layout", "out_in") == "in_out" else weights


def matrix_equations(spec, result, step: int, previous_state: dict) -> tuple[TensorEquation, ...]:
    """The matrix-form derivation of step `step` from the engine's StepResult."""
    r = _Recorder()
    N = spec.samples
    r.given("X", spec.input)
    r.given("T", spec.target)
    last = len(spec.layers) - 1
    in_out = [getattr(layer, "layout", "out_in") == "in_out" for layer in spec.layers]
    # forward
    for l, (layer, st) in enumerate(zip(spec.layers, result.layers), start=1):
        W, b = result.params[l - 1]
        r.given(layer_name("W", l), written(layer, W))
        w_ref: Expr = Ref(layer_name("W", l))
        z_expr: Expr = Bin("@", Ref(layer_name("A", l - 1)), w_ref if in_out[l - 1] else _c("transpose", w_ref))
        if b is not None:
            r.given(layer_name("b", l), b)
            z_expr = Bin("+", z_expr, Ref(layer_name("b", l)))
        r.eq(layer_name("Z", l), z_expr, st.z, "forward", f"layer {l}")
        r.eq(layer_name("A", l), _activation(layer, r, l), st.a, "forward", f"layer {l}")
    # loss
    out_layer = spec.layers[-1]
    K = out_layer.units
    scale = loss_scale(spec.loss, spec.reduction, N, K)
    A, Z, T = Ref(layer_name("A", last + 1)), Ref(layer_name("Z", last + 1)), Ref("T")
    r.eq("loss", _scaled(_loss_expr(spec.loss, A, Z, T), scale), result.loss, "loss", "loss")
    # backward
    for l in range(last + 1, 0, -1):
        layer, st = spec.layers[l - 1], result.layers[l - 1]
        A = Ref(layer_name("A", l))
        dA = layer_name("dL/dA", l)
        note = None
        if l == last + 1:
            expr = _scaled(_loss_grad_expr(spec.loss, A, T), scale)
            if spec.loss == "bce" and np.any(st.a * (1 - st.a) < 1e-12):
                note = "ŷ(1 − ŷ) clamped at 1e-12 where smaller (PyTorch's BCELoss)"
        else:
            above: Expr = Ref(layer_name("W", l + 1))
            expr = Bin("@", Ref(layer_name("delta", l + 1)), _c("transpose", above) if in_out[l] else above)
        r.eq(dA, expr, st.dL_da, "backward", f"layer {l}", note)
        name = layer_name("delta", l)
        if layer.activation.name == "softmax":
            if l == last + 1 and spec.loss == "cross_entropy":
                delta = _scaled(Bin("-", Bin("*", A, _c("rowsum", T)), T), scale)
            else:
                delta = Bin("*", A, Bin("-", Ref(dA), _c("rowsum", Bin("*", Ref(dA), A))))
        else:
            r.eq(f"dA({l})/dZ({l})", _derivative(layer, r, l), st.da_dz, "backward", f"layer {l}")
            delta = Bin("*", Ref(dA), Ref(f"dA({l})/dZ({l})"))
        r.eq(name, delta, st.delta, "backward", f"layer {l}")
        source = Ref(layer_name("A", l - 1))
        grad_expr = (Bin("@", _c("transpose", source), Ref(name)) if in_out[l - 1]
                     else Bin("@", _c("transpose", Ref(name)), source))
        r.eq(layer_name("dL/dW", l), grad_expr, written(layer, st.grad_w), "backward", f"layer {l}")
        if layer.bias_kind != "none":
            b_expr = _c("sum", Ref(name), Num("0")) if layer.bias_kind == "vector" else _c("sum", Ref(name))
            r.eq(layer_name("dL/db", l), b_expr, st.grad_b, "backward", f"layer {l}")
    # update
    _update(spec, result, step, previous_state, r)
    return tuple(r.out)


def _activation(layer, r: _Recorder, l: int) -> Expr:
    z = Ref(layer_name("Z", l))
    name = layer.activation.name
    if name == "identity":
        return z
    if name == "leaky_relu":
        r.given("slope", layer.activation.slope)
        return Bin("-", _c("relu", z), Bin("*", Ref("slope"), _c("relu", Neg(z))))
    return _c(name, z)


def _derivative(layer, r: _Recorder, l: int) -> Expr:
    """σ′ as the textbook writes it in terms of A or Z (PyTorch's kinks: relu′(0) = 0)."""
    a, z = Ref(layer_name("A", l)), Ref(layer_name("Z", l))
    name = layer.activation.name
    if name == "sigmoid":
        return Bin("*", a, Bin("-", Num("1"), a))
    if name == "tanh":
        return Bin("-", Num("1"), Bin("**", a, Num("2")))
    if name == "relu":
        return _c("step", z)
    if name == "leaky_relu":
        return Bin("+", _c("step", z), Bin("*", Ref("slope"), Bin("-", Num("1"), _c("step", z))))
    return Bin("+", Bin("*", Num("0"), z), Num("1"))  # identity: ones shaped like Z


def _scaled(expr: Expr, scale) -> Expr:
    return expr if float(scale) == 1 else Bin("/", expr, _num(scale))


def _loss_expr(loss: str, A: Expr, Z: Expr, T: Expr) -> Expr:
    if loss in ("mse", "sse"):
        return _c("sum", Bin("**", Bin("-", A, T), Num("2")))
    if loss == "half_sse":
        return Bin("*", Num("0.5"), _c("sum", Bin("**", Bin("-", A, T), Num("2"))))
    if loss == "bce":
        return Neg(_c("sum", Bin("+", Bin("*", T, _c("log", A)),
                                 Bin("*", Bin("-", Num("1"), T), _c("log", Bin("-", Num("1"), A))))))
    return Neg(_c("sum", Bin("*", T, _c("log_softmax", Z))))  # cross_entropy, on the logits


def _loss_grad_expr(loss: str, A: Expr, T: Expr) -> Expr:
    if loss in ("mse", "sse"):
        return Bin("*", Num("2"), Bin("-", A, T))
    if loss == "half_sse":
        return Bin("-", A, T)
    if loss == "bce":
        return Bin("/", Bin("-", A, T), Bin("*", A, Bin("-", Num("1"), A)))
    return Neg(Bin("/", T, A))  # cross_entropy: −t/ŷ (0 where t = 0)


def _update(spec, result, step: int, previous_state: dict, r: _Recorder) -> None:
    opt = spec.optimizer
    r.given("lr", opt.lr.value)
    wd = opt.weight_decay.value
    if wd:
        r.given("weight_decay", wd)
    for h in _HYPERPARAMETERS.get(opt.name, ()):
        value = getattr(opt, h).value
        if value or h in _ALWAYS_GIVEN:
            r.given(h, value)
    for l, layer in enumerate(spec.layers, start=1):
        W, b = result.params[l - 1]
        W_new, b_new = result.new_params[l - 1]
        for kind, p_new in (("w", W_new), ("b", b_new)):
            p = W if kind == "w" else b
            if p is None or ("weights" if kind == "w" else "bias") in layer.freeze:
                continue
            shown = (lambda a: written(layer, a)) if kind == "w" else (lambda a: a)  # noqa: E731
            base = "W" if kind == "w" else "b"
            p_name, g_name = layer_name(base, l), layer_name(f"dL/d{base}", l)
            g: Expr = Ref(g_name)
            if wd:
                g = Bin("+", g, Bin("*", Ref("weight_decay"), Ref(p_name)))
            state = _State(r, step, previous_state, result.state, (l - 1, kind), base, l, shown)
            if opt.name == "sgd":
                new = _sgd(opt, g, p_name, state)
            elif opt.name == "rmsprop":
                new = _rmsprop(opt, g, p_name, state)
            elif opt.name == "adagrad":
                new = _adagrad(opt, g, p_name, state, step)
            else:
                new = _adam(g, p_name, state, step)
            r.eq(f"{p_name}_new", new, shown(p_new), "update", f"layer {l}")


# the hyperparameters each optimizer's equations name (lr and weight_decay aside);
# ε always appears (its 0 would matter), the others only when they are not 0
_HYPERPARAMETERS = {"sgd": ("momentum",), "adam": ("beta1", "beta2", "eps"),
                    "rmsprop": ("alpha", "eps", "momentum"),
                    "adagrad": ("eps", "lr_decay", "initial_accumulator_value")}
_ALWAYS_GIVEN = ("alpha", "beta1", "beta2", "eps")


class _State:
    """One parameter's optimizer state in the engine's StepResult, as named equations:
    `<state>_W(l)` at this step and `<state>_W(l)@<step − 1>` for the previous one."""

    def __init__(self, r: _Recorder, step: int, previous: dict, now: dict, key: tuple, base: str, l: int,
                 shown) -> None:
        self.r, self.step, self.previous, self.now = r, step, previous, now
        self.key, self.base, self.l, self.shown = key, base, l, shown

    def name(self, state: str) -> str:
        return f"{state}_{self.base}({self.l})"

    def before(self, state: str) -> Optional[Expr]:
        """The previous step's buffer as an operand, or None on its first step."""
        prev = self.previous.get((state,) + self.key)
        if prev is None:
            return None
        name = f"{self.name(state)}@{self.step - 1}"
        self.r.given(name, self.shown(prev))
        return Ref(name)

    def emit(self, state: str, expr: Expr) -> Ref:
        name = self.name(state)
        self.r.eq(name, expr, self.shown(self.now[(state,) + self.key]), "update", f"layer {self.l}")
        return Ref(name)


def _decayed(rate: str, prev: Optional[Expr], fresh: Expr) -> Expr:
    """rate · prev + (1 − rate) · fresh, or (1 − rate) · fresh on the first step."""
    new = Bin("*", Bin("-", Num("1"), Ref(rate)), fresh)
    return new if prev is None else Bin("+", Bin("*", Ref(rate), prev), new)


def _sgd(opt, g: Expr, p_name: str, state: _State) -> Expr:
    step_expr: Expr = g
    if opt.momentum.value:
        prev = state.before("buf")
        buf = state.emit("buf", g if prev is None else Bin("+", Bin("*", Ref("momentum"), prev), g))
        step_expr = Bin("+", g, Bin("*", Ref("momentum"), buf)) if opt.nesterov else buf
    return Bin("-", Ref(p_name), Bin("*", Ref("lr"), step_expr))


def _adam(g: Expr, p_name: str, state: _State, step: int) -> Expr:
    terms = {}
    for s, beta, grad in (("m", "beta1", g), ("v", "beta2", Bin("**", g, Num("2")))):
        ref = state.emit(s, _decayed(beta, state.before(s), grad))
        terms[beta] = Bin("/", ref, Bin("-", Num("1"), Bin("**", Ref(beta), Num(str(step)))))
    return Bin("-", Ref(p_name), Bin("/", Bin("*", Ref("lr"), terms["beta1"]),
                                     Bin("+", _c("sqrt", terms["beta2"]), Ref("eps"))))


def _rmsprop(opt, g: Expr, p_name: str, state: _State) -> Expr:
    """torch.optim.RMSprop elementwise: s = ρ s + (1 − ρ) g² (ḡ likewise with g when
    centered), then g ÷ (√s + ε) or g ÷ (√(s − ḡ²) + ε), through the momentum buffer when
    there is one — the scalar derivation's equations (optim_equations.py) on whole arrays."""
    sq = state.emit("sq", _decayed("alpha", state.before("sq"), Bin("**", g, Num("2"))))
    spread: Expr = sq
    if opt.centered:
        gavg = state.emit("gavg", _decayed("alpha", state.before("gavg"), g))
        spread = Bin("-", sq, Bin("**", gavg, Num("2")))
    scaled = Bin("/", g, Bin("+", _c("sqrt", spread), Ref("eps")))
    if opt.momentum.value:
        prev = state.before("buf")
        buf = state.emit("buf", scaled if prev is None else Bin("+", Bin("*", Ref("momentum"), prev), scaled))
        return Bin("-", Ref(p_name), Bin("*", Ref("lr"), buf))
    return Bin("-", Ref(p_name), Bin("*", Ref("lr"), scaled))


def _adagrad(opt, g: Expr, p_name: str, state: _State, step: int) -> Expr:
    """torch.optim.Adagrad elementwise: G = G@(s−1) + g² (G₀ = initial_accumulator_value
    before step 1), then lr / (1 + (s − 1)·lr_decay) · g ÷ (√G + ε)."""
    g2 = Bin("**", g, Num("2"))
    prev = state.before("sum")
    if prev is not None:
        total = state.emit("sum", Bin("+", prev, g2))
    elif opt.initial_accumulator_value.value:
        total = state.emit("sum", Bin("+", Ref("initial_accumulator_value"), g2))
    else:
        total = state.emit("sum", g2)
    lr: Expr = Ref("lr")
    if step > 1 and opt.lr_decay.value:
        lr = Bin("/", lr, Bin("+", Num("1"), Bin("*", Num(str(step - 1)), Ref("lr_decay"))))
    return Bin("-", Ref(p_name), Bin("*", lr, Bin("/", g, Bin("+", _c("sqrt", total), Ref("eps")))))
