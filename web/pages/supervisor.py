"""The supervisor's pages: the dashboard, follow-up decisions, committing a seed and drawing the plan (a job), the
公示 exports; rule packs in web.pages.supervisor_packs (included here). Every route admits supervisors only, and
each state change is the engine call the CLI makes, recorded in the ledger as the signed-in account.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Connection

from engine import dashboard, plan_announce, plan_commit, planning
from engine.ledger import chain, record
from engine.plan import announcement
from engine.plan.calendar import WorkCalendar
from engine.results import followup_store, followups, publishing
from entities.errors import InputError
from entities.identity import Role
from web import jobs
from web.auth import Account, allow, identity_of
from web.db import get_conn, now
from web.pages import supervisor_packs
from web.pages.supervisor_work import draw_work, parse_day
from web.templating import render

router = APIRouter()
router.include_router(supervisor_packs.router)
NAV: list[tuple[str, str]] = [
    ("工作台", "/supervisor/dashboard"),  # not /supervisor: base.html marks a link current for the paths under it
    ("后续处置", "/supervisor/followups"),
    ("抽查计划", "/supervisor/plan"),
    ("规则包", "/supervisor/packs"),
    ("公示导出", "/supervisor/exports"),
]
SUPERVISOR = allow(Role.SUPERVISOR)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def today() -> dt.date:
    """The default 'as of' of a page: today (the form lets the supervisor choose another day)."""
    return now().date()


def as_of_param(text: str | None) -> dt.date:
    return parse_day(text, "as_of") if text else today()


def see_other(path: str, notice: str | None = None) -> RedirectResponse:
    return RedirectResponse(path + (f"?notice={quote(notice)}" if notice else ""), status_code=303)


def attachment(data: bytes, filename: str, media_type: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.get("/supervisor", summary="监管负责人工作台")
@router.get("/supervisor/dashboard", summary="监管负责人工作台")
def dashboard_page(
    request: Request,
    as_of: str | None = None,
    plan: str | None = None,
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    day = as_of_param(as_of)
    board = dashboard.cached_dashboard(conn, WorkCalendar(), day, plan or None)
    return render(request, "supervisor/dashboard.html", account=account, board=board, shown_due=dashboard.SHOWN_DUE)


# ── follow-ups ───────────────────────────────────────────────────────────────────────────────────────────────


@router.get("/supervisor/followups", summary="待决定的后续处置")
def followups_page(
    request: Request,
    notice: str | None = None,
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    waiting = followup_store.listing(conn, open_only=True)
    rows = [{**r.proposal, "label": followups.ProposalKind(r.proposal["kind"]).label} for r in waiting]
    return render(
        request, "supervisor/followups.html", account=account, rows=rows, notice=notice, today=today().isoformat()
    )


def decide(conn: Connection, account: Account, proposal_id: str, decision: str, reason: str, on: str) -> dict:
    """`suijian followups decide`: one decision, recorded in the ledger as the account."""
    if decision not in ("confirm", "reject"):
        raise InputError("字段 decision：请选择“确认”或“不予采纳”")
    if decision == "reject" and not reason.strip():
        raise InputError("字段 reason：不予采纳须填写理由")
    return followup_store.decide(
        conn,
        proposal_id,
        followups.Decision(decision),
        actor=identity_of(account),
        decided_on=parse_day(on, "on") if on else today(),
        reason=reason.strip(),
        created_at=now(),
    )


@router.post("/supervisor/followups/decide", summary="决定后续处置")
def decide_form(
    proposal_id: Annotated[str, Form()],
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    on: Annotated[str, Form()] = "",
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    done = decide(conn, account, proposal_id, decision, reason, on)
    conn.commit()
    what = "已确认" if decision == "confirm" else "不予采纳"
    listed = "，已列入经营异常名录" if done.get("listed") else ""
    return see_other("/supervisor/followups", f"{proposal_id}：{what}{listed}")


# ── the plan: commit a seed, draw (a job) ────────────────────────────────────────────────────────────────────


@router.get("/supervisor/plan", summary="承诺随机种子、抽取计划")
def plan_page(
    request: Request,
    notice: str | None = None,
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    plans = [
        {"id": e.run_id, "created_at": e.created_at, "by": e.actor.get("user"), "scope": e.details.get("scope")}
        for e in chain.entries(conn, kinds=("plan",))
    ][-10:]
    return render(request, "supervisor/plan.html", account=account, plans=plans[::-1], notice=notice)


def commit_seed(conn: Connection, account: Account, period: str, digest: str, regions: str, reason: str) -> dict:
    """`suijian plan --commit-seed`: (the commitment's run id, whether new)."""
    actor = identity_of(account)
    clean = record.check_seed_hash(digest)
    scope = record.scope_of(split(regions) or None, None, planning.parse_period(period))
    entry, created = plan_commit.commit_seed(
        conn, digest=clean, scope=scope, actor=actor, created_at=now(), reason=reason.strip() or None
    )
    return {"commitment": entry.run_id, "new": created, "seed_sha256": clean, "scope": scope}


def split(text: str) -> list[str]:
    return [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]


@router.post("/supervisor/plan/commit-seed", summary="承诺随机种子")
def commit_seed_form(
    period: Annotated[str, Form()],
    seed_sha256: Annotated[str, Form()],
    regions: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    done = commit_seed(conn, account, period, seed_sha256, regions, reason)
    conn.commit()
    verb = "已承诺" if done["new"] else "此前已承诺"
    return see_other("/supervisor/plan", f"{verb}随机种子（{done['commitment']}）")


def start_draw(
    request: Request, account: Account, period: str, seed: str, as_of: str, regions: str, redraw_reason: str
) -> str:
    """Submit the draw as a background job; its id."""
    scope, work = draw_work(
        jobs.store_url(request),
        identity_of(account),
        seed=seed.strip(),
        period=period.strip(),
        as_of=parse_day(as_of, "as_of"),
        regions=split(regions),
        redraw_reason=redraw_reason.strip() or None,
    )
    return jobs.submit(jobs.store_url(request), scope, "plan", account, work)


@router.post("/supervisor/plan/draw", summary="抽取并提交计划（后台任务）")
def draw_form(
    request: Request,
    period: Annotated[str, Form()],
    seed: Annotated[str, Form()],
    as_of: Annotated[str, Form()],
    regions: Annotated[str, Form()] = "",
    redraw_reason: Annotated[str, Form()] = "",
    account: Account = Depends(SUPERVISOR),
) -> Response:
    job_id = start_draw(request, account, period, seed, as_of, regions, redraw_reason)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


# ── 公示 exports ─────────────────────────────────────────────────────────────────────────────────────────────


@router.get("/supervisor/exports", summary="公示导出")
def exports_page(
    request: Request,
    notice: str | None = None,
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    pending = publishing.due(conn, WorkCalendar(), today())
    return render(
        request,
        "supervisor/exports.html",
        account=account,
        notice=notice,
        pending=len(pending),
        overdue=sum(d.overdue for d in pending),
        today=today().isoformat(),
    )


def publish_results(conn: Connection, account: Account, published_on: str, plan: str) -> publishing.Published:
    """`suijian publish results`: every unpublished result, recorded in the store and the ledger."""
    return publishing.publish(
        conn,
        WorkCalendar(),
        published_on=parse_day(published_on, "published_on") if published_on else today(),
        actor=identity_of(account),
        created_at=now(),
        plan_id=plan.strip() or None,
    )


@router.post("/supervisor/exports/results", summary="公示检查结果（下载 XLSX）")
def publish_results_form(
    published_on: Annotated[str, Form()] = "",
    plan: Annotated[str, Form()] = "",
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    done = publish_results(conn, account, published_on, plan)
    conn.commit()
    if done.id is None:
        return see_other("/supervisor/exports", "没有待公示的检查结果；未生成文件")
    return attachment(done.xlsx, f"公示-{done.id}.xlsx", XLSX)


@router.get("/supervisor/exports/plan.xlsx", summary="抽查计划公示（下载 XLSX）")
def plan_export(
    plan: str | None = None,
    published_on: str | None = None,
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    day = parse_day(published_on, "published_on") if published_on else today()
    found = plan_announce.announcement_of(conn, plan or None)
    return attachment(announcement.to_xlsx(found.sheets, stamp=day), f"抽查计划公示-{found.plan_id}.xlsx", XLSX)
