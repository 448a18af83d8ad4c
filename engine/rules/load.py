"""Read a rule-pack directory, merge its parents, type everything against the feature catalogue, and report
every problem at once as `file:line: code: message`.

`check_pack(dir)` lists the findings; `load_pack(dir)` returns the checked `Pack` or raises `PackError`, so a
pack with any error can never be used. `read_pack(dir)` gives both (the pack is None after a structural error;
a pack with only table-analysis errors such as overlaps is still built, for tools that must look at it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.features.catalogue import CATALOGUE, Feature
from engine.ledger import canonical
from engine.rules import conditions as cond
from engine.rules import reference
from engine.rules.analysis import analyse
from engine.rules.conditions import ConditionError, did_you_mean
from engine.rules.errors import PackError
from engine.rules.model import (
    AGGREGATES,
    HIT_POLICIES,
    OUTPUT_TYPES,
    Case,
    Condition,
    Decision,
    Finding,
    Input,
    Location,
    Output,
    Pack,
    Parameter,
    Rule,
    UnaryTest,
)
from engine.rules.yamlio import LineDict, LineList, read_yaml

MANIFEST = "pack.yaml"
TESTS_DIR = "tests"
DATA_FILES = ("catalogue.yaml",)
"""Files in a pack directory that are data for other parts of suijian, not decision tables: the check-item
catalogue (engine/catalogue.py reads it); a manifest may name more under `data:`."""
MAX_INPUTS = 20

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
# Units whose values are never negative: tables need not say what happens below zero.
_NON_NEGATIVE_UNITS = {"count", "unit", "day", "point", "class", "grade"}

_MANIFEST_FIELDS = {
    "name": True,
    "version": True,
    "jurisdiction": True,
    "effective_from": True,
    "effective_to": False,
    "parent": False,
    "description": False,
    "parameters": False,
    "data": False,
}
_DECISION_FIELDS = {
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
_OUTPUT_FIELDS = {"type": True, "values": False, "description": False}
_CASE_FIELDS = {"name": True, "given": True, "expect": True, "fired": False}
_PARAM_TYPES = ("int", "float", "bool", "str", "list")


def check_pack(directory: str | os.PathLike[str]) -> list[Finding]:
    """Every problem in the pack at `directory` (and its parents), sorted by file and line."""
    return read_pack(directory)[1]


def load_pack(directory: str | os.PathLike[str]) -> Pack:
    """The checked pack at `directory`; PackError (with every finding) if it has any error."""
    pack, findings = read_pack(directory)
    if pack is None or any(f.severity == "error" for f in findings):
        raise PackError(findings)
    return pack


def read_pack(
    directory: str | os.PathLike[str], *, analyse_tables: bool = True
) -> tuple[Pack | None, list[Finding]]:
    """(pack or None, findings). The pack is None when a structural error makes it impossible to build."""
    checker = _Checker(analyse_tables)
    pack = checker.run(Path(directory), _display(directory))
    unique = {(f.location, f.code, f.message, f.severity): f for f in checker.findings}
    return pack, sorted(unique.values(), key=Finding.sort_key)


def _display(directory: str | os.PathLike[str]) -> str:
    text = os.fspath(directory)
    return os.path.normpath(text) if text else "."


# -----------------------------------------------------------------------------------------------------------
# Raw (merged but untyped) structures


@dataclass
class _Layer:
    directory: Path
    display: str
    name: str
    manifest: LineDict | None
    files: list[tuple[str, Any]]
    tests: list[tuple[str, Any]]


@dataclass
class _RawParam:
    name: str
    type: str
    value: Any
    comment: str
    location: Location


@dataclass
class _RawRule:
    id: str
    data: LineDict
    location: Location
    pack: str
    is_else: bool


@dataclass
class _RawDecision:
    id: str
    data: LineDict
    location: Location
    pack: str
    description: str
    rules: list[_RawRule] = field(default_factory=list)


class _Checker:
    def __init__(self, analyse_tables: bool) -> None:
        self.findings: list[Finding] = []
        self.analyse_tables = analyse_tables
        self.broken = False  # a structural error: no Pack can be built
        self.tainted: set[str] = (
            set()
        )  # decisions with an error of their own: not analysed (it would mislead)
        self.rejected_outputs: set[str] = set()

    # -- findings ---------------------------------------------------------------------------------------------

    def add(self, file: str, line: int, code: str, message: str, severity: str = "error") -> None:
        self.findings.append(Finding(Location(file, line), code, message, severity))
        if severity == "error" and code not in ("overlap", "gap"):
            self.broken = True

    def fields(self, m: LineDict, file: str, allowed: Mapping[str, bool], what: str, ident: str = "") -> None:
        for key in m:
            if key not in allowed:
                hint = did_you_mean(str(key), list(allowed))
                self.add(file, m.key_line(key), "unknown_field", f"unknown field '{key}' in {what}{hint}")
        for key, required in allowed.items():
            if required and (m.get(key) is None or (isinstance(m.get(key), str) and not m[key].strip())):
                self.missing(file, m, key, what, ident)

    def missing(self, file: str, m: LineDict, key: str, what: str, ident: str) -> None:
        line = m.key_line(key) if key in m else m.line
        if what == "a rule" and key in ("id", "reason", "basis"):
            name = f"rule '{ident}'" if ident else "a rule"
            text = {
                "id": "a rule has no id; give it a stable id such as credit_d_serious",
                "reason": f"{name} has no reason; say in plain words (中文) why it applies",
                "basis": f'{name} has no basis; cite the regulation and article, or write "本规则包配置：<why>"',
            }[key]
            self.add(file, line, f"missing_{key}", text)
        elif key == "id":
            self.add(file, line, "missing_id", f"{what} has no id")
        else:
            self.add(file, line, "missing_field", f"{what}{f' {ident!r}' if ident else ''} has no '{key}'")

    # -- reading the directories ----------------------------------------------------------------------------------

    def run(self, directory: Path, display: str) -> Pack | None:
        layers = self.read_layers(directory, display, [])
        if not layers or any(layer.manifest is None for layer in layers):
            self.broken = True
        params = self.merge_parameters(layers)
        decisions = self.merge_decisions(layers)
        return self.build(layers, params, decisions)

    def read_layers(self, directory: Path, display: str, chain: list[Path]) -> list[_Layer]:
        if not directory.exists():
            self.add(display, 0, "pack_missing", f"no rule pack at {display}: the directory does not exist")
            return []
        if not directory.is_dir():
            self.add(display, 0, "pack_missing", f"no rule pack at {display}: it is a file, not a directory")
            return []
        manifest_file = os.path.join(display, MANIFEST)
        manifest: LineDict | None = None
        parents: list[_Layer] = []
        name = display
        data_files: set[str] = set(DATA_FILES)
        if not (directory / MANIFEST).is_file():
            self.add(
                manifest_file,
                0,
                "manifest_missing",
                f"no {MANIFEST} in {display}; a pack starts with a manifest (name, version, jurisdiction, effective_from)",
            )
        else:
            value, found = read_yaml(directory / MANIFEST, manifest_file)
            self.findings.extend(found)
            if found:
                self.broken = True
            if isinstance(value, LineDict):
                manifest = value
                self.fields(manifest, manifest_file, _MANIFEST_FIELDS, "pack.yaml")
                name = self.text(manifest, "name", manifest_file) or display
                parents = self.read_parent(directory, display, manifest, manifest_file, chain)
                data_files = self.data_files(directory, display, manifest, manifest_file)
            elif not found:
                self.add(
                    manifest_file,
                    1,
                    "bad_value",
                    "pack.yaml must be a mapping: name, version, jurisdiction, effective_from, …",
                )
        files = []
        for path in sorted(directory.iterdir()):
            if (
                path.name == MANIFEST
                or path.suffix not in (".yaml", ".yml")
                or not path.is_file()
                or path.name in data_files
            ):
                continue
            shown = os.path.join(display, path.name)
            value, found = read_yaml(path, shown)
            self.findings.extend(found)
            if found:
                self.broken = True
            files.append((shown, value))
        tests = []
        tests_dir = directory / TESTS_DIR
        if tests_dir.is_dir():
            for path in sorted(tests_dir.iterdir()):
                if path.suffix in (".yaml", ".yml") and path.is_file():
                    shown = os.path.join(display, TESTS_DIR, path.name)
                    value, found = read_yaml(path, shown)
                    self.findings.extend(found)
                    if found:
                        self.broken = True
                    tests.append((shown, value))
        return [*parents, _Layer(directory, display, name, manifest, files, tests)]

    def data_files(self, directory: Path, display: str, manifest: LineDict, file: str) -> set[str]:
        """Files the manifest declares as data for other parts of suijian (e.g. the check-item catalogue)."""
        data = manifest.get("data")
        if data is None:
            return set(DATA_FILES)
        if not isinstance(data, LineList) or not all(isinstance(x, str) for x in data):
            self.add(
                file,
                manifest.value_line("data"),
                "bad_value",
                "data must be a list of file names in the pack directory",
            )
            return set()
        names = set(DATA_FILES)
        for i, name in enumerate(data):
            path = directory / name
            if "/" in name or not path.is_file():
                self.add(file, data.item_line(i), "bad_value", f"data file '{name}' not found in {display}")
                continue
            shown = os.path.join(display, name)
            _, found = read_yaml(path, shown) if path.suffix in (".yaml", ".yml") else (None, [])
            self.findings.extend(found)
            names.add(name)
        return names

    def read_parent(
        self, directory: Path, display: str, manifest: LineDict, file: str, chain: list[Path]
    ) -> list[_Layer]:
        parent = manifest.get("parent")
        if parent is None:
            return []
        line = manifest.value_line("parent")
        if not isinstance(parent, str) or not parent.strip():
            self.add(
                file,
                line,
                "bad_value",
                "parent must be a path (e.g. ../national) or the name of a pack under rules/",
            )
            return []
        candidates = [(directory / parent, os.path.normpath(os.path.join(display, parent)))]
        packaged = _packaged_rules() / parent
        candidates.append((packaged, _shown_path(packaged)))
        for path, shown in candidates:
            if path.is_dir():
                real = path.resolve()
                if real in chain or real == directory.resolve():
                    self.add(
                        file,
                        line,
                        "parent_cycle",
                        f"pack '{parent}' is its own ancestor; a parent chain must end",
                    )
                    return []
                return self.read_layers(path, shown, [*chain, directory.resolve()])
        self.add(
            file,
            line,
            "parent_missing",
            f"parent pack '{parent}' not found (as a directory next to this pack or under rules/)",
        )
        return []

    # -- small typed readers ----------------------------------------------------------------------------------------

    def text(self, m: LineDict, key: str, file: str, what: str = "") -> str:
        value = m.get(key)
        if value is None:
            return ""
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "version":
            return str(value)
        if not isinstance(value, str):
            self.add(file, m.value_line(key), "bad_value", f"'{key}'{what} must be text")
            return ""
        return value.strip()

    def date(self, m: LineDict, key: str, file: str) -> dt.date | None:
        value = m.get(key)
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.add(file, m.value_line(key), "bad_value", f"'{key}' must be a date such as 2025-01-01")
        return None

    # -- parameters -------------------------------------------------------------------------------------------

    def merge_parameters(self, layers: list[_Layer]) -> dict[str, _RawParam]:
        params: dict[str, _RawParam] = {}
        for layer in layers:
            if layer.manifest is None or layer.manifest.get("parameters") is None:
                continue
            file = os.path.join(layer.display, MANIFEST)
            block = layer.manifest["parameters"]
            if not isinstance(block, LineDict):
                self.add(
                    file,
                    layer.manifest.value_line("parameters"),
                    "bad_value",
                    "parameters must map names to {type, default, comment}",
                )
                continue
            for name, spec in block.items():
                line = block.key_line(name)
                if not isinstance(name, str) or not _NAME.match(name):
                    self.add(
                        file,
                        line,
                        "bad_id",
                        f"parameter name {name!r} must be lower_snake_case (a-z, 0-9, _)",
                    )
                    continue
                self.parameter(params, name, spec, block, file, line)
        return params

    def parameter(
        self, params: dict[str, _RawParam], name: str, spec: Any, block: LineDict, file: str, line: int
    ) -> None:
        inherited = params.get(name)
        comment = inherited.comment if inherited else ""
        if isinstance(spec, LineDict):
            self.fields(spec, file, _PARAM_FIELDS, f"parameter '{name}'")
            if "default" not in spec:
                return
            type_ = spec.get("type")
            value = spec.get("default")
            if spec.get("comment") is not None:
                comment = str(spec["comment"]).strip()
            value_line = spec.value_line("default")
        elif isinstance(spec, (LineList, dict)) and not isinstance(spec, LineList):
            self.add(
                file, line, "bad_value", f"parameter '{name}' must be a value or {{type, default, comment}}"
            )
            return
        else:
            type_, value, value_line = None, spec, block.value_line(name)
        if type_ is None:
            type_ = inherited.type if inherited else _infer_type(value)
        if type_ not in _PARAM_TYPES:
            hint = did_you_mean(str(type_), list(_PARAM_TYPES))
            self.add(
                file,
                line,
                "bad_value",
                f"parameter '{name}': type must be one of {', '.join(_PARAM_TYPES)}, got {type_!r}{hint}",
            )
            return
        if inherited and inherited.type != type_:
            self.add(
                file,
                line,
                "type_error",
                f"parameter '{name}' is {inherited.type} in the parent pack, not {type_}",
            )
            return
        try:
            typed = _param_value(name, type_, value)
        except ConditionError as exc:
            self.add(file, value_line, exc.code, exc.message)
            return
        params[name] = _RawParam(name, type_, typed, comment, Location(file, line))

    # -- decisions: read each layer, merge children into parents ------------------------------------------------

    def merge_decisions(self, layers: list[_Layer]) -> list[_RawDecision]:
        merged: dict[str, _RawDecision] = {}
        rule_owner: dict[str, str] = {}
        for layer in layers:
            inherited = set(merged)
            layer_decisions: dict[str, Location] = {}
            layer_rules: dict[str, Location] = {}
            for file, data in layer.files:
                for entry, loc in self.decision_entries(file, data):
                    before = len(self.findings)
                    self._merge_entry(
                        entry, loc, file, layer, merged, inherited, rule_owner, layer_decisions, layer_rules
                    )
                    if len(self.findings) > before and isinstance(entry.get("id"), str):
                        self.tainted.add(entry["id"])
        return list(merged.values())

    def _merge_entry(
        self,
        entry: LineDict,
        loc: Location,
        file: str,
        layer: _Layer,
        merged: dict[str, _RawDecision],
        inherited: set[str],
        rule_owner: dict[str, str],
        layer_decisions: dict[str, Location],
        layer_rules: dict[str, Location],
    ) -> None:
        ident = entry.get("id")
        if not isinstance(ident, str) or not ident.strip():
            self.fields(entry, file, _DECISION_FIELDS, "a decision")
            return
        if not _NAME.match(ident):
            self.add(
                file,
                entry.value_line("id"),
                "bad_id",
                f"decision id {ident!r} must be lower_snake_case (a-z, 0-9, _)",
            )
            return
        if ident in layer_decisions:
            first = layer_decisions[ident]
            self.add(file, loc.line, "duplicate_id", f"decision id '{ident}' is already used at {first}")
            return
        layer_decisions[ident] = loc
        if ident in inherited:
            self.fields(
                entry,
                file,
                _OVERRIDE_FIELDS,
                f"decision '{ident}' (inherited: a child pack can only replace or add its rules)",
            )
            target = merged[ident]
            if isinstance(entry.get("description"), str):
                target.description = entry["description"].strip()
        else:
            self.fields(entry, file, _DECISION_FIELDS, "decision", ident)
            description = entry.get("description")
            target = _RawDecision(
                ident, entry, loc, layer.name, description.strip() if isinstance(description, str) else ""
            )
            merged[ident] = target
        self.merge_rules(target, entry, file, layer, ident in inherited, rule_owner, layer_rules)

    def decision_entries(self, file: str, data: Any) -> Iterable[tuple[LineDict, Location]]:
        if data is None:
            return
        if not isinstance(data, LineDict):
            self.add(
                file,
                getattr(data, "line", 1),
                "bad_value",
                "a rule file is a mapping with a 'decisions' list",
            )
            return
        self.fields(data, file, {"decisions": True, "description": False}, "a rule file")
        decisions = data.get("decisions")
        if decisions is None:
            return
        if not isinstance(decisions, LineList):
            self.add(
                file,
                data.value_line("decisions"),
                "bad_value",
                "'decisions' must be a list of decision tables",
            )
            return
        if not decisions:
            self.add(
                file,
                data.value_line("decisions"),
                "empty_table",
                "'decisions' is empty; add a decision or remove the file",
            )
        for i, entry in enumerate(decisions):
            if not isinstance(entry, LineDict):
                self.add(
                    file,
                    decisions.item_line(i),
                    "bad_value",
                    "a decision is a mapping: id, description, hit_policy, outputs, rules",
                )
                continue
            yield entry, Location(file, entry.line)

    def merge_rules(
        self,
        target: _RawDecision,
        entry: LineDict,
        file: str,
        layer: _Layer,
        inherited: bool,
        rule_owner: dict[str, str],
        layer_rules: dict[str, Location],
    ) -> None:
        rules = entry.get("rules")
        if rules is None:
            return
        if not isinstance(rules, LineList):
            self.add(file, entry.value_line("rules"), "bad_value", "'rules' must be a list of rules")
            return
        if not rules and not inherited:
            self.add(
                file,
                entry.value_line("rules"),
                "empty_table",
                f"decision '{target.id}' has no rules; add at least one rule",
            )
        for i, data in enumerate(rules):
            if not isinstance(data, LineDict):
                self.add(
                    file,
                    rules.item_line(i),
                    "bad_value",
                    "a rule is a mapping: id, when, then, reason, basis",
                )
                continue
            ident = data.get("id")
            shown_id = ident if isinstance(ident, str) else ""
            self.fields(data, file, _RULE_FIELDS, "a rule", shown_id)
            if not isinstance(ident, str) or not ident.strip():
                continue
            loc = Location(file, data.line)
            if not _RULE_ID.match(ident):
                self.add(
                    file,
                    data.value_line("id"),
                    "bad_id",
                    f"rule id {ident!r} may use letters, digits, _ . - only",
                )
                continue
            if ident in layer_rules:
                self.add(
                    file,
                    loc.line,
                    "duplicate_id",
                    f"rule id '{ident}' is already used at {layer_rules[ident]}",
                )
                continue
            layer_rules[ident] = loc
            is_else = data.get("else") is True
            if "else" in data and not isinstance(data.get("else"), bool):
                self.add(file, data.value_line("else"), "bad_value", "'else' is true or false")
            raw = _RawRule(ident, data, loc, layer.name, is_else)
            owner = rule_owner.get(ident)
            placement = [k for k in ("before", "after") if k in data]
            if owner is not None and owner != target.id:
                self.add(
                    file,
                    loc.line,
                    "override_conflict",
                    f"rule '{ident}' belongs to decision '{owner}' in the parent pack, not '{target.id}'",
                )
                continue
            if owner is not None:
                if placement:
                    self.add(
                        file,
                        data.key_line(placement[0]),
                        "bad_value",
                        f"'{placement[0]}' places a new rule; rule '{ident}' replaces the parent's rule in place",
                    )
                k = next(n for n, r in enumerate(target.rules) if r.id == ident)
                target.rules[k] = raw
                continue
            rule_owner[ident] = target.id
            if placement and not inherited:
                self.add(
                    file,
                    data.key_line(placement[0]),
                    "bad_value",
                    f"'{placement[0]}' only places a rule added to an inherited decision",
                )
                placement = []
            self.place(target, raw, data, file, placement)

    def place(
        self, target: _RawDecision, raw: _RawRule, data: LineDict, file: str, placement: list[str]
    ) -> None:
        if placement:
            key = placement[0]
            anchor = data.get(key)
            index = next((n for n, r in enumerate(target.rules) if r.id == anchor), None)
            if index is None:
                known = [r.id for r in target.rules]
                self.add(
                    file,
                    data.value_line(key),
                    "bad_value",
                    f"'{key}: {anchor}' names no rule of decision '{target.id}'{did_you_mean(str(anchor), known)}",
                )
                target.rules.append(raw)
                return
            target.rules.insert(index if key == "before" else index + 1, raw)
            return
        if (
            not raw.is_else
            and target.rules
            and target.rules[-1].is_else
            and target.rules[-1].pack != raw.pack
        ):
            # A child's new rule goes before the parent's else row, which must stay last.
            target.rules.insert(len(target.rules) - 1, raw)
        else:
            target.rules.append(raw)

    # -- building the typed model -------------------------------------------------------------------------------

    def build(
        self, layers: list[_Layer], raw_params: dict[str, _RawParam], raw: list[_RawDecision]
    ) -> Pack | None:
        params = {
            p.name: Parameter(p.name, p.type, p.value, p.comment, p.location) for p in raw_params.values()
        }
        outputs = self.declare_outputs(raw)
        by_id = {d.id: d for d in raw}
        deps: dict[str, list[str]] = {}
        for d in raw:
            deps[d.id] = self.dependencies(d, outputs, by_id)
        order = self.order(raw, deps)
        built: dict[str, Decision] = {}
        complete: dict[str, bool] = {}
        analysed_ok: set[str] = set()
        for ident in order:
            d = by_id[ident]
            decision, clean = self.decision(d, by_id, params, outputs, built, complete, deps[ident])
            if decision is None:
                continue
            built[ident] = decision
            if clean and ident not in self.tainted and all(x in analysed_ok for x in decision.depends_on):
                analysed_ok.add(ident)
                if self.analyse_tables:
                    result = analyse(decision)
                    self.findings.extend(result.findings)
                    complete[ident] = result.complete
        top = layers[-1] if layers else None
        manifest = top.manifest if top else None
        if manifest is None or top is None:
            return None
        file = os.path.join(top.display, MANIFEST)
        name = self.text(manifest, "name", file)
        version = self.text(manifest, "version", file)
        jurisdiction = self.text(manifest, "jurisdiction", file)
        description = self.text(manifest, "description", file)
        start = self.date(manifest, "effective_from", file)
        end = self.date(manifest, "effective_to", file)
        if start and end and end < start:
            self.add(
                file,
                manifest.value_line("effective_to"),
                "bad_value",
                "effective_to is before effective_from",
            )
        if not raw and not self.broken:
            self.add(
                file,
                manifest.line,
                "empty_table",
                "the pack has no decisions; add a rule file with a 'decisions' list",
            )
        decisions = tuple(built[i] for i in order if i in built)
        pack_features = sorted({i.name for d in decisions for i in d.inputs if i.source is None})
        cases = self.cases(top, built, params)
        if self.broken or start is None or len(decisions) != len(raw):
            return None
        pack = Pack(
            name=name,
            version=version,
            jurisdiction=jurisdiction,
            effective_from=start,
            effective_to=end,
            description=description,
            directory=top.display,
            layers=tuple(layer.name for layer in layers),
            parameters=params,
            decisions=decisions,
            cases=cases,
            features=tuple(pack_features),
        )
        return _with_hash(pack)

    def declare_outputs(self, raw: list[_RawDecision]) -> dict[str, tuple[str, Output]]:
        outputs: dict[str, tuple[str, Output]] = {}
        ids = {d.id for d in raw}
        for d in raw:
            file = d.location.file
            if d.id in CATALOGUE:
                self.add(
                    file,
                    d.location.line,
                    "name_clash",
                    f"decision '{d.id}' has the name of a catalogue feature; choose another id",
                )
            spec = d.data.get("outputs")
            if spec is None:
                continue
            if not isinstance(spec, LineDict) or not spec:
                self.add(
                    file,
                    d.data.value_line("outputs"),
                    "bad_value",
                    "outputs must map each output name to its type, e.g. credit_class: {type: str, values: [A, B, C, D]}",
                )
                continue
            for name, ospec in spec.items():
                line = spec.key_line(name)
                if not isinstance(name, str) or not _NAME.match(name):
                    self.add(
                        file, line, "bad_id", f"output name {name!r} must be lower_snake_case (a-z, 0-9, _)"
                    )
                    continue
                output = self.output(name, ospec, spec, file, line)
                self.rejected_outputs.add(name)
                if output is None:
                    continue
                if name in CATALOGUE:
                    self.add(
                        file,
                        line,
                        "name_clash",
                        f"output '{name}' has the name of a catalogue feature; choose another name",
                    )
                    continue
                if name in ids and name != d.id:
                    self.add(
                        file,
                        line,
                        "name_clash",
                        f"output '{name}' has the id of another decision; choose another name",
                    )
                    continue
                if name in outputs:
                    other = outputs[name][1].location
                    self.add(file, line, "duplicate_id", f"output '{name}' is already produced at {other}")
                    continue
                self.rejected_outputs.discard(name)
                outputs[name] = (d.id, output)
        return outputs

    def output(self, name: str, spec: Any, parent: LineDict, file: str, line: int) -> Output | None:
        type_: Any
        values: Any
        description: Any
        if isinstance(spec, str):
            type_, values, description = spec.strip(), None, ""
        elif isinstance(spec, LineDict):
            self.fields(spec, file, _OUTPUT_FIELDS, f"output '{name}'")
            type_ = spec.get("type")
            values = spec.get("values")
            description = spec.get("description") if isinstance(spec.get("description"), str) else ""
            if type_ is None:
                return None
        else:
            self.add(file, line, "bad_value", f"output '{name}' needs a type: int, float, bool, str or list")
            return None
        if type_ not in OUTPUT_TYPES:
            hint = did_you_mean(str(type_), list(OUTPUT_TYPES))
            self.add(
                file,
                line,
                "bad_value",
                f"output '{name}': type must be one of {', '.join(OUTPUT_TYPES)}, got {type_!r}{hint}",
            )
            return None
        typed: tuple[Any, ...] | None = None
        if values is not None:
            vline = spec.value_line("values") if isinstance(spec, LineDict) else line
            if not isinstance(values, LineList) or not values:
                self.add(file, vline, "bad_value", f"output '{name}': values must be a non-empty list")
                return None
            item_type = "str" if type_ == "list" else type_
            try:
                typed = tuple(cond.coerce(v, name, item_type, None) for v in values)
            except ConditionError as exc:
                self.add(file, vline, exc.code, f"output '{name}' values: {exc.message}")
                return None
            if len(set(typed)) != len(typed):
                self.add(file, vline, "bad_value", f"output '{name}': values are listed twice")
                return None
        return Output(name, type_, typed, str(description).strip(), Location(file, line))

    def reference(
        self, ref: str, outputs: dict[str, tuple[str, Output]], by_id: Mapping[str, _RawDecision]
    ) -> tuple[str, str | None] | str:
        """(name, producing decision or None for a feature), or an error message."""
        if ref in CATALOGUE:
            return ref, None
        if ref in outputs:
            return ref, outputs[ref][0]
        if ref in by_id:
            mine = [n for n, (owner, _) in outputs.items() if owner == ref]
            if len(mine) == 1:
                return mine[0], ref
            if len(mine) > 1:
                return f"decision '{ref}' has several outputs ({', '.join(mine)}); write {ref}.{mine[0]}"
            return f"decision '{ref}' has no usable output"
        if "." in ref:
            owner, _, out = ref.partition(".")
            if owner in by_id and out in outputs and outputs[out][0] == owner:
                return out, owner
        hint = did_you_mean(ref, [*CATALOGUE, *outputs, *by_id])
        return f"unknown feature '{ref}'{hint or '; a pack reads catalogue features (engine/features/catalogue.py) and its decisions’ outputs'}"

    def referenced_names(self, d: _RawDecision) -> list[tuple[str, str, int]]:
        """(name, file, line) of every input reference in the decision: declared inputs, then `when` keys."""
        file = d.location.file
        names: list[tuple[str, str, int]] = []
        inputs = d.data.get("inputs")
        if isinstance(inputs, LineList):
            for i, item in enumerate(inputs):
                if isinstance(item, str):
                    names.append((item, file, inputs.item_line(i)))
                else:
                    self.add(
                        file,
                        inputs.item_line(i),
                        "bad_value",
                        "inputs lists feature names or decision outputs",
                    )
        elif inputs is not None:
            self.add(file, d.data.value_line("inputs"), "bad_value", "inputs must be a list of names")
        for r in d.rules:
            when = r.data.get("when")
            if isinstance(when, LineDict):
                for key in when:
                    if isinstance(key, str) and not key.startswith("$param."):
                        names.append((key, r.location.file, when.key_line(key)))
        return names

    def dependencies(
        self, d: _RawDecision, outputs: dict[str, tuple[str, Output]], by_id: Mapping[str, _RawDecision]
    ) -> list[str]:
        deps: list[str] = []
        for ref, _, _ in self.referenced_names(d):
            found = self.reference(ref, outputs, by_id)
            if isinstance(found, tuple) and found[1] is not None and found[1] not in deps:
                deps.append(found[1])
        return deps

    def order(self, raw: list[_RawDecision], deps: dict[str, list[str]]) -> list[str]:
        """Decisions in evaluation order (declaration order among equals); report cycles."""
        position = {d.id: n for n, d in enumerate(raw)}
        for cycle in _cycles([d.id for d in raw], deps):
            first = min(cycle, key=position.__getitem__)
            k = cycle.index(first)
            path = [*cycle[k:], *cycle[:k], first]
            where = next(d for d in raw if d.id == first).location
            if len(cycle) == 1:
                message = f"decision '{first}' reads its own output"
            else:
                message = f"decisions {' → '.join(path)} read each other's outputs; a decision can only read decisions evaluated before it"
            self.add(where.file, where.line, "cycle", message)
        done: list[str] = []
        placed: set[str] = set()
        pending = [d.id for d in raw]
        progress = True
        while pending and progress:
            progress = False
            for ident in list(pending):
                if all(dep in placed for dep in deps[ident]):
                    done.append(ident)
                    placed.add(ident)
                    pending.remove(ident)
                    progress = True
                    break
        return done

    def decision(
        self,
        d: _RawDecision,
        by_id: Mapping[str, _RawDecision],
        params: Mapping[str, Parameter],
        outputs: dict[str, tuple[str, Output]],
        built: Mapping[str, Decision],
        complete: Mapping[str, bool],
        deps: list[str],
    ) -> tuple[Decision | None, bool]:
        """The typed decision (None if it cannot be built) and whether it is clean enough to analyse."""
        errors_before = sum(f.severity == "error" for f in self.findings)
        file = d.location.file
        hit_policy = d.data.get("hit_policy")
        if hit_policy is not None and hit_policy not in HIT_POLICIES:
            hint = did_you_mean(str(hit_policy), list(HIT_POLICIES))
            self.add(
                file,
                d.data.value_line("hit_policy"),
                "bad_value",
                f"hit_policy must be one of {', '.join(HIT_POLICIES)}, got {hit_policy!r}{hint}",
            )
            hit_policy = None
        aggregate = d.data.get("aggregate")
        if aggregate is not None:
            if hit_policy != "collect":
                self.add(
                    file,
                    d.data.key_line("aggregate"),
                    "bad_value",
                    "aggregate (sum, min, max, count) only applies to a collect table",
                )
                aggregate = None
            elif aggregate not in AGGREGATES:
                hint = did_you_mean(str(aggregate), list(AGGREGATES))
                self.add(
                    file,
                    d.data.value_line("aggregate"),
                    "bad_value",
                    f"aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}{hint}",
                )
                aggregate = None
        mine = tuple(o for n, (owner, o) in outputs.items() if owner == d.id)
        if aggregate in ("sum", "min", "max"):
            for o in mine:
                if o.type not in ("int", "float"):
                    self.add(
                        o.location.file,
                        o.location.line,
                        "type_error",
                        f"output '{o.name}' is {o.type}; aggregate {aggregate} needs int or float outputs",
                    )
        if hit_policy == "priority" and mine and not any(o.values for o in mine):
            self.add(
                file,
                d.data.key_line("hit_policy"),
                "bad_value",
                "a priority table needs an output with an ordered 'values' list (first listed wins)",
            )
        # Inputs, in the declared order or in the order rules first mention them.
        inputs: dict[str, Input] = {}
        declared = isinstance(d.data.get("inputs"), LineList)
        refs = self.referenced_names(d)
        resolved: dict[str, str] = {}
        for ref, rfile, line in refs:
            found = self.reference(ref, outputs, by_id)
            if isinstance(found, str):
                self.add(rfile, line, "unknown_feature", found)
                continue
            name, source = found
            resolved[ref] = name
            if source == d.id:
                continue  # reported as a cycle
            if name not in inputs:
                inp = self.input(name, source, built, complete)
                if inp is None:
                    continue
                inputs[name] = inp
        declared_names = (
            {resolved.get(x) for x in d.data["inputs"] if isinstance(x, str)} if declared else None
        )
        if len(inputs) > MAX_INPUTS:
            self.add(
                file,
                d.location.line,
                "too_complex",
                f"decision '{d.id}' reads {len(inputs)} inputs; split it (at most {MAX_INPUTS})",
            )
        rules: list[Rule] = []
        else_seen: _RawRule | None = None
        for index, r in enumerate(d.rules):
            if else_seen is not None:
                self.add(
                    r.location.file,
                    r.location.line,
                    "else_not_last",
                    f"rule '{r.id}' comes after the else rule '{else_seen.id}'; the else rule must be last",
                )
            if r.is_else:
                else_seen = r
            rule = self.rule(r, d.id, index, mine, inputs, resolved, declared_names, params)
            if rule is not None:
                rules.append(rule)
        errors_after = sum(f.severity == "error" for f in self.findings)
        if hit_policy is None or not mine or len(rules) != len(d.rules):
            return None, False
        decision = Decision(
            id=d.id,
            description=d.description,
            hit_policy=hit_policy,
            aggregate=aggregate,
            inputs=tuple(inputs.values()),
            outputs=mine,
            rules=tuple(rules),
            location=d.location,
            depends_on=tuple(x for x in deps if x != d.id),
        )
        return decision, errors_after == errors_before and bool(rules)

    def input(
        self, name: str, source: str | None, built: Mapping[str, Decision], complete: Mapping[str, bool]
    ) -> Input | None:
        if source is None:
            f: Feature = CATALOGUE[name]
            lower = getattr(f, "min", None)
            upper = getattr(f, "max", None)
            if lower is None and f.type in ("int", "float") and f.unit in _NON_NEGATIVE_UNITS:
                lower = 0
            values: tuple[Any, ...] | None = tuple(f.values) if f.type == "str" and f.values else None
            dom: tuple[Any, ...] | None = (
                values if f.type == "str" else ((False, True) if f.type == "bool" else None)
            )
            return Input(name, f.type, values, f.nullable, None, lower, upper, dom)
        upstream = built.get(source)
        if upstream is None:
            return None  # upstream failed to build: its errors are reported there
        output = next(o for o in upstream.outputs if o.name == name)
        type_ = upstream.result_type(output)
        enabled = [r for r in upstream.rules if r.enabled]
        possible = tuple(dict.fromkeys(r.outputs[name] for r in enabled)) if enabled else ()
        if upstream.hit_policy == "collect":
            if upstream.aggregate in ("min", "max"):
                nullable = not complete.get(source, False)
                return Input(name, type_, output.values, nullable, source, domain=possible)
            lower = 0 if upstream.aggregate == "count" else None
            return Input(name, type_, None, False, source, lower=lower)
        nullable = not complete.get(source, False)
        # Labels a table can give form a closed set (a typo in a later condition is caught); numbers do not.
        closed = output.values or (possible if type_ == "str" else None) or None
        return Input(name, type_, closed, nullable, source, domain=possible)

    def rule(
        self,
        r: _RawRule,
        decision: str,
        index: int,
        outputs: tuple[Output, ...],
        inputs: Mapping[str, Input],
        resolved: Mapping[str, str],
        declared: set[str | None] | None,
        params: Mapping[str, Parameter],
    ) -> Rule | None:
        file = r.location.file
        data = r.data
        ok = True
        reason = data.get("reason")
        basis = data.get("basis")
        for key, value in (("reason", reason), ("basis", basis)):
            if value is not None and not isinstance(value, str):
                self.add(file, data.value_line(key), "bad_value", f"'{key}' of rule '{r.id}' must be text")
                ok = False
        if (
            not isinstance(reason, str)
            or not reason.strip()
            or not isinstance(basis, str)
            or not basis.strip()
        ):
            ok = False
        conditions: list[Condition] = []
        enabled, disabled_by = True, None
        when = data.get("when")
        if r.is_else:
            if when is not None:
                self.add(
                    file,
                    data.key_line("when"),
                    "bad_value",
                    f"else rule '{r.id}' has no conditions; remove 'when'",
                )
                ok = False
        elif when is None:
            self.add(
                file,
                data.line,
                "missing_field",
                f"rule '{r.id}' has no 'when' (use when: {{}} for a rule that always matches, or else: true)",
            )
            ok = False
        elif not isinstance(when, LineDict):
            self.add(
                file,
                data.value_line("when"),
                "bad_value",
                f"'when' of rule '{r.id}' must map inputs to tests, e.g. when: {{penalties_3y: \">= 3\"}}",
            )
            ok = False
        else:
            for key, cell in when.items():
                line = when.value_line(key)
                loc = Location(file, when.key_line(key))
                if not isinstance(key, str):
                    self.add(file, line, "bad_value", f"{key!r} is not an input name")
                    ok = False
                    continue
                try:
                    alts, text = cond.from_yaml(cell)
                    if key.startswith("$param."):
                        pname = key[len("$param.") :]
                        param = params.get(pname)
                        if param is None:
                            raise ConditionError(
                                "unknown_parameter", cond.unknown_parameter_message(pname, params)
                            )
                        ptype = "str" if param.type == "list" else param.type
                        tests = cond.bind(alts, key, ptype, None, params)
                        if not any(_static_holds(t, param.value) for t in tests):
                            enabled, disabled_by = False, f"{key} = {cond._plain(param.value)}"
                        continue
                    name = resolved.get(key)
                    if name is None:
                        ok = False
                        continue
                    if declared is not None and name not in declared:
                        self.add(
                            file,
                            loc.line,
                            "undeclared_input",
                            f"rule '{r.id}' tests '{key}', which is not among the decision's inputs",
                        )
                        ok = False
                        continue
                    inp = inputs.get(name)
                    if inp is None:
                        ok = False
                        continue
                    tests = cond.bind(alts, key, inp.type, inp.values, params)
                    if any(c.input == name for c in conditions):
                        self.add(
                            file,
                            loc.line,
                            "duplicate_key",
                            f"rule '{r.id}' tests '{name}' twice; join the tests with 'or'",
                        )
                        ok = False
                        continue
                    conditions.append(Condition(name, tests, text, loc))
                except ConditionError as exc:
                    self.add(file, line, exc.code, exc.message)
                    ok = False
        then = data.get("then")
        values: dict[str, Any] = {}
        if then is None:
            ok = False
        elif not isinstance(then, LineDict):
            self.add(
                file,
                data.value_line("then"),
                "bad_value",
                f"'then' of rule '{r.id}' must map outputs to values",
            )
            ok = False
        else:
            names = {o.name for o in outputs}
            for key in then:
                if key not in names and key not in self.rejected_outputs:
                    hint = did_you_mean(str(key), list(names))
                    self.add(
                        file,
                        then.key_line(key),
                        "unknown_output",
                        f"'{key}' is not an output of decision '{decision}'{hint}",
                    )
                    ok = False
            for o in outputs:
                if o.name not in then:
                    self.add(
                        file,
                        then.line,
                        "missing_output",
                        f"rule '{r.id}' gives no value for output '{o.name}'",
                    )
                    ok = False
                    continue
                try:
                    values[o.name] = _output_value(o, then[o.name], params)
                except ConditionError as exc:
                    self.add(file, then.value_line(o.name), exc.code, exc.message)
                    ok = False
        if not ok:
            return None
        order = {name: n for n, name in enumerate(inputs)}
        conditions.sort(key=lambda c: order[c.input])
        return Rule(
            id=r.id,
            decision=decision,
            index=index,
            conditions=tuple(conditions),
            outputs=values,
            reason=str(reason).strip(),
            basis=str(basis).strip(),
            location=r.location,
            is_else=r.is_else,
            enabled=enabled,
            disabled_by=disabled_by,
            pack=r.pack,
        )

    # -- test cases ----------------------------------------------------------------------------------------------

    def cases(
        self, layer: _Layer | None, built: Mapping[str, Decision], params: Mapping[str, Parameter]
    ) -> tuple[Case, ...]:
        if layer is None:
            return ()
        results = {o.name: (d, o) for d in built.values() for o in d.outputs}
        rule_ids = {r.id for d in built.values() for r in d.rules}
        out: list[Case] = []
        for file, data in layer.tests:
            if data is None:
                continue
            if not isinstance(data, LineDict) or not isinstance(data.get("cases"), LineList):
                self.add(
                    file,
                    getattr(data, "line", 1),
                    "bad_value",
                    "a test file is a mapping with a 'cases' list",
                )
                continue
            self.fields(data, file, {"cases": True}, "a test file")
            for i, entry in enumerate(data["cases"]):
                if not isinstance(entry, LineDict):
                    self.add(
                        file,
                        data["cases"].item_line(i),
                        "bad_value",
                        "a case is a mapping: name, given, expect",
                    )
                    continue
                case = self.case(file, entry, results, rule_ids)
                if case is not None:
                    out.append(case)
        return tuple(out)

    def case(
        self, file: str, entry: LineDict, results: Mapping[str, tuple[Decision, Output]], rule_ids: set[str]
    ) -> Case | None:
        name = entry.get("name")
        self.fields(entry, file, _CASE_FIELDS, "a case", name if isinstance(name, str) else "")
        given, expect = entry.get("given"), entry.get("expect")
        ok = isinstance(name, str) and name.strip() != ""
        typed_given: dict[str, Any] = {}
        if isinstance(given, LineDict):
            for key, value in given.items():
                line = given.value_line(key)
                if key not in CATALOGUE:
                    hint = did_you_mean(str(key), list(CATALOGUE))
                    self.add(file, given.key_line(key), "unknown_feature", f"unknown feature '{key}'{hint}")
                    ok = False
                    continue
                f = CATALOGUE[key]
                if value is None:
                    typed_given[key] = None
                    continue
                try:
                    typed_given[key] = cond.coerce(value, key, f.type, f.values or None)
                except ConditionError as exc:
                    self.add(file, line, exc.code, exc.message)
                    ok = False
        elif given is not None:
            self.add(file, entry.value_line("given"), "bad_value", "'given' maps features to values")
            ok = False
        typed_expect: dict[str, Any] = {}
        if isinstance(expect, LineDict):
            for key, value in expect.items():
                line = expect.value_line(key)
                if key not in results:
                    hint = did_you_mean(str(key), list(results))
                    self.add(
                        file,
                        expect.key_line(key),
                        "unknown_output",
                        f"'{key}' is not an output of the pack{hint}",
                    )
                    ok = False
                    continue
                d, o = results[key]
                try:
                    typed_expect[key] = _expected(d, o, value)
                except ConditionError as exc:
                    self.add(file, line, exc.code, exc.message)
                    ok = False
        elif expect is not None:
            self.add(file, entry.value_line("expect"), "bad_value", "'expect' maps outputs to values")
            ok = False
        fired = entry.get("fired")
        typed_fired: tuple[str, ...] | None = None
        if fired is not None:
            if not isinstance(fired, LineList) or not all(isinstance(x, str) for x in fired):
                self.add(file, entry.value_line("fired"), "bad_value", "'fired' lists rule ids")
                ok = False
            else:
                for i, rid in enumerate(fired):
                    if rid not in rule_ids:
                        hint = did_you_mean(rid, sorted(rule_ids))
                        self.add(
                            file, fired.item_line(i), "unknown_rule", f"no rule '{rid}' in the pack{hint}"
                        )
                        ok = False
                typed_fired = tuple(fired)
        if not ok or given is None or expect is None:
            return None
        return Case(str(name).strip(), typed_given, typed_expect, typed_fired, Location(file, entry.line))


# -----------------------------------------------------------------------------------------------------------
# helpers


def _packaged_rules() -> Path:
    import rules

    return Path(rules.__file__).parent


def _shown_path(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


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
            raise ConditionError(
                "type_error", f"parameter '{name}' is a list of labels or numbers, got {value!r}"
            )
        return tuple(value)
    return cond.coerce(value, name, type_, None)


def _output_value(o: Output, raw: Any, params: Mapping[str, Parameter]) -> Any:
    if isinstance(raw, str) and raw.strip().startswith("$param."):
        pname = raw.strip()[len("$param.") :]
        param = params.get(pname)
        if param is None:
            raise ConditionError("unknown_parameter", cond.unknown_parameter_message(pname, params))
        raw = list(param.value) if param.type == "list" else param.value
    if o.type == "list":
        if not isinstance(raw, list):
            raise ConditionError(
                "type_error", f"output '{o.name}' is a list (e.g. [FOOD-01, FOOD-02]), got {cond._plain(raw)}"
            )
        items: list[Any] = []
        for item in raw:
            if isinstance(item, str) and item.strip().startswith("$param."):
                pname = item.strip()[len("$param.") :]
                param = params.get(pname)
                if param is None:
                    raise ConditionError("unknown_parameter", cond.unknown_parameter_message(pname, params))
                expanded = list(param.value) if param.type == "list" else [param.value]
            else:
                expanded = [item]
            items.extend(cond.coerce(x, o.name, "str", o.values) for x in expanded)
        return tuple(dict.fromkeys(items))
    return cond.coerce(raw, o.name, o.type, o.values)


def _expected(d: Decision, o: Output, value: Any) -> Any:
    if value is None:
        return None
    kind = d.result_type(o)
    if kind == "list":
        item_type = "str" if o.type == "list" else o.type
        items = value if isinstance(value, list) else [value]
        return tuple(cond.coerce(v, o.name, item_type, o.values) for v in items)
    return cond.coerce(value, o.name, kind, o.values if kind == o.type else None)


def _static_holds(test: UnaryTest, value: Any) -> bool:
    # One meaning of a test everywhere: the reference interpreter's.
    return reference.holds(test, value)


def _cycles(nodes: list[str], deps: Mapping[str, list[str]]) -> list[list[str]]:
    """Strongly connected components that are cycles (Tarjan), each as a path in dependency order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in deps.get(v, []):
            if w not in deps:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in deps.get(v, []):
                found.append(_as_path(component, deps))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def _as_path(component: list[str], deps: Mapping[str, list[str]]) -> list[str]:
    # Walk the cycle along "reads" edges so the message reads a → b → a.
    members = set(component)
    start = sorted(component)[0]
    path = [start]
    while len(path) < len(component):
        nxt = next((w for w in deps[path[-1]] if w in members and w not in path), None)
        if nxt is None:
            break
        path.append(nxt)
    return path


def _with_hash(pack: Pack) -> Pack:
    """The pack with its content hash: everything that decides or explains a result, not file positions."""
    document = {
        "name": pack.name,
        "version": pack.version,
        "jurisdiction": pack.jurisdiction,
        "effective_from": pack.effective_from,
        "effective_to": pack.effective_to,
        "layers": pack.layers,
        "parameters": {p.name: [p.type, p.value] for p in pack.parameters.values()},
        "decisions": [
            {
                "id": d.id,
                "hit_policy": d.hit_policy,
                "aggregate": d.aggregate,
                "inputs": [[i.name, i.type] for i in d.inputs],
                "outputs": [[o.name, o.type, o.values] for o in d.outputs],
                "rules": [
                    {
                        "id": r.id,
                        "else": r.is_else,
                        "enabled": r.enabled,
                        "when": [
                            [
                                c.input,
                                [
                                    [t.op, t.value, t.values, t.lo, t.hi, t.lo_closed, t.hi_closed]
                                    for t in c.tests
                                ],
                            ]
                            for c in r.conditions
                        ],
                        "then": r.outputs,
                        "reason": r.reason,
                        "basis": r.basis,
                    }
                    for r in d.rules
                ],
            }
            for d in pack.decisions
        ],
    }
    return dataclasses.replace(pack, hash=canonical.pack_hash(document, canonical.PACK))
