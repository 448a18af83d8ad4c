"""The loaded rule pack: decisions, rules, conditions and parameters, typed and with their file:line.

A `Pack` only exists once the checker found no structural error, so every condition here is already typed
against the feature registry, every `$param` is replaced by its value, and decisions are in DAG order. Both
engines (the reference interpreter and the durable-rules adapter) read this model and nothing else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.rules.codes import Code

Scalar = int | float | bool | str
"""A feature or output value; `None` stands for missing."""

HIT_POLICIES = ("unique", "first", "priority", "collect")
AGGREGATES = ("sum", "min", "max", "count")
VALUE_TYPES = ("int", "float", "bool", "str")
OUTPUT_TYPES = ("int", "float", "bool", "str", "list")


@dataclass(frozen=True, order=True)
class Location:
    """Where a node sits in a rule file, as the supervisor's editor shows it (1-based line)."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Finding:
    """One problem in a pack: `file:line: code: message`, an error (pack refused) or a warning."""

    location: Location
    code: Code
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        return f"{self.location}: {self.code}: {self.message}"

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.location.file, self.location.line, self.code, self.message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass(frozen=True)
class UnaryTest:
    """One atomic test on an input value; a condition is an OR of these.

    op: lt le gt ge eq ne (value), in / not_in (values), range (lo, hi with closed ends),
    missing, present, any. Every test but missing/any is false on a missing value.
    """

    op: str
    value: Scalar | None = None
    values: tuple[Scalar, ...] = ()
    lo: float | int | None = None
    hi: float | int | None = None
    lo_closed: bool = True
    hi_closed: bool = True

    def thresholds(self) -> tuple[Scalar, ...]:
        """The constants this test compares with: they split the input's domain into cells."""
        if self.op in ("lt", "le", "gt", "ge", "eq", "ne"):
            return (self.value,)  # type: ignore[return-value]
        if self.op in ("in", "not_in"):
            return self.values
        if self.op == "range":
            return (self.lo, self.hi)  # type: ignore[return-value]
        return ()


@dataclass(frozen=True)
class Condition:
    """A rule's test on one input: true when any of `tests` holds (`text` is what the supervisor wrote)."""

    input: str
    tests: tuple[UnaryTest, ...]
    text: str
    location: Location


@dataclass(frozen=True)
class Rule:
    """One row of a decision table: conditions (all must hold), output values, and why."""

    id: str
    decision: str
    index: int  # position in the decision's table, 0-based
    conditions: tuple[Condition, ...]
    outputs: Mapping[str, Any]
    reason: str
    basis: str
    location: Location
    is_else: bool = False
    enabled: bool = True  # False when a `$param` switch in `when` turns the rule off
    disabled_by: str | None = None
    pack: str = ""  # which pack layer wrote this rule (a child overrides its parent's rules by id)


@dataclass(frozen=True)
class Output:
    """A named result of a decision: a class label, a frequency, a ratio, a task list…"""

    name: str
    type: str  # int | float | bool | str | list
    values: tuple[Scalar, ...] | None  # closed set (for `priority`, ordered: first wins)
    description: str
    location: Location


@dataclass(frozen=True)
class Input:
    """Something a decision reads: a catalogue feature, or an output of an earlier decision."""

    name: str
    type: str  # int | float | bool | str | list
    values: tuple[Scalar, ...] | None  # closed set of possible values (str/bool, or finite numeric outputs)
    nullable: bool
    source: str | None = None  # the decision that produces it; None for a feature
    lower: float | None = None  # known bounds of a numeric feature (counts and days are never negative)
    upper: float | None = None
    domain: tuple[Scalar, ...] | None = None  # the values it can take when finite (labels, outputs of a table)


@dataclass(frozen=True)
class Decision:
    """A decision table: inputs, outputs, rows and the hit policy that turns matching rows into outputs."""

    id: str
    description: str
    hit_policy: str
    aggregate: str | None
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    rules: tuple[Rule, ...]
    location: Location
    depends_on: tuple[str, ...] = ()

    @property
    def else_rule(self) -> Rule | None:
        return next((r for r in self.rules if r.is_else and r.enabled), None)

    def result_type(self, output: Output) -> str:
        """The type of the output after the hit policy (collect gathers lists, counts are ints)."""
        if self.hit_policy != "collect":
            return output.type
        if self.aggregate == "count":
            return "int"
        if self.aggregate in ("sum", "min", "max"):
            return output.type
        return "list"


@dataclass(frozen=True)
class Parameter:
    """A named constant (threshold, ratio, switch) that rules reference as `$param.name`."""

    name: str
    type: str  # int | float | bool | str | list
    value: Any
    comment: str
    location: Location


@dataclass(frozen=True)
class Case:
    """A given/expect test case stored with the pack (tests/*.yaml)."""

    name: str
    given: Mapping[str, Any]
    expect: Mapping[str, Any]
    fired: tuple[str, ...] | None
    location: Location


@dataclass(frozen=True)
class Pack:
    """A checked rule pack, its parents merged in, parameters resolved, decisions in evaluation (DAG) order."""

    name: str
    version: str
    jurisdiction: str
    effective_from: dt.date
    effective_to: dt.date | None
    description: str
    directory: str
    layers: tuple[str, ...]  # pack names from the root ancestor to this pack
    parameters: Mapping[str, Parameter]
    decisions: tuple[Decision, ...]
    cases: tuple[Case, ...] = ()
    hash: str = ""  # under the scheme new ledger entries record (canonical.PACK)
    features: tuple[str, ...] = field(default=())  # catalogue features the pack reads, sorted
    # The data files as read (policy.yaml: the top layer's; catalogue.yaml: the nearest layer's), None if absent.
    data: Mapping[str, Any] = field(default_factory=dict)
    # The pack's hash under every pack scheme (canonical.SCHEMES, role "pack"): an entry recorded under an older
    # scheme is checked against the hash that scheme gives, so it verifies and replays after the scheme changed.
    hashes: Mapping[str, str] = field(default_factory=dict)
    # Decisions on result facts (engine/features/result_facts.py): the follow-ups a recorded result calls for.
    # They never run in grading; `followup_pack()` gives them as a pack of their own for both engines.
    followups: tuple[Decision, ...] = ()
    followup_cases: tuple[Case, ...] = ()

    def followup_pack(self) -> Pack:
        """The follow-up decisions as a pack both engines evaluate on one item's result facts (its hash is
        distinct, so compiled rulesets never mix with the grading decisions')."""
        features = sorted({i.name for d in self.followups for i in d.inputs if i.source is None})
        return dataclasses.replace(
            self,
            decisions=self.followups,
            cases=self.followup_cases,
            features=tuple(features),
            followups=(),
            followup_cases=(),
            hash=f"{self.hash}/followups",
            hashes={},
        )

    def hash_under(self, scheme: str) -> str | None:
        """The pack's hash under `scheme` (None for a name that is not a pack scheme)."""
        return self.hashes.get(scheme)

    def decision(self, decision_id: str) -> Decision:
        for d in self.decisions:
            if d.id == decision_id:
                return d
        raise KeyError(decision_id)

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (the first, in decision order); KeyError if none."""
        return self._rules_by_id[rule_id]

    @functools.cached_property
    def _rules_by_id(self) -> dict[str, Rule]:
        # Built once per pack: callers look rules up per outcome and fired rule (a city's plan: ~145,000 times),
        # and a search of every decision each time cost seconds.
        found: dict[str, Rule] = {}
        for d in self.decisions:
            for r in d.rules:
                found.setdefault(r.id, r)
        return found

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for d in self.decisions for o in d.outputs)

    def in_force(self, as_of: dt.date) -> bool:
        """Whether the pack applies on `as_of` (effective_from ≤ as_of ≤ effective_to)."""
        return self.effective_from <= as_of and (self.effective_to is None or as_of <= self.effective_to)


@dataclass(frozen=True)
class DecisionResult:
    """One decision's outcome for one subject: outputs, the rows whose conditions held, the rows that fired."""

    decision: str
    outputs: Mapping[str, Any]
    matched: tuple[str, ...]  # rule ids whose conditions held (else rows excluded), in table order
    fired: tuple[str, ...]  # rule ids the hit policy selected, in table order
    error: str | None = None  # a UNIQUE violation, or "skipped" because an input decision failed


@dataclass(frozen=True)
class Result:
    """Everything a pack decided for one subject, decisions in evaluation order."""

    decisions: tuple[DecisionResult, ...]

    @property
    def outputs(self) -> dict[str, Any]:
        return {k: v for d in self.decisions for k, v in d.outputs.items()}

    @property
    def fired(self) -> tuple[str, ...]:
        return tuple(r for d in self.decisions for r in d.fired)

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(f"{d.decision}: {d.error}" for d in self.decisions if d.error)

    @property
    def ok(self) -> bool:
        return not any(d.error for d in self.decisions)

    def decision(self, decision_id: str) -> DecisionResult:
        for d in self.decisions:
            if d.decision == decision_id:
                return d
        raise KeyError(decision_id)
