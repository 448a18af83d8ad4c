"""The ASGI app: `create_app(db_url)` opens the store (as the CLI does) and includes every router.

Routers are found by module name (ROUTERS) rather than imported at the top, so a page module may import from
web.app without an import cycle; each module has `router`, and a page module also `NAV` (its role's links).
Routes are written with their full path (no prefix is added). Every route declares `allow(...)` (web.auth) or is in
web.auth.PUBLIC.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from engine.access import sessions
from entities import store
from entities.identity import Role
from web import errors, jobs
from web.db import get_conn

__all__ = ["create_app", "get_conn"]

STATIC = Path(__file__).parent / "static"
ROUTERS = (
    "web.login",
    "web.jobs",
    "web.docs",
    "web.api.accounts",
    "web.pages.inspector",
    "web.pages.supervisor",
    "web.pages.auditor",
    "web.api.inspector",
    "web.api.supervisor",
    "web.api.auditor",
)
NAV_OF = {
    "web.pages.inspector": Role.INSPECTOR,
    "web.pages.supervisor": Role.SUPERVISOR,
    "web.pages.auditor": Role.AUDITOR,
}
# Every asset is the app's own (no CDN: the office network may have no internet); no page may be framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_app(db_url: str) -> FastAPI:
    """The web app on the store at `db_url` (a StoreError if it is missing or not at the current schema)."""
    engine = store.open_store(db_url)
    with engine.begin() as conn:
        sessions.secret(conn)
        jobs.interrupted(conn)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="随检 suijian",
        version=version("suijian"),
        description="双随机、一公开：检查人员、监管负责人、审计人员的网页与 JSON API。",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.nav = {role: [] for role in Role}
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for name in ROUTERS:
        module = importlib.import_module(name)
        app.include_router(module.router)
        if name in NAV_OF:
            app.state.nav[NAV_OF[name]] = list(getattr(module, "NAV", []))
    errors.install(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")  # pages hold personal data
        return response

    return app
