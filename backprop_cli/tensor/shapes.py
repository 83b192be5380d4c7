"""Shapes: how they are written, how they broadcast, and the error a mismatch raises.

A shape error is bad input (exit 2): it names the node, both shapes and the rule, so a
student sees *why* `W @ x` with W (2×3) and x (2,) is refused, not a NumPy traceback.
"""
from __future__ import annotations

from typing import Sequence

from ..errors import BackpropError

Shape = tuple[int, ...]


class ShapeError(BackpropError):
    """Two operand shapes an operation cannot combine, with the rule it follows.

    `node` is filled in by whoever knows it (the tape, when a node's expression fails)."""

    def __init__(self, op: str, shapes: Sequence[Shape], rule: str, node: str | None = None) -> None:
        self.op, self.shapes, self.rule, self.node = op, tuple(shapes), rule, node
        super().__init__(str(self))

    def at(self, node: str) -> "ShapeError":
        return ShapeError(self.op, self.shapes, self.rule, node)

    def __str__(self) -> str:
        where = f"node {self.node}: " if self.node else ""
        shown = " and ".join(show(s) for s in self.shapes)
        return f"{where}shape mismatch in {self.op}: {shown} — {self.rule}"


def show(shape: Shape) -> str:
    """(2×3) for a matrix, (3,) for a vector, () for a scalar — as NumPy prints, with ×."""
    if len(shape) == 0:
        return "() scalar"
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + "×".join(str(n) for n in shape) + ")"


def dims(shape: Shape) -> str:
    """The size as a reader writes it under a matrix: 2×3, 3 (a vector), 1 (a scalar)."""
    return "×".join(str(n) for n in shape) if shape else "1"


BROADCAST_RULE = ("broadcasting (NumPy/PyTorch) aligns shapes from the right; each pair of "
                  "sizes must be equal or one of them 1")


def broadcast(op: str, *shapes: Shape) -> Shape:
    """The broadcast shape of elementwise operands, or a ShapeError naming the rule."""
    rank = max(len(s) for s in shapes)
    out = []
    for k in range(rank):
        sizes = {s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0} - {1}
        if len(sizes) > 1:
            raise ShapeError(op, shapes, BROADCAST_RULE)
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def broadcast_index(index: tuple[int, ...], shape: Shape) -> tuple[int, ...]:
    """The element of an operand of `shape` that output element `index` reads when the
    operand was broadcast: leading axes dropped, size-1 axes pinned to 0."""
    lead = len(index) - len(shape)
    return tuple(0 if n == 1 else i for i, n in zip(index[lead:], shape))


def matmul(a: Shape, b: Shape) -> Shape:
    """`@` as NumPy/PyTorch define it for ranks 1 and 2 (vector·vector is a dot)."""
    if not a or not b:
        raise ShapeError("@", (a, b), "@ needs vectors or matrices; use * to scale by a scalar")
    if len(a) > 2 or len(b) > 2:
        raise ShapeError("@", (a, b), "@ takes vectors and matrices (rank 1 or 2) here")
    inner_a, inner_b = a[-1], b[0]
    if inner_a != inner_b:
        rule = (f"the columns of the left ({inner_a}) must equal the rows of the right ({inner_b})"
                if len(a) == 2 else
                f"the length of the left vector ({inner_a}) must equal the rows of the right ({inner_b})")
        raise ShapeError("@", (a, b), rule)
    return a[:-1] + b[1:]


def axis_of(op: str, shape: Shape, axis: int) -> int:
    """A 0-based axis (negative counts from the end, as in PyTorch's dim)."""
    if not -len(shape) <= axis < len(shape):
        raise ShapeError(op, (shape,), f"axis {axis} is out of range for rank {len(shape)} "
                         f"(axes are 0-based: 0…{len(shape) - 1}, or negative from the end)")
    return axis % len(shape)
