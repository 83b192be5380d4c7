"""Canonical names of typed-layer networks (docs/layers.md, README "Canonical names").

Layer l (1-based) owns the prefix `Ll.`: its PyTorch-named parameters `L1.weights`,
`L3.gamma`, `L2.W_hh`, its output `L1.out`, and what its backward pass writes down
(`L1.z` before the activation, `L2.mean`, `L2.var`, `L2.xhat`, `L4.h`, `L4.c`, `L4.i` …).
Elements carry 1-based indices in brackets, the tensor engine's spelling
(`L1.weights[1,1,2,3]`); per-sample arrays (out, z, xhat, h, …) index one sample's shape
for a single-sample spec and put the sample first for a batch. Gradients are
`dL/d<name>`, updated parameters `<name>_new`, optimizer state `<state>_<name>`,
steps `@s` as everywhere.
"""
from __future__ import annotations

import re
from typing import Iterator

import numpy as np

# One typed-layer name, read back: optimizer state, gradient, layer, field, 1-based
# element index, step — sq_L1.W_hh[1,2]@3, dL/dL2.out[1,1,3], L2.var (a scalar field).
NAME = re.compile(r"(?P<state>(?:buf|m|v|sq|gavg|sum)_)?(?P<grad>dL/d)?L(?P<layer>[0-9]+)\.(?P<field>[A-Za-z_]+)"
                  r"(?:\[(?P<index>[0-9,]+)\])?(?P<step>@[0-9]+)?")


def element_name(name: str, index: tuple[int, ...]) -> str:
    """`name` of the element at 0-based `index`: (0, 1) → name[1,2]; () → name."""
    if not index:
        return name
    return f"{name}[{','.join(str(i + 1) for i in index)}]"


def elements(name: str, value) -> Iterator[tuple[str, float]]:
    """Every element of `value` under its name, row-major (a scalar: the name itself)."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        yield name, float(array)
        return
    flat = array.reshape(-1).tolist()
    for k, index in enumerate(np.ndindex(array.shape)):
        yield element_name(name, index), flat[k]


def per_sample(name: str, value, batched: bool) -> Iterator[tuple[str, float]]:
    """A batch-first array: indexed by sample too for a batch, else by one sample's shape."""
    yield from elements(name, value if batched else np.asarray(value)[0])


def prefix(layer: int) -> str:
    return f"L{layer}"
