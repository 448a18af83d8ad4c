"""The shipped rule packs (rules/national, rules/guangdong): they check clean, their cases pass with full row
coverage, every rule says why and on what basis, their plan policies parse, and grading a synthetic district
gives every subject a credit class with a plausible distribution."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from engine import grading
from engine.plan.policy import PlanPolicy
from engine.rules import check_pack, load_pack, run_cases
from engine.synth import get_profile, load_demo
from tests.helpers import TESTER

RULES = Path(__file__).resolve().parents[2] / "rules"
PACKS = ["national", "guangdong"]
AS_OF = dt.date(2025, 12, 31)
NOW = dt.datetime(2026, 1, 1, 8, 0)
PLAN_OUTPUTS = ("credit_class", "mandatory_items", "risk_score", "food_grade", "tasks")


@pytest.mark.parametrize("name", PACKS)
def test_pack_checks_clean(name: str) -> None:
    findings = check_pack(RULES / name)
    assert [f for f in findings if f.severity == "error"] == []
    assert findings == [], [str(f) for f in findings]  # no warnings either


@pytest.mark.parametrize("name", PACKS)
def test_cases_pass_with_full_row_coverage(name: str) -> None:
    for engine_name in ("durable", "reference"):
        report = run_cases(load_pack(RULES / name), engine=engine_name)
        assert report.outcomes, "the pack has no cases"
        assert report.ok, [(o.case.name, o.differences) for o in report.failed]
        assert report.coverage.percent == 100.0, [r.id for r in report.coverage.uncovered]


@pytest.mark.parametrize("name", PACKS)
def test_every_rule_has_reason_and_basis(name: str) -> None:
    pack = load_pack(RULES / name)
    for decision in pack.decisions:
        for rule in decision.rules:
            assert rule.reason.strip(), f"{rule.id} has no reason"
            assert rule.basis.strip(), f"{rule.id} has no basis"


@pytest.mark.parametrize("name", PACKS)
def test_pack_gives_the_planning_outputs(name: str) -> None:
    pack = load_pack(RULES / name)
    outputs = {o.name for d in pack.decisions for o in d.outputs}
    assert set(PLAN_OUTPUTS) <= outputs


def test_national_is_in_force_from_2025_without_end() -> None:
    pack = load_pack(RULES / "national")
    assert pack.effective_from == dt.date(2025, 1, 1)
    assert pack.effective_to is None


@pytest.mark.parametrize("name", PACKS)
def test_policy_parses(name: str) -> None:
    policy = PlanPolicy.parse(yaml.safe_load((RULES / name / "policy.yaml").read_text(encoding="utf-8")))
    assert policy.credit_ratios["C"] == policy.credit_ratios["D"] == "100%"
    assert policy.general_cap == "5%"
    # 企业公示信息抽查不低于 3%（工商总局令第67号）
    assert all(r in ("3%", "4%", "5%") for r in policy.item("DJ-GS-01").ratios.values())  # type: ignore[union-attr]


def test_national_and_guangdong_policies_differ_as_documented() -> None:
    national = PlanPolicy.parse(yaml.safe_load((RULES / "national" / "policy.yaml").read_text(encoding="utf-8")))
    guangdong = PlanPolicy.parse(yaml.safe_load((RULES / "guangdong" / "policy.yaml").read_text(encoding="utf-8")))
    assert national.credit_ratios == {"A": "2%", "B": "5%", "C": "100%", "D": "100%"}
    assert not national.no_class_exempt and guangdong.no_class_exempt
    assert guangdong.annual_random_cap == 2


def test_guangdong_overrides_parameters_and_adds_a_rule() -> None:
    national, guangdong = load_pack(RULES / "national"), load_pack(RULES / "guangdong")
    assert national.parameters["device_low_share"].value == 0.3
    assert guangdong.parameters["device_low_share"].value == 0.25
    assert guangdong.rule("gd_must_equipment_due").pack == "guangdong"
    assert (
        len([r for d in guangdong.decisions for r in d.rules])
        == len([r for d in national.decisions for r in d.rules]) + 1
    )


@pytest.fixture
def district(engine: sa.Engine) -> sa.Engine:
    load_demo(engine, get_profile("jiedong").scaled(2000), seed=11, as_of=AS_OF, now=NOW)
    return engine


@pytest.mark.parametrize("name", PACKS)
def test_grading_a_district_gives_every_subject_a_plausible_class(district: sa.Engine, name: str) -> None:
    pack = load_pack(RULES / name)
    with district.begin() as conn:
        run = grading.grade_store(conn, pack, AS_OF, created_at=NOW, actor=TESTER)
    assert run.subjects == 2000 and run.errors == 0
    classes = run.distributions["credit_class"]
    assert set(classes) <= {"A", "B", "C", "D"} and sum(classes.values()) == 2000  # every subject has one
    assert classes.get("A", 0) + classes.get("B", 0) >= 0.8 * 2000  # most subjects are A or B
    assert classes.get("A", 0) > classes.get("B", 0) > classes.get("D", 0)
    assert 0 < classes.get("D", 0) <= 0.05 * 2000
    grades = run.distributions["food_grade"]
    licensed = {g: n for g, n in grades.items() if g != "none"}
    assert licensed and set(licensed) <= {"A", "B", "C", "D"}
    assert licensed.get("A", 0) + licensed.get("B", 0) > licensed.get("C", 0) + licensed.get("D", 0)
