"""Element names with 1-based indices (SPEC §3 for tensors): W[1,2], q[2], dz/dx[2,1].

A scalar keeps its plain name (`f`, `df/dx`). These are the names of JSON `named`,
of element equations and of answer keys, so they are spelled in one place.
"""
from __future__ import annotations

import re
from typing import Iterator

import numpy as np

_ELEMENT_RE = re.compile(r"(?P<base>.+?)\[(?P<index>[0-9]+(?:\s*,\s*[0-9]+)*)\]")


def element_name(name: str, index: tuple[int, ...]) -> str:
    """`name` of the element at 0-based `index`: W, (0, 1) → W[1,2]; () → W."""
    if not index:
        return name
    return f"{name}[{','.join(str(i + 1) for i in index)}]"


def split_element(text: str) -> tuple[str, tuple[int, ...]] | None:
    """W[1,2] → ("W", (0, 1)) with 0-based indices; None when `text` has no [..] suffix
    or an index is 0 (names are 1-based)."""
    m = _ELEMENT_RE.fullmatch(text)
    if m is None:
        return None
    index = tuple(int(i) - 1 for i in m.group("index").split(","))
    if any(i < 0 for i in index):
        return None
    return m.group("base"), index


def elements(name: str, value) -> Iterator[tuple[str, float]]:
    """Every element of `value` under its name, row-major (a scalar: the name itself)."""
    array = np.asarray(value)
    if array.ndim == 0:
        yield name, array.item()
        return
    flat = array.reshape(-1).tolist()
    for k, index in enumerate(np.ndindex(array.shape)):
        yield element_name(name, index), flat[k]
