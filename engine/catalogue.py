"""The check-item catalogue (抽查事项清单) shipped with a rule pack, validated and loaded into the store."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from engine.features import REGISTRY
from entities import store
from entities.errors import InputError
from entities.models import CheckItemCreate

NATIONAL = Path(__file__).resolve().parent.parent / "rules" / "national" / "catalogue.yaml"
_OPS = {"in", "<", "<=", ">", ">=", "==", "!="}


def _check_target(code: str, target: Mapping[str, object], where: str) -> None:
    for feature, test in target.items():
        if feature not in REGISTRY:
            raise InputError(f"{where}: item {code}: target uses unknown feature {feature!r}")
        if isinstance(test, dict):
            unknown = set(test) - _OPS
            if unknown:
                raise InputError(
                    f"{where}: item {code}: target test {sorted(unknown)} on {feature} (use in, <, <=, >, >=)"
                )


def load_catalogue(path: Path = NATIONAL) -> list[CheckItemCreate]:
    """Read and validate a catalogue file; one line names the first bad item and field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the check-item catalogue: {exc}".splitlines()[0]) from None
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InputError(f"{path}: expected a mapping with a list under `items`")
    out: list[CheckItemCreate] = []
    seen: set[str] = set()
    for n, raw in enumerate(items, 1):
        try:
            item = CheckItemCreate.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise InputError(
                f"{path}: item {n} ({raw.get('code', '?') if isinstance(raw, dict) else '?'}): {field}: {first['msg']}"
            ) from None
        if item.code in seen:
            raise InputError(f"{path}: item {n}: duplicate code {item.code}")
        seen.add(item.code)
        _check_target(item.code, item.target, str(path))
        out.append(item)
    return out


def install_catalogue(conn: Connection, items: list[CheckItemCreate]) -> int:
    """Upsert the items into the store (the catalogue is data: re-installing the same file changes nothing)."""
    store.upsert(conn, "check_item", [i.model_dump(mode="json") for i in items])
    return len(items)
