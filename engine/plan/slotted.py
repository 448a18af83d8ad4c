"""Frozen, slotted dataclasses made without their constructors.

A city's plan holds a few hundred thousand visits (10 M subjects: about a million), each a frozen dataclass, and
makes each twice (staffed, then dated). Slotted, a visit takes its fields' pointers only, not a dict of them
(56 + 296 bytes for a visit's dict: ~0.3 GB twice over at 10 M, issue 15 item 4). A frozen dataclass's
constructor sets each field through `object.__setattr__`, which was about a second per 320,000 visits; the slots'
own descriptors set them directly. The instances are the same values as the constructor's."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Maker(Generic[T]):
    """Instances of `cls` (a frozen dataclass with slots) from all of its fields, or as copies with some changed."""

    def __init__(self, cls: type[T]) -> None:
        if not dataclasses.is_dataclass(cls) or not getattr(cls, "__slots__", ()):
            raise TypeError(f"{cls.__name__} is not a slotted dataclass")
        self.cls = cls
        self.names = tuple(f.name for f in dataclasses.fields(cls))
        self._set: dict[str, Callable[[Any, Any], None]] = {n: getattr(cls, n).__set__ for n in self.names}
        self._get: tuple[tuple[str, Callable[[Any], Any]], ...] = tuple(
            (n, getattr(cls, n).__get__) for n in self.names
        )
        self._fields = frozenset(self.names)

    def make(self, values: Mapping[str, Any]) -> T:
        """`cls(**values)`, where `values` names every field exactly once (else TypeError)."""
        if values.keys() != self._fields:
            raise TypeError(f"{self.cls.__name__} needs exactly its fields: {sorted(self._fields ^ values.keys())}")
        out = object.__new__(self.cls)
        for name, value in values.items():
            self._set[name](out, value)
        return out

    def copy(self, of: T, changes: Mapping[str, Any]) -> T:
        """`dataclasses.replace(of, **changes)`, without the constructor."""
        unknown = changes.keys() - self._fields
        if unknown:
            raise TypeError(f"{self.cls.__name__} has no field {sorted(unknown)[0]}")
        out = object.__new__(self.cls)
        for name, get in self._get:
            self._set[name](out, changes[name] if name in changes else get(of))
        return out
