"""Why a subject got its classes, frequency and tasks: features, each decision's result, every rule's fate.

The result is durable-rules' (the engine of record); the per-condition detail for rules that did not fire
("why not") comes from the reference interpreter's test semantics, which the differential test holds equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.rules import Pack, durable
from engine.rules.records import normalise
from engine.rules.reference import holds as test_holds  # the reference interpreter's semantics of one test

__all__ = ["ConditionTrace", "DecisionTrace", "RuleTrace", "explain"]


@dataclass(frozen=True)
class ConditionTrace:
    input: str
    text: str
    value: Any
    holds: bool


@dataclass(frozen=True)
class RuleTrace:
    id: str
    reason: str
    basis: str
    location: str
    fired: bool
    matched: bool
    conditions: tuple[ConditionTrace, ...]
    is_else: bool = False
    enabled: bool = True

    @property
    def failed(self) -> tuple[ConditionTrace, ...]:
        return tuple(c for c in self.conditions if not c.holds)


@dataclass(frozen=True)
class DecisionTrace:
    id: str
    description: str
    hit_policy: str
    outputs: Mapping[str, Any]
    error: str | None
    rules: tuple[RuleTrace, ...] = field(default=())

    @property
    def fired(self) -> tuple[RuleTrace, ...]:
        return tuple(r for r in self.rules if r.fired)


def explain(pack: Pack, features: Mapping[str, Any]) -> tuple[dict[str, Any], list[DecisionTrace]]:
    """The features the pack reads (normalised) and a trace per decision, in evaluation order."""
    values = normalise(pack, features)
    result = durable.evaluate(pack, features)
    env: dict[str, Any] = dict(values)
    traces = []
    for decision in pack.decisions:
        d = result.decision(decision.id)
        rules = []
        for rule in decision.rules:
            conds = tuple(
                ConditionTrace(c.input, c.text, env.get(c.input), any(test_holds(t, env.get(c.input)) for t in c.tests))
                for c in rule.conditions
            )
            rules.append(
                RuleTrace(
                    rule.id,
                    rule.reason,
                    rule.basis,
                    str(rule.location),
                    rule.id in d.fired,
                    rule.id in d.matched,
                    conds,
                    rule.is_else,
                    rule.enabled,
                )
            )
        traces.append(
            DecisionTrace(
                decision.id, decision.description, decision.hit_policy, dict(d.outputs), d.error, tuple(rules)
            )
        )
        env.update(d.outputs)
    return dict(values), traces
