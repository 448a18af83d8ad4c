"""The app's frame: the error envelope on every /api/ error, Chinese error pages, the API description with no
asset from outside, security headers, the vendored htmx."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from entities.errors import InputError
from tests.web.conftest import sign_in
from web.auth import Account, allow


def test_api_errors_use_the_envelope(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = sign_in(client_on(access_store), "sup1")
    app = client.app
    assert isinstance(app, FastAPI)

    @app.get("/api/test/count/{n}")
    async def count(n: int, account: Account = Depends(allow())) -> dict[str, int]:
        return {"n": n}

    @app.get("/api/test/refused")
    async def refused(account: Account = Depends(allow())) -> dict[str, int]:
        raise InputError("seed: 至少 20 个字符")

    assert client.get("/api/test/count/3").json() == {"n": 3}
    cases = {
        "/api/test/count/three": (422, "input", "字段 n（路径参数）：应为整数"),
        "/api/test/refused": (400, "input", "seed: 至少 20 个字符"),
        "/api/no/such/thing": (404, "not_found", "页面不存在"),
    }
    for path, (status, code, message) in cases.items():
        response = client.get(path)
        assert (response.status_code, response.json()) == (
            status,
            {"ok": False, "error": {"code": code, "message": message}},
        ), path
    wrong_method = client.delete("/api/whoami")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_pages_answer_errors_in_chinese(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = sign_in(client_on(access_store), "insp1")
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "<h1>未找到</h1>" in missing.text and "检查员一" in missing.text
    too_long = client.post("/login", data={"name": "x" * 65, "password": "p", "csrf_token": "t"})
    assert too_long.status_code == 422 and "字段 name（表单）" in too_long.text


def test_the_api_is_described_without_outside_assets(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = client_on(access_store)
    spec = client.get("/api/openapi.json").json()
    assert "/api/whoami" in spec["paths"] and spec["info"]["title"] == "随检 suijian"
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "<code>/api/whoami</code>" in docs.text and "当前账号" in docs.text
    # Every asset the page loads is the app's own (the office network may have no internet).
    assert re.findall(r'(?:src|href)="(?!/)[^"#]', docs.text) == []
    for gone in ("/docs", "/redoc"):
        assert client.get(gone).status_code == 404


def test_security_headers_and_the_vendored_htmx(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = client_on(access_store)
    page = client.get("/login")
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert '<script src="/static/htmx.min.js" defer></script>' in page.text
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and htmx.text.startswith("var htmx=function(){")
    assert client.get("/static/app.css").status_code == 200


def test_base_layout_is_role_aware(client_as: Callable[[str | None], TestClient]) -> None:
    for role, label in (("inspector", "检查人员"), ("supervisor", "监管负责人"), ("auditor", "审计人员")):
        page = client_as(role).get("/")
        assert page.status_code == 200
        assert f'<span class="role">{label}</span>' in page.text
        assert 'hx-headers=\'{"X-CSRF-Token": "' in page.text
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text


def test_get_conn_commits_a_handler_s_writes_and_rolls_back_a_failure(
    access_store: str, client_on: Callable[[str], TestClient]
) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

    from web.app import get_conn  # the contract's name (web.db's, re-exported)

    client = sign_in(client_on(access_store), "sup1")
    app = client.app
    assert isinstance(app, FastAPI)
    setting = sa.table("web_setting", sa.column("key"), sa.column("value"))

    @app.post("/api/test/setting/{key}")
    async def put(key: str, account: Account = Depends(allow()), conn: Connection = Depends(get_conn)) -> dict:  # type: ignore[type-arg]
        conn.execute(setting.insert().values(key=key, value=account.name))
        if key == "fails":
            raise InputError("写入后出错：不应留下任何东西")
        return {"ok": True}

    assert client.post("/api/test/setting/kept").json() == {"ok": True}
    assert client.post("/api/test/setting/fails").status_code == 400
    engine = app.state.engine
    with engine.connect() as conn:
        keys = set(conn.execute(sa.text("SELECT key FROM web_setting")).scalars())
    assert "kept" in keys and "fails" not in keys
