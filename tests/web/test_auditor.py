"""The auditor's pages and API through the framework's test client, on a store with a year of results and a re-draw:
every page renders for auditors and supervisors (not inspectors); verify runs as a job and says 一致 with the chain
head, or names the broken entry of a tampered store; replay says 一致 or 不一致; bad input gets one Chinese line;
awkward subject names and reasons are escaped; SQL metacharacters in searches are only characters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from entities import store
from tests.audit_store import META_NAME, REDRAW_REASON, SCRIPT_NAME, AuditStore, build
from tests.results_store import execute
from tests.web.conftest import BY_ROLE, add_accounts, app_client, close, sign_in


@pytest.fixture(scope="session")
def audit_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AuditStore]:
    directory = tmp_path_factory.mktemp("audit-web")
    url = f"sqlite:///{directory / 'store.db'}"
    built = build(url, directory / "out")
    add_accounts(url, inspector=None)
    return directory / "store.db", built


@pytest.fixture
def audit(audit_template: tuple[Path, AuditStore], tmp_path: Path) -> AuditStore:
    source, built = audit_template
    shutil.copy(source, tmp_path / "store.db")
    return dataclasses.replace(built, url=f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture
def as_role(audit: AuditStore) -> Any:
    made: list[TestClient] = []

    def make(role: str | None) -> TestClient:
        client = app_client(audit.url, made)
        return client if role is None else sign_in(client, BY_ROLE[role])

    yield make
    close(made)


def wait_for(client: TestClient, job_id: str, seconds: float = 120) -> dict[str, Any]:
    """The job's state once it has finished (polled through the API as a system would)."""
    deadline = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()["job"]
        if job["status"] != "running":
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def start(client: TestClient, path: str, **fields: str) -> str:
    """POST a job form with the CSRF token, as the page's form does; the job id it redirects to."""
    response = client.post(path, data={"csrf_token": client.csrf_token, **fields}, follow_redirects=False)  # type: ignore[attr-defined]
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/audit/jobs/(J-[0-9a-f]+)", response.headers["location"])
    assert found is not None, response.headers["location"]
    return found.group(1)


def text_of(page: str) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


PAGES = ("/audit/ledger", "/audit/ledger/1", "/audit/verify", "/audit/replay", "/audit/redraws", "/audit/trail")


@pytest.mark.parametrize("role", ["auditor", "supervisor"])
def test_every_page_renders_for_readers(as_role: Any, audit: AuditStore, role: str) -> None:
    client = as_role(role)
    for path in (*PAGES, f"/audit/ledger/{audit.plan_id}", f"/audit/trail/{audit.plan_id}"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert "<h1>" in response.text and 'lang="zh-CN"' in response.text
    assert client.get("/audit", follow_redirects=False).headers["location"] == "/audit/ledger"


def test_inspectors_and_strangers_are_kept_out(as_role: Any, audit: AuditStore) -> None:
    inspector = as_role("inspector")
    for path in PAGES:
        assert inspector.get(path).status_code == 403
    assert inspector.get("/api/audit/ledger").json()["error"]["code"] == "forbidden"
    stranger = as_role(None)
    response = stranger.get("/audit/ledger", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    assert stranger.get("/api/audit/redraws").status_code == 401


def test_ledger_list_filters_and_links(as_role: Any, audit: AuditStore) -> None:
    client = as_role("auditor")
    page = client.get("/audit/ledger", params={"kind": "plan"}).text
    assert text_of(page).count("抽查计划") >= 2
    assert '<a href="/audit/ledger/' in page and audit.plan_id in page and audit.redraw_id in page
    assert audit.grade_run not in page
    everything = client.get("/audit/ledger", params={"per_page": "10"}).text
    assert "测试员 tester" in everything and "下一页" in everything and "第 1 /" in text_of(everything)
    assert 'href="/audit/ledger?per_page=10&amp;page=2"' in everything
    second = client.get("/audit/ledger", params={"page": "2", "per_page": "10"})
    assert second.status_code == 200 and "上一页" in second.text and "第 2 /" in text_of(second.text)
    entry = client.get(f"/audit/ledger/{audit.plan_id}").text
    assert "回放此运行" in entry and f"/audit/trail/{audit.plan_id}" in entry and "随机种子" in entry


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kind": "plans"}, "类型“plans”不是台账条目类型"),
        ({"since": "2026-02-30"}, "起始日期“2026-02-30”不是日期"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "截止日期 2026-01-01 早于起始日期 2026-02-01"),
        ({"page": "0"}, "页码 0 无效"),
    ],
)
def test_bad_ledger_filters_say_which_field(as_role: Any, params: dict[str, str], message: str) -> None:
    client = as_role("auditor")
    response = client.get("/audit/ledger", params=params)
    assert response.status_code == 400 and message in text_of(response.text)
    api = client.get("/api/audit/ledger", params=params)
    assert api.status_code == 400
    assert api.json()["ok"] is False and api.json()["error"]["code"] == "input"
    assert api.json()["error"]["message"].startswith(message)


def test_missing_entry_and_plan_are_404(as_role: Any) -> None:
    client = as_role("auditor")
    for path in ("/audit/ledger/99999", "/audit/ledger/'%3B--", "/audit/trail/P2026-nothing"):
        response = client.get(path)
        assert response.status_code == 404 and "没有" in text_of(response.text), path
    assert client.get("/api/audit/ledger/99999").json()["error"]["code"] == "not_found"


def test_verify_job_says_consistent_with_the_chain_head(as_role: Any, audit: AuditStore) -> None:
    client = as_role("auditor")
    head = client.get("/api/audit/ledger", params={"per_page": "1"}).json()["head"]
    job_id = start(client, "/audit/verify", head=head["hash"].upper())
    job = wait_for(client, job_id)
    assert job["status"] == "done" and job["kind"] == "audit-verify" and job["account"] == "aud1"
    assert job["result"]["ok"] is True and job["result"]["head"] == head
    page = text_of(client.get(f"/audit/jobs/{job_id}").text)
    assert "一致 ：台账" in page and head["hash"] in page and f"#{head['seq']}" in page
    assert f"已公布链头 在台账中：#{head['seq']}" in page
    # The verify page lists it among the recent jobs with its verdict.
    listing = text_of(client.get("/audit/verify").text)
    assert job_id in listing and "一致" in listing
    # The fragment the page polls renders the same report once the job is done.
    assert "一致" in text_of(client.get(f"/audit/jobs/{job_id}/progress").text)


def test_verify_names_the_broken_entry_of_a_tampered_store(as_role: Any, audit: AuditStore) -> None:
    execute(audit.url, "UPDATE ledger SET body = replace(body, '\"visits\":', '\"visits\": ') WHERE kind = 'plan'")
    client = as_role("supervisor")
    job_id = start(client, "/audit/verify", head="0" * 64)
    job = wait_for(client, job_id)
    assert job["status"] == "done" and job["result"]["ok"] is False
    problems = job["result"]["problems"]
    seqs = {p["seq"] for p in problems if p["code"] == "edited"}
    assert seqs and job["result"]["problem_count"] == len(problems)
    raw = client.get(f"/audit/jobs/{job_id}").text
    page = text_of(raw)
    assert f"不一致 ：发现 {len(problems)} 个问题" in page and "条目被改" in page
    for seq in seqs:
        assert f'href="/audit/ledger/{seq}"' in raw
    assert audit.plan_id in page and "已公布链头 不在台账中" in page


def test_bad_verify_input_and_missing_csrf(as_role: Any) -> None:
    client = as_role("auditor")
    response = client.post("/audit/verify", data={"csrf_token": client.csrf_token, "head": "abc"})
    assert response.status_code == 400 and "已公布的链头哈希“abc”不是台账哈希" in text_of(response.text)
    bare = TestClient(client.app, cookies=client.cookies)
    refused = bare.post("/audit/verify", data={"head": ""}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/api/jobs/nothing").status_code == 404


def test_replay_a_plan_is_identical(as_role: Any, audit: AuditStore) -> None:
    client = as_role("auditor")
    form = client.get("/audit/replay", params={"run": audit.plan_id}).text
    assert f'value="{audit.plan_id}"' in form
    job_id = start(client, "/audit/replay", run=audit.plan_id)
    job = wait_for(client, job_id, 300)
    assert job["status"] == "done" and job["result"]["identical"] is True, job
    page = text_of(client.get(f"/audit/jobs/{job_id}").text)
    assert "一致 ：回放" in page and audit.plan_id in page and job["result"]["outputs_hash"]["ledger"] in page


def test_replay_of_a_changed_grade_run_shows_the_difference(as_role: Any, audit: AuditStore) -> None:
    execute(
        audit.url,
        "UPDATE grade_result SET outcome = (SELECT max(outcome) FROM grade_result WHERE run_id = :r) + 1000 "
        "WHERE run_id = :r AND uscc = (SELECT min(uscc) FROM grade_result WHERE run_id = :r)",
        r=audit.grade_run,
    )
    client = as_role("auditor")
    response = client.post("/api/audit/replay", json={"run_id": audit.grade_run})
    assert response.status_code == 202 and response.json()["ok"] is True
    job = wait_for(client, response.json()["job"], 300)
    assert job["status"] == "done" and job["result"]["identical"] is False
    page = text_of(client.get(response.json()["page"]).text)
    assert "不一致" in page and "the stored outputs no longer match the ledger" in page


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ("", "运行编号：必填"),
        ("G-nothing", "运行编号“G-nothing”不在台账中"),
        ("x" * 61, "运行编号过长"),
    ],
)
def test_bad_replay_input(as_role: Any, run: str, message: str) -> None:
    client = as_role("auditor")
    response = client.post("/audit/replay", data={"csrf_token": client.csrf_token, "run": run})
    assert response.status_code == 400 and message in text_of(response.text)


def test_only_grade_runs_and_plans_replay(as_role: Any) -> None:
    client = as_role("auditor")
    results = client.get("/api/audit/ledger", params={"kind": "results", "per_page": "1"}).json()["entries"][0]
    response = client.post("/api/audit/replay", json={"run_id": results["run_id"]})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        f"运行编号“{results['run_id']}”是检查结果条目：只有分级运行（G…）和抽查计划（P…）可以回放"
    )


def test_redraws_page_lists_the_redraw_escaped(as_role: Any, audit: AuditStore) -> None:
    client = as_role("auditor")
    raw = client.get("/audit/redraws").text
    assert "&lt;b&gt;加粗&lt;/b&gt;" in raw and "<b>加粗</b>" not in raw
    page = text_of(raw)
    assert REDRAW_REASON in page and audit.redraw_id in page and audit.plan_id in page and "重抽 1 次" in page
    api = client.get("/api/audit/redraws").json()
    assert [r["run_id"] for r in api["redraws"]] == [audit.redraw_id] and api["redraws"][0]["reason"] == REDRAW_REASON


def test_subject_names_are_escaped_in_the_trail(as_role: Any, audit: AuditStore) -> None:
    client = as_role("auditor")
    raw = client.get(f"/audit/trail/{audit.plan_id}", params={"q": audit.script_uscc}).text
    assert "<script>alert(1)</script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;" in raw
    assert SCRIPT_NAME in text_of(raw) and "1 户次" in text_of(raw)
    # What a user types is escaped when the page shows it back, too.
    echoed = client.get(f"/audit/trail/{audit.plan_id}", params={"q": SCRIPT_NAME}).text
    assert "<script>alert(1)</script>" not in echoed and "1 户次" in text_of(echoed)
    listed = client.get("/audit/ledger", params={"user": SCRIPT_NAME}).text
    assert "<script>alert(1)</script>" not in listed and "共 0 条" in text_of(listed)


@pytest.mark.parametrize("query", ["%", "_", ";--", "100%纯_天然", "'店;--"])
def test_sql_metacharacters_in_the_search_are_characters(as_role: Any, audit: AuditStore, query: str) -> None:
    client = as_role("auditor")
    response = client.get(f"/audit/trail/{audit.plan_id}", params={"q": query})
    assert response.status_code == 200
    page = text_of(response.text)
    assert f"“{query}”：1 户次" in page and META_NAME in page
    api = client.get(f"/api/audit/trail/{audit.plan_id}", params={"q": query}).json()
    assert [v["uscc"] for v in api["visits"]] == [audit.meta_uscc] and api["total"] == 1


def test_trail_page_and_api_agree(as_role: Any, audit: AuditStore) -> None:
    client = as_role("supervisor")
    api = client.get(f"/api/audit/trail/{audit.plan_id}", params={"per_page": "200"}).json()
    summary = api["summary"]
    assert api["ok"] is True and api["total"] == summary["visits_planned"] and summary["published"] > 0
    page = text_of(client.get(f"/audit/trail/{audit.plan_id}").text)
    assert f"{summary['visits_with_result']} / {summary['visits_planned']} 户次" in page
    assert f"其中 {summary['published_on_time']} 在 20 个工作日内" in page
    plans = client.get("/api/audit/plans").json()["plans"]
    assert {p["plan_id"] for p in plans} == {audit.plan_id, audit.redraw_id}
    bad = client.get(f"/api/audit/trail/{audit.plan_id}", params={"q": "x" * 101})
    assert bad.status_code == 400 and bad.json()["error"]["message"].startswith("检索词过长")


def test_a_running_job_shows_its_progress_and_polls(as_role: Any, audit: AuditStore) -> None:
    """While a job runs, the page shows the engine's step and count and asks htmx to poll the fragment."""
    client = as_role("supervisor")  # the app marks jobs left running as interrupted when it starts: first
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(seconds=5)
    execute(
        audit.url,
        "INSERT INTO job (id, scope, running_scope, kind, account, status, step, done, total, started_at) "
        "VALUES ('J-0123456789abcdef', 'audit:verify', 'audit:verify', 'audit-verify', 'aud1', 'running', "
        "'核对台账 verifying entries', 3, 42, :t)",
        t=started,
    )
    raw = client.get("/audit/jobs/J-0123456789abcdef/progress").text
    assert 'hx-get="/audit/jobs/J-0123456789abcdef/progress"' in raw and 'hx-trigger="every 1s"' in raw
    assert '<progress max="42" value="3"' in raw
    page = text_of(raw)
    assert "核对台账 verifying entries：3 / 42" in page and "已用时" in page
    # One verify at a time: a second one is refused while this one runs.
    response = client.post("/audit/verify", data={"csrf_token": client.csrf_token, "head": ""})
    assert response.status_code == 409 and "J-0123456789abcdef" in text_of(response.text)
    # Another kind of job is not the auditor's to show here.
    assert client.get("/audit/jobs/J-nothing").status_code == 404


@pytest.mark.postgres
def test_verify_and_the_ledger_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """The same pages on PostgreSQL: the verify job (REPEATABLE READ) and the user filter over the bodies."""
    engine = store.make_engine(pg_url)
    store.initialise(engine)
    engine.dispose()
    built = build(pg_url, tmp_path / "out")
    add_accounts(pg_url, inspector=None)
    made: list[TestClient] = []
    with app_client(pg_url, made) as client:
        sign_in(client, "aud1")
        job_id = start(client, "/audit/verify")
        job = wait_for(client, job_id)
        assert job["status"] == "done" and job["result"]["ok"] is True, job
        assert "一致" in text_of(client.get(f"/audit/jobs/{job_id}").text)
        mine = client.get("/api/audit/ledger", params={"user": "测试员 tester", "kind": "plan"}).json()
        assert [e["run_id"] for e in mine["entries"]] == [built.redraw_id, built.plan_id]
        api = client.get(f"/api/audit/trail/{built.plan_id}", params={"q": "%"}).json()
        assert [v["uscc"] for v in api["visits"]] == [built.meta_uscc]
    close(made)


def test_verify_through_the_api(as_role: Any) -> None:
    """POST /api/audit/verify (no body, or a head) answers 202 and the job's URL; a bad head is the envelope."""
    client = as_role("auditor")
    bad = client.post("/api/audit/verify", json={"head": "zz"})
    assert bad.status_code == 400 and bad.json() == {
        "ok": False,
        "error": {
            "code": "input",
            "message": "已公布的链头哈希“zz”不是台账哈希：应为 64 位十六进制数字（`suijian plan` 输出的 Ledger head）",
        },
    }
    started = client.post("/api/audit/verify")
    assert started.status_code == 202 and started.json()["url"] == f"/api/jobs/{started.json()['job']}"
    job = wait_for(client, started.json()["job"])
    assert job["status"] == "done" and job["result"]["ok"] is True and job["result"]["problem_count"] == 0
    entry = client.get(f"/api/audit/ledger/{job['result']['head']['seq']}").json()["entry"]
    assert entry["entry_hash"] == job["result"]["head"]["hash"]


def test_an_unreadable_entry_is_shown_not_hidden(as_role: Any, audit: AuditStore) -> None:
    """An entry whose body was overwritten with text that is not JSON stays in the list and shows as stored."""
    execute(audit.url, "UPDATE ledger SET body = '<i>not json</i> {' WHERE seq = 3")
    client = as_role("auditor")
    listing = text_of(client.get("/audit/ledger", params={"per_page": "200"}).text)
    assert "（内容不可读）" in listing
    raw = client.get("/audit/ledger/3").text
    assert "此条目的内容不是 JSON 对象" in text_of(raw) and "&lt;i&gt;not json&lt;/i&gt; {" in raw
    assert client.get("/api/audit/ledger/3").json()["entry"]["body"] == "<i>not json</i> {"
