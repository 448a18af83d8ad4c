"""`stale_reason`: a rule's reason states a number its conditions no longer use (issue 12, pack hygiene)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.rules import check_pack
from tests.engine.rules.helpers import lines, table, write_pack

REPO = Path(__file__).resolve().parents[3]


def _rule(when: str, reason: str, then: str = "{grade: B}") -> str:
    return (
        f"- id: r\n  when: {when}\n  then: {then}\n  reason: {reason}\n  basis: 本规则包配置：测试\n"
        "- id: others\n  else: true\n  then: {grade: A}\n  reason: 其余\n  basis: 本规则包配置：测试\n"
    )


def _check(tmp_path: Path, when: str, reason: str, then: str = "{grade: B}") -> list[str]:
    d = write_pack(tmp_path / "p", {"r.yaml": table(_rule(when, reason, then))})
    return [line.removeprefix(f"{d}/") for line in lines(d)]


def test_a_duration_in_words_that_the_days_condition_no_longer_uses(tmp_path: Path) -> None:
    assert _check(tmp_path, '{days_since_registration: "< 730"}', "成立不满一年，加分") == [
        "r.yaml:7: stale_reason: rule 'r': its reason says 不满一年 (一年 ≈ 365 days) but its condition on "
        "days_since_registration uses 730; update the reason"
    ]


def test_a_number_in_digits_that_no_condition_uses(tmp_path: Path) -> None:
    assert _check(tmp_path, '{days_since_registration: "< 730"}', "成立不满 365 天，加分") == [
        "r.yaml:7: stale_reason: rule 'r': its reason states 365 but none of its conditions, outputs or named "
        "parameters uses 365; update the reason"
    ]


@pytest.mark.parametrize(
    ("when", "reason", "then"),
    [
        ('{days_since_registration: "< 365"}', "成立不满一年，加分", "{grade: B}"),
        ('{days_since_registration: "< 365"}', "成立不满 365 天", "{grade: B}"),
        ('{days_since_registration: "< 730"}', "成立不满两年", "{grade: B}"),
        ('{days_since_registration: "< 90"}', "成立三个月内", "{grade: B}"),
        ('{penalties_3y: ">= 3"}', "近三年受到 3 次以上处罚", "{grade: B}"),
        ('{penalties_3y: "> 2"}', "近三年受到 3 次以上处罚", "{grade: B}"),  # one off the threshold
        ('{verified_complaints_12m: ">= 1"}', "近 12 个月有投诉", "{grade: B}"),  # the number in the feature name
        ('{penalties_3y: ">= 1"}', "依据第 45 条、市场监管总局令第 57 号，等级 5 级", "{grade: B}"),  # articles, grades
        ('{penalties_3y: ">= 1"}', "6 月 30 日前未报送", "{grade: B}"),  # a date
        ("{annual_report_late: true}", "未于 6 月 30 日前报送，加 5 分", "{grade: B}"),  # no numeric condition
        ('{days_since_registration: "< 730"}', "两年全覆盖到期", "{grade: B}"),  # not written as a bound
    ],
)
def test_no_warning_when_the_reason_fits(tmp_path: Path, when: str, reason: str, then: str) -> None:
    assert _check(tmp_path, when, reason, then) == []


def test_an_output_value_and_a_named_parameter_count_as_used(tmp_path: Path) -> None:
    manifest = (
        'name: t\nversion: "1"\njurisdiction: 测试辖区\neffective_from: 2025-01-01\n'
        "parameters:\n  new_days: {type: int, default: 400, comment: 新设天数}\n"
    )
    rules = (
        "decisions:\n  - id: d\n    description: 测试\n    hit_policy: first\n    outputs: {n: int}\n    rules:\n"
        '      - id: r\n        when: {days_since_registration: "< $param.new_days"}\n        then: {n: 25}\n'
        "        reason: 成立不满参数 new_days（默认 400）天，加 25 分\n        basis: 本规则包配置：测试\n"
        "      - id: others\n        else: true\n        then: {n: 0}\n        reason: 其余\n        basis: 本规则包配置：测试\n"
    )
    d = write_pack(tmp_path / "p", {"r.yaml": rules}, manifest)
    assert lines(d) == []


def test_the_warning_does_not_refuse_the_pack_and_the_bundled_packs_have_none(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    shutil.copytree(REPO / "rules" / "national", root / "national")
    credit = root / "national" / "credit.yaml"
    text = credit.read_text(encoding="utf-8")
    assert 'days_since_registration: "< 365"' in text
    credit.write_text(text.replace('days_since_registration: "< 365"', 'days_since_registration: "< 730"'), "utf-8")
    found = [f for f in check_pack(root / "national") if f.code == "stale_reason"]
    assert [(f.severity, f.location.file.endswith("credit.yaml"), "score_new" in f.message) for f in found] == [
        ("warning", True, True)
    ]
    for pack in ("national", "guangdong"):
        assert [str(f) for f in check_pack(REPO / "rules" / pack)] == []
