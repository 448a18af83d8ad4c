"""Background jobs: progress in the store, one job per scope, failures as one line, the page that polls — on SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from engine.progress import Progress
from entities import store
from entities.errors import InputError
from entities.identity import Role
from tests.web.conftest import sign_in
from web import jobs
from web.auth import Account

SUP = Account("sup1", Role.SUPERVISOR, "科长一")
INSP = Account("insp1", Role.INSPECTOR, "检查员一")


def wait_for(client: TestClient, job_id: str, status: str) -> dict[str, Any]:
    for _ in range(400):
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()["job"]
        if job["status"] == status:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never became {status}: {job}")


def test_a_job_reports_progress_and_its_result(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = sign_in(client_on(access_store), "sup1")
    release, reported = threading.Event(), threading.Event()

    def work(progress: Progress) -> dict[str, Any]:
        progress("核验台账", 3, 10)
        reported.set()
        release.wait(20)
        progress("核验台账", 10, 10)
        return {"核验条目": 10, "url": "/auditor/ledger"}

    job_id = jobs.submit(access_store, "verify", "verify", SUP, work)
    assert reported.wait(20)
    running = wait_for(client, job_id, "running")
    assert (running["step"], running["done"], running["total"]) == ("核验台账", 3, 10)
    page = client.get(f"/jobs/{job_id}")
    assert 'hx-get="/jobs/' + job_id + '/progress" hx-trigger="every 1s"' in page.text and "进行中" in page.text

    with pytest.raises(jobs.Busy, match="同一范围（verify）的任务正在运行"):
        jobs.submit(access_store, "verify", "verify", SUP, work)
    other = jobs.submit(access_store, "plan:2026", "plan", SUP, lambda progress: {"计划": "P2026"})

    release.set()
    done = wait_for(client, job_id, "done")
    assert done["result"] == {"核验条目": 10, "url": "/auditor/ledger"} and done["error"] is None
    fragment = client.get(f"/jobs/{job_id}/progress").text
    assert "已完成" in fragment and "hx-trigger" not in fragment and 'href="/auditor/ledger"' in fragment
    assert wait_for(client, other, "done")["result"] == {"计划": "P2026"}
    # The scope is free again.
    again = jobs.submit(access_store, "verify", "verify", SUP, lambda progress: {})
    wait_for(client, again, "done")


def test_a_failed_job_says_why_in_one_line(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = sign_in(client_on(access_store), "sup1")

    def refused(progress: Progress) -> dict[str, Any]:
        raise InputError("种子至少需要 20 个字符")

    def broken(progress: Progress) -> dict[str, Any]:
        raise RuntimeError("boom\nwith a second line")

    first = wait_for(client, jobs.submit(access_store, "a", "plan", SUP, refused), "failed")
    assert first["error"] == "种子至少需要 20 个字符"
    second = wait_for(client, jobs.submit(access_store, "b", "plan", SUP, broken), "failed")
    assert second["error"] == "任务出错（RuntimeError），已记录；请联系管理员"
    assert "任务出错（RuntimeError）" in client.get(f"/jobs/{second['id']}").text


def test_who_sees_a_job(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    job_id = jobs.submit(access_store, "mine", "export", INSP, lambda progress: {"ok": 1})
    owner = sign_in(client_on(access_store), "insp1")
    wait_for(owner, job_id, "done")
    assert sign_in(client_on(access_store), "aud1").get(f"/jobs/{job_id}").status_code == 200
    assert sign_in(client_on(access_store), "sup2").get(f"/api/jobs/{job_id}").status_code == 200
    missing = owner.get("/api/jobs/J-0000")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_who_sees_a_job_not_theirs(web_store: str, client_as: Callable[[str | None], TestClient]) -> None:
    job_id = jobs.submit(web_store, "sup", "plan", SUP, lambda progress: {})
    inspector = client_as("inspector")
    refused = inspector.get(f"/api/jobs/{job_id}")
    assert refused.status_code == 403 and refused.json()["error"]["message"] == "只能查看自己提交的任务"


def test_jobs_left_running_by_a_stopped_server_are_marked_failed(
    access_store: str, client_on: Callable[[str], TestClient]
) -> None:
    # What a server killed mid-job leaves behind: a running row holding its scope.
    engine = store.open_store(access_store)
    with engine.begin() as conn:
        conn.execute(
            store.table("job")
            .insert()
            .values(
                id="J-left",
                scope="verify",
                running_scope="verify",
                kind="verify",
                account="sup1",
                status="running",
                step="核验台账",
                done=5,
                total=9,
                started_at=dt.datetime(2026, 3, 2, 9, 0),
            )
        )
    client = sign_in(client_on(access_store), "sup1")  # a new app on the store: as after a restart
    job = client.get("/api/jobs/J-left").json()["job"]
    assert (job["status"], job["error"]) == ("failed", "服务重启，任务被中断；请重新提交")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT running_scope FROM job")).scalar() is None
    engine.dispose()
    wait_for(client, jobs.submit(access_store, "verify", "verify", SUP, lambda progress: {}), "done")


def test_progress_shows_while_the_job_holds_the_store(
    access_store: str, client_on: Callable[[str], TestClient]
) -> None:
    """On SQLite the job's own write transaction locks the store: progress is shown all the same, and the job ends."""
    client = sign_in(client_on(access_store), "sup1")
    release, reported = threading.Event(), threading.Event()

    def work(progress: Progress) -> dict[str, Any]:
        engine = store.open_store(access_store)
        try:
            with engine.begin() as conn:
                conn.execute(store.table("web_setting").insert().values(key="held", value="by the job's transaction"))
                progress("写入计划", 1, 2)
                reported.set()
                release.wait(20)
            return {"写入": 1}
        finally:
            engine.dispose()

    job_id = jobs.submit(access_store, "hold", "plan", SUP, work)
    try:
        assert reported.wait(20)
        running = client.get(f"/api/jobs/{job_id}").json()["job"]
        assert (running["status"], running["step"], running["done"], running["total"]) == ("running", "写入计划", 1, 2)
    finally:
        release.set()
    assert wait_for(client, job_id, "done")["result"] == {"写入": 1}
