"""The results core is pure: no click, no printing, no clock, no store. The wiring modules (WIRING: they read and
write the store) still take no CLI, print nothing and read no clock: dates and times come in as arguments."""

from __future__ import annotations

import ast
from pathlib import Path

import engine.results

FORBIDDEN_IMPORTS = {"click", "rich", "sqlalchemy", "sqlmodel", "entities.store", "time", "random"}
FORBIDDEN_CALLS = {"print", "today", "now", "utcnow", "input"}
WIRING = {"records", "intake", "publishing", "followup_store", "verify", "recheck_store"}
STORE_IMPORTS = {"sqlalchemy", "entities.store"}


def test_engine_results_is_pure() -> None:
    root = Path(engine.results.__file__).parent
    paths = sorted(root.glob("*.py"))
    assert {p.stem for p in paths} >= {"codes", "model", "validate", "publication", "followups"}
    for path in paths:
        allowed = STORE_IMPORTS if path.stem in WIRING else set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                if name in allowed or name.split(".")[0] in allowed:
                    continue
                assert name.split(".")[0] not in FORBIDDEN_IMPORTS and name not in FORBIDDEN_IMPORTS, f"{path}: {name}"
            if isinstance(node, ast.Call):
                f = node.func
                called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                assert called not in FORBIDDEN_CALLS, f"{path}:{node.lineno}: {called}()"
            # Imports only at module level: no deferred imports.
            if isinstance(node, ast.FunctionDef):
                inner = [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
                assert not inner, f"{path}:{node.lineno}: import inside {node.name}()"
