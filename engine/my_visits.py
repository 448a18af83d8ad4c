"""What an inspector reads about their own work (我的任务): my visits of a week or a month by township, my overdue
visits, one visit's page (the subject, the items with their check contents and legal basis, the team, the result
recorded), and the choices of the result form.

Read models for the web app's inspector pages and API, pure functions of a connection and their arguments (the
day "today" included: nothing here reads the clock). The rows are `tasks mine`'s (engine.plan_visits), the why of
a subject is `explain --run`'s (engine.replay.explain_run): nothing here decides anything again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine import plan_visits
from engine.explain import DecisionTrace, RuleTrace
from engine.plan.calendar import week_label
from engine.plan.visit_rows import month_window, week_window
from engine.replay.explain_run import ItemFate, RunExplanation, explain_run
from engine.results import records
from engine.results.codes import ResultCodes, default_codes, sort_by_form
from engine.results.model import NEEDS_DEADLINE, MeasureKind, VisitResult
from entities import store
from entities.errors import InputError
from entities.models import InspectorCreate


@dataclass(frozen=True)
class ItemInfo:
    """A check item as the inspector reads it before going out."""

    code: str
    name: str
    contents: tuple[str, ...]
    legal_basis: str
    method: str


@dataclass(frozen=True)
class MyVisit:
    """One visit of my list: when, where, whom, what, with whom, by when, and whether its result is recorded."""

    plan_id: str
    visit_id: str
    uscc: str
    subject: str
    address: str
    region: str
    township: str
    scheduled_on: dt.date | None
    due_on: dt.date | None
    items: tuple[ItemInfo, ...]
    team: tuple[tuple[str, str], ...]  # (inspector id, name), the lead first as the plan lists it
    lead: str
    status: str  # planned | done (a result is recorded)

    @property
    def done(self) -> bool:
        return self.status == "done"

    def overdue(self, today: dt.date) -> bool:
        return not self.done and self.due_on is not None and self.due_on < today

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan_id,
            "visit": self.visit_id,
            "uscc": self.uscc,
            "subject": self.subject,
            "address": self.address,
            "region": self.region,
            "township": self.township,
            "scheduled_on": self.scheduled_on.isoformat() if self.scheduled_on else None,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "items": [
                {"code": i.code, "name": i.name, "contents": list(i.contents), "legal_basis": i.legal_basis}
                for i in self.items
            ],
            "team": [{"id": p, "name": n} for p, n in self.team],
            "lead": self.lead,
            "status": self.status,
        }


@dataclass(frozen=True)
class Township:
    """My visits in one township (街镇), in date order: the unit an inspector plans a day's route by."""

    code: str
    name: str
    visits: tuple[MyVisit, ...]


@dataclass(frozen=True)
class MyList:
    """My visits in a window (a week, a month, or the whole plan), grouped by township in order of the first visit."""

    inspector: InspectorCreate
    plan_id: str
    label: str  # 2026-W02, 2026-01, or "" for the whole plan
    window: tuple[dt.date, dt.date] | None
    townships: tuple[Township, ...]
    next_day: dt.date | None  # my first scheduled visit after the window, so an empty week says where work is

    @property
    def visits(self) -> list[MyVisit]:
        return [v for t in self.townships for v in t.visits]


# ── who ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
def inspector_of(conn: Connection, user: str) -> InspectorCreate:
    """The inspector whose 登录账号 is `user` (the one person ↔ inspector link `tasks mine` uses)."""
    found = plan_visits.inspector_by_user(conn, user)
    if found is None:
        raise InputError(f"账号 {user} 没有关联执法检查人员：请在执法检查人员名录库中为本人填写登录账号 {user}")
    return found


# ── windows ─────────────────────────────────────────────────────────────────────────────────────────────────────────
def week_of(day: dt.date) -> str:
    return week_label(day)


def window_of(week: str | None = None, month: str | None = None) -> tuple[str, tuple[dt.date, dt.date]]:
    """(label, first and last day) of an ISO week ("2026-W02") or a month ("2026-01"); one Chinese line if malformed."""
    try:
        if week is not None:
            return week, week_window(week)
        if month is not None:
            return month, month_window(month)
    except InputError:
        what = (
            f"周 {week!r} 不是 2026-W02 这样的 ISO 周"
            if week is not None
            else f"月份 {month!r} 不是 2026-01 这样的月份"
        )
        raise InputError(what) from None
    raise InputError("请给出周（如 2026-W02）或月份（如 2026-01）")


def shift_week(label: str, weeks: int) -> str:
    return week_label(week_window(label)[0] + dt.timedelta(days=7 * weeks))


def shift_month(label: str, months: int) -> str:
    first = month_window(label)[0]
    index = first.year * 12 + first.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# ── reading ─────────────────────────────────────────────────────────────────────────────────────────────────────────
def items_info(conn: Connection, codes: Sequence[str]) -> dict[str, ItemInfo]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    t = store.table("check_item")
    stmt = sa.select(t.c.code, t.c.name, t.c.contents, t.c.legal_basis, t.c.method).where(t.c.code.in_(wanted))
    return {
        r.code: ItemInfo(r.code, r.name, tuple(r.contents or ()), r.legal_basis, str(r.method))
        for r in conn.execute(stmt)
    }


def _visits(conn: Connection, rows: list[dict[str, Any]]) -> list[MyVisit]:
    named = plan_visits.with_names(conn, rows)
    info = items_info(conn, [c for r in rows for c in r["items"]])
    return [
        MyVisit(
            plan_id=r["plan_id"],
            visit_id=r["visit_id"],
            uscc=r["uscc"],
            subject=r["subject"],
            address=r["address"] or "",
            region=r["region"],
            township=r["township"],
            scheduled_on=r["scheduled_on"],
            due_on=r["due_on"],
            items=tuple(
                info.get(c, ItemInfo(c, name, (), "", "")) for c, name in zip(r["items"], r["item_names"], strict=True)
            ),
            team=tuple(zip(r["team"], r["team_names"], strict=True)),
            lead=r["lead"],
            status=r["status"],
        )
        for r in named
    ]


def _by_township(visits: list[MyVisit]) -> tuple[Township, ...]:
    groups: dict[str, list[MyVisit]] = {}
    for v in visits:  # already in date order: a township's place is its first visit's
        groups.setdefault(v.region, []).append(v)
    return tuple(Township(code, vs[0].township, tuple(vs)) for code, vs in groups.items())


@dataclass(frozen=True)
class MyIndex:
    """Which visits of a plan are mine, with their days: what a week, a month or the overdue list is cut from.

    Finding them means reading every row of the plan (team membership is a JSON list, see
    engine.plan_visits.read_visit_rows); the rows themselves are then read by key. A plan's visits and teams do not
    change once committed, but re-checks add rows to it: `rows` (the plan's row count when this was made) tells a
    caller that keeps an index whether it is still whole."""

    plan_id: str
    inspector: str
    rows: int
    visits: tuple[tuple[str, dt.date | None, dt.date | None], ...]  # (visit id, scheduled on, due on)


def my_index(conn: Connection, plan_id: str, inspector_id: str) -> MyIndex:
    """My visits of the plan `plan_id` (its rows built first for a plan committed before 0006)."""
    plan_visits.ensure_visit_rows(conn, plan_id)
    count = plan_visits.count_visit_rows(conn, plan_id)
    rows = plan_visits.read_visit_rows(conn, plan_id, team_member=inspector_id)
    return MyIndex(plan_id, inspector_id, count, tuple((r["visit_id"], r["scheduled_on"], r["due_on"]) for r in rows))


def rows_by_id(conn: Connection, plan_id: str, visit_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of these visits of the plan, read by key, in read_visit_rows' order (day, due day, id)."""
    t = store.table(plan_visits.TABLE)
    rows: list[dict[str, Any]] = []
    wanted = sorted(set(visit_ids))
    for start in range(0, len(wanted), 900):
        chunk = wanted[start : start + 900]
        stmt = sa.select(t).where(t.c.plan_id == plan_id, t.c.visit_id.in_(chunk))
        rows.extend(dict(r) for r in conn.execute(stmt).mappings())
    rows.sort(key=lambda r: (r["scheduled_on"] is None, r["scheduled_on"] or r["due_on"], r["due_on"], r["visit_id"]))
    return rows


def _index(conn: Connection, inspector: InspectorCreate, plan_id: str | None, index: MyIndex | None) -> MyIndex:
    pid, _ = plan_visits.plan_row(conn, plan_id)
    if index is not None and index.plan_id == pid and index.inspector == inspector.id:
        return index
    return my_index(conn, pid, inspector.id)


def my_list(
    conn: Connection,
    inspector: InspectorCreate,
    *,
    week: str | None = None,
    month: str | None = None,
    plan_id: str | None = None,
    index: MyIndex | None = None,
) -> MyList:
    """My visits of the plan (the newest by default) in a week or a month (or all of them), by township.

    `index`: my visits of that plan as found before (my_index), so only the window's rows are read."""
    label, window = window_of(week, month) if week is not None or month is not None else ("", None)
    mine = _index(conn, inspector, plan_id, index)
    days = [(vid, day) for vid, day, _ in mine.visits]
    if window is not None and days and all(day is None for _, day in days):
        raise InputError(
            f"计划 {mine.plan_id} 没有排期（suijian.plan/1 格式的计划，检查没有排定日期），不能按周或按月列出；请查看整个计划"
        )
    chosen = [vid for vid, day in days if window is None or (day is not None and window[0] <= day <= window[1])]
    later = [day for _, day in days if window is not None and day is not None and day > window[1]]
    return MyList(
        inspector=inspector,
        plan_id=mine.plan_id,
        label=label,
        window=window,
        townships=_by_township(_visits(conn, rows_by_id(conn, mine.plan_id, chosen))),
        next_day=min(later) if later else None,
    )


def overdue(
    conn: Connection,
    inspector: InspectorCreate,
    today: dt.date,
    plan_id: str | None = None,
    index: MyIndex | None = None,
) -> list[MyVisit]:
    """My visits past their due date (截止日期) with no result recorded, the longest overdue first."""
    mine = _index(conn, inspector, plan_id, index)
    past = [vid for vid, _, due in mine.visits if due is not None and due < today]
    late = [r for r in rows_by_id(conn, mine.plan_id, past) if r["status"] == "planned"]
    late.sort(key=lambda r: (r["due_on"], r["scheduled_on"] or r["due_on"], r["visit_id"]))
    return _visits(conn, late)


@dataclass(frozen=True)
class VisitPage:
    """One visit of mine: the visit, the subject's registration facts, and the result recorded (version in force)."""

    visit: MyVisit
    mine: bool  # the inspector is on the visit's team (only then may they record its result)
    result: VisitResult | None
    versions: int


def visit_page(conn: Connection, plan_id: str, visit_id: str, inspector_id: str | None) -> VisitPage:
    """The page of one visit; one Chinese line when the plan or the visit does not exist."""
    plan_visits.plan_row(conn, plan_id)
    plan_visits.ensure_visit_rows(conn, plan_id)
    t = store.table(plan_visits.TABLE)
    row = conn.execute(sa.select(t).where(t.c.plan_id == plan_id, t.c.visit_id == visit_id)).mappings().first()
    if row is None:
        raise InputError(f"计划 {plan_id} 中没有检查编号为 {visit_id} 的检查")
    visit = _visits(conn, [dict(row)])[0]
    history = records.histories(conn, [(plan_id, visit_id)]).get((plan_id, visit_id))
    current = history.current if history is not None else None
    return VisitPage(
        visit=visit,
        mine=inspector_id is not None and inspector_id in row["team"],
        result=current,
        versions=len(history.versions) if history is not None else 0,
    )


# ── the result form ─────────────────────────────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class CodeChoice:
    code: str
    label: str
    finding: bool  # a code that found something: findings and measures belong with it


@dataclass(frozen=True)
class MeasureChoice:
    value: str
    label: str
    needs_deadline: bool


@dataclass(frozen=True)
class FormChoices:
    codes: tuple[CodeChoice, ...]
    measures: tuple[MeasureChoice, ...] = field(default=())


def form_choices(table: ResultCodes | None = None) -> FormChoices:
    """The result codes in the national form's order and the measures, as the result form offers them."""
    table = table if table is not None else default_codes()
    codes = tuple(CodeChoice(c.code, c.label_zh, c.code not in table.no_finding) for c in sort_by_form(table))
    measures = tuple(MeasureChoice(k.value, k.label, k in NEEDS_DEADLINE) for k in MeasureKind)
    return FormChoices(codes, measures)


# ── why a subject is on my list ─────────────────────────────────────────────────────────────────────────────────────
STATUS_ZH = {
    "drawn": "已抽中",
    "not_drawn": "未抽中",
    "excluded": "排除在抽取之外",
    "not_in_population": "不在该事项抽查对象范围",
    "outside_jurisdiction": "不在本计划辖区",
}


@dataclass(frozen=True)
class ItemWhy:
    """One check item of the visit: why the plan put it on the subject (drawn by ticket, or mandatory)."""

    fate: ItemFate
    status: str  # STATUS_ZH's words
    below_cutoff: bool | None  # ticket ≤ the stratum's cut-off (None: no ticket or nobody drawn)


@dataclass(frozen=True)
class Why:
    """`explain --run` for one subject of one plan, cut to what the inspector's page shows."""

    explanation: RunExplanation
    items: tuple[ItemWhy, ...]  # the visit's items first (in its order), then the other items that had a ticket
    fired: tuple[tuple[DecisionTrace, RuleTrace], ...]  # every rule that fired, in evaluation order

    @property
    def decisive(self) -> tuple[tuple[DecisionTrace, RuleTrace], ...]:
        """The fired rules of decisions that gave the subject something (a class, a frequency, tasks): the reasons
        shown first. A decision whose outputs are all empty, zero or no (不从事医疗器械…) is shown folded away."""
        return tuple((t, r) for t, r in self.fired if _gave_something(t))

    @property
    def rest(self) -> tuple[tuple[DecisionTrace, RuleTrace], ...]:
        return tuple((t, r) for t, r in self.fired if not _gave_something(t))


def _gave_something(trace: DecisionTrace) -> bool:
    return any(v not in (None, False, 0, 0.0, "", (), []) for v in trace.outputs.values())


def why_listed(conn: Connection, plan_id: str, uscc: str, visit_items: Sequence[str]) -> Why:
    """Why the subject is in the plan: the fired rules with reasons and basis, each item's ticket against its
    stratum's cut-off and the one-line check with the public consistent-sampler package (engine.replay's)."""
    x = explain_run(conn, plan_id, uscc)
    order = {c: n for n, c in enumerate(visit_items)}
    fates = [f for f in x.items if f.code in order or f.ticket is not None or f.mandatory]
    fates.sort(key=lambda f: (f.code not in order, order.get(f.code, 0), f.code))
    items = tuple(
        ItemWhy(
            f,
            STATUS_ZH.get(f.status, f.status),
            None if f.ticket is None or f.cutoff is None else f.ticket <= f.cutoff,
        )
        for f in fates
    )
    fired = tuple((t, r) for t in x.traces for r in t.fired)
    return Why(x, items, fired)


def default_week(
    conn: Connection,
    inspector: InspectorCreate,
    today: dt.date,
    plan_id: str | None = None,
    index: MyIndex | None = None,
) -> str:
    """The week "我的任务" opens on: this week while the plan still has visits of mine ahead (an empty week then says
    when the next one is); once all of them are behind, the week of my earliest visit without a result (else my last
    visit's), so the list of a past plan does not open on nothing."""
    this_week = week_label(today)
    mine = _index(conn, inspector, plan_id, index)
    days = [(vid, day) for vid, day, _ in mine.visits if day is not None]
    monday = week_window(this_week)[0]
    if not days or any(day >= monday for _, day in days):
        return this_week
    rows = rows_by_id(conn, mine.plan_id, [vid for vid, _ in days])
    open_ = [r["scheduled_on"] for r in rows if r["status"] != "done"]
    return week_label(min(open_) if open_ else max(day for _, day in days))
