"""Read a rule pack from disk: its manifest, rule files and test files as line-numbered YAML, and its parents'
layers first (a child names `parent:` as a directory next to it or a bundled pack under rules/).

`read_layers(directory, display, log)` gives the layers from the root ancestor down to the pack itself; nothing
here knows what a decision means (that is merge.py) or what a feature is (typecheck.py).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rules
from engine.rules.codes import Code
from engine.rules.findings import Findings
from engine.rules.yamlio import LineDict, LineList, read_yaml

MANIFEST = "pack.yaml"
TESTS_DIR = "tests"
DATA_FILES = ("catalogue.yaml", "policy.yaml")
"""Files in a pack directory that are data for other parts of suijian, not decision tables: the check-item
catalogue (engine/catalogue.py) and the plan policy (engine/plan/policy.py), both checked by data.py; a manifest
may name more under `data:`."""

MANIFEST_FIELDS = {
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


@dataclass
class Layer:
    """One pack directory as read: its manifest, its rule files and its test files, each (shown path, YAML)."""

    directory: Path
    display: str
    name: str
    manifest: LineDict | None
    files: list[tuple[str, Any]]
    tests: list[tuple[str, Any]]


def read_layers(directory: Path, display: str, log: Findings) -> list[Layer]:
    """The pack at `directory` and its ancestors, root first; problems go to `log`."""
    return _Reader(log).read_layers(directory, display, [])


def text(log: Findings, m: LineDict, key: str, file: str, what: str = "") -> str:
    """The text at `key` of a manifest (stripped; "" if absent or not text, which is reported)."""
    value = m.get(key)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "version":
        return str(value)
    if not isinstance(value, str):
        log.add(file, m.value_line(key), Code.NOT_TEXT, f"'{key}'{what} must be text")
        return ""
    return value.strip()


def date(log: Findings, m: LineDict, key: str, file: str) -> dt.date | None:
    """The date at `key` of a manifest (None if absent or not a date, which is reported)."""
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
    log.add(file, m.value_line(key), Code.BAD_DATE, f"'{key}' must be a date such as 2025-01-01")
    return None


class _Reader:
    def __init__(self, log: Findings) -> None:
        self.log = log

    def read_layers(self, directory: Path, display: str, chain: list[Path]) -> list[Layer]:
        if not directory.exists():
            self.log.add(display, 0, Code.PACK_MISSING, f"no rule pack at {display}: the directory does not exist")
            return []
        if not directory.is_dir():
            self.log.add(display, 0, Code.PACK_MISSING, f"no rule pack at {display}: it is a file, not a directory")
            return []
        manifest_file = os.path.join(display, MANIFEST)
        manifest: LineDict | None = None
        parents: list[Layer] = []
        name = display
        data_files: set[str] = set(DATA_FILES)
        if not (directory / MANIFEST).is_file():
            self.log.add(
                manifest_file,
                0,
                Code.MANIFEST_MISSING,
                f"no {MANIFEST} in {display}; a pack starts with a manifest (name, version, jurisdiction, effective_from)",
            )
        else:
            value, found = read_yaml(directory / MANIFEST, manifest_file)
            self.log.extend(found)
            if isinstance(value, LineDict):
                manifest = value
                self.log.fields(manifest, manifest_file, MANIFEST_FIELDS, "pack.yaml")
                name = text(self.log, manifest, "name", manifest_file) or display
                parents = self.read_parent(directory, display, manifest, manifest_file, chain)
                data_files = self.data_files(directory, display, manifest, manifest_file)
            elif not found:
                self.log.add(
                    manifest_file,
                    1,
                    Code.NOT_MAPPING,
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
            self.log.extend(found)
            files.append((shown, value))
        tests = []
        tests_dir = directory / TESTS_DIR
        if tests_dir.is_dir():
            for path in sorted(tests_dir.iterdir()):
                if path.suffix in (".yaml", ".yml") and path.is_file():
                    shown = os.path.join(display, TESTS_DIR, path.name)
                    value, found = read_yaml(path, shown)
                    self.log.extend(found)
                    tests.append((shown, value))
        return [*parents, Layer(directory, display, name, manifest, files, tests)]

    def data_files(self, directory: Path, display: str, manifest: LineDict, file: str) -> set[str]:
        """Files the manifest declares as data for other parts of suijian (e.g. the check-item catalogue)."""
        data = manifest.get("data")
        if data is None:
            return set(DATA_FILES)
        if not isinstance(data, LineList) or not all(isinstance(x, str) for x in data):
            self.log.add(
                file,
                manifest.value_line("data"),
                Code.NOT_LIST,
                "data must be a list of file names in the pack directory",
            )
            return set()
        names = set(DATA_FILES)
        for i, name in enumerate(data):
            path = directory / name
            if "/" in name or not path.is_file():
                self.log.add(file, data.item_line(i), Code.DATA_MISSING, f"data file '{name}' not found in {display}")
                continue
            shown = os.path.join(display, name)
            _, found = read_yaml(path, shown) if path.suffix in (".yaml", ".yml") else (None, [])
            self.log.extend(found, breaks=False)
            names.add(name)
        return names

    def read_parent(
        self, directory: Path, display: str, manifest: LineDict, file: str, chain: list[Path]
    ) -> list[Layer]:
        parent = manifest.get("parent")
        if parent is None:
            return []
        line = manifest.value_line("parent")
        if not isinstance(parent, str) or not parent.strip():
            self.log.add(
                file,
                line,
                Code.NOT_TEXT,
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
                    self.log.add(
                        file,
                        line,
                        Code.PARENT_CYCLE,
                        f"pack '{parent}' is its own ancestor; a parent chain must end",
                    )
                    return []
                return self.read_layers(path, shown, [*chain, directory.resolve()])
        self.log.add(
            file,
            line,
            Code.PARENT_MISSING,
            f"parent pack '{parent}' not found (as a directory next to this pack or under rules/)",
        )
        return []


def _packaged_rules() -> Path:
    return Path(rules.__file__).parent


def _shown_path(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel
