"""Frozen records (`@frozen`) without per-class code generation.

`@dataclass(frozen=True)` writes and compiles six methods for every class when its
module is imported — about 0.9 ms a class, and a worked example's command loads 21
such classes: more than reading, solving and rendering the example together. `frozen`
gives the same frozen record from methods written once, here: construction by position
or keyword with defaults (plain values, or `dataclasses.field(default_factory=…,
compare=…)`), fields inherited from a record base class, assignment refused,
equality and hashing by value over the compared fields, a dataclass-style repr, and
`replace(obj, **changes)`. A class keeps any of these methods it defines itself.
"""
from __future__ import annotations

from dataclasses import MISSING, Field, FrozenInstanceError
from typing import Any, TypeVar

T = TypeVar("T")


class _Layout:
    """A frozen class's fields: their order, defaults, factories and which compare."""

    __slots__ = ("names", "index", "defaults", "factories", "compared")

    def __init__(self, cls: type) -> None:
        self.names: list[str] = []
        self.defaults: dict[str, Any] = {}
        self.factories: dict[str, Any] = {}
        self.compared: list[str] = []
        for klass in reversed(cls.__mro__[:-1]):  # base fields first, as dataclasses order them
            base: _Layout | None = klass.__dict__.get("__record__")
            if base is not None:  # a frozen base: its fields as it read them
                self.names += [name for name in base.names if name not in self.names]
                self.defaults.update(base.defaults)
                self.factories.update(base.factories)
                self.compared += [name for name in base.compared if name not in self.compared]
                continue
            for name in klass.__dict__.get("__annotations__", {}):
                if name not in self.names:  # a redeclared field keeps its place, takes the new default
                    self.names.append(name)
                self.defaults.pop(name, None)
                self.factories.pop(name, None)
                default = klass.__dict__.get(name, MISSING)
                compare = True
                if isinstance(default, Field):
                    compare = default.compare
                    if default.default_factory is not MISSING:
                        self.factories[name] = default.default_factory
                    default = default.default
                if default is not MISSING:
                    self.defaults[name] = default
                if compare and name not in self.compared:
                    self.compared.append(name)
        self.index = frozenset(self.names)


def _init(self, *args, **kwargs) -> None:
    layout: _Layout = type(self).__record__
    names = layout.names
    if len(args) > len(names):
        raise TypeError(f"{type(self).__name__}() takes {len(names)} arguments, {len(args)} given")
    values = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in layout.index:
            raise TypeError(f"{type(self).__name__}() got an unexpected argument {name!r}")
        if name in values:
            raise TypeError(f"{type(self).__name__}() got {name!r} twice")
        values[name] = value
    if len(values) < len(names):
        for name in names:
            if name in values:
                continue
            if name in layout.factories:
                values[name] = layout.factories[name]()
            elif name in layout.defaults:
                values[name] = layout.defaults[name]
            else:
                raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
    self.__dict__.update(values)


def _key(self) -> tuple:
    fields = self.__dict__
    return tuple(fields[name] for name in type(self).__record__.compared)


def _eq(self, other) -> bool:
    if other.__class__ is self.__class__:
        return _key(self) == _key(other)
    return NotImplemented


def _hash(self) -> int:
    return hash(_key(self))


def _repr(self) -> str:
    fields = self.__dict__
    inner = ", ".join(f"{name}={fields[name]!r}" for name in type(self).__record__.names)
    return f"{type(self).__qualname__}({inner})"


def _refuse(self, name, value=None) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def frozen(cls: type[T]) -> type[T]:
    """Make `cls` a frozen record over its annotated fields (see the module docstring)."""
    cls.__record__ = _Layout(cls)
    own = cls.__dict__
    for name, method in (("__init__", _init), ("__eq__", _eq), ("__repr__", _repr),
                         ("__setattr__", _refuse), ("__delattr__", _refuse)):
        if name not in own:
            setattr(cls, name, method)
    if own.get("__hash__") is None:
        cls.__hash__ = _hash
    for name in cls.__record__.names:  # the class keeps plain defaults, never Field objects
        if isinstance(own.get(name), Field):
            delattr(cls, name)
    return cls


def replace(obj: T, **changes) -> T:
    """A copy of a record with some fields changed (dataclasses.replace for records)."""
    values = {name: obj.__dict__[name] for name in type(obj).__record__.names}
    values.update(changes)
    return type(obj)(**values)
