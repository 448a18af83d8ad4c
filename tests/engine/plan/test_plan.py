"""Whole plans: deterministic and order-free, one visit per subject, mandatory work first, nothing dropped silently."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.plan import Period, Plan, PlanPolicy, history_frame, subjects_frame
from entities.models import CheckItemCreate, ConflictCreate, InspectorCreate
from tests.engine.plan import world
from tests.engine.plan.world import SEED, item, plan, uscc

FAST = settings(max_examples=25, deadline=None)


@dataclass
class World:
    frame: pl.DataFrame
    items: list[CheckItemCreate]
    inspectors: list[InspectorCreate]
    conflict_list: list[ConflictCreate]
    past: pl.DataFrame

    def plan(self, **kwargs: Any) -> Plan:
        return plan(self.frame, self.items, None, self.inspectors, self.conflict_list, self.past, **kwargs)


def full_world(n: int = 250, seed: int = 1) -> World:
    frame = world.subjects(n, seed=seed)
    inspectors = world.roster(20, seed=seed, capacity=12)
    return World(
        frame=frame,
        items=world.catalogue(),
        inspectors=inspectors,
        conflict_list=world.conflicts(inspectors, frame, seed=seed),
        past=world.history(frame, inspectors, seed=seed),
    )


def test_same_inputs_byte_identical_json() -> None:
    a = full_world().plan().to_json()
    b = full_world().plan().to_json()
    assert a == b
    assert a.encode() == b.encode()
    assert json.loads(a)["seed"] == SEED


@FAST
@given(shuffle=st.integers(0, 2**32), n=st.integers(30, 200), seed=st.integers(0, 50))
def test_shuffled_inputs_same_plan(shuffle: int, n: int, seed: int) -> None:
    w = full_world(n, seed)
    rnd = random.Random(shuffle)
    shuffled = World(
        frame=w.frame.sample(fraction=1.0, shuffle=True, seed=shuffle).select(
            rnd.sample(w.frame.columns, len(w.frame.columns))
        ),
        items=rnd.sample(w.items, len(w.items)),
        inspectors=rnd.sample(w.inspectors, len(w.inspectors)),
        conflict_list=rnd.sample(w.conflict_list, len(w.conflict_list)),
        past=w.past.sample(fraction=1.0, shuffle=True, seed=shuffle),
    )
    assert shuffled.plan().to_json() == w.plan().to_json()


def test_a_subject_in_two_draws_gets_one_visit() -> None:
    rows = [
        {
            "uscc": uscc(k),
            "region": "440111001",
            "credit_class": "D",
            "subject_kind": "enterprise",
            "status": "active",
            "has_food_licence": True,
            "equipment_count": 1,
            "industry_section": "F",
        }
        for k in range(5)
    ]
    p = plan(subjects_frame(rows), policy=PlanPolicy(general_cap=None))
    assert len(p.visits) == 5
    assert all(v.item_codes == ("FOOD-01", "PRICE-01", "REG-01", "SE-01") for v in p.visits)
    assert p.repeat_visits()["rate"] == 0.0
    # Merging only within joint groups: FOOD, SE, PRICE (no group) and REG each their own visit.
    split = plan(subjects_frame(rows), policy=PlanPolicy(merge="joint_group", general_cap=None))
    assert len(split.visits) == 20
    assert {v.id for v in split.visits if v.uscc == uscc(0)} == {
        f"{uscc(0)}/food",
        f"{uscc(0)}/special-equipment",
        f"{uscc(0)}/PRICE-01",
        f"{uscc(0)}/onsite-general",
    }
    rates = split.repeat_visits()
    assert rates["rate"] == 1.0 and rates["subjects_visited_more_than_once"] == 5


def test_repeat_visit_rate_is_zero_when_merging_all() -> None:
    p = full_world(300, 4).plan()
    assert len({v.uscc for v in p.visits}) == len(p.visits)
    assert p.repeat_visits()["rate"] == 0.0


@FAST
@given(capacity=st.integers(0, 30), n=st.integers(40, 220), seed=st.integers(0, 100))
def test_mandatory_work_is_planned_or_listed_with_a_reason(capacity: int, n: int, seed: int) -> None:
    frame = world.subjects(n, seed=seed, mandatory_share=0.2)
    inspectors = world.roster(12, seed=seed, capacity=capacity) + [
        InspectorCreate(id="Z1", name="兜底一", unit="局", region="440111", certificate_no="Z1", capacity=1),
        InspectorCreate(id="Z2", name="兜底二", unit="局", region="440111", certificate_no="Z2", capacity=1),
    ]
    p = plan(frame, inspectors=inspectors)
    required = {(r["uscc"], code) for r in frame.to_dicts() for code in r["mandatory"]}
    planned = {(v.uscc, i.code) for v in p.visits for i in v.items if i.mandatory}
    dropped = {(d.uscc, code) for d in (*p.uncovered, *p.unstaffed) for code in d.mandatory}
    assert planned | dropped == required
    assert not planned & dropped
    for d in (*p.uncovered, *p.unstaffed):
        assert d.reason and d.code in {"capacity", "status", "no_holder", "conflict", "team_size"}
    # Every drawn subject-item is planned or listed too.
    drawn = {(t.id, i.code) for i in p.items for s in i.strata for t in s.draw.drawn}
    done = {(v.uscc, i.code) for v in p.visits for i in v.items if i.drawn}
    listed = {(d.uscc, code) for d in (*p.uncovered, *p.unstaffed) for code in d.items}
    assert drawn <= done | listed


def test_capacity_short_mandatory_first_then_risk() -> None:
    """Two SE inspectors with room for 3 visits: 3 of 5 mandatory units (the riskiest), no random one."""
    rows = [
        {
            "uscc": uscc(k),
            "region": "440111001",
            "credit_class": "D",
            "equipment_count": 1,
            "risk": float(k),
            "mandatory": [("SE-01", "超期未检")] if k < 5 else [],
        }
        for k in range(10)
    ]
    se = [i for i in world.catalogue() if i.code == "SE-01"]
    inspectors = [
        InspectorCreate(
            id=f"S{k}",
            name=f"特{k}",
            unit="局",
            region="440111",
            certificate_no=f"T{k}",
            qualifications=["special_equipment"],
            capacity=3,
        )
        for k in range(2)
    ] + [InspectorCreate(id="G1", name="综", unit="局", region="440111", certificate_no="G1", capacity=60)]
    p = plan(subjects_frame(rows), items=se, inspectors=inspectors)
    assert sorted(v.uscc for v in p.visits) == [uscc(2), uscc(3), uscc(4)]
    assert all(v.mandatory for v in p.visits)
    assert all(set(v.team) == {"S0", "S1"} for v in p.visits)  # 令57号 第19条: both hold the SE certificate
    assert [v.priority for v in sorted(p.visits, key=lambda v: -v.risk)] == [1, 2, 3]  # type: ignore[operator]
    assert {d.uscc for d in p.uncovered} == {uscc(k) for k in range(10) if k not in (2, 3, 4)}
    assert all(d.code == "capacity" and "特种设备" in d.reason for d in p.uncovered)
    cov = p.mandatory_coverage()
    assert cov["items"]["SE-01"] == {"required": 5, "planned": 3, "not_planned": {"capacity": 2}}
    assert p.summary()["visits"]["needed"] == 10


def test_status_ended_mandatory_is_listed_not_visited() -> None:
    rows = [
        {"uscc": uscc(1), "region": "440111001", "status": "cancelled", "mandatory": [("X-01", "超期未检")]},
        {"uscc": uscc(2), "region": "440111001", "mandatory": [("X-01", "超期未检"), ("NOT-IN-FORCE", "")]},
    ]
    p = plan(subjects_frame(rows), items=[item("X-01")])
    assert [v.uscc for v in p.visits] == [uscc(2)]
    assert [(d.uscc, d.code) for d in p.uncovered] == [(uscc(1), "status")]
    assert "注销" in p.uncovered[0].reason
    assert p.mandatory_coverage()["out_of_scope"] == {"NOT-IN-FORCE": 1}
    assert p.item("X-01").mandatory_required == 2 and p.item("X-01").mandatory_excluded == 1


def test_round_trip_through_json() -> None:
    p = full_world().plan()
    text = p.to_json()
    again = Plan.from_json(text)
    assert again.to_json() == text
    assert again.visits == p.visits and again.items == p.items


def test_summary_is_plain_data_with_the_draw_details() -> None:
    p = full_world().plan()
    s = p.summary()
    json.dumps(s)  # plain data only
    first = s["items"][0]
    stratum = first["strata"][0]
    assert {"population", "quota", "drawn_count", "cutoff", "drawn", "next_in_line", "ratio", "key"} <= set(stratum)
    assert {"exclusions", "population", "quota", "drawn_count"} <= set(first)
    assert {"mandatory_coverage", "team_load", "repeat_visits", "uncovered", "unstaffed"} <= set(s)
    assert "visit_list" not in s and "visit_list" in p.to_dict()


def test_due_windows_follow_priority_and_stay_in_the_period() -> None:
    period = Period.quarter(2025, 2)
    p = plan(policy=PlanPolicy(due_windows=3), period=period, as_of=dt.date(2025, 3, 20))
    # 91 days in three windows of 30, 30 and 31 days, back to back.
    assert sorted({(v.due_from, v.due_to) for v in p.visits}) == [
        (dt.date(2025, 4, 1), dt.date(2025, 4, 30)),
        (dt.date(2025, 5, 1), dt.date(2025, 5, 30)),
        (dt.date(2025, 5, 31), dt.date(2025, 6, 30)),
    ]
    ordered = sorted(p.visits, key=lambda v: v.priority)
    assert [v.due_from for v in ordered] == sorted(v.due_from for v in ordered)
    # Planned mid-period: the window starts at as-of.
    late = plan(period=Period.year(2025), as_of=dt.date(2025, 7, 1))
    assert {(v.due_from, v.due_to) for v in late.visits} == {(dt.date(2025, 7, 1), dt.date(2025, 12, 31))}


def test_capacity_is_prorated_for_a_quarter() -> None:
    p = plan(period=Period.quarter(2025, 1), inspectors=world.roster(capacity=60))
    # 90 of 365 days: 60 × 90/365 = 14.79 → 15 (sampling.quota's rounding rule).
    assert {t.capacity for t in p.team_load} == {15}
    full = plan(period=Period.quarter(2025, 1), policy=PlanPolicy(capacity="full"))
    assert {t.capacity for t in full.team_load} == {60}


def test_a_lead_differs_from_the_previous_visit() -> None:
    rows = [{"uscc": uscc(k), "region": "440111001", "credit_class": "D"} for k in range(30)]
    inspectors = [
        InspectorCreate(
            id=f"I{k}",
            name=f"员{k}",
            unit="局",
            region="440111",
            certificate_no=f"C{k}",
            qualifications=["registration"],
            capacity=60,
        )
        for k in range(3)
    ]
    past = history_frame(
        {
            "uscc": uscc(k),
            "checked_on": dt.date(2024, 6, 1),
            "item_code": "X-01",
            "kind": "random",
            "lead_inspector": f"I{k % 3}",
        }
        for k in range(30)
    )
    p = plan(subjects_frame(rows), items=[item("X-01")], inspectors=inspectors, past=past)
    assert len(p.visits) == 30
    for v in p.visits:
        assert v.previous_leads == (f"I{int(v.uscc[8:17]) % 3}",)
        assert v.lead not in v.previous_leads
    assert p.summary()["visits"]["lead_changed_from_previous"] == 30
    leads = [t.leads for t in p.team_load]
    assert max(leads) - min(leads) <= 2  # leads are balanced too, as far as avoiding previous leads allows


def test_national_catalogue_with_default_frame_columns() -> None:
    from engine.catalogue import load_catalogue

    rows = [
        {
            "uscc": uscc(k),
            "region": "440111001",
            "subject_kind": "enterprise",
            "status": "active",
            "industry_section": "C",
            "has_food_licence": k % 3 == 0,
            "food_licence_kind": "catering",
            "equipment_count": k % 2,
            "device_producer": False,
            "has_device_business": False,
            "credit_class": "CD"[k % 2],
            # Read by the catalogue's targets since issue 12 (unreachable subjects, licence holders).
            "abnormal_unreachable": False,
            "has_industrial_product_licence": k % 4 == 0,
        }
        for k in range(40)
    ]
    inspectors = [
        InspectorCreate(
            id=f"I{k:02d}",
            name=f"员{k}",
            unit="局",
            region="440111",
            certificate_no=f"C{k}",
            qualifications=[q],
            capacity=60,
        )
        for k, q in enumerate(
            [
                "registration",
                "food",
                "special_equipment",
                "special_equipment",
                "product_quality",
                "pricing",
                "advertising",
                "medical_device",
            ]
            * 2
        )
    ]
    p = plan(subjects_frame(rows), items=load_catalogue(), inspectors=inspectors)
    assert not p.unstaffed and not p.uncovered
    assert len(p.visits) == 40 and p.repeat_visits()["rate"] == 0.0
