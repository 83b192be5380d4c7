"""A tensor equation as a JSON record: {"name", "form": "matrix", "expression",
"operands": {name: array}, "shapes": {name: shape, …, result: shape}, "value": array}.
Shared by tensor graphs (tensor_json.py) and the network's matrix detail (json_out.py)."""
from __future__ import annotations

from typing import Any

import numpy as np


def array_json(value) -> Any:
    """A float array as nested lists (a 0-d array as a number), never −0.0."""
    array = np.asarray(value, dtype=float) + 0.0
    return array.item() if array.ndim == 0 else array.tolist()


def matrix_record(eq) -> dict:
    out = {
        "name": eq.name,
        "form": "matrix",
        "expression": eq.expression,
        "operands": {k: array_json(v) for k, v in eq.operands},
        "shapes": {**{k: list(np.shape(v)) for k, v in eq.operands}, eq.name: list(eq.shape)},
        "value": array_json(eq.value),
    }
    if eq.note:
        out["condition"] = eq.note
    return out
