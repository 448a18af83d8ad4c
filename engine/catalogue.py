"""The check-item catalogue (抽查事项清单) shipped with a rule pack, validated and loaded into the store.

`catalogue_problems(data)` lists every problem of a catalogue read from YAML, each with the path of keys to it, so
`suijian rules check` can report them all with lines; `load_catalogue(path)` raises on the first one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from engine.features import REGISTRY
from engine.features.compute import SCHEMA
from engine.plan.select import target_expr
from entities import store
from entities.errors import InputError
from entities.models import CheckItemCreate

NATIONAL = Path(__file__).resolve().parent.parent / "rules" / "national" / "catalogue.yaml"
TOP_KEYS = ("items",)
ITEM_KEYS = tuple(CheckItemCreate.model_fields)
_OPS = {"in", "<", "<=", ">", ">=", "==", "!="}

Where = tuple[str | int, ...]
"""The path of keys and list indexes to a problem: ("items", 3, "target", "equipment_count")."""


def _target_problems(item: CheckItemCreate) -> Iterator[tuple[Where, str]]:
    """The target's features must be in the feature registry and its values fit their types (select.target_expr)."""
    here: Where = ("target",)
    for feature, test in item.target.items():
        if feature not in REGISTRY:
            yield (*here, feature), f"item {item.code}: target uses unknown feature {feature!r}"
            continue
        if isinstance(test, dict):
            unknown = set(test) - _OPS
            if unknown:
                yield (
                    (*here, feature),
                    f"item {item.code}: target test {sorted(unknown)} on {feature} (use in, <, <=, >, >=)",
                )
                continue
        try:
            target_expr(item.model_copy(update={"target": {feature: test}}), SCHEMA)
        except InputError as exc:
            yield (*here, feature), str(exc).replace(f"check item {item.code}:", f"item {item.code}:", 1)


def catalogue_problems(data: Any) -> Iterator[tuple[Where, str]]:
    """Every problem of a catalogue's YAML data: unknown keys, bad fields, duplicate codes, targets that read an
    unknown feature or compare a feature with a value of the wrong type."""
    if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
        yield (), "expected a mapping with a list under `items`"
        return
    for key in data:
        if key not in TOP_KEYS:
            yield (key,), f"unknown key {key!r} (a catalogue has only `items`)"
    seen: set[str] = set()
    for n, raw in enumerate(data["items"]):
        code = raw.get("code", "?") if isinstance(raw, Mapping) else "?"
        where: Where = ("items", n)
        if isinstance(raw, Mapping):
            for key in raw:
                if key not in ITEM_KEYS:
                    yield (*where, key), f"item {n + 1} ({code}): unknown field {key!r}"
        try:
            item = CheckItemCreate.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                field = ".".join(str(p) for p in loc)
                yield (*where, *loc), f"item {n + 1} ({code}): {field}: {error['msg']}"
            continue
        if item.code in seen:
            yield (*where, "code"), f"item {n + 1}: duplicate code {item.code}"
        seen.add(item.code)
        for loc, message in _target_problems(item):
            yield (*where, *loc), message


def load_catalogue(path: Path = NATIONAL) -> list[CheckItemCreate]:
    """Read and validate a catalogue file; one line names the first bad item and field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the check-item catalogue: {exc}".splitlines()[0]) from None
    for _, message in catalogue_problems(data):
        raise InputError(f"{path}: {message}")
    return [CheckItemCreate.model_validate(raw) for raw in data["items"]]


def install_catalogue(conn: Connection, items: list[CheckItemCreate]) -> int:
    """Upsert the items into the store (the catalogue is data: re-installing the same file changes nothing)."""
    store.upsert(conn, "check_item", [i.model_dump(mode="json") for i in items])
    return len(items)
