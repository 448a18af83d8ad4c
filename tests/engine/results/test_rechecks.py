"""Re-check teams and days (engine.results.rechecks): the original team while it may go, else a team rebuilt by the
staffing rules; a working day inside the window with room, the lead's township trips first; late windows said so."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from engine.plan.calendar import WorkCalendar
from engine.results import rechecks
from entities.models import InspectorCreate

CAL = WorkCalendar()
USCC = "91440101MA5CXXXX1B"


def person(
    i: str, *, quals: tuple[str, ...] = ("food",), expert: bool = False, region: str = "440111001"
) -> InspectorCreate:
    return InspectorCreate(
        id=i,
        name=f"人员{i}",
        unit="白云所",
        region=region,
        certificate_no=None if expert else f"C{i}",
        qualifications=list(quals),
    )


def due(**kw: object) -> rechecks.Due:
    base: dict[str, object] = {
        "proposal_id": f"recheck:P1:{USCC}:SP-01",
        "plan_id": "P1",
        "of_visit_id": USCC,
        "uscc": USCC,
        "region": "440111001",
        "item_code": "SP-01",
        "reason": "责令改正 by 2026-03-13: re-check after the deadline",
        "basis": "令第49号",
        "earliest": dt.date(2026, 3, 16),
        "latest": dt.date(2026, 3, 27),
        "team": ("A", "B"),
        "lead": "A",
    }
    base.update(kw)
    return rechecks.Due(**base)  # type: ignore[arg-type]


PEOPLE = {p.id: p for p in (person("A"), person("B"), person("C"), person("D", quals=()), person("E", expert=True))}


def team(d: rechecks.Due, people=PEOPLE, conflicts=None, needs=None, load=None, may=lambda p: True):  # type: ignore[no-untyped-def]
    return rechecks.choose_team(
        d,
        people,
        conflicts or {},
        needs if needs is not None else {"food": 1},
        team_size=2,
        may_staff=may,
        load=lambda m: (load or {}).get(m, 0),
    )


def test_the_original_team_goes_back_while_it_may() -> None:
    assert team(due()) == (("A", "B"), "A", rechecks.ORIGINAL, "原检查组（成员均在岗、无回避事由）")


def test_a_member_who_left_or_is_now_in_conflict_is_replaced_by_the_least_loaded() -> None:
    people = {k: v for k, v in PEOPLE.items() if k != "B"}
    chosen = team(due(), people=people, load={"C": 5, "D": 1})
    assert not isinstance(chosen, str)
    members, lead, rule, note = chosen
    assert members == ("A", "D") and lead == "A" and rule == rechecks.RESTAFFED and "B 已不在名录" in note
    # The lead in conflict now: the kept member leads, a food holder is added for the item.
    chosen = team(due(), conflicts={USCC: {"A"}}, needs={"food": 2}, load={"C": 0, "D": 0})
    assert not isinstance(chosen, str)
    assert chosen[0] == ("B", "C") and chosen[1] == "B" and "A 需回避" in chosen[3]
    # Nobody outside the subject's pool is taken.
    chosen = team(due(), conflicts={USCC: {"B"}}, may=lambda p: p.id in {"A", "B"})
    assert isinstance(chosen, str) and chosen.startswith(
        f"re-check recheck:P1:{USCC}:SP-01: the original team cannot go"
    )
    assert "fewer than 2 certified inspectors" in chosen


def test_an_expert_never_counts_toward_the_two_inspectors() -> None:
    people = {"A": PEOPLE["A"], "E": PEOPLE["E"]}
    chosen = team(due(team=("A", "E")), people=people)
    assert isinstance(chosen, str) and "fewer than 2 certified" in chosen


def test_ties_are_broken_by_the_proposal_not_always_the_same_person() -> None:
    people = {p: person(p) for p in ("A", "C", "D", "F", "G", "H")}
    picks = set()
    for n in range(12):
        chosen = team(due(proposal_id=f"recheck:P1:{USCC}:SP-{n:02d}", team=("A", "Z")), people=people)
        assert not isinstance(chosen, str)
        picks.add(chosen[0][1])
    assert len(picks) > 1


def test_the_day_is_a_working_day_in_the_window_with_room() -> None:
    d = due(earliest=dt.date(2026, 9, 30), latest=dt.date(2026, 10, 12))
    day, note = rechecks.choose_day(d, ("A", "B"), "A", CAL, dt.date(2026, 9, 1), Counter(), set(), 4)
    assert day == dt.date(2026, 9, 30) and "第一个全组有余量" in note
    busy = Counter({("B", dt.date(2026, 9, 30)): 4})
    day, _ = rechecks.choose_day(d, ("A", "B"), "A", CAL, dt.date(2026, 9, 1), busy, set(), 4)
    # The next working day by the calendar library: past the National Day holiday week.
    assert day == CAL.next_working_day(dt.date(2026, 10, 1)) and day > dt.date(2026, 10, 7)
    # The lead is in the same township on a later working day: that day, one trip.
    later = CAL.working_days(dt.date(2026, 10, 8), d.latest)[-1]
    trips = {("A", d.region, later)}
    day, note = rechecks.choose_day(d, ("A", "B"), "A", CAL, dt.date(2026, 9, 1), Counter(), trips, 4)
    assert day == later and "同一街镇" in note
    # Every day full: the least loaded, said so.
    window = [x for x in CAL.working_days(d.earliest, d.latest)]
    busy = Counter({("A", x): 5 for x in window})
    busy[("A", window[1])] = 4  # full at capacity 4, but the least loaded
    day, note = rechecks.choose_day(d, ("A", "B"), "A", CAL, dt.date(2026, 9, 1), busy, set(), 4)
    assert day == window[1] and "都已满" in note


def test_a_passed_window_goes_on_the_first_working_day_and_says_it_is_late() -> None:
    d = due(earliest=dt.date(2026, 3, 16), latest=dt.date(2026, 3, 27))
    day, note = rechecks.choose_day(d, ("A", "B"), "A", CAL, dt.date(2026, 4, 4), Counter(), set(), 4)
    assert day == CAL.next_working_day(dt.date(2026, 4, 4)) and "已过" in note


def test_schedule_places_the_narrowest_deadline_first_and_counts_what_it_placed() -> None:
    early = due(proposal_id="b", latest=dt.date(2026, 3, 16))
    late = due(proposal_id="a", of_visit_id="X", latest=dt.date(2026, 3, 27))
    busy = Counter({("A", dt.date(2026, 3, 16)): 3})
    done = rechecks.schedule(
        [late, early], PEOPLE, {}, {"SP-01": {"food": 1}}, CAL, dt.date(2026, 3, 16),
        team_size=2, daily_capacity=4, may_staff=lambda p, d: True, busy=busy,
    )  # fmt: skip
    assert [r.due.proposal_id for r in done.rechecks] == ["b", "a"]
    assert done.rechecks[0].scheduled_on == dt.date(2026, 3, 16)
    assert done.rechecks[1].scheduled_on == dt.date(2026, 3, 17)  # A is full on the 16th now
    assert done.rechecks[1].visit_id == "X/RC-SP-01"


def test_ids_and_hashes() -> None:
    assert rechecks.visit_id("91440101MA5CXXXX1B/food", "SP-01") == "91440101MA5CXXXX1B/food/RC-SP-01"
    long = rechecks.visit_id("x" * 60, "SP-01")
    assert long.startswith("RC-") and len(long) <= 64
    row = {"plan_id": "P", "visit_id": "V", "team": ["A"], "scheduled_on": dt.date(2026, 3, 2), "status": "planned"}
    assert rechecks.row_hash([row]) == rechecks.row_hash([{**row, "status": "done", "run_id": "x"}])
    assert rechecks.row_hash([row]) != rechecks.row_hash([{**row, "team": ["B"]}])
