"""One parameter's optimizer update as the equations a student writes (SPEC §2, §5).

Shared by the network derivation (equations.py) and gradient descent on a graph
(graph/minimize.py): the same PyTorch rules, one equation per state, whatever the
parameter is called. `name` is the parameter's canonical name without a step (W5, w),
`p` and `g` the expressions of its value and its loss gradient at step s; state names
are `<state>_<name>` at step s (buf_W5@2, sq_w), the result `<name>_new` at step s.

`emit(name, expr)` records and evaluates an equation; `value(name)` reads a value
already computed; `guard(what, value, g)` may refuse a divisor that hand rounding
turned into 0 (None: no guard).
"""
from __future__ import annotations

from typing import Callable, Optional

from ..calc import expr as E
from ..calc.expr import Expr, Num, Ref
from .names import at

Emit = Callable[[str, Expr], None]
Guard = Optional[Callable[[str, float, Expr], None]]


def update_equations(opt, name: str, s: int, p: Expr, g: Expr, emit: Emit,
                     value: Callable[[str], float], guard: Guard = None) -> None:
    """Emit the state updates and `<name>_new` of step s for one trainable parameter."""
    new = at(f"{name}_new", s)
    if opt.weight_decay.value:
        g = E.add(g, E.mul(Ref("weight_decay"), p))
    if opt.name == "sgd":
        if opt.momentum.value:
            buf = at(f"buf_{name}", s)
            prev = E.mul(Ref("momentum"), Ref(at(f"buf_{name}", s - 1)))
            emit(buf, g if s == 1 else E.add(prev, g))
            g = E.add(g, E.mul(Ref("momentum"), Ref(buf))) if opt.nesterov else Ref(buf)
        emit(new, E.sub(p, E.mul(Ref("lr"), g)))
    elif opt.name == "rmsprop":
        _rmsprop(opt, name, s, p, g, new, emit, value, guard)
    elif opt.name == "adagrad":
        _adagrad(opt, name, s, p, g, new, emit, value, guard)
    else:
        _adam(name, s, p, g, new, emit)


def _adam(name: str, s: int, p: Expr, g: Expr, new: str, emit: Emit) -> None:
    m, v = at(f"m_{name}", s), at(f"v_{name}", s)
    one_minus_b1 = E.sub(Num("1"), Ref("beta1"))
    one_minus_b2 = E.sub(Num("1"), Ref("beta2"))
    m_expr = E.mul(one_minus_b1, g)
    v_expr = E.mul(one_minus_b2, E.power(g, Num("2")))
    if s > 1:
        m_expr = E.add(E.mul(Ref("beta1"), Ref(at(f"m_{name}", s - 1))), m_expr)
        v_expr = E.add(E.mul(Ref("beta2"), Ref(at(f"v_{name}", s - 1))), v_expr)
    emit(m, m_expr)
    emit(v, v_expr)
    m_hat = E.div(Ref(m), E.sub(Num("1"), E.power(Ref("beta1"), Num(str(s)))))
    v_hat = E.div(Ref(v), E.sub(Num("1"), E.power(Ref("beta2"), Num(str(s)))))
    step = E.div(m_hat, E.add(E.call("sqrt", v_hat), Ref("eps")))
    emit(new, E.sub(p, E.mul(Ref("lr"), step)))


def _rmsprop(opt, name: str, s: int, p: Expr, g: Expr, new: str, emit: Emit, value, guard: Guard) -> None:
    """torch.optim.RMSprop, one equation per state: sq (the running mean of g²), gavg
    (centered: the running mean of g), buf (momentum), then the parameter. ε is added
    outside the square root, as PyTorch does."""
    alpha, one_minus_alpha = Ref("alpha"), E.sub(Num("1"), Ref("alpha"))
    sq = at(f"sq_{name}", s)
    sq_expr: Expr = E.mul(one_minus_alpha, E.power(g, Num("2")))
    if s > 1:
        sq_expr = E.add(E.mul(alpha, Ref(at(f"sq_{name}", s - 1))), sq_expr)
    emit(sq, sq_expr)
    spread: Expr = Ref(sq)
    if opt.centered:
        gavg = at(f"gavg_{name}", s)
        gavg_expr: Expr = E.mul(one_minus_alpha, g)
        if s > 1:
            gavg_expr = E.add(E.mul(alpha, Ref(at(f"gavg_{name}", s - 1))), gavg_expr)
        emit(gavg, gavg_expr)
        spread = E.sub(Ref(sq), E.power(Ref(gavg), Num("2")))
        if guard:
            guard(f"{sq} − {gavg}²", value(sq) - value(gavg) ** 2, g)
    elif guard:
        guard(sq, value(sq), g)
    scaled = E.div(g, E.add(E.call("sqrt", spread), Ref("eps")))
    if opt.momentum.value:
        buf = at(f"buf_{name}", s)
        emit(buf, scaled if s == 1 else E.add(E.mul(Ref("momentum"), Ref(at(f"buf_{name}", s - 1))), scaled))
        emit(new, E.sub(p, E.mul(Ref("lr"), Ref(buf))))
    else:
        emit(new, E.sub(p, E.mul(Ref("lr"), scaled)))


def _adagrad(opt, name: str, s: int, p: Expr, g: Expr, new: str, emit: Emit, value, guard: Guard) -> None:
    """torch.optim.Adagrad: sum accumulates g² from initial_accumulator_value; the
    step size decays as lr / (1 + (t − 1)·lr_decay); ε outside the square root."""
    total = at(f"sum_{name}", s)
    g2 = E.power(g, Num("2"))
    if s > 1:
        emit(total, E.add(Ref(at(f"sum_{name}", s - 1)), g2))
    elif opt.initial_accumulator_value.value:
        emit(total, E.add(Ref("initial_accumulator_value"), g2))
    else:
        emit(total, g2)
    if guard:
        guard(total, value(total), g)
    lr: Expr = Ref("lr")
    if s > 1 and opt.lr_decay.value:
        lr = E.div(lr, E.add(Num("1"), E.mul(Num(str(s - 1)), Ref("lr_decay"))))
    emit(new, E.sub(p, E.mul(lr, E.div(g, E.add(E.call("sqrt", Ref(total)), Ref("eps"))))))
