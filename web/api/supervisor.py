"""The supervisor's JSON API: the same operations as the pages (web.pages.supervisor, supervisor_packs), the same
engine calls, supervisors only, answers in the CLI's envelope ({"ok": true, …}; errors {"ok": false, "error": …}).
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from engine import dashboard
from engine.plan.calendar import WorkCalendar
from entities.identity import Role
from web.api import supervisor_packs
from web.auth import Account, allow
from web.db import get_conn
from web.pages import supervisor as pages

router = APIRouter()
router.include_router(supervisor_packs.router)
SUPERVISOR = allow(Role.SUPERVISOR)


@router.get("/api/supervisor/dashboard", summary="工作台数据")
def dashboard_api(
    as_of: str | None = None,
    plan: str | None = None,
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> dict[str, Any]:
    """Plan coverage, capacity use, shortfalls, results due and overdue, follow-ups waiting (all due rows)."""
    board = dashboard.cached_dashboard(conn, WorkCalendar(), pages.as_of_param(as_of), plan or None)
    return {"ok": True, **board}


class Decision(BaseModel):
    decision: str = Field(description="confirm | reject")
    reason: str = ""
    on: str = Field("", description="YYYY-MM-DD (default today)")


@router.post("/api/supervisor/followups/{proposal_id}/decide", summary="决定后续处置")
def decide_api(
    proposal_id: str, body: Decision, account: Account = Depends(SUPERVISOR), conn: Connection = Depends(get_conn)
) -> dict[str, Any]:
    done = pages.decide(conn, account, proposal_id, body.decision, body.reason, body.on)
    return {"ok": True, **{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in done.items()}}


class SeedCommitment(BaseModel):
    period: str
    seed_sha256: str
    regions: list[str] = []
    reason: str = ""


@router.post("/api/supervisor/plan/commit-seed", summary="承诺随机种子")
def commit_seed_api(
    body: SeedCommitment, account: Account = Depends(SUPERVISOR), conn: Connection = Depends(get_conn)
) -> dict[str, Any]:
    return {
        "ok": True,
        **pages.commit_seed(conn, account, body.period, body.seed_sha256, ",".join(body.regions), body.reason),
    }


class Draw(BaseModel):
    period: str
    seed: str
    as_of: str
    regions: list[str] = []
    redraw_reason: str = ""


@router.post("/api/supervisor/plan/draw", summary="抽取并提交计划（后台任务）")
def draw_api(request: Request, body: Draw, account: Account = Depends(SUPERVISOR)) -> dict[str, Any]:
    """Starts the job; poll /api/jobs/{job} for its progress and result."""
    job_id = pages.start_draw(
        request, account, body.period, body.seed, body.as_of, ",".join(body.regions), body.redraw_reason
    )
    return {"ok": True, "job": job_id, "url": f"/api/jobs/{job_id}"}


class Publication(BaseModel):
    published_on: str = ""
    plan: str = ""


@router.post("/api/supervisor/publish/results", summary="公示检查结果")
def publish_results_api(
    body: Publication, account: Account = Depends(SUPERVISOR), conn: Connection = Depends(get_conn)
) -> dict[str, Any]:
    """Publish every unpublished result; the upload file comes back as base64 XLSX and CSV (null if nothing new)."""
    done = pages.publish_results(conn, account, body.published_on, body.plan)
    files = (
        {"xlsx_base64": base64.b64encode(done.xlsx).decode(), "csv_base64": base64.b64encode(done.csv).decode()}
        if done.id is not None
        else {"xlsx_base64": None, "csv_base64": None}
    )
    return {"ok": True, **done.as_dict(), **files}
