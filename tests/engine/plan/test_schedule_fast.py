"""The schedule's fast placing loop places every visit as the loop it replaced (tests/engine/plan/schedule_reference.py)."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.plan.calendar import WorkCalendar
from engine.plan.schedule import VisitToSchedule, schedule
from tests.engine.plan.schedule_reference import reference_schedule

CAL = WorkCalendar()


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[VisitToSchedule], dict[str, int], dict[str, object]]:
    people = [f"i{k}" for k in range(draw(st.integers(2, 8)))]
    capacity = {p: draw(st.integers(1, 6)) for p in people}
    start = dt.date(2026, draw(st.integers(1, 12)), draw(st.sampled_from([1, 1, 9])))
    end = min(dt.date(2026, 12, 31), start + dt.timedelta(days=draw(st.integers(0, 400))))
    visits: list[VisitToSchedule] = []
    for s in range(draw(st.integers(0, 60))):
        team = tuple(draw(st.lists(st.sampled_from(people), min_size=1, max_size=3, unique=True)))
        count = draw(st.sampled_from([1, 1, 1, 2, 4]))
        township = draw(st.sampled_from(["T1", "T2", "T3"]))
        window = None
        if draw(st.integers(0, 4)) == 0:
            lo = start + dt.timedelta(days=draw(st.integers(0, 60)))
            window = (lo, lo + dt.timedelta(days=draw(st.integers(-3, 90))))
        for k in range(1, count + 1):
            visits.append(
                VisitToSchedule(
                    f"v{s}-{k}", f"S{s}", township, team, k, count, window=window, priority=draw(st.integers(0, 3))
                )
            )
    visits = draw(st.permutations(visits))
    options = {
        "start": start,
        "end": end,
        "daily_capacity": draw(st.integers(1, 3)),
        "batches": draw(st.sampled_from(["month", "quarter", "period"])),
    }
    return visits, capacity, options


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_fast_schedule_is_the_reference(case: tuple[list[VisitToSchedule], dict[str, int], dict[str, object]]) -> None:
    visits, capacity, options = case
    try:
        want = reference_schedule(visits, CAL, weekly_capacity=capacity, **options)  # type: ignore[arg-type]
    except Exception as e:  # a frequency the period cannot hold: both refuse it alike
        got_error = None
        try:
            schedule(visits, CAL, weekly_capacity=capacity, **options)  # type: ignore[arg-type]
        except Exception as f:
            got_error = f
        assert type(got_error) is type(e) and str(got_error) == str(e)
        return
    got = schedule(visits, CAL, weekly_capacity=capacity, **options)  # type: ignore[arg-type]
    assert got.visits.equals(want.visits)
    assert got.visits.schema == want.visits.schema
    assert got.unscheduled.equals(want.unscheduled)
    assert got.report == want.report


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_report_and_dates_are_those_of_the_frame(
    case: tuple[list[VisitToSchedule], dict[str, int], dict[str, object]],
) -> None:
    """The report tallied while placing is the one `report` recomputes from the frame's rows, and the dates handed
    to engine.plan.dates are the frame's values."""
    from collections import Counter

    from engine.plan.calendar import week_label
    from engine.plan.schedule import report

    visits, capacity, options = case
    try:
        got = schedule(visits, CAL, weekly_capacity=capacity, **options)  # type: ignore[arg-type]
    except Exception:  # a frequency the period cannot hold (the test above)
        return
    start, end = options["start"], options["end"]
    assert isinstance(start, dt.date) and isinstance(end, dt.date)
    week_days = Counter(week_label(d) for d in CAL.working_days(start, end))
    again = report(
        got.visits,
        CAL,
        capacity,
        week_days,
        got.unscheduled.height,
        sources=CAL.sources_between(start, end),
    )
    assert got.report == again
    rows = got.visits.select("id", "date", "due", "window_from", "window_to").iter_rows()
    assert dict(got.dates) == {vid: (day, due, lo, hi) for vid, day, due, lo, hi in rows}


@st.composite
def crowded(draw: st.DrawFn) -> tuple[list[VisitToSchedule], dict[str, int], dict[str, object]]:
    """One or two small teams with more visits than room: batches tie on load and fill up, so the batch choice
    (least load per working day, the earlier batch on a tie, only batches with a free day) decides every visit."""
    people = ["a", "b", "c"][: draw(st.integers(2, 3))]
    capacity = {p: draw(st.integers(1, 2)) for p in people}
    start = dt.date(2026, draw(st.integers(1, 10)), 1)
    end = min(dt.date(2026, 12, 31), start + dt.timedelta(days=draw(st.integers(20, 120))))
    teams = [tuple(people[:2]), tuple(people[-2:])]
    visits = [
        VisitToSchedule(
            f"v{k}", f"S{k}", draw(st.sampled_from(["T1", "T2"])), draw(st.sampled_from(teams)), priority=k % 3
        )
        for k in range(draw(st.integers(1, 80)))
    ]
    options = {"start": start, "end": end, "daily_capacity": 1, "batches": draw(st.sampled_from(["month", "quarter"]))}
    return visits, capacity, options


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crowded())
def test_the_batch_choice_without_sorting_is_the_references_when_batches_tie_and_fill(
    case: tuple[list[VisitToSchedule], dict[str, int], dict[str, object]],
) -> None:
    visits, capacity, options = case
    want = reference_schedule(visits, CAL, weekly_capacity=capacity, **options)  # type: ignore[arg-type]
    got = schedule(visits, CAL, weekly_capacity=capacity, **options)  # type: ignore[arg-type]
    assert got.visits.equals(want.visits)
    assert got.unscheduled.equals(want.unscheduled)
    assert got.report == want.report


def test_the_visits_frame_is_built_when_asked_for_and_once() -> None:
    """engine.plan.dates reads only the dates: the frame is not built for it, and built once for those who ask."""
    visits = [VisitToSchedule(f"v{k}", f"S{k}", "T1", ("a", "b")) for k in range(5)]
    got = schedule(visits, CAL, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), weekly_capacity={"a": 5, "b": 5})
    assert not isinstance(got._visits, pl.DataFrame)
    assert sorted(got.dates) == [f"v{k}" for k in range(5)]
    frame = got.visits
    assert frame.height == 5 and got.visits is frame
