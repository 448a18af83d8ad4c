"""A pack's own given/expect cases: pass/fail with differences, and row coverage of the pack's own rows."""

from __future__ import annotations

from pathlib import Path

from engine.rules import load_pack, run_cases
from tests.engine.rules.helpers import PACKS, rule, table, write_pack


def test_the_test_pack_passes_with_full_coverage() -> None:
    for name in ("base", "child"):
        for engine in ("durable", "reference"):
            report = run_cases(load_pack(PACKS / name), engine=engine)
            assert report.ok, [o.differences for o in report.failed]
            assert report.coverage.percent == 100.0 and report.coverage.uncovered == ()
    base = run_cases(load_pack(PACKS / "base"))
    assert base.coverage.total == 47 and [r.id for r in base.coverage.disabled] == ["ratio_a"]
    # The child counts only the rows it writes: one override and one addition.
    child = run_cases(load_pack(PACKS / "child"))
    assert child.coverage.total == 2 and child.coverage.disabled == ()


def test_failures_say_what_differs_and_coverage_lists_rows(tmp_path: Path) -> None:
    rules = (
        rule("a", '{penalties_3y: "< 3"}')
        + rule("b", '{penalties_3y: ">= 3"}', "{grade: C}")
        + rule("c", "{}", "{grade: D}")
    )
    cases = """\
        cases:
          - name: 少量处罚
            given: {penalties_3y: 1}
            expect: {grade: B}
            fired: [b]
          - name: 缺失
            given: {}
            expect: {grade: D}
          - name: 多次处罚
            given: {penalties_3y: 5}
            expect: {grade: C}
    """
    pack = load_pack(write_pack(tmp_path / "p", {"r.yaml": table(rules), "tests/cases.yaml": cases}))
    report = run_cases(pack)
    assert [o.passed for o in report.outcomes] == [False, True, True]
    assert report.failed[0].differences == ("grade: expected B, got A", "rule 'b' did not fire (fired: a)")
    assert report.failed[0].case.location.line == 2
    assert report.coverage.total == 3 and report.coverage.covered == 3
    report = run_cases(
        load_pack(
            write_pack(
                tmp_path / "q",
                {"r.yaml": table(rules), "tests/cases.yaml": cases.replace("{penalties_3y: 5}", "{}")},
            )
        )
    )
    assert [(r.id, r.location.line) for r in report.coverage.uncovered] == [("b", 12)]
    assert round(report.coverage.percent, 1) == 66.7


def test_lists_compare_as_sets_and_missing_is_null(tmp_path: Path) -> None:
    rules = rule("t1", "{whitelist: false}", "{tasks: [X1, X2]}") + rule("t2", "{lenient: false}", "{tasks: [X3]}")
    cases = """\
        cases:
          - name: 两项
            given: {whitelist: false, lenient: false}
            expect: {tasks: [X3, X2, X1]}
          - name: 无
            given: {}
            expect: {tasks: []}
    """
    pack = load_pack(
        write_pack(
            tmp_path / "p",
            {
                "r.yaml": table(rules, hit_policy="collect", outputs="{tasks: list}"),
                "tests/cases.yaml": cases,
            },
        )
    )
    assert run_cases(pack).ok
