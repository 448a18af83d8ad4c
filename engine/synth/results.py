"""Synthetic results for a committed plan's visits: what each visit found, when it was done and when its sheet came
back to the office — pure and deterministic per seed (no store, no clock).

Every rate is a named parameter below. Where the shared domain notes give a figure it is cited; the rest are marked
[synthetic]: invented to look plausible, not measured. Findings text starts with SYNTHETIC_MARK so that nobody
takes a simulated finding for a real one.

The calendar limits what can be simulated: a result's 公示 deadline is 20 working days after completion (令49号
第39条), and a follow-up re-check falls up to 10 working days after an order's deadline or a rectification report
(令57号 第29条). A date whose clock runs past the years the working-day calendar covers cannot be simulated honestly
(regulations-addendum §8: no 2027 holiday table yet), so `Limits` keeps completions, deadlines and reports inside.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.plan.calendar import WorkCalendar
from engine.results.followups import SPECIAL_EQUIPMENT
from engine.results.model import MeasureKind
from engine.results.publication import PUBLICATION_DAYS
from entities.errors import InputError

SYNTHETIC_MARK = "【模拟数据】"

# ── rates ────────────────────────────────────────────────────────────────────────────────────────────────────

# Share of checked items that find a problem, by the item's catalogue domain.
FINDING_SHARE: Mapping[str, float] = {
    # 揭东 2016–2020: 120 监察指令 over 1,290 special-equipment unit checks = 9.3 % (districts.md, seed 003);
    # every special-equipment finding here gets a 监察指令, so the share is that figure.
    SPECIAL_EQUIPMENT: 120 / 1290,
    # [synthetic] 揭东 rates 500 of its 1,838 graded catering businesses C (一般) in 餐饮服务食品安全量化分级
    # (districts.md, seed 003): a problem on about one check in six is taken as plausible, not measured.
    "food": 0.16,
    "registration": 0.10,  # [synthetic] 企业公示信息 checks: mostly 无法联系 and 未按规定公示 (mix below)
    "medical_device": 0.12,  # [synthetic]
    "product_quality": 0.12,  # [synthetic]
}
OTHER_FINDING_SHARE = 0.10  # [synthetic] any other domain

# The credit class the subject had before the year scales its chance of a finding: the classes are meant to rank
# risk, so a C or D subject is found at fault more often. [synthetic] multipliers; a chance is capped at MAX_CHANCE.
CLASS_FACTOR: Mapping[str, float] = {"A": 0.8, "B": 1.3, "C": 1.9, "D": 2.6}
MAX_CHANCE = 0.8

# Outcomes that are neither a finding nor 未发现问题, as shares of checked items [synthetic]: the premises are
# closed (7 已关闭停业或正在组织清算) or the checked activity is not carried on (F 未发现开展本次抽查涉及的经营活动).
CLOSED_SHARE = 0.02
NO_ACTIVITY_SHARE: Mapping[str, float] = {"food": 0.03, "medical_device": 0.03, "registration": 0.0}
NO_ACTIVITY_DEFAULT = 0.01

# What a finding is, by domain: (result codes, measure, share) [synthetic]. 6 无法联系 is a 经营异常名录 cause by
# itself; B leads to an order to publish by a deadline; C (弄虚作假) to a penalty case (codes.py, addendum §5).
FINDING_MIX: Mapping[str, Sequence[tuple[tuple[str, ...], MeasureKind | None, float]]] = {
    "registration": (
        (("6",), None, 0.40),
        (("B",), MeasureKind.ORDER_PUBLISH, 0.35),
        (("C",), None, 0.05),
        (("D",), MeasureKind.RECTIFY, 0.20),
    ),
    "food": (
        (("3",), MeasureKind.RECTIFY, 0.55),
        (("E",), None, 0.35),  # 发现问题经责令已改正: corrected on the spot
        (("3", "A"), MeasureKind.RECTIFY, 0.07),
        (("6",), None, 0.03),
    ),
    SPECIAL_EQUIPMENT: (
        (("4",), MeasureKind.DIRECTIVE, 0.95),
        (("4",), MeasureKind.STOP_USE, 0.05),  # 特种设备安全法 第84条 cases: 责令停止使用 at the visit
    ),
    "medical_device": (
        (("3",), MeasureKind.RECTIFY, 0.6),
        (("E",), None, 0.4),
    ),
}
OTHER_MIX: Sequence[tuple[tuple[str, ...], MeasureKind | None, float]] = (
    (("5",), MeasureKind.RECTIFY, 0.6),
    (("E",), None, 0.4),
)
# Working days an order gives to comply (整改期限) [synthetic]: 5, 10 or 15 working days.
DEADLINE_DAYS = (5, 10, 15)
# Working days after the visit a rectification report comes in, for orders that ask for one [synthetic].
REPORT_DAYS = (2, 10)

# When a visit is done: on its scheduled day, or slipping a few working days (never past its due date).
ON_SCHEDULE_SHARE = 0.7  # [synthetic]
SLIP_DAYS = 10  # [synthetic] at most this many working days late
NOT_DONE_SHARE = 0.015  # [synthetic] visits that are never done in the year (left planned)
# Working days from the visit to the office receiving its sheet: usually 1–5; a few sheets come back late, and
# their results miss the 20-working-day 公示 deadline (令49号 第39条) [synthetic].
FILING_DAYS = (1, 5)
LATE_FILING_SHARE = 0.04  # [synthetic]
LATE_FILING_DAYS = (15, 30)

FINDINGS_TEXT: Mapping[str, Sequence[str]] = {
    "3": ("原料进货查验记录不全", "从业人员健康证明过期", "食品贮存条件不符合要求", "未落实餐饮具清洗消毒"),
    "4": ("电梯维护保养记录缺失", "安全附件超期未校验", "作业人员无证上岗", "未建立安全技术档案"),
    "5": ("违反其他部门相关规定",),
    "6": ("登记住所经实地核查无法联系",),
    "A": ("发现问题待后续处理",),
    "B": ("未按规定公示即时信息",),
    "C": ("公示的年度报告信息与实际不符",),
    "D": ("未按规定亮照经营",),
    "E": ("现场发现问题，经责令已当场改正",),
}

# The longest re-check window of the national pack's follow-up rules, in working days (recheck_after_report_days,
# 令57号 第29条, and recheck_within_days): a deadline the simulation sets must leave it inside the calendar.
RECHECK_WINDOW = 10


# ── what a visit found ───────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class PlannedVisit:
    """A visit of the plan as the simulation needs it (a plan_visit row)."""

    plan_id: str
    visit_id: str
    uscc: str
    items: tuple[str, ...]
    team: tuple[str, ...]
    scheduled_on: dt.date
    due_on: dt.date


@dataclass(frozen=True)
class SimItem:
    item_code: str
    result_codes: tuple[str, ...]
    findings: str = ""
    measure: MeasureKind | None = None
    deadline: dt.date | None = None
    report_on: dt.date | None = None


@dataclass(frozen=True)
class SimVisit:
    """One simulated visit's result and the day its sheet reached the office (when it can be recorded)."""

    visit: PlannedVisit
    completed_on: dt.date
    filed_on: dt.date
    items: tuple[SimItem, ...]


@dataclass(frozen=True)
class Limits:
    """The last days the calendar lets the simulation use (see the module's docstring)."""

    last_completion: dt.date  # its 20-working-day 公示 deadline is still covered
    last_order_day: dt.date  # a deadline or report on it still has its re-check window covered
    year_end: dt.date  # the last working day of the simulated period: the year-end sweep records what is left

    @classmethod
    def of(cls, calendar: WorkCalendar, start: dt.date, end: dt.date) -> Limits:
        calendar.require(start, end)
        last = _last_with_clock(calendar, start, end, PUBLICATION_DAYS)
        order = _last_with_clock(calendar, start, end, RECHECK_WINDOW)
        year_end = end
        while not calendar.is_working_day(year_end):
            year_end -= dt.timedelta(days=1)
        return cls(last, order, year_end)


def _last_with_clock(calendar: WorkCalendar, start: dt.date, end: dt.date, days: int) -> dt.date:
    """The last day in start..end whose `days`-working-day clock ends in a year the calendar covers."""
    day = end
    while day >= start:
        try:
            calendar.add_working_days(day, days)
            return day
        except InputError:
            day -= dt.timedelta(days=1)
    raise InputError(f"the calendar covers no {days}-working-day clock from {start} to {end}; give --calendar FILE")


def rng_for(seed: int, plan_id: str) -> random.Random:
    """One generator per demo seed and plan: the same seed gives the same year of results."""
    digest = hashlib.sha256(f"suijian-demo-results|{seed}|{plan_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Simulated:
    """The year: the visits done with their results, and how many were not done (by chance, or because their
    completion would fall after `Limits.last_completion`)."""

    done: tuple[SimVisit, ...]
    not_done: int
    beyond_calendar: int


def simulate(
    visits: Sequence[PlannedVisit],
    *,
    classes: Mapping[str, str],
    domains: Mapping[str, str],
    calendar: WorkCalendar,
    limits: Limits,
    seed: int,
) -> Simulated:
    """The visits done in the year (in visit-id order) with what they found.

    `classes` is each subject's credit class before the year (CLASS_FACTOR); `domains` each item's domain."""
    out: list[SimVisit] = []
    not_done = beyond = 0
    rng = rng_for(seed, visits[0].plan_id if visits else "")
    for v in sorted(visits, key=lambda v: v.visit_id):
        # Every number of a visit is drawn whether or not it is used, so one visit's outcome never shifts another's.
        done = rng.random() >= NOT_DONE_SHARE
        completed = _completion(rng, v, calendar)
        late_in_year = completed is not None and completed > limits.last_completion
        if late_in_year:
            completed = None
        filed = _filing(rng, completed, calendar, limits)
        klass = classes.get(v.uscc, "B")
        items = tuple(
            _item(rng, code, domains.get(code, ""), klass, completed, filed, calendar, limits) for code in v.items
        )
        if late_in_year:
            beyond += 1
        elif completed is None or not done:
            not_done += 1
        else:
            out.append(SimVisit(v, completed, filed, items))
    return Simulated(tuple(out), not_done, beyond)


def _completion(rng: random.Random, v: PlannedVisit, calendar: WorkCalendar) -> dt.date | None:
    """A working day in the visit's window from its scheduled day; None when it cannot be done in the window."""
    on_time = rng.random() < ON_SCHEDULE_SHARE
    slip = rng.randint(1, SLIP_DAYS)
    first = calendar.next_working_day(v.scheduled_on) if v.scheduled_on <= v.due_on else v.scheduled_on
    if first > v.due_on:
        return None
    return first if on_time else add_capped(calendar, first, slip, v.due_on)


def add_capped(calendar: WorkCalendar, day: dt.date, n: int, cap: dt.date) -> dt.date:
    """The n-th working day after `day`, or the last working day up to `cap` if that comes first (`day` itself when
    none): never a day the calendar would have to know beyond `cap`."""
    found, at = day, day
    for _ in range(n):
        at += dt.timedelta(days=1)
        while at <= cap and not calendar.is_working_day(at):
            at += dt.timedelta(days=1)
        if at > cap:
            break
        found = at
    return found


def _filing(rng: random.Random, completed: dt.date | None, calendar: WorkCalendar, limits: Limits) -> dt.date:
    late = rng.random() < LATE_FILING_SHARE
    days = rng.randint(*LATE_FILING_DAYS) if late else rng.randint(*FILING_DAYS)
    if completed is None:
        return limits.year_end
    # The year-end sweep: whatever is still out on the period's last working day is recorded then.
    return add_capped(calendar, completed, days, limits.year_end)


def _item(
    rng: random.Random,
    code: str,
    domain: str,
    klass: str,
    completed: dt.date | None,
    filed: dt.date,
    calendar: WorkCalendar,
    limits: Limits,
) -> SimItem:
    u_find, u_other, u_mix, u_text = rng.random(), rng.random(), rng.random(), rng.random()
    deadline_days = rng.choice(DEADLINE_DAYS)
    report_days = rng.randint(*REPORT_DAYS)
    reports = rng.random() < 0.7  # [synthetic] share of orders whose report comes in before the sheet is filed
    chance = min(MAX_CHANCE, FINDING_SHARE.get(domain, OTHER_FINDING_SHARE) * CLASS_FACTOR.get(klass, 1.0))
    if completed is None:
        return SimItem(code, ("1",))
    if u_find >= chance:
        closed = u_other < CLOSED_SHARE
        idle = CLOSED_SHARE <= u_other < CLOSED_SHARE + NO_ACTIVITY_SHARE.get(domain, NO_ACTIVITY_DEFAULT)
        return SimItem(code, ("7",) if closed else ("F",) if idle else ("1",))
    mix = FINDING_MIX.get(domain, OTHER_MIX)
    codes, measure, _ = _pick(mix, u_mix)
    texts = FINDINGS_TEXT.get(codes[0], ("发现问题",))
    findings = SYNTHETIC_MARK + texts[int(u_text * len(texts))]
    deadline = report = None
    if measure in (MeasureKind.RECTIFY, MeasureKind.DIRECTIVE, MeasureKind.ORDER_PUBLISH):
        deadline = add_capped(calendar, completed, deadline_days, max(limits.last_order_day, completed))
    if measure in (MeasureKind.RECTIFY, MeasureKind.DIRECTIVE) and reports:
        received = add_capped(calendar, completed, report_days, limits.year_end)
        # Recorded only if it came in before the sheet was filed, and while its re-check window is covered.
        report = received if received <= min(filed, limits.last_order_day) else None
    return SimItem(code, codes, findings, measure, deadline, report)


def _pick(
    mix: Sequence[tuple[tuple[str, ...], MeasureKind | None, float]], u: float
) -> tuple[tuple[str, ...], MeasureKind | None, float]:
    total = sum(share for _, _, share in mix)
    at = 0.0
    for entry in mix:
        at += entry[2] / total
        if u < at:
            return entry
    return mix[-1]
