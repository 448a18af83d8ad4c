"""Every refusal and error as the surface expects it: /api/… answers the CLI's envelope
`{"ok": false, "error": {"code": …, "message": …}}` with the HTTP status; a page answers a Chinese page (an anonymous
visitor is sent to the sign-in form instead).

Codes besides the CLI's (usage, forbidden, input, store, …): unauthenticated (401), csrf (403), not_found (404),
method_not_allowed (405), busy (409, a job of the same scope runs), rate_limited (429), error (500).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from entities.errors import Forbidden, InputError, NoIdentity, StoreError, SuijianError, UsageError
from web.auth import Refused, is_api, login_url
from web.templating import render

log = logging.getLogger("suijian.web")

HTTP_CODES = {
    400: ("input", "请求有误"),
    401: ("unauthenticated", "请先登录"),
    403: ("forbidden", "无权访问"),
    404: ("not_found", "页面不存在"),
    405: ("method_not_allowed", "不支持此请求方式"),
    409: ("busy", "同类任务正在运行"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
}
FIELD_NAMES = {"body": "表单", "query": "查询参数", "path": "路径参数", "header": "请求头", "cookie": "Cookie"}


def envelope(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"ok": False, "error": {"code": code, "message": message}}, status, headers=headers)


def answer(request: Request, status: int, code: str, message: str) -> Response:
    """The envelope for /api/…, else the Chinese error page (with the signed-in account's navigation)."""
    if is_api(request):
        return envelope(status, code, message)
    found = getattr(request.state, "found", None)
    account = getattr(found, "account", None)
    return render(request, "error.html", account=account, status_code=status, status=status, message=message)


def suijian_code(exc: SuijianError) -> str:
    """The CLI's envelope code for one of the project's errors (as commands/common.error_code names them)."""
    for kind, code in ((UsageError, "usage"), (Forbidden, "forbidden"), (NoIdentity, "no_identity")):
        if isinstance(exc, kind):
            return code
    if isinstance(exc, StoreError):
        return "store"
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    return "input" if isinstance(exc, InputError) else "error"


def validation_message(exc: RequestValidationError) -> str:
    """The first problem, naming the field: 字段 visit（表单）：必填."""
    errors: list[dict[str, Any]] = list(exc.errors())
    if not errors:
        return "请求内容有误"
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ())]
    where = FIELD_NAMES.get(loc[0], loc[0]) if loc else ""
    field = ".".join(loc[1:]) or where
    kind = str(first.get("type", ""))
    reason = {"missing": "必填", "int_parsing": "应为整数", "date_from_datetime_parsing": "应为日期 YYYY-MM-DD"}.get(
        kind, "格式不正确"
    )
    if kind.startswith("date"):
        reason = "应为日期 YYYY-MM-DD"
    more = f"（另有 {len(errors) - 1} 处问题）" if len(errors) > 1 else ""
    return f"字段 {field}（{where}）：{reason}{more}"


def install(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        if exc.status == 401 and not is_api(request):
            if request.headers.get("hx-request"):
                # htmx would swap the sign-in page into a fragment: ask it to load the whole page instead.
                return Response(status_code=204, headers={"HX-Redirect": login_url(request)})
            return RedirectResponse(login_url(request), status_code=303)
        if is_api(request):
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return envelope(exc.status, exc.code, exc.message, headers)
        return answer(request, exc.status, exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code, default = HTTP_CODES.get(exc.status_code, ("error", "请求未能完成"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail and not exc.detail.isascii() else default
        return answer(request, exc.status_code, code, detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return answer(request, 422, "input", validation_message(exc))

    @app.exception_handler(SuijianError)
    async def ours(request: Request, exc: SuijianError) -> Response:
        code = suijian_code(exc)
        status = (
            403
            if isinstance(exc, Forbidden)
            else 503
            if isinstance(exc, StoreError)
            else 409
            if code == "busy"
            else 400
        )
        return answer(request, status, code, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return answer(request, 500, "error", "服务器内部错误，已记录；请稍后再试或联系管理员")
