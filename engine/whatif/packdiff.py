"""What differs between two rule packs (and their plan policies): decisions, rules, parameters and policy entries,
each added, removed or modified, with readable details. Pure: two packs in, a PackDiff out; no store.

    d = diff_packs(PackSide("old", old_pack, old_policy), PackSide("new", new_pack, new_policy))
    [c.details for c in d.rules]     # ("when penalties_3y: >= 2 → >= 3",)

`suijian rules diff` (engine.whatif.compare) and rule-pack publication (engine.publish) use it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.grading import label_of
from engine.plan import ItemPolicy, PlanPolicy
from engine.rules import Decision, Pack, Parameter, Rule, UnaryTest

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
            "directory": self.directory,
            "name": p.name,
            "version": p.version,
            "hash": p.hash,
            "layers": list(p.layers),
            "effective_from": p.effective_from.isoformat(),
            "effective_to": p.effective_to.isoformat() if p.effective_to else None,
            "policy_hash": self.policy_hash,
        }


def _policy_json(policy: PlanPolicy) -> str:
    return json.dumps(policy.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


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
        out: dict[str, Any] = {
            "kind": self.kind,
            "id": self.id,
            "fields": list(self.fields),
            "details": list(self.details),
            "old": self.old,
            "new": self.new,
        }
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


def plain(value: Any) -> Any:
    """Lists and mappings (tuples, frozen mappings) as plain JSON-like lists and dicts."""
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
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
        "then": plain(dict(rule.outputs)),
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
    return json.dumps(plain(value), sort_keys=True, ensure_ascii=False, default=str)


def _compare_rules(
    old: Rule, new: Rule, params: tuple[Mapping[str, Parameter], Mapping[str, Parameter]], changed_params: set[str]
) -> Change | None:
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
                via.update(
                    p
                    for p in changed_params
                    if p in params[0]
                    and p in params[1]
                    and _canonical(params[0][p].value) == _canonical(a)
                    and _canonical(params[1][p].value) == _canonical(b)
                )
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
    return Change(
        "modified", new.id, new.decision, tuple(fields), tuple(details), ov, nv, str(new.location), tuple(sorted(via))
    )


def _decision_view(d: Decision) -> dict[str, Any]:
    return {
        "description": d.description,
        "hit_policy": d.hit_policy,
        "aggregate": d.aggregate,
        "inputs": [i.name for i in d.inputs],
        "outputs": {o.name: {"type": d.result_type(o), "values": plain(o.values)} for o in d.outputs},
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
            params.append(
                Change(
                    "added",
                    name,
                    old=None,
                    new=plain(b.value),
                    where=str(b.location),
                    details=(f"{b.type} = {shown(b.value)}",),
                )
            )
        elif b is None and a is not None:
            params.append(
                Change(
                    "removed",
                    name,
                    old=plain(a.value),
                    new=None,
                    where=str(a.location),
                    details=(f"{a.type} = {shown(a.value)}",),
                )
            )
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
                params.append(
                    Change(
                        "modified",
                        name,
                        fields=tuple(fields),
                        details=tuple(details),
                        old=plain(a.value),
                        new=plain(b.value),
                        where=str(b.location),
                    )
                )
    changed_params = {c.id for c in params}

    decisions: list[Change] = []
    rules: list[Change] = []
    # Follow-up decisions (result facts) are rules of the pack too: a change to them shows here, though it moves
    # no grade.
    old_all = (*op.decisions, *op.followups)
    new_all = (*np_.decisions, *np_.followups)
    old_decisions = {d.id: d for d in old_all}
    new_decisions = {d.id: d for d in new_all}
    for d in new_all:
        if d.id not in old_decisions:
            decisions.append(
                Change(
                    "added",
                    d.id,
                    d.id,
                    old=None,
                    new=_decision_view(d),
                    where=str(d.location),
                    details=(f"{d.hit_policy}, {len(d.rules)} rules",),
                )
            )
        else:
            change = _compare_decisions(old_decisions[d.id], d)
            if change is not None:
                decisions.append(change)
    for d in old_all:
        if d.id not in new_decisions:
            decisions.append(
                Change(
                    "removed",
                    d.id,
                    d.id,
                    old=_decision_view(d),
                    new=None,
                    where=str(d.location),
                    details=(f"{d.hit_policy}, {len(d.rules)} rules",),
                )
            )

    old_rules = {r.id: r for d in old_all for r in d.rules}
    new_rules = {r.id: r for d in new_all for r in d.rules}
    for rid, rule in new_rules.items():
        if rid not in old_rules:
            view = _rule_view(rule)
            rules.append(
                Change(
                    "added",
                    rid,
                    rule.decision,
                    old=None,
                    new=view,
                    where=str(rule.location),
                    details=(rule_summary(view),),
                )
            )
        else:
            change = _compare_rules(old_rules[rid], rule, (op.parameters, np_.parameters), changed_params)
            if change is not None:
                rules.append(change)
    for rid, rule in old_rules.items():
        if rid not in new_rules:
            view = _rule_view(rule)
            rules.append(
                Change(
                    "removed",
                    rid,
                    rule.decision,
                    old=view,
                    new=None,
                    where=str(rule.location),
                    details=(rule_summary(view),),
                )
            )

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
