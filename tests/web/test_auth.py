"""Signing in and out, sessions, CSRF, the rate limit, disabled accounts and API tokens — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from engine.access import accounts, attempts, sessions
from entities import store
from tests.web.conftest import CSRF_INPUT, password, sign_in
from web.auth import COOKIE

T0 = dt.datetime(2026, 3, 2, 9, 0)


def run(url: str, fn, *args, **kw):  # type: ignore[no-untyped-def]
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            return fn(conn, *args, **kw)
    finally:
        engine.dispose()


def login_form(client: TestClient) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    found = CSRF_INPUT.search(page.text)
    assert found is not None
    return found.group(1)


def post_login(client: TestClient, name: str, pw: str, token: str | None = None, next_path: str = "/"):  # type: ignore[no-untyped-def]
    return client.post(
        "/login",
        data={
            "name": name,
            "password": pw,
            "csrf_token": token if token is not None else login_form(client),
            "next": next_path,
        },
        follow_redirects=False,
    )


def test_sign_in_rotates_the_session_and_sign_out_ends_it(
    access_store: str, client_on: Callable[[str], TestClient]
) -> None:
    client = client_on(access_store)
    token = login_form(client)
    before = client.cookies[COOKIE]
    response = post_login(client, "sup1", password("sup1"), token, next_path="/api/whoami")
    assert (response.status_code, response.headers["location"]) == (303, "/api/whoami")
    after = client.cookies[COOKIE]
    assert after != before
    assert client.get("/api/whoami").json()["account"] == {"name": "sup1", "role": "supervisor", "display": "科长一"}

    # The cookie from before sign-in (e.g. planted by someone else) is not a signed-in session.
    planted = client_on(access_store)
    planted.cookies[COOKIE] = before
    assert planted.get("/api/whoami").status_code == 401
    assert planted.get("/", follow_redirects=False).headers["location"] == "/login?next=%2F"

    copied = client_on(access_store)
    copied.cookies[COOKIE] = after
    assert copied.get("/api/whoami").status_code == 200
    out = client.post("/logout", follow_redirects=False, headers={"X-CSRF-Token": sign_in_token(client)})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    # The copied cookie died with the session.
    assert copied.get("/api/whoami").json() == {
        "ok": False,
        "error": {"code": "unauthenticated", "message": "请先登录"},
    }


def sign_in_token(client: TestClient) -> str:
    found = CSRF_INPUT.search(client.get("/").text)
    assert found is not None
    return found.group(1)


def test_a_forged_cookie_is_not_a_session(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = sign_in(client_on(access_store), "aud1")
    raw, _, mac = client.cookies[COOKIE].rpartition(".")
    forged = client_on(access_store)
    forged.cookies[COOKIE] = f"{raw}x.{mac}"
    assert forged.get("/api/whoami").status_code == 401


def test_cookie_flags(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = client_on(access_store)
    header = client.get("/login").headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header and "Secure" not in header
    secure = TestClient(client.app, base_url="https://testserver")
    assert "Secure" in secure.get("/login").headers["set-cookie"]


def test_wrong_password_and_unknown_name_say_the_same(
    access_store: str, client_on: Callable[[str], TestClient]
) -> None:
    client = client_on(access_store)
    for name in ("sup1", "nobody"):
        response = post_login(client, name, "not-the-password")
        assert response.status_code == 401
        assert '<p class="alert" role="alert">账号或密码错误</p>' in response.text
        assert client.get("/api/whoami").status_code == 401
    missing = client.post("/login", data={"name": "sup1", "password": "", "csrf_token": login_form(client)})
    assert missing.status_code == 400 and "请填写密码" in missing.text


def test_the_login_form_needs_its_csrf_token(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = client_on(access_store)
    login_form(client)
    for token in ("", "0" * 64):
        response = post_login(client, "sup1", password("sup1"), token)
        assert response.status_code == 403 and "登录表单已过期" in response.text
    assert client.get("/api/whoami").status_code == 401


def test_state_changes_need_the_csrf_token(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = sign_in(client_on(access_store), "sup1")
    token = client.headers.pop("X-CSRF-Token")
    for headers in ({}, {"X-CSRF-Token": "0" * 64}):
        refused = client.post("/logout", headers=headers, follow_redirects=False)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert client.get("/api/whoami").status_code == 200  # still signed in: nothing happened
    # The token of another session is no good either.
    other = sign_in(client_on(access_store), "sup2")
    assert client.post("/logout", headers={"X-CSRF-Token": other.headers["X-CSRF-Token"]}).status_code == 403
    # As a form field (what a plain HTML form sends) it works.
    done = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/api/whoami").status_code == 401


def test_failed_sign_ins_are_rate_limited(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = client_on(access_store)
    for _ in range(attempts.PER_ACCOUNT):
        assert post_login(client, "sup1", "wrong-password").status_code == 401
    limited = post_login(client, "sup1", password("sup1"))  # even the right password now
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "900")
    assert "登录失败次数过多，请 15 分钟后再试" in limited.text
    assert client.get("/api/whoami").status_code == 401
    # Another account from the same address is still let in, until the address's own limit.
    assert post_login(client, "sup2", password("sup2")).status_code == 303
    other = client_on(access_store)
    for i in range(attempts.PER_CLIENT - attempts.PER_ACCOUNT):
        post_login(other, f"guess{i}", "wrong-password")
    assert post_login(other, "aud1", password("aud1")).status_code == 429


def test_the_rate_limit_window_passes(access_store: str) -> None:
    for i in range(attempts.PER_ACCOUNT):
        run(access_store, attempts.record, "sup1", "10.0.0.1", False, now=T0 + dt.timedelta(minutes=i))
    assert run(access_store, attempts.blocked, "sup1", "10.0.0.2", now=T0 + dt.timedelta(minutes=5))
    assert not run(access_store, attempts.blocked, "sup2", "10.0.0.2", now=T0 + dt.timedelta(minutes=5))
    later = T0 + dt.timedelta(minutes=4) + attempts.WINDOW
    assert not run(access_store, attempts.blocked, "sup1", "10.0.0.1", now=later)


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(
    access_store: str, client_on: Callable[[str], TestClient]
) -> None:
    client = sign_in(client_on(access_store), "insp1")
    assert run(access_store, accounts.disable, "insp1", now=T0) is True
    assert client.get("/api/whoami").status_code == 401
    response = post_login(client_on(access_store), "insp1", password("insp1"))
    assert response.status_code == 401 and "该账号已停用，请联系监管负责人" in response.text
    assert run(access_store, accounts.disable, "insp1", now=T0) is False


def test_sessions_expire(access_store: str) -> None:
    session = run(access_store, sessions.start, "sup1", now=T0)
    assert run(access_store, sessions.find, session.raw_id, now=T0 + sessions.SIGNED_IN - dt.timedelta(seconds=1))
    assert run(access_store, sessions.find, session.raw_id, now=T0 + sessions.SIGNED_IN) is None
    anonymous = run(access_store, sessions.start, None, now=T0)
    assert run(access_store, sessions.find, anonymous.raw_id, now=T0 + sessions.ANONYMOUS) is None


def test_api_tokens(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    token = run(access_store, accounts.new_token, "aud1", "省级平台", now=T0)
    client = client_on(access_store)
    me = client.get("/api/whoami", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {
        "ok": True,
        "account": {"name": "aud1", "role": "auditor", "display": "审计员一"},
        "identity": {"user": "aud1", "role": "auditor"},
    }
    # Only the hash is stored.
    hashes = run(access_store, lambda c: list(c.execute(sa.text("SELECT token_hash FROM api_token")).scalars()))
    assert hashes == [accounts.token_hash(token)] and token not in hashes
    bad = client.get("/api/whoami", headers={"Authorization": "Bearer sj_not-a-token"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    assert bad.json()["error"] == {"code": "unauthenticated", "message": "API 令牌无效，或其账号已停用"}
    run(access_store, accounts.disable, "aud1", now=T0)
    assert client.get("/api/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # Guessing tokens is limited per address like guessing passwords.
    for _ in range(attempts.PER_CLIENT):
        client.get("/api/whoami", headers={"Authorization": "Bearer sj_guess"})
    limited = client.get("/api/whoami", headers={"Authorization": "Bearer sj_guess"})
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert limited.headers["retry-after"] == "900"


def test_a_hash_made_with_other_parameters_is_replaced_at_sign_in(
    access_store: str, client_on: Callable[[str], TestClient]
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password("sup2"))
    t = store.table("account")
    run(access_store, lambda c: c.execute(t.update().where(t.c.name == "sup2").values(password_hash=weak)))
    sign_in(client_on(access_store), "sup2")
    stored = run(access_store, lambda c: c.execute(sa.select(t.c.password_hash).where(t.c.name == "sup2")).scalar())
    assert stored != weak and not accounts.HASHER.check_needs_rehash(stored)
    assert accounts.HASHER.verify(stored, password("sup2"))


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_sends_anyone_off_site(
    access_store: str, client_on: Callable[[str], TestClient], target: str
) -> None:
    response = post_login(client_on(access_store), "sup1", password("sup1"), next_path=target)
    assert (response.status_code, response.headers["location"]) == (303, "/")


def test_what_the_visitor_typed_is_escaped(access_store: str, client_on: Callable[[str], TestClient]) -> None:
    client = client_on(access_store)
    page = client.get("/login", params={"next": '/x"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text
    echoed = post_login(client, '<script>"x"</script>', "wrong-password")
    assert '<script>"x"' not in echoed.text and "&lt;script&gt;&#34;x&#34;&lt;/script&gt;" in echoed.text
