"""Run a pack's own given/expect cases (tests/*.yaml) and measure which rows they exercise.

A case passes when every expected output equals the computed one (lists compare as sets, numbers to 1e-9) and
every listed rule fired. Cases run on durable-rules, the engine grading uses, and are re-run on the reference
interpreter: any disagreement fails the case, so a pack's tests also guard the engine.

Row coverage counts the rows this pack itself writes (a child pack's overrides and additions; inherited rows
are covered by the parent's tests). A row is covered when some case fires it; rows a `$param` switch turns off
are listed apart.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from engine.rules import durable, reference
from engine.rules.cells import shown
from engine.rules.model import Case, Pack, Result, Rule


@dataclass(frozen=True)
class CaseOutcome:
    case: Case
    passed: bool
    differences: tuple[str, ...]
    fired: tuple[str, ...]


@dataclass(frozen=True)
class Coverage:
    total: int
    covered: int
    uncovered: tuple[Rule, ...]
    disabled: tuple[Rule, ...]

    @property
    def percent(self) -> float:
        return 100.0 if self.total == 0 else 100.0 * self.covered / self.total


@dataclass(frozen=True)
class CaseReport:
    pack: Pack
    outcomes: tuple[CaseOutcome, ...]
    coverage: Coverage

    @property
    def failed(self) -> tuple[CaseOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.passed)

    @property
    def ok(self) -> bool:
        return not self.failed


def run_cases(pack: Pack, engine: str = "durable") -> CaseReport:
    """Every case of `pack` on `engine` ("durable" or "reference"), with the other engine as a cross-check."""
    main, other = (durable, reference) if engine == "durable" else (reference, durable)
    outcomes = []
    fired_anywhere: set[str] = set()
    for case in pack.cases:
        result = main.evaluate(pack, case.given)
        check = other.evaluate(pack, case.given)
        differences = _compare(case, result)
        if check != result:
            differences.append(
                f"the engines disagree: {engine} gives {_summary(result)}, the other {_summary(check)}"
            )
        fired_anywhere.update(result.fired)
        outcomes.append(CaseOutcome(case, not differences, tuple(differences), result.fired))
    own = [r for d in pack.decisions for r in d.rules if os.path.dirname(r.location.file) == pack.directory]
    live = [r for r in own if r.enabled]
    uncovered = tuple(r for r in live if r.id not in fired_anywhere)
    coverage = Coverage(
        len(live), len(live) - len(uncovered), uncovered, tuple(r for r in own if not r.enabled)
    )
    return CaseReport(pack, tuple(outcomes), coverage)


def _compare(case: Case, result: Result) -> list[str]:
    out = []
    actual = result.outputs
    for name, expected in case.expect.items():
        got = actual.get(name)
        if not _equal(expected, got):
            out.append(f"{name}: expected {_text(expected)}, got {_text(got)}")
    if case.fired is not None:
        for rule in case.fired:
            if rule not in result.fired:
                out.append(f"rule '{rule}' did not fire (fired: {', '.join(result.fired) or 'none'})")
    out.extend(f"error in {e}" for e in result.errors)
    return out


def _equal(expected: Any, got: Any) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if isinstance(expected, tuple) or isinstance(got, tuple):
        return isinstance(expected, tuple) and isinstance(got, tuple) and set(expected) == set(got)
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    if isinstance(expected, float) or isinstance(got, float):
        return isinstance(got, (int, float)) and math.isclose(
            float(expected), float(got), rel_tol=1e-9, abs_tol=1e-9
        )
    return bool(type(expected) is type(got) and expected == got)


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    return shown(value)


def _summary(result: Result) -> str:
    return ", ".join(f"{k}={_text(v)}" for k, v in result.outputs.items())
