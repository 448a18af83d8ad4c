"""The working-day schedule's placing loop as it was before its fast path (session 24): the reference that
tests/engine/plan/test_schedule_fast.py holds `engine.plan.schedule.schedule` to, visit for visit."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence

import polars as pl

from engine.plan.calendar import WorkCalendar, week_label
from engine.plan.schedule import _SEP, Batches, Schedule, VisitToSchedule, batch_ranges, prorated, report, spacing_slice
from entities.errors import InputError


def reference_schedule(
    visits: Sequence[VisitToSchedule],
    calendar: WorkCalendar,
    *,
    start: dt.date,
    end: dt.date,
    weekly_capacity: Mapping[str, int],
    daily_capacity: int = 4,
    batches: Batches = "month",
) -> Schedule:
    """Place every visit on a working day of start..end (see the module docstring for the rules)."""
    if end < start:
        raise InputError(f"the schedule ends ({end}) before it starts ({start})")
    calendar.require(start, end)
    if isinstance(daily_capacity, bool) or not isinstance(daily_capacity, int) or daily_capacity < 1:
        raise InputError(f"daily capacity must be at least 1 visit, not {daily_capacity!r}")
    seen: set[str] = set()
    for v in visits:
        if v.id in seen:
            raise InputError(f"visit {v.id} is given twice")
        seen.add(v.id)
        if not v.team:
            raise InputError(f"visit {v.id} has no team")
        if not 1 <= v.index <= v.count:
            raise InputError(f"visit {v.id}: visit {v.index} of {v.count} is not a visit of the subject's frequency")
        for person in v.team:
            cap = weekly_capacity.get(person)
            if cap is None:
                raise InputError(f"visit {v.id}: inspector {person} has no weekly capacity")
            if cap < 1:
                raise InputError(
                    f"inspector {person} has weekly capacity {cap} but is on visit {v.id}; give at least 1"
                )

    # The period's working days, once: every window and batch is a run of indices into them (bisect), and each
    # inspector's free days are one integer used as a bit set (bit i: room on working day i), so finding a day the
    # whole team is free is a few integer operations even for a city's hundreds of thousands of visits.
    days = calendar.working_days(start, end)
    ordinals = [d.toordinal() for d in days]
    week_of = [week_label(d) for d in days]
    week_days = Counter(week_of)
    weeks = sorted(week_days)
    week_index = {w: k for k, w in enumerate(weeks)}
    day_week = [week_index[w] for w in week_of]
    week_bits = [0] * len(weeks)
    for i, k in enumerate(day_week):
        week_bits[k] |= 1 << i

    def span(lo: dt.date, hi: dt.date) -> tuple[int, int]:
        """The indices [i, j) of the working days from lo to hi."""
        return bisect_left(ordinals, lo.toordinal()), bisect_right(ordinals, hi.toordinal())

    def bits(i: int, j: int) -> int:
        return ((1 << j) - 1) ^ ((1 << i) - 1)

    batch_list = batch_ranges(start, end, batches)
    batch_span = [span(b_start, b_end) for _, b_start, b_end in batch_list]

    free: dict[str, int] = {}  # per inspector: the days with room left
    caps: dict[str, list[int]] = {}  # per inspector: capacity per week (prorated)
    day_load: dict[str, list[int]] = {}
    week_load: dict[str, list[int]] = {}

    def room(person: str) -> int:
        if person not in free:
            caps[person] = [prorated(weekly_capacity[person], week_days[w]) for w in weeks]
            free[person] = sum(week_bits[k] for k, cap in enumerate(caps[person]) if cap > 0)
            day_load[person] = [0] * len(days)
            week_load[person] = [0] * len(weeks)
        return free[person]

    def take(person: str, i: int) -> None:
        day_load[person][i] += 1
        if day_load[person][i] >= daily_capacity:
            free[person] &= ~(1 << i)
        k = day_week[i]
        week_load[person][k] += 1
        if week_load[person][k] >= caps[person][k]:
            free[person] &= ~week_bits[k]

    def first_free(team: tuple[str, ...], i: int, j: int) -> int | None:
        """The first day index in [i, j) on which the whole team has room, or None."""
        m = bits(i, j)
        for p in team:
            m &= room(p)
        return (m & -m).bit_length() - 1 if m else None

    batch_load = [0] * len(batch_list)
    placed: list[tuple[VisitToSchedule, int, tuple[dt.date, dt.date], str]] = []
    unscheduled: list[tuple[str, str]] = []
    last_day: dict[tuple[tuple[str, ...], str], int] = {}

    slices: dict[tuple[int, int], tuple[dt.date, dt.date]] = {}

    def window(v: VisitToSchedule) -> tuple[dt.date, dt.date]:
        lo, hi = start, end
        if v.count > 1:
            key = (v.index, v.count)
            if key not in slices:
                slices[key] = spacing_slice(start, end, v.index, v.count, calendar)
            lo, hi = slices[key]
        if v.window is not None:
            lo, hi = max(lo, v.window[0]), min(hi, v.window[1])
        return lo, hi

    windows = {v.id: window(v) for v in visits}
    # How tight each inspector is: visits asked of them ÷ the room their weeks give (prorated, ≤ daily cap a day).
    asked: Counter[str] = Counter(p for v in visits for p in v.team)
    tight: dict[str, float] = {}  # a float compares fast in the sort; IEEE division gives the same value anywhere
    for p in asked:
        room(p)
        space = sum(min(cap, daily_capacity * week_days[w]) for cap, w in zip(caps[p], weeks, strict=True))
        tight[p] = asked[p] / space if space else float(asked[p])
    # Narrowest windows first (a quarterly visit has fewer days to choose from than a yearly one); then the visits
    # of the tightest inspectors, who have the fewest free days to share with a partner; then priority; then by
    # team and township so a team's visits in one place come together.
    order = sorted(
        visits,
        key=lambda v: (
            (windows[v.id][1] - windows[v.id][0]).days,
            -max(tight[p] for p in v.team),
            v.priority,
            windows[v.id][0],
            tuple(sorted(v.team)),
            v.township,
            v.subject,
            v.id,
        ),
    )
    for v in order:
        lo, hi = windows[v.id]
        i, j = span(lo, hi)
        if i >= j:
            unscheduled.append((v.id, f"no working day in its window {lo}..{hi}"))
            continue
        team = tuple(sorted(v.team))
        # Batches the visit may use, least loaded per working day first (spreads visits over the period).
        options = [b for b, (bi, bj) in enumerate(batch_span) if bi < j and bj > i and bj > bi]
        options.sort(key=lambda b: (batch_load[b] / (batch_span[b][1] - batch_span[b][0]), b))
        chosen: tuple[int, int] | None = None
        same = last_day.get((team, v.township))
        # The team's day in this township first, if the visit may go then and everyone still has room: one trip.
        if same is not None and i <= same < j and first_free(team, same, same + 1) is not None:
            chosen = (same, next(b for b in options if batch_span[b][0] <= same < batch_span[b][1]))
        for b in [] if chosen else options:
            hit = first_free(team, max(i, batch_span[b][0]), min(j, batch_span[b][1]))
            if hit is not None:
                chosen = (hit, b)
                break
        if chosen is None:
            unscheduled.append((v.id, "capacity: no working day in its window with the whole team free"))
            continue
        day, b = chosen
        for p in team:
            take(p, day)
        batch_load[b] += 1
        last_day[(team, v.township)] = day
        label, b_start, b_end = batch_list[b]
        # The visit's window: its spacing slice for frequency work (the 2nd of 4 is due by the end of Q2),
        # otherwise the batch it was put in (cut to any window of its own).
        placed.append((v, day, (lo, hi) if v.count > 1 else (max(lo, b_start), min(hi, b_end)), label))

    placed.sort(key=lambda x: (x[1], x[0].id))
    frame = pl.DataFrame(
        {
            "id": [v.id for v, *_ in placed],
            "subject": [v.subject for v, *_ in placed],
            "township": [v.township for v, *_ in placed],
            # Joined and split in one vectorised step: a list per row would be converted row by row.
            "team": pl.Series([_SEP.join(v.team) for v, *_ in placed], dtype=pl.String).str.split(_SEP),
            "date": [days[day] for _, day, _, _ in placed],
            # The window's last working day (≥ the visit's day, which lies in the window).
            "due": [days[bisect_right(ordinals, w[1].toordinal()) - 1] for _, _, w, _ in placed],
            "week": [week_of[day] for _, day, _, _ in placed],
            "batch": [label for *_, label in placed],
            "window_from": [w[0] for _, _, w, _ in placed],
            "window_to": [w[1] for _, _, w, _ in placed],
        },
        schema={
            "id": pl.String,
            "subject": pl.String,
            "township": pl.String,
            "team": pl.List(pl.String),
            "date": pl.Date,
            "due": pl.Date,
            "week": pl.String,
            "batch": pl.String,
            "window_from": pl.Date,
            "window_to": pl.Date,
        },
    )
    return Schedule(
        visits=frame,
        unscheduled=pl.DataFrame(unscheduled, schema={"id": pl.String, "reason": pl.String}, orient="row").sort("id"),
        report=report(
            frame,
            calendar,
            weekly_capacity,
            week_days,
            len(unscheduled),
            sources=calendar.sources_between(start, end),
        ),
    )
