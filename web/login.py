"""Signing in and out, and the home page that sends each role to its first page.

The sign-in form has its own anonymous session (for its CSRF token); signing in deletes it and starts a new one, so a
session id known before sign-in is worthless after (no fixation). Failed attempts are counted per account name and
per client address (engine.access.attempts): past the limit the form answers 429 until the window has passed.
"""

from __future__ import annotations

import urllib.parse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from engine.access import accounts, attempts, sessions
from web.auth import (
    COOKIE,
    CSRF_FIELD,
    Account,
    Found,
    allow,
    client_of,
    set_session_cookie,
    signed_in,
)
from web.db import engine_of, now
from web.templating import render

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only a path on this site (not //host or a scheme), so the sign-in form cannot send anyone elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parsed = urllib.parse.urlsplit(target)
    return target if not parsed.scheme and not parsed.netloc else "/"


def _form(
    request: Request, found: Found, *, next_path: str, name: str = "", error: str = "", status: int = 200
) -> Response:
    """The sign-in form on an anonymous session (a new one when the request has none)."""
    session = found.session
    fresh = session is None or session.account is not None
    if fresh:
        with engine_of(request).begin() as conn:
            session = sessions.start(conn, None, now=now())
    assert session is not None
    request.state.csrf_token = sessions.csrf_token(found.key, session.raw_id)
    response = render(request, "login.html", status_code=status, next=next_path, name=name, error=error)
    if fresh:
        set_session_cookie(request, response, sessions.cookie_value(found.key, session.raw_id), 3600)
    return response


@router.get("/login", summary="登录页")
async def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    found = await signed_in(request)
    if found.account is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return await run_in_threadpool(_form, request, found, next_path=safe_next(next))


def _sign_in(request: Request, found: Found, name: str, password: str, csrf: str, next_path: str) -> Response:
    session = found.session
    if session is None or session.account is not None or not sessions.csrf_ok(found.key, session.raw_id, csrf):
        return _form(request, found, next_path=next_path, name=name, error="登录表单已过期，请重新输入", status=403)
    client, at = client_of(request), now()
    with engine_of(request).begin() as conn:
        if attempts.blocked(conn, name, client, now=at):
            minutes = int(attempts.WINDOW.total_seconds() // 60)
            error = f"登录失败次数过多，请 {minutes} 分钟后再试"
            blocked = True
        else:
            blocked = False
            row = accounts.authenticate(conn, name, password)
            attempts.record(conn, name, client, row is not None and row.enabled, now=at)
            if row is not None and row.enabled:
                new = sessions.start(conn, row.name, now=at, replaces=session.raw_id)
                redirect = RedirectResponse(next_path, status_code=303)
                max_age = int(sessions.SIGNED_IN.total_seconds())
                set_session_cookie(request, redirect, sessions.cookie_value(found.key, new.raw_id), max_age)
                return redirect
            error = "该账号已停用，请联系监管负责人" if row is not None else "账号或密码错误"
    response = _form(request, found, next_path=next_path, name=name, error=error, status=429 if blocked else 401)
    if blocked:
        response.headers["Retry-After"] = str(int(attempts.WINDOW.total_seconds()))
    return response


@router.post("/login", summary="登录")
async def login(
    request: Request,
    name: str = Form("", max_length=64),
    password: str = Form("", max_length=1024),
    next: str = Form("/"),  # noqa: A002
    csrf_token: str = Form("", alias=CSRF_FIELD),
) -> Response:
    found = await signed_in(request)
    name = name.strip()
    if not name or not password:
        missing = "账号" if not name else "密码"
        return await run_in_threadpool(
            _form, request, found, next_path=safe_next(next), name=name, error=f"请填写{missing}", status=400
        )
    return await run_in_threadpool(_sign_in, request, found, name, password, csrf_token, safe_next(next))


def _sign_out(request: Request, found: Found) -> None:
    if found.session is not None:
        with engine_of(request).begin() as conn:
            sessions.end(conn, found.session.raw_id)


@router.post("/logout", summary="退出登录")
async def logout(request: Request, account: Account = Depends(allow())) -> Response:
    await run_in_threadpool(_sign_out, request, await signed_in(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/", summary="首页")
async def home(request: Request, account: Account = Depends(allow())) -> Response:
    return render(request, "home.html", account=account)
