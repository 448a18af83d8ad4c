"""Finding codes: every `Code` is documented in engine/rules/README.md, and every one is produced by some broken
pack below (no dead codes, no undocumented ones)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.features.registry import REGISTRY
from engine.rules import analysis, check_pack
from engine.rules.codes import Code
from engine.rules.typecheck import MAX_INPUTS
from engine.rules.yamlio import read_yaml
from tests.engine.rules.helpers import MANIFEST, PACKS, rule, table, write_pack

README = Path(__file__).resolve().parents[3] / "engine" / "rules" / "README.md"

R = "  reason: 测试\n  basis: 本规则包配置：测试\n"


def _one(tmp_path: Path, text: str, manifest: str = MANIFEST, **files: str) -> set[str]:
    d = write_pack(tmp_path / "p", {"r.yaml": text, **files}, manifest)
    return {f.code for f in check_pack(d)}


def _files(tmp_path: Path, files: dict[str, str], manifest: str | None = MANIFEST) -> set[str]:
    return {f.code for f in check_pack(write_pack(tmp_path / "p", files, manifest))}


def _encoding(tmp_path: Path) -> set[str]:
    d = write_pack(tmp_path / "p", {})
    (d / "r.yaml").write_bytes(b"decisions: \xff\n")
    return {f.code for f in check_pack(d)}


def _child(tmp_path: Path, child_rules: str) -> set[str]:
    write_pack(tmp_path / "base", {"r.yaml": table(rule("a", "{}")) + _decision("e", rule("b", "{}"))})
    d = write_pack(tmp_path / "kid", {"r.yaml": child_rules}, MANIFEST + "parent: ../base\n")
    return {f.code for f in check_pack(d)}


def _decision(ident: str, rules: str) -> str:
    return table(rules).replace("decisions:\n  - id: d\n", f"  - id: {ident}\n").replace("grade", f"{ident}_grade")


def _too_complex(tmp_path: Path) -> set[str]:
    names = [n for n in REGISTRY][: MAX_INPUTS + 1]
    when = "{" + ", ".join(f"{n}: any" for n in names) + "}"
    return _one(tmp_path, table(rule("a", when)))


def _analysis_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    monkeypatch.setattr(analysis, "MAX_STEPS", 0)
    return _one(tmp_path, table(rule("a", '{penalties_3y: ">= 1"}') + rule("b", "{}")))


def _duplicate_key(tmp_path: Path) -> set[str]:
    # `d` and `grade` name the same output of decision d.
    first = table(rule("a", "{}"))
    second = _decision("e", rule("b", "{}")).replace("when: {}", "when: {d: A, grade: A}")
    return _one(tmp_path, first + second)


CORPUS: dict[Code, Callable[..., set[str]]] = {
    Code.PACK_MISSING: lambda t: {f.code for f in check_pack(t / "nowhere")},
    Code.MANIFEST_MISSING: lambda t: _files(t, {"r.yaml": table(rule("a", "{}"))}, None),
    Code.UNREADABLE: lambda t: {f.code for f in read_yaml(t, "a directory")[1]},
    Code.ENCODING: _encoding,
    Code.YAML_SYNTAX: lambda t: _one(t, "decisions: [a, }\n"),
    Code.YAML_TAB: lambda t: _one(t, "decisions:\n\t- id: x\n"),
    Code.DATA_MISSING: lambda t: _one(t, table(rule("a", "{}")), MANIFEST + "data: [nope.yaml]\n"),
    Code.PARENT_MISSING: lambda t: _one(t, table(rule("a", "{}")), MANIFEST + "parent: ../no_such_pack_x\n"),
    Code.PARENT_CYCLE: lambda t: _one(t, table(rule("a", "{}")), MANIFEST + "parent: ../p\n"),
    Code.NOT_MAPPING: lambda t: _one(t, "- a\n- b\n"),
    Code.NOT_LIST: lambda t: _one(t, "decisions: {a: 1}\n"),
    Code.NOT_TEXT: lambda t: _one(t, table(rule("a", "{}")), MANIFEST + "description: [a]\n"),
    Code.NOT_BOOL: lambda t: _one(t, table("- id: a\n  when: {}\n  then: {grade: A}\n  else: 1\n" + R)),
    Code.BAD_DATE: lambda t: _one(t, table(rule("a", "{}")), MANIFEST.replace("2025-01-01", "soon")),
    Code.DATE_ORDER: lambda t: _one(t, table(rule("a", "{}")), MANIFEST + "effective_to: 2024-01-01\n"),
    Code.UNKNOWN_FIELD: lambda t: _one(t, table(rule("a", "{}") + "  colour: red\n")),
    Code.MISSING_FIELD: lambda t: _one(t, table("- id: a\n  then: {grade: A}\n" + R)),
    Code.MISSING_ID: lambda t: _one(t, table("- when: {}\n  then: {grade: A}\n" + R)),
    Code.MISSING_REASON: lambda t: _one(t, table("- id: a\n  when: {}\n  then: {grade: A}\n  basis: 测试\n")),
    Code.MISSING_BASIS: lambda t: _one(t, table("- id: a\n  when: {}\n  then: {grade: A}\n  reason: 测试\n")),
    Code.EMPTY_TABLE: lambda t: _one(t, "decisions: []\n"),
    Code.BAD_ID: lambda t: _one(t, table(rule("a b", "{}"))),
    Code.DUPLICATE_ID: lambda t: _one(t, table(rule("a", '{penalties_3y: "> 1"}') + rule("a", "{}"))),
    Code.DUPLICATE_KEY: _duplicate_key,
    Code.NAME_CLASH: lambda t: _one(t, table(rule("a", "{}"), outputs="{penalties_3y: int}")),
    Code.UNKNOWN_FEATURE: lambda t: _one(t, table(rule("a", "{penalty_3y: 1}"))),
    Code.UNKNOWN_OUTPUT: lambda t: _one(t, table(rule("a", "{}", then="{grade: A, grad: A}"))),
    Code.UNKNOWN_PARAMETER: lambda t: _one(t, table(rule("a", '{penalties_3y: "<= $param.nope"}'))),
    Code.UNKNOWN_RULE: lambda t: _one(
        t,
        table(rule("a", "{}")),
        **{"tests/c.yaml": "cases:\n  - name: x\n    given: {}\n    expect: {grade: A}\n    fired: [nope]\n"},
    ),
    Code.UNDECLARED_INPUT: lambda t: _one(
        t, table(rule("a", "{on_abnormal_list: true}"), extra="    inputs: [penalties_3y]\n")
    ),
    Code.UNKNOWN_TYPE: lambda t: _one(t, table(rule("a", "{}"), outputs="{grade: {type: text}}")),
    Code.TYPE_ERROR: lambda t: _one(t, table(rule("a", "{penalties_3y: x}"))),
    Code.DUPLICATE_VALUE: lambda t: _one(t, table(rule("a", "{}"), outputs="{grade: {type: str, values: [A, A]}}")),
    Code.UNKNOWN_HIT_POLICY: lambda t: _one(t, table(rule("a", "{}"), hit_policy="uniqe")),
    Code.UNKNOWN_AGGREGATE: lambda t: _one(
        t, table(rule("a", "{}", then="{n: 1}"), hit_policy="collect", outputs="{n: int}", extra="    aggregate: avg\n")
    ),
    Code.AGGREGATE_NOT_COLLECT: lambda t: _one(
        t, table(rule("a", "{}", then="{n: 1}"), outputs="{n: int}", extra="    aggregate: sum\n")
    ),
    Code.UNORDERED_PRIORITY: lambda t: _one(t, table(rule("a", "{}"), hit_policy="priority", outputs="{grade: str}")),
    Code.BAD_CONDITION: lambda t: _one(t, table(rule("a", '{penalties_3y: "<< 3"}'))),
    Code.MISSING_OUTPUT: lambda t: _one(t, table(rule("a", "{}", then="{}"))),
    Code.TOO_COMPLEX: _too_complex,
    Code.CYCLE: lambda t: {f.code for f in check_pack(PACKS / "broken" / "cycle")},
    Code.OVERRIDE_CONFLICT: lambda t: _child(t, "decisions:\n  - id: e\n    rules:\n" + _indent(rule("a", "{}"))),
    Code.MISPLACED_RULE: lambda t: _one(t, table(rule("a", "{}") + "  before: b\n" + rule("b", "{}"))),
    Code.ELSE_NOT_LAST: lambda t: _one(t, table("- id: a\n  else: true\n  then: {grade: A}\n" + R + rule("b", "{}"))),
    Code.ELSE_WITH_WHEN: lambda t: _one(t, table("- id: a\n  else: true\n  when: {}\n  then: {grade: A}\n" + R)),
    Code.BAD_POLICY: lambda t: {f.code for f in check_pack(PACKS / "broken" / "bad_policy")},
    Code.BAD_CATALOGUE: lambda t: {f.code for f in check_pack(PACKS / "broken" / "bad_catalogue")},
    Code.BAD_TARGET: lambda t: {f.code for f in check_pack(PACKS / "broken" / "bad_catalogue")},
    Code.UNKNOWN_ITEM: lambda t: {f.code for f in check_pack(PACKS / "broken" / "bad_policy")},
    Code.UNKNOWN_GRADE_COLUMN: lambda t: {f.code for f in check_pack(PACKS / "broken" / "bad_policy")},
    # A follow-up decision (it reads a result fact) that also reads a subject feature.
    Code.MIXED_VOCABULARY: lambda t: _one(t, table(rule("a", "{rechecked: false, penalties_3y: 0}") + rule("b", "{}"))),
    Code.OVERLAP: lambda t: {f.code for f in check_pack(PACKS / "broken" / "overlap")},
    Code.GAP: lambda t: {f.code for f in check_pack(PACKS / "broken" / "gap")},
    Code.UNREACHABLE: lambda t: _one(t, table(rule("a", "{}") + rule("b", "{penalties_3y: 1}"))),
    Code.ANALYSIS_LIMIT: _analysis_limit,
    Code.STALE_REASON: lambda t: _one(
        t,
        table(
            '- id: a\n  when: {days_since_registration: "< 730"}\n  then: {grade: A}\n  reason: 成立不满一年\n'
            "  basis: 本规则包配置：测试\n" + rule("b", "{}")
        ),
    ),
}


def _indent(text: str) -> str:
    return "".join("      " + line + "\n" for line in text.splitlines())


def test_every_code_has_a_broken_pack_that_produces_it() -> None:
    assert set(CORPUS) == set(Code)


@pytest.mark.parametrize("code", list(CORPUS), ids=str)
def test_broken_pack_produces_its_code(code: Code, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make = CORPUS[code]
    found = make(tmp_path, monkeypatch) if make is _analysis_limit else make(tmp_path)
    assert code in found


def test_every_code_is_documented_once_in_the_readme() -> None:
    documented = re.findall(r"^\| `([a-z_]+)` \|", README.read_text(encoding="utf-8"), flags=re.M)
    assert sorted(documented) == sorted(c.value for c in Code)


def test_no_code_is_spelled_inline() -> None:
    """Every finding names its code through `Code`, so a typo cannot invent a new one."""
    values = {c.value for c in Code}
    inline = [
        f"{path.name}:{node.lineno}: {node.value}"
        for path in sorted(README.parent.glob("*.py"))
        if path.name != "codes.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in values
    ]
    assert inline == []
