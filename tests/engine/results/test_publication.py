"""公示: the 20-working-day clock on the holiday calendar, and the upload records as XLSX and CSV."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import replace

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from engine.plan.calendar import CalendarFile, WorkCalendar
from engine.results.codes import default_codes
from engine.results.model import ItemResult
from engine.results.publication import (
    COLUMNS,
    PUBLICATION_DAYS,
    PlanInfo,
    deadline,
    due,
    publication_records,
    published_codes,
    to_csv,
    to_xlsx,
    working_days_left,
)
from entities.errors import InputError
from tests.engine.results.helpers import PLAN, USCC, result

CAL = WorkCalendar()
PLANS = {PLAN: PlanInfo("440203-2026-01", "揭东区2026年度双随机抽查", "揭阳市揭东区市场监督管理局")}
NAMES = {USCC: "揭东区某某食品店"}


def library_deadline(completed: dt.date, n: int) -> dt.date:
    """Walk the library day by day: an independent count of n working days after `completed`."""
    day, left = completed, n
    while left:
        day += dt.timedelta(days=1)
        if chinese_calendar.is_workday(day):
            left -= 1
    return day


def test_a_result_completed_on_24_september_2026_is_due_after_mid_autumn_and_national_day() -> None:
    completed = dt.date(2026, 9, 24)
    d = deadline(CAL, completed)
    assert d == library_deadline(completed, 20)
    holidays = [
        completed + dt.timedelta(days=k)
        for k in range(1, (d - completed).days)
        if chinese_calendar.is_holiday(completed + dt.timedelta(days=k))
        and (completed + dt.timedelta(days=k)).weekday() < 5
    ]
    names = {chinese_calendar.get_holiday_detail(h)[1] for h in holidays}
    assert {"Mid-autumn Festival", "National Day"} <= names  # both runs fall inside the 20 working days
    # Weekday holidays push the deadline past a plain Monday–Friday count, and make-up Saturdays count as work.
    plain = completed
    for _ in range(20):
        plain += dt.timedelta(days=1)
        while plain.weekday() >= 5:
            plain += dt.timedelta(days=1)
    assert d > plain
    assert CAL.count_working_days(completed + dt.timedelta(days=1), d) == PUBLICATION_DAYS
    assert CAL.is_working_day(d)


@settings(max_examples=200, deadline=None)
@given(st.dates(dt.date(2005, 1, 1), dt.date(2026, 11, 30)), st.integers(0, 40))
def test_the_deadline_never_moves_back_when_completion_moves_forward(a: dt.date, gap: int) -> None:
    b = a + dt.timedelta(days=gap)
    if b > dt.date(2026, 11, 25):  # its deadline would run into 2027, which the library does not cover
        return
    assert deadline(CAL, a) <= deadline(CAL, b)
    assert deadline(CAL, a) > a
    assert deadline(CAL, a) == library_deadline(a, 20)


def test_a_year_the_library_does_not_cover_needs_a_calendar_file() -> None:
    with pytest.raises(InputError, match="--calendar FILE"):
        deadline(CAL, dt.date(2026, 12, 20))  # runs into 2027
    text = "# source: test fixture, not a real notice\ndate,kind\n2027-01-01,holiday\n"
    with_file = WorkCalendar([CalendarFile.parse(text)])
    assert deadline(with_file, dt.date(2026, 12, 20)) > dt.date(2027, 1, 1)


def test_days_left_and_overdue() -> None:
    d = dt.date(2026, 10, 29)  # a Thursday
    assert working_days_left(CAL, d, d) == 0
    assert working_days_left(CAL, d, dt.date(2026, 10, 26)) == 3
    assert working_days_left(CAL, d, dt.date(2026, 11, 2)) == -2  # Fri 30, Mon 2
    assert working_days_left(CAL, dt.date(2026, 10, 30), dt.date(2026, 10, 31)) == 0  # past only by a Saturday


def test_due_lists_unpublished_results_overdue_first() -> None:
    late = result(visit_id="V-late", completed_on=dt.date(2026, 3, 2))
    soon = result(visit_id="V-soon", completed_on=dt.date(2026, 4, 1))
    later = result(visit_id="V-later", completed_on=dt.date(2026, 4, 10))
    done = result(visit_id="V-done", completed_on=dt.date(2026, 2, 2))
    rows = due([later, done, soon, late], {done.key}, CAL, dt.date(2026, 4, 14))
    assert [r.visit_id for r in rows] == ["V-late", "V-soon", "V-later"]
    assert [r.overdue for r in rows] == [True, False, False]
    assert rows[0].deadline == deadline(CAL, dt.date(2026, 3, 2)) and rows[0].days_left < 0
    assert rows[2].days_left == working_days_left(CAL, rows[2].deadline, dt.date(2026, 4, 14)) > 0


def records(**kw: object):  # type: ignore[no-untyped-def]
    rs = [
        result(),
        result(
            visit_id="V2",
            uscc=USCC,
            completed_on=dt.date(2026, 4, 8),
            items=(ItemResult("DJ-GS-01", ("1",)),),
        ),
    ]
    return publication_records(rs, PLANS, NAMES, dt.date(2026, 4, 20), **kw)  # type: ignore[arg-type]


def test_records_carry_what_the_upload_takes() -> None:
    first, second = records()
    assert second.visit_id == USCC and first.visit_id == "V2"  # by completion date
    assert first.result_codes == ("1",) and first.result_text == "未发现问题"
    assert second.result_codes == ("3", "A")
    assert second.result_text == "违反食品药品管理相关规定；发现问题待后续处理"
    assert (second.plan_number, second.authority, second.subject_name) == (
        "440203-2026-01", "揭阳市揭东区市场监督管理局", "揭东区某某食品店",
    )  # fmt: skip
    assert second.published_on == dt.date(2026, 4, 20) and second.version == 1


def test_no_problem_is_dropped_from_a_visit_that_found_one_elsewhere() -> None:
    assert published_codes(result(), default_codes()) == ("3", "A")
    only = result(items=(ItemResult("DJ-GS-01", ("1",)),))
    assert published_codes(only, default_codes()) == ("1",)


def test_records_refuse_a_missing_plan_name_or_early_date() -> None:
    with pytest.raises(InputError, match="no plan number"):
        publication_records([result(plan_id="P-x")], PLANS, NAMES, dt.date(2026, 4, 20))
    with pytest.raises(InputError, match="no name"):
        publication_records([result()], PLANS, {}, dt.date(2026, 4, 20))
    with pytest.raises(InputError, match="before its completion"):
        publication_records([result()], PLANS, NAMES, dt.date(2026, 4, 9))


def test_xlsx_has_headers_real_dates_an_autofilter_and_the_same_bytes_each_time() -> None:
    recs = records()
    data = to_xlsx(recs, published_on=dt.date(2026, 4, 20))
    assert data == to_xlsx(recs, published_on=dt.date(2026, 4, 20))
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    rows = list(sheet.values)
    assert list(rows[0]) == list(COLUMNS.values())
    assert rows[2][5] == dt.datetime(2026, 4, 10) and sheet["F3"].is_date and sheet["I2"].is_date
    assert rows[2][6] == "3；A"
    assert sheet.auto_filter.ref == "A1:I3" and sheet.freeze_panes == "A2"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert "2026-04-20T00:00:00Z" in core


def test_csv_is_utf8_with_bom_or_gbk_and_deterministic() -> None:
    recs = records()
    data = to_csv(recs)
    assert data.startswith(b"\xef\xbb\xbf") and data == to_csv(recs)
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0].split(",") == list(COLUMNS.values())
    assert lines[2].split(",")[5:9] == [
        "2026-04-10",
        "3；A",
        "违反食品药品管理相关规定；发现问题待后续处理",
        "2026-04-20",
    ]
    assert to_csv(recs, encoding="gbk").decode("gbk") == data.decode("utf-8-sig")


def test_gbk_refuses_a_character_it_cannot_hold_naming_row_and_column() -> None:
    recs = [replace(records()[0], subject_name="揭东区𠀋记商行")]
    with pytest.raises(InputError, match=r"row 2 \[主体名称\].*UTF-8"):
        to_csv(recs, encoding="gbk")
    with pytest.raises(InputError, match="unknown encoding"):
        to_csv(recs, encoding="latin-1")
