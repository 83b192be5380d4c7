"""`@frozen` records behave as `@dataclass(frozen=True)` did for every use we make."""
from __future__ import annotations

from dataclasses import FrozenInstanceError, field

import pytest

from backprop_cli.frozen import frozen, replace


@frozen
class Point:
    """A docstring of its own."""

    x: float
    y: float = 0.0
    tags: dict = field(default_factory=dict)
    marks: dict = field(default_factory=dict, compare=False)


@frozen
class Labelled(Point):
    label: str = ""

    def __repr__(self) -> str:
        return f"<{self.label}>"


def test_construction_by_position_keyword_and_defaults():
    p = Point(1.0)
    assert (p.x, p.y, p.tags, p.marks) == (1.0, 0.0, {}, {})
    assert Point(1.0, 2.0).y == 2.0 and Point(y=3.0, x=1.0).y == 3.0
    assert Point(1.0).tags is not Point(1.0).tags  # a fresh factory value each time
    for bad in (lambda: Point(), lambda: Point(1.0, x=2.0), lambda: Point(1.0, z=2.0),
                lambda: Point(1, 2, {}, {}, 5)):
        with pytest.raises(TypeError):
            bad()


def test_frozen_equal_hashable_and_replace():
    p = Point(1.0, 2.0)
    with pytest.raises(FrozenInstanceError):
        p.x = 5.0
    with pytest.raises(FrozenInstanceError):
        del p.y
    assert p == Point(1.0, 2.0, marks={"a": 1})  # marks do not compare
    assert p != Point(1.0, 3.0) and p != (1.0, 2.0)
    assert hash(Point(1.0, 2.0, tags=None)) == hash(Point(1.0, 2.0, tags=None, marks={}))
    q = replace(p, y=5.0)
    assert (q.x, q.y, p.y) == (1.0, 5.0, 2.0)
    with pytest.raises(TypeError):
        replace(p, z=1.0)
    assert repr(p) == "Point(x=1.0, y=2.0, tags={}, marks={})"
    assert Point.__doc__ == "A docstring of its own."


def test_inheritance_puts_base_fields_first_and_keeps_own_methods():
    item = Labelled(1.0, 2.0, label="a")
    assert (item.x, item.y, item.label) == (1.0, 2.0, "a")
    assert repr(item) == "<a>"
    assert item != Point(1.0, 2.0)  # another class is never equal
    assert replace(item, label="b").label == "b"
