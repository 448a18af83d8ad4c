"""The oracle for the pack's follow-up table: the hand-written reading of the articles that the table replaced
(engine/results/followups.py before 2026.3), reduced to what a proposal is — its kind and its re-check window.

One deliberate difference from that code: a rectification report dated after the as-of date is not yet received
(the old code counted any recorded report date), so it does not start the 10-working-day clock of 令57号 第29条.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from engine.plan.calendar import WorkCalendar
from engine.results.codes import default_codes
from engine.results.followups import SPECIAL_EQUIPMENT, ItemFacts, ProposalKind
from engine.results.model import MeasureKind

AFTER_REPORT = 10  # 令57号 第29条
AFTER_DEADLINE = 10  # the national pack's recheck_within_days

Proposed = tuple[ProposalKind, dt.date | None, dt.date | None]


def reference_proposals(items: Iterable[ItemFacts], calendar: WorkCalendar) -> set[Proposed]:
    out: set[Proposed] = set()
    for f in items:
        out |= _one(f, calendar)
    return out


def _one(f: ItemFacts, calendar: WorkCalendar) -> set[Proposed]:
    table = default_codes()
    out: set[Proposed] = set()
    if f.result_codes & table.ending:
        return out
    found = f.result_codes & table.findings
    open_problem = bool(found - {c.code for c in table if c.key == "fixed_after_order"})
    equipment = f.domain == SPECIAL_EQUIPMENT
    orders = f.measures & {MeasureKind.RECTIFY, MeasureKind.DIRECTIVE}
    report = f.rectification_report_on if f.rectification_report_on and f.rectification_report_on <= f.as_of else None
    if equipment and report is not None and orders and not f.rechecked:
        out.add(
            (
                ProposalKind.RECHECK,
                calendar.next_working_day(report + dt.timedelta(days=1)),
                calendar.add_working_days(report, AFTER_REPORT),
            )
        )
    elif f.deadline is not None and orders and not f.rechecked:
        out.add(
            (
                ProposalKind.RECHECK,
                calendar.add_working_days(f.deadline, 1),
                calendar.add_working_days(f.deadline, AFTER_DEADLINE),
            )
        )
    measures = f.measures
    past = f.working_days_past_deadline is not None and f.working_days_past_deadline > 0
    if equipment and open_problem and MeasureKind.DIRECTIVE not in measures and MeasureKind.STOP_USE not in measures:
        out.add((ProposalKind.DIRECTIVE, None, None))
    if (
        equipment
        and MeasureKind.DIRECTIVE in measures
        and MeasureKind.STOP_USE not in measures
        and past
        and f.recheck_corrected is False
    ):
        out.add((ProposalKind.STOP_USE, None, None))
        out.add((ProposalKind.PENALTY_CASE, None, None))
    if equipment and MeasureKind.STOP_USE in measures and MeasureKind.CASE not in measures:
        out.add((ProposalKind.PENALTY_CASE, None, None))
    if f.result_codes & table.direct_listing_causes:
        out.add((ProposalKind.LIST_ABNORMAL, None, None))
    if f.result_codes & table.deadline_listing_causes:
        if MeasureKind.ORDER_PUBLISH not in measures:
            out.add((ProposalKind.ORDER_PUBLICATION, None, None))
        elif past and f.ordered_publication_made is False:
            out.add((ProposalKind.LIST_ABNORMAL, None, None))
    if f.result_codes & table.penalty_causes and MeasureKind.CASE not in measures:
        out.add((ProposalKind.PENALTY_CASE, None, None))
    return out
