"""Shared fixtures: a fresh store on SQLite and on PostgreSQL for every store test.

PostgreSQL tests use SUIJIAN_TEST_PG (default: the local server's `test` database), each test in its own
schema. Without CI they are skipped if the server is unreachable; with CI=true they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

from entities import store
from tests import store_template

# CI runs hypothesis derandomized: the same commit gives the same verdict (no flaky landing); local runs keep
# exploring new examples, and a failure they find becomes a regression test.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    settings.load_profile("ci")

PG_URL = os.environ.get("SUIJIAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _pg_available() -> str | None:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"


_PG_PROBLEM = _pg_available()


def require_pg() -> None:
    if _PG_PROBLEM is None:
        return
    message = f"PostgreSQL at {PG_URL} unreachable: {_PG_PROBLEM}"
    if IN_CI:
        pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
    pytest.skip(message)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated store in a fresh PostgreSQL schema, dropped afterwards."""
    require_pg()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'suijian.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An unmigrated store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'suijian.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return store_template.migrated_sqlite(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def _pg_template() -> tuple[str, str] | None:
    require_pg()
    return store_template.migrated_pg(PG_URL)


@pytest.fixture
def store_url(empty_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A store at the current schema with the built-in regions, on SQLite and on PostgreSQL (a copy of one
    migrated per session: tests/store_template.py)."""
    if empty_url.startswith("sqlite"):
        store_template.copy_sqlite(request.getfixturevalue("_sqlite_template"), empty_url)
    elif (migrated := request.getfixturevalue("_pg_template")) is not None:
        store_template.copy_pg(*migrated, empty_url)
    else:
        engine = store.make_engine(empty_url)
        store.initialise(engine)
        engine.dispose()
    yield empty_url


@pytest.fixture(scope="session")
def store_copies(tmp_path_factory: pytest.TempPathFactory) -> store_template.StoreCopies:
    """States of a store (a demo loaded, graded, planned…) built once per session and backend and copied into
    each test's store_url: `store_copies.fill(store_url, "name", build)`."""
    return store_template.StoreCopies(tmp_path_factory.mktemp("store-copies"))


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    eng = store.open_store(store_url)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test acts as a supervisor unless it says otherwise (state-changing commands need an identity)."""
    monkeypatch.setenv("SUIJIAN_USER", "测试员 tester")
    monkeypatch.setenv("SUIJIAN_ROLE", "supervisor")
    monkeypatch.delenv("SUIJIAN_CONFIG", raising=False)
