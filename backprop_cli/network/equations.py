"""The derivation as scalar equations, in the order a student writes it (SPEC §5).

`Derivation` walks one network step neuron by neuron and weight by weight, and for each
canonical quantity emits `name = expression` with its operands and value. Under a
hand-rounding or exact policy the value *is* computed here — the expression evaluated
on the (already rounded) operands — so every printed equation holds as printed. In
float64 a worked example is evaluated the same way (softmax and cross-entropy by their
shifted, PyTorch forms); beside the numpy engine (big or long solves) the values come
from the engine (`lookup`) and only the trivial local factors (∂z3/∂W5 = a1) are
evaluated here.

Forms follow the 2-2-1 BCE worked example (configs/bce_2_2_1.yaml): ∂L/∂W5 = ∂L/∂a3 × ∂a3/∂z3 × ∂z3/∂W5; a hidden neuron's ∂L/∂a
sums the chain over the next layer; W5_new = W5 − lr × ∂L/∂W5.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Optional

from ..calc import expr as E
from ..calc.conventions import BCE_EPS, loss_scale
from ..errors import ComputeError
from ..calc.expr import Expr, Num, Ref, evaluate, refs
from .names import NetworkNames, at
from .optim_equations import update_equations
from .spec import Spec
from ..trace import Equation


def softmax(z: list[float]) -> list[float]:
    """Shifted by the max, as PyTorch computes it: never overflows, never 0/0."""
    m = max(z)
    e = [math.exp(v - m) for v in z]
    total = sum(e)
    return [v / total for v in e]


def cross_entropy(z: list[float], t: list[float]) -> float:
    """One sample's −Σ t log softmax(z), in PyTorch's form (log-softmax shifted by the
    max), which keeps the digits a nearly-right prediction's small loss needs."""
    m = max(z)
    lse = math.log(sum(math.exp(v - m) for v in z))
    return -sum(tk * ((v - m) - lse) for v, tk in zip(z, t))


class Scope:
    """The environment an expression is evaluated in: the derivation's own values first."""

    def __init__(self, derivation: "Derivation") -> None:
        self.derivation = derivation

    def __getitem__(self, name: str) -> Any:
        return self.derivation._get(name)


class Derivation:
    """Emits equations into `equations` and values into `env` (canonical name → value)."""

    def __init__(self, spec: Spec, arith, lookup: Optional[Mapping[str, float]] = None) -> None:
        self.spec = spec
        self.names = NetworkNames.of(spec)
        self.arith = arith
        self.lookup = lookup
        self.env: dict[str, Any] = {}
        self.equations: list[Equation] = []
        self.evaluating = lookup is None
        self._givens()

    # -- bookkeeping -------------------------------------------------------------------

    def _given(self, name: str, text: str, value: float) -> None:
        self.env[name] = self.arith.given(text if self.arith.name == "exact" else value)

    def _givens(self) -> None:
        spec, names = self.spec, self.names
        for n in range(spec.samples):
            for i in range(spec.input.shape[1]):
                self._given(names.sample(f"x{i + 1}", n), spec.input_text[n][i], spec.input[n, i])
            for k in range(spec.outputs):
                self._given(names.sample(f"t{k + 1}", n), spec.target_text[n][k], spec.target[n, k])
        for l, layer in enumerate(spec.layers):
            for j in range(layer.units):
                for i in range(layer.fan_in):
                    self._given(names.weight(l, j, i), layer.weights_text[j][i], layer.weights[j, i])
            if layer.bias_kind == "vector":
                for j in range(layer.units):
                    self._given(names.bias(l, j), layer.bias_text[j], layer.bias[j])
            elif layer.bias_kind == "shared":
                self._given(names.bias(l, 0), layer.bias_text, layer.bias)
            if layer.activation.name == "leaky_relu":
                self._given("slope", layer.activation.slope_text, layer.activation.slope)
        for key, n in spec.optimizer.hyperparameters().items():
            self._given(key, n.text, n.value)

    def emit(self, name: str, expression: Expr, section: str, condition: Optional[str] = None,
             stable: Optional[Callable[[], float]] = None) -> None:
        """Record name = expression. Its value: the engine's (lookup mode); else, in
        float64, `stable()` where the printed form would overflow or lose digits
        (softmax, cross-entropy: PyTorch shifts by the max first); else the expression
        evaluated under the policy, on the operands as they were computed."""
        if not self.evaluating and name in self.lookup:
            value = self.lookup[name]
        elif stable is not None and self.arith.name == "float":
            value = stable()
        else:
            try:
                value = self.arith.finish(evaluate(expression, Scope(self), self.arith))
            except ComputeError as exc:
                raise ComputeError(f"{name} = {E.to_text(expression)}: {exc}") from None
        self.env[name] = value
        operands = tuple((n, self._get(n)) for n in refs(expression))
        self.equations.append(Equation(name, expression, operands, value, section, condition))

    def _get(self, name: str) -> Any:
        """A value from this derivation, else (float mode) from the engine's values —
        steps between recorded ones (a run of over 1000 steps) exist only there."""
        if name in self.env or self.lookup is None:
            return self.env[name]
        return self.lookup[name]

    def value(self, name: str) -> float:
        return self.arith.to_float(self._get(name))

    def copy_value(self, target: str, source: str) -> None:
        """A quantity that *is* another (W5@2 is W5_new of step 1): no equation."""
        if not self.evaluating and target in self.lookup:
            self.env[target] = self.lookup[target]
        else:
            self.env[target] = self._get(source)

    # -- one step ------------------------------------------------------------------------

    def step(self, s: int) -> None:
        """Forward, loss, backward and update for step s (parameters named at(·, s))."""
        if s > 1:
            for name in self._parameter_names():
                self.copy_value(at(name, s), at(f"{name}_new", s - 1))
        self.forward(s, section="forward")
        self.loss(s, at("loss", s), "loss")
        self.backward(s)
        self.update(s)

    def after(self, steps: int) -> None:
        """The forward pass with the final parameters, for loss_after."""
        s = steps + 1
        for name in self._parameter_names():
            self.copy_value(at(name, s), at(f"{name}_new", steps))
        self.forward(s, section="after")
        self.loss(s, "loss_after", "after")

    def _parameter_names(self) -> list[str]:
        return [name for l in range(len(self.spec.layers)) for name, _ in self.names.parameters(l)]

    # -- forward ---------------------------------------------------------------------------

    def _neuron(self, base: str, l: int, j: int, n: int, s: int) -> str:
        return at(self.names.sample(f"{base}{self.names.neuron(l, j)}", n), s)

    def _source(self, l: int, i: int, n: int, s: int) -> str:
        name = self.names.sample(self.names.source(l, i), n)
        return name if l == 0 else at(name, s)

    def forward(self, s: int, section: str) -> None:
        spec, names = self.spec, self.names
        for l, layer in enumerate(spec.layers):
            for n in range(spec.samples):
                for j in range(layer.units):
                    terms: list[Expr] = [
                        E.mul(Ref(at(names.weight(l, j, i), s)), Ref(self._source(l, i, n, s)))
                        for i in range(layer.fan_in)
                    ]
                    b = names.bias(l, j)
                    if b is not None:
                        terms.append(Ref(at(b, s)))
                    self.emit(self._neuron("z", l, j, n, s), E.add(*terms), section)
                for j in range(layer.units):
                    self._activation(l, j, n, s, section)

    def _activation(self, l: int, j: int, n: int, s: int, section: str) -> None:
        act = self.spec.layers[l].activation
        z = Ref(self._neuron("z", l, j, n, s))
        a_name = self._neuron("a", l, j, n, s)
        if act.name == "sigmoid":
            self.emit(a_name, E.div(Num("1"), E.add(Num("1"), E.call("exp", E.Neg(z)))), section)
        elif act.name == "tanh":
            self.emit(a_name, E.call("tanh", z), section)
        elif act.name == "identity":
            self.emit(a_name, z, section)
        elif act.name in ("relu", "leaky_relu"):
            positive = self.value(z.name) > 0
            cond = f"{z.name} > 0" if positive else f"{z.name} <= 0"
            if positive:
                self.emit(a_name, z, section, cond)
            elif act.name == "relu":
                self.emit(a_name, Num("0"), section, cond)
            else:
                self.emit(a_name, E.mul(Ref("slope"), z), section, cond)
        elif act.name == "softmax":
            units = self.spec.layers[l].units
            zs = [self._neuron("z", l, k, n, s) for k in range(units)]
            exps = [E.call("exp", Ref(z_k)) for z_k in zs]
            self.emit(a_name, E.div(exps[j], E.add(*exps)), section,
                      stable=lambda: softmax([self.value(z_k) for z_k in zs])[j])
        else:  # pragma: no cover - the spec reader admits no other names
            raise ValueError(act.name)

    # -- loss ------------------------------------------------------------------------------

    def _log(self, p: Expr, p_value: float, what: str) -> Expr:
        """log p, with torch's clamp at −100 written out where it is active."""
        if self.evaluating and self.arith.name == "round" and not 0 < p_value:
            raise ComputeError(
                f"{what} rounds to 0 where the loss takes its log: use more decimals with --round"
            )
        if p_value <= 0:
            return E.Neg(Num("100"))
        if math.log(p_value) < -100 and self.arith.name != "exact":
            return E.call("max", E.call("log", p), E.Neg(Num("100")))
        return E.call("log", p)

    def loss(self, s: int, name: str, section: str) -> None:
        spec = self.spec
        N, K = spec.samples, spec.outputs
        L = len(spec.layers) - 1
        terms: list[Expr] = []
        for n in range(N):
            t = [Ref(self.names.sample(f"t{k + 1}", n)) for k in range(K)]
            a = [Ref(self._neuron("a", L, k, n, s)) for k in range(K)]
            z = [Ref(self._neuron("z", L, k, n, s)) for k in range(K)]
            if spec.loss in ("mse", "sse", "half_sse"):
                terms.extend(E.power(E.sub(a[k], t[k]), Num("2")) for k in range(K))
            elif spec.loss == "bce":
                for k in range(K):
                    av = self.value(a[k].name)
                    log_a = self._log(a[k], av, a[k].name)
                    log_1a = self._log(E.sub(Num("1"), a[k]), 1.0 - av, f"1 - {a[k].name}")
                    terms.append(E.add(E.mul(t[k], log_a), E.mul(E.sub(Num("1"), t[k]), log_1a)))
            else:  # cross_entropy on the logits: log Σ exp z − Σ t z  (Σ t = 1)
                lse = E.call("log", E.add(*[E.call("exp", zk) for zk in z]))
                tsum = sum(self.value(tk.name) for tk in t)
                if abs(tsum - 1.0) > 1e-12:
                    lse = E.mul(lse, E.add(*t))
                terms.append(E.sub(lse, E.add(*[E.mul(t[k], z[k]) for k in range(K)])))
        total = E.add(*terms)
        if spec.loss == "bce":
            total = E.Neg(total)
        divisor = loss_scale(spec.loss, spec.reduction, N, K)
        if spec.loss == "half_sse":
            divisor *= 2
        if divisor != 1:
            total = E.div(total, Num(str(divisor)))
        stable = (lambda: self._cross_entropy(s) / divisor) if spec.loss == "cross_entropy" else None
        self.emit(name, total, section, stable=stable)

    def _cross_entropy(self, s: int) -> float:
        """Σ over samples of −Σ t log softmax(z), PyTorch's way (float64 only)."""
        L = len(self.spec.layers) - 1
        K = self.spec.outputs
        return sum(
            cross_entropy([self.value(self._neuron("z", L, k, n, s)) for k in range(K)],
                          [self.value(self.names.sample(f"t{k + 1}", n)) for k in range(K)])
            for n in range(self.spec.samples)
        )

    # -- backward --------------------------------------------------------------------------

    def _upstream(self, l: int, j: int, n: int, s: int) -> Expr:
        """∂L/∂z of a neuron as the chain a student writes: ∂L/∂a × ∂a/∂z (δ for softmax)."""
        if self.spec.layers[l].activation.name == "softmax":
            return Ref(self._neuron("delta", l, j, n, s))
        neuron = self.names.neuron(l, j)
        return E.mul(
            Ref(self._neuron("dL/da", l, j, n, s)),
            Ref(at(self.names.sample(f"da{neuron}/dz{neuron}", n), s)),
        )

    def _output_dL_da(self, s: int) -> None:
        spec = self.spec
        N, K = spec.samples, spec.outputs
        L = len(spec.layers) - 1
        scale = loss_scale(spec.loss, spec.reduction, N, K)
        for n in range(N):
            for k in range(K):
                a = Ref(self._neuron("a", L, k, n, s))
                t = Ref(self.names.sample(f"t{k + 1}", n))
                cond = None
                if spec.loss in ("mse", "sse"):
                    g: Expr = E.mul(Num("2"), E.sub(a, t))
                elif spec.loss == "half_sse":
                    g = E.sub(a, t)
                elif spec.loss == "bce":
                    av = self.value(a.name)
                    denominator: Expr = E.mul(a, E.sub(Num("1"), a))
                    if av * (1 - av) < BCE_EPS and self.arith.name == "float":
                        denominator = E.call("max", denominator, Num(repr(BCE_EPS)))
                    g = E.div(E.sub(a, t), denominator)
                else:
                    if self.value(t.name) == 0:
                        g, cond = Num("0"), f"{t.name} = 0"
                    else:
                        g = E.div(E.Neg(t), a)
                if scale != 1 and not (isinstance(g, Num) and g.text == "0"):
                    g = E.div(g, Num(str(scale)))
                self.emit(self._neuron("dL/da", L, k, n, s), g, "backward", cond)

    def _derivative(self, l: int, j: int, n: int, s: int) -> None:
        act = self.spec.layers[l].activation
        neuron = self.names.neuron(l, j)
        name = at(self.names.sample(f"da{neuron}/dz{neuron}", n), s)
        a = Ref(self._neuron("a", l, j, n, s))
        z_name = self._neuron("z", l, j, n, s)
        if act.name == "sigmoid":
            self.emit(name, E.mul(a, E.sub(Num("1"), a)), "backward")
        elif act.name == "tanh":
            self.emit(name, E.sub(Num("1"), E.power(a, Num("2"))), "backward")
        elif act.name == "identity":
            self.emit(name, Num("1"), "backward")
        else:
            positive = self.value(z_name) > 0
            cond = f"{z_name} > 0" if positive else f"{z_name} <= 0"
            slope = Num("0") if act.name == "relu" else Ref("slope")
            self.emit(name, Num("1") if positive else slope, "backward", cond)

    def _delta(self, l: int, j: int, n: int, s: int) -> None:
        spec = self.spec
        act = spec.layers[l].activation.name
        name = self._neuron("delta", l, j, n, s)
        if act != "softmax":
            self.emit(name, self._upstream(l, j, n, s), "backward")
            return
        K = spec.layers[l].units
        a = [Ref(self._neuron("a", l, k, n, s)) for k in range(K)]
        if spec.loss == "cross_entropy":
            t = [Ref(self.names.sample(f"t{k + 1}", n)) for k in range(K)]
            tsum = sum(self.value(tk.name) for tk in t)
            d: Expr = E.sub(a[j], t[j]) if abs(tsum - 1) <= 1e-12 else E.sub(E.mul(a[j], E.add(*t)), t[j])
            scale = loss_scale(spec.loss, spec.reduction, spec.samples, K)
            if scale != 1:
                d = E.div(d, Num(str(scale)))
        else:
            g = [Ref(self._neuron("dL/da", l, k, n, s)) for k in range(K)]
            d = E.mul(a[j], E.sub(g[j], E.add(*[E.mul(g[k], a[k]) for k in range(K)])))
        self.emit(name, d, "backward")

    def backward(self, s: int) -> None:
        spec, names = self.spec, self.names
        N = spec.samples
        L = len(spec.layers) - 1
        for l in range(L, -1, -1):
            layer = spec.layers[l]
            if l == L:
                self._output_dL_da(s)
            else:
                nxt = spec.layers[l + 1]
                for j in range(layer.units):  # ∂z_next/∂a_j = the weight between them
                    for k in range(nxt.units):
                        self.emit(
                            at(f"dz{names.neuron(l + 1, k)}/da{names.neuron(l, j)}", s),
                            Ref(at(names.weight(l + 1, k, j), s)), "backward",
                        )
                for n in range(N):
                    for j in range(layer.units):
                        terms = [
                            E.mul(self._upstream(l + 1, k, n, s),
                                  Ref(at(f"dz{names.neuron(l + 1, k)}/da{names.neuron(l, j)}", s)))
                            for k in range(nxt.units)
                        ]
                        self.emit(self._neuron("dL/da", l, j, n, s), E.add(*terms), "backward")
            for n in range(N):
                for j in range(layer.units):
                    if layer.activation.name != "softmax":
                        self._derivative(l, j, n, s)
                for j in range(layer.units):
                    self._delta(l, j, n, s)
            self._gradients(l, s)

    def _gradients(self, l: int, s: int) -> None:
        spec, names = self.spec, self.names
        layer = spec.layers[l]
        N = spec.samples
        for j in range(layer.units):
            neuron = names.neuron(l, j)
            for i in range(layer.fan_in):
                w = names.weight(l, j, i)
                terms = []
                for n in range(N):
                    factor = at(names.sample(f"dz{neuron}/d{w}", n), s)
                    self.emit(factor, Ref(self._source(l, i, n, s)), "backward")
                    terms.append(E.mul(self._upstream(l, j, n, s), Ref(factor)))
                self.emit(at(f"dL/d{w}", s), E.add(*terms), "backward")
            b = names.bias(l, j)
            if b is not None and layer.bias_kind == "vector":
                factor = at(f"dz{neuron}/d{b}", s)
                self.emit(factor, Num("1"), "backward")
                terms = [E.mul(self._upstream(l, j, n, s), Ref(factor)) for n in range(N)]
                self.emit(at(f"dL/d{b}", s), E.add(*terms), "backward")
        if layer.bias_kind == "shared":
            b = names.bias(l, 0)
            terms = [Ref(self._neuron("delta", l, j, n, s)) for j in range(layer.units) for n in range(N)]
            self.emit(at(f"dL/d{b}", s), E.add(*terms), "backward")

    # -- update ----------------------------------------------------------------------------

    def update(self, s: int) -> None:
        """Each parameter's optimizer update (optim_equations.py); frozen ones stay."""
        spec, names = self.spec, self.names
        for l, layer in enumerate(spec.layers):
            for name, index in names.parameters(l):
                p = Ref(at(name, s))
                if ("weights" if index[0] == "w" else "bias") in layer.freeze:
                    self.emit(at(f"{name}_new", s), p, "update", "frozen")
                    continue
                update_equations(spec.optimizer, name, s, p, Ref(at(f"dL/d{name}", s)),
                                 lambda n, e: self.emit(n, e, "update"), self.value, self._divisor_survives_rounding)

    def _divisor_survives_rounding(self, what: str, value: float, g: Expr) -> None:
        """Under --round, a second moment that rounds to 0 (or below) would put √0 + ε
        under a gradient — a step of 1e8·g that no hand calculation means (SPEC §7: exit 2
        suggesting more decimals, as for a probability that rounds to 0)."""
        if not (self.evaluating and self.arith.name == "round" and value <= 0):
            return
        if self.arith.to_float(evaluate(g, Scope(self), self.arith)) != 0:  # 0/(0 + ε) = 0 is fine
            raise ComputeError(
                f"{what} rounds to {'0' if value == 0 else 'a negative number'} where the update divides by "
                "its square root: use more decimals with --round"
            )
