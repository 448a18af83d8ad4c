"""The auditor's view of a plan: for each visit, drawn → visited → result → published on day N, and a summary.

    plan_trace(plan, results, publications, calendar) -> Trace

Pure: the plan (its visits and which items were drawn), the results in force per visit, and the latest
publication per visit go in; rows and figures come out. The working days between completion and publication are
counted on the WorkCalendar (day 1 is the first working day after completion, as the 20-working-day clock counts).
`engine.results.trace_store.trace_of` reads the three inputs from a store.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.plan.calendar import WorkCalendar
from engine.plan.model import Plan
from engine.results.model import VisitResult
from engine.results.publication import PUBLICATION_DAYS


@dataclass(frozen=True)
class PublishedOn:
    """A visit's result as published: on which day, against which deadline."""

    published_on: dt.date
    deadline: dt.date
    on_time: bool


@dataclass(frozen=True)
class TraceRow:
    visit_id: str
    uscc: str
    drawn: tuple[str, ...]  # items drawn at random on this visit
    mandatory: tuple[str, ...]
    scheduled_on: dt.date | None
    completed_on: dt.date | None  # None: no result recorded
    result_codes: tuple[str, ...]
    version: int | None
    published_on: dt.date | None
    working_days: int | None  # from completion to publication (day 1 = the first working day after completion)
    on_time: bool | None

    def to_dict(self) -> dict[str, Any]:
        def day(d: dt.date | None) -> str | None:
            return None if d is None else d.isoformat()

        return {
            "visit": self.visit_id,
            "uscc": self.uscc,
            "drawn": list(self.drawn),
            "mandatory": list(self.mandatory),
            "scheduled_on": day(self.scheduled_on),
            "completed_on": day(self.completed_on),
            "result_codes": list(self.result_codes),
            "version": self.version,
            "published_on": day(self.published_on),
            "working_days_to_publish": self.working_days,
            "on_time": self.on_time,
        }


@dataclass(frozen=True)
class Trace:
    rows: tuple[TraceRow, ...]

    def summary(self) -> dict[str, Any]:
        planned = len(self.rows)
        visited = [r for r in self.rows if r.completed_on is not None]
        published = [r for r in visited if r.published_on is not None]
        on_time = [r for r in published if r.on_time]
        drawn = [r for r in self.rows if r.drawn]
        days = [r.working_days for r in published if r.working_days is not None]

        def share(part: int, whole: int) -> float:
            return round(part / whole, 4) if whole else 0.0

        return {
            "visits_planned": planned,
            "visits_with_result": len(visited),
            "visited_share": share(len(visited), planned),
            "drawn_visits": len(drawn),
            "drawn_visits_with_result": sum(1 for r in drawn if r.completed_on is not None),
            "published": len(published),
            "published_on_time": len(on_time),
            "on_time_share": share(len(on_time), len(published)),
            "median_working_days_to_publish": statistics.median(days) if days else None,
            "deadline_working_days": PUBLICATION_DAYS,
        }


def plan_trace(
    plan: Plan,
    results: Mapping[str, VisitResult],
    publications: Mapping[str, PublishedOn],
    calendar: WorkCalendar,
) -> Trace:
    """One row per planned visit, by visit id. `results` is the version in force per visit id; `publications` the
    latest publication per visit id."""
    rows = []
    for v in sorted(plan.visits, key=lambda v: v.id):
        r = results.get(v.id)
        p = publications.get(v.id) if r is not None else None
        days = None
        if r is not None and p is not None:
            days = calendar.count_working_days(r.completed_on + dt.timedelta(days=1), p.published_on)
        rows.append(
            TraceRow(
                visit_id=v.id,
                uscc=v.uscc,
                drawn=tuple(i.code for i in v.items if i.drawn),
                mandatory=tuple(i.code for i in v.items if i.mandatory),
                scheduled_on=v.scheduled_on,
                completed_on=None if r is None else r.completed_on,
                result_codes=() if r is None else tuple(sorted({c for i in r.items for c in i.result_codes})),
                version=None if r is None else r.version,
                published_on=None if p is None else p.published_on,
                working_days=days,
                on_time=None if p is None else p.on_time,
            )
        )
    return Trace(tuple(rows))
