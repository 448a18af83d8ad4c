"""The supervisor's rule-pack API: upload, check and test, what-if (a job), propose, review (four eyes), publish,
roll back — the calls of web.pages.supervisor_packs, in the CLI's envelope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from engine import pack_approvals
from engine import publish as engine_publish
from engine.pack_upload import unpack
from entities.identity import Role
from web.auth import Account, allow, identity_of
from web.db import get_conn, now
from web.pages import supervisor_packs as pack_pages
from web.pages.supervisor_work import pack_report, upload_dir, upload_root

router = APIRouter()
SUPERVISOR = allow(Role.SUPERVISOR)


@router.get("/api/supervisor/packs", summary="规则包：当前版本、发布记录、提议")
def packs_api(account: Account = Depends(SUPERVISOR), conn: Connection = Depends(get_conn)) -> dict[str, Any]:
    return {"ok": True, **pack_pages.packs_overview(conn)}


@router.post("/api/supervisor/packs/upload", summary="上传规则包并检查、测试")
async def upload_api(
    request: Request, files: Annotated[list[UploadFile], File()], account: Account = Depends(SUPERVISOR)
) -> dict[str, Any]:
    upload = unpack(await pack_pages.read_upload(files), upload_root(request))
    return {"ok": True, "upload": upload.id, "files": list(upload.files), **pack_report(upload.directory)}


class WhatIf(BaseModel):
    as_of: str
    period: str = ""
    seed: str = ""


@router.post("/api/supervisor/packs/uploads/{uid}/whatif", summary="影响分析（后台任务）")
def whatif_api(request: Request, uid: str, body: WhatIf, account: Account = Depends(SUPERVISOR)) -> dict[str, Any]:
    job_id = pack_pages.start_whatif(request, account, uid, body.as_of, body.period, body.seed)
    return {"ok": True, "job": job_id, "url": f"/api/jobs/{job_id}"}


class Reason(BaseModel):
    reason: str = ""


@router.post("/api/supervisor/packs/uploads/{uid}/propose", summary="提议发布上传的规则包")
def propose_api(
    request: Request,
    uid: str,
    body: Reason,
    account: Account = Depends(SUPERVISOR),
    conn: Connection = Depends(get_conn),
) -> dict[str, Any]:
    proposal = pack_approvals.propose(
        conn,
        str(upload_dir(request, uid)),
        reason=pack_pages.required(body.reason, "提议理由"),
        actor=identity_of(account),
        created_at=now(),
    )
    return {"ok": True, "proposal": proposal.as_dict()}


class Rollback(BaseModel):
    ref: str
    reason: str = ""


@router.post("/api/supervisor/packs/rollback", summary="提议回退到此前发布的版本")
def rollback_api(
    body: Rollback, account: Account = Depends(SUPERVISOR), conn: Connection = Depends(get_conn)
) -> dict[str, Any]:
    proposal = pack_approvals.propose_rollback(
        conn,
        body.ref,
        reason=pack_pages.required(body.reason, "回退理由"),
        actor=identity_of(account),
        created_at=now(),
    )
    return {"ok": True, "proposal": proposal.as_dict()}


class Review(BaseModel):
    decision: str = Field(description="approve | reject")
    reason: str = ""


@router.post("/api/supervisor/packs/proposals/{pid}/review", summary="审核规则包提议")
def review_api(
    pid: str, body: Review, account: Account = Depends(SUPERVISOR), conn: Connection = Depends(get_conn)
) -> dict[str, Any]:
    return {"ok": True, "proposal": pack_pages.review(conn, account, pid, body.decision, body.reason).as_dict()}


@router.post("/api/supervisor/packs/proposals/{pid}/publish", summary="发布已批准的规则包")
def publish_api(
    pid: str, account: Account = Depends(SUPERVISOR), conn: Connection = Depends(get_conn)
) -> dict[str, Any]:
    entry, created = engine_publish.publish(conn, pid, actor=identity_of(account), created_at=now())
    return {"ok": True, "new": created, "publication": engine_publish.publication(entry)}
