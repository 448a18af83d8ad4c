"""The ledger is a floor below grading and planning: no module of engine.ledger imports them (at any depth
of the module, deferred imports included), so the ledger's interfaces can be typed without cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LEDGER = Path(__file__).resolve().parents[2] / "engine" / "ledger"
ABOVE = ("engine.grading", "engine.planning", "engine.replay", "engine.whatif", "engine.audit", "engine.publish")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


@pytest.mark.parametrize("path", sorted(LEDGER.glob("*.py")), ids=lambda p: p.name)
def test_no_ledger_module_imports_the_floors_above(path: Path) -> None:
    above = sorted(m for m in _imports(path) if m.startswith(ABOVE))
    assert above == [], f"{path.name} imports {above}"
