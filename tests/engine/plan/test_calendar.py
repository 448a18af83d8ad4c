"""Working days: the library's 2026, make-up days, the 20-working-day clock, calendar files for later years."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.plan.calendar import TABLE_COLUMNS, CalendarFile, RecordedCalendar, WorkCalendar, week_label
from entities.errors import InputError

FIXTURE = Path(__file__).parents[2] / "fixtures" / "calendar" / "test-2027.csv"


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def test_library_covers_2004_to_2026_and_version_is_recorded(cal: WorkCalendar) -> None:
    # chinesecalendar 1.11.0 transcribes the notices from 2004 to 2026; a newer release may add years.
    assert cal.covers(2004) and cal.covers(2026)
    assert not cal.covers(2003)
    assert cal.version == f"chinesecalendar=={chinese_calendar.__version__}"


def test_national_day_2026_is_off(cal: WorkCalendar) -> None:
    for day in range(1, 8):
        assert not cal.is_working_day(dt.date(2026, 10, day))
    assert cal.is_working_day(dt.date(2026, 10, 8))


def test_make_up_days_2026_are_working_days(cal: WorkCalendar) -> None:
    make_up = sorted(d for d in chinese_calendar.workdays if d.year == 2026)
    assert make_up, "the library lists 2026's 调休 days"
    for d in make_up:
        assert d.weekday() >= 5  # every make-up day is a weekend day worked
        assert cal.is_working_day(d)
    # Known from the 2026 notice: Saturday 10 October and Sunday 4 January are worked.
    assert dt.date(2026, 10, 10) in make_up and dt.date(2026, 1, 4) in make_up


def test_whole_library_range_agrees_with_library(cal: WorkCalendar) -> None:
    day = dt.date(2004, 1, 1)
    while day.year <= 2026:
        assert cal.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


def test_publicity_deadline_after_mid_autumn_and_national_day(cal: WorkCalendar) -> None:
    # 企业信息公示暂行条例 第6条: 20 working days; day 1 is the first working day after the result.
    done = dt.date(2026, 9, 24)
    expected = [
        d
        for d in chinese_calendar.get_dates(done + dt.timedelta(days=1), dt.date(2026, 12, 31))
        if chinese_calendar.is_workday(d)
    ][19]
    deadline = cal.add_working_days(done, 20)
    assert deadline == expected
    assert deadline > dt.date(2026, 10, 7)
    assert cal.count_working_days(done + dt.timedelta(days=1), deadline) == 20
    assert cal.add_working_days(done, 1) == dt.date(2026, 9, 28)  # 9-25..27 is 中秋 in 2026


def test_weeks_and_labels(cal: WorkCalendar) -> None:
    weeks = cal.weeks(dt.date(2026, 9, 28), dt.date(2026, 10, 11))
    assert [w.label for w in weeks] == ["2026-W40", "2026-W41"]
    assert weeks[0].working_days == (dt.date(2026, 9, 28), dt.date(2026, 9, 29), dt.date(2026, 9, 30))
    assert dt.date(2026, 10, 10) in weeks[1].working_days
    assert week_label(dt.date(2026, 3, 2)) == "2026-W10"


def test_uncovered_year_is_one_clear_error(cal: WorkCalendar) -> None:
    with pytest.raises(InputError, match=r"no working-day calendar for 2027: .*--calendar FILE"):
        cal.is_working_day(dt.date(2027, 3, 1))
    with pytest.raises(InputError, match="for 2027"):
        cal.require(dt.date(2026, 1, 1), dt.date(2027, 12, 31))
    # A deadline running into an uncovered year needs the file too.
    with pytest.raises(InputError, match="for 2027"):
        cal.add_working_days(dt.date(2026, 12, 20), 20)


def test_fixture_file_gives_2027() -> None:
    f = CalendarFile.read(FIXTURE)
    assert f.years == (2027,)
    assert "TEST FIXTURE" in f.source
    cal = WorkCalendar([f])
    assert not cal.is_working_day(dt.date(2027, 10, 1))  # a Friday off in the fixture
    assert cal.is_working_day(dt.date(2027, 10, 9))  # a Saturday worked in the fixture
    assert cal.is_working_day(dt.date(2027, 10, 6))  # a Wednesday the fixture does not list
    assert not cal.is_working_day(dt.date(2027, 10, 10))  # a Sunday
    assert cal.holiday_name(dt.date(2027, 10, 1)) == "国庆"
    assert f.sha256 in cal.version and cal.version.startswith("chinesecalendar==")
    assert cal.sources() == {2027: f.source}
    # Across the year end: 2026-12-31 is a Thursday; the file's 2027-01-01 is off.
    assert cal.add_working_days(dt.date(2026, 12, 31), 1) == dt.date(2027, 1, 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,kind\n2027-01-01,holiday\n", "no `# source: …` line"),
        ("# source: x\ndate,type\n2027-01-01,holiday\n", "header must be"),
        ("# source: x\ndate,kind\n2027-13-01,holiday\n", ":3: date '2027-13-01' is not YYYY-MM-DD"),
        ("# source: x\ndate,kind\n2027-01-01,off\n", ":3: kind 'off' must be holiday or workday"),
        (
            "# source: x\ndate,kind\n2027-01-01,holiday\n2027-01-01,holiday\n",
            ":4: 2027-01-01 is listed twice",
        ),
        ("# source: x\ndate,kind\n2027-01-04,workday\n", "already a working day"),
        ("# source: x\ndate,kind\n", "no dates"),
        ("# source:\ndate,kind\n2027-01-01,holiday\n", "`# source:` is empty"),
    ],
)
def test_bad_calendar_file_is_one_line(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("…", ".")) as err:
        CalendarFile.parse(text, name="cal.csv")
    assert "\n" not in str(err.value) and str(err.value).startswith("cal.csv")


def test_two_files_for_one_year_refused() -> None:
    f = CalendarFile.read(FIXTURE)
    g = CalendarFile.parse("# source: y\ndate,kind\n2027-05-03,holiday\n", name="other.csv")
    with pytest.raises(InputError, match="both give 2027"):
        WorkCalendar([f, g])


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read it"):
        CalendarFile.read(tmp_path / "none.csv")


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 6, 30)),
    n=st.integers(min_value=1, max_value=60),
)
def test_add_working_days_counts_exactly(day: dt.date, n: int) -> None:
    cal = WorkCalendar()
    due = cal.add_working_days(day, n)
    assert cal.is_working_day(due)
    assert cal.count_working_days(day + dt.timedelta(days=1), due) == n
    assert cal.add_working_days(day, n + 1) > due


# -- the calendar a plan records, rebuilt ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2027, 12, 31)),
    days=st.integers(min_value=0, max_value=400),
)
def test_a_recorded_calendar_answers_as_the_one_it_was_recorded_from(start: dt.date, days: int) -> None:
    end = min(start + dt.timedelta(days=days), dt.date(2027, 12, 31))
    cal = WorkCalendar([CalendarFile.read(FIXTURE)])
    rows = cal.table(start, end)
    assert len(rows) == (end - start).days + 1 and all(tuple(r) == TABLE_COLUMNS for r in rows)
    back = RecordedCalendar.from_table(json.loads(json.dumps(rows)))  # as the snapshot's JSON records give it
    assert back.working_days(start, end) == cal.working_days(start, end)
    assert back.sources_between(start, end) == cal.sources_between(start, end)
    assert back.weeks(start, end) == cal.weeks(start, end)
    for r in rows[:: max(1, len(rows) // 20)]:
        day = dt.date.fromisoformat(str(r["date"]))
        assert back.is_working_day(day) == cal.is_working_day(day)
        assert back.holiday_name(day) == cal.holiday_name(day)


def test_a_recorded_calendar_needs_neither_library_nor_file(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = WorkCalendar([CalendarFile.read(FIXTURE)]).table(dt.date(2027, 9, 27), dt.date(2027, 10, 15))
    assert rows[4] == {"date": "2027-10-01", "working": False, "holiday": "国庆", "source": rows[4]["source"]}
    assert str(rows[4]["source"]).startswith("TEST FIXTURE") and "file sha256:" in str(rows[4]["source"])
    # A later library release that (say) knew nothing at all: the recorded days do not change.
    monkeypatch.setattr(chinese_calendar, "is_workday", lambda day: pytest.fail("the library was asked"))
    back = RecordedCalendar.from_table(rows, "the calendar recorded with P2027Q4-x")
    assert not back.is_working_day(dt.date(2027, 10, 1)) and back.is_working_day(dt.date(2027, 10, 9))
    assert back.add_working_days(dt.date(2027, 9, 30), 1) == dt.date(2027, 10, 6)
    assert back.version == rows[0]["source"]
    with pytest.raises(InputError, match=r"^the calendar recorded with P2027Q4-x covers 2027-09-27..2027-10-15 only"):
        back.is_working_day(dt.date(2027, 10, 16))
    with pytest.raises(InputError, match="covers 2027-09-27..2027-10-15 only"):
        back.working_days(dt.date(2027, 9, 1), dt.date(2027, 9, 30))
    with pytest.raises(InputError, match="covers 2027-09-27..2027-10-15 only"):
        back.add_working_days(dt.date(2027, 10, 14), 5)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda rows: rows[:3] + rows[4:], "skips 2026-01-04: it must give every day from 2026-01-01 to 2026-01-10"),
        (lambda rows: [*rows, rows[0]], "row 11: 2026-01-01 is given twice"),
        (
            lambda rows: [{**rows[0], "working": "yes"}, *rows[1:]],
            r"row 1 \(2026-01-01\): working must be true or false",
        ),
        (lambda rows: [{k: v for k, v in rows[0].items() if k != "source"}, *rows[1:]], "row 1 has no 'source'"),
        (lambda rows: [{**rows[0], "date": "2026-1-1"}, *rows[1:]], "row 1: date '2026-1-1' is not YYYY-MM-DD"),
        (lambda rows: [], "has no days"),
    ],
)
def test_a_damaged_recorded_calendar_is_one_line(edit: object, message: str) -> None:
    rows = WorkCalendar().table(dt.date(2026, 1, 1), dt.date(2026, 1, 10))
    with pytest.raises(InputError, match=message) as err:
        RecordedCalendar.from_table(edit(rows), "cal")  # type: ignore[operator]
    assert "\n" not in str(err.value)
