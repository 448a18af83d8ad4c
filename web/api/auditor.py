"""The auditor's JSON API (/api/audit/…): the same read models and jobs as the pages (web.pages.auditor), in the
CLI's envelope. Verify and replay answer 202 with the job's id; `GET /api/jobs/{id}` follows it to its result.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from engine import audit as engine_audit
from engine import audit_trail, planning
from engine.ledger import browse, runs
from web import auditing, jobs
from web.auth import Account, Refused, allow
from web.db import get_conn

router = APIRouter()
READ = allow(*auditing.READERS)


@router.get("/api/audit/ledger", summary="决策台账：条目列表（最新在前，可按类型、操作人、日期筛选，分页）")
def ledger(
    kind: str | None = None,
    user: str | None = None,
    since: str | None = None,
    until: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
    account: Account = Depends(READ),
    conn: Connection = Depends(get_conn),
) -> dict[str, Any]:
    flt = browse.parse_filter(kind, user, since, until)
    number, size = browse.parse_page(page, per_page)
    found = browse.ledger_page(conn, flt, number, size)
    return {"ok": True, "filter": flt.as_dict(), **found.as_dict()}


@router.get("/api/audit/ledger/{key}", summary="台账条目（按序号或运行编号）")
def entry(key: str, account: Account = Depends(READ), conn: Connection = Depends(get_conn)) -> dict[str, Any]:
    found = browse.entry_detail(conn, key)
    if found is None:
        raise Refused(404, "not_found", f"台账中没有序号或运行编号为“{key[:80]}”的条目")
    return {"ok": True, "entry": found.as_dict()}


@router.get("/api/audit/redraws", summary="重抽、更换的种子承诺与预览")
def redraws(account: Account = Depends(READ), conn: Connection = Depends(get_conn)) -> dict[str, Any]:
    found = engine_audit.redraws(conn)
    return {"ok": True, "redraws": [r.as_dict() for r in found], "scopes": engine_audit.first_draws(conn)}


@router.get("/api/audit/plans", summary="抽查计划列表（最新在前）")
def plans(account: Account = Depends(READ), conn: Connection = Depends(get_conn)) -> dict[str, Any]:
    return {"ok": True, "plans": [p.as_dict() for p in audit_trail.plan_lines(conn)]}


@router.get("/api/audit/trail/{plan_id}", summary="抽查轨迹：抽中 → 检查 → 结果 → 公示（可按主体查找，分页）")
def trail(
    plan_id: str,
    q: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
    account: Account = Depends(READ),
    conn: Connection = Depends(get_conn),
) -> dict[str, Any]:
    if runs.plan_sha256(conn, plan_id) is None:
        raise Refused(404, "not_found", f"没有编号为“{plan_id[:60]}”的抽查计划")
    query = audit_trail.check_query(q)
    number, size = browse.parse_page(page, per_page)
    found = audit_trail.plan_trail(conn, plan_id, planning.work_calendar(()), query, number, size)
    return {"ok": True, **found.as_dict()}


class VerifyRequest(BaseModel):
    head: str | None = Field(default=None, description="已公布的链头哈希（可选，64 位十六进制）")


class ReplayRequest(BaseModel):
    run_id: str = Field(description="分级运行 G… 或抽查计划 P…")


def _started(job_id: str) -> JSONResponse:
    return JSONResponse(
        {"ok": True, "job": job_id, "url": f"/api/jobs/{job_id}", "page": f"/audit/jobs/{job_id}"}, status_code=202
    )


@router.post("/api/audit/verify", summary="开始核验台账（后台任务；202 与任务编号）", status_code=202)
def verify(request: Request, body: VerifyRequest | None = None, account: Account = Depends(READ)) -> JSONResponse:
    head = auditing.check_head(body.head if body is not None else None)
    return _started(auditing.start_verify(jobs.store_url(request), account, head))


@router.post("/api/audit/replay", summary="开始回放一次运行（后台任务；202 与任务编号）", status_code=202)
def replay(
    request: Request, body: ReplayRequest, account: Account = Depends(READ), conn: Connection = Depends(get_conn)
) -> JSONResponse:
    run_id = auditing.check_run(conn, body.run_id)
    return _started(auditing.start_replay(jobs.store_url(request), account, run_id))
