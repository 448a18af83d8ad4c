"""The store tests' copied stores (tests/store_template.py) are the stores `suijian init` makes: same tables,
columns, keys, indexes and rows, identities starting at 1, and a secret of their own."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from entities import store
from tests.helpers import import_one_subject
from tests.store_template import StoreCopies

PG = os.environ.get("SUIJIAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _drop(schema: str) -> None:
    engine = sa.create_engine(PG)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _shape(conn: sa.Connection) -> dict[str, Any]:
    inspector = sa.inspect(conn)
    shape: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        shape[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in inspector.get_columns(name)
            ],
            "pk": inspector.get_pk_constraint(name),
            "fks": sorted(
                (fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
                for fk in inspector.get_foreign_keys(name)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(name)
            ),
            "unique": sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(name)),
            "checks": sorted((c["name"], c["sqltext"]) for c in inspector.get_check_constraints(name)),
        }
    return shape


def _rows(conn: sa.Connection) -> dict[str, Any]:
    return {
        "version": conn.execute(sa.text("SELECT version_num FROM alembic_version")).all(),
        "regions": conn.execute(sa.text("SELECT * FROM region ORDER BY code")).all(),
        "settings": conn.execute(sa.text("SELECT key FROM web_setting ORDER BY key")).all(),
    }


def _secret(conn: sa.Connection) -> str:
    return str(conn.execute(sa.text("SELECT value FROM web_setting WHERE key = 'secret'")).scalar_one())


def _first_import_id(conn: sa.Connection) -> int:
    import_one_subject(conn, "subjects.csv", dt.datetime(2026, 1, 5, 9, 30))
    return int(conn.execute(sa.text("SELECT id FROM import_log")).scalar_one())


def _migrated_beside(store_url: str, name: str, request: pytest.FixtureRequest) -> str:
    """Another store of the same backend as `store_url`, migrated the ordinary way."""
    if store_url.startswith("sqlite"):
        url = store_url.replace("suijian.db", f"{name}.db")
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(PG)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        request.addfinalizer(lambda: _drop(schema))
        url = f"{PG}?options=-csearch_path%3D{schema}"
    assert url != store_url
    engine = store.make_engine(url)
    store.initialise(engine)
    engine.dispose()
    return url


def test_a_copied_store_is_the_store_init_makes(store_url: str, request: pytest.FixtureRequest) -> None:
    migrated_url = _migrated_beside(store_url, "migrated", request)
    copied, migrated = store.open_store(store_url), store.open_store(migrated_url)
    try:
        with copied.begin() as a, migrated.begin() as b:
            assert _shape(a) == _shape(b)
            assert _rows(a) == _rows(b)
            assert len(_secret(a)) == len(_secret(b)) == 64 and _secret(a) != _secret(b)
            assert _first_import_id(a) == _first_import_id(b) == 1
    finally:
        copied.dispose()
        migrated.dispose()


@pytest.mark.postgres
def test_the_postgres_copy_is_made_from_pg_dump(request: pytest.FixtureRequest) -> None:
    # The fallback (migrating each store) is correct but slow; on the machines that run the suite pg_dump is there.
    assert request.getfixturevalue("_pg_template") is not None, "pg_dump could not dump the test server"


def test_a_state_is_built_once_and_every_test_gets_a_copy_of_its_own(
    store_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    copies = StoreCopies(tmp_path / "saved")
    (tmp_path / "saved").mkdir()
    builds: list[str] = []

    def one_subject(url: str) -> Callable[[], dict[str, list[int]]]:
        def build() -> dict[str, list[int]]:
            builds.append(url)
            engine = store.open_store(url)
            with engine.begin() as conn:
                made = {"ids": [_first_import_id(conn)]}
            engine.dispose()
            return made

        return build

    first = copies.fill(store_url, "one subject", one_subject(store_url))
    first["ids"].append(99)  # what a test does with its value stays with it
    second_url = _migrated_beside(store_url, "second", request)
    second = copies.fill(second_url, "one subject", one_subject(second_url))
    assert builds == [store_url] and second == {"ids": [1]}
    engine = store.open_store(second_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT uscc FROM subject")).scalars().all() == ["91445203MA4W3TGX5Q"]
            # The copy's identities go on from the built store's, and writing to it leaves the saved state alone.
            conn.execute(sa.text("DELETE FROM subject"))
            import_one_subject(conn, "again.csv", dt.datetime(2026, 1, 6, 9, 30))
            assert conn.execute(sa.text("SELECT max(id) FROM import_log")).scalar_one() == 2
    finally:
        engine.dispose()
    third_url = _migrated_beside(store_url, "third", request)
    copies.fill(third_url, "one subject", one_subject(third_url))
    assert builds == [store_url]
    engine = store.open_store(third_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM subject")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM import_log")).scalar_one() == 1
    finally:
        engine.dispose()


def test_two_builds_may_not_share_a_name(store_url: str, tmp_path: Path) -> None:
    copies = StoreCopies(tmp_path)
    copies.fill(store_url, "empty", lambda: None)
    with pytest.raises(AssertionError, match="two different builds name the store state 'empty'"):
        copies.fill(store_url, "empty", lambda: 1)
