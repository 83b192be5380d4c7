"""Grid: the ndarray subset renderers and checks rely on, and its immutability."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_cli.grid import Grid, as_rows, is_array


def test_matrix_reads_like_an_ndarray():
    rows = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    g, a = Grid.matrix(rows), np.array(rows)
    assert g.shape == a.shape and g.ndim == a.ndim and g.size == a.size and len(g) == len(a)
    for i in range(-2, 2):
        for j in range(-3, 3):
            assert g[i, j] == a[i, j]
        assert g[i].tolist() == a[i].tolist()
    assert g.tolist() == a.tolist()
    assert [row.tolist() for row in g] == a.tolist()
    with pytest.raises(IndexError):
        g[2, 0]
    with pytest.raises(IndexError):
        g[0, 3]


def test_vector_and_numpy_conversion():
    v = Grid.vector([0.5, -1.5])
    assert v.shape == (2,) and v[1] == -1.5 and list(v) == [0.5, -1.5]
    arr = np.asarray(v)
    assert arr.dtype == np.float64 and arr.tolist() == [0.5, -1.5]
    assert np.asarray(v) is arr  # built once
    with pytest.raises(ValueError):
        arr[0] = 2.0  # read-only: the Grid cannot change through it
    copy = np.array(v)
    copy[0] = 2.0
    assert v[0] == 0.5
    assert np.asarray(Grid.matrix([[1, 2]]), dtype=np.float32).dtype == np.float32


def test_immutable_comparable_hashable():
    g = Grid.matrix([[1.0, 2.0]])
    with pytest.raises(AttributeError):
        g.data = (3.0, 4.0)
    assert g == Grid.matrix([[1.0, 2.0]]) and g != Grid.vector([1.0, 2.0])
    assert hash(g) == hash(Grid.matrix([[1.0, 2.0]]))
    with pytest.raises(ValueError):
        Grid.matrix([[1.0], [1.0, 2.0]])
    with pytest.raises(ValueError):
        Grid((1.0, 2.0, 3.0), (2, 2))


def test_as_rows_and_is_array_for_every_form():
    assert as_rows(0.25) == [[0.25]]
    assert as_rows(Grid.vector([1.0, 2.0])) == [[1.0, 2.0]]
    assert as_rows(np.array([[1, 2], [3, 4]])) == [[1.0, 2.0], [3.0, 4.0]]
    assert as_rows(np.float64(3.0)) == [[3.0]]
    assert is_array(Grid.vector([1.0])) and is_array(np.zeros(2))
    assert not is_array(1.0) and not is_array(np.float64(1.0)) and not is_array(None)
