"""The working-day schedule: no holiday visits, weekly capacity kept, frequency spacing, township grouping."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.plan.calendar import CalendarFile, WorkCalendar, week_label
from engine.plan.schedule import VisitToSchedule, batch_ranges, schedule, spacing_slice
from entities.errors import InputError

CAL = WorkCalendar()
YEAR = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
FIXTURE = Path(__file__).parents[2] / "fixtures" / "calendar" / "test-2027.csv"


def quarter_of(day: dt.date) -> int:
    return (day.month - 1) // 3 + 1


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[VisitToSchedule], dict[str, int], str]:
    people = [f"i{k}" for k in range(draw(st.integers(2, 6)))]
    capacity = {p: draw(st.integers(1, 8)) for p in people}
    visits: list[VisitToSchedule] = []
    for s in range(draw(st.integers(1, 40))):
        team = tuple(draw(st.lists(st.sampled_from(people), min_size=2, max_size=2, unique=True)))
        count = draw(st.sampled_from([1, 1, 2, 4]))
        township = draw(st.sampled_from(["T1", "T2", "T3"]))
        for k in range(1, count + 1):
            visits.append(
                VisitToSchedule(f"v{s}-{k}", f"S{s}", township, team, k, count, priority=draw(st.integers(0, 2)))
            )
    return visits, capacity, draw(st.sampled_from(["month", "quarter", "period"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_schedule_keeps_every_rule(plan: tuple[list[VisitToSchedule], dict[str, int], str]) -> None:
    visits, capacity, batches = plan
    out = schedule(visits, CAL, start=YEAR[0], end=YEAR[1], weekly_capacity=capacity, batches=batches)  # type: ignore[arg-type]
    r = out.report
    assert r.non_working_day_visits == 0 and r.over_capacity == 0 and r.max_weekly_share <= 1
    assert r.scheduled + r.unscheduled == len(visits) == out.visits.height + out.unscheduled.height
    # Recount independently: no inspector above capacity in any week, no visit on a day off.
    load: Counter[tuple[str, str]] = Counter()
    for team, day, due in out.visits.select("team", "date", "due").iter_rows():
        assert CAL.is_working_day(day) and CAL.is_working_day(due) and day <= due
        for p in team:
            load[(p, week_label(day))] += 1
    for (p, _week), n in load.items():
        assert n <= capacity[p]
    # Spacing: a subject's k-th of 4 visits lies in quarter k, of 2 in half k.
    by_id = {v.id: v for v in visits}
    for vid, day in out.visits.select("id", "date").iter_rows():
        v = by_id[vid]
        if v.count == 4:
            assert quarter_of(day) == v.index
        if v.count == 2:
            assert (day.month - 1) // 6 + 1 == v.index
    # Same inputs in another order: the same schedule.
    again = schedule(list(reversed(visits)), CAL, start=YEAR[0], end=YEAR[1], weekly_capacity=capacity, batches=batches)  # type: ignore[arg-type]
    assert again.visits.equals(out.visits) and again.report == r


def test_no_visit_in_golden_week_and_make_up_days_used() -> None:
    # Thirty visits for one team in October 2026, capacity high: they fill working days only, 10 October included.
    visits = [
        VisitToSchedule(f"v{k}", f"S{k}", f"T{k % 3}", ("a", "b"), window=(dt.date(2026, 9, 28), dt.date(2026, 10, 31)))
        for k in range(60)
    ]
    out = schedule(visits, CAL, start=YEAR[0], end=YEAR[1], weekly_capacity={"a": 25, "b": 25}, daily_capacity=3)
    days = set(out.visits["date"])
    assert not days & {dt.date(2026, 10, d) for d in range(1, 8)}
    assert dt.date(2026, 10, 10) in days  # Saturday worked by 调休
    assert out.report.non_working_day_visits == 0 and out.report.unscheduled == 0


def test_a_team_visits_one_township_per_day_where_it_can() -> None:
    visits = [VisitToSchedule(f"v{k}", f"S{k}", "T1" if k < 4 else "T2", ("a", "b")) for k in range(8)]
    out = schedule(
        visits,
        CAL,
        start=dt.date(2026, 3, 2),
        end=dt.date(2026, 3, 31),
        weekly_capacity={"a": 20, "b": 20},
        daily_capacity=4,
        batches="period",
    )
    per_day = {d: set(g["township"]) for (d,), g in out.visits.group_by("date")}
    assert all(len(t) == 1 for t in per_day.values())
    assert out.report.township_switches == 0 and out.report.team_days == 2


def test_weekly_capacity_is_prorated_in_holiday_weeks() -> None:
    # Week 40 of 2026 has three working days (28–30 September): capacity 5 a week gives 3 that week.
    visits = [
        VisitToSchedule(f"v{k}", f"S{k}", "T", ("a", "b"), window=(dt.date(2026, 9, 28), dt.date(2026, 10, 4)))
        for k in range(10)
    ]
    out = schedule(visits, CAL, start=YEAR[0], end=YEAR[1], weekly_capacity={"a": 5, "b": 5}, daily_capacity=5)
    assert out.visits.height == 3 and out.report.unscheduled == 7
    assert set(out.unscheduled["reason"]) == {"capacity: no working day in its window with the whole team free"}


def test_due_date_is_the_batch_end() -> None:
    out = schedule(
        [VisitToSchedule("v", "S", "T", ("a", "b"))],
        CAL,
        start=YEAR[0],
        end=YEAR[1],
        weekly_capacity={"a": 5, "b": 5},
        batches="quarter",
    )
    row = out.visits.row(0, named=True)
    assert row["batch"] == "2026Q1" and row["due"] == CAL.working_days(dt.date(2026, 3, 1), dt.date(2026, 3, 31))[-1]


def test_batches_and_spacing_slices() -> None:
    assert [b[0] for b in batch_ranges(*YEAR, "quarter")] == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert batch_ranges(dt.date(2026, 2, 10), dt.date(2026, 4, 5), "month")[0] == (
        "2026-02",
        dt.date(2026, 2, 10),
        dt.date(2026, 2, 28),
    )
    assert spacing_slice(*YEAR, 3, 4, CAL) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    # Three a year: four months each; five a year does not divide 12 months and splits the working days.
    assert spacing_slice(*YEAR, 2, 3, CAL) == (dt.date(2026, 5, 1), dt.date(2026, 8, 31))
    lo, hi = spacing_slice(*YEAR, 1, 5, CAL)
    assert (
        CAL.is_working_day(lo) and CAL.is_working_day(hi) and lo == dt.date(2026, 1, 4)
    )  # Sunday 4 January 2026 is worked (调休)


def test_a_later_year_needs_a_calendar_file() -> None:
    visit = [VisitToSchedule("v", "S", "T", ("a", "b"))]
    with pytest.raises(InputError, match="no working-day calendar for 2027"):
        schedule(visit, CAL, start=dt.date(2027, 1, 1), end=dt.date(2027, 12, 31), weekly_capacity={"a": 5, "b": 5})
    cal = WorkCalendar([CalendarFile.read(FIXTURE)])
    out = schedule(visit, cal, start=dt.date(2027, 1, 1), end=dt.date(2027, 12, 31), weekly_capacity={"a": 5, "b": 5})
    assert out.visits["date"][0] == dt.date(2027, 1, 4)  # 1 January is off in the fixture; 2–3 are a weekend


@pytest.mark.parametrize(
    ("visits", "capacity", "message"),
    [
        (
            [VisitToSchedule("v", "S", "T", ("a", "b"))],
            {"a": 5, "b": 0},
            "inspector b has weekly capacity 0 but is on visit v",
        ),
        ([VisitToSchedule("v", "S", "T", ("a", "c"))], {"a": 5}, "inspector c has no weekly capacity"),
        ([VisitToSchedule("v", "S", "T", ("a",), 5, 4)], {"a": 5}, "visit 5 of 4"),
        (
            [VisitToSchedule("v", "S", "T", ("a",)), VisitToSchedule("v", "S", "T", ("a",))],
            {"a": 5},
            "given twice",
        ),
    ],
)
def test_bad_input_is_one_clear_error(visits: list[VisitToSchedule], capacity: dict[str, int], message: str) -> None:
    with pytest.raises(InputError, match=message):
        schedule(visits, CAL, start=YEAR[0], end=YEAR[1], weekly_capacity=capacity)


def test_a_frequency_the_period_cannot_hold_is_refused() -> None:
    with pytest.raises(InputError, match="cannot fit the 3 working days"):
        spacing_slice(dt.date(2026, 9, 28), dt.date(2026, 10, 4), 1, 4, CAL)
