"""The planning core is pure: no click, no printing, no clock, no store."""

from __future__ import annotations

import ast
from pathlib import Path

import engine.plan

FORBIDDEN_IMPORTS = {"click", "rich", "sqlalchemy", "sqlmodel", "entities.store", "time", "random"}
FORBIDDEN_CALLS = {"print", "today", "now", "utcnow", "input"}


def test_engine_plan_is_pure() -> None:
    root = Path(engine.plan.__file__).parent
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                names = []
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_IMPORTS and name not in FORBIDDEN_IMPORTS, f"{path}: {name}"
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                assert name not in FORBIDDEN_CALLS, f"{path}:{node.lineno}: {name}()"
