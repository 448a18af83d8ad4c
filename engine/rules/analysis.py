"""DMN table analysis: overlaps, gaps and rows that can never fire, each with an example input.

Every row is a box: for each input, the set of cells (see cells.py) its condition accepts. Two rows overlap
when their boxes intersect on every input; an input region is a gap when no box covers it. Both are computed
exactly over the cells, by splitting the input space one input at a time into the groups of cells that the
same rows accept, so no product of all cells is ever enumerated.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine.rules.cells import Axis, Domain, decision_axes, describe_cells, domain, shown
from engine.rules.codes import Code
from engine.rules.model import Decision, Finding, Rule

Box = tuple[frozenset[int], ...]

MAX_STEPS = 50_000
MAX_GAPS = 3
MAX_OVERLAPS = 10


class _Budget:
    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _OverBudget


# Internal: unwinds the cell enumeration when a table is too large to analyse exactly; analyse() catches it and
# reports an analysis_limit warning instead, so this never leaves the module.
class _OverBudget(Exception):
    pass


@dataclass(frozen=True)
class Analysis:
    """What the checker learnt about one decision: findings, whether every input gets a result, and the
    example inputs behind each overlap and gap (input name -> value, None for missing)."""

    findings: tuple[Finding, ...]
    complete: bool
    overlaps: tuple[tuple[str, str, dict[str, Any]], ...] = ()
    gaps: tuple[dict[str, Any], ...] = ()
    unreachable: tuple[str, ...] = ()


def _uncovered(space: Box, boxes: Sequence[Box], budget: _Budget) -> Iterator[Box]:
    """Yield regions of `space` that none of `boxes` (all inside `space`) covers."""
    budget.spend()
    if not boxes:
        yield space
        return
    if any(b == space for b in boxes):
        return
    axis = next(a for a in range(len(space)) if any(b[a] != space[a] for b in boxes))
    groups: dict[frozenset[int], set[int]] = {}
    for cell in sorted(space[axis]):
        signature = frozenset(i for i, b in enumerate(boxes) if cell in b[axis])
        groups.setdefault(signature, set()).add(cell)
    for signature, cells in sorted(groups.items(), key=lambda kv: min(kv[1])):
        part = frozenset(cells)
        sub = space[:axis] + (part,) + space[axis + 1 :]
        yield from _uncovered(
            sub, [boxes[i][:axis] + (part,) + boxes[i][axis + 1 :] for i in sorted(signature)], budget
        )


def _intersect(a: Box, b: Box) -> Box | None:
    out = tuple(x & y for x, y in zip(a, b, strict=True))
    return None if any(not x for x in out) else out


def _example_env(axes: Sequence[Axis], domains: Sequence[Domain], box: Box) -> dict[str, Any]:
    return {axis.name: dom.examples[min(cells)] for axis, dom, cells in zip(axes, domains, box, strict=True)}


def _example(axes: Sequence[Axis], domains: Sequence[Domain], box: Box) -> str:
    return ", ".join(f"{name}={shown(value)}" for name, value in _example_env(axes, domains, box).items())


def _region(axes: Sequence[Axis], domains: Sequence[Domain], box: Box) -> str:
    parts = [
        f"{axis.name} {describe_cells(axis, cells, dom)}"
        for axis, dom, cells in zip(axes, domains, box, strict=True)
        if cells != dom.cells
    ]
    return " and ".join(parts)


def analyse(decision: Decision) -> Analysis:
    """Overlaps (errors in unique tables), gaps (errors unless an else row catches them), unreachable rows."""
    rows = [r for r in decision.rules if r.enabled and not r.is_else]
    conditions = [c for r in rows for c in r.conditions]
    axes = decision_axes(decision.inputs, conditions)
    domains = [domain(axis, inp) for axis, inp in zip(axes, decision.inputs, strict=True)]
    space: Box = tuple(d.cells for d in domains)
    if any(not cells for cells in space):
        return Analysis((), decision.else_rule is not None)
    findings: list[Finding] = []
    boxes: list[Box | None] = []
    for r in rows:
        box = list(space)
        empty_on: str | None = None
        for c in r.conditions:
            k = next(i for i, inp in enumerate(decision.inputs) if inp.name == c.input)
            box[k] = box[k] & axes[k].condition_cells(c)
            if not box[k] and empty_on is None:
                empty_on = f"no possible value of '{c.input}' satisfies \"{c.text}\""
        if empty_on is not None:
            findings.append(
                Finding(r.location, Code.UNREACHABLE, f"rule '{r.id}' can never match: {empty_on}", "warning")
            )
            boxes.append(None)
        else:
            boxes.append(tuple(box))
    live = [(r, b) for r, b in zip(rows, boxes, strict=True) if b is not None]
    unreachable: list[str] = [r.id for r, b in zip(rows, boxes, strict=True) if b is None]
    overlaps: list[tuple[str, str, dict[str, Any]]] = []
    gap_examples: list[dict[str, Any]] = []
    budget = _Budget(MAX_STEPS)
    complete = True
    try:
        if decision.hit_policy == "unique":
            for finding, pair in _overlaps(decision, live, axes, domains):
                findings.append(finding)
                if pair is not None:
                    overlaps.append(pair)
        elif decision.hit_policy in ("first", "priority"):
            for finding, rule_id in _shadowed(decision, live, budget):
                findings.append(finding)
                unreachable.append(rule_id)
        gaps = list(_first_gaps(space, [b for _, b in live], budget, MAX_GAPS + 1))
        complete = not gaps
        gap_examples = [_example_env(axes, domains, gap) for gap in gaps]
        else_rule = decision.else_rule
        if decision.hit_policy != "collect" and else_rule is None:
            for gap in gaps[:MAX_GAPS]:
                region = _region(axes, domains, gap) or "any input"
                findings.append(
                    Finding(
                        decision.location,
                        Code.GAP,
                        f"decision '{decision.id}': no rule covers {region} (e.g. {_example(axes, domains, gap)}); "
                        "add a rule for it or an else rule",
                    )
                )
            if len(gaps) > MAX_GAPS:
                findings.append(
                    Finding(
                        decision.location,
                        Code.GAP,
                        f"decision '{decision.id}': more uncovered regions follow; add an else rule or fix the ones above",
                    )
                )
        if else_rule is not None:
            if not gaps:
                unreachable.append(else_rule.id)
                findings.append(
                    Finding(
                        else_rule.location,
                        Code.UNREACHABLE,
                        f"else rule '{else_rule.id}' never fires: the rules above cover every input",
                        "warning",
                    )
                )
            complete = True
    except _OverBudget:
        findings.append(
            Finding(
                decision.location,
                Code.ANALYSIS_LIMIT,
                f"decision '{decision.id}' is too large to analyse exactly; overlaps, gaps and unreachable rows were not all checked",
                "warning",
            )
        )
        complete = decision.else_rule is not None
    return Analysis(tuple(findings), complete, tuple(overlaps), tuple(gap_examples), tuple(unreachable))


def _first_gaps(space: Box, boxes: Sequence[Box], budget: _Budget, limit: int) -> Iterator[Box]:
    for n, gap in enumerate(_uncovered(space, boxes, budget)):
        if n >= limit:
            return
        yield gap


def _overlaps(
    decision: Decision, live: Sequence[tuple[Rule, Box]], axes: Sequence[Axis], domains: Sequence[Domain]
) -> Iterator[tuple[Finding, tuple[str, str, dict[str, Any]] | None]]:
    found = 0
    for j, (b_rule, b_box) in enumerate(live):
        for a_rule, a_box in live[:j]:
            both = _intersect(a_box, b_box)
            if both is None:
                continue
            found += 1
            if found > MAX_OVERLAPS:
                yield (
                    Finding(
                        decision.location,
                        Code.OVERLAP,
                        f"decision '{decision.id}': more overlapping rules follow; fix the ones above",
                    ),
                    None,
                )
                return
            finding = Finding(
                b_rule.location,
                Code.OVERLAP,
                f"rules '{a_rule.id}' (line {a_rule.location.line}) and '{b_rule.id}' both match "
                f"{_example(axes, domains, both)}; a unique table needs exactly one match for every input",
            )
            yield finding, (a_rule.id, b_rule.id, _example_env(axes, domains, both))


def _priority(decision: Decision, rule: Rule) -> tuple[int, ...]:
    key = []
    for o in decision.outputs:
        if o.values:
            v = rule.outputs.get(o.name)
            key.append(o.values.index(v) if v in o.values else len(o.values))
    return tuple(key)


def _shadowed(decision: Decision, live: Sequence[tuple[Rule, Box]], budget: _Budget) -> Iterator[tuple[Finding, str]]:
    for j, (rule, box) in enumerate(live):
        if decision.hit_policy == "first":
            winners = [(r, b) for r, b in live[:j]]
            why = "rules above already match every input it matches (hit policy first)"
        else:
            mine = _priority(decision, rule)
            winners = [
                (r, b)
                for k, (r, b) in enumerate(live)
                if k != j and (_priority(decision, r) < mine or (_priority(decision, r) == mine and k < j))
            ]
            why = "rules with a higher priority (or equal and above it) already match every input it matches"
        inside = [x for x in (_intersect(box, b) for _, b in winners) if x is not None]
        if not inside:
            continue
        if next(iter(_uncovered(box, inside, budget)), None) is None:
            names = ", ".join(f"'{r.id}'" for r, b in winners if _intersect(box, b) is not None)
            yield (
                Finding(rule.location, Code.UNREACHABLE, f"rule '{rule.id}' never fires: {names} — {why}", "warning"),
                rule.id,
            )
