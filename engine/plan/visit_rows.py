"""A committed plan's visits as rows of `plan_visit`: what results, the schedule, "my list" and the web app refer to.

The plan's canonical document (and its hash in the ledger) stays the record; the rows are derived from it and can be
rebuilt from it at any time, so writing them never touches the ledger or the document (engine.plan_visits writes
and reads them; this module is the pure part: which row a visit makes, which days a week or month label covers). Plans in the `suijian.plan/1` format have no schedule: their rows have no `scheduled_on`, and `due_on` is the
end of the visit's due window (`due_to`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from engine.plan.model import Plan, Visit
from entities.errors import InputError

PLANNED = "planned"
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


COLUMNS = ("plan_id", "visit_id", "uscc", "region", "items", "team", "lead", "scheduled_on", "due_on", "status")
"""The columns of a `plan_visit` row (visit_row's keys, visit_tuple's order)."""


def visit_row(plan_id: str, visit: Visit) -> dict[str, Any]:
    """The `plan_visit` row of one visit (status planned)."""
    return dict(zip(COLUMNS, visit_tuple(plan_id, visit), strict=True))


def visit_tuple(plan_id: str, visit: Visit) -> tuple[Any, ...]:
    """The `plan_visit` row of one visit as a tuple of COLUMNS' values: the team lead first, as the plan has it;
    due on the scheduled due date, else the window's end."""
    due = visit.due_on if visit.due_on is not None else visit.due_to
    items, team = list(visit.item_codes), list(visit.team)
    return (plan_id, visit.id, visit.uscc, visit.region, items, team, visit.lead, visit.scheduled_on, due, PLANNED)


def visit_rows(plan_id: str, plan: Plan) -> list[dict[str, Any]]:
    """One row per visit of the plan, in the plan's order."""
    return [visit_row(plan_id, v) for v in plan.visits]


def visit_tuples(plan_id: str, plan: Plan) -> Iterator[tuple[Any, ...]]:
    """`visit_rows` as tuples of COLUMNS' values: a city's 321,084 visits are written without a dict each."""
    return (visit_tuple(plan_id, v) for v in plan.visits)


def week_window(label: str) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of an ISO week written as "2026-W10" (the form engine.plan.calendar.week_label gives)."""
    m = _WEEK.fullmatch(label.strip())
    if m is not None:
        try:
            monday = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
        except ValueError:
            monday = None
        if monday is not None:
            return monday, monday + dt.timedelta(days=6)
    raise InputError(f"week {label!r} is not an ISO week such as 2026-W10 (weeks 01–52, or 53 in a long year)")


def month_window(label: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a month written as "2026-03"."""
    m = _MONTH.fullmatch(label.strip())
    if m is not None and 1 <= int(m[2]) <= 12 and int(m[1]) >= 1:
        year, month = int(m[1]), int(m[2])
        return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    raise InputError(f"month {label!r} is not a month such as 2026-03")


def in_window(
    visits: list[dict[str, Any]], window: tuple[dt.date, dt.date] | None, *, what: str, plan_id: str
) -> list[dict[str, Any]]:
    """The visit rows scheduled inside `window` (all when None). A plan without a schedule (a suijian.plan/1 plan:
    no visit has a scheduled day) cannot be cut by week or month: one line says so instead of an empty list."""
    if window is None:
        return visits
    if visits and all(v["scheduled_on"] is None for v in visits):
        raise InputError(
            f"plan {plan_id} has no schedule (a suijian.plan/1 plan: its visits have no scheduled date), so it "
            f"cannot be listed by {what}; drop --{what}, or use a scheduled plan"
        )
    first, last = window
    return [v for v in visits if v["scheduled_on"] is not None and first <= v["scheduled_on"] <= last]
