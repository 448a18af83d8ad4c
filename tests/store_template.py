"""Fresh stores for the store tests, copied from one migrated store instead of migrated one by one.

Running the eleven migrations costs about 0.13 s of CPU per store, and on PostgreSQL about a second of the
server's DDL and commits; the suite makes some 760 such stores. So the session migrates one store per backend
the ordinary way (`store.initialise`) and every test gets a copy of it: the SQLite file copied, the PostgreSQL
schema re-created from `pg_dump` of the migrated one (a single script, about half the time). Each copy gets a
secret of its own, as a store made by `suijian init` does. Where pg_dump is missing or cannot read the server,
PostgreSQL stores are migrated one by one as before (same stores, only slower).
"""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path

import sqlalchemy as sa

from entities import store


def pg_schema(url: str) -> str:
    """The schema a pg_url fixture's URL points into (its search_path option)."""
    return url.rsplit("%3D", 1)[1]


def migrated_sqlite(directory: Path) -> Path:
    """A store at the current schema with the built-in regions, in `directory`."""
    path = directory / "template.db"
    engine = store.make_engine(f"sqlite:///{path}")
    try:
        store.initialise(engine)
    finally:
        engine.dispose()  # the last connection's close checkpoints the WAL into the file: one file to copy
    return path


def copy_sqlite(template: Path, url: str) -> None:
    """The SQLite store at `url` made a copy of `template`, with its own secret."""
    path = Path(sa.engine.make_url(url).database or "")
    shutil.copyfile(template, path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE web_setting SET value = ? WHERE key = 'secret'", (secrets.token_hex(32),))
    conn.close()


def migrated_pg_script(base_url: str) -> tuple[str, str] | None:
    """(script, placeholder): the SQL that re-creates a migrated store in a schema named `placeholder`, or None
    when pg_dump cannot produce it."""
    placeholder = f"suijian_template_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{placeholder}"'))
        engine = store.make_engine(f"{base_url}?options=-csearch_path%3D{placeholder}")
        try:
            store.initialise(engine)
        finally:
            engine.dispose()
        libpq = sa.engine.make_url(base_url).set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            dumped = subprocess.run(
                ["pg_dump", "--no-owner", "--no-privileges", "--inserts", "--rows-per-insert=1000"]
                + ["--schema", placeholder, libpq],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{placeholder}" CASCADE'))
        admin.dispose()
    # Every object in the dump is qualified by the schema's name; the session settings (search_path emptied),
    # psql's meta-commands and the CREATE SCHEMA (the pg_url fixture made the schema) are left out.
    kept = [
        line
        for line in dumped.splitlines()
        if not line.startswith(("\\", "--", "SET ", "SELECT pg_catalog.set_config", "CREATE SCHEMA "))
    ]
    return "\n".join(kept), placeholder


def copy_pg(script: tuple[str, str], url: str) -> None:
    """The (empty) PostgreSQL schema of `url` filled from a migrated_pg_script, with its own secret."""
    sql, placeholder = script
    schema = pg_schema(url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql.replace(f"{placeholder}.", f'"{schema}".'))
            conn.execute(
                sa.text("UPDATE web_setting SET value = :v WHERE key = 'secret'"), {"v": secrets.token_hex(32)}
            )
    finally:
        engine.dispose()
