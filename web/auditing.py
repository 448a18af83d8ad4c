"""What the auditor's pages and API share: checking the form fields, starting verify and replay as background jobs,
and reading those jobs back.

The jobs call exactly what `suijian audit verify` and `suijian replay` call (engine.audit.verify, engine.replay.replay)
on a connection of their own, with the engine's progress callback wired to the job's progress. Both only read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine import audit as engine_audit
from engine import replay as replaying
from engine.ledger import chain
from engine.progress import Progress
from entities import store
from entities.errors import InputError
from entities.identity import Role
from web import jobs
from web.auth import Account

VERIFY = "audit-verify"
REPLAY = "audit-replay"
KINDS = (VERIFY, REPLAY)
REPLAYABLE_KINDS = replaying.REPLAYABLE
SHOWN_PROBLEMS = 200  # a ledger rewritten wholesale has a problem per entry: the first ones, and the count

KIND_LABELS = {
    "grade": "分级",
    "plan": "抽查计划",
    "commit": "种子承诺",
    "preview": "抽取预览",
    "publish": "规则包发布",
    "results": "检查结果",
    "publication": "结果公示",
    "decision": "处置决定",
    "recheck": "复查",
}
PROBLEM_LABELS = {
    "gap": "序号缺失",
    "chain": "链条断开",
    "edited": "条目被改",
    "content": "内容不可读",
    "columns": "列与内容不符",
    "swapped": "条目被调换",
    "scheme": "未知哈希方案",
    "grade_run": "分级运行被改",
    "outputs": "输出被改",
    "plan": "计划被改",
    "snapshot": "输入快照",
    "pack": "规则包版本",
    "unrecorded": "无台账记录",
    "head": "已公布链头不在台账中",
    "results": "检查结果被改",
    "publication": "公示记录被改",
    "decision": "处置决定被改",
    "recheck": "复查记录被改",
}
READERS = (Role.AUDITOR, Role.SUPERVISOR)  # supervisors answer for the ledger too; inspectors have no need


def role_label(role: str | None) -> str:
    try:
        return Role(role or "").label
    except ValueError:
        return role or "—"


def check_head(text: str | None) -> str | None:
    """The published head hash typed into the verify form (blank: none), or one Chinese line naming the field."""
    value = (text or "").strip().lower()
    if not value:
        return None
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise InputError(
            f"已公布的链头哈希“{(text or '').strip()[:80]}”不是台账哈希：应为 64 位十六进制数字（`suijian plan` 输出的 Ledger head）"
        )
    return value


def check_run(conn: Connection, text: str | None) -> str:
    """A run id typed into the replay form: it must be a grade run or a plan in the ledger (one Chinese line if not)."""
    run_id = (text or "").strip()
    if not run_id:
        raise InputError("运行编号：必填（分级运行 G… 或抽查计划 P…）")
    if len(run_id) > 60:
        raise InputError("运行编号过长：最多 60 个字符")
    entry = chain.find(conn, run_id)
    if entry is None:
        raise InputError(f"运行编号“{run_id}”不在台账中：分级运行以 G 开头，抽查计划以 P 开头")
    if entry.kind not in replaying.REPLAYABLE:
        label = KIND_LABELS.get(entry.kind, entry.kind)
        raise InputError(f"运行编号“{run_id}”是{label}条目：只有分级运行（G…）和抽查计划（P…）可以回放")
    return run_id


def _connection(url: str) -> Callable[[Callable[[Connection], dict[str, Any]]], dict[str, Any]]:
    """Run fn on a read connection of its own that sees one state of the store throughout (REPEATABLE READ on
    PostgreSQL, as `audit verify` on the CLI; SQLite's read transaction already does)."""

    def run(fn: Callable[[Connection], dict[str, Any]]) -> dict[str, Any]:
        engine = store.open_store(url)
        try:
            options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
            with engine.connect().execution_options(**options) as conn:
                return fn(conn)
        finally:
            engine.dispose()

    return run


def verify_work(url: str, head: str | None) -> Callable[[Progress], dict[str, Any]]:
    """The verify job: the whole ledger checked as `suijian audit verify [--head]` checks it."""

    def work(progress: Progress) -> dict[str, Any]:
        started = time.perf_counter()
        report = _connection(url)(lambda conn: engine_audit.verify(conn, head, progress=progress).as_dict())
        problems = report["problems"]
        return {
            **report,
            "problems": problems[:SHOWN_PROBLEMS],
            "problem_count": len(problems),
            "expected_head": head,
            "seconds": round(time.perf_counter() - started, 2),
            "url": "/audit/verify",
        }

    return work


def replay_work(url: str, run_id: str) -> Callable[[Progress], dict[str, Any]]:
    """The replay job: the run recomputed from its ledger entry as `suijian replay RUN_ID` does."""

    def work(progress: Progress) -> dict[str, Any]:
        started = time.perf_counter()

        def run(conn: Connection) -> dict[str, Any]:
            report = replaying.replay(conn, run_id, progress=progress)
            return {**report.as_dict(), "summary": report.summary()}

        result = _connection(url)(run)
        return {**result, "seconds": round(time.perf_counter() - started, 2), "url": f"/audit/replay?run={run_id}"}

    return work


def start_verify(url: str, account: Account, head: str | None) -> str:
    """Start verifying the ledger; the job id (jobs.Busy while another verify of this store runs)."""
    return jobs.submit(url, "audit:verify", VERIFY, account, verify_work(url, head))


def start_replay(url: str, account: Account, run_id: str) -> str:
    """Start replaying `run_id` (checked with check_run first); one replay of a run at a time."""
    return jobs.submit(url, f"audit:replay:{run_id}", REPLAY, account, replay_work(url, run_id))


def audit_job(conn: Connection, job_id: str) -> dict[str, Any] | None:
    """A verify or replay job as web.jobs reads it; None if there is none (or it is another kind of job)."""
    job = jobs.read(conn, job_id)
    return job if job is not None and job["kind"] in KINDS else None


def recent_jobs(conn: Connection, kind: str, limit: int = 10) -> list[dict[str, Any]]:
    """The newest verify (or replay) jobs, newest first, for the page that starts them."""
    t = store.table("job")
    ids = conn.execute(
        sa.select(t.c.id).where(t.c.kind == kind).order_by(t.c.started_at.desc(), t.c.id.desc()).limit(limit)
    ).scalars()
    found = [jobs.read(conn, str(i)) for i in ids]
    return [j for j in found if j is not None]
