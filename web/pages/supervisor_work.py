"""What the supervisor's pages and API do, shared by both skins: each step is an engine call as the CLI makes it.

- `pack_report(directory)`: `rules check` and `rules test` of a pack (engine.rules.read_pack, run_cases).
- `whatif_work(...)`: the what-if of an uploaded pack against the active one (engine.whatif.compare), as a job that
  writes the CLI's HTML report (engine.report_html) next to the upload.
- `draw_work(...)`: draw and commit a plan (engine.plan_commit.draw), as a job.
- `active_or_bundled(conn)`: the pack plans and what-ifs use — the published one, else the bundled national pack.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy.engine import Connection

import rules as bundled_packs
from engine import plan_commit, planning, whatif
from engine import publish as engine_publish
from engine.features.compute import population_size
from engine.pack_upload import directory_of
from engine.plan import check_seed
from engine.progress import Progress
from engine.report_html import render as render_report
from engine.rules import Pack, load_pack, read_pack, run_cases
from entities import store
from entities.errors import InputError
from entities.identity import Identity
from web.db import engine_of, now

REPORT = "whatif-{as_of}.html"
UPLOADS_ENV = "SUIJIAN_UPLOADS"


def upload_root(request: Request) -> Path:
    """Where this app's uploaded packs are unpacked: a folder named after the store (two apps on two stores never
    share uploads) under SUIJIAN_UPLOADS, else under the system's temporary directory."""
    base = Path(os.environ.get(UPLOADS_ENV) or Path(tempfile.gettempdir()) / "suijian-uploads")
    url = engine_of(request).url.render_as_string(hide_password=True)
    return base / hashlib.sha256(url.encode()).hexdigest()[:12]


def upload_dir(request: Request, uid: str) -> Path:
    found = directory_of(upload_root(request), uid)
    if found is None:
        raise InputError(f"没有编号为 {uid} 的上传规则包；请重新上传")
    return found


@contextmanager
def active_or_bundled(conn: Connection) -> Iterator[Pack]:
    """The active published pack (restored from the store), else the bundled national pack — as the CLI's default."""
    with ExitStack() as stack:
        active = stack.enter_context(engine_publish.active_pack(conn))
        if active is not None:
            yield active
            return
    national = bundled_packs.bundled("national")
    assert national is not None  # shipped with suijian
    yield load_pack(str(national))


def pack_report(directory: Path) -> dict[str, Any]:
    """`suijian rules check` and `suijian rules test` of the pack in `directory`: findings, cases, row coverage."""
    pack, findings = read_pack(str(directory))
    errors = [f for f in findings if f.severity == "error"]
    doc: dict[str, Any] = {
        "pack": None if pack is None else {"name": pack.name, "version": pack.version, "hash": pack.hash},
        "errors": len(errors),
        "warnings": len(findings) - len(errors),
        "findings": [_finding(f, directory) for f in findings],
        "tested": False,
    }
    if pack is None or errors:
        return doc
    report = run_cases(pack)
    cov = report.coverage
    doc.update(
        tested=True,
        passed=len(report.outcomes) - len(report.failed),
        failed=len(report.failed),
        cases=[
            {
                "name": o.case.name,
                "where": _shown(str(o.case.location), directory),
                "passed": o.passed,
                "differences": list(o.differences),
            }
            for o in report.outcomes
        ],
        coverage={
            "rows": cov.total,
            "covered": cov.covered,
            "percent": round(cov.percent, 1),
            "uncovered": [{"where": _shown(str(r.location), directory), "rule": r.id} for r in cov.uncovered],
        },
    )
    return doc


def _shown(location: str, directory: Path) -> str:
    # Locations name the upload's temporary folder: show them relative to the pack, as its author knows them.
    prefix = str(directory) + "/"
    return location[len(prefix) :] if location.startswith(prefix) else location


def _finding(f: Any, directory: Path) -> dict[str, Any]:
    d = dict(f.as_dict())
    d["text"] = _shown(str(f), directory)
    return d


def parse_day(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"字段 {field}：{text!r} 不是日期（YYYY-MM-DD）") from None


def whatif_work(
    url: str, pack_dir: Path, as_of: dt.date, period: str | None, seed: str | None
) -> Callable[[Progress], dict[str, Any]]:
    """The job comparing the active pack with the uploaded one as of a date (and, with period and seed, their plans),
    writing the report the CLI writes with `rules diff --out` next to the upload."""
    if (period is None) != (seed is None):
        raise InputError("字段 period 与 seed：要比较计划，请同时填写抽查期间和随机种子；否则两者都不填")
    request = None
    if period is not None and seed is not None:
        check_seed(seed)
        request = whatif.PlanRequest(planning.parse_period(period), seed)
    new = whatif.load_side(str(pack_dir), "new")  # a pack that cannot be compared is refused before the job starts
    report = pack_dir.parent / REPORT.format(as_of=as_of.isoformat())

    def work(progress: Progress) -> dict[str, Any]:
        engine = store.open_store(url)
        try:
            with engine.connect() as conn, active_or_bundled(conn) as active:
                old = whatif.load_side(str(active.directory), "old")
                total = population_size(conn, as_of)
                seen = [0]

                def on_partition(n: int) -> None:
                    seen[0] += n
                    progress("比较：用两个规则包分级", seen[0], total)

                result = whatif.compare(conn, old, new, as_of, plan=request, on_partition=on_partition, url=url)
        finally:
            engine.dispose()
        doc = result.as_dict()
        report.write_text(render_report(doc), encoding="utf-8")
        return {
            "对比日期": as_of.isoformat(),
            "主体数": doc["subjects"],
            "结果变化的主体": doc["changed_subjects"],
            "url": f"/supervisor/packs/uploads/{pack_dir.parent.name}/report?as_of={as_of.isoformat()}",
        }

    return work


def report_path(pack_dir: Path, as_of: dt.date) -> Path | None:
    path = pack_dir.parent / REPORT.format(as_of=as_of.isoformat())
    return path if path.is_file() else None


def outside_writes(conn: Connection, progress: Progress) -> Progress:
    """`progress`, dropped while this SQLite connection holds a write transaction: the job's progress row is written
    on another connection, which would wait for this one's lock (SQLite has one writer) and fail. PostgreSQL: all."""
    if conn.dialect.name != "sqlite":
        return progress

    def report(step: str, done: int, total: int | None) -> None:
        raw = conn.connection.dbapi_connection
        if not getattr(raw, "in_transaction", False):
            progress(step, done, total)

    return report


def draw_work(
    url: str,
    actor: Identity,
    *,
    seed: str,
    period: str,
    as_of: dt.date,
    regions: list[str],
    redraw_reason: str | None,
) -> tuple[str, Callable[[Progress], dict[str, Any]]]:
    """(the job's scope, the job) drawing and committing a plan; the seed and period are checked before it starts."""
    check_seed(seed)
    parsed = planning.parse_period(period)
    planning.work_calendar().require(parsed.start, parsed.end)
    scope = f"plan:{parsed.label}:{','.join(sorted(regions)) or '*'}"

    def work(progress: Progress) -> dict[str, Any]:
        engine = store.open_store(url)
        try:
            with engine.begin() as conn, active_or_bundled(conn) as pack:
                drawn = plan_commit.draw(
                    conn,
                    pack,
                    seed=seed,
                    period=parsed,
                    as_of=as_of,
                    actor=actor,
                    created_at=now(),
                    regions=regions,
                    redraw_reason=redraw_reason,
                    progress=outside_writes(conn, progress),
                )
        finally:
            engine.dispose()
        return {
            "计划编号": drawn.plan_id,
            "新计划": "是" if drawn.created else "否（相同的计划已提交）",
            "检查户次": drawn.summary["visits"]["planned"],
            "账本头": f"#{drawn.head[0]} {drawn.head[1][:16]}",
            "url": "/supervisor/dashboard",
        }

    return scope, work
