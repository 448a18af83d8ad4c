"""The auditor's pages (审计): the ledger and its entries, verify and replay as background jobs, the re-draws, and
per plan the trail drawn → visited → result → published.

Every page reads through the read models `suijian audit …` and `suijian replay` use (engine.ledger.browse,
engine.audit, engine.audit_trail, engine.replay); the two long checks run as jobs (web.auditing). Auditors and
supervisors may read all of it; starting a verify or a replay is a POST with the CSRF token, and records nothing.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Connection

from engine import audit as engine_audit
from engine import audit_trail, planning
from engine.ledger import browse, chain, runs
from entities.errors import InputError
from web import auditing, jobs
from web.auth import Account, Refused, allow
from web.db import get_conn, now
from web.templating import render

router = APIRouter()
NAV: list[tuple[str, str]] = [
    ("决策台账", "/audit/ledger"),
    ("核验", "/audit/verify"),
    ("回放", "/audit/replay"),
    ("重抽记录", "/audit/redraws"),
    ("抽查轨迹", "/audit/trail"),
]
READ = allow(*auditing.READERS)


def _page(request: Request, template: str, account: Account, status_code: int = 200, **ctx: Any) -> Response:
    return render(
        request,
        template,
        account=account,
        status_code=status_code,
        kind_labels=auditing.KIND_LABELS,
        problem_labels=auditing.PROBLEM_LABELS,
        role_label=auditing.role_label,
        **ctx,
    )


@router.get("/audit", summary="审计首页")
def home(account: Account = Depends(READ)) -> Response:
    return RedirectResponse("/audit/ledger", status_code=303)


@router.get("/audit/ledger", summary="决策台账")
def ledger(
    request: Request,
    kind: str | None = None,
    user: str | None = None,
    since: str | None = None,
    until: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
    account: Account = Depends(READ),
    conn: Connection = Depends(get_conn),
) -> Response:
    form = {"kind": kind or "", "user": user or "", "since": since or "", "until": until or ""}
    try:
        flt = browse.parse_filter(kind, user, since, until)
        number, size = browse.parse_page(page, per_page)
    except InputError as exc:
        return _page(
            request, "auditor/ledger.html", account, 400, form=form, error=str(exc), found=None, kinds=chain.KINDS
        )
    found = browse.ledger_page(conn, flt, number, size)
    query = {k: v for k, v in form.items() if v} | ({"per_page": str(size)} if per_page else {})
    return _page(
        request,
        "auditor/ledger.html",
        account,
        form=form,
        error=None,
        found=found,
        kinds=chain.KINDS,
        query=query,
        filtered=flt != browse.LedgerFilter(),
    )


@router.get("/audit/ledger/{key}", summary="台账条目")
def entry(
    request: Request, key: str, account: Account = Depends(READ), conn: Connection = Depends(get_conn)
) -> Response:
    found = browse.entry_detail(conn, key)
    if found is None:
        raise Refused(404, "not_found", f"台账中没有序号或运行编号为“{key[:80]}”的条目")
    details = json.dumps(found.field("details"), ensure_ascii=False, indent=2, sort_keys=True)
    return _page(
        request,
        "auditor/entry.html",
        account,
        entry=found,
        details=details,
        replayable=found.kind in auditing.REPLAYABLE_KINDS,
        plan_stored=found.kind == "plan" and runs.plan_sha256(conn, found.run_id) is not None,
    )


@router.get("/audit/verify", summary="核验台账")
def verify_page(request: Request, account: Account = Depends(READ), conn: Connection = Depends(get_conn)) -> Response:
    recent = auditing.recent_jobs(conn, auditing.VERIFY)
    return _page(
        request, "auditor/verify.html", account, recent=recent, head=chain.head(conn), error=None, form_head=""
    )


@router.post("/audit/verify", summary="开始核验台账（后台任务）")
def verify_start(
    request: Request,
    head: str = Form(""),
    account: Account = Depends(READ),
    conn: Connection = Depends(get_conn),
) -> Response:
    try:
        expected = auditing.check_head(head)
    except InputError as exc:
        recent = auditing.recent_jobs(conn, auditing.VERIFY)
        return _page(
            request,
            "auditor/verify.html",
            account,
            400,
            recent=recent,
            head=chain.head(conn),
            error=str(exc),
            form_head=head,
        )
    job_id = auditing.start_verify(jobs.store_url(request), account, expected)
    return RedirectResponse(f"/audit/jobs/{job_id}", status_code=303)


def _replay_context(conn: Connection) -> dict[str, Any]:
    """The replay form's surroundings: the newest replays, and the newest runs that can be replayed to pick from."""
    choices = [
        line
        for kind in auditing.REPLAYABLE_KINDS
        for line in browse.ledger_page(conn, browse.LedgerFilter(kind=kind), 1, 20).lines
    ]
    choices.sort(key=lambda line: line.seq, reverse=True)
    return {"recent": auditing.recent_jobs(conn, auditing.REPLAY), "runs": choices}


@router.get("/audit/replay", summary="回放运行")
def replay_page(
    request: Request, run: str | None = None, account: Account = Depends(READ), conn: Connection = Depends(get_conn)
) -> Response:
    return _page(request, "auditor/replay.html", account, **_replay_context(conn), form_run=run or "", error=None)


@router.post("/audit/replay", summary="开始回放（后台任务）")
def replay_start(
    request: Request,
    run: str = Form(""),
    account: Account = Depends(READ),
    conn: Connection = Depends(get_conn),
) -> Response:
    try:
        run_id = auditing.check_run(conn, run)
    except InputError as exc:
        return _page(
            request, "auditor/replay.html", account, 400, **_replay_context(conn), form_run=run, error=str(exc)
        )
    job_id = auditing.start_replay(jobs.store_url(request), account, run_id)
    return RedirectResponse(f"/audit/jobs/{job_id}", status_code=303)


def _job(conn: Connection, job_id: str) -> dict[str, Any]:
    job = auditing.audit_job(conn, job_id)
    if job is None:
        raise Refused(404, "not_found", f"没有编号为 {job_id[:60]} 的核验或回放任务")
    return job


@router.get("/audit/jobs/{job_id}", summary="核验或回放任务")
def job_page(
    request: Request, job_id: str, account: Account = Depends(READ), conn: Connection = Depends(get_conn)
) -> Response:
    return _page(request, "auditor/job.html", account, job=_job(conn, job_id), now=now())


@router.get("/audit/jobs/{job_id}/progress", summary="核验或回放任务（进度片段）")
def job_progress(
    request: Request, job_id: str, account: Account = Depends(READ), conn: Connection = Depends(get_conn)
) -> Response:
    return _page(request, "auditor/_job.html", account, job=_job(conn, job_id), now=now())


@router.get("/audit/redraws", summary="重抽记录")
def redraws(request: Request, account: Account = Depends(READ), conn: Connection = Depends(get_conn)) -> Response:
    return _page(
        request,
        "auditor/redraws.html",
        account,
        redraws=engine_audit.redraws(conn),
        scopes=engine_audit.first_draws(conn),
    )


@router.get("/audit/trail", summary="抽查轨迹：计划列表")
def plans(request: Request, account: Account = Depends(READ), conn: Connection = Depends(get_conn)) -> Response:
    return _page(request, "auditor/plans.html", account, plans=audit_trail.plan_lines(conn))


@router.get("/audit/trail/{plan_id}", summary="抽查轨迹：抽中 → 检查 → 结果 → 公示")
def trail(
    request: Request,
    plan_id: str,
    q: str | None = None,
    page: str | None = None,
    account: Account = Depends(READ),
    conn: Connection = Depends(get_conn),
) -> Response:
    if runs.plan_sha256(conn, plan_id) is None:
        raise Refused(404, "not_found", f"没有编号为“{plan_id[:60]}”的抽查计划")
    try:
        query = audit_trail.check_query(q)
        number, per_page = browse.parse_page(page)
    except InputError as exc:
        return _page(
            request, "auditor/trail.html", account, 400, plan_id=plan_id, q=q or "", error=str(exc), found=None
        )
    found = audit_trail.plan_trail(conn, plan_id, planning.work_calendar(()), query, number, per_page)
    return _page(request, "auditor/trail.html", account, plan_id=plan_id, q=q or "", error=None, found=found)
