"""Rule packs through the supervisor's pages and API: upload a changed pack → check and test → what-if report (a
job) → propose → a second supervisor approves → publish. Four eyes hold: the proposer cannot approve, nothing is
published unapproved, a version label lower than the active one is refused; rollback is proposed and approved."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import rules as bundled_packs
from engine import publish as engine_publish
from entities import store
from tests.web.conftest import WebStore
from tests.web.test_supervisor import wait
from web.pages.supervisor_work import UPLOADS_ENV

Client = Callable[[str | None], TestClient]


@pytest.fixture(autouse=True)
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every app of these tests unpacks uploads under the test's own folder."""
    root = tmp_path / "uploads"
    monkeypatch.setenv(UPLOADS_ENV, str(root))
    return root


def national_zip(version: str | None = None, *, change: bool = True) -> bytes:
    """The bundled national pack as a zip, with its version label set and a parameter changed."""
    base = bundled_packs.bundled("national")
    assert base is not None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted(base.rglob("*")):
            if not p.is_file():
                continue
            data = p.read_bytes()
            if p.name == "pack.yaml" and version is not None:
                data = re.sub(rb"(?m)^version: .*$", f'version: "{version}"'.encode(), data, count=1)
                if change:
                    data += b"\n# changed for the web test\n"
            z.writestr(f"national/{p.relative_to(base).as_posix()}", data)
    return buf.getvalue()


def upload(client: TestClient, data: bytes) -> str:
    response = client.post(
        "/supervisor/packs/upload",
        files=[("files", ("national.zip", data, "application/zip"))],
        data={"csrf_token": client.csrf_token},  # type: ignore[attr-defined]
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/supervisor/packs/uploads/([0-9a-f]{16})", response.headers["location"])
    assert found is not None
    return found.group(1)


def post(client: TestClient, path: str, **data: str) -> Any:
    return client.post(path, data={**data, "csrf_token": client.csrf_token}, follow_redirects=False)  # type: ignore[attr-defined]


def active(url: str) -> dict[str, Any] | None:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            entry = engine_publish.active(conn)
            return None if entry is None else engine_publish.publication(entry)
    finally:
        engine.dispose()


def proposal_id(text: str) -> str:
    found = re.search(r"(PR[0-9]+)", text)
    assert found is not None, text
    return found.group(1)


def test_upload_whatif_propose_approve_publish(web_store: WebStore, client_as: Client) -> None:
    sup1, sup2 = client_as("sup1"), client_as("sup2")
    uid = upload(sup1, national_zip("2099.1"))
    page = sup1.get(f"/supervisor/packs/uploads/{uid}")
    assert page.status_code == 200
    assert 'id="check-result">没有错误' in page.text
    assert re.search(r'id="test-result">\d+ 个通过，0 个失败', page.text)

    # The what-if: a job that writes the CLI's HTML report.
    started = post(sup1, f"/supervisor/packs/uploads/{uid}/whatif", as_of="2025-12-31")
    assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
    job = wait(sup1, started.headers["location"].rsplit("/", 1)[1])
    assert job["status"] == "done", job
    report = sup1.get(job["result"]["url"])
    assert report.status_code == 200 and "<html" in report.text and "2025-12-31" in report.text

    # Propose (sup1): recorded, pending; publishing before approval is refused, nothing published.
    proposed = post(sup1, f"/supervisor/packs/uploads/{uid}/propose", reason="调整参数")
    assert proposed.status_code == 303, proposed.text
    pid = proposal_id(sup1.get(proposed.headers["location"]).text)
    early = post(sup1, f"/supervisor/packs/proposals/{pid}/publish")
    assert early.status_code == 400 and active(web_store) is None

    # The proposer cannot approve it (four eyes): 403, still pending.
    own = post(sup1, f"/supervisor/packs/proposals/{pid}/review", decision="approve", reason="自己批准")
    assert own.status_code == 403 and "four eyes" in own.text
    listed = sup1.get("/api/supervisor/packs").json()
    assert [p["status"] for p in listed["proposals"] if p["id"] == pid] == ["pending"]

    # sup2 approves; sup1 publishes; the ledger names each.
    approved = post(sup2, f"/supervisor/packs/proposals/{pid}/review", decision="approve", reason="已核对")
    assert approved.status_code == 303, approved.text
    published = post(sup1, f"/supervisor/packs/proposals/{pid}/publish")
    assert published.status_code == 303, published.text
    now = active(web_store)
    assert now is not None and now["pack"]["version"] == "2099.1"
    assert now["actor"]["user"] == "sup1"
    overview = sup2.get("/api/supervisor/packs").json()
    mine = next(p for p in overview["proposals"] if p["id"] == pid)
    assert mine["status"] == "published" and mine["review"]["by"] == "sup2"
    assert "2099.1" in sup2.get("/supervisor/packs").text


def test_a_lower_version_is_refused_and_rollback_is_approved(web_store: WebStore, client_as: Client) -> None:
    sup1, sup2 = client_as("sup1"), client_as("sup2")
    api1 = sup1.post(
        "/api/supervisor/packs/upload", files=[("files", ("n.zip", national_zip("2099.1"), "application/zip"))]
    ).json()
    assert api1["ok"] and api1["errors"] == 0 and api1["failed"] == 0
    pid = sup1.post(f"/api/supervisor/packs/uploads/{api1['upload']}/propose", json={"reason": "新版"}).json()[
        "proposal"
    ]["id"]
    assert sup2.post(
        f"/api/supervisor/packs/proposals/{pid}/review", json={"decision": "approve", "reason": "可"}
    ).json()["ok"]
    first = sup2.post(f"/api/supervisor/packs/proposals/{pid}/publish").json()
    assert first["ok"] and first["new"]
    first_run = first["publication"]["run_id"]

    # A lower label than the active one: refused in one line, nothing recorded.
    lower = sup1.post(
        "/api/supervisor/packs/upload", files=[("files", ("n.zip", national_zip("2098.9"), "application/zip"))]
    ).json()
    refused = sup1.post(f"/api/supervisor/packs/uploads/{lower['upload']}/propose", json={"reason": "旧号"})
    assert refused.status_code == 400
    body = refused.json()
    assert body["ok"] is False and "lower than the active" in body["error"]["message"]

    # A higher one goes through, then a rollback to the first: proposed, approved by the other, published.
    higher = sup1.post(
        "/api/supervisor/packs/upload", files=[("files", ("n.zip", national_zip("2099.2"), "application/zip"))]
    ).json()
    pid2 = sup1.post(f"/api/supervisor/packs/uploads/{higher['upload']}/propose", json={"reason": "再调"}).json()[
        "proposal"
    ]["id"]
    sup2.post(f"/api/supervisor/packs/proposals/{pid2}/review", json={"decision": "approve", "reason": "可"})
    assert sup1.post(f"/api/supervisor/packs/proposals/{pid2}/publish").json()["ok"]
    back = post(sup2, "/supervisor/packs/rollback", ref=first_run, reason="新参数导致漏检")
    assert back.status_code == 303, back.text
    rb = proposal_id(sup2.get(back.headers["location"]).text)
    assert post(sup2, f"/supervisor/packs/proposals/{rb}/review", decision="approve", reason="x").status_code == 403
    assert (
        post(sup1, f"/supervisor/packs/proposals/{rb}/review", decision="approve", reason="同意回退").status_code == 303
    )
    assert post(sup2, f"/supervisor/packs/proposals/{rb}/publish").status_code == 303
    now = active(web_store)
    assert now is not None and now["pack"]["version"] == "2099.1" and now["earlier"] == [first_run]


def test_bad_uploads_and_roles(client_as: Client) -> None:
    sup1 = client_as("sup1")
    bad = sup1.post("/api/supervisor/packs/upload", files=[("files", ("x.zip", b"not a zip", "application/zip"))])
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "规则包文件：x.zip 不是有效的 zip 压缩包"
    page = sup1.post(
        "/supervisor/packs/upload",
        files=[("files", ("../evil.yaml", b"x: 1", "text/yaml"))],
        data={"csrf_token": sup1.csrf_token},  # type: ignore[attr-defined]
    )
    assert page.status_code == 400 and "规则包文件" in page.text
    assert sup1.get("/supervisor/packs/uploads/0123456789abcdef").status_code == 400
    inspector = client_as("inspector")
    assert inspector.get("/supervisor/packs").status_code == 403
    assert (
        inspector.post("/api/supervisor/packs/upload", files=[("files", ("x.zip", b"", "application/zip"))]).status_code
        == 403
    )


def test_blank_reasons_are_refused_in_chinese_and_nothing_is_recorded(web_store: WebStore, client_as: Client) -> None:
    sup1, sup2 = client_as("sup1"), client_as("sup2")
    uid = upload(sup1, national_zip("2099.1"))
    blank = sup1.post(f"/api/supervisor/packs/uploads/{uid}/propose", json={"reason": "  "})
    assert blank.status_code == 400
    assert blank.json()["error"]["message"] == "字段 reason：请填写提议理由"
    assert sup1.get("/api/supervisor/packs").json()["proposals"] == []
    pid = sup1.post(f"/api/supervisor/packs/uploads/{uid}/propose", json={"reason": "新版"}).json()["proposal"]["id"]
    review = post(sup2, f"/supervisor/packs/proposals/{pid}/review", decision="approve", reason="")
    assert review.status_code == 400 and "字段 reason：请填写审核意见" in review.text
    assert [p["status"] for p in sup2.get("/api/supervisor/packs").json()["proposals"]] == ["pending"]
    rollback = sup1.post("/api/supervisor/packs/rollback", json={"ref": "2026.3"})
    assert rollback.json()["error"]["message"] == "字段 reason：请填写回退理由"
