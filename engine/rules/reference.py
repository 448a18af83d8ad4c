"""The reference interpreter: what a pack decides for a subject, computed directly in Python.

It reads the same Pack model as the durable-rules adapter but shares none of its evaluation code: it compares
raw values (no cells, no compilation), walks the rows itself and applies the hit policies itself. The
differential property test requires both to agree exactly, which is why either can be trusted.

Semantics (the pack format's contract):
- a condition holds when any of its tests holds; a rule matches when all its conditions hold;
- every test except `missing` and `any` is false on a missing value;
- unique: more than one match is an error; first: the first match; priority: the match whose outputs come
  first in their `values` order (ties: the earlier row); collect: every match in table order, each value
  once, or aggregated (sum, min, max, count);
- the else row fires only when no other row matches; with no match and no else, outputs are missing
  (collect: an empty list, a sum or count of 0);
- a decision that reads a failed decision is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.rules.model import Decision, DecisionResult, Pack, Result, Rule, UnaryTest
from engine.rules.records import normalise


def evaluate(pack: Pack, features: Mapping[str, Any]) -> Result:
    """Every decision of `pack` for one subject's features (missing keys or None mean missing)."""
    env: dict[str, Any] = dict(normalise(pack, features))
    failed: set[str] = set()
    results = []
    for decision in pack.decisions:
        broken = [d for d in decision.depends_on if d in failed]
        if broken:
            result = DecisionResult(
                decision.id,
                {o.name: None for o in decision.outputs},
                (),
                (),
                f"skipped: it reads decision '{broken[0]}', which failed",
            )
        else:
            result = _decide(decision, env)
        if result.error:
            failed.add(decision.id)
        env.update(result.outputs)
        results.append(result)
    return Result(tuple(results))


def evaluate_many(pack: Pack, records: Iterable[Mapping[str, Any]]) -> list[Result]:
    """One Result per record, each computed on its own (the reference does no bucketing)."""
    return [evaluate(pack, r) for r in records]


def holds(test: UnaryTest, value: Any) -> bool:
    """Whether one test of a condition holds for a (normalised) value; None is missing."""
    return _test(test, value)


def _test(test: UnaryTest, value: Any) -> bool:
    op = test.op
    if op == "any":
        return True
    if op == "missing":
        return value is None
    if value is None:
        return False
    if op == "present":
        return True
    if op == "lt":
        return bool(value < test.value)
    if op == "le":
        return bool(value <= test.value)
    if op == "gt":
        return bool(value > test.value)
    if op == "ge":
        return bool(value >= test.value)
    if op == "eq":
        return _same(value, test.value)
    if op == "ne":
        return not _same(value, test.value)
    if op == "in":
        return any(_same(value, v) for v in test.values)
    if op == "not_in":
        return not any(_same(value, v) for v in test.values)
    if op == "range":
        above = value >= test.lo if test.lo_closed else value > test.lo
        below = value <= test.hi if test.hi_closed else value < test.hi
        return bool(above and below)
    raise ValueError(f"unknown test {op}")


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python; a label, a flag and a number are never the same value here.
    return (isinstance(a, bool) == isinstance(b, bool)) and (isinstance(a, str) == isinstance(b, str)) and a == b


def _matches(rule: Rule, env: Mapping[str, Any]) -> bool:
    for condition in rule.conditions:
        value = env.get(condition.input)
        if not any(_test(t, value) for t in condition.tests):
            return False
    return True


def _decide(decision: Decision, env: Mapping[str, Any]) -> DecisionResult:
    live = [r for r in decision.rules if r.enabled]
    matched = [r for r in live if not r.is_else and _matches(r, env)]
    else_rule = next((r for r in live if r.is_else), None)
    ids = tuple(r.id for r in matched)
    policy = decision.hit_policy
    if policy == "unique" and len(matched) > 1:
        return DecisionResult(
            decision.id,
            {o.name: None for o in decision.outputs},
            ids,
            (),
            f"unique violation: rules {', '.join(ids)} all match",
        )
    if matched:
        if policy == "collect":
            chosen = matched
        elif policy == "priority":
            chosen = [min(matched, key=lambda r: (_rank(decision, r), r.index))]
        else:
            chosen = matched[:1]
    else:
        chosen = [else_rule] if else_rule is not None else []
    outputs: dict[str, Any] = {}
    for o in decision.outputs:
        values = [r.outputs[o.name] for r in chosen]
        if policy != "collect":
            outputs[o.name] = values[0] if values else None
        elif decision.aggregate == "count":
            outputs[o.name] = len(chosen)
        elif decision.aggregate == "sum":
            total: Any = 0 if o.type == "int" else 0.0
            for v in values:
                total = total + v
            outputs[o.name] = total
        elif decision.aggregate == "min":
            outputs[o.name] = min(values) if values else None
        elif decision.aggregate == "max":
            outputs[o.name] = max(values) if values else None
        else:
            gathered: list[Any] = []
            for v in values:
                for item in v if o.type == "list" else (v,):
                    if not any(_same(item, g) for g in gathered):
                        gathered.append(item)
            outputs[o.name] = tuple(gathered)
    return DecisionResult(decision.id, outputs, ids, tuple(r.id for r in chosen), None)


def _rank(decision: Decision, rule: Rule) -> tuple[int, ...]:
    ranks = []
    for o in decision.outputs:
        if o.values:
            v = rule.outputs[o.name]
            ranks.append(next((k for k, x in enumerate(o.values) if _same(x, v)), len(o.values)))
    return tuple(ranks)
