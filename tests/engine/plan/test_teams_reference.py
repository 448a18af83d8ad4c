"""The roster chooses the same teams and leads as the session-27-start reference (tests.engine.plan.teams_reference),
on random small rosters: ticket batches stopped at the capacity, heap orders kept per pool, one item's needs used
as they are, the members counted in a loop, the lead's tickets read only on a tie of leads — no choice may move."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.plan.fitted import _staffed_items
from engine.plan.model import VisitItem
from engine.plan.teams import Roster, Staffed
from entities.enums import Qualification
from entities.models import InspectorCreate
from tests.engine.plan import world
from tests.engine.plan.teams_reference import ReferenceRoster


def _lead(roster: Roster | ReferenceRoster, team: list[str], avoid: list[str]) -> tuple[str, bool] | str:
    try:
        return roster.choose_lead(team, avoid)
    except ValueError:  # no certified member to lead: both must refuse
        return "no lead"


def _same_run(
    rnd: random.Random, inspectors: list[InspectorCreate], n_visits: int, with_teams: bool, **kwargs: Any
) -> Roster:
    subjects = [world.uscc(k) for k in range(max(1, n_visits // 2))]
    conflicts = world.random_conflicts(rnd, inspectors, subjects)
    visits = world.random_visits(rnd, n_visits, subjects, townships=("001", "002"))
    work = [(region, [needs for _, needs in items]) for region, _, items in visits]
    new = Roster(inspectors, conflicts, work=work, **kwargs)
    ref = ReferenceRoster(inspectors, conflicts, work=work, **kwargs)
    ids = [i.id for i in inspectors]
    for region, uscc, items in visits:
        team = rnd.sample(ids, rnd.randint(0, min(2, len(ids)))) if with_teams and rnd.random() < 0.2 else []
        a, b = new.staff(region, uscc, items, team), ref.staff(region, uscc, items, team)
        assert isinstance(a, Staffed) and a == b
        visit_items = [VisitItem(code=code, drawn=False, mandatory=False, stratum=None) for code, _ in items]
        assert _staffed_items(visit_items, a.staffed) == tuple(i for i in visit_items if i.code in set(a.staffed))
        if a.staffed:
            members = [*team, *a.added]
            avoid = rnd.sample(members, rnd.randint(0, len(members))) if rnd.random() < 0.3 else []
            assert _lead(new, members, avoid) == _lead(ref, members, avoid)
    assert new.load == ref.load
    assert new.leads == ref.leads
    assert {i: new._ticket(i, new.load[i]) for i in ids if new.load[i] < new.capacity[i]} == {
        i: ref._ticket(i, ref.load[i]) for i in ids if ref.load[i] < ref.capacity[i]
    }
    return new


@settings(max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n_inspectors=st.integers(2, 30),
    n_visits=st.integers(0, 400),
    most=st.sampled_from((10, 90, 300)),
    team_size=st.integers(1, 3),
    experts_may_cover=st.booleans(),
    pool_by_county=st.booleans(),
    tight=st.booleans(),
    units=st.booleans(),
    with_teams=st.booleans(),
)
def test_roster_staffs_and_leads_as_the_reference(
    seed: int,
    n_inspectors: int,
    n_visits: int,
    most: int,
    team_size: int,
    experts_may_cover: bool,
    pool_by_county: bool,
    tight: bool,
    units: bool,
    with_teams: bool,
) -> None:
    rnd = random.Random(seed)
    inspectors = world.random_roster(rnd, n_inspectors, most)
    pools = (
        ({i.id: rnd.choice(("U1", "U2", "U3")) for i in inspectors}, lambda r: "U1" if r.endswith("001") else "U2")
        if units
        else None
    )
    _same_run(
        rnd,
        inspectors,
        n_visits,
        with_teams,
        teams_seed=f"teams{seed}",
        capacity_share=Fraction(rnd.randint(1, 4), 4),
        team_size=team_size,
        pool_by_county=pool_by_county,
        experts_may_cover=experts_may_cover,
        tight_is_short=tight,
        pools=pools,
    )


def test_heavy_loads_past_every_ticket_batch_choose_as_the_reference() -> None:
    """A few inspectors with room for hundreds of visits: their tickets are drawn in several batches past the 64
    drawn ahead, the last one stopped at their capacity (the reference's doubles past it), and every choice agrees."""
    rnd = random.Random(27)
    inspectors = [
        InspectorCreate(
            id=f"H{k}",
            name=f"员{k}",
            unit="局",
            region="440111",
            certificate_no=f"C{k}",
            qualifications=[Qualification("registration")],
            capacity=(300, 517, 700)[k],
        )
        for k in range(3)
    ]
    roster = _same_run(
        rnd,
        inspectors,
        700,
        False,
        teams_seed="heavy",
        capacity_share=Fraction(1),
        team_size=2,
        pool_by_county=False,
        experts_may_cover=False,
        tight_is_short=False,
        pools=None,
    )
    assert sorted(roster.load.values()) == [169, 292, 395]  # all three past 128 rounds, two past 256
