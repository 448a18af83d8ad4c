"""`suijian rules check|test` through click's runner: exact output, exit codes, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import suijian
from commands.rules import rules

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(suijian, list(args))


def test_commands_export() -> None:
    assert suijian.commands["rules"] is rules and set(rules.commands) == {
        "check",
        "test",
        "diff",
        "backtest",
        "publish",
        "active",
        "export",
        "propose",
        "rollback",
        "approve",
        "reject",
        "proposals",
    }


@pytest.mark.parametrize("command", ["check", "test"])
def test_help_has_examples(command: str) -> None:
    result = invoke("rules", command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert f"suijian rules {command} national" in result.output


def test_check_a_clean_pack() -> None:
    result = invoke("rules", "check", "tests/packs/base")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.startswith(
        "tests/packs/base: ok — 10 decisions, 48 rules, 0 warnings (pack test-base 1.0, hash "
    )


def test_check_prints_every_finding_and_exits_1() -> None:
    result = invoke("rules", "check", "tests/packs/broken/wrong_type")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "tests/packs/broken/wrong_type/rules.yaml:9: type_error: 'on_abnormal_list' is true or false; '>=' compares numbers only",
        "tests/packs/broken/wrong_type/rules.yaml:14: type_error: 'status' is one of active, revoked, cancelled, moved_out, annulled, got \"closed\"",
        "tests/packs/broken/wrong_type/rules.yaml:19: type_error: 'penalties_3y' is a whole number, got \"x\"",
        "tests/packs/broken/wrong_type/rules.yaml:20: type_error: 'credit_class' is one of A, B, C, D, got \"E\"",
    ]
    assert result.stderr == "Error: tests/packs/broken/wrong_type: 4 errors, 0 warnings; the pack cannot be used\n"


@pytest.mark.parametrize(
    ("name", "finding"),
    [
        ("malformed_yaml", "rules.yaml:5: yaml_syntax: malformed YAML: expected ',' or ']', but got '}'"),
        (
            "tab_indent",
            "rules.yaml:4: yaml_tab: tab character in the indentation; YAML indents with spaces only",
        ),
        (
            "unknown_feature",
            "rules.yaml:9: unknown_feature: unknown feature 'penalty_3y' (did you mean 'penalties_3y'?)",
        ),
        (
            "empty_table",
            "rules.yaml:7: empty_table: decision 'credit_class' has no rules; add at least one rule",
        ),
        (
            "cycle",
            "rules.yaml:2: cycle: decisions hazard_level → frequency → hazard_level read each other's outputs; a decision can only read decisions evaluated before it",
        ),
    ],
)
def test_check_broken_packs(name: str, finding: str) -> None:
    result = invoke("rules", "check", f"tests/packs/broken/{name}")
    assert result.exit_code == 1
    assert result.stdout == f"tests/packs/broken/{name}/{finding}\n"


def test_check_missing_directory() -> None:
    result = invoke("rules", "check", "rules/no_such_pack")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: no rule pack 'rules/no_such_pack': not a directory, nor a bundled pack (guangdong, national)\n"
    )
    result = invoke("rules", "check", "no_such_pack", "--json")
    assert (result.exit_code, result.stderr) == (1, "")
    assert json.loads(result.stdout) == {
        "ok": False,
        "error": {
            "code": "input",
            "message": ("no rule pack 'no_such_pack': not a directory, nor a bundled pack (guangdong, national)"),
        },
    }


def test_check_json() -> None:
    result = invoke("rules", "check", "tests/packs/broken/missing_fields", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert (
        document["ok"] is False
        and document["errors"] == 3
        and document["warnings"] == 0
        and document["pack"]
        == {"name": None, "version": None, "hash": None, "directory": "tests/packs/broken/missing_fields"}
        and document["error"]
        == {
            "code": "pack_invalid",
            "message": ("tests/packs/broken/missing_fields: 3 errors, 0 warnings; the pack cannot be used"),
        }
    )
    assert document["findings"][0] == {
        "file": "tests/packs/broken/missing_fields/rules.yaml",
        "line": 8,
        "code": "missing_id",
        "severity": "error",
        "message": "a rule has no id; give it a stable id such as credit_d_serious",
    }
    clean = json.loads(invoke("rules", "check", "tests/packs/child", "--json").stdout)
    assert clean["ok"] is True and clean["findings"] == [] and "error" not in clean
    assert clean["pack"]["directory"] == "tests/packs/child" and len(clean["pack"]["hash"]) == 64


def test_test_passes_with_full_coverage() -> None:
    result = invoke("rules", "test", "tests/packs/base", "--min-coverage", "100")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-3:] == [
        "13 passed, 0 failed",
        "row coverage: 47/47 rows (100.0 %)",
        "  switched off tests/packs/base/credit.yaml:98: ratio_a ($param.a_class_no_onsite = true)",
    ]
    assert "pass" in result.stdout and "FAIL" not in result.stdout


def _failing_pack(tmp_path: Path) -> str:
    d = tmp_path / "p"
    (d / "tests").mkdir(parents=True)
    (d / "pack.yaml").write_text(
        "name: t\nversion: '1'\njurisdiction: x\neffective_from: 2025-01-01\n", encoding="utf-8"
    )
    (d / "r.yaml").write_text(
        "decisions:\n"
        "  - id: d\n    description: 测试\n    hit_policy: first\n    outputs: {grade: str}\n    rules:\n"
        '      - id: a\n        when: {penalties_3y: "< 3"}\n        then: {grade: A}\n        reason: 少\n        basis: 测试\n'
        "      - id: b\n        else: true\n        then: {grade: B}\n        reason: 多\n        basis: 测试\n",
        encoding="utf-8",
    )
    (d / "tests" / "cases.yaml").write_text(
        "cases:\n  - name: 无处罚\n    given: {penalties_3y: 0}\n    expect: {grade: B}\n", encoding="utf-8"
    )
    return str(d)


def test_test_reports_failures_and_uncovered_rows(tmp_path: Path) -> None:
    d = _failing_pack(tmp_path)
    result = invoke("rules", "test", d)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-5:] == [
        f"FAIL {d}/tests/cases.yaml:2: 无处罚",
        "  grade: expected B, got A",
        "0 passed, 1 failed",
        "row coverage: 1/2 rows (50.0 %)",
        f"  not covered {d}/r.yaml:12: b",
    ]
    assert result.stderr == f"Error: {d}: 1 of 1 case failed\n"
    document = json.loads(invoke("rules", "test", d, "--json").stdout)
    assert document["ok"] is False and document["failed"] == 1
    assert document["cases"][0]["differences"] == ["grade: expected B, got A"]
    assert document["coverage"] == {
        "rows": 2,
        "covered": 1,
        "percent": 50.0,
        "uncovered": [{"file": f"{d}/r.yaml", "line": 12, "rule": "b"}],
        "disabled": [],
    }


def test_test_min_coverage(tmp_path: Path) -> None:
    d = _failing_pack(tmp_path)
    Path(d, "tests", "cases.yaml").write_text(
        "cases:\n  - name: 无处罚\n    given: {penalties_3y: 0}\n    expect: {grade: A}\n", encoding="utf-8"
    )
    assert invoke("rules", "test", d).exit_code == 0
    result = invoke("rules", "test", d, "--min-coverage", "90")
    assert result.exit_code == 1
    assert result.stderr == f"Error: {d}: row coverage 50.0 % is below the required 90 %\n"


def test_test_refuses_a_broken_pack() -> None:
    result = invoke("rules", "test", "tests/packs/broken/overlap")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "tests/packs/broken/overlap/rules.yaml:13: overlap: rules 'food_a' (line 8) and 'food_b' both match "
        "food_risk_score=30; a unique table needs exactly one match for every input"
    ]
    assert result.stderr == (
        "Error: tests/packs/broken/overlap: 1 error; fix the pack before testing it (suijian rules check tests/packs/broken/overlap)\n"
    )


def test_test_without_cases(tmp_path: Path) -> None:
    d = Path(_failing_pack(tmp_path))
    (d / "tests" / "cases.yaml").unlink()
    result = invoke("rules", "test", str(d))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"{d}: no cases; add given/expect cases under {d}/tests/*.yaml"
