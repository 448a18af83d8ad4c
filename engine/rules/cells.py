"""Cut each input's values into the cells a pack can tell apart, and key a subject by its cells.

A decision only compares an input with a few constants (thresholds, labels). Those constants split the input's
values into cells: for thresholds 30 and 45, the cells are missing, (-inf,30), {30}, (30,45), {45}, (45,inf).
Every test in the pack is either true on a whole cell or false on it, so subjects whose inputs fall in the same
cells get the same result. The checker analyses tables over these cells, the durable-rules adapter asserts cell
numbers instead of raw values, and batch grading evaluates each distinct key once.

The reference interpreter does not use this module: it compares raw values, so the differential test checks
the cutting too.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.rules.model import Condition, Input, Pack, Scalar, UnaryTest

MISSING = 0
"""Cell 0 of every axis: the value is missing."""


def _canon(value: Any) -> tuple[int, str]:
    # Sort bools and labels together without comparing across types.
    return (0, "1" if value else "0") if isinstance(value, bool) else (1, str(value))


@dataclass(frozen=True)
class Axis:
    """The cells of one input. Numeric: 0 missing, then alternately open intervals and threshold points.
    Categorical (labels, true/false): 0 missing, one cell per mentioned value, then one for every other value."""

    name: str
    numeric: bool
    points: tuple[Any, ...]
    _index: Mapping[Any, int] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def build(name: str, numeric: bool, constants: Iterable[Any]) -> Axis:
        if numeric:
            points: tuple[Any, ...] = tuple(sorted(set(constants)))
            return Axis(name, True, points)
        unique = {(type(v), v): v for v in constants}
        points = tuple(sorted(unique.values(), key=_canon))
        index = {(type(v), v): i + 1 for i, v in enumerate(points)}
        return Axis(name, False, points, index)

    @property
    def size(self) -> int:
        return 2 * len(self.points) + 2 if self.numeric else len(self.points) + 2

    @property
    def other(self) -> int:
        """The categorical cell for values no condition mentions."""
        return len(self.points) + 1

    def cell(self, value: Scalar | None) -> int:
        """The cell holding `value` (a normalised value; None is missing)."""
        if value is None:
            return MISSING
        if self.numeric:
            i = bisect.bisect_left(self.points, value)
            if i < len(self.points) and self.points[i] == value:
                return 2 * i + 2
            return 2 * i + 1
        return self._index.get((type(value), value), self.other)

    def bounds(self, cell: int) -> tuple[Any, Any, bool]:
        """Numeric cell geometry: (low, high, is_point); None ends are infinite."""
        if cell % 2 == 0:
            t = self.points[cell // 2 - 1]
            return t, t, True
        k = (cell - 1) // 2
        low = self.points[k - 1] if k > 0 else None
        high = self.points[k] if k < len(self.points) else None
        return low, high, False

    def test_cells(self, test: UnaryTest) -> frozenset[int]:
        """The cells where `test` holds."""
        every = range(self.size)
        if test.op == "missing":
            return frozenset((MISSING,))
        if test.op == "any":
            return frozenset(every)
        if test.op == "present":
            return frozenset(every[1:])
        if not self.numeric:
            if test.op == "eq":
                wanted = {self.cell(test.value)}
            elif test.op == "in":
                wanted = {self.cell(v) for v in test.values}
            elif test.op == "ne":
                wanted = set(every[1:]) - {self.cell(test.value)}
            elif test.op == "not_in":
                wanted = set(every[1:]) - {self.cell(v) for v in test.values}
            else:
                raise ValueError(f"test {test.op} on labels")
            # A value outside the axis lands in `other`, which eq/in never mean.
            if test.op in ("eq", "in"):
                wanted -= {self.other}
            return frozenset(wanted)
        return frozenset(c for c in every[1:] if _holds_on_cell(test, *self.bounds(c)))

    def condition_cells(self, condition: Condition) -> frozenset[int]:
        out: set[int] = set()
        for test in condition.tests:
            out |= self.test_cells(test)
        return frozenset(out)


def _holds_on_cell(test: UnaryTest, low: Any, high: Any, point: bool) -> bool:
    # Each constant of the test is a point of the axis, so an open cell lies wholly on one side of it.
    if point:
        v = low
        op = test.op
        if op == "lt":
            return bool(v < test.value)
        if op == "le":
            return bool(v <= test.value)
        if op == "gt":
            return bool(v > test.value)
        if op == "ge":
            return bool(v >= test.value)
        if op == "eq":
            return bool(v == test.value)
        if op == "ne":
            return bool(v != test.value)
        if op == "in":
            return v in test.values
        if op == "not_in":
            return v not in test.values
        if op == "range":
            above = v >= test.lo if test.lo_closed else v > test.lo
            below = v <= test.hi if test.hi_closed else v < test.hi
            return bool(above and below)
        raise ValueError(test.op)
    op = test.op
    if op in ("lt", "le"):
        return high is not None and high <= test.value
    if op in ("gt", "ge"):
        return low is not None and low >= test.value
    if op in ("eq", "in"):
        return False
    if op in ("ne", "not_in"):
        return True
    if op == "range":
        return low is not None and high is not None and low >= test.lo and high <= test.hi
    raise ValueError(op)


def is_numeric(type_: str) -> bool:
    return type_ in ("int", "float")


def decision_axes(inputs: Sequence[Input], conditions: Iterable[Condition]) -> tuple[Axis, ...]:
    """One axis per input, cut at the constants the given conditions use (plus an input's closed values)."""
    constants: dict[str, list[Any]] = {i.name: [] for i in inputs}
    for c in conditions:
        for t in c.tests:
            constants[c.input].extend(t.thresholds())
    axes = []
    for i in inputs:
        values = list(constants[i.name])
        if not is_numeric(i.type) and i.values:
            values.extend(i.values)
        axes.append(Axis.build(i.name, is_numeric(i.type), values))
    return tuple(axes)


# ---------------------------------------------------------------------------------------------------------
# Domains: which cells an input can actually take, with an example value for each (for gap/overlap messages).


@dataclass(frozen=True)
class Domain:
    """The cells an input can take and one example value per cell."""

    cells: frozenset[int]
    examples: Mapping[int, Any]


def domain(axis: Axis, inp: Input) -> Domain:
    examples: dict[int, Any] = {}
    if inp.nullable:
        examples[MISSING] = None
    if not axis.numeric:
        if inp.domain is not None:
            possible: Sequence[Any] = inp.domain
        elif inp.type == "bool":
            possible = (False, True)
        else:
            possible = ()
        for v in possible:
            examples.setdefault(axis.cell(v), v)
        if inp.domain is None and inp.type == "str":
            examples.setdefault(axis.other, "<any other label>")
        return Domain(frozenset(examples), examples)
    if inp.domain is not None:
        for v in sorted(inp.domain):
            examples.setdefault(axis.cell(v), v)
        return Domain(frozenset(examples), examples)
    integer = inp.type == "int"
    lower, upper = inp.lower, inp.upper
    for c in range(1, axis.size):
        low, high, point = axis.bounds(c)
        example = _example(low, high, point, integer, lower, upper)
        if example is not None:
            examples[c] = example
    return Domain(frozenset(examples), examples)


def _example(low: Any, high: Any, point: bool, integer: bool, lower: float | None, upper: float | None) -> Any:
    if point:
        if (lower is not None and low < lower) or (upper is not None and low > upper):
            return None
        return low
    # The open cell (low, high) clipped to the input's known bounds [lower, upper].
    lo, lo_inc = low, False
    if lower is not None and (lo is None or lower > lo):
        lo, lo_inc = lower, True
    hi, hi_inc = high, False
    if upper is not None and (hi is None or upper < hi):
        hi, hi_inc = upper, True
    if integer:
        start = None if lo is None else (math.ceil(lo) if lo_inc else math.floor(lo) + 1)
        stop = None if hi is None else (math.floor(hi) if hi_inc else math.ceil(hi) - 1)
        if start is None:
            return 0 if stop is None else int(stop)
        if stop is not None and start > stop:
            return None
        return int(start)
    if lo is not None and hi is not None and (lo > hi or (lo == hi and not (lo_inc and hi_inc))):
        return None
    if lo_inc:
        return float(lo)
    if hi_inc:
        return float(hi)
    if lo is None and hi is None:
        return 0.0
    if lo is None:
        return float(hi) - 1.0
    if hi is None:
        return float(lo) + 1.0
    return (lo + hi) / 2


def describe_cells(axis: Axis, cells: Iterable[int], dom: Domain) -> str:
    """Plain words for a set of cells: "is missing", "in (45..60]", ">= 3", "in [A, B]", "= true"."""
    chosen = sorted(set(cells) & dom.cells)
    parts: list[str] = []
    if MISSING in chosen:
        parts.append("is missing")
        chosen.remove(MISSING)
    if not axis.numeric:
        labels = [_shown(dom.examples[c]) for c in chosen]
        if len(labels) == 1:
            parts.append(f"= {labels[0]}")
        elif labels:
            parts.append(f"in [{', '.join(labels)}]")
        return " or ".join(parts)
    ordered = sorted(dom.cells - {MISSING})
    runs: list[list[int]] = []
    for c in chosen:
        if runs and ordered.index(c) == ordered.index(runs[-1][-1]) + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    for run in runs:
        low, _, low_point = axis.bounds(run[0])
        _, high, high_point = axis.bounds(run[-1])
        if len(run) == 1 and low_point:
            parts.append(f"= {_shown(low)}")
            continue
        if low is None and high is None:
            parts.append("any number")
        elif low is None:
            parts.append(f"{'<=' if high_point else '<'} {_shown(high)}")
        elif high is None:
            parts.append(f"{'>=' if low_point else '>'} {_shown(low)}")
        else:
            parts.append(f"in {'[' if low_point else '('}{_shown(low)}..{_shown(high)}{']' if high_point else ')'}")
    return " or ".join(parts)


def _shown(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


def shown(value: Any) -> str:
    return _shown(value)


# ---------------------------------------------------------------------------------------------------------
# The rule-relevant key of a subject.


@dataclass(frozen=True)
class KeySpec:
    """How to key a subject: for each feature the pack reads (sorted), its axis over every decision's constants,
    and for each cell its class — cells that every test of the pack treats alike share a class."""

    features: tuple[str, ...]
    axes: tuple[Axis, ...]
    classes: tuple[tuple[int, ...], ...]


_KEYSPECS: dict[str, KeySpec] = {}


def key_spec(pack: Pack) -> KeySpec:
    """The cutting of every feature the pack reads, merged over all decisions (cached per pack hash)."""
    spec = _KEYSPECS.get(pack.hash)
    if spec is not None:
        return spec
    tests: dict[str, list[UnaryTest]] = {f: [] for f in pack.features}
    types: dict[str, Input] = {}
    for d in pack.decisions:
        for i in d.inputs:
            if i.source is None:
                types[i.name] = i
        for r in d.rules:
            if not r.enabled or r.is_else:
                continue
            for c in r.conditions:
                if c.input in tests:
                    tests[c.input].extend(t for t in c.tests if t not in tests[c.input])
    axes = []
    classes = []
    for f in pack.features:
        axis = Axis.build(f, is_numeric(types[f].type), [v for t in tests[f] for v in t.thresholds()])
        truth = [axis.test_cells(t) for t in tests[f]]
        seen: dict[tuple[bool, ...], int] = {}
        classes.append(
            tuple(seen.setdefault(tuple(c in cells for cells in truth), len(seen)) for c in range(axis.size))
        )
        axes.append(axis)
    spec = KeySpec(pack.features, tuple(axes), tuple(classes))
    if len(_KEYSPECS) > 64:
        _KEYSPECS.clear()
    _KEYSPECS[pack.hash] = spec
    return spec


def key_of(spec: KeySpec, values: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(
        cls[axis.cell(values.get(name))] for name, axis, cls in zip(spec.features, spec.axes, spec.classes, strict=True)
    )
