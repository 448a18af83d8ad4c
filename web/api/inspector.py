"""The inspector's JSON API: my visits (a week, a month or the whole plan), my overdue visits, one visit with why
its subject is listed, and recording a result — the pages' operations, same read models and the same engine
function as `suijian results record`, in the CLI's envelope ({"ok": true, …} / {"ok": false, "error": …}).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from engine import my_visits
from entities.identity import Role
from web import result_form
from web.auth import Account, allow, identity_of
from web.db import get_conn, now
from web.pages.inspector import MINE, WHY, today, visit_for

router = APIRouter()

Inspector = Annotated[Account, Depends(allow(Role.INSPECTOR))]
Viewer = Annotated[Account, Depends(allow(Role.INSPECTOR, Role.SUPERVISOR))]
Conn = Annotated[Connection, Depends(get_conn)]


@router.get("/api/inspector/visits", summary="我的检查（按周、按月或整个计划）")
def visits(
    account: Inspector, conn: Conn, week: str | None = None, month: str | None = None, plan: str | None = None
) -> dict[str, Any]:
    me = my_visits.inspector_of(conn, account.name)
    mine = my_visits.my_list(conn, me, week=week, month=month, plan_id=plan, index=MINE.get(conn, me, plan))
    return {
        "ok": True,
        "plan_id": mine.plan_id,
        "inspector": {"id": me.id, "name": me.name, "unit": me.unit},
        "window": None
        if mine.window is None
        else {"label": mine.label, "from": mine.window[0].isoformat(), "to": mine.window[1].isoformat()},
        "townships": [
            {"code": t.code, "name": t.name, "visits": [v.as_dict() for v in t.visits]} for t in mine.townships
        ],
        "next_day": mine.next_day.isoformat() if mine.next_day else None,
    }


@router.get("/api/inspector/overdue", summary="我的超期未检")
def overdue(account: Inspector, conn: Conn, plan: str | None = None) -> dict[str, Any]:
    me = my_visits.inspector_of(conn, account.name)
    day = today()
    return {
        "ok": True,
        "as_of": day.isoformat(),
        "visits": [v.as_dict() for v in my_visits.overdue(conn, me, day, plan, index=MINE.get(conn, me, plan))],
    }


@router.get("/api/inspector/visits/{plan_id}/{visit_id}", summary="一次检查：主体、事项、检查组、已登记结果")
def visit(account: Viewer, conn: Conn, plan_id: str, visit_id: str, why: bool = False) -> dict[str, Any]:
    page = visit_for(conn, account, plan_id, visit_id)
    doc: dict[str, Any] = {
        "ok": True,
        "visit": page.visit.as_dict(),
        "mine": page.mine,
        "result": page.result.to_dict() if page.result else None,
        "versions": page.versions,
    }
    if why:  # `explain --run`'s document for the subject (recomputed once per process and plan)
        doc["why"] = WHY.get(conn, plan_id, page.visit.uscc, [i.code for i in page.visit.items]).explanation.as_dict()
    return doc


class ResultIn(BaseModel):
    """A visit's result: each item's result codes (or `codes` for every item), the completion date, and the rest
    as `suijian results record` takes them."""

    completed: str = Field(description="完成日期 YYYY-MM-DD")
    items: dict[str, list[str]] = Field(default_factory=dict, description="事项代码 → 结果代码")
    codes: list[str] = Field(default_factory=list, description="每个事项共用的结果代码")
    findings: str = ""
    measures: list[str] = Field(default_factory=list, description="责令改正、监察指令、立案 …")
    deadline: str = ""
    report_received: str = ""
    correct: str = Field(default="", description="更正原因（已登记过结果时必填）")


@router.post("/api/inspector/visits/{plan_id}/{visit_id}/result", summary="登记检查结果")
async def record(account: Inspector, conn: Conn, plan_id: str, visit_id: str, body: ResultIn) -> JSONResponse:
    def work() -> JSONResponse:
        page = visit_for(conn, account, plan_id, visit_id)
        codes = {i.code: list(body.items.get(i.code, body.codes)) for i in page.visit.items}
        unknown = sorted(set(body.items) - set(codes))
        filled = result_form.Filled(
            completed=body.completed.strip(),
            codes=codes,
            findings=body.findings,
            measures=list(body.measures),
            deadline=body.deadline.strip(),
            report_received=body.report_received.strip(),
            correct=body.correct.strip(),
        )
        if unknown:
            errors = {"code": [f"结果代码：事项 {unknown[0]} 不属于这次检查"]}
            outcome = None
        else:
            outcome, errors = result_form.record(
                conn, page.visit, filled, actor=identity_of(account), today=today(), created_at=now()
            )
        if outcome is None:
            conn.rollback()
            first = next(line for lines in errors.values() for line in lines)
            more = sum(len(lines) for lines in errors.values()) - 1
            message = first + (f"（另有 {more} 处问题）" if more else "")
            return JSONResponse(
                {"ok": False, "error": {"code": "input", "message": message, "fields": errors}}, status_code=400
            )
        conn.commit()
        return JSONResponse(
            {
                "ok": True,
                "plan": plan_id,
                "visit": visit_id,
                "unchanged": outcome.unchanged,
                "batch_id": outcome.batch_id,
                "ledger_seq": outcome.ledger_seq,
            }
        )

    return await run_in_threadpool(work)
