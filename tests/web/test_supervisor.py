"""The supervisor's pages and API with the framework's test client, on the web_store (a 2026Q1 plan, accounts sup1,
sup2, insp1, aud1): the dashboard's figures equal the CLI's for the same store; follow-up decisions, seed
commitments, the plan job and the 公示 exports go through the engine and are recorded as the signed-in account."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from engine.ledger import chain
from entities import store
from tests.helpers import run_cli
from tests.web.conftest import WebStore

Client = Callable[[str | None], TestClient]
AS_OF = "2026-04-20"


def cli_json(url: str, *args: str) -> Any:
    code, out, err = run_cli(*args, "--json", "--db", url)
    assert code == 0, err
    return json.loads(out)


def record_results(url: str, plan_id: str, visits: list[dict[str, Any]], monkeypatch: Any) -> None:
    """Three results: one overdue for 公示 by AS_OF, one not yet, one (code 6) calling for a listing; then propose."""
    monkeypatch.setenv("SUIJIAN_USER", "测试员 tester")
    monkeypatch.setenv("SUIJIAN_ROLE", "supervisor")
    for visit, code, done in ((visits[1], "6", "2026-03-02"), (visits[2], "1", "2026-04-15"), (visits[3], "1", "2026-03-05")):  # fmt: skip
        args = ["results", "record", "--plan", plan_id, "--visit", visit["visit_id"], "--code", code]
        c, _, err = run_cli(*args, "--completed", done, "--recorded-on", done, "--db", url)
        assert c == 0, err
    c, _, err = run_cli("followups", "propose", "--as-of", "2026-03-10", "--db", url)
    assert c == 0, err


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}"[^>]*>([^<（]*)', html)
    assert found is not None, name
    return found.group(1).strip()


def ledger_actors(url: str, kind: str) -> list[str]:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return [str(e.actor.get("user")) for e in chain.entries(conn, kinds=(kind,))]
    finally:
        engine.dispose()


def test_dashboard_figures_equal_the_cli(web_store: WebStore, client_as: Client, monkeypatch: Any) -> None:
    record_results(web_store, web_store.plan_id, web_store.visits, monkeypatch)
    client = client_as("supervisor")
    page = client.get(f"/supervisor?as_of={AS_OF}")
    assert page.status_code == 200, page.text
    html = page.text

    trace = cli_json(web_store, "audit", "trace", web_store.plan_id)["summary"]
    assert figure(html, "visits_planned") == str(trace["visits_planned"])
    assert figure(html, "visits_with_result") == str(trace["visits_with_result"]) == "3"
    assert figure(html, "drawn_visits") == str(trace["drawn_visits"])
    assert figure(html, "published") == str(trace["published"])

    due = cli_json(web_store, "results", "due", "--as-of", AS_OF)["due"]
    assert figure(html, "due_pending") == str(len(due)) == "3"
    assert figure(html, "due_overdue") == str(sum(d["overdue"] for d in due)) == "2"
    for d in due:
        assert d["visit"] in html

    waiting = cli_json(web_store, "followups", "list", "--open")["followups"]
    assert figure(html, "followups_waiting") == str(len(waiting))
    assert figure(html, "listing_proposals") == str(sum(f["kind"] == "list_abnormal" for f in waiting))
    assert int(figure(html, "listing_proposals")) > 0

    api = client.get(f"/api/supervisor/dashboard?as_of={AS_OF}").json()
    assert api["ok"] is True
    assert api["due"]["rows"] == due
    assert {k: api["plan"]["coverage"][k] for k in trace} == trace


def test_dashboard_is_for_supervisors_only(client_as: Client) -> None:
    assert client_as("inspector").get("/supervisor").status_code == 403
    assert client_as("auditor").get("/api/supervisor/dashboard").status_code == 403
    anonymous = client_as(None)
    assert anonymous.get("/supervisor", follow_redirects=False).status_code == 303
    assert anonymous.get("/api/supervisor/dashboard").status_code == 401


def test_a_bad_date_is_one_chinese_line(client_as: Client) -> None:
    client = client_as("supervisor")
    page = client.get("/supervisor?as_of=2026-13-45")
    assert page.status_code == 400 and "字段 as_of" in page.text and "Traceback" not in page.text
    api = client.get("/api/supervisor/dashboard?as_of=tomorrow").json()
    assert api == {"ok": False, "error": {"code": "input", "message": "字段 as_of：'tomorrow' 不是日期（YYYY-MM-DD）"}}


def test_followup_decision_is_recorded_as_the_account(web_store: WebStore, client_as: Client, monkeypatch: Any) -> None:
    record_results(web_store, web_store.plan_id, web_store.visits, monkeypatch)
    client = client_as("supervisor")
    waiting = cli_json(web_store, "followups", "list", "--open")["followups"]
    target = next(f for f in waiting if f["kind"] == "list_abnormal")
    # Without the CSRF token: refused, nothing recorded.
    bare = client_as("sup2")
    del bare.headers["X-CSRF-Token"]
    refused = bare.post("/supervisor/followups/decide", data={"proposal_id": target["id"], "decision": "confirm"})
    assert refused.status_code == 403
    before = ledger_actors(web_store, "decision")
    unreasoned = client.post(
        "/supervisor/followups/decide",
        data={"proposal_id": target["id"], "decision": "reject", "csrf_token": client.csrf_token},  # type: ignore[attr-defined]
    )
    assert unreasoned.status_code == 400 and "字段 reason：不予采纳须填写理由" in unreasoned.text
    assert ledger_actors(web_store, "decision") == before
    response = client.post(
        "/supervisor/followups/decide",
        data={"proposal_id": target["id"], "decision": "confirm", "on": "2026-03-12", "csrf_token": client.csrf_token},  # type: ignore[attr-defined]
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert "notice=" in response.headers["location"]
    after = cli_json(web_store, "followups", "list")["followups"]
    decided = next(f for f in after if f["id"] == target["id"])
    assert decided["decision"]["decision"] == "confirm"
    assert ledger_actors(web_store, "decision") == [*before, "sup1"]
    page = client.get("/supervisor/followups")
    assert target["id"] not in page.text


def test_seed_commitment_and_plan_job(web_store: WebStore, client_as: Client) -> None:
    client = client_as("supervisor")
    digest = "a" * 64
    response = client.post("/api/supervisor/plan/commit-seed", json={"period": "2026Q3", "seed_sha256": digest})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] and body["new"] and body["seed_sha256"] == digest
    assert ledger_actors(web_store, "commit")[-1] == "sup1"
    bad = client.post("/api/supervisor/plan/commit-seed", json={"period": "2026Q3", "seed_sha256": "xyz"})
    assert bad.status_code == 400 and bad.json()["ok"] is False

    # A bad seed is refused before any job starts.
    short = client.post("/api/supervisor/plan/draw", json={"period": "2026Q2", "seed": "1", "as_of": "2025-12-31"})
    assert short.status_code == 400 and short.json()["ok"] is False
    started = client.post(
        "/api/supervisor/plan/draw",
        json={"period": "2026Q2", "seed": "38147205519264810375", "as_of": "2025-12-31"},
    )
    assert started.status_code == 200, started.text
    job = wait(client, started.json()["job"])
    assert job["status"] == "done", job
    plan_id = job["result"]["计划编号"]
    assert ledger_actors(web_store, "plan")[-1] == "sup1"
    assert plan_id in client.get("/supervisor/plan").text


def wait(client: TestClient, job_id: str, seconds: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()["job"]
        if job["status"] != "running":
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still running after {seconds} s")


def test_publish_results_downloads_the_xlsx(web_store: WebStore, client_as: Client, monkeypatch: Any) -> None:
    record_results(web_store, web_store.plan_id, web_store.visits, monkeypatch)
    client = client_as("supervisor")
    response = client.post(
        "/supervisor/exports/results",
        data={"published_on": "2026-04-20", "csrf_token": client.csrf_token},  # type: ignore[attr-defined]
        follow_redirects=False,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    rows = sum(ws.max_row - 1 for ws in book.worksheets)
    assert rows >= 3
    assert ledger_actors(web_store, "publication")[-1] == "sup1"
    assert cli_json(web_store, "results", "due", "--as-of", AS_OF)["due"] == []
    # Again: nothing left to publish, no file, a notice.
    again = client.post(
        "/supervisor/exports/results",
        data={"published_on": "2026-04-21", "csrf_token": client.csrf_token},  # type: ignore[attr-defined]
        follow_redirects=False,
    )
    assert again.status_code == 303 and "notice=" in again.headers["location"]


def test_plan_announcement_download(web_store: WebStore, client_as: Client) -> None:
    client = client_as("supervisor")
    response = client.get(f"/supervisor/exports/plan.xlsx?plan={web_store.plan_id}&published_on=2026-01-05")
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    assert "抽中名单" in book.sheetnames
    missing = client.get("/supervisor/exports/plan.xlsx?plan=P-none")
    assert missing.status_code == 400 and "P-none" in missing.text
