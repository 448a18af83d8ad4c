"""Long work off the request: `submit(...)` runs `work(progress)` in a background thread and keeps its status and
progress in the store's `job` table; `/jobs/{id}` shows it and polls with htmx while it runs.

    job_id = jobs.submit(jobs.store_url(request), "plan:2026", "plan", account, lambda progress: draw(..., progress))

One job per scope at a time: the `running_scope` column is unique while a job runs, so a second submit of the same
scope is refused with Busy — on SQLite and PostgreSQL, across processes. `work` returns a dict of what to show (all
values JSON-serialisable; a "url" member becomes a link to the result); a SuijianError it raises becomes the job's one
Chinese-or-English line (str(error)), anything else "任务出错" with the exception's class, logged with its traceback.
Jobs that were running when the server stopped are marked failed when the app starts again.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine
from starlette.concurrency import run_in_threadpool

from engine.progress import Progress
from entities import store
from entities.errors import SuijianError
from entities.identity import Role
from web.auth import Account, Refused, allow
from web.db import engine_of, now
from web.templating import render

log = logging.getLogger("suijian.web.jobs")
router = APIRouter()

INTERVAL = 0.5  # seconds between progress writes: a job reporting every row must not turn into a write per row
STATUS_LABELS = {"running": "进行中", "done": "已完成", "failed": "失败"}


class Busy(SuijianError):
    """A job of the same scope is running (the web app answers 409 with its id)."""

    code = "busy"

    def __init__(self, scope: str, running: str | None) -> None:
        self.scope = scope
        self.running = running
        super().__init__(f"同一范围（{scope}）的任务正在运行（{running or '未知'}），请等它结束后再试")


def store_url(request: Request) -> str:
    """The URL of the app's store, with its password, for submit()."""
    return engine_of(request).url.render_as_string(hide_password=False)


def submit(conn_url: str, scope: str, kind: str, account: Account, work: Callable[[Progress], dict[str, Any]]) -> str:
    """Start `work` in a background thread; returns the job id, or raises Busy while a job of `scope` runs."""
    engine = store.make_engine(conn_url)
    job_id = f"J-{secrets.token_hex(8)}"
    t = store.table("job")
    try:
        with engine.begin() as conn:
            conn.execute(
                t.insert().values(
                    id=job_id,
                    scope=scope,
                    running_scope=scope,
                    kind=kind,
                    account=account.name,
                    status="running",
                    step="",
                    done=0,
                    total=None,
                    started_at=now(),
                )
            )
    except sa.exc.IntegrityError:
        with engine.connect() as conn:
            running = conn.execute(sa.select(t.c.id).where(t.c.running_scope == scope)).scalar()
        engine.dispose()
        raise Busy(scope, running) from None
    thread = threading.Thread(target=_run, args=(engine, job_id, work), name=f"suijian-job-{job_id}", daemon=True)
    thread.start()
    return job_id


def _run(engine: Engine, job_id: str, work: Callable[[Progress], dict[str, Any]]) -> None:
    t = store.table("job")
    last = {"step": None, "at": 0.0}

    def progress(step: str, done: int, total: int | None) -> None:
        moment = time.monotonic()
        if step == last["step"] and moment - float(last["at"] or 0.0) < INTERVAL and (total is None or done < total):
            return
        last.update(step=step, at=moment)
        with engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == job_id).values(step=step[:200], done=done, total=total))

    try:
        outcome: dict[str, Any] = {
            "status": "done",
            "result": json.dumps(work(progress), ensure_ascii=False, default=str),
        }
    except SuijianError as exc:
        outcome = {"status": "failed", "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    except Exception as exc:  # noqa: BLE001 - a job's failure is shown on its page, never lost in a thread
        log.exception("job %s failed", job_id)
        outcome = {"status": "failed", "error": f"任务出错（{type(exc).__name__}），已记录；请联系管理员"}
    try:
        with engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == job_id).values(running_scope=None, finished_at=now(), **outcome))
    finally:
        engine.dispose()


def interrupted(conn: Connection) -> int:
    """Mark the jobs left running by a server that stopped as failed (at app start); how many there were."""
    t = store.table("job")
    result = conn.execute(
        t.update()
        .where(t.c.status == "running")
        .values(status="failed", running_scope=None, finished_at=now(), error="服务重启，任务被中断；请重新提交")
    )
    return int(result.rowcount or 0)


def read(conn: Connection, job_id: str) -> dict[str, Any] | None:
    t = store.table("job")
    row = conn.execute(sa.select(t).where(t.c.id == job_id)).mappings().first()
    if row is None:
        return None
    job = dict(row)
    job["result"] = json.loads(job["result"]) if job["result"] else None
    job["status_label"] = STATUS_LABELS.get(job["status"], job["status"])
    job["percent"] = int(100 * job["done"] / job["total"]) if job["total"] else None
    return job


def _visible(request: Request, job_id: str, account: Account) -> dict[str, Any]:
    with engine_of(request).connect() as conn:
        job = read(conn, job_id)
    if job is None:
        raise Refused(404, "not_found", f"没有编号为 {job_id} 的任务")
    if job["account"] != account.name and account.role not in (Role.SUPERVISOR, Role.AUDITOR):
        raise Refused(403, "forbidden", "只能查看自己提交的任务")
    return job


@router.get("/jobs/{job_id}", summary="任务进度")
async def job_page(request: Request, job_id: str, account: Account = Depends(allow())) -> Response:
    job = await run_in_threadpool(_visible, request, job_id, account)
    return render(request, "jobs/job.html", account=account, job=job)


@router.get("/jobs/{job_id}/progress", summary="任务进度（片段）")
async def job_progress(request: Request, job_id: str, account: Account = Depends(allow())) -> Response:
    job = await run_in_threadpool(_visible, request, job_id, account)
    return render(request, "jobs/_progress.html", account=account, job=job)


@router.get("/api/jobs/{job_id}", summary="任务状态")
async def job_api(request: Request, job_id: str, account: Account = Depends(allow())) -> dict[str, Any]:
    job = await run_in_threadpool(_visible, request, job_id, account)
    shown = {
        k: job[k] for k in ("id", "scope", "kind", "account", "status", "step", "done", "total", "result", "error")
    }
    shown["started_at"] = job["started_at"].isoformat()
    shown["finished_at"] = job["finished_at"].isoformat() if job["finished_at"] else None
    return {"ok": True, "job": shown}
