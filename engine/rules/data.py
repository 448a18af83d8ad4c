"""Check a pack's data files, which are not decision tables: policy.yaml (the plan policy, engine/plan/policy.py)
and catalogue.yaml (the check-item catalogue, engine/catalogue.py).

The validators are the ones planning and publishing use (PlanPolicy, `catalogue_problems`, select.target_expr's
type rules): this stage only runs them on the line-numbered YAML and turns each error into a finding with the
file and the line of the key it names. The policy is the pack's own (the top layer's, as planning reads it); the
catalogue is the nearest layer's that has one (a provincial pack uses the national catalogue).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from engine.catalogue import TOP_KEYS, catalogue_problems
from engine.features.registry import REGISTRY
from engine.plan.frames import SECTOR_GRADES
from engine.plan.policy import ItemPolicy, PlanPolicy
from engine.rules.codes import Code
from engine.rules.conditions import did_you_mean
from engine.rules.findings import Findings
from engine.rules.model import Decision
from engine.rules.read import Layer
from engine.rules.yamlio import LineDict, LineList, read_yaml

POLICY = "policy.yaml"
CATALOGUE = "catalogue.yaml"


def line_of(value: Any, where: Sequence[Any]) -> int:
    """The line of the deepest key or item of `where` that the YAML has (the file's first line if none)."""
    line = getattr(value, "line", 1)
    node = value
    for step in where:
        if isinstance(node, LineDict) and step in node:
            line = node.key_line(step)
            node = node[step]
        elif isinstance(node, LineList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.item_line(step)
            node = node[step]
        else:
            break
    return line


def check_data(layers: list[Layer], decisions: Sequence[Decision] | None, log: Findings) -> dict[str, Any]:
    """Findings for the top layer's policy.yaml and the catalogue the pack uses, and for item codes the decisions
    output that the catalogue lacks; `decisions` are the pack's (None when the pack could not be built: grade
    columns and item outputs are then not checked). Returns the two files as read ({POLICY: data or None,
    CATALOGUE: data or None}), which the pack's hash covers (canonical.PACK_2)."""
    data: dict[str, Any] = {POLICY: None, CATALOGUE: None}
    if not layers:
        return data
    codes: set[str] | None = None
    shown = None
    for layer in reversed(layers):
        if (layer.directory / CATALOGUE).is_file():
            data[CATALOGUE], codes = _catalogue(layer, log)
            shown = os.path.join(layer.display, CATALOGUE)
            break
    outputs = {o.name for d in decisions for o in d.outputs} if decisions is not None else None
    top = layers[-1]
    if (top.directory / POLICY).is_file():
        data[POLICY] = _policy(top, codes, outputs, log)
    if decisions is not None and codes is not None and shown is not None:
        _item_outputs(decisions, codes, shown, log)
    return data


ITEM_OUTPUTS = ("mandatory_items", "tasks")
"""Outputs whose values are check-item codes: the plan's mandatory items (engine/planning.py) and the item list."""


def _item_outputs(decisions: Sequence[Decision], codes: set[str], catalogue: str, log: Findings) -> None:
    """Every item code an output declares or a rule outputs must be in the catalogue: a code it lacks would only
    fail when a plan ran (or, worse, make a subject mandatory for an item nobody can draw)."""
    known = sorted(codes)
    for d in decisions:
        for o in d.outputs:
            if o.name not in ITEM_OUTPUTS:
                continue
            for code in o.values or ():
                if str(code) not in codes:
                    log.add(
                        o.location.file,
                        o.location.line,
                        Code.UNKNOWN_ITEM,
                        f"output '{o.name}' of decision '{d.id}': unknown item {code} (not in {catalogue})"
                        f"{did_you_mean(str(code), known)}",
                    )
        for r in d.rules:
            for name in ITEM_OUTPUTS:
                given = r.outputs.get(name)
                for code in given if isinstance(given, list | tuple) else [] if given is None else [given]:
                    if str(code) not in codes:
                        log.add(
                            r.location.file,
                            r.location.line,
                            Code.UNKNOWN_ITEM,
                            f"rule '{r.id}': {name}: unknown item {code} (not in {catalogue})"
                            f"{did_you_mean(str(code), known)}",
                        )


def _read(layer: Layer, name: str, log: Findings) -> tuple[str, Any]:
    shown = os.path.join(layer.display, name)
    value, found = read_yaml(layer.directory / name, shown)
    log.extend(found, breaks=False)
    return shown, None if found else value


def _catalogue(layer: Layer, log: Findings) -> tuple[Any, set[str] | None]:
    """Report the catalogue's problems; the data and the item codes it has (None when it cannot be read)."""
    file, data = _read(layer, CATALOGUE, log)
    if data is None:
        return None, None
    for where, message in catalogue_problems(data):
        line = line_of(data, where)
        if len(where) == 1 and where[0] not in TOP_KEYS:
            log.add(file, line, Code.UNKNOWN_FIELD, f"{message}{did_you_mean(str(where[0]), list(TOP_KEYS))}")
        elif len(where) == 3 and message.endswith(f"unknown field {where[2]!r}"):
            log.add(file, line, Code.UNKNOWN_FIELD, message)
        elif len(where) >= 3 and where[2] == "target":
            log.add(file, line, Code.BAD_TARGET, message)
        else:
            log.add(file, line, Code.BAD_CATALOGUE, message)
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return data, None
    return data, {str(i["code"]) for i in items if isinstance(i, dict) and "code" in i}


def _policy(layer: Layer, codes: set[str] | None, outputs: set[str] | None, log: Findings) -> Any:
    file, data = _read(layer, POLICY, log)
    if data is None:
        return None
    if isinstance(data, LineDict):
        try:
            PlanPolicy.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                _policy_error(file, data, error, log)
    items = data.get("items") if isinstance(data, LineDict) else None
    if not isinstance(items, LineDict):
        return data
    for code, item in items.items():
        where = ("items", code)
        if codes is not None and code not in codes:
            hint = did_you_mean(str(code), sorted(codes))
            log.add(
                file,
                line_of(data, where),
                Code.UNKNOWN_ITEM,
                f"items: unknown item {code} (not in the catalogue){hint}",
            )
        columns: list[tuple[Any, tuple[Any, ...], str]] = []
        if isinstance(item, LineDict):
            columns.append((item.get("grade_column"), (*where, "grade_column"), "grade_column"))
            extra = item.get("grade_columns")
            if isinstance(extra, LineDict):
                columns += [(c, (*where, "grade_columns", c), f"grade_columns.{c}") for c in extra]
        for column, at, field_name in columns:
            if not isinstance(column, str) or outputs is None or column in REGISTRY:
                continue
            if column in SECTOR_GRADES and column in outputs:
                continue
            if column in outputs:
                why = f"an output of the pack that the plan does not carry (sector grades: {', '.join(SECTOR_GRADES)})"
            else:
                why = "neither a feature nor an output of the pack"
            log.add(
                file,
                line_of(data, at),
                Code.UNKNOWN_GRADE_COLUMN,
                f"items.{code}.{field_name}: {column!r} is {why}",
            )
    return data


def _policy_error(file: str, data: LineDict, error: Any, log: Findings) -> None:
    where = tuple(error["loc"])
    line = line_of(data, where)
    field = ".".join(str(p) for p in where) or "policy"
    if error["type"] == "extra_forbidden":
        known = ItemPolicy.model_fields if len(where) == 3 and where[0] == "items" else PlanPolicy.model_fields
        hint = did_you_mean(str(where[-1]), list(known))
        log.add(file, line, Code.UNKNOWN_FIELD, f"unknown field '{field}' in the plan policy{hint}")
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        log.add(file, line, Code.BAD_POLICY, f"{field}: {message}")
