"""The inspector's pages (我的任务): my week and month by township, my overdue visits, a visit's subject page with why
it is on my list, and the result form. Phone first; every page reads engine.my_visits, the form records through
web.result_form (the engine function `suijian results record` calls), as the signed-in account.
"""

from __future__ import annotations

import datetime as dt
import threading
import urllib.parse
from collections import OrderedDict
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from engine import my_visits, plan_visits
from engine.results.codes import default_codes
from entities.errors import Forbidden, InputError
from entities.identity import Role
from entities.models import InspectorCreate
from web import result_form
from web.auth import Account, allow, identity_of
from web.db import get_conn, now
from web.templating import render

router = APIRouter()
V = TypeVar("V")
NAV: list[tuple[str, str]] = [
    ("我的任务", "/inspector/week"),
    ("按月", "/inspector/month"),
    ("超期未检", "/inspector/overdue"),
]

Inspector = Annotated[Account, Depends(allow(Role.INSPECTOR))]
Viewer = Annotated[Account, Depends(allow(Role.INSPECTOR, Role.SUPERVISOR))]  # a supervisor may look, not record
Conn = Annotated[Connection, Depends(get_conn)]
WEEKDAYS = "一二三四五六日"
CHINA = dt.timezone(dt.timedelta(hours=8))


def today() -> dt.date:
    """The inspector's calendar day (China Standard Time): which week "this week" is and the date a result is
    recorded on, as the CLI's `--recorded-on` default is the day it runs."""
    return now().replace(tzinfo=dt.UTC).astimezone(CHINA).date()


def weekday(day: dt.date) -> str:
    return "周" + WEEKDAYS[day.weekday()]


def _helpers() -> dict[str, Any]:
    return {"weekday": weekday, "week_of": my_visits.week_of}


# ── my list ──────────────────────────────────────────────────────────────────────────────────────────────────────────
@router.get("/inspector", include_in_schema=False)
def home(account: Inspector) -> Response:
    return RedirectResponse("/inspector/week", status_code=303)


@router.get("/inspector/week", response_class=HTMLResponse)
def week_page(
    request: Request, account: Inspector, conn: Conn, week: str | None = None, plan: str | None = None
) -> HTMLResponse:
    return _list_page(request, account, conn, "week", week, plan)


@router.get("/inspector/month", response_class=HTMLResponse)
def month_page(
    request: Request, account: Inspector, conn: Conn, month: str | None = None, plan: str | None = None
) -> HTMLResponse:
    return _list_page(request, account, conn, "month", month, plan)


def _list_page(
    request: Request, account: Account, conn: Connection, mode: str, label: str | None, plan: str | None
) -> HTMLResponse:
    """My week (mode "week", label 2026-W02) or month ("month", 2026-01); no label: the week or month to open on."""
    me = my_visits.inspector_of(conn, account.name)
    day = today()
    if label is None:
        opening = my_visits.default_week(conn, me, day, plan, index=MINE.get(conn, me, plan))
        label = opening if mode == "week" else my_visits.window_of(week=opening)[1][0].strftime("%Y-%m")
    week, month = (label, None) if mode == "week" else (None, label)
    mine = my_visits.my_list(conn, me, week=week, month=month, plan_id=plan, index=MINE.get(conn, me, plan))
    first = my_visits.window_of(week, month)[1][0]
    if mode == "week":
        heading = f"{first.isocalendar()[0]} 年第 {first.isocalendar()[1]} 周"
        previous, following = my_visits.shift_week(label, -1), my_visits.shift_week(label, 1)
    else:
        heading = f"{first.year} 年 {first.month} 月"
        previous, following = my_visits.shift_month(label, -1), my_visits.shift_month(label, 1)
    return render(
        request,
        "inspector/week.html",
        account=account,
        mine=mine,
        mode=mode,
        heading=heading,
        previous=previous,
        following=following,
        today=day,
        **_helpers(),
    )


@router.get("/inspector/overdue", response_class=HTMLResponse)
def overdue_page(request: Request, account: Inspector, conn: Conn, plan: str | None = None) -> HTMLResponse:
    me = my_visits.inspector_of(conn, account.name)
    day = today()
    late = my_visits.overdue(conn, me, day, plan, index=MINE.get(conn, me, plan))
    plan_id = late[0].plan_id if late else plan_visits.plan_row(conn, plan)[0]
    return render(
        request, "inspector/overdue.html", account=account, late=late, today=day, plan_id=plan_id, **_helpers()
    )


# ── one visit ────────────────────────────────────────────────────────────────────────────────────────────────────────
def visit_for(conn: Connection, account: Account, plan_id: str, visit_id: str) -> my_visits.VisitPage:
    """The visit's page as `account` may see it: an inspector only the visits whose team they are on."""
    me = plan_visits.inspector_by_user(conn, account.name) if account.role is Role.INSPECTOR else None
    if account.role is Role.INSPECTOR and me is None:
        my_visits.inspector_of(conn, account.name)  # raises the one line naming the missing link
    page = my_visits.visit_page(conn, plan_id, visit_id, me.id if me else None)
    if account.role is Role.INSPECTOR and not page.mine:
        raise Forbidden(f"检查 {visit_id} 不在您的任务中：只有检查组成员可以查看和登记")
    return page


@router.get("/inspector/visits/{plan_id}/{visit_id}", response_class=HTMLResponse)
def subject_page(request: Request, account: Viewer, conn: Conn, plan_id: str, visit_id: str) -> HTMLResponse:
    page = visit_for(conn, account, plan_id, visit_id)
    codes = default_codes()
    return render(
        request,
        "inspector/subject.html",
        account=account,
        page=page,
        v=page.visit,
        summary=result_form.recorded_summary(page.result),
        item_names={i.code: i.name for i in page.visit.items},
        code_label=codes.label,
        saved=request.query_params.get("saved"),
        today=today(),
        **_helpers(),
    )


class Kept(Generic[V]):
    """The last `size` values by key, the least recently used dropped first; safe across the server's threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, ...], V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: tuple[str, ...], value: V) -> V:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value


class IndexCache:
    """Which visits of a plan are an inspector's (engine.my_visits.MyIndex) takes a read of all the plan's rows; it
    is kept per (store, plan, inspector) and made again when the plan's row count changes (re-checks add rows), so
    a week page reads only that week's rows."""

    def __init__(self, size: int = 4096) -> None:
        self._kept: Kept[my_visits.MyIndex] = Kept(size)

    def get(self, conn: Connection, inspector: InspectorCreate, plan: str | None) -> my_visits.MyIndex:
        plan_id, _ = plan_visits.plan_row(conn, plan)
        key = (str(conn.engine.url), plan_id, inspector.id)
        kept = self._kept.get(key)
        if kept is not None and kept.rows == plan_visits.count_visit_rows(conn, plan_id):
            return kept
        return self._kept.put(key, my_visits.my_index(conn, plan_id, inspector.id))


MINE = IndexCache()


class WhyCache:
    """Why a subject is in a committed plan never changes (the plan and its inputs are in the ledger), so each
    (store, plan, subject) is recomputed once per process: the page's second visit does not replay the plan again."""

    def __init__(self, size: int = 512) -> None:
        self._kept: Kept[my_visits.Why] = Kept(size)

    def get(self, conn: Connection, plan_id: str, uscc: str, items: list[str]) -> my_visits.Why:
        key = (str(conn.engine.url), plan_id, uscc)
        kept = self._kept.get(key)
        if kept is not None:
            return kept
        return self._kept.put(key, my_visits.why_listed(conn, plan_id, uscc, items))


WHY = WhyCache()


@router.get("/inspector/visits/{plan_id}/{visit_id}/why", response_class=HTMLResponse)
def why_fragment(request: Request, account: Viewer, conn: Conn, plan_id: str, visit_id: str) -> HTMLResponse:
    page = visit_for(conn, account, plan_id, visit_id)
    items = [i.code for i in page.visit.items]
    if not request.headers.get("hx-request"):
        why = WHY.get(conn, plan_id, page.visit.uscc, items)  # a whole page: a problem is the app's error page
        return render(request, "inspector/why_page.html", account=account, why=why, v=page.visit, visit_items=items)
    try:
        why = WHY.get(conn, plan_id, page.visit.uscc, items)
    except InputError as exc:
        # htmx swaps only a 2xx answer: the section says what went wrong instead of waiting for ever.
        return render(request, "inspector/_why_error.html", account=account, message=str(exc))
    return render(request, "inspector/_why.html", account=account, why=why, v=page.visit, visit_items=items)


# ── the result form ──────────────────────────────────────────────────────────────────────────────────────────────────
def _form(
    request: Request,
    account: Account,
    page: my_visits.VisitPage,
    filled: result_form.Filled,
    errors: dict[str, list[str]],
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "inspector/result_form.html",
        account=account,
        page=page,
        v=page.visit,
        filled=filled,
        errors=errors,
        choices=my_visits.form_choices(),
        today=today(),
        status_code=status_code,
    )


def _prefilled(page: my_visits.VisitPage) -> result_form.Filled:
    """The form as the version in force left it (a correction starts from what is recorded), else the visit's day."""
    r = page.result
    if r is None:
        day = page.visit.scheduled_on
        return result_form.Filled(
            completed=day.isoformat() if day and day <= today() else "", codes={i.code: [] for i in page.visit.items}
        )
    measures = sorted({m.kind.value for i in r.items for m in i.measures})
    deadline = next((m.deadline for i in r.items for m in i.measures if m.deadline), None)
    report = next((i.rectification_report_on for i in r.items if i.rectification_report_on), None)
    return result_form.Filled(
        completed=r.completed_on.isoformat(),
        codes={i.item_code: list(i.result_codes) for i in r.items},
        findings=next((i.findings for i in r.items if i.findings), ""),
        measures=measures,
        deadline=deadline.isoformat() if deadline else "",
        report_received=report.isoformat() if report else "",
    )


@router.get("/inspector/visits/{plan_id}/{visit_id}/result", response_class=HTMLResponse)
def result_page(request: Request, account: Inspector, conn: Conn, plan_id: str, visit_id: str) -> HTMLResponse:
    page = visit_for(conn, account, plan_id, visit_id)
    return _form(request, account, page, _prefilled(page), {})


@router.post("/inspector/visits/{plan_id}/{visit_id}/result", response_class=HTMLResponse)
async def record_result(request: Request, account: Inspector, conn: Conn, plan_id: str, visit_id: str) -> Response:
    form = await request.form()
    fields = {k: [str(v) for v in form.getlist(k)] for k in form}
    return await _record(request, account, conn, plan_id, visit_id, fields)


async def _record(
    request: Request, account: Account, conn: Connection, plan_id: str, visit_id: str, fields: dict[str, list[str]]
) -> Response:
    def work() -> tuple[my_visits.VisitPage, result_form.Filled, result_form.Outcome | None, dict[str, list[str]]]:
        page = visit_for(conn, account, plan_id, visit_id)
        filled = result_form.filled_from(fields, [i.code for i in page.visit.items])
        outcome, errors = result_form.record(
            conn, page.visit, filled, actor=identity_of(account), today=today(), created_at=now()
        )
        if outcome is None:
            conn.rollback()
        else:
            conn.commit()  # before the redirect: the page the browser asks for next sees the result
        return page, filled, outcome, errors

    page, filled, outcome, errors = await run_in_threadpool(work)
    if outcome is None:
        return _form(request, account, page, filled, errors, status_code=422)
    target = "/inspector/visits/" + "/".join(urllib.parse.quote(p, safe="") for p in (plan_id, visit_id))
    return RedirectResponse(target + ("?saved=same" if outcome.unchanged else "?saved=1"), status_code=303)
