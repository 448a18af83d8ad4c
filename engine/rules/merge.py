"""Merge a pack's layers, root ancestor first: parameters (a child overrides a parent's value, same type) and
decision tables (a child replaces a parent's rule by id in place, adds rules before the parent's else rule or
where `before:`/`after:` says, and adds decisions).

The result is raw: rules still hold their YAML, untyped; typecheck.py turns it into the model. Parameters are
typed here already, because a child's override must have its parent's type.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.rules import conditions as cond
from engine.rules.codes import Code
from engine.rules.conditions import ConditionError, did_you_mean
from engine.rules.findings import Findings
from engine.rules.model import Location
from engine.rules.read import MANIFEST, Layer
from engine.rules.yamlio import LineDict, LineList

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
"""Decision ids, output and parameter names: lower_snake_case, so a condition can name them unquoted."""
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

DECISION_FIELDS = {
    "id": True,
    "description": True,
    "hit_policy": True,
    "aggregate": False,
    "inputs": False,
    "outputs": True,
    "rules": True,
}
_OVERRIDE_FIELDS = {"id": True, "description": False, "rules": True}
_RULE_FIELDS = {
    "id": True,
    "when": False,
    "then": True,
    "else": False,
    "reason": True,
    "basis": True,
    "before": False,
    "after": False,
}
_PARAM_FIELDS = {"type": False, "default": True, "comment": False}
PARAM_TYPES = ("int", "float", "bool", "str", "list")


@dataclass
class RawParam:
    """A parameter after merging: its type and typed value, and where the value was last set."""

    name: str
    type: str
    value: Any
    comment: str
    location: Location


@dataclass
class RawRule:
    """A rule as written (its YAML in `data`), with the pack layer that wrote it."""

    id: str
    data: LineDict
    location: Location
    pack: str
    is_else: bool


@dataclass
class RawDecision:
    """A decision table after merging: the declaring layer's YAML and the merged, ordered rules."""

    id: str
    data: LineDict
    location: Location
    pack: str
    description: str
    rules: list[RawRule] = field(default_factory=list)


def merge_parameters(layers: list[Layer], log: Findings) -> dict[str, RawParam]:
    """Every parameter of the pack, a child's value over its parent's; problems go to `log`."""
    return _Merger(log).merge_parameters(layers)


def merge_decisions(layers: list[Layer], log: Findings) -> tuple[list[RawDecision], set[str]]:
    """(the merged decisions in declaration order, ids of decisions with an error of their own)."""
    merger = _Merger(log)
    return merger.merge_decisions(layers), merger.tainted


class _Merger:
    def __init__(self, log: Findings) -> None:
        self.log = log
        # Decisions with an error of their own: not analysed for gaps and overlaps (it would mislead).
        self.tainted: set[str] = set()

    def merge_parameters(self, layers: list[Layer]) -> dict[str, RawParam]:
        params: dict[str, RawParam] = {}
        for layer in layers:
            if layer.manifest is None or layer.manifest.get("parameters") is None:
                continue
            file = os.path.join(layer.display, MANIFEST)
            block = layer.manifest["parameters"]
            if not isinstance(block, LineDict):
                self.log.add(
                    file,
                    layer.manifest.value_line("parameters"),
                    Code.NOT_MAPPING,
                    "parameters must map names to {type, default, comment}",
                )
                continue
            for name, spec in block.items():
                line = block.key_line(name)
                if not isinstance(name, str) or not NAME.match(name):
                    self.log.add(
                        file,
                        line,
                        Code.BAD_ID,
                        f"parameter name {name!r} must be lower_snake_case (a-z, 0-9, _)",
                    )
                    continue
                self.parameter(params, name, spec, block, file, line)
        return params

    def parameter(
        self, params: dict[str, RawParam], name: str, spec: Any, block: LineDict, file: str, line: int
    ) -> None:
        inherited = params.get(name)
        comment = inherited.comment if inherited else ""
        if isinstance(spec, LineDict):
            self.log.fields(spec, file, _PARAM_FIELDS, f"parameter '{name}'")
            if "default" not in spec:
                return
            type_ = spec.get("type")
            value = spec.get("default")
            if spec.get("comment") is not None:
                comment = str(spec["comment"]).strip()
            value_line = spec.value_line("default")
        elif isinstance(spec, (LineList, dict)) and not isinstance(spec, LineList):
            self.log.add(
                file, line, Code.NOT_MAPPING, f"parameter '{name}' must be a value or {{type, default, comment}}"
            )
            return
        else:
            type_, value, value_line = None, spec, block.value_line(name)
        if type_ is None:
            type_ = inherited.type if inherited else _infer_type(value)
        if type_ not in PARAM_TYPES:
            hint = did_you_mean(str(type_), list(PARAM_TYPES))
            self.log.add(
                file,
                line,
                Code.UNKNOWN_TYPE,
                f"parameter '{name}': type must be one of {', '.join(PARAM_TYPES)}, got {type_!r}{hint}",
            )
            return
        if inherited and inherited.type != type_:
            self.log.add(
                file,
                line,
                Code.TYPE_ERROR,
                f"parameter '{name}' is {inherited.type} in the parent pack, not {type_}",
            )
            return
        try:
            typed = _param_value(name, type_, value)
        except ConditionError as exc:
            self.log.add(file, value_line, exc.code, exc.message)
            return
        params[name] = RawParam(name, type_, typed, comment, Location(file, line))

    # -- decisions: read each layer, merge children into parents ------------------------------------------------

    def merge_decisions(self, layers: list[Layer]) -> list[RawDecision]:
        merged: dict[str, RawDecision] = {}
        rule_owner: dict[str, str] = {}
        for layer in layers:
            inherited = set(merged)
            layer_decisions: dict[str, Location] = {}
            layer_rules: dict[str, Location] = {}
            for file, data in layer.files:
                for entry, loc in self.decision_entries(file, data):
                    before = len(self.log)
                    self._merge_entry(
                        entry, loc, file, layer, merged, inherited, rule_owner, layer_decisions, layer_rules
                    )
                    if len(self.log) > before and isinstance(entry.get("id"), str):
                        self.tainted.add(entry["id"])
        return list(merged.values())

    def _merge_entry(
        self,
        entry: LineDict,
        loc: Location,
        file: str,
        layer: Layer,
        merged: dict[str, RawDecision],
        inherited: set[str],
        rule_owner: dict[str, str],
        layer_decisions: dict[str, Location],
        layer_rules: dict[str, Location],
    ) -> None:
        ident = entry.get("id")
        if not isinstance(ident, str) or not ident.strip():
            self.log.fields(entry, file, DECISION_FIELDS, "a decision")
            return
        if not NAME.match(ident):
            self.log.add(
                file,
                entry.value_line("id"),
                Code.BAD_ID,
                f"decision id {ident!r} must be lower_snake_case (a-z, 0-9, _)",
            )
            return
        if ident in layer_decisions:
            first = layer_decisions[ident]
            self.log.add(file, loc.line, Code.DUPLICATE_ID, f"decision id '{ident}' is already used at {first}")
            return
        layer_decisions[ident] = loc
        if ident in inherited:
            self.log.fields(
                entry,
                file,
                _OVERRIDE_FIELDS,
                f"decision '{ident}' (inherited: a child pack can only replace or add its rules)",
            )
            target = merged[ident]
            if isinstance(entry.get("description"), str):
                target.description = entry["description"].strip()
        else:
            self.log.fields(entry, file, DECISION_FIELDS, "decision", ident)
            description = entry.get("description")
            target = RawDecision(
                ident, entry, loc, layer.name, description.strip() if isinstance(description, str) else ""
            )
            merged[ident] = target
        self.merge_rules(target, entry, file, layer, ident in inherited, rule_owner, layer_rules)

    def decision_entries(self, file: str, data: Any) -> Iterable[tuple[LineDict, Location]]:
        if data is None:
            return
        if not isinstance(data, LineDict):
            self.log.add(
                file,
                getattr(data, "line", 1),
                Code.NOT_MAPPING,
                "a rule file is a mapping with a 'decisions' list",
            )
            return
        self.log.fields(data, file, {"decisions": True, "description": False}, "a rule file")
        decisions = data.get("decisions")
        if decisions is None:
            return
        if not isinstance(decisions, LineList):
            self.log.add(
                file,
                data.value_line("decisions"),
                Code.NOT_LIST,
                "'decisions' must be a list of decision tables",
            )
            return
        if not decisions:
            self.log.add(
                file,
                data.value_line("decisions"),
                Code.EMPTY_TABLE,
                "'decisions' is empty; add a decision or remove the file",
            )
        for i, entry in enumerate(decisions):
            if not isinstance(entry, LineDict):
                self.log.add(
                    file,
                    decisions.item_line(i),
                    Code.NOT_MAPPING,
                    "a decision is a mapping: id, description, hit_policy, outputs, rules",
                )
                continue
            yield entry, Location(file, entry.line)

    def merge_rules(
        self,
        target: RawDecision,
        entry: LineDict,
        file: str,
        layer: Layer,
        inherited: bool,
        rule_owner: dict[str, str],
        layer_rules: dict[str, Location],
    ) -> None:
        rules = entry.get("rules")
        if rules is None:
            return
        if not isinstance(rules, LineList):
            self.log.add(file, entry.value_line("rules"), Code.NOT_LIST, "'rules' must be a list of rules")
            return
        if not rules and not inherited:
            self.log.add(
                file,
                entry.value_line("rules"),
                Code.EMPTY_TABLE,
                f"decision '{target.id}' has no rules; add at least one rule",
            )
        for i, data in enumerate(rules):
            if not isinstance(data, LineDict):
                self.log.add(
                    file,
                    rules.item_line(i),
                    Code.NOT_MAPPING,
                    "a rule is a mapping: id, when, then, reason, basis",
                )
                continue
            ident = data.get("id")
            shown_id = ident if isinstance(ident, str) else ""
            self.log.fields(data, file, _RULE_FIELDS, "a rule", shown_id)
            if not isinstance(ident, str) or not ident.strip():
                continue
            loc = Location(file, data.line)
            if not _RULE_ID.match(ident):
                self.log.add(
                    file,
                    data.value_line("id"),
                    Code.BAD_ID,
                    f"rule id {ident!r} may use letters, digits, _ . - only",
                )
                continue
            if ident in layer_rules:
                self.log.add(
                    file,
                    loc.line,
                    Code.DUPLICATE_ID,
                    f"rule id '{ident}' is already used at {layer_rules[ident]}",
                )
                continue
            layer_rules[ident] = loc
            is_else = data.get("else") is True
            if "else" in data and not isinstance(data.get("else"), bool):
                self.log.add(file, data.value_line("else"), Code.NOT_BOOL, "'else' is true or false")
            raw = RawRule(ident, data, loc, layer.name, is_else)
            owner = rule_owner.get(ident)
            placement = [k for k in ("before", "after") if k in data]
            if owner is not None and owner != target.id:
                self.log.add(
                    file,
                    loc.line,
                    Code.OVERRIDE_CONFLICT,
                    f"rule '{ident}' belongs to decision '{owner}' in the parent pack, not '{target.id}'",
                )
                continue
            if owner is not None:
                if placement:
                    self.log.add(
                        file,
                        data.key_line(placement[0]),
                        Code.MISPLACED_RULE,
                        f"'{placement[0]}' places a new rule; rule '{ident}' replaces the parent's rule in place",
                    )
                k = next(n for n, r in enumerate(target.rules) if r.id == ident)
                target.rules[k] = raw
                continue
            rule_owner[ident] = target.id
            if placement and not inherited:
                self.log.add(
                    file,
                    data.key_line(placement[0]),
                    Code.MISPLACED_RULE,
                    f"'{placement[0]}' only places a rule added to an inherited decision",
                )
                placement = []
            self.place(target, raw, data, file, placement)

    def place(self, target: RawDecision, raw: RawRule, data: LineDict, file: str, placement: list[str]) -> None:
        if placement:
            key = placement[0]
            anchor = data.get(key)
            index = next((n for n, r in enumerate(target.rules) if r.id == anchor), None)
            if index is None:
                known = [r.id for r in target.rules]
                self.log.add(
                    file,
                    data.value_line(key),
                    Code.UNKNOWN_RULE,
                    f"'{key}: {anchor}' names no rule of decision '{target.id}'{did_you_mean(str(anchor), known)}",
                )
                target.rules.append(raw)
                return
            target.rules.insert(index if key == "before" else index + 1, raw)
            return
        if not raw.is_else and target.rules and target.rules[-1].is_else and target.rules[-1].pack != raw.pack:
            # A child's new rule goes before the parent's else row, which must stay last.
            target.rules.insert(len(target.rules) - 1, raw)
        else:
            target.rules.append(raw)


def _infer_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "list"
    return "str"


def _param_value(name: str, type_: str, value: Any) -> Any:
    if type_ == "list":
        if not isinstance(value, list) or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value
        ):
            raise ConditionError(Code.TYPE_ERROR, f"parameter '{name}' is a list of labels or numbers, got {value!r}")
        return tuple(value)
    return cond.coerce(value, name, type_, None)
