"""The supervisor's rule-pack pages (规则包): the active pack and its history, the proposals; upload a changed pack
→ its check and test results → the what-if report (a job) → propose → a second supervisor approves → publish; an
explicit rollback, proposed and approved the same way. Four eyes are the engine's (engine.pack_approvals,
engine.publish): the web only calls them as the signed-in account.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi import Form as FormField
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection

from engine import pack_approvals, pack_proposals
from engine import publish as engine_publish
from engine.pack_upload import unpack
from entities.errors import InputError
from entities.identity import Role
from web import jobs
from web.auth import Account, allow, identity_of
from web.db import get_conn, now
from web.pages.supervisor_work import pack_report, parse_day, report_path, upload_dir, upload_root, whatif_work
from web.templating import render

router = APIRouter()
SUPERVISOR = allow(Role.SUPERVISOR)


def packs_overview(conn: Connection) -> dict[str, Any]:
    """The active pack, every publication, and every proposal (newest first) as plain data."""
    history = [engine_publish.publication(e) for e in engine_publish.history(conn)]
    return {
        "active": history[-1] if history else None,
        "history": history[::-1],
        "proposals": [{**p.as_dict(), "status_label": p.status.label} for p in pack_proposals.proposals(conn)[::-1]],
    }


def required(reason: str, label: str) -> str:
    """A reason the ledger records: refused in Chinese, naming the field, when it is blank."""
    if not reason.strip():
        raise InputError(f"字段 reason：请填写{label}")
    return reason


def _see(path: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?notice={quote(notice)}", status_code=303)


@router.get("/supervisor/packs", summary="规则包：当前版本、提议与审批")
def packs_page(
    request: Request,
    notice: str | None = None,
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    return render(
        request, "supervisor/packs.html", account=account, notice=notice, me=identity_of(account).user,
        **packs_overview(conn),
    )  # fmt: skip


async def read_upload(files: list[UploadFile]) -> list[tuple[str, bytes]]:
    return [(f.filename or "", await f.read()) for f in files if f.filename]


@router.post("/supervisor/packs/upload", summary="上传修改后的规则包")
async def upload_form(
    request: Request,
    files: Annotated[list[UploadFile], File()],
    account: Account = Depends(SUPERVISOR),
) -> Response:
    upload = unpack(await read_upload(files), upload_root(request))
    return RedirectResponse(f"/supervisor/packs/uploads/{upload.id}", status_code=303)


@router.get("/supervisor/packs/uploads/{uid}", summary="上传的规则包：检查、测试与影响分析")
def upload_page(
    request: Request,
    uid: str,
    notice: str | None = None,
    account: Account = Depends(SUPERVISOR),
) -> Response:
    directory = upload_dir(request, uid)
    reports = sorted(p.name[len("whatif-") : -len(".html")] for p in directory.parent.glob("whatif-*.html"))
    return render(
        request,
        "supervisor/upload.html",
        account=account,
        uid=uid,
        notice=notice,
        report=pack_report(directory),
        whatif_days=reports,
    )


@router.post("/supervisor/packs/uploads/{uid}/whatif", summary="影响分析（后台任务）")
def whatif_form(
    request: Request,
    uid: str,
    as_of: Annotated[str, FormField()],
    period: Annotated[str, FormField()] = "",
    seed: Annotated[str, FormField()] = "",
    account: Account = Depends(SUPERVISOR),
) -> Response:
    job_id = start_whatif(request, account, uid, as_of, period, seed)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


def start_whatif(request: Request, account: Account, uid: str, as_of: str, period: str, seed: str) -> str:
    directory = upload_dir(request, uid)
    work = whatif_work(
        jobs.store_url(request),
        directory,
        parse_day(as_of, "as_of"),
        period.strip() or None,
        seed.strip() or None,
    )
    return jobs.submit(jobs.store_url(request), f"whatif:{uid}", "whatif", account, work)


@router.get("/supervisor/packs/uploads/{uid}/report", summary="影响分析报告（HTML）")
def whatif_report(request: Request, uid: str, as_of: str, account: Account = Depends(SUPERVISOR)) -> Response:
    found = report_path(upload_dir(request, uid), parse_day(as_of, "as_of"))
    if found is None:
        raise InputError(f"还没有 {as_of} 的影响分析报告；请先运行影响分析")
    return HTMLResponse(found.read_text(encoding="utf-8"))


@router.post("/supervisor/packs/uploads/{uid}/propose", summary="提议发布上传的规则包")
def propose_form(
    request: Request,
    uid: str,
    reason: Annotated[str, FormField()] = "",
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    proposal = pack_approvals.propose(
        conn,
        str(upload_dir(request, uid)),
        reason=required(reason, "提议理由"),
        actor=identity_of(account),
        created_at=now(),
    )
    conn.commit()
    return _see(
        "/supervisor/packs", f"已提议 {proposal.name} {proposal.version}（{proposal.id}），待另一位监管负责人审核"
    )


@router.post("/supervisor/packs/rollback", summary="提议回退到此前发布的版本")
def rollback_form(
    ref: Annotated[str, FormField()],
    reason: Annotated[str, FormField()] = "",
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    proposal = pack_approvals.propose_rollback(
        conn, ref, reason=required(reason, "回退理由"), actor=identity_of(account), created_at=now()
    )
    conn.commit()
    return _see("/supervisor/packs", f"已提议回退到 {proposal.name} {proposal.version}（{proposal.id}），待审核")


@router.post("/supervisor/packs/proposals/{pid}/review", summary="审核规则包提议（批准或驳回）")
def review_form(
    pid: str,
    decision: Annotated[str, FormField()],
    reason: Annotated[str, FormField()] = "",
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    done = review(conn, account, pid, decision, reason)
    conn.commit()
    return _see("/supervisor/packs", f"{done.id}：{done.status.label}")


def review(conn: Connection, account: Account, pid: str, decision: str, reason: str) -> pack_proposals.Proposal:
    if decision not in ("approve", "reject"):
        raise InputError("字段 decision：请选择“批准”或“驳回”")
    if not reason.strip():
        raise InputError("字段 reason：请填写审核意见")
    act = pack_approvals.approve if decision == "approve" else pack_approvals.reject
    return act(conn, pid, reason=reason, actor=identity_of(account), created_at=now())


@router.post("/supervisor/packs/proposals/{pid}/publish", summary="发布已批准的规则包")
def publish_form(
    pid: str,
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> Response:
    entry, created = engine_publish.publish(conn, pid, actor=identity_of(account), created_at=now())
    conn.commit()
    info = entry.get("pack") or {}
    verb = "已发布" if created else "已是当前版本"
    return _see("/supervisor/packs", f"{verb}：{info.get('name')} {info.get('version')}（{entry.run_id}）")
