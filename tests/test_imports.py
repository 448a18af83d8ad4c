"""The package's import graph has no cycle and no module imports another module's `_private` names (issue 11).

A cycle, or a deferred `import` inside a function to dodge one, means a shared thing sits on the wrong floor: move
it down (the ledger below grading and planning, entities below everything). Deferred imports count here too.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "entities", "commands")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The project module `name` lives in (a package's attribute resolves to the package), None if outside."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> tuple[set[str], list[str]]:
    """(project modules `module` imports, anywhere in it; the `_private` names it takes from another module)."""
    targets: set[str] = set()
    private: list[str] = []
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {t for a in node.names if (t := _owner(a.name))}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import: resolve it against this module's package
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            source = _owner(base)
            for alias in node.names:
                target = _owner(f"{base}.{alias.name}") or source
                if target:
                    targets.add(target)
                if alias.name.startswith("_") and not alias.name.startswith("__") and source and source != module:
                    private.append(f"{module} imports {base}.{alias.name}")
    targets.discard(module)
    return targets, private


def test_no_import_cycles() -> None:
    graph = {module: _imports(module)[0] for module in MODULES}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' → '.join(exc.args[1])}") from None


def test_no_module_imports_another_modules_private_names() -> None:
    assert [p for module in MODULES for p in _imports(module)[1]] == []


def test_the_walk_sees_the_whole_package() -> None:
    # A walk that found nothing would pass the two tests above: it must see the floors it guards.
    assert {"engine.grading", "engine.ledger.chain", "engine.planning", "entities.store", "commands.common"} <= set(
        MODULES
    )
    assert "engine.ledger.chain" in _imports("engine.grading")[0]
