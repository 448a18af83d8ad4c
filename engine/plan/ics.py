"""One inspector's scheduled visits as an iCalendar (.ics) file that phone and desktop calendars open.

Why a library: RFC 5545 has line folding, escaping and date-value rules that calendars enforce; `icalendar` writes
them correctly. Each visit is an all-day event on its scheduled day (the hour is the team's to set), with the due
date, team and items in its description. The UID is "<visit id>@<plan id>.suijian", stable across exports, so
importing a newer export updates the same events instead of duplicating them.

Pure: DTSTAMP (required by RFC 5545) is the `stamp` argument — e.g. when the plan was made — never the clock.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from icalendar import Calendar, Event

from entities.errors import InputError

PRODID = "-//suijian//随检 plan//ZH"
REQUIRED = ("id", "subject", "team", "date", "due")


def inspector_ics(
    inspector: str,
    visits: pl.DataFrame,
    *,
    plan_id: str,
    stamp: dt.datetime,
    calendar_name: str | None = None,
) -> bytes:
    """The .ics text (UTF-8 bytes) of the visits whose team includes `inspector`, in date order.

    `visits` has columns id, subject, team (list of inspector ids), date, due, and optionally name, address,
    township, items (list of item codes), lead. `stamp` must be timezone-aware.
    """
    missing = [c for c in REQUIRED if c not in visits.columns]
    if missing:
        raise InputError(f"visits for the calendar export: no column {missing[0]!r} (needs {', '.join(REQUIRED)})")
    if stamp.tzinfo is None:
        raise InputError("the calendar export's time stamp needs a time zone (e.g. +08:00)")
    mine = visits.filter(pl.col("team").list.contains(inspector)).sort("date", "id")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    # Apple and Google calendars show X-WR-CALNAME as the subscribed calendar's name.
    cal.add("x-wr-calname", calendar_name or f"随检 {plan_id} · {inspector}")
    for row in mine.iter_rows(named=True):
        day: dt.date = row["date"]
        event = Event()
        event.add("uid", f"{row['id']}@{plan_id}.suijian")
        event.add("dtstamp", stamp)
        event.add("dtstart", day)
        event.add("dtend", day + dt.timedelta(days=1))  # all-day: DTEND is the next day, exclusive
        who = row.get("name") or row["subject"]
        event.add("summary", f"检查 {who}")
        where = row.get("address") or row.get("township")
        if where:
            event.add("location", where)
        lines = [f"统一社会信用代码 {row['subject']}", f"截止 {row['due'].isoformat()}"]
        if row.get("items"):
            lines.append("检查事项 " + "、".join(row["items"]))
        team = list(row["team"])
        lead = row.get("lead")
        lines.append("检查组 " + "、".join(f"{p}（组长）" if p == lead else p for p in team))
        event.add("description", "\n".join(lines))
        event.add("categories", ["随检"])
        cal.add_component(event)
    return cal.to_ical()
