"""Stores for the store tests, built once per session and copied into each test's own store.

Running the eleven migrations costs about 0.13 s of CPU per store, and on PostgreSQL about a second of the
server's DDL and commits; the suite makes some 760 such stores. A demo loaded, graded and planned costs seconds
more, and dozens of tests start from the same one. So a state is built once per backend the ordinary way (by
`store.initialise`, by the CLI, by the engine) and every test gets a copy of it: the SQLite file copied, the
PostgreSQL schema re-created from `pg_dump` of the built one (one script). A copy gets a secret of its own, as a
store made by `suijian init` does. Where pg_dump is missing or cannot read the server, PostgreSQL states are built
in each test as before (same stores, only slower).
"""

from __future__ import annotations

import copy
import secrets
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from entities import store

T = TypeVar("T")


def pg_schema(url: str) -> str:
    """The schema a pg_url fixture's URL points into (its search_path option)."""
    return url.rsplit("%3D", 1)[1]


def _sqlite_path(url: str) -> Path:
    return Path(sa.engine.make_url(url).database or "")


def save_sqlite(url: str, target: Path) -> None:
    """The SQLite store at `url` copied to `target` (the backup API: a consistent copy whatever is in the WAL)."""
    source = sqlite3.connect(_sqlite_path(url))
    copied = sqlite3.connect(target)
    try:
        source.backup(copied)
    finally:
        source.close()
        copied.close()


def copy_sqlite(saved: Path, url: str) -> None:
    """The SQLite store at `url` made a copy of `saved`, with its own secret."""
    path = _sqlite_path(url)
    for stale in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(saved, path)
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("UPDATE web_setting SET value = ? WHERE key = 'secret'", (secrets.token_hex(32),))
    finally:
        conn.close()


def dump_pg(url: str) -> str | None:
    """The SQL that re-creates the PostgreSQL store of `url` (a pg_url fixture's) with its rows, every object
    qualified by the schema's name; None when pg_dump cannot produce it."""
    libpq = sa.engine.make_url(url.split("?", 1)[0]).set(drivername="postgresql")
    try:
        dumped = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", "--inserts", "--rows-per-insert=1000"]
            + ["--schema", pg_schema(url), libpq.render_as_string(hide_password=False)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    # Left out: the session settings (they empty the search_path), psql's meta-commands, comments and the
    # CREATE SCHEMA (the copy goes into a schema made by the pg_url fixture).
    return "\n".join(
        line
        for line in dumped.splitlines()
        if not line.startswith(("\\", "--", "SET ", "SELECT pg_catalog.set_config", "CREATE SCHEMA "))
    )


def copy_pg(script: str, source: str, url: str) -> None:
    """The PostgreSQL store of `url` (a pg_url fixture's) made a copy of the dump of schema `source`."""
    schema = pg_schema(url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            # The schema may already hold a store (store_url fills it before a fixture asks for a state).
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            # Schema names are t_ and 12 hex digits: "source." occurs in the dump only as a qualifier.
            conn.exec_driver_sql(script.replace(f"{source}.", f'"{schema}".'))
            conn.execute(
                sa.text("UPDATE web_setting SET value = :v WHERE key = 'secret'"), {"v": secrets.token_hex(32)}
            )
    finally:
        engine.dispose()


class StoreCopies:
    """States of a store built once per session and backend, each test getting a copy of its own."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._saved: dict[tuple[str, str], tuple[Any, Any]] = {}  # (state, backend) → (saved copy, what build returned)
        self._builders: dict[str, tuple[str, int]] = {}  # state → where its build function is written

    def fill(self, url: str, state: str, build: Callable[[], T]) -> T:
        """Make the fresh store at `url` (a store_url) hold `state`: built by `build()` in it the first time the
        backend asks, copied from then on. Returns what `build()` returned (a copy of it)."""
        code = build.__code__
        where = self._builders.setdefault(state, (code.co_filename, code.co_firstlineno))
        if where != (code.co_filename, code.co_firstlineno):
            raise AssertionError(f"two different builds name the store state {state!r}: {where} and {code.co_filename}")
        backend = "sqlite" if url.startswith("sqlite") else "postgres"
        key = (state, backend)
        if key in self._saved:
            saved, made = self._saved[key]
            if backend == "sqlite":
                copy_sqlite(saved, url)
            elif saved is not None:
                copy_pg(saved[0], saved[1], url)
            else:
                return build()  # no pg_dump here: built in every test, as before
            return copy.deepcopy(made)
        made = build()
        if backend == "sqlite":
            target = self._directory / f"{uuid.uuid4().hex}.db"
            save_sqlite(url, target)
            self._saved[key] = (target, made)
        else:
            script = dump_pg(url)
            self._saved[key] = ((script, pg_schema(url)) if script is not None else None, made)
        return copy.deepcopy(made)


def migrated_sqlite(directory: Path) -> Path:
    """A store at the current schema with the built-in regions, in `directory`."""
    path = directory / "migrated.db"
    engine = store.make_engine(f"sqlite:///{path}")
    try:
        store.initialise(engine)
    finally:
        engine.dispose()
    return path


def migrated_pg(base_url: str) -> tuple[str, str] | None:
    """(script, source schema): a store at the current schema with the built-in regions, dumped; None without
    pg_dump."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base_url}?options=-csearch_path%3D{schema}"
        engine = store.make_engine(url)
        try:
            store.initialise(engine)
        finally:
            engine.dispose()
        script = dump_pg(url)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    return None if script is None else (script, schema)
