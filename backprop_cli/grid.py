"""Grid: an immutable 1-D or 2-D table of floats, without numpy.

A spec's numbers (input, target, weights, biases) and the arrays of a small solve are
Grids, so that reading a spec and solving a worked example by hand never imports numpy
(its import alone costs more than the whole solve of a 2-2-1 network). A Grid offers
the small part of the ndarray interface that renderers and checks use — `shape`,
`ndim`, `size`, `g[i, j]`, `g[i]`, iteration, `tolist()` — so the same code reads a
Grid or the engine's ndarrays; numpy reads a Grid through `__array__`, built once and
read-only.
"""
from __future__ import annotations

from typing import Iterable, Sequence


class Grid:
    __slots__ = ("data", "shape", "_array")

    def __init__(self, data: Sequence[float], shape: tuple[int, ...]) -> None:
        data = tuple(data)
        count = 1
        for n in shape:
            count *= n
        if len(shape) not in (1, 2) or len(data) != count:
            raise ValueError(f"Grid: {len(data)} values do not fill shape {shape}")
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "shape", tuple(shape))
        object.__setattr__(self, "_array", None)

    @classmethod
    def vector(cls, values: Iterable[float]) -> "Grid":
        values = tuple(values)
        return cls(values, (len(values),))

    @classmethod
    def matrix(cls, rows: Iterable[Sequence[float]]) -> "Grid":
        rows = [tuple(r) for r in rows]
        width = len(rows[0]) if rows else 0
        if any(len(r) != width for r in rows):
            raise ValueError("Grid.matrix: ragged rows")
        return cls(tuple(v for r in rows for v in r), (len(rows), width))

    def __setattr__(self, name, value):
        raise AttributeError("Grid is immutable")

    # -- the ndarray subset --------------------------------------------------------------

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return len(self.data)

    def __len__(self) -> int:
        return self.shape[0]

    def _index(self, i: int, n: int) -> int:
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for length {n}")
        return i % n

    def __getitem__(self, key):
        if self.ndim == 1:
            return self.data[self._index(key, self.shape[0])]
        rows, cols = self.shape
        if isinstance(key, tuple):
            i, j = key
            return self.data[self._index(i, rows) * cols + self._index(j, cols)]
        i = self._index(key, rows)
        return Grid(self.data[i * cols:(i + 1) * cols], (cols,))

    def __iter__(self):
        return (self[i] for i in range(self.shape[0])) if self.ndim == 2 else iter(self.data)

    def rows(self) -> tuple[tuple[float, ...], ...]:
        """2-D: the rows; 1-D: one row."""
        cols = self.shape[-1]
        return tuple(self.data[i:i + cols] for i in range(0, len(self.data), cols)) if cols else ()

    def tolist(self) -> list:
        return [list(r) for r in self.rows()] if self.ndim == 2 else list(self.data)

    def __array__(self, dtype=None, copy=None):
        import numpy as np

        if self._array is None:
            array = np.array(self.data, dtype=np.float64).reshape(self.shape)
            array.flags.writeable = False
            object.__setattr__(self, "_array", array)
        array = self._array
        if dtype is not None and np.dtype(dtype) != array.dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    # -- a value ----------------------------------------------------------------------------

    def __eq__(self, other) -> bool:
        if isinstance(other, Grid):
            return self.shape == other.shape and self.data == other.data
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.shape, self.data))

    def __repr__(self) -> str:
        return f"Grid({self.tolist()!r})"


def is_array(value) -> bool:
    """A vector or matrix (Grid or ndarray), as opposed to a float or None."""
    return getattr(value, "ndim", 0) > 0


def as_rows(values) -> list[list[float]]:
    """A float, vector or matrix (Grid or ndarray) as a list of rows of floats, the
    way a matrix is printed (numpy's atleast_2d, without numpy)."""
    if not is_array(values):
        return [[float(values)]]
    listed = values.tolist()
    if values.ndim == 1:
        return [[float(v) for v in listed]]
    return [[float(v) for v in row] for row in listed]


def as_written(weights, layout: str):
    """A weight matrix (kept (out, in) inside) the way the student wrote it: transposed
    for `layout: in_out` (h = xW), so renderers and structured keys show the book's
    matrix. None and vectors pass through."""
    if layout != "in_out" or not is_array(weights) or weights.ndim != 2:
        return weights
    return Grid.matrix(zip(*as_rows(weights)))
