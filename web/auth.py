"""Who is asking, and may they: sessions, API tokens, CSRF and the `allow(...)` dependency every route declares.

    account: Account = Depends(allow(Role.INSPECTOR))        # inspectors only
    account: Account = Depends(allow())                      # any signed-in role

Anonymous: a page redirects (303) to /login?next=…, an /api/ route answers 401 with the error envelope. A signed-in
role not allowed: 403 (a Chinese page, or the envelope). A POST/PUT/PATCH/DELETE signed in by cookie must carry the
session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`), else 403; a request with an API token
(`Authorization: Bearer …`) carries no ambient authority a third-party page could borrow, so it needs none.
Routes open to anyone are listed in PUBLIC; tests/web/test_authorisation_matrix.py fails on a route with neither.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from engine.access import accounts, attempts, sessions
from entities.identity import Identity, Role
from web.db import engine_of, now

COOKIE = "suijian_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths (or path prefixes ending in /) anyone may open: the sign-in form, the static assets, the API's description.
PUBLIC = frozenset({"/login", "/static/", "/api/openapi.json", "/api/docs"})


@dataclass(frozen=True)
class Account:
    """The signed-in person: `name` is the login (an inspector's equals the roster's 登录账号)."""

    name: str
    role: Role
    display: str


def identity_of(account: Account) -> Identity:
    """The identity the ledger records for what this account does (never SUIJIAN_USER): the login, which is unique
    and never changes (a display name may), is what the engine matches against — an inspector's recorder is found by
    the roster's 登录账号, and four eyes compare the proposer's and the approver's users."""
    return Identity(account.name, account.role)


class Refused(Exception):
    """A request refused before its handler ran: web.errors turns it into a redirect, a page or the envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def is_public(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC)


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?" + urllib.parse.urlencode({"next": target})


def set_session_cookie(request: Request, response: Response, value: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def client_of(request: Request) -> str:
    """The client's address, as the rate limit counts it (behind a proxy: uvicorn's --proxy-headers view of it)."""
    return request.client.host if request.client else "unknown"


TOKEN_TRIES = "(API 令牌)"  # the account name a failed bearer token is counted under, per client address


@dataclass(frozen=True)
class Found:
    account: Account | None
    session: sessions.Session | None  # None for an API token
    key: bytes
    problem: str | None = None  # bad_token | rate_limited: why a bearer token was not taken


def _lookup(request: Request) -> Found:
    """The account behind the request's bearer token or session cookie (None if neither is valid)."""
    engine = engine_of(request)
    header = request.headers.get("authorization", "")
    key: bytes = request.app.state.secret
    with engine.begin() as conn:
        if header.lower().startswith("bearer "):
            client, at = client_of(request), now()
            # Guessing tokens is guessing passwords: the same per-address limit as the sign-in form.
            if attempts.client_blocked(conn, client, now=at):
                return Found(None, None, key, "rate_limited")
            row = accounts.by_token(conn, header[7:].strip())
            if row is None or not row.enabled:
                attempts.record(conn, TOKEN_TRIES, client, False, now=at)
                return Found(None, None, key, "bad_token")
            return Found(_account(row), None, key)
        raw = sessions.raw_id_of(key, request.cookies.get(COOKIE, ""))
        session = sessions.find(conn, raw, now=now()) if raw else None
        if session is None or session.account is None:
            return Found(None, session, key)
        row = accounts.find(conn, session.account, link=False)
        return Found(_account(row), session, key)


def _account(row: accounts.AccountRow | None) -> Account | None:
    if row is None or not row.enabled:
        return None
    return Account(row.name, row.role, row.display)


async def signed_in(request: Request) -> Found:
    """Who the request comes from (cached on the request); sets request.state.csrf_token for the templates."""
    if not hasattr(request.state, "found"):
        found = await run_in_threadpool(_lookup, request)
        request.state.found = found
        request.state.csrf_token = (
            sessions.csrf_token(found.key, found.session.raw_id) if found.session is not None else ""
        )
    result: Found = request.state.found
    return result


async def _csrf_given(request: Request) -> str | None:
    given = request.headers.get(CSRF_HEADER)
    if given:
        return given
    if request.headers.get("content-type", "").split(";")[0] in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        value = (await request.form()).get(CSRF_FIELD)  # starlette keeps the parsed form for the handler
        return value if isinstance(value, str) else None
    return None


async def check_csrf(request: Request, found: Found) -> None:
    if request.method in SAFE_METHODS or found.session is None:
        return
    if not sessions.csrf_ok(found.key, found.session.raw_id, await _csrf_given(request)):
        raise Refused(403, "csrf", "请求缺少有效的安全令牌（CSRF）：请刷新页面后重试")


def allow(*roles: Role) -> Callable[[Request], Awaitable[Account]]:
    """The dependency that admits the signed-in accounts of `roles` (none given: every role)."""
    allowed = frozenset(roles) if roles else frozenset(Role)

    async def dependency(request: Request) -> Account:
        found = await signed_in(request)
        account = found.account
        if found.problem == "rate_limited":
            raise Refused(
                429, "rate_limited", f"无效令牌尝试次数过多，请 {int(attempts.WINDOW.total_seconds() // 60)} 分钟后再试"
            )
        if found.problem == "bad_token":
            raise Refused(401, "unauthenticated", "API 令牌无效，或其账号已停用")
        if account is None:
            raise Refused(401, "unauthenticated", "请先登录")
        if account.role not in allowed:
            needed = "、".join(r.label for r in Role if r in allowed)
            raise Refused(403, "forbidden", f"{account.role.label}无权执行此操作（需要{needed}）")
        await check_csrf(request, found)
        return account

    dependency.roles = allowed  # type: ignore[attr-defined]  # read by the authorisation matrix test
    return dependency


def roles_of(call: object) -> frozenset[Role] | None:
    """The roles an allow() dependency admits, or None for any other callable."""
    roles = getattr(call, "roles", None)
    return roles if isinstance(roles, frozenset) else None
