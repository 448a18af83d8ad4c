"""Read a pack's own given/expect cases (tests/*.yaml), run them, and measure which rows they exercise.

`read_cases` types each case against the catalogue and the pack's decisions while the pack is checked (a case
naming an unknown feature or output is a finding, like any other); `run_cases` runs them on a loaded pack.

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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.features.result_facts import VOCABULARY
from engine.rules import conditions as cond
from engine.rules import durable, reference
from engine.rules.cells import shown
from engine.rules.codes import Code
from engine.rules.conditions import ConditionError, did_you_mean
from engine.rules.findings import Findings
from engine.rules.model import Case, Decision, Location, Output, Pack, Result, Rule
from engine.rules.yamlio import LineDict, LineList

_CASE_FIELDS = {"name": True, "given": True, "expect": True, "fired": False}


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
    # Grading cases run on the grading decisions, follow-up cases on the follow-up decisions (result facts).
    runs = [(pack, pack.cases)]
    if pack.followups:
        runs.append((pack.followup_pack(), pack.followup_cases))
    for target, cases in runs:
        for case in cases:
            result = main.evaluate(target, case.given)
            check = other.evaluate(target, case.given)
            differences = _compare(case, result)
            if check != result:
                differences.append(
                    f"the engines disagree: {engine} gives {_summary(result)}, the other {_summary(check)}"
                )
            fired_anywhere.update(result.fired)
            outcomes.append(CaseOutcome(case, not differences, tuple(differences), result.fired))
    decisions = (*pack.decisions, *pack.followups)
    own = [r for d in decisions for r in d.rules if os.path.dirname(r.location.file) == pack.directory]
    live = [r for r in own if r.enabled]
    uncovered = tuple(r for r in live if r.id not in fired_anywhere)
    coverage = Coverage(len(live), len(live) - len(uncovered), uncovered, tuple(r for r in own if not r.enabled))
    return CaseReport(pack, tuple(outcomes), coverage)


# -- reading the cases (tests/*.yaml), typed against the pack's decisions ---------------------------------------


def read_cases(tests: list[tuple[str, Any]], built: Mapping[str, Decision], log: Findings) -> tuple[Case, ...]:
    """The given/expect cases in `tests` ((shown path, YAML) per file), typed against the catalogue and the
    pack's `built` decisions; problems go to `log` and a broken case is left out."""
    results = {o.name: (d, o) for d in built.values() for o in d.outputs}
    rule_ids = {r.id for d in built.values() for r in d.rules}
    out: list[Case] = []
    for file, data in tests:
        if data is None:
            continue
        if not isinstance(data, LineDict) or not isinstance(data.get("cases"), LineList):
            if not isinstance(data, LineDict):
                code = Code.NOT_MAPPING
            else:
                code = Code.NOT_LIST if "cases" in data else Code.MISSING_FIELD
            log.add(
                file,
                getattr(data, "line", 1),
                code,
                "a test file is a mapping with a 'cases' list",
            )
            continue
        log.fields(data, file, {"cases": True}, "a test file")
        for i, entry in enumerate(data["cases"]):
            if not isinstance(entry, LineDict):
                log.add(
                    file,
                    data["cases"].item_line(i),
                    Code.NOT_MAPPING,
                    "a case is a mapping: name, given, expect",
                )
                continue
            case = _read_case(log, file, entry, results, rule_ids)
            if case is not None:
                out.append(case)
    return tuple(out)


def _read_case(
    log: Findings, file: str, entry: LineDict, results: Mapping[str, tuple[Decision, Output]], rule_ids: set[str]
) -> Case | None:
    name = entry.get("name")
    log.fields(entry, file, _CASE_FIELDS, "a case", name if isinstance(name, str) else "")
    given, expect = entry.get("given"), entry.get("expect")
    ok = isinstance(name, str) and name.strip() != ""
    typed_given: dict[str, Any] = {}
    if isinstance(given, LineDict):
        for key, value in given.items():
            line = given.value_line(key)
            if key not in VOCABULARY:
                hint = did_you_mean(str(key), list(VOCABULARY))
                log.add(file, given.key_line(key), Code.UNKNOWN_FEATURE, f"unknown feature '{key}'{hint}")
                ok = False
                continue
            f = VOCABULARY[key]
            if value is None:
                typed_given[key] = None
                continue
            try:
                typed_given[key] = cond.coerce(value, key, f.type, f.values or None)
            except ConditionError as exc:
                log.add(file, line, exc.code, exc.message)
                ok = False
    elif given is not None:
        log.add(file, entry.value_line("given"), Code.NOT_MAPPING, "'given' maps features to values")
        ok = False
    typed_expect: dict[str, Any] = {}
    if isinstance(expect, LineDict):
        for key, value in expect.items():
            line = expect.value_line(key)
            if key not in results:
                hint = did_you_mean(str(key), list(results))
                log.add(
                    file,
                    expect.key_line(key),
                    Code.UNKNOWN_OUTPUT,
                    f"'{key}' is not an output of the pack{hint}",
                )
                ok = False
                continue
            d, o = results[key]
            try:
                typed_expect[key] = _expected(d, o, value)
            except ConditionError as exc:
                log.add(file, line, exc.code, exc.message)
                ok = False
    elif expect is not None:
        log.add(file, entry.value_line("expect"), Code.NOT_MAPPING, "'expect' maps outputs to values")
        ok = False
    fired = entry.get("fired")
    typed_fired: tuple[str, ...] | None = None
    if fired is not None:
        if not isinstance(fired, LineList) or not all(isinstance(x, str) for x in fired):
            log.add(file, entry.value_line("fired"), Code.NOT_LIST, "'fired' lists rule ids")
            ok = False
        else:
            for i, rid in enumerate(fired):
                if rid not in rule_ids:
                    hint = did_you_mean(rid, sorted(rule_ids))
                    log.add(file, fired.item_line(i), Code.UNKNOWN_RULE, f"no rule '{rid}' in the pack{hint}")
                    ok = False
            typed_fired = tuple(fired)
    if not ok or given is None or expect is None:
        return None
    return Case(str(name).strip(), typed_given, typed_expect, typed_fired, Location(file, entry.line))


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
        return isinstance(got, (int, float)) and math.isclose(float(expected), float(got), rel_tol=1e-9, abs_tol=1e-9)
    return bool(type(expected) is type(got) and expected == got)


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    return shown(value)


def _summary(result: Result) -> str:
    return ", ".join(f"{k}={_text(v)}" for k, v in result.outputs.items())


def _expected(d: Decision, o: Output, value: Any) -> Any:
    if value is None:
        return None
    kind = d.result_type(o)
    if kind == "list":
        item_type = "str" if o.type == "list" else o.type
        items = value if isinstance(value, list) else [value]
        return tuple(cond.coerce(v, o.name, item_type, o.values) for v in items)
    return cond.coerce(value, o.name, kind, o.values if kind == o.type else None)
