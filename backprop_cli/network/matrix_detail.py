"""Layer-level equations of one network step in matrix form (SPEC §5 matrix detail).

Batches and big layers are derived a layer at a time, as lectures write them:

    Z(l)      = A(l-1) @ transpose(W(l)) + b(l)           (N×in)(in×out) + (out,) → (N×out)
    A(l)      = σ(Z(l))
    delta(L)  = dL/dA(L) ⊙ dA(L)/dZ(L)        (softmax + cross-entropy: (A ⊙ rowsum(T) − T)/N)
    dL/dA(l)  = delta(l+1) @ W(l+1)
    delta(l)  = dL/dA(l) ⊙ dA(l)/dZ(l)
    dL/dW(l)  = transpose(delta(l)) @ A(l-1),   dL/db(l) = sum(delta(l), 0)
    buf_W(l)  = momentum · buf_W(l)@(s−1) + g;  m_W(l), v_W(l) for Adam;  W(l)_new = …

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


def matrix_equations(spec, result, step: int, previous_state: dict) -> tuple[TensorEquation, ...]:
    """The matrix-form derivation of step `step` from the engine's StepResult."""
    r = _Recorder()
    N = spec.samples
    r.given("X", spec.input)
    r.given("T", spec.target)
    last = len(spec.layers) - 1
    # forward
    for l, (layer, st) in enumerate(zip(spec.layers, result.layers), start=1):
        W, b = result.params[l - 1]
        r.given(layer_name("W", l), W)
        z_expr: Expr = Bin("@", Ref(layer_name("A", l - 1)), _c("transpose", Ref(layer_name("W", l))))
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
            expr = Bin("@", Ref(layer_name("delta", l + 1)), Ref(layer_name("W", l + 1)))
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
        r.eq(layer_name("dL/dW", l), Bin("@", _c("transpose", Ref(name)), Ref(layer_name("A", l - 1))),
             st.grad_w, "backward", f"layer {l}")
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
    for l, layer in enumerate(spec.layers, start=1):
        W, b = result.params[l - 1]
        W_new, b_new = result.new_params[l - 1]
        for kind, p, p_new in (("w", W, W_new), ("b", b, b_new)):
            if p is None or ("weights" if kind == "w" else "bias") in layer.freeze:
                continue
            base = "W" if kind == "w" else "b"
            p_name, g_name = layer_name(base, l), layer_name(f"dL/d{base}", l)
            g: Expr = Ref(g_name)
            if wd:
                g = Bin("+", g, Bin("*", Ref("weight_decay"), Ref(p_name)))
            state_key = lambda s: (s, l - 1, kind)  # noqa: E731
            if opt.name == "sgd":
                mu = opt.momentum.value
                step_expr: Expr = g
                if mu:
                    r.given("momentum", mu)
                    buf = f"buf_{base}({l})"
                    prev = previous_state.get(state_key("buf"))
                    if prev is None:
                        expr = g
                    else:
                        r.given(f"{buf}@{step - 1}", prev)
                        expr = Bin("+", Bin("*", Ref("momentum"), Ref(f"{buf}@{step - 1}")), g)
                    r.eq(buf, expr, result.state[state_key("buf")], "update", f"layer {l}")
                    step_expr = Bin("+", g, Bin("*", Ref("momentum"), Ref(buf))) if opt.nesterov else Ref(buf)
                new = Bin("-", Ref(p_name), Bin("*", Ref("lr"), step_expr))
            elif opt.name != "adam":
                # RMSprop/Adagrad: their state equations are written by the scalar
                # derivation (network/optim_equations.py) but not yet in matrix form
                continue
            else:
                for h in ("beta1", "beta2", "eps"):
                    r.given(h, getattr(opt, h).value)
                m, v = f"m_{base}({l})", f"v_{base}({l})"
                terms = {}
                for name, beta, grad in ((m, "beta1", g), (v, "beta2", Bin("**", g, Num("2")))):
                    key = state_key(name[0])
                    fresh = Bin("*", Bin("-", Num("1"), Ref(beta)), grad)
                    prev = previous_state.get(key)
                    if prev is None:
                        expr = fresh
                    else:
                        r.given(f"{name}@{step - 1}", prev)
                        expr = Bin("+", Bin("*", Ref(beta), Ref(f"{name}@{step - 1}")), fresh)
                    r.eq(name, expr, result.state[key], "update", f"layer {l}")
                    terms[beta] = Bin("/", Ref(name), Bin("-", Num("1"), Bin("**", Ref(beta), Num(str(step)))))
                new = Bin("-", Ref(p_name), Bin("/", Bin("*", Ref("lr"), terms["beta1"]),
                                                Bin("+", _c("sqrt", terms["beta2"]), Ref("eps"))))
            r.eq(f"{p_name}_new", new, p_new, "update", f"layer {l}")

