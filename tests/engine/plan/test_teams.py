"""Teams: ≥ 2 certified, qualified, no conflicts, within capacity, balanced — or the visit is listed with the reason."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.plan import PlanPolicy, subjects_frame
from engine.plan.model import Plan
from engine.plan.teams import previous_leads
from entities.models import CheckItemCreate, ConflictCreate, InspectorCreate
from tests.engine.plan import world
from tests.engine.plan.world import item, plan, uscc

COUNTIES = ("440111", "440112")


def random_roster(rnd: random.Random, n: int) -> list[InspectorCreate]:
    out = []
    for k in range(n):
        expert = rnd.random() < 0.15
        out.append(
            InspectorCreate(
                id=f"R{k:02d}",
                name=f"员{k}",
                unit="局",
                region=rnd.choice(COUNTIES),
                certificate_no=None if expert else f"C{k}",
                qualifications=rnd.sample(world.QUALS, rnd.randint(0, 2)),
                capacity=rnd.randint(0, 8),
            )
        )
    return out


def check_teams(
    p: Plan, items: list[CheckItemCreate], inspectors: list[InspectorCreate], conflicts: list[ConflictCreate]
) -> None:
    by_id = {i.id: i for i in inspectors}
    by_code = {i.code: i for i in items}
    blocked = {(c.inspector_id, c.uscc) for c in conflicts}
    policy = p.policy
    load: Counter[str] = Counter()
    for v in p.visits:
        members = [by_id[m] for m in v.team]
        certified = [m for m in members if not m.is_expert]
        assert len(set(v.team)) == len(v.team)
        assert len(certified) >= policy.team_size, v
        assert v.lead == v.team[0] and not by_id[v.lead].is_expert
        assert set(v.experts) == {m.id for m in members if m.is_expert}
        if v.previous_leads and not v.lead_repeats:
            assert v.lead not in v.previous_leads
        for m in v.team:
            assert (m, v.uscc) not in blocked, f"{m} has a conflict with {v.uscc}"
            load[m] += 1
            if policy.team_pool == "county":
                assert by_id[m].region[:6] == v.region[:6]
        for vi in v.items:
            it = by_code[vi.code]
            k = policy.qualified_members.get(it.domain, 1)
            for q in it.required_qualifications:
                holders = sum(1 for m in certified if q in m.qualifications)
                expert = policy.experts_may_cover and any(q in m.qualifications for m in members if m.is_expert)
                assert holders >= k or expert, f"{v.id}: {q} needs {k}, team holds {holders}"
    for t in p.team_load:
        assert load[t.id] == t.visits <= t.capacity
    for d in p.unstaffed:
        assert d.code in {"no_holder", "conflict", "team_size"}
    for d in p.uncovered:
        assert d.code in {"capacity", "status"}


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n_inspectors=st.integers(2, 30),
    team_size=st.integers(1, 3),
    experts_may_cover=st.booleans(),
    pool=st.sampled_from(["jurisdiction", "county"]),
    merge=st.sampled_from(["all", "joint_group"]),
)
def test_team_constraints_always_hold(
    seed: int, n_inspectors: int, team_size: int, experts_may_cover: bool, pool: str, merge: str
) -> None:
    rnd = random.Random(seed)
    rows = world.subject_rows(120, rnd, mandatory_share=0.1)
    for r in rows:
        r["region"] = rnd.choice(COUNTIES) + "001"
    frame = subjects_frame(rows)
    inspectors = random_roster(rnd, n_inspectors) + [
        InspectorCreate(id=f"B{k}", name="底", unit="局", region=c, certificate_no=f"B{k}", capacity=2)
        for k, c in enumerate(COUNTIES * team_size)
    ]
    conflicts = world.conflicts(inspectors, frame, n=40, seed=seed)
    past = world.history(frame, inspectors, n=80, seed=seed)
    policy = PlanPolicy(team_size=team_size, experts_may_cover=experts_may_cover, team_pool=pool, merge=merge)  # type: ignore[arg-type]
    items = world.catalogue()
    p = plan(frame, items=items, policy=policy, inspectors=inspectors, conflict_list=conflicts, past=past)
    check_teams(p, items, inspectors, conflicts)
    # Every drawn or mandatory subject-item is in exactly one place: a visit, or a list with its reason.
    todo = {(t.id, i.code) for i in p.items for s in i.strata for t in s.draw.drawn}
    todo |= {(r["uscc"], code) for r in frame.to_dicts() for code in r["mandatory"]}
    placed = Counter((v.uscc, i.code) for v in p.visits for i in v.items)
    placed.update((d.uscc, code) for d in (*p.uncovered, *p.unstaffed) for code in d.items)
    assert set(placed) == todo
    assert set(placed.values()) == {1} if placed else True


def _inspector(k: int, quals: list[str], capacity: int = 10, expert: bool = False) -> InspectorCreate:
    return InspectorCreate(
        id=f"I{k}",
        name=f"员{k}",
        unit="局",
        region="440111",
        certificate_no=None if expert else f"C{k}",
        qualifications=quals,
        capacity=capacity,
    )


def _rows(n: int) -> list[dict[str, object]]:
    return [{"uscc": uscc(k), "region": "440111001", "credit_class": "D"} for k in range(n)]


def test_nobody_holds_the_qualification() -> None:
    dev = item("DEV-01", domain="medical_device", required_qualifications=["medical_device"])
    reg = item("REG-01")
    p = plan(
        subjects_frame(_rows(2)),
        items=[dev, reg],
        inspectors=[_inspector(0, ["registration"]), _inspector(1, [])],
    )
    # The rest of the visit still happens.
    assert [v.item_codes for v in p.visits] == [("REG-01",), ("REG-01",)]
    assert [(d.items, d.code) for d in p.unstaffed] == [(("DEV-01",), "no_holder")] * 2
    assert "医疗器械" in p.unstaffed[0].reason and "the roster has 0" in p.unstaffed[0].reason


def test_conflicts_of_interest_can_leave_a_visit_unstaffed() -> None:
    inspectors = [_inspector(0, ["registration"]), _inspector(1, []), _inspector(2, [])]
    conflicts = [ConflictCreate(inspector_id="I0", uscc=uscc(0), reason="亲属")]
    p = plan(subjects_frame(_rows(2)), items=[item("REG-01")], inspectors=inspectors, conflict_list=conflicts)
    assert [v.uscc for v in p.visits] == [uscc(1)]
    assert [(d.uscc, d.code) for d in p.unstaffed] == [(uscc(0), "conflict")]
    conflicts = [ConflictCreate(inspector_id=i, uscc=uscc(0), reason="亲属") for i in ("I1", "I2")]
    p = plan(subjects_frame(_rows(1)), items=[item("REG-01")], inspectors=inspectors, conflict_list=conflicts)
    assert [d.code for d in p.unstaffed] == ["team_size"]


def test_experts_never_count_toward_the_quorum() -> None:
    inspectors = [
        _inspector(0, ["registration"]),
        _inspector(1, ["registration"], expert=True),
        _inspector(2, ["registration"]),
    ]
    p = plan(subjects_frame(_rows(3)), items=[item("REG-01")], inspectors=inspectors)
    assert all(set(v.team) == {"I0", "I2"} and not v.experts for v in p.visits)
    assert next(t for t in p.team_load if t.id == "I1").visits == 0


def test_experts_may_supply_a_missing_qualification_when_allowed() -> None:
    dev = item("DEV-01", domain="medical_device", required_qualifications=["medical_device"])
    inspectors = [_inspector(0, []), _inspector(1, []), _inspector(2, ["medical_device"], expert=True)]
    strict = plan(subjects_frame(_rows(1)), items=[dev], inspectors=inspectors)
    assert not strict.visits and strict.unstaffed[0].code == "no_holder"
    allowed = plan(
        subjects_frame(_rows(1)),
        items=[dev],
        inspectors=inspectors,
        policy=PlanPolicy(experts_may_cover=True),
    )
    (v,) = allowed.visits
    assert v.experts == ("I2",) and set(v.team) == {"I0", "I1", "I2"} and v.lead in {"I0", "I1"}


def test_scarce_inspectors_are_kept_for_the_work_only_they_can_do() -> None:
    """Fillers come from inspectors without a short qualification while any is free."""
    se = item("SE-01", domain="special_equipment", required_qualifications=["special_equipment"])
    reg = item("REG-01")
    rows = [
        {"uscc": uscc(k), "region": "440111001", "credit_class": "D", "risk": 1.0 if k < 10 else 0.0} for k in range(20)
    ]
    inspectors = [_inspector(0, ["special_equipment"], 10), _inspector(1, ["special_equipment"], 10)] + [
        _inspector(k, ["registration"], 20) for k in range(2, 6)
    ]
    p = plan(subjects_frame(rows), items=[reg, se], inspectors=inspectors)
    se_load = {t.id: t.visits for t in p.team_load if t.id in ("I0", "I1")}
    assert se_load == {"I0": 10, "I1": 10}
    assert sum(1 for v in p.visits if "SE-01" in v.item_codes) == 10
    assert all(d.code == "capacity" for d in p.uncovered)


def test_load_is_balanced_among_equals() -> None:
    inspectors = [_inspector(k, ["registration"], 40) for k in range(7)]
    p = plan(subjects_frame(_rows(60)), items=[item("REG-01")], inspectors=inspectors)
    loads = [t.visits for t in p.team_load]
    assert sum(loads) == 120 and max(loads) - min(loads) <= 1


def test_team_draw_depends_on_the_seed_only_through_tickets() -> None:
    inspectors = [_inspector(k, ["registration"], 40) for k in range(7)]
    a = plan(subjects_frame(_rows(20)), items=[item("REG-01")], inspectors=inspectors)
    b = plan(subjects_frame(_rows(20)), items=[item("REG-01")], inspectors=inspectors, seed="98765432109876543210")
    assert a.teams_seed != b.teams_seed
    assert [v.team for v in a.visits] != [v.team for v in b.visits]


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.integers(1, 4), st.sampled_from(["I1", "I2", "I3", None])),
        max_size=20,
    ),
    asked=st.sets(st.sampled_from(["u1", "u2", "u3", "u9"])),
)
def test_previous_leads_of_some_subjects_are_theirs_among_all(rows: list, asked: set[str]) -> None:
    # A plan asks only for the subjects it visits (a city's history has millions of checks): the same leads.
    history = pl.DataFrame(
        [(u, dt.date(2025, 1, d), lead) for u, d, lead in rows],
        schema={"uscc": pl.String, "checked_on": pl.Date, "lead_inspector": pl.String},
        orient="row",
    )
    every = previous_leads(history)
    some = previous_leads(history, sorted(asked))
    assert some == {u: leads for u, leads in every.items() if u in asked}
