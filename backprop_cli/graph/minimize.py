"""Gradient descent on a graph (`minimize: f`): "run SGD on f(w) for three steps".

Each step is the graph's own derivation (graph.GraphSolver: forward, local gradients,
backward) at the current leaf values, with every name step-qualified as for networks
(`q@2`, `df/dw@2`, `dq/dx.local@2`; bare for step 1), followed by the optimizer update
of each parameter — the `wrt` leaves (default: every leaf) — written by the equations
the networks use (optim_equations.py): `w_new@s`, `buf_w@s`, `m_w@s`, `sq_w@s`, … .
After the last step the forward pass runs once more for `loss_after`. `loss@s` is the
minimized node's value at step s.

Nothing here is numeric beyond what the number policy evaluates, so `--round D` and
`--exact` hold for every step as for a single graph solve.
"""
from __future__ import annotations

from typing import Any

from ..calc import expr as E
from ..calc.arithmetic import FloatArithmetic
from ..calc.expr import Expr, Ref, evaluate, rename
from ..errors import BackpropError, ComputeError, SpecError
from ..network.names import at
from ..network.optim_equations import update_equations
from ..trace import Equation, GraphStep, GraphTrace, LocalGradient
from .solve import GraphSolver, GraphSpec, gradient_name, local_name, solve_graph

STATE_PREFIXES = ("buf", "m", "v", "sq", "gavg", "sum")


def reserved_names(spec: GraphSpec) -> dict[str, str]:
    """Names the descent adds (hyperparameters, states, updated values, losses) → what
    they are; a node may not take one, or its name would mean two things."""
    opt = spec.optimizer
    out = {key: "a hyperparameter of the optimizer" for key in opt.hyperparameters()}
    out.update({key: "a hyperparameter of the optimizer" for key in ("lr", "momentum", "weight_decay", "eps")})
    for p in spec.wrt:
        out[f"{p}_new"] = f"the updated value of {p}"
        for prefix in STATE_PREFIXES:
            out[f"{prefix}_{p}"] = f"optimizer state of {p}"
    out["loss_after"] = "the minimized value after the last step"
    if spec.minimize != "loss":
        out["loss"] = f"the minimized value ({spec.minimize}) at each step"
    return out


def check_names(spec: GraphSpec) -> None:
    reserved = reserved_names(spec)
    for node in spec.nodes:
        if node.name in reserved:
            raise SpecError(
                f"{node.name!r} cannot be a node name with minimize: it is {reserved[node.name]}",
                file=spec.file, path=f"graph.{node.name}", line=node.line, hint=f"rename it, e.g. {node.name}_1",
            )


def _qualified(eq: Equation, s: int) -> Equation:
    q = lambda n: at(n, s)  # noqa: E731
    return Equation(q(eq.name), rename(eq.expr, q), tuple((q(n), v) for n, v in eq.operands), eq.value,
                    eq.section, eq.condition)


class _Descent:
    """The run: the environment of every step's qualified values and the equations."""

    def __init__(self, spec: GraphSpec, arith) -> None:
        self.spec = spec
        self.arith = arith
        self.env: dict[str, Any] = {}
        self.equations: list[Equation] = []
        for key, n in spec.optimizer.hyperparameters().items():
            self.env[key] = arith.given(n.text if arith.name == "exact" else n.value)

    def derivation(self, leaves: dict | None, s: int, sections=("forward", "local", "backward")) -> GraphSolver:
        solver = GraphSolver(self.spec, self.arith)
        solver.forward(leaves)
        if "local" in sections:
            path = solver.on_path()
            solver.local_gradients(path)
            solver.backward(path)
        for name, value in solver.env.items():
            self.env[at(name, s)] = value
        return solver

    def emit(self, name: str, e: Expr, section: str, condition: str | None = None) -> None:
        try:
            value = self.arith.finish(evaluate(e, self.env, self.arith))
        except ComputeError as exc:
            raise ComputeError(f"{name} = {E.to_text(e)}: {exc}") from None
        f = self.arith.to_float(value)
        if f != f or f in (float("inf"), float("-inf")):
            raise ComputeError(f"{name} is not a finite number: the {self.spec.optimizer.name} update diverged "
                               "(try a smaller lr)")
        self.env[name] = value
        self.equations.append(Equation(name, e, tuple((n, self.env[n]) for n in E.refs(e)), value, section, condition))

    def guard(self, what: str, value: float, g: Expr) -> None:
        """As for networks: under --round a second moment rounded to 0 is refused."""
        if self.arith.name == "round" and value <= 0 and self.arith.to_float(evaluate(g, self.env, self.arith)) != 0:
            raise ComputeError(f"{what} rounds to {'0' if value == 0 else 'a negative number'} where the update "
                               "divides by its square root: use more decimals with --round")


def solve_minimize(spec: GraphSpec, arith) -> GraphTrace:
    """`steps` steps of the optimizer on the wrt leaves, each fully derived."""
    if getattr(arith, "name", "float") == "round" and spec.optimizer.name == "adam":  # SPEC §7, as for networks
        raise BackpropError("--round is not available with adam: its square roots and bias corrections are not "
                            "hand arithmetic (drop --round, or use sgd)")
    if spec.tensor:  # vectors and matrices: the tensor tape (imported here: scalar graphs never load numpy)
        from .tensor_minimize import solve_tensor_minimize

        return solve_tensor_minimize(spec, arith)
    run = _Descent(spec, arith)
    f = spec.output
    leaves: dict | None = None
    steps: list[GraphStep] = []
    losses: list[float] = []
    to_float = lambda v: float(arith.to_float(v)) + 0.0  # noqa: E731  (no -0.0 in JSON)
    try:
        for s in range(1, spec.steps + 1):
            start = len(run.equations)
            solver = run.derivation(leaves, s)
            run.equations += [_qualified(eq, s) for eq in solver.equations]
            for p in spec.wrt:
                update_equations(spec.optimizer, p, s, Ref(at(p, s)), Ref(at(gradient_name(f, p), s)),
                                 lambda n, e: run.emit(n, e, "update"), lambda n: arith.to_float(run.env[n]),
                                 run.guard)
            leaves = {p: run.env[at(f"{p}_new", s)] for p in spec.wrt}
            losses.append(to_float(solver.env[f]))
            steps.append(GraphStep(
                step=s,
                values={n.name: to_float(solver.env[n.name]) for n in spec.nodes},
                gradients={n.name: to_float(solver.env[gradient_name(f, n.name)]) for n in spec.nodes},
                local_gradients=tuple(
                    LocalGradient(q.name, p, to_float(solver.env[local_name(q.name, p)]))
                    for q in solver.on_path() for p in q.inputs
                ),
                updates={p: to_float(leaves[p]) for p in spec.wrt},
                equations=tuple(run.equations[start:]),
            ))
        start = len(run.equations)
        after = spec.steps + 1
        solver = run.derivation(leaves, after, sections=("forward",))
        run.equations += [_qualified(eq, after) for eq in solver.equations if eq.section == "forward"]
        run.emit("loss_after", Ref(at(f, after)), "after")
        losses.append(to_float(run.env["loss_after"]))
        after_equations = tuple(run.equations[start:])
    except ComputeError as exc:
        raise exc.located(file=spec.file) from None

    named: dict[str, float] = {}
    for record in steps:
        named.update((at(n, record.step), v) for n, v in record.values.items())
    named.update((eq.name, to_float(eq.value)) for eq in run.equations)
    for s, loss in enumerate(losses[:-1], 1):
        named[at("loss", s)] = loss
        named[f"loss_after@{s}"] = losses[s]
    named["loss_after"] = losses[-1]
    for key, n in spec.optimizer.hyperparameters().items():
        named[key] = to_float(run.env[key])
    first = steps[0]
    return GraphTrace(
        name=spec.name, spec=spec, output=f, values=first.values, local_gradients=first.local_gradients,
        gradients=first.gradients, second={}, named=named, equations=tuple(run.equations),
        policy=getattr(arith, "name", "float"), digits=getattr(arith, "digits", None),
        exact=dict(run.env) if getattr(arith, "name", "") == "exact" else {},
        steps=tuple(steps), losses=tuple(losses), after_equations=after_equations,
    )


def solve_any_graph(spec: GraphSpec, arith=None) -> GraphTrace:
    """A graph spec's solve: gradient descent when it says `minimize:`, else the one
    derivation of solve_graph (`arith` None: float64)."""
    if spec.minimize:
        return solve_minimize(spec, arith if arith is not None else FloatArithmetic())
    return solve_graph(spec, arith)
