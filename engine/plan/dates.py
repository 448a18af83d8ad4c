"""Date a plan's visits: each gets a working day to be done on and a due date, from the working-day schedule.

The plan decides who visits whom (engine.plan.make); this gives those visits days (engine.plan.schedule) and puts
the days back on the visits:
- `scheduled_on`: a working day of the period (statutory holidays off, 调休 make-up days worked);
- `due_from` / `due_to`: the visit's window — for frequency work (`count` > 1) the `index`-th of `count` equal
  parts of the period (4 a year → its quarter), otherwise the batch it was put in (the policy's `batches`:
  months, quarters or the whole period), cut to the period;
- `due_on`: the window's last working day.
Township = the visit's region (9-digit 街镇 code): a team's visits in one township go on the same day where they
can. The policy's `daily_capacity` caps each inspector's visits per day.

Weekly capacity per inspector (`weekly_capacity`): the roster's 每周可承担检查户次 when given; otherwise derived
from the yearly capacity (年度可承担检查户次) so that a normal week takes its share of the period's capacity:
    period capacity = the plan's rule (engine.plan.make): quota(period days ÷ days of the year, yearly capacity),
                      or the whole yearly capacity when the policy's `capacity` is "full";
    weekly capacity = ⌈period capacity × 5 ÷ working days of the period⌉, at least 1.
So 60 a year over 2026's 248 working days gives ⌈60 × 5 ÷ 248⌉ = 2 a week. A week with fewer working days (a
holiday week) holds proportionally less (engine.plan.schedule).

Pure and deterministic: no store, no clock; the inputs are sorted first, so their order does not matter. A visit
that cannot be placed (its whole team is full on every working day of its window) is never dropped silently: it
is returned in `unscheduled` with the reason, and left out of `visits`.

Bad input raises one InputError: a period the calendar does not cover (give the year's calendar file), an
inspector on a visit with weekly capacity 0 or missing from the roster, a frequency the period cannot hold.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from engine.plan.calendar import WorkCalendar
from engine.plan.model import Visit
from engine.plan.policy import PlanPolicy
from engine.plan.schedule import FULL_WEEK, ScheduleReport, VisitToSchedule, schedule
from engine.plan.slotted import Maker
from engine.sampling import quota
from entities.errors import InputError
from entities.models import InspectorCreate


@dataclass(frozen=True)
class DatedVisits:
    """The visits with their days (sorted by id), the schedule's figures, and the visits that found no day."""

    visits: tuple[Visit, ...]  # the placed visits only
    report: ScheduleReport
    unscheduled: tuple[tuple[str, str], ...]  # (visit id, reason), sorted by id; these are not in `visits`


_VISITS = Maker(Visit)
_TO_SCHEDULE = Maker(VisitToSchedule)


def _with_days(v: Visit, day: dt.date, due: dt.date, lo: dt.date, hi: dt.date) -> Visit:
    """The visit with its day, due date and window: `dataclasses.replace` without the constructor, which was most
    of the time spent on a city's visits (engine.plan.slotted)."""
    return _VISITS.copy(v, {"scheduled_on": day, "due_on": due, "due_from": lo, "due_to": hi})


def _to_schedule(v: Visit) -> VisitToSchedule:
    """`VisitToSchedule(id=v.id, subject=v.uscc, …)` without the frozen dataclass's constructor (a city's
    320,000 visits): the same value."""
    return _TO_SCHEDULE.make(
        {
            "id": v.id,
            "subject": v.uscc,
            "township": v.region,
            "team": tuple(v.team),
            "index": v.index,
            "count": v.count,
            "window": None,
            "priority": v.priority,
        }
    )


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def period_share(start: dt.date, end: dt.date, policy: PlanPolicy) -> Fraction:
    """The part of a year's capacity the period gets: the plan's own rule (engine.plan.make)."""
    if policy.capacity == "full":
        return Fraction(1)
    return min(Fraction((end - start).days + 1, 366 if _leap(start.year) else 365), Fraction(1))


def weekly_capacities(
    inspectors: Sequence[InspectorCreate],
    *,
    start: dt.date,
    end: dt.date,
    calendar: WorkCalendar,
    policy: PlanPolicy,
) -> dict[str, int]:
    """Each inspector's visits per full week: the roster's weekly capacity, or derived (see the module docstring)."""
    working = calendar.count_working_days(start, end)
    share = period_share(start, end, policy)
    out: dict[str, int] = {}
    for i in sorted(inspectors, key=lambda i: i.id):
        if i.weekly_capacity is not None:
            out[i.id] = i.weekly_capacity
            continue
        period = quota(share, i.capacity)
        out[i.id] = max(1, math.ceil(Fraction(period * FULL_WEEK, working))) if working else 1
    return out


def date_visits(
    visits: Sequence[Visit],
    *,
    start: dt.date,
    end: dt.date,
    calendar: WorkCalendar,
    inspectors: Sequence[InspectorCreate],
    policy: PlanPolicy,
) -> DatedVisits:
    """Give every visit a working day, its window and its due date (see the module docstring)."""
    calendar.require(start, end)  # a year neither the library nor a calendar file covers: one line
    working = calendar.count_working_days(start, end)
    capacity = weekly_capacities(inspectors, start=start, end=end, calendar=calendar, policy=policy)
    explicit = {i.id: i.weekly_capacity for i in inspectors}
    ordered = sorted(visits, key=lambda v: v.id)
    for v in ordered:
        if v.count > working:
            raise InputError(
                f"visit {v.id}: a frequency of {v.count} visits cannot fit the {working} working days from "
                f"{start} to {end}; lower the pack's frequency or plan a longer period"
            )
        for person in v.team:
            if person not in capacity:
                raise InputError(f"visit {v.id}: inspector {person} is not in the roster")
            if explicit[person] == 0:
                raise InputError(
                    f"inspector {person} has weekly capacity 0 (每周可承担检查户次) but is on visit {v.id}; give at "
                    "least 1, or leave it empty to derive it from the yearly capacity"
                )
    to_place = [_to_schedule(v) for v in ordered]
    out = schedule(
        to_place,
        calendar,
        start=start,
        end=end,
        weekly_capacity=capacity,
        daily_capacity=policy.daily_capacity,
        batches=policy.batches,
    )
    days: Mapping[str, tuple[dt.date, dt.date, dt.date, dt.date]] = out.dates
    dated = tuple(_with_days(v, *days[v.id]) for v in ordered if v.id in days)
    unscheduled = tuple((vid, reason) for vid, reason in out.unscheduled.iter_rows())
    return DatedVisits(visits=dated, report=out.report, unscheduled=unscheduled)
