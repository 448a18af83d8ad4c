"""Pages from Jinja2 templates: `render(request, "inspector/week.html", account=account, **ctx)`.

Autoescaping is on for every template (a subject named `<script>` shows as text). Every page gets `account`, the
role's navigation (`nav`, from each page module's NAV), `csrf_token` and `csrf_field()` (the hidden input every POST
form includes; base.html also sends the token as the X-CSRF-Token header of every htmx request).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from entities.identity import Role
from web.auth import CSRF_FIELD, Account

TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(
    env=jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True)
)
ROLE_HOME = {Role.INSPECTOR: "检查人员", Role.SUPERVISOR: "监管负责人", Role.AUDITOR: "审计人员"}


def nav_for(request: Request, account: Account | None) -> list[tuple[str, str]]:
    if account is None:
        return []
    nav: dict[Role, list[tuple[str, str]]] = getattr(request.app.state, "nav", {})
    return list(nav.get(account.role, []))


def render(
    request: Request, template: str, *, account: Account | None = None, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    token = str(getattr(request.state, "csrf_token", "") or "")

    def csrf_field() -> Markup:
        return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">')

    context = {
        "account": account,
        "nav": nav_for(request, account),
        "csrf_token": token,
        "csrf_field": csrf_field,
        "path": request.url.path,
        **ctx,
    }
    response: HTMLResponse = templates.TemplateResponse(request, template, context, status_code=status_code)
    return response
