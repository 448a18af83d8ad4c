"""The authorisation matrix, generated from the app's route table: every route × (anonymous, each role) → allowed,
403, or sent to sign in (401 on /api/). A route with neither an `allow(...)` dependency nor a place in
web.auth.PUBLIC fails here, so a new route cannot be missed."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount

from entities.identity import Role
from tests.web.conftest import BY_ROLE, sign_in
from web.auth import is_public, roles_of

PARAM = re.compile(r"\{([^}:]+)(:[^}]+)?\}")


@dataclass(frozen=True)
class Entry:
    """One route as the app serves it (FastAPI keeps included routers as lazy branches of app.routes)."""

    path: str
    methods: frozenset[str]
    api_route: bool
    mount: bool
    dependant: Any


def entries(app: FastAPI) -> list[Entry]:
    found = []
    for ctx in iter_route_contexts(app.routes):
        original: BaseRoute = ctx.original_route
        found.append(
            Entry(
                path=str(ctx.path or ""),
                methods=frozenset(ctx.methods or ()),
                api_route=isinstance(original, APIRoute),
                mount=isinstance(original, Mount),
                dependant=getattr(ctx, "dependant", None) if isinstance(original, APIRoute) else None,
            )
        )
    return found


def declared_roles(route: Entry) -> frozenset[Role] | None:
    """The roles the route's allow() admits (also when declared on its router), or None if it has none."""
    if route.dependant is None:
        return None
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        roles = roles_of(dep.call)
        if roles is not None:
            return roles
        stack.extend(dep.dependencies)
    return None


def undeclared(app: FastAPI) -> list[str]:
    """Routes with neither allow() nor a PUBLIC entry."""
    missing = []
    for route in entries(app):
        if is_public(route.path + "/" if route.mount else route.path):
            continue
        if declared_roles(route) is None:
            missing.append(f"{sorted(route.methods or {'MOUNT'})} {route.path}")
    return missing


def concrete(path: str) -> str:
    """A path with each parameter filled with a value no store holds (the handler then finds nothing)."""
    return PARAM.sub(lambda m: f"no-such-{m.group(1)}", path)


def sends_to_login(response, api: bool) -> bool:  # type: ignore[no-untyped-def]
    if api:
        return response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"
    return response.status_code == 303 and response.headers["location"].startswith("/login?next=")


def test_every_route_declares_who_may_use_it(client_as: Callable[[str | None], TestClient]) -> None:
    app = client_as(None).app
    assert isinstance(app, FastAPI)
    assert undeclared(app) == []


def test_a_route_without_a_declaration_is_caught(client_as: Callable[[str | None], TestClient]) -> None:
    app = client_as(None).app
    assert isinstance(app, FastAPI)

    @app.get("/forgotten")
    def forgotten() -> dict[str, bool]:
        return {"ok": True}

    assert undeclared(app) == ["['GET', 'HEAD'] /forgotten"] or undeclared(app) == ["['GET'] /forgotten"]


def test_matrix(client_as: Callable[[str | None], TestClient]) -> None:
    clients = {"anonymous": client_as(None)} | {role: client_as(role) for role in BY_ROLE}
    app = clients["anonymous"].app
    assert isinstance(app, FastAPI)
    problems: list[str] = []
    checked = 0
    routes = [r for r in entries(app) if r.api_route and not is_public(r.path)]
    # Signing out ends the session the other checks use: it goes last.
    routes.sort(key=lambda r: r.path == "/logout")
    for route in routes:
        roles = declared_roles(route)
        assert roles is not None, route.path
        api = route.path.startswith("/api/")
        for method in sorted(route.methods - {"HEAD"}):
            url = concrete(route.path)
            for who, client in clients.items():
                response = client.request(method, url, follow_redirects=False)
                checked += 1
                label = f"{who}: {method} {route.path} → {response.status_code}"
                if who == "anonymous":
                    if not sends_to_login(response, api):
                        problems.append(f"{label}, expected to be sent to sign in")
                elif Role(who) in roles:
                    if response.status_code in (401, 403) or sends_to_login(response, api):
                        problems.append(f"{label}, expected to be allowed")
                elif response.status_code != 403 or (api and response.json()["error"]["code"] != "forbidden"):
                    problems.append(f"{label}, expected 403")
                if who != "anonymous" and client.get("/api/whoami").status_code != 200:
                    sign_in(client, BY_ROLE[who])  # the route signed the account out (POST /logout)
    assert problems == []
    assert checked >= 4 * 5  # the foundation's own routes at least: /, /logout, /jobs/…, /api/whoami, /api/jobs/…
