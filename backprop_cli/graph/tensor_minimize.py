"""Gradient descent on a tensor graph: `minimize: f` where f = sum((X @ w - y) ** 2) / n.

The same contract as the scalar descent (graph/minimize.py, docs/layers.md): each step
is the tensor graph's own derivation (the tape of graph/tensor_solve.py: forward, then
∂f/∂node for every node) at the current parameters, with every name step-qualified
(`r@2`, `df/dw@2`, elements `df/dw[2]@2`; bare for step 1), then the optimizer update
of each `wrt` leaf in matrix form, written by the equations the networks use
(network/optim_equations.py) — w_new = w − lr·∂f/∂w, buf_w = μ·buf_w + ∂f/∂w, … —
with one element record per element when the tensor is small (the tape's rule).

Numbers: under float64 the updated parameters and optimizer states are those of
network/engine.py's `optimizer_step` (PyTorch's semantics, the networks' code; the
update equations are only written and checked against them); under `--round D` /
`--exact` every element equation is evaluated by the number policy and rounded, so a
hand-worked step stays arithmetically true as printed. Adam is refused under --round,
as for networks.

Names inside one update tape carry their step (`w@2`, `buf_w`, `w_new@2`); the tape
spells their elements `w_new@2[1]`, which `_element_at` turns into the canonical
`w_new[1]@2`.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..calc.expr import Expr, Ref, rename
from ..errors import ComputeError, SpecError
from ..frozen import replace
from ..network.engine import optimizer_step
from ..network.names import at
from ..network.optim_equations import update_equations
from ..tensor.names import element_name, elements
from ..tensor.shapes import ShapeError
from ..tensor.tape import Tape, TensorEquation, as_array, gradient_name
from ..trace import Equation, TensorGraphTrace, TensorStep

_STEP_ELEMENT = re.compile(r"^(?P<base>.*)@(?P<step>[0-9]+)(?P<index>\[[0-9,]+\])$")


class DescentTape(Tape):
    """A tape that also takes tensors computed earlier in the run (an updated parameter,
    a gradient): their floats and, under --round/--exact, the policy's own values, so
    a rounded w_new of step 1 is exactly the w of step 2."""

    def carried(self, name: str, floats, policy_values=None) -> None:
        array = as_array(floats)
        self.values[name] = array
        self.order.append(name)
        if self.exact_policy:
            for index, v in zip(np.ndindex(array.shape), policy_values):
                self.policy[element_name(name, index)] = v

    def policy_values(self, name: str) -> list | None:
        """Row-major policy values of a tensor on this tape (None under float64)."""
        if not self.exact_policy:
            return None
        return [self.policy[element_name(name, index)] for index in np.ndindex(self.values[name].shape)]


def _element_at(name: str) -> str:
    """w_new@2[1] (the tape's spelling) → w_new[1]@2 (the canonical one)."""
    m = _STEP_ELEMENT.match(name)
    return f"{m['base']}{m['index']}@{m['step']}" if m else name


def _renamed(eq: TensorEquation, name) -> TensorEquation:
    """A tape equation under other names: `name` maps tensor names, element names too."""
    elements_ = tuple(
        Equation(name(el.name), rename(el.expr, name), tuple((name(n), v) for n, v in el.operands), el.value,
                 el.section, el.condition)
        for el in eq.elements
    )
    return replace(eq, name=name(eq.name), expr=rename(eq.expr, name),
                   operands=tuple((name(n), v) for n, v in eq.operands), elements=elements_)


def _qualifier(s: int, keep: frozenset = frozenset()):
    """Names of step s's own tape → step-qualified names (W[1,2] → W[1,2]@2)."""
    return lambda n: n if n in keep else at(n, s)


class _Run:
    """The descent: one tape per step's derivation, one tape for every update."""

    def __init__(self, spec, arith) -> None:
        self.spec = spec
        self.arith = arith
        self.policy = getattr(arith, "name", "float")
        self.exact = self.policy == "exact"
        self.updates = DescentTape(arith)
        self.state: dict = {}  # optimizer_step's state (float64 engine)
        opt = spec.optimizer
        for key, n in opt.hyperparameters().items():
            self.updates.leaf(key, n.value, given=[n.text] if self.exact else None)

    def derivation(self, params: dict | None, sections=("forward", "backward")) -> DescentTape:
        """The graph's tape at the given parameters ({name: (floats, policy values)})."""
        tape = DescentTape(self.arith)
        for node in self.spec.nodes:
            if params is not None and node.name in params:
                tape.carried(node.name, *params[node.name])
            elif node.is_tensor_leaf:
                tape.leaf(node.name, np.array(node.values, dtype=float).reshape(node.shape),
                          given=node.texts if self.exact else None)
            elif node.is_leaf:
                tape.leaf(node.name, node.given.value, given=[node.given.fraction()] if self.exact else None)
            else:
                tape.node(node.name, node.expr)
        if "backward" in sections:
            tape.backward(self.spec.output)
        return tape

    def update(self, tape: DescentTape, s: int) -> tuple[dict, list[TensorEquation]]:
        """Every wrt leaf's update at step s: equations on the update tape, values from
        the engine (float64) or the policy. Returns {p: (floats, policy values)}."""
        spec, u, f = self.spec, self.updates, self.spec.output
        start = len(u.equations)
        new_state: dict = {}
        engine: dict[str, Any] = {}
        for p in spec.wrt:
            g_name = gradient_name(f, p)
            u.carried(at(p, s), tape.values[p], tape.policy_values(p))
            u.carried(at(g_name, s), tape.values[g_name], tape.policy_values(g_name))
            if self.policy == "float":
                with np.errstate(all="ignore"):
                    new = optimizer_step(spec.optimizer, np.asarray(tape.values[p]), np.asarray(tape.values[g_name]),
                                         self.state, new_state, (p,), s)
                engine[at(f"{p}_new", s)] = np.asarray(new, dtype=float)
                for (prefix, q), value in new_state.items():
                    if q == p:
                        engine[at(f"{prefix}_{p}", s)] = np.asarray(value, dtype=float)
            update_equations(spec.optimizer, p, s, Ref(at(p, s)), Ref(at(g_name, s)),
                             lambda n, e, p=p: self.emit(n, e, p, engine),
                             lambda n: u.values[n], self.guard)
        self.state = new_state
        params = {p: (u.values[at(f"{p}_new", s)], u.policy_values(at(f"{p}_new", s))) for p in spec.wrt}
        return params, [_renamed(eq, _element_at) for eq in u.equations[start:]]

    def emit(self, name: str, e: Expr, p: str, engine: dict) -> None:
        u = self.updates
        try:
            eq = u.record(name, e, "update", p)
        except ComputeError as exc:
            raise ComputeError(f"{exc} (the {self.spec.optimizer.name} update of {p}; try a smaller lr)") from None
        if name in engine:  # float64: the engine's numbers (PyTorch's), the expression written beside them
            value = engine[name]
            if not np.all(np.isfinite(value)):
                raise ComputeError(f"{name} is not a finite number: the {self.spec.optimizer.name} update "
                                   "diverged (try a smaller lr)")
            u.values[name] = value
            u.equations[-1] = replace(eq, value=value, elements=tuple(
                replace(el, value=float(value[index]) + 0.0)
                for el, index in zip(eq.elements, np.ndindex(value.shape))))

    def guard(self, what: str, value, g: Expr) -> None:
        """As for networks: under --round a second moment rounded to 0 (or below) where the
        gradient is not 0 is refused — the update would divide by it."""
        if self.policy != "round":
            return
        gradient = self.updates.evaluate(g, {})
        if np.any((np.asarray(value) <= 0) & np.broadcast_to(gradient != 0, np.shape(value))):
            raise ComputeError(f"{_element_at(what)} rounds to 0 where the update divides by its square root: "
                               "use more decimals with --round")


def solve_tensor_minimize(spec, arith) -> TensorGraphTrace:
    """`steps` steps of the optimizer on the wrt leaves of a tensor graph, each derived."""
    policy = getattr(arith, "name", "float")
    run = _Run(spec, arith)
    f = spec.output
    names = [n.name for n in spec.nodes]
    params: dict | None = None
    steps: list[TensorStep] = []
    losses: list[float] = []
    equations: list[TensorEquation] = []
    exact: dict = {}  # --exact: every policy value under its canonical element name
    s = 1
    try:
        for s in range(1, spec.steps + 1):
            tape = run.derivation(params)
            mine = [_renamed(eq, _qualifier(s)) for eq in tape.equations]
            params, updates = run.update(tape, s)
            losses.append(float(tape.values[f]) + 0.0)
            steps.append(TensorStep(
                step=s, values={n: tape.values[n] for n in names},
                gradients={n: tape.values[gradient_name(f, n)] for n in names},
                updates={p: params[p][0] for p in spec.wrt}, equations=tuple(mine + updates),
            ))
            equations += mine + updates
            if run.exact:
                exact.update((at(k, s), v) for k, v in tape.policy.items())
        after = s = spec.steps + 1
        tape = run.derivation(params, sections=("forward",))
        tape.record("loss_after", Ref(f), "after", f)
        after_equations = [_renamed(eq, _qualifier(after, frozenset({"loss_after"}))) for eq in tape.equations]
        losses.append(float(tape.values[f]) + 0.0)
        after_values = {n: tape.values[n] for n in names}
        if run.exact:
            exact.update((k if k == "loss_after" else at(k, after), v) for k, v in tape.policy.items())
            exact.update((_element_at(k), v) for k, v in run.updates.policy.items())
    except ShapeError as error:
        raise SpecError(str(error), file=spec.file) from None
    except ComputeError as exc:  # the step, and the node's line and column
        where = next(({"line": n.line, "column": n.column} for n in spec.nodes
                      if exc.message.startswith((f"node {n.name}:", f"node {n.name},"))), {})
        step = "after the last step" if s > spec.steps else f"step {s}"
        raise ComputeError(f"{step}: {exc.message}", line=exc.line, column=exc.column).located(
            file=spec.file, **where) from None

    named: dict[str, float] = {}
    for record in steps:
        s = record.step
        for n in names:
            named.update((at(k, s), v) for k, v in elements(n, record.values[n]))
        for n in names:
            named.update((at(k, s), v) for k, v in elements(gradient_name(f, n), record.gradients[n]))
        for eq in record.equations:
            if eq.section == "update":
                base, _, step = eq.name.partition("@")
                named.update((at(k, s), v) for k, v in elements(base, eq.value))
    for n in names:
        named.update((at(k, after), v) for k, v in elements(n, after_values[n]))
    for s, loss in enumerate(losses[:-1], 1):
        named[at("loss", s)] = loss
        named[f"loss_after@{s}"] = losses[s]
    named["loss_after"] = losses[-1]
    for key, n in spec.optimizer.hyperparameters().items():
        named[key] = float(run.updates.values[key])
    named = {k: float(v) + 0.0 for k, v in named.items()}
    first = steps[0]
    return TensorGraphTrace(
        name=spec.name, spec=spec, outputs=(f,), values=dict(first.values), gradients={f: dict(first.gradients)},
        named=named, equations=tuple(equations + after_equations), policy=policy,
        digits=getattr(arith, "digits", None), exact=exact, steps=tuple(steps), losses=tuple(losses),
        after_equations=tuple(after_equations),
    )
