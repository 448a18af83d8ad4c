"""Fixtures of the web app's tests.

- `web_store`: a small demo-like store (400 demo subjects, graded, a 2026Q1 plan with its visit rows; built once per
  session on SQLite and copied per test) with the accounts below. It is the store's URL (a str) and carries
  `.plan_id`, `.inspector` (the roster id insp1 is linked to: the lead of the plan's first visit) and `.visits`.
- `access_store`: a bare store at the current schema with the same accounts (insp1 unlinked), on SQLite and on
  PostgreSQL: for the tests of accounts, sessions and tokens.
- `client_as(role_or_name)`: a TestClient of the app on `web_store`, signed in through the real form as that account
  ("inspector", "supervisor", "auditor" pick insp1, sup1, aud1; or an account name); None: not signed in. Its
  X-CSRF-Token header is set (as htmx sends it); `client.csrf_token` holds the token for form fields.

Accounts: insp1 (inspector), sup1 and sup2 (supervisors), aud1 (auditor); password `pw-<name>-123456`.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.access import accounts
from entities import store
from entities.identity import Role
from tests.results_store import build

ACCOUNTS = {"insp1": Role.INSPECTOR, "sup1": Role.SUPERVISOR, "sup2": Role.SUPERVISOR, "aud1": Role.AUDITOR}
DISPLAY = {"insp1": "检查员一", "sup1": "科长一", "sup2": "科长二", "aud1": "审计员一"}
BY_ROLE = {"inspector": "insp1", "supervisor": "sup1", "auditor": "aud1"}
CREATED = dt.datetime(2026, 1, 5, 8, 0)


def password(name: str) -> str:
    return f"pw-{name}-123456"


class WebStore(str):
    """A store URL that also says what the store holds."""

    plan_id: str
    inspector: str
    visits: list[dict[str, Any]]


def add_accounts(url: str, *, inspector: str | None) -> None:
    """insp1, sup1, sup2, aud1; insp1 linked to roster inspector `inspector` (its 登录账号 becomes insp1)."""
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            if inspector is not None:
                t = store.table("inspector")
                conn.execute(t.update().where(t.c.id == inspector).values(user_name="insp1"))
            for name, role in ACCOUNTS.items():
                accounts.add(
                    conn, name, role, password(name), display=DISPLAY[name], now=CREATED, unlinked=inspector is None
                )
    finally:
        engine.dispose()


_TEMPLATE: dict[str, Any] = {}


@pytest.fixture(scope="session")
def web_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, list[dict[str, Any]]]:
    directory = tmp_path_factory.mktemp("web-store")
    url = f"sqlite:///{directory / 'store.db'}"
    engine = store.make_engine(url)
    store.initialise(engine)
    engine.dispose()
    mp = pytest.MonkeyPatch()
    mp.setenv("SUIJIAN_USER", "测试员 tester")
    mp.setenv("SUIJIAN_ROLE", "supervisor")
    try:
        plan_id, visits = build(url, subjects=400)
    finally:
        mp.undo()
    inspector = str(visits[0]["lead"])
    add_accounts(url, inspector=inspector)
    return directory / "store.db", plan_id, inspector, visits


@pytest.fixture
def web_store(web_template: tuple[Path, str, str, list[dict[str, Any]]], tmp_path: Path) -> WebStore:
    source, plan_id, inspector, visits = web_template
    target = tmp_path / "store.db"
    shutil.copy(source, target)
    url = WebStore(f"sqlite:///{target}")
    url.plan_id, url.inspector, url.visits = plan_id, inspector, visits
    return url


@pytest.fixture
def access_store(store_url: str) -> str:
    add_accounts(store_url, inspector=None)
    return store_url


CSRF_INPUT = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def sign_in(client: TestClient, name: str, pw: str | None = None) -> TestClient:
    """Sign in through the form as a browser does: GET /login (session + token), POST the form."""
    page = client.get("/login")
    token = CSRF_INPUT.search(page.text)
    assert token is not None, page.text
    response = client.post(
        "/login",
        data={"name": name, "password": pw or password(name), "csrf_token": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    home = client.get("/")
    found = CSRF_INPUT.search(home.text)
    assert found is not None
    client.csrf_token = found.group(1)  # type: ignore[attr-defined]
    client.headers["X-CSRF-Token"] = found.group(1)
    return client


def app_client(url: str) -> TestClient:
    from web.app import create_app

    return TestClient(create_app(url))


@pytest.fixture
def client_as(web_store: WebStore) -> Iterator[Callable[[str | None], TestClient]]:
    made: list[TestClient] = []

    def make(role_or_name: str | None) -> TestClient:
        client = app_client(web_store)
        made.append(client)
        if role_or_name is None:
            return client
        return sign_in(client, BY_ROLE.get(role_or_name, role_or_name))

    yield make
    for client in made:
        client.close()
