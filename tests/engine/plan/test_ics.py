"""The per-inspector .ics export: written with the library, parsed back with it."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from icalendar import Calendar

from engine.plan.ics import inspector_ics
from entities.errors import InputError

STAMP = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def visits() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": ["V2", "V1", "V3"],
            "subject": ["91440101MA00000002", "91440101MA00000001", "91440101MA00000003"],
            "name": ["甲餐饮店", "乙食品厂", None],
            "township": ["榕城街道", "仙桥街道", "榕城街道"],
            "team": [["张三", "李四"], ["张三", "王五"], ["李四", "王五"]],
            "lead": ["张三", "王五", "李四"],
            "items": [["SP-CY-01", "DJ-GS-01"], ["SP-SC-01"], ["SP-CY-01"]],
            "date": [dt.date(2026, 10, 9), dt.date(2026, 9, 28), dt.date(2026, 10, 8)],
            "due": [dt.date(2026, 10, 30), dt.date(2026, 9, 30), dt.date(2026, 10, 30)],
        }
    )


def test_one_inspectors_visits_parse_back() -> None:
    text = inspector_ics("张三", visits(), plan_id="P2026-0280b38463", stamp=STAMP)
    cal = Calendar.from_ical(text)
    assert str(cal["prodid"]).startswith("-//suijian//")
    assert str(cal["x-wr-calname"]) == "随检 P2026-0280b38463 · 张三"
    events = list(cal.walk("VEVENT"))
    assert [str(e["uid"]) for e in events] == ["V1@P2026-0280b38463.suijian", "V2@P2026-0280b38463.suijian"]
    first, second = events
    assert first.decoded("dtstart") == dt.date(2026, 9, 28) and first.decoded("dtend") == dt.date(2026, 9, 29)
    assert str(first["summary"]) == "检查 乙食品厂" and str(first["location"]) == "仙桥街道"
    description = str(second["description"])
    assert "截止 2026-10-30" in description and "SP-CY-01、DJ-GS-01" in description
    assert "张三（组长）、李四" in description
    assert second.decoded("dtstamp") == STAMP


def test_same_inputs_same_bytes_and_no_visits_is_an_empty_calendar() -> None:
    a = inspector_ics("李四", visits(), plan_id="P", stamp=STAMP)
    assert a == inspector_ics("李四", visits().reverse(), plan_id="P", stamp=STAMP)
    empty = Calendar.from_ical(inspector_ics("赵六", visits(), plan_id="P", stamp=STAMP))
    assert list(empty.walk("VEVENT")) == []


def test_bad_input() -> None:
    with pytest.raises(InputError, match="no column 'due'"):
        inspector_ics("张三", visits().drop("due"), plan_id="P", stamp=STAMP)
    with pytest.raises(InputError, match="time zone"):
        inspector_ics("张三", visits(), plan_id="P", stamp=dt.datetime(2026, 1, 5))
