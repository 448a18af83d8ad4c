"""Dating a plan's visits (engine.plan.dates): working days only, 调休 days used, weekly capacity kept, frequency
spaced one per quarter, calendar files for later years, nothing dropped silently, bad input in one line."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.plan.calendar import CalendarFile, WorkCalendar, week_label
from engine.plan.dates import DatedVisits, date_visits, weekly_capacities
from engine.plan.model import Visit, VisitItem
from engine.plan.policy import PlanPolicy
from entities.errors import InputError
from entities.models import InspectorCreate

CAL = WorkCalendar()
FIXTURE = Path(__file__).parents[2] / "fixtures" / "calendar" / "test-2027.csv"
Y2026 = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def visit(
    vid: str,
    team: tuple[str, ...] = ("a", "b"),
    region: str = "445203100",
    index: int = 1,
    count: int = 1,
    prio: int = 1,
) -> Visit:
    uscc = vid.split("#")[0]
    return Visit(
        id=vid,
        uscc=uscc,
        region=region,
        items=(VisitItem("SP-CY-01", drawn=True, mandatory=False, stratum="445203/C"),),
        team=team,
        lead=team[0],
        experts=(),
        due_from=Y2026[0],
        due_to=Y2026[1],
        priority=prio,
        risk=None,
        index=index,
        count=count,
    )


def person(pid: str, capacity: int = 60, weekly: int | None = None) -> InspectorCreate:
    return InspectorCreate(
        id=pid,
        name=pid,
        unit="揭东区市场监督管理局",
        region="445203",
        certificate_no=f"C-{pid}",
        capacity=capacity,
        weekly_capacity=weekly,
    )


def dated(
    visits: list[Visit],
    people: list[InspectorCreate],
    *,
    span: tuple[dt.date, dt.date] = Y2026,
    calendar: WorkCalendar = CAL,
    **policy: object,
) -> DatedVisits:
    return date_visits(
        visits, start=span[0], end=span[1], calendar=calendar, inspectors=people, policy=PlanPolicy(**policy)
    )


def check_rules(out: DatedVisits, visits: list[Visit], people: list[InspectorCreate], calendar: WorkCalendar) -> None:
    """Every rule, recounted from the dated visits themselves (not from the schedule's own report)."""
    start, end = min(v.due_from for v in visits), max(v.due_to for v in visits)
    weekly = weekly_capacities(people, start=start, end=end, calendar=calendar, policy=PlanPolicy())
    placed = {v.id for v in out.visits}
    assert placed | {vid for vid, _ in out.unscheduled} == {v.id for v in visits}  # none dropped silently
    assert not placed & {vid for vid, _ in out.unscheduled}
    week: Counter[tuple[str, str]] = Counter()
    day: Counter[tuple[str, dt.date]] = Counter()
    for v in out.visits:
        assert v.scheduled_on is not None and v.due_on is not None
        assert calendar.is_working_day(v.scheduled_on) and calendar.is_working_day(v.due_on)
        assert v.due_from <= v.scheduled_on <= v.due_on <= v.due_to
        assert v.due_on == calendar.working_days(v.due_from, v.due_to)[-1]  # the window's last working day
        for p in v.team:
            week[(p, week_label(v.scheduled_on))] += 1
            day[(p, v.scheduled_on)] += 1
    assert all(n <= weekly[p] for (p, _), n in week.items())
    assert all(n <= 4 for n in day.values())
    assert out.report.non_working_day_visits == 0 and out.report.over_capacity == 0
    assert out.report.scheduled == len(out.visits) and out.report.unscheduled == len(out.unscheduled)


@st.composite
def offices(draw: st.DrawFn) -> tuple[list[Visit], list[InspectorCreate]]:
    ids = [f"i{k}" for k in range(draw(st.integers(2, 6)))]
    people = [
        person(p, capacity=draw(st.integers(0, 120)), weekly=draw(st.one_of(st.none(), st.integers(1, 6)))) for p in ids
    ]
    visits: list[Visit] = []
    for s in range(draw(st.integers(1, 60))):
        team = tuple(draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True)))
        count = draw(st.sampled_from([1, 1, 1, 2, 4]))
        region = draw(st.sampled_from(["445203100", "445203101", "445203102"]))
        for k in range(1, count + 1):
            vid = f"91445203{s:010d}" + ("" if k == 1 else f"#{k}")
            visits.append(visit(vid, team, region, k, count, prio=draw(st.integers(1, 3))))
    return visits, people


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offices(), st.randoms(use_true_random=False))
def test_every_rule_holds_and_order_does_not_matter(
    office: tuple[list[Visit], list[InspectorCreate]], rnd: random.Random
) -> None:
    visits, people = office
    out = dated(visits, people)
    check_rules(out, visits, people, CAL)
    shuffled_v, shuffled_p = list(visits), list(people)
    rnd.shuffle(shuffled_v)
    rnd.shuffle(shuffled_p)
    assert dated(shuffled_v, shuffled_p) == out  # same inputs in another order: the same days, byte for byte


def test_golden_week_is_never_used_and_make_up_days_are() -> None:
    # A batch of 28 September – 31 October 2026 that one team fills: 1–7 October are 国庆 (off), Saturday
    # 10 October is worked (调休) and gets visits like any working day.
    span = (dt.date(2026, 9, 28), dt.date(2026, 10, 31))
    visits = [visit(f"914452030000000{k:03d}", ("a", "b"), f"4452031{k % 3:02d}") for k in range(150)]
    out = dated(visits, [person("a", weekly=20), person("b", weekly=20)], span=span, batches="period")
    days = Counter(v.scheduled_on for v in out.visits)
    assert not set(days) & {dt.date(2026, 10, d) for d in range(1, 8)}
    assert days[dt.date(2026, 10, 10)] == 4  # the make-up Saturday, filled to the daily cap
    assert all(chinese_calendar.is_workday(d) for d in days)
    assert len(out.unscheduled) == 150 - len(out.visits) > 0  # more visits than the batch holds: named, not lost
    assert {reason for _, reason in out.unscheduled} == {
        "capacity: no working day in its window with the whole team free"
    }


def test_no_inspector_is_above_weekly_capacity_in_a_busy_year() -> None:
    # Six inspectors in three fixed pairs: weekly capacity 6 (given) with 7 (derived from 300 a year), so a pair
    # can make 6 visits a normal week, fewer in a holiday week. 1,200 visits is more than the year holds.
    people = [person(f"i{k}", capacity=300, weekly=6 if k % 2 else None) for k in range(6)]
    weekly = weekly_capacities(people, start=Y2026[0], end=Y2026[1], calendar=CAL, policy=PlanPolicy())
    assert weekly == {"i0": 7, "i1": 6, "i2": 7, "i3": 6, "i4": 7, "i5": 6}  # ⌈300 × 5 ÷ 248⌉ = 7
    pairs = [("i0", "i1"), ("i2", "i3"), ("i4", "i5")]
    visits = [visit(f"9144520300000{k:05d}", pairs[k % 3], f"4452031{k % 7:02d}") for k in range(1200)]
    out = dated(visits, people)
    check_rules(out, visits, people, CAL)
    # What a pair can make in 2026, recounted here: per ISO week 6 prorated to its working days (round half up).
    week_days = Counter(week_label(d) for d in CAL.working_days(*Y2026))
    pair_year = sum(min(6, int(6 * n / 5 + 0.5)) for n in week_days.values())
    assert pair_year == 297
    # The greedy schedule fills every pair to its capacity before it names a visit unscheduled.
    assert Counter(v.team for v in out.visits) == {pair: pair_year for pair in pairs}
    assert len(out.unscheduled) == 1200 - 3 * pair_year
    assert out.report.max_weekly_load == 6 and out.report.max_weekly_share == 1
    within = dated(visits[: 3 * 280], people)  # 280 a pair: room enough, none left over
    assert not within.unscheduled
    by_month = Counter(v.scheduled_on.month for v in within.visits if v.scheduled_on is not None)
    assert min(by_month.values()) >= 50  # spread over the monthly batches, not piled at the start


def test_a_subject_checked_four_times_a_year_gets_one_visit_per_quarter() -> None:
    uscc = "92445203MA5XXXXX01"
    visits = [visit(uscc + ("" if k == 1 else f"#{k}"), index=k, count=4) for k in range(1, 5)]
    out = dated(visits, [person("a"), person("b")])
    quarters = [(dt.date(2026, m, 1), dt.date(2026 + (m == 10), (m + 3) % 12 or 12, 1)) for m in (1, 4, 7, 10)]
    for v, (first, after) in zip(sorted(out.visits, key=lambda v: v.index), quarters, strict=True):
        assert v.scheduled_on is not None and first <= v.scheduled_on < after
        assert (v.due_from, v.due_to) == (first, after - dt.timedelta(days=1))  # its spacing slice: the quarter
        assert v.due_on == CAL.working_days(first, after - dt.timedelta(days=1))[-1]
    assert out.visits[0].scheduled_on == dt.date(2026, 1, 5)  # 2 a week rounds to 0 in the one-day week of 4 Jan
    assert [v.due_on for v in sorted(out.visits, key=lambda v: v.index)] == [
        dt.date(2026, 3, 31),
        dt.date(2026, 6, 30),
        dt.date(2026, 9, 30),
        dt.date(2026, 12, 31),
    ]


def test_a_visit_is_due_at_the_end_of_its_batch() -> None:
    # Sunday 4 January 2026 is worked (调休) and is the only working day of its ISO week in 2026 (1–3 January
    # are 元旦): 5 a week prorated to one day is 1, while 2 a week (60 a year) rounds to 0 there.
    out = dated([visit("914452030000000001")], [person("a", weekly=5), person("b", weekly=5)], batches="quarter")
    (v,) = out.visits
    assert (v.scheduled_on, v.due_from, v.due_to, v.due_on) == (
        dt.date(2026, 1, 4),
        dt.date(2026, 1, 1),
        dt.date(2026, 3, 31),
        dt.date(2026, 3, 31),
    )


def test_a_team_keeps_to_one_township_a_day() -> None:
    visits = [visit(f"9144520300000000{k:02d}", ("a", "b"), "445203100" if k < 8 else "445203200") for k in range(16)]
    out = dated(visits, [person("a", weekly=20), person("b", weekly=20)], batches="period")
    per_day: dict[dt.date, set[str]] = {}
    for v in out.visits:
        assert v.scheduled_on is not None
        per_day.setdefault(v.scheduled_on, set()).add(v.region)
    assert all(len(t) == 1 for t in per_day.values()) and len(per_day) == 4  # 4 a day (the daily cap), 4 days
    assert out.report.township_switches == 0 and out.report.team_days == 4


def test_daily_capacity_comes_from_the_policy() -> None:
    visits = [visit(f"9144520300000000{k:02d}") for k in range(10)]
    out = dated(visits, [person("a", weekly=50), person("b", weekly=50)], batches="period", daily_capacity=2)
    assert max(Counter(v.scheduled_on for v in out.visits).values()) == 2


def test_a_later_year_needs_a_calendar_file_and_then_uses_it() -> None:
    span = (dt.date(2027, 9, 27), dt.date(2027, 10, 15))
    visits = [visit(f"9144520300000000{k:02d}") for k in range(60)]
    people = [person("a", weekly=25), person("b", weekly=25)]
    with pytest.raises(InputError, match=r"^no working-day calendar for 2027: .*--calendar FILE"):
        dated(visits, people, span=span)
    cal = WorkCalendar([CalendarFile.read(FIXTURE)])
    out = dated(visits, people, span=span, calendar=cal, batches="period")
    days = {v.scheduled_on for v in out.visits}
    assert not days & {dt.date(2027, 10, 1), dt.date(2027, 10, 4), dt.date(2027, 10, 5)}  # the fixture's 国庆
    assert dt.date(2027, 10, 9) in days  # the fixture's make-up Saturday
    assert out.report.calendar == (f"{CalendarFile.read(FIXTURE).source} (file sha256:{cal.files[0].sha256})",)


def test_weekly_capacity_rule() -> None:
    # Given: as given. Derived: ⌈period capacity × 5 ÷ working days of the period⌉, at least 1.
    people = [person("given", weekly=3), person("yearly", capacity=60), person("none", capacity=0)]
    year = weekly_capacities(people, start=Y2026[0], end=Y2026[1], calendar=CAL, policy=PlanPolicy())
    assert CAL.count_working_days(*Y2026) == 248
    assert year == {"given": 3, "yearly": 2, "none": 1}  # ⌈60 × 5 ÷ 248⌉ = ⌈1.21⌉
    q4 = (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    prorated = weekly_capacities(people, start=q4[0], end=q4[1], calendar=CAL, policy=PlanPolicy())
    full = weekly_capacities(people, start=q4[0], end=q4[1], calendar=CAL, policy=PlanPolicy(capacity="full"))
    # Q4 2026: 92 days of 365 → 15 visits prorated, over 62 working days → ⌈1.21⌉; "full": all 60 → ⌈4.84⌉.
    assert CAL.count_working_days(*q4) == 62
    assert prorated["yearly"] == 2 and full["yearly"] == 5


def test_the_report_has_stable_keys() -> None:
    out = dated(
        [visit("914452030000000001"), visit("914452030000000002", region="445203200")], [person("a"), person("b")]
    )
    assert out.report.to_dict() == {
        "scheduled": 2,
        "unscheduled": 0,
        "non_working_day_visits": 0,
        "max_weekly_load": 1,
        "max_weekly_load_capacity": 2,
        "max_weekly_share": 0.5,
        "over_capacity": 0,
        "team_days": 2,
        "township_switches": 0,
        "township_switches_per_team_day": 0.0,
        "max_township_switches": 0,
        "calendar": ["chinesecalendar==" + chinese_calendar.__version__],
    }


@pytest.mark.parametrize(
    ("visits", "people", "span", "message"),
    [
        (
            [visit("914452030000000001")],
            [person("a"), person("b")],
            (dt.date(2030, 1, 1), dt.date(2030, 12, 31)),
            r"^no working-day calendar for 2030: chinesecalendar .* covers 2004–2026; give the State Council's 2030 "
            r"holiday notice as a calendar file with --calendar FILE",
        ),
        (
            [visit("914452030000000001")],
            [person("a"), person("b", weekly=0)],
            Y2026,
            r"^inspector b has weekly capacity 0 \(每周可承担检查户次\) but is on visit 914452030000000001; give at "
            r"least 1, or leave it empty to derive it from the yearly capacity$",
        ),
        (
            [visit("914452030000000001", ("a", "x"))],
            [person("a"), person("b")],
            Y2026,
            r"^visit 914452030000000001: inspector x is not in the roster$",
        ),
        (
            [visit(f"914452030000000001#{k}" if k > 1 else "914452030000000001", index=k, count=6) for k in (1, 2)],
            [person("a"), person("b")],
            (dt.date(2026, 9, 28), dt.date(2026, 10, 4)),
            r"^visit 914452030000000001: a frequency of 6 visits cannot fit the 3 working days from 2026-09-28 to "
            r"2026-10-04; lower the pack's frequency or plan a longer period$",
        ),
    ],
)
def test_bad_input_is_one_clear_line(
    visits: list[Visit], people: list[InspectorCreate], span: tuple[dt.date, dt.date], message: str
) -> None:
    with pytest.raises(InputError, match=message) as refused:
        dated(visits, people, span=span)
    assert "\n" not in str(refused.value)
