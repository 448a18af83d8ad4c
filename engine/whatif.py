"""What a rule-pack change would do, before it takes effect: which decisions, rules, parameters and plan-policy
entries differ, and what follows on the store's subjects as of a date — class migrations, changed frequencies
and task lists, a sample of changed subjects with the rules that fired on each side, and (for a period and a
seed) the plan made with each pack side by side.

    old, new = load_side("rules/national", "old"), load_side("/tmp/national-copy", "new")
    result = compare(conn, old, new, as_of, sample=5, plan=PlanRequest(Period.year(2026), seed))
    result.as_dict()            # the document `suijian rules diff --json` prints; engine.report_html renders it

Read-only: each feature batch is computed once and graded with both packs in memory (engine.grading); nothing
is graded into, or planned into, the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.features.catalogue import CATALOGUE
from engine.features.compute import feature_batches
from engine.grading import Grading, Outcome, label_of, label_order
from engine.plan import ItemPolicy, Period, Plan, PlanPolicy, make_plan
from engine.planning import check_items, history, load_policy, roster
from engine.planning import planning_columns as columns_of
from engine.rules import Decision, Pack, PackError, Parameter, Rule, UnaryTest, load_pack
from entities import codes, store
from entities.errors import InputError
from entities.models import InspectorCreate

MAX_CATEGORIES = 12
"""An output with at most this many distinct values (both packs together) gets a migration matrix."""
DEFAULT_SAMPLE = 5
MISSING = "(missing)"
NONE = "(none)"
_PARAM = re.compile(r"\$param\.([a-z0-9_]+)")


# ── the two sides ────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class PackSide:
    """One side of the comparison: a checked pack, the directory it was read from, and its plan policy."""

    directory: str
    pack: Pack
    policy: PlanPolicy

    @property
    def policy_hash(self) -> str:
        return hashlib.sha256(_policy_json(self.policy).encode("utf-8")).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        p = self.pack
        return {
            "directory": self.directory, "name": p.name, "version": p.version, "hash": p.hash,
            "layers": list(p.layers), "effective_from": p.effective_from.isoformat(),
            "effective_to": p.effective_to.isoformat() if p.effective_to else None, "policy_hash": self.policy_hash,
        }


def _policy_json(policy: PlanPolicy) -> str:
    return json.dumps(policy.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


def load_side(directory: str, role: str) -> PackSide:
    """The pack in `directory` and its policy.yaml; one line naming the side and the first problem otherwise."""
    try:
        pack = load_pack(directory)
        policy = load_policy(pack)
    except PackError as exc:
        raise InputError(f"{role} pack: {exc}") from None
    except InputError as exc:
        raise InputError(f"{role} pack {directory}: {exc}") from None
    return PackSide(directory, pack, policy)


def check_in_force(side: PackSide, role: str, as_of: dt.date) -> None:
    pack = side.pack
    if not pack.in_force(as_of):
        until = pack.effective_to.isoformat() if pack.effective_to else "open-ended"
        raise InputError(
            f"{role} pack {side.directory} ({pack.name} {pack.version}) is in force {pack.effective_from} to {until}, "
            f"not on {as_of}; pass another --as-of"
        )


# ── what differs between the packs ───────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Change:
    """One difference: a decision, rule, parameter or policy entry that was added, removed or modified."""

    kind: str  # added | removed | modified
    id: str  # decision id, rule id, parameter name or policy key (items.TS-SY-01.ratios.B)
    decision: str | None = None
    fields: tuple[str, ...] = ()  # what differs, for a modified one: when, then, reason, value, …
    details: tuple[str, ...] = ()  # the same, readable: "when penalties_3y: >= 2 → >= 3"
    old: Any = None
    new: Any = None
    where: str = ""  # file:line (the new pack's; the old pack's for a removed one)
    parameters: tuple[str, ...] = ()  # changed parameters the rule's conditions read

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id, "fields": list(self.fields),
                               "details": list(self.details), "old": self.old, "new": self.new}
        if self.decision is not None:
            out["decision"] = self.decision
        if self.where:
            out["where"] = self.where
        if self.parameters:
            out["parameters"] = list(self.parameters)
        return out


@dataclass(frozen=True)
class PackDiff:
    decisions: tuple[Change, ...]
    rules: tuple[Change, ...]
    parameters: tuple[Change, ...]
    policy: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not (self.decisions or self.rules or self.parameters or self.policy)


def shown(value: Any) -> str:
    """A value as the report prints it: 30 (not 30.0), true/false, [a, b], — for missing."""
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) + "}"
    return label_of(value)


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


_SYMBOLS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def unary_text(t: UnaryTest) -> str:
    """One resolved test as a supervisor writes it ($param values filled in)."""
    if t.op in _SYMBOLS:
        return f"{_SYMBOLS[t.op]} {shown(t.value)}"
    if t.op in ("in", "not_in"):
        return f"{'in' if t.op == 'in' else 'not in'} {shown(list(t.values))}"
    if t.op == "range":
        return f"{'[' if t.lo_closed else '('}{shown(t.lo)}..{shown(t.hi)}{']' if t.hi_closed else ')'}"
    return t.op  # missing | present | any


def _resolved(tests: Sequence[UnaryTest]) -> str:
    return " or ".join(unary_text(t) for t in tests)


def _condition_text(rule: Rule, name: str) -> str:
    for c in rule.conditions:
        if c.input == name:
            return f"{c.text} (= {_resolved(c.tests)})" if "$param." in c.text else c.text
    return "any"


def _rule_view(rule: Rule) -> dict[str, Any]:
    return {
        "decision": rule.decision,
        "when": {c.input: _condition_text(rule, c.input) for c in rule.conditions},
        "then": _plain(dict(rule.outputs)),
        "reason": rule.reason,
        "basis": rule.basis,
        "else": rule.is_else,
        "enabled": rule.enabled,
        "disabled_by": rule.disabled_by,
        "at": str(rule.location),
    }


def rule_summary(view: Mapping[str, Any]) -> str:
    """A rule in one line: its conditions → its outputs."""
    when = "else" if view["else"] else ("; ".join(f"{k}: {v}" for k, v in view["when"].items()) or "always")
    then = "; ".join(f"{k} = {shown(v)}" for k, v in view["then"].items())
    off = "" if view["enabled"] else f" (switched off: {view['disabled_by']})"
    return f"{when} → {then}{off}"


def _canonical(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, ensure_ascii=False, default=str)


def _compare_rules(old: Rule, new: Rule, params: tuple[Mapping[str, Parameter], Mapping[str, Parameter]],
                   changed_params: set[str]) -> Change | None:
    fields: list[str] = []
    details: list[str] = []
    ov, nv = _rule_view(old), _rule_view(new)
    if old.decision != new.decision:
        fields.append("decision")
        details.append(f"decision: {old.decision} → {new.decision}")
    old_when = {c.input: (c.text, c.tests) for c in old.conditions}
    new_when = {c.input: (c.text, c.tests) for c in new.conditions}
    if old_when != new_when:
        fields.append("when")
        for name in [*old_when, *(n for n in new_when if n not in old_when)]:
            a, b = old_when.get(name), new_when.get(name)
            if a == b:
                continue
            if a is not None and b is not None and a[0] == b[0]:  # same text, another $param value
                details.append(f"when {name}: {_resolved(a[1])} → {_resolved(b[1])}")
            else:
                details.append(f"when {name}: {_condition_text(old, name)} → {_condition_text(new, name)}")
    via: set[str] = set()
    if _canonical(ov["then"]) != _canonical(nv["then"]):
        fields.append("then")
        for name in [*ov["then"], *(n for n in nv["then"] if n not in ov["then"])]:
            a, b = ov["then"].get(name), nv["then"].get(name)
            if _canonical(a) != _canonical(b):
                details.append(f"then {name}: {shown(a)} → {shown(b)}")
                # Outputs arrive with $param values filled in: a changed parameter whose old and new values
                # are exactly the old and new outputs is where the change came from.
                via.update(p for p in changed_params if p in params[0] and p in params[1]
                           and _canonical(params[0][p].value) == _canonical(a)
                           and _canonical(params[1][p].value) == _canonical(b))
    for key in ("reason", "basis"):
        if ov[key] != nv[key]:
            fields.append(key)
            details.append(f"{key}: {ov[key]} → {nv[key]}")
    if old.is_else != new.is_else:
        fields.append("else")
        details.append(f"else row: {'yes' if old.is_else else 'no'} → {'yes' if new.is_else else 'no'}")
    if (old.enabled, old.disabled_by) != (new.enabled, new.disabled_by):
        fields.append("enabled")
        details.append(
            f"switch: {'on' if old.enabled else 'off (' + str(old.disabled_by) + ')'} → "
            f"{'on' if new.enabled else 'off (' + str(new.disabled_by) + ')'}"
        )
    if not fields:
        return None
    via.update(m for c in (*old.conditions, *new.conditions) for m in _PARAM.findall(c.text) if m in changed_params)
    return Change("modified", new.id, new.decision, tuple(fields), tuple(details), ov, nv, str(new.location),
                  tuple(sorted(via)))


def _decision_view(d: Decision) -> dict[str, Any]:
    return {
        "description": d.description,
        "hit_policy": d.hit_policy,
        "aggregate": d.aggregate,
        "inputs": [i.name for i in d.inputs],
        "outputs": {o.name: {"type": d.result_type(o), "values": _plain(o.values)} for o in d.outputs},
        "rules": [r.id for r in d.rules],
        "at": str(d.location),
    }


def _compare_decisions(old: Decision, new: Decision) -> Change | None:
    ov, nv = _decision_view(old), _decision_view(new)
    fields: list[str] = []
    details: list[str] = []
    for key in ("description", "hit_policy", "aggregate", "inputs", "outputs"):
        if _canonical(ov[key]) == _canonical(nv[key]):
            continue
        fields.append(key)
        a, b = ov[key], nv[key]
        if key in ("inputs", "outputs") and set(a) != set(b) and set(a) & set(b):
            # A decision without declared inputs reads what its rules read: name only what came and went.
            gone = [f"−{n}" for n in a if n not in b]
            came = [f"+{n}" for n in b if n not in a]
            details.append(f"{key}: {', '.join(came + gone)}")
        else:
            details.append(f"{key}: {shown(a)} → {shown(b)}")
    common = set(ov["rules"]) & set(nv["rules"])
    old_order = [r for r in ov["rules"] if r in common]
    new_order = [r for r in nv["rules"] if r in common]
    if old_order != new_order:
        # Row order decides `first` and breaks `priority` ties; added or removed rows are listed as rule changes.
        fields.append("order")
        details.append(f"order: {', '.join(old_order)} → {', '.join(new_order)}")
    if not fields:
        return None
    return Change("modified", new.id, new.id, tuple(fields), tuple(details), ov, nv, str(new.location))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k in sorted(value):
            out.update(_flatten(value[k], f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _policy_entries(policy: PlanPolicy, codes_: Iterable[str]) -> dict[str, Any]:
    data = policy.model_dump(mode="json")
    # An item the policy does not name is sampled with ItemPolicy()'s defaults: compare it as that, so naming an
    # item with default values is no change.
    data["items"] = {c: (policy.items.get(c) or ItemPolicy()).model_dump(mode="json") for c in codes_}
    return _flatten(data)


def diff_packs(old: PackSide, new: PackSide) -> PackDiff:
    """Every decision, rule, parameter and plan-policy entry that differs (modified = same id, other content)."""
    op, np_ = old.pack, new.pack
    params: list[Change] = []
    for name in [*op.parameters, *(n for n in np_.parameters if n not in op.parameters)]:
        a, b = op.parameters.get(name), np_.parameters.get(name)
        if a is None and b is not None:
            params.append(Change("added", name, old=None, new=_plain(b.value), where=str(b.location),
                                 details=(f"{b.type} = {shown(b.value)}",)))
        elif b is None and a is not None:
            params.append(Change("removed", name, old=_plain(a.value), new=None, where=str(a.location),
                                 details=(f"{a.type} = {shown(a.value)}",)))
        elif a is not None and b is not None:
            fields, details = [], []
            if a.type != b.type:
                fields.append("type")
                details.append(f"type: {a.type} → {b.type}")
            if _canonical(a.value) != _canonical(b.value):
                fields.append("value")
                details.append(f"value: {shown(a.value)} → {shown(b.value)}")
            if a.comment != b.comment:
                fields.append("comment")
                details.append(f"comment: {a.comment} → {b.comment}")
            if fields:
                params.append(Change("modified", name, fields=tuple(fields), details=tuple(details),
                                     old=_plain(a.value), new=_plain(b.value), where=str(b.location)))
    changed_params = {c.id for c in params}

    decisions: list[Change] = []
    rules: list[Change] = []
    old_decisions = {d.id: d for d in op.decisions}
    new_decisions = {d.id: d for d in np_.decisions}
    for d in np_.decisions:
        if d.id not in old_decisions:
            decisions.append(Change("added", d.id, d.id, old=None, new=_decision_view(d), where=str(d.location),
                                    details=(f"{d.hit_policy}, {len(d.rules)} rules",)))
        else:
            change = _compare_decisions(old_decisions[d.id], d)
            if change is not None:
                decisions.append(change)
    for d in op.decisions:
        if d.id not in new_decisions:
            decisions.append(Change("removed", d.id, d.id, old=_decision_view(d), new=None, where=str(d.location),
                                    details=(f"{d.hit_policy}, {len(d.rules)} rules",)))

    old_rules = {r.id: r for d in op.decisions for r in d.rules}
    new_rules = {r.id: r for d in np_.decisions for r in d.rules}
    for rid, rule in new_rules.items():
        if rid not in old_rules:
            view = _rule_view(rule)
            rules.append(Change("added", rid, rule.decision, old=None, new=view, where=str(rule.location),
                                details=(rule_summary(view),)))
        else:
            change = _compare_rules(old_rules[rid], rule, (op.parameters, np_.parameters), changed_params)
            if change is not None:
                rules.append(change)
    for rid, rule in old_rules.items():
        if rid not in new_rules:
            view = _rule_view(rule)
            rules.append(Change("removed", rid, rule.decision, old=view, new=None, where=str(rule.location),
                                details=(rule_summary(view),)))

    items = sorted(set(old.policy.items) | set(new.policy.items))
    a_pol, b_pol = _policy_entries(old.policy, items), _policy_entries(new.policy, items)
    policy: list[Change] = []
    for key in sorted(set(a_pol) | set(b_pol)):
        a, b = a_pol.get(key), b_pol.get(key)
        if key not in a_pol:
            policy.append(Change("added", key, old=None, new=b, details=(f"— → {shown(b)}",)))
        elif key not in b_pol:
            policy.append(Change("removed", key, old=a, new=None, details=(f"{shown(a)} → —",)))
        elif _canonical(a) != _canonical(b):
            policy.append(Change("modified", key, old=a, new=b, details=(f"{shown(a)} → {shown(b)}",)))
    return PackDiff(tuple(decisions), tuple(rules), tuple(params), tuple(policy))


# ── what the subjects get from each pack ─────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class OutputChange:
    """One output across the population: its values under each pack, how many subjects' values changed, and how.

    Scalar outputs with few values (classes, grades, levels, frequencies) get a migration matrix; list outputs (task
    lists, mandatory items) count each item, and the subjects that gain or lose it."""

    name: str
    decision: str
    label: str  # what the output means, in the pack's words
    type: str
    changed: int
    old: Mapping[str, int]  # value (list outputs: item) → subjects
    new: Mapping[str, int]
    matrix: tuple[tuple[str, str, int], ...] | None = None  # (old value, new value, subjects), categorical only
    up: int = 0  # numeric outputs: subjects whose value rose / fell
    down: int = 0
    items: tuple[dict[str, Any], ...] = ()  # list outputs: {item, old, new, gained, lost}

    @property
    def categorical(self) -> bool:
        return self.matrix is not None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "decision": self.decision, "label": self.label, "type": self.type,
            "changed": self.changed, "old": dict(self.old), "new": dict(self.new),
        }
        if self.matrix is not None:
            out["matrix"] = [{"old": a, "new": b, "subjects": n} for a, b, n in self.matrix]
        if self.type in ("int", "float"):
            out.update(up=self.up, down=self.down)
        if self.type == "list":
            out["items"] = [dict(i) for i in self.items]
        return out


@dataclass(frozen=True)
class SampleSubject:
    """A changed subject: its outputs under each pack, and per changed decision the rules that fired and why."""

    uscc: str
    name: str
    changes: tuple[dict[str, Any], ...]  # {output, old, new}
    decisions: tuple[dict[str, Any], ...]  # {decision, description, old: {outputs, fired}, new: {…}}
    features: Mapping[str, Any]  # the features the fired rules of those decisions read

    def as_dict(self) -> dict[str, Any]:
        return {"uscc": self.uscc, "name": self.name, "changes": list(self.changes),
                "decisions": list(self.decisions), "features": dict(self.features)}


@dataclass(frozen=True)
class PlanRequest:
    period: Period
    seed: str


@dataclass(frozen=True)
class WhatIf:
    """The whole comparison, as `suijian rules diff` reports it."""

    as_of: dt.date
    old: PackSide
    new: PackSide
    regions: tuple[str, ...]
    subjects: int
    diff: PackDiff
    outputs: tuple[OutputChange, ...]
    changed_subjects: int  # any output differs
    fired_changed: int  # the fired rules differ (whether or not an output does)
    errors: tuple[int, int]  # subjects with a rule-pack error (a unique table with two matches), old and new
    fired: tuple[Mapping[str, int], Mapping[str, int]]  # rule id → subjects it fired for, old and new
    sample: tuple[SampleSubject, ...]
    sample_size: int
    plan: dict[str, Any] | None = None  # plan_impact(), when a period and seed were given
    plans: tuple[Plan, Plan] | None = None  # the plans themselves (old, new); not part of the document

    def as_dict(self) -> dict[str, Any]:
        def rule_dict(c: Change) -> dict[str, Any]:
            d = c.as_dict()
            d["fired"] = {"old": self.fired[0].get(c.id, 0) if c.old is not None else None,
                          "new": self.fired[1].get(c.id, 0) if c.new is not None else None}
            return d

        return {
            "format": "suijian.rules-diff/1",
            "as_of": self.as_of.isoformat(),
            "old": self.old.as_dict(),
            "new": self.new.as_dict(),
            "regions": list(self.regions),
            "subjects": self.subjects,
            "changes": {
                "decisions": [c.as_dict() for c in self.diff.decisions],
                "rules": [rule_dict(c) for c in self.diff.rules],
                "parameters": [c.as_dict() for c in self.diff.parameters],
                "policy": [c.as_dict() for c in self.diff.policy],
            },
            "outputs": [o.as_dict() for o in self.outputs],
            "changed_subjects": self.changed_subjects,
            "fired_changed_subjects": self.fired_changed,
            "subjects_with_errors": {"old": self.errors[0], "new": self.errors[1]},
            "sample_size": self.sample_size,
            "sample": [s.as_dict() for s in self.sample],
            "plan": self.plan,
        }


def _value_key(value: Any) -> Any:
    """What makes two values of one output equal: lists as sets of labels, scalars by label (30 == 30.0)."""
    if isinstance(value, list | tuple):
        return tuple(sorted({label_of(v) for v in value}))
    return MISSING if value is None else label_of(value)


def _differs(a: Outcome, b: Outcome, names: Sequence[str]) -> bool:
    return any(_value_key(a.outputs.get(n)) != _value_key(b.outputs.get(n)) for n in names)


def _output_meta(old: Pack, new: Pack) -> list[tuple[str, str, str, str]]:
    """(output, decision, label, type) for every output of either pack: the new pack's order, then removed ones."""
    seen: dict[str, tuple[str, str, str, str]] = {}
    for pack in (new, old):
        for d in pack.decisions:
            for o in d.outputs:
                if o.name not in seen:
                    text = o.description or (d.description if len(d.outputs) == 1 else "") or o.name
                    seen[o.name] = (o.name, d.id, text, d.result_type(o))
    return list(seen.values())


def _summarise_outputs(pairs: Counter[tuple[int, int]], old: Grading, new: Grading) -> list[OutputChange]:
    result = []
    for name, decision, text, type_ in _output_meta(old.pack, new.pack):
        old_dist: Counter[str] = Counter()
        new_dist: Counter[str] = Counter()
        matrix: Counter[tuple[str, str]] = Counter()
        gained: Counter[str] = Counter()
        lost: Counter[str] = Counter()
        changed = up = down = 0
        for (a, b), n in pairs.items():
            va, vb = old.outcomes[a].outputs.get(name), new.outcomes[b].outputs.get(name)
            ka, kb = _value_key(va), _value_key(vb)
            if ka != kb:
                changed += n
            if type_ == "list":
                sa_, sb = (set(k) if isinstance(k, tuple) else set() for k in (ka, kb))
                for item in sa_ or {NONE}:
                    old_dist[item] += n
                for item in sb or {NONE}:
                    new_dist[item] += n
                for item in sb - sa_:
                    gained[item] += n
                for item in sa_ - sb:
                    lost[item] += n
                continue
            old_dist[str(ka)] += n
            new_dist[str(kb)] += n
            matrix[(str(ka), str(kb))] += n
            if _is_number(va) and _is_number(vb):
                up += n if vb > va else 0
                down += n if vb < va else 0

        def ordered(c: Counter[str]) -> dict[str, int]:
            return dict(sorted(c.items(), key=lambda kv: label_order(kv[0])))

        labels = sorted(set(old_dist) | set(new_dist), key=label_order)
        if type_ == "list":
            items = tuple(
                {"item": i, "old": old_dist.get(i, 0), "new": new_dist.get(i, 0), "gained": gained.get(i, 0),
                 "lost": lost.get(i, 0)}
                for i in labels
            )
            result.append(OutputChange(name, decision, text, type_, changed, ordered(old_dist), ordered(new_dist),
                                       items=items))
            continue
        cells = None
        if len(labels) <= MAX_CATEGORIES:
            rank = {v: i for i, v in enumerate(labels)}
            cells = tuple((a, b, n) for (a, b), n in sorted(matrix.items(), key=lambda kv: (rank[kv[0][0]], rank[kv[0][1]])))
        result.append(OutputChange(name, decision, text, type_, changed, ordered(old_dist), ordered(new_dist),
                                   matrix=cells, up=up, down=down))
    return result


def _is_number(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fired_in(pack: Pack, outcome: Outcome, decision: str) -> list[dict[str, str]]:
    out = []
    for rid in outcome.fired:
        rule = pack.rule(rid)
        if rule.decision == decision:
            out.append({"id": rid, "reason": rule.reason, "at": str(rule.location)})
    return out


def _sample_subject(uscc: str, name: str, row: Mapping[str, Any], a: Outcome, b: Outcome,
                    old: Pack, new: Pack) -> SampleSubject:
    changes = []
    for output, _, _, _ in _output_meta(old, new):
        va, vb = a.outputs.get(output), b.outputs.get(output)
        if _value_key(va) != _value_key(vb):
            changes.append({"output": output, "old": _sorted_plain(va), "new": _sorted_plain(vb)})
    decisions = []
    read: list[str] = []
    old_d = {d.id: d for d in old.decisions}
    new_d = {d.id: d for d in new.decisions}
    for did in [*new_d, *(d for d in old_d if d not in new_d)]:
        both = [d for d in (new_d.get(did), old_d.get(did)) if d is not None]
        names = list(dict.fromkeys(o.name for d in both for o in d.outputs))
        fa = _fired_in(old, a, did) if did in old_d else []
        fb = _fired_in(new, b, did) if did in new_d else []
        if not _differs(a, b, names) and [f["id"] for f in fa] == [f["id"] for f in fb]:
            continue
        decisions.append({
            "decision": did,
            "description": both[0].description,
            "old": {"outputs": {n: _sorted_plain(a.outputs.get(n)) for n in names}, "fired": fa},
            "new": {"outputs": {n: _sorted_plain(b.outputs.get(n)) for n in names}, "fired": fb},
        })
        for pack, fired in ((old, fa), (new, fb)):
            for f in fired:
                for c in pack.rule(f["id"]).conditions:
                    if c.input in CATALOGUE and c.input not in read:
                        read.append(c.input)
    features = {n: row.get(n) for n in sorted(read)}
    return SampleSubject(uscc, name, tuple(changes), tuple(decisions), features)


def _sorted_plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return sorted((_plain(v) for v in value), key=str)
    return value


# ── plans from in-memory outcomes ────────────────────────────────────────────────────────────────────────────


def planning_columns(grading: Grading) -> pl.DataFrame:
    """Per outcome the columns a plan reads, as engine.planning builds them from a stored grade run."""
    return columns_of(grading.pack, ((o.id, o.outputs, o.fired) for o in grading.outcomes))


def subjects_frame(features: pl.DataFrame, info: pl.DataFrame, outcome_ids: np.ndarray, grading: Grading,
                   role: str) -> pl.DataFrame:
    """One row per subject — features, region/name/address, the pack's planning outputs — from in-memory outcomes
    (engine.planning.subjects_for_plan builds the same frame from a stored grade run)."""
    results = pl.DataFrame({"uscc": features.get_column("uscc"), "_outcome": outcome_ids.astype(np.int64)})
    graded = results.join(planning_columns(grading), on="_outcome", how="left").drop("_outcome")
    missing = graded.get_column("credit_class").null_count()
    if missing:
        raise InputError(
            f"the {role} pack leaves {missing:,} subjects without a credit_class; a plan needs credit_class from "
            "every subject"
        )
    return features.join(info, on="uscc", how="inner").join(graded, on="uscc", how="inner").sort("uscc")


def _subject_info(conn: Connection, usccs: Sequence[str] | None) -> pl.DataFrame:
    s = store.table("subject")
    stmt = sa.select(s.c.uscc, s.c.region, s.c.name, s.c.address)
    schema = {"uscc": pl.String, "region": pl.String, "name": pl.String, "address": pl.String}
    if usccs is None:
        return pl.DataFrame(conn.execute(stmt).all(), schema=schema, orient="row")
    rows: list[Any] = []
    for i in range(0, len(usccs), 900):
        rows.extend(conn.execute(stmt.where(s.c.uscc.in_(usccs[i:i + 900]))).all())
    return pl.DataFrame(rows, schema=schema, orient="row")


_PLAN_METRICS: tuple[tuple[str, str, str], ...] = (
    ("visits", "needed", "需要的入企检查 visits needed"),
    ("visits", "planned", "已安排入企检查 visits planned"),
    ("visits", "with_mandatory_items", "含必查事项的检查 visits with mandatory items"),
    ("visits", "subject_items", "主体-事项 subject-items"),
    ("team_load", "inspector_visits", "人员检查户次 inspector-visits"),
    ("team_load", "capacity", "人员能力 capacity"),
    ("team_load", "full", "满负荷人员 inspectors at capacity"),
    ("mandatory_coverage", "subjects_required", "必查主体 subjects with mandatory items"),
    ("mandatory_coverage", "subjects_fully_planned", "必查全部安排 mandatory fully planned"),
    ("mandatory_coverage", "subjects_partly_or_not_planned", "必查未全部安排 mandatory partly or not planned"),
    ("uncovered", "visits", "未覆盖入企检查 uncovered visits"),
    ("uncovered", "entries", "未覆盖记录 uncovered entries (a visit or some of its items)"),
    ("uncovered", "subject_items", "未覆盖主体-事项 uncovered subject-items"),
    ("uncovered", "mandatory_subject_items", "未覆盖必查事项 uncovered mandatory subject-items"),
    ("unstaffed", "entries", "无法组队记录 unstaffed entries (no valid team)"),
    ("repeat_visits", "rate", "重复入企率 repeat-visit rate"),
    ("repeat_visits", "random_rate", "随机事项重复入企率 repeat rate, random items"),
)


def _item_figures(summary: Mapping[str, Any], code: str) -> dict[str, Any] | None:
    for item in summary["items"]:
        if item["code"] == code:
            planned = summary["mandatory_coverage"]["items"].get(code, {}).get("planned", 0)
            return {
                "population": item["population"], "excluded": item["excluded"], "eligible": item["eligible"],
                "quota": item["quota"], "drawn": item["drawn_count"], "mandatory_required": item["mandatory_required"],
                "mandatory_planned": planned,
            }
    return None


def _strata(summary: Mapping[str, Any], code: str) -> dict[str, dict[str, Any]]:
    for item in summary["items"]:
        if item["code"] == code:
            return {s["stratum"]: s for s in item["strata"]}
    return {}


def plan_impact(old: Plan, new: Plan, inspectors: Sequence[InspectorCreate], regions_of: Mapping[str, str],
                region_names: Mapping[str, str]) -> dict[str, Any]:
    """The two plans side by side: visits, load against capacity, mandatory coverage, uncovered work, repeat rate,
    quotas per item (and per stratum where they differ), visits per region and load per inspectors' unit."""
    a, b = old.summary(), new.summary()
    for summary, plan in ((a, old), (b, new)):  # entries count a visit once per dropped part: also count visits
        summary["uncovered"]["visits"] = len({d.visit for d in plan.uncovered})
    metrics = [
        {"key": f"{group}.{key}", "label": text, "old": a[group][key], "new": b[group][key]}
        for group, key, text in _PLAN_METRICS
    ]
    items = []
    names = {i["code"]: i["name"] for i in (*a["items"], *b["items"])}
    for code in sorted(names):
        fa, fb = _item_figures(a, code), _item_figures(b, code)
        entry: dict[str, Any] = {"code": code, "name": names[code], "old": fa, "new": fb, "changed": fa != fb}
        sa_, sb = _strata(a, code), _strata(b, code)
        entry["strata"] = [
            {"stratum": s,
             "old": {"population": sa_[s]["population"], "ratio": sa_[s]["ratio"], "quota": sa_[s]["quota"]} if s in sa_ else None,
             "new": {"population": sb[s]["population"], "ratio": sb[s]["ratio"], "quota": sb[s]["quota"]} if s in sb else None}
            for s in sorted(set(sa_) | set(sb))
            if (sa_.get(s) or {}).get("quota") != (sb.get(s) or {}).get("quota")
            or (sa_.get(s) or {}).get("ratio") != (sb.get(s) or {}).get("ratio")
        ]
        items.append(entry)

    per_region: dict[str, Counter[str]] = {}
    for side, plan in (("old", old), ("new", new)):
        for v in plan.visits:
            per_region.setdefault(v.region, Counter())[f"{side}_planned"] += 1
        for d in (*plan.uncovered, *plan.unstaffed):
            if d.code != "status":
                per_region.setdefault(regions_of.get(d.uscc, ""), Counter())[f"{side}_not_planned"] += 1
    regions = [
        {"code": code, "name": region_names.get(code, ""), **{
            k: per_region[code].get(k, 0) for k in ("old_planned", "new_planned", "old_not_planned", "new_not_planned")}}
        for code in sorted(per_region)
    ]

    unit_of = {i.id: i.unit for i in inspectors}
    units: dict[str, Counter[str]] = {}
    for side, plan in (("old", old), ("new", new)):
        for t in plan.team_load:
            if t.expert:
                continue
            u = units.setdefault(unit_of.get(t.id, "?"), Counter())
            u[f"{side}_visits"] += t.visits
            u[f"{side}_capacity"] += t.capacity
            if side == "old":
                u["inspectors"] += 1
    unit_rows = [
        {"unit": name, **{k: units[name].get(k, 0)
                          for k in ("inspectors", "old_visits", "new_visits", "old_capacity", "new_capacity")}}
        for name in sorted(units)
    ]
    old_visited = {v.uscc for v in old.visits}
    new_visited = {v.uscc for v in new.visits}
    return {
        "period": {"label": old.period.label, "start": old.period.start.isoformat(), "end": old.period.end.isoformat()},
        "seed": old.seed,
        "metrics": metrics,
        "items": items,
        "regions": regions,
        "units": unit_rows,
        "subjects": {"visited_old": len(old_visited), "visited_new": len(new_visited),
                     "only_old": len(old_visited - new_visited), "only_new": len(new_visited - old_visited)},
    }


# ── the comparison ───────────────────────────────────────────────────────────────────────────────────────────


def _region_usccs(conn: Connection, regions: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    chosen = []
    for r in regions:
        try:
            chosen.append(codes.normalise_region(r))
        except ValueError as exc:
            raise InputError(str(exc)) from None
    chosen = sorted(set(chosen))
    known = store.existing_values(conn, "region", "code", chosen)
    bad = [c for c in chosen if c not in known]
    if bad:
        raise InputError(f"unknown region {bad[0]} (not in the region table); check the GB/T 2260 code")
    s = store.table("subject")
    cond = sa.or_(*(s.c.region.startswith(codes.region_prefix(c)) for c in chosen))
    usccs = [u for (u,) in conn.execute(sa.select(s.c.uscc).where(cond).order_by(s.c.uscc))]
    if not usccs:
        raise InputError(f"no subject in region {', '.join(chosen)}; check --region")
    return tuple(chosen), usccs


def compare(
    conn: Connection,
    old: PackSide,
    new: PackSide,
    as_of: dt.date,
    *,
    regions: Sequence[str] | None = None,
    sample: int = DEFAULT_SAMPLE,
    plan: PlanRequest | None = None,
    batch_size: int = 200_000,
    on_batch: Callable[[int], None] | None = None,
    url: str | None = None,
    workers: int = 1,
) -> WhatIf:
    """Grade the store's subjects (in `regions`, if given) as of `as_of` with both packs and compare; with `plan`,
    also make the period's plan with each pack's outcomes and policy. Reads the store, writes nothing.

    With `workers` > 1 and the store's `url`, feature batches are computed in that many processes (as `suijian
    grade` does for large stores); the result is the same."""
    check_in_force(old, "old", as_of)
    check_in_force(new, "new", as_of)
    diff = diff_packs(old, new)
    chosen: tuple[str, ...] = ()
    usccs: list[str] | None = None
    if regions:
        chosen, usccs = _region_usccs(conn, regions)
    if plan is not None:  # refused before any feature is computed
        items = check_items(conn)
        inspectors, conflicts = roster(conn)
        past = history(conn, as_of)

    go, gn = Grading(old.pack, as_of), Grading(new.pack, as_of)
    names = [n for n, _, _, _ in _output_meta(old.pack, new.pack)]
    pairs: Counter[tuple[int, int]] = Counter()
    differs: dict[tuple[int, int], bool] = {}
    candidates: list[tuple[str, int, int, dict[str, Any]]] = []
    frames: list[pl.DataFrame] = []
    ids_old: list[np.ndarray] = []
    ids_new: list[np.ndarray] = []
    for frame in feature_batches(conn, as_of, batch_size=batch_size, usccs=usccs, url=url, workers=workers):
        a, b = go.grade_frame(frame), gn.grade_frame(frame)
        if frame.height == 0:
            continue
        keys = (a.astype(np.int64) << 32) | b.astype(np.int64)
        uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        flags = np.zeros(len(uniq), dtype=bool)
        for k, (key, n) in enumerate(zip(uniq.tolist(), counts.tolist(), strict=True)):
            pair = (key >> 32, key & 0xFFFFFFFF)
            pairs[pair] += n
            if pair not in differs:
                differs[pair] = _differs(go.outcomes[pair[0]], gn.outcomes[pair[1]], names)
            flags[k] = differs[pair]
        if sample:
            usccs_in_batch = frame.get_column("uscc")
            for r in np.flatnonzero(flags[inverse])[:sample].tolist():
                candidates.append((usccs_in_batch[r], int(a[r]), int(b[r]), frame.row(r, named=True)))
        if plan is not None:
            frames.append(frame)
            ids_old.append(a)
            ids_new.append(b)
        if on_batch is not None:
            on_batch(frame.height)
    subjects = sum(pairs.values())
    if subjects == 0:
        raise InputError("no subjects to compare: the store holds none; import them or run `suijian demo`")

    outputs = _summarise_outputs(pairs, go, gn)
    changed = sum(n for pair, n in pairs.items() if differs[pair])
    fired_changed = sum(
        n for (a_, b_), n in pairs.items() if sorted(go.outcomes[a_].fired) != sorted(gn.outcomes[b_].fired)
    )
    errors = (sum(n for (a_, _), n in pairs.items() if go.outcomes[a_].errors),
              sum(n for (_, b_), n in pairs.items() if gn.outcomes[b_].errors))
    fired_old: Counter[str] = Counter()
    fired_new: Counter[str] = Counter()
    for (a_, b_), n in pairs.items():
        for rid in go.outcomes[a_].fired:
            fired_old[rid] += n
        for rid in gn.outcomes[b_].fired:
            fired_new[rid] += n

    candidates.sort(key=lambda c: c[0])
    chosen_sample = candidates[:sample]
    info = _subject_info(conn, [c[0] for c in chosen_sample]) if chosen_sample else None
    name_of = dict(zip(info.get_column("uscc"), info.get_column("name"), strict=True)) if info is not None else {}
    sampled = tuple(
        _sample_subject(u, name_of.get(u, ""), row, go.outcomes[a_], gn.outcomes[b_], old.pack, new.pack)
        for u, a_, b_, row in chosen_sample
    )

    impact = None
    plans: list[Plan] = []
    if plan is not None:
        features = pl.concat(frames, how="vertical")
        everyone = _subject_info(conn, usccs)
        for role, side, grading, ids in (("old", old, go, ids_old), ("new", new, gn, ids_new)):
            frame = subjects_frame(features, everyone, np.concatenate(ids), grading, role)
            try:
                plans.append(make_plan(frame, items, side.policy, inspectors, conflicts, past, seed=plan.seed,
                                       period=plan.period, as_of=as_of, regions=list(chosen) or None))
            except InputError as exc:
                raise InputError(f"{role} pack {side.directory}: {exc}") from None
        dropped = {d.uscc for p in plans for d in (*p.uncovered, *p.unstaffed)}
        regions_of = dict(everyone.filter(pl.col("uscc").is_in(sorted(dropped))).select("uscc", "region").iter_rows())
        r = store.table("region")
        region_names = {c: n for c, n in conn.execute(sa.select(r.c.code, r.c.name))}
        impact = plan_impact(plans[0], plans[1], inspectors, regions_of, region_names)

    return WhatIf(
        as_of=as_of, old=old, new=new, regions=chosen, subjects=subjects, diff=diff, outputs=tuple(outputs),
        changed_subjects=changed, fired_changed=fired_changed, errors=errors,
        fired=(dict(sorted(fired_old.items())), dict(sorted(fired_new.items()))),
        sample=sampled, sample_size=sample, plan=impact, plans=(plans[0], plans[1]) if plans else None,
    )


__all__ = [
    "DEFAULT_SAMPLE",
    "MAX_CATEGORIES",
    "Change",
    "OutputChange",
    "PackDiff",
    "PackSide",
    "PlanRequest",
    "SampleSubject",
    "WhatIf",
    "check_in_force",
    "compare",
    "diff_packs",
    "load_side",
    "plan_impact",
    "planning_columns",
    "rule_summary",
    "shown",
    "subjects_frame",
    "unary_text",
]

