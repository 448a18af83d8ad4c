"""Give every visit a working day and a due date: spread over the batches, spaced by frequency, within capacity.

Why these rules:
- only working days (statutory holidays off, 调休 make-up days worked: `engine.plan.calendar`), since 执法检查 is
  done by 执法人员 on duty (令49号 第23条 and the other 办法: at least two inspectors, on duty);
- batches (月/季 批次): the 双随机 plan is carried out in batches over the year (总局 2019 notice on 双随机、一公开
  annual plans [secondary]), so visits are shared out over the policy's months or quarters, not piled at the start;
- frequency spacing: a subject due n times in the period gets its k-th visit in the k-th n-th of the period (a
  D-grade caterer checked 4 times a year gets one visit per quarter, 食品生产经营风险分级管理办法 [secondary]);
- each inspector's weekly capacity (prorated to the week's working days, never above it) and a daily cap;
- a team's visits in one township go on the same day where capacity allows, to save travel.

How (greedy, deterministic): visits are placed one at a time, each on the first day its whole team has room in
the least loaded batch its window meets. The order decides what fits, so the hardest go first: the narrowest
windows (frequency work), then the visits of the tightest inspectors (visits asked of them ÷ the room their weeks
give), who have the fewest days to share with a partner, then priority. Placing by priority alone left 7 of
baiyun's 44,977 demo visits without a common free day; this order places all of them (and jiedong's 5,078).

Contract (pure: no store, no clock; the same inputs give the same schedule):
- `visits`: `VisitToSchedule` rows (id, subject, township, team of inspector ids, frequency index/count, optional
  window, priority — smaller first among equally hard visits);
- `calendar`: a `WorkCalendar` covering the period (else one InputError naming the year);
- `weekly_capacity`: visits per inspector per full week; `daily_capacity`: visits per inspector per day;
- `batches`: "month", "quarter" or "period".
`schedule(...)` returns `Schedule`: a `visits` frame (id, subject, township, team, date, due, week, batch,
window_from, window_to) for the scheduled ones, `unscheduled` (id, reason) and a `ScheduleReport`. A visit's
window is its spacing slice for frequency work (count > 1), else the batch it was put in, each cut to the visit's
own window; `due` is the window's last working day.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from engine.plan.calendar import WorkCalendar, week_label
from entities.errors import InputError

Batches = Literal["month", "quarter", "period"]
FULL_WEEK = 5  # working days in an ordinary week: weekly capacity is stated for one
_SEP = "\x1f"  # joins a team's inspector ids for a moment (no id holds a control character)


@dataclass(frozen=True, slots=True)
class VisitToSchedule:
    """One visit to place: who goes where, and which of the subject's visits in the period it is."""

    id: str
    subject: str
    township: str
    team: tuple[str, ...]
    index: int = 1  # 1-based: the subject's index-th visit of `count` in the period (frequency spacing)
    count: int = 1
    window: tuple[dt.date, dt.date] | None = None  # earliest and latest day allowed, both included
    priority: int = 0


@dataclass(frozen=True)
class ScheduleReport:
    """The checks the schedule must pass, as figures: load against capacity, non-working days, township switches."""

    max_weekly_load: int  # the most visits any inspector has in one week
    max_weekly_load_capacity: int  # that inspector-week's capacity (the smallest, when several share the load)
    max_weekly_share: float  # the highest load ÷ that week's capacity (≤ 1)
    over_capacity: int  # inspector-weeks above capacity (0)
    non_working_day_visits: int  # (0)
    team_days: int
    township_switches: int  # over all team-days: townships visited that day minus 1
    max_township_switches: int  # on any one team-day
    scheduled: int
    unscheduled: int
    calendar: tuple[str, ...] = ()  # what decided the working days (WorkCalendar.sources_between)

    def to_dict(self) -> dict[str, Any]:
        """The figures under stable keys, for a plan summary's `schedule` block (and its JSON output)."""
        return {
            "scheduled": self.scheduled,
            "unscheduled": self.unscheduled,
            "non_working_day_visits": self.non_working_day_visits,
            "max_weekly_load": self.max_weekly_load,
            "max_weekly_load_capacity": self.max_weekly_load_capacity,
            "max_weekly_share": self.max_weekly_share,
            "over_capacity": self.over_capacity,
            "team_days": self.team_days,
            "township_switches": self.township_switches,
            "township_switches_per_team_day": round(self.township_switches / self.team_days, 6)
            if self.team_days
            else 0.0,
            "max_township_switches": self.max_township_switches,
            "calendar": list(self.calendar),
        }


class Schedule:
    """The placed visits (`visits`: id, subject, township, team, date, due, week, batch, window_from, window_to), the
    unscheduled ones (id, reason), the figures, and per placed visit id (date, due, window_from, window_to) as
    Python dates: the frame's values.

    `visits` may be given as a function that builds the frame: it is then built on first use. A plan's dating
    (engine.plan.dates) reads only `dates`, and building a city's frame of 320,000 rows was a tenth of its
    schedule's CPU."""

    def __init__(
        self,
        visits: pl.DataFrame | Callable[[], pl.DataFrame],
        unscheduled: pl.DataFrame,
        report: ScheduleReport,
        dates: Mapping[str, tuple[dt.date, dt.date, dt.date, dt.date]] | None = None,
    ) -> None:
        self._visits = visits
        self.unscheduled = unscheduled
        self.report = report
        self.dates: Mapping[str, tuple[dt.date, dt.date, dt.date, dt.date]] = {} if dates is None else dates

    @property
    def visits(self) -> pl.DataFrame:
        if not isinstance(self._visits, pl.DataFrame):
            self._visits = self._visits()
        return self._visits


def prorated(weekly: int, working_days: int) -> int:
    """A week's capacity: the weekly capacity prorated to the week's working days (a holiday week holds less),
    rounded half up, never above the weekly capacity."""
    return min(weekly, (2 * weekly * working_days + FULL_WEEK) // (2 * FULL_WEEK))  # ⌊w·n/5 + 1/2⌋ in integers


def batch_ranges(start: dt.date, end: dt.date, batches: Batches) -> list[tuple[str, dt.date, dt.date]]:
    """The batches of a period, as (label, first day, last day): calendar months or quarters cut to the period."""
    if batches not in ("month", "quarter", "period"):
        raise InputError(f"batches must be month, quarter or period, not {batches!r}")
    if batches == "period":
        return [(f"{start}..{end}", start, end)]
    step = 1 if batches == "month" else 3
    out: list[tuple[str, dt.date, dt.date]] = []
    year, month = start.year, ((start.month - 1) // step) * step + 1
    while dt.date(year, month, 1) <= end:
        first = dt.date(year, month, 1)
        ny, nm = (year + 1, month + step - 12) if month + step > 12 else (year, month + step)
        last = dt.date(ny, nm, 1) - dt.timedelta(days=1)
        label = f"{year}-{month:02d}" if step == 1 else f"{year}Q{(month - 1) // 3 + 1}"
        out.append((label, max(first, start), min(last, end)))
        year, month = ny, nm
    return out


def spacing_slice(
    start: dt.date, end: dt.date, index: int, count: int, calendar: WorkCalendar
) -> tuple[dt.date, dt.date]:
    """The part of the period the index-th of count visits falls in.

    Whole months when the period is whole months and count divides them (4 a year → quarters, 12 → months);
    otherwise count equal runs of working days.
    """
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    whole = start.day == 1 and (end + dt.timedelta(days=1)).day == 1
    if whole and months % count == 0:
        per = months // count
        m0 = start.month - 1 + (index - 1) * per
        first = dt.date(start.year + m0 // 12, m0 % 12 + 1, 1)
        m1 = m0 + per
        last = dt.date(start.year + m1 // 12, m1 % 12 + 1, 1) - dt.timedelta(days=1)
        return first, last
    days = calendar.working_days(start, end)
    lo = (index - 1) * len(days) // count
    hi = index * len(days) // count
    if hi <= lo:
        raise InputError(f"a frequency of {count} visits cannot fit the {len(days)} working days from {start} to {end}")
    return days[lo], days[hi - 1]


def schedule(
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
    batch_bits = [bits(bi, bj) if bj > bi else 0 for bi, bj in batch_span]

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

    batch_load = [0] * len(batch_list)
    # Per batch its load per working day, kept as visits are placed: the options are sorted by it (a stable sort
    # of the batches in order, so equal loads keep the earlier batch first).
    batch_ratio = [0.0] * len(batch_list)
    day_batch = [0] * len(days)  # the batch each working day is in (the batches cut the period into runs)
    for b, (bi, bj) in enumerate(batch_span):
        day_batch[bi:bj] = [b] * (bj - bi)
    # (day index, id, visit, its window's row in `window_rows`, batch): sorted by day and id at the end.
    placed: list[tuple[int, str, VisitToSchedule, int, int]] = []
    window_at: dict[tuple[dt.date, dt.date], int] = {}  # a few distinct windows, each once as polars dates
    window_rows: list[tuple[dt.date, dt.date]] = []
    unscheduled: list[tuple[str, str]] = []
    last_day: dict[tuple[tuple[str, ...], str], int] = {}
    team_days: dict[tuple[tuple[str, ...], int], set[str]] = {}  # (team, day index) → its townships: the report

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

    windows = [window(v) for v in visits]
    # How tight each inspector is: visits asked of them ÷ the room their weeks give (prorated, ≤ daily cap a day).
    asked: Counter[str] = Counter(p for v in visits for p in v.team)
    tight: dict[str, float] = {}  # a float compares fast in the sort; IEEE division gives the same value anywhere
    for p in asked:
        room(p)
        space = sum(min(cap, daily_capacity * week_days[w]) for cap, w in zip(caps[p], weeks, strict=True))
        tight[p] = asked[p] / space if space else float(asked[p])
    # Per distinct team (a city's visits share far fewer teams than there are visits): its members sorted, and
    # minus its tightest member's tightness.
    teams: dict[tuple[str, ...], tuple[tuple[str, ...], float]] = {}
    for v in visits:
        if v.team not in teams:
            teams[v.team] = (tuple(sorted(v.team)), -max(tight[p] for p in v.team))
    # Narrowest windows first (a quarterly visit has fewer days to choose from than a yearly one); then the visits
    # of the tightest inspectors, who have the fewest free days to share with a partner; then priority; then by
    # team and township so a team's visits in one place come together. (Ids are unique: no two keys are equal.)
    keys = [
        ((hi - lo).days, teams[v.team][1], v.priority, lo, teams[v.team][0], v.township, v.subject, v.id)
        for v, (lo, hi) in zip(visits, windows, strict=True)
    ]
    spans: dict[tuple[dt.date, dt.date], tuple[int, int, list[int]]] = {}  # window → its days, batches it meets
    order = sorted(range(len(visits)), key=keys.__getitem__)
    del keys  # a tuple per visit: not kept alive while the visits are placed
    for at in order:
        v = visits[at]
        lo, hi = windows[at]
        if (lo, hi) not in spans:
            i, j = span(lo, hi)
            spans[(lo, hi)] = (i, j, [b for b, (bi, bj) in enumerate(batch_span) if bi < j and bj > i and bj > bi])
        i, j, options = spans[(lo, hi)]
        if i >= j:
            unscheduled.append((v.id, f"no working day in its window {lo}..{hi}"))
            continue
        team = teams[v.team][0]
        chosen: tuple[int, int] | None = None
        # The days of the window on which the whole team has room: worked out once, every choice below reads it.
        m = bits(i, j)
        for p in team:
            m &= free[p]
        same = last_day.get((team, v.township))
        # The team's day in this township first, if the visit may go then and everyone still has room: one trip.
        if m and same is not None and (m >> same) & 1:
            chosen = (same, day_batch[same])
        elif m:
            # Batches the visit may use, least loaded per working day first (spreads visits over the period): the
            # first batch in that order (equal loads: the earlier batch) with a free day. That is the batch of
            # least (load, position) among those the free days meet, so it is found without sorting the batches.
            best: tuple[float, int] | None = None
            for b in options:
                if m & batch_bits[b] and (best is None or batch_ratio[b] < best[0]):
                    best = (batch_ratio[b], b)
            if best is not None:
                b = best[1]
                hit = m & batch_bits[b]
                chosen = ((hit & -hit).bit_length() - 1, b)
        if chosen is None:
            unscheduled.append((v.id, "capacity: no working day in its window with the whole team free"))
            continue
        day, b = chosen
        k = day_week[day]
        for p in team:
            loads = day_load[p]
            loads[day] += 1
            if loads[day] >= daily_capacity:
                free[p] &= ~(1 << day)
            weekly = week_load[p]
            weekly[k] += 1
            if weekly[k] >= caps[p][k]:
                free[p] &= ~week_bits[k]
        batch_load[b] += 1
        batch_ratio[b] = batch_load[b] / (batch_span[b][1] - batch_span[b][0])
        last_day[(team, v.township)] = day
        places = team_days.get((team, day))
        if places is None:
            team_days[(team, day)] = {v.township}
        else:
            places.add(v.township)
        _label, b_start, b_end = batch_list[b]
        # The visit's window: its spacing slice for frequency work (the 2nd of 4 is due by the end of Q2),
        # otherwise the batch it was put in (cut to any window of its own).
        w = (lo, hi) if v.count > 1 else (max(lo, b_start), min(hi, b_end))
        if w not in window_at:
            window_at[w] = len(window_rows)
            window_rows.append(w)
        placed.append((day, v.id, v, window_at[w], b))

    placed.sort(key=lambda x: (x[0], x[1]))

    def frame() -> pl.DataFrame:
        """The placed visits as a frame, by day and id (built when a caller asks for it)."""
        # Dates, weeks and batch labels are taken by index from short series (one per working day, window or batch)
        # rather than converted from a Python object per visit.
        day_at = pl.Series([d for d, *_ in placed], dtype=pl.UInt32)
        window_of = pl.Series([w for *_, w, _ in placed], dtype=pl.UInt32)
        return pl.DataFrame(
            {
                "id": [vid for _, vid, *_ in placed],
                "subject": [v.subject for _, _, v, _, _ in placed],
                "township": [v.township for _, _, v, _, _ in placed],
                # Joined and split in one vectorised step: a list per row would be converted row by row.
                "team": pl.Series([_SEP.join(v.team) for _, _, v, _, _ in placed], dtype=pl.String).str.split(_SEP),
                "date": pl.Series(days, dtype=pl.Date).gather(day_at),
                # The window's last working day (≥ the visit's day, which lies in the window).
                "due": pl.Series(
                    [days[bisect_right(ordinals, w[1].toordinal()) - 1] for w in window_rows], dtype=pl.Date
                ).gather(window_of),
                "week": pl.Series(week_of, dtype=pl.String).gather(day_at),
                "batch": pl.Series([label for label, _, _ in batch_list], dtype=pl.String).gather(
                    pl.Series([b for *_, b in placed], dtype=pl.UInt32)
                ),
                "window_from": pl.Series([w[0] for w in window_rows], dtype=pl.Date).gather(window_of),
                "window_to": pl.Series([w[1] for w in window_rows], dtype=pl.Date).gather(window_of),
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

    # The figures from the placement's own tallies: what `report` reads back from a stored frame's rows (each
    # inspector's load per week, the townships of each team-day), without going over the visits again.
    off = {d for d in range(len(days)) if not calendar.is_working_day(days[d])}  # none: the days are working days
    over = 0
    share = 0.0
    busiest = (0, 0)  # (load, -capacity) of the busiest inspector-week: the tightest one when loads tie
    for p, loads in week_load.items():
        for n, cap in zip(loads, caps[p], strict=True):
            if n:
                over += n > cap
                share = max(share, n / cap if cap else math.inf)
                busiest = max(busiest, (n, -cap))
    switches = [len(t) - 1 for t in team_days.values()]
    figures = ScheduleReport(
        max_weekly_load=busiest[0],
        max_weekly_load_capacity=-busiest[1],
        max_weekly_share=round(share, 6),
        over_capacity=over,
        non_working_day_visits=sum(1 for d, *_ in placed if d in off) if off else 0,
        team_days=len(team_days),
        township_switches=sum(switches),
        max_township_switches=max(switches, default=0),
        scheduled=len(placed),
        unscheduled=len(unscheduled),
        calendar=tuple(calendar.sources_between(start, end)),
    )
    # Each placed visit's day, due date and window as Python dates (engine.plan.dates puts them on the visits):
    # taken from the short lists they came from, not converted back from the frame a visit at a time.
    due_of = [days[bisect_right(ordinals, w[1].toordinal()) - 1] for w in window_rows]
    dates = {vid: (days[d], due_of[w], *window_rows[w]) for d, vid, _, w, _ in placed}
    return Schedule(
        visits=frame,
        unscheduled=pl.DataFrame(unscheduled, schema={"id": pl.String, "reason": pl.String}, orient="row").sort("id"),
        report=figures,
        dates=dates,
    )


def report(
    frame: pl.DataFrame,
    calendar: WorkCalendar,
    weekly_capacity: Mapping[str, int],
    week_days: Mapping[str, int],
    unscheduled: int = 0,
    *,
    sources: Sequence[str] = (),
) -> ScheduleReport:
    """The schedule's figures, recomputed from its rows (so a stored schedule can be checked the same way)."""
    return _figures(
        frame.select("team", "date", "week", "township").iter_rows(),
        calendar,
        weekly_capacity,
        week_days,
        scheduled=frame.height,
        unscheduled=unscheduled,
        sources=sources,
    )


def _figures(
    rows: Iterable[tuple[Sequence[str], dt.date, str, str]],
    calendar: WorkCalendar,
    weekly_capacity: Mapping[str, int],
    week_days: Mapping[str, int],
    *,
    scheduled: int,
    unscheduled: int,
    sources: Sequence[str],
) -> ScheduleReport:
    """`report` over (team, date, week, township) rows."""
    load: Counter[tuple[str, str]] = Counter()
    townships: dict[tuple[tuple[str, ...], dt.date], set[str]] = defaultdict(set)
    working: dict[dt.date, bool] = {}
    non_working = 0
    for team, day, week, township in rows:
        if day not in working:
            working[day] = calendar.is_working_day(day)
        if not working[day]:
            non_working += 1
        for p in team:
            load[(p, week)] += 1
        townships[(tuple(sorted(team)), day)].add(township)
    over = 0
    share = 0.0
    busiest = (0, 0)  # (load, -capacity) of the busiest inspector-week: the tightest one when loads tie
    for (p, week), n in load.items():
        cap = prorated(weekly_capacity[p], week_days.get(week, FULL_WEEK))
        over += n > cap
        share = max(share, n / cap if cap else math.inf)
        busiest = max(busiest, (n, -cap))
    switches = [len(t) - 1 for t in townships.values()]
    return ScheduleReport(
        max_weekly_load=busiest[0],
        max_weekly_load_capacity=-busiest[1],
        max_weekly_share=round(share, 6),
        over_capacity=over,
        non_working_day_visits=non_working,
        team_days=len(townships),
        township_switches=sum(switches),
        max_township_switches=max(switches, default=0),
        scheduled=scheduled,
        unscheduled=unscheduled,
        calendar=tuple(sources),
    )
