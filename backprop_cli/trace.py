"""The trace: one frozen record of everything a solve computed (SPEC §3, §5).

Renderers format it, `check` reads it, hand-rounding and exact mode only change the
number policy that filled it. Nothing here computes.

Values: the arrays (`z`, `a`, …) and `named` hold floats, whatever the policy, because
JSON and answer keys speak floats. Under `--round`/`--exact` the policy's own values
(Decimal, sympy) live in `Equation.value`/`operands` and in `Trace.exact`.
"""
from __future__ import annotations

from dataclasses import field
from typing import Any, Mapping, Optional

from .calc.expr import Expr, to_text
from .frozen import frozen



class NotebookDisplay:
    """Jupyter shows a solved trace as its worked example. The renderer is plugged in by
    backprop_cli.render when it is imported (`NotebookDisplay.show`), so the records here
    never import a renderer. No fields: a frozen record may inherit it."""

    show = None  # (trace, "markdown" | "latex") -> str

    def _repr_markdown_(self):
        return NotebookDisplay.show(self, "markdown") if NotebookDisplay.show else None

    def _repr_latex_(self):
        return NotebookDisplay.show(self, "latex") if NotebookDisplay.show else None


@frozen
class Equation:
    """name = expr, evaluated: the operands it used and its result, under one policy.

    `section` groups the derivation for renderers: forward, loss, backward, update,
    after (the forward pass with the final parameters). `condition` records the branch
    a piecewise derivative took (`z1 > 0`)."""

    name: str
    expr: Expr
    operands: tuple[tuple[str, Any], ...]
    value: Any
    section: str
    condition: Optional[str] = None

    def __init__(self, name: str, expr: Expr, operands: tuple, value: Any, section: str,
                 condition: Optional[str] = None) -> None:  # one per equation: kept fast (see expr.py)
        fields = self.__dict__
        fields["name"], fields["expr"], fields["operands"] = name, expr, operands
        fields["value"], fields["section"], fields["condition"] = value, section, condition

    @property
    def expression(self) -> str:
        return to_text(self.expr)


@frozen
class LayerRecord:
    """One layer in one step; arrays are (N, units); bias mirrors the spec's form.

    Arrays are Grids (a solve by the derivation alone) or ndarrays (the engine's):
    read them through the interface both share (grid.py)."""

    layer: int
    activation: str
    z: Any
    a: Any
    dL_da: Any
    da_dz: Optional[Any]  # None for softmax (its Jacobian is not a vector)
    delta: Any
    weights_before: Any
    bias_before: Any  # ndarray (per neuron) | float (shared) | None
    grad_weights: Any
    grad_bias: Any
    weights: Any  # after this step
    bias: Any  # after this step
    frozen: tuple[str, ...] = ()


@frozen
class StepRecord:
    step: int
    loss: float
    layers: tuple[LayerRecord, ...]
    equations: tuple[Equation, ...] = ()


@frozen
class Trace(NotebookDisplay):
    """A solved network spec."""

    name: str
    spec: Any  # the validated Spec that produced it
    steps: tuple[StepRecord, ...]  # every recorded step (SPEC §5 thins very long runs)
    losses: tuple[float, ...]  # loss at every step, then after the last
    named: Mapping[str, float]
    after_equations: tuple[Equation, ...] = ()  # forward pass with the final parameters
    detail: str = "scalar"  # scalar | matrix: the derivation the equations spell out
    policy: str = "float"  # float | round | exact
    digits: Optional[int] = None  # D of --round
    exact: Mapping[str, Any] = field(default_factory=dict)  # name → ExactValue (--exact)
    symbolic: tuple = ()  # SymbolicGradient per parameter of step 1 (--symbolic)
    kind: str = "network"

    @property
    def loss_after(self) -> float:
        return self.losses[-1]

    @property
    def equations(self) -> tuple[Equation, ...]:
        return tuple(e for s in self.steps for e in s.equations) + self.after_equations


@frozen
class LocalGradient:
    node: str
    input: str
    value: float


@frozen
class GraphStep:
    """One step of gradient descent on a graph: the derivation at the step's parameters
    and their update. Names are step-qualified (`w@2`, `df/dw@2`, `w_new@2`)."""

    step: int
    values: Mapping[str, float]  # node → value at this step
    gradients: Mapping[str, float]  # node → ∂output/∂node at this step
    local_gradients: tuple[LocalGradient, ...]
    updates: Mapping[str, float]  # parameter → its value after the step
    equations: tuple[Equation, ...]


@frozen
class GraphTrace(NotebookDisplay):
    """A solved computational-graph spec (SPEC §4, §5 `"kind": "graph"`)."""

    name: str
    spec: Any
    output: str
    values: Mapping[str, float]
    local_gradients: tuple[LocalGradient, ...]
    gradients: Mapping[str, float]
    second: Mapping[str, float]
    named: Mapping[str, float]
    equations: tuple[Equation, ...]
    policy: str = "float"
    digits: Optional[int] = None
    exact: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "graph"
    # gradient descent on the output (`minimize:`): one record per step; `values`,
    # `gradients`, `local_gradients` above are step 1's; `equations` holds every step's
    steps: tuple["GraphStep", ...] = ()
    losses: tuple[float, ...] = ()  # the minimized node at every step, then after the last
    after_equations: tuple[Equation, ...] = ()


@frozen
class TensorGraphTrace(NotebookDisplay):
    """A solved graph spec with tensors or several outputs (graph/tensor_solve.py, issue 11).

    `values[node]` and `gradients[output][node]` are float64 arrays (0-d for a scalar);
    `equations` are tensor/tape.py's TensorEquations (matrix form, with element
    equations when small); `named` holds every element under its 1-based name
    (W[1,2], dz/dx[2,1]); `exact` maps element names to exact values (--exact)."""

    name: str
    spec: Any
    outputs: tuple[str, ...]
    values: Mapping[str, Any]
    gradients: Mapping[str, Mapping[str, Any]]
    named: Mapping[str, float]
    equations: tuple
    policy: str = "float"
    digits: Optional[int] = None
    exact: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "graph"
    tensor: bool = True
    # gradient descent on the output (`minimize:`, graph/tensor_minimize.py): one record
    # per step; `values`, `gradients` above are step 1's, `equations` holds every step's
    steps: tuple["TensorStep", ...] = ()
    losses: tuple[float, ...] = ()  # the minimized node at every step, then after the last
    after_equations: tuple = ()

    @property
    def output(self) -> str:
        return self.outputs[0]

    def array(self, name: str):
        """The whole array a (step-qualified) name stands for — `W`, `df/dW@2`, `w_new@3`,
        `buf_w` — or None: answer keys may give whole arrays under these names."""
        if name in self.values:
            return self.values[name]
        for out, grads in self.gradients.items():
            if name.startswith(f"d{out}/d") and name[len(out) + 2:] in grads:
                return grads[name[len(out) + 2:]]
        for eq in self.equations:
            if eq.name == name:
                return eq.value
        base, _, step = name.partition("@")
        for record in self.steps:
            if step and str(record.step) == step and base in record.values:
                return record.values[base]
        return None


@frozen
class TensorStep:
    """One step of gradient descent on a tensor graph: the derivation at the step's
    parameters (arrays by node) and their update. Equation names are step-qualified
    (`q@2`, `df/dW@2`, `W_new@2`; bare for step 1)."""

    step: int
    values: Mapping[str, Any]  # node → array at this step
    gradients: Mapping[str, Any]  # node → ∂output/∂node at this step
    updates: Mapping[str, Any]  # parameter → its array after the step
    equations: tuple
