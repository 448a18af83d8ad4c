"""Schema migrations: a store made by an older suijian upgrades in place and keeps its data."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from entities import store
from entities.errors import StoreError


def test_old_store_upgrades_and_keeps_its_rows(empty_url: str) -> None:
    engine = store.make_engine(empty_url)
    assert store.upgrade(engine, "0001") == (None, "0001")
    with engine.begin() as conn:
        store.bulk_insert(conn, "region", [{"code": "445203", "name": "揭东区", "parent": None, "level": "county"}])
    with pytest.raises(StoreError, match=f"schema 0001, this suijian needs {store.HEAD}; run `suijian init`"):
        store.open_store(empty_url)

    assert store.initialise(engine) == ("0001", store.HEAD)

    store.open_store(empty_url).dispose()
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT name FROM region WHERE code='445203'")).scalar() == "揭东区"
        store.bulk_insert(
            conn,
            "import_log",
            [
                {
                    "kind": "subjects",
                    "file_name": "a.csv",
                    "sha256": "0" * 64,
                    "rows": 1,
                    "inserted": 1,
                    "updated": 0,
                    "unchanged": 0,
                    "imported_at": dt.datetime(2026, 1, 1, 8, 0),
                }
            ],
        )
        assert store.count_rows(conn, "import_log") == 1
    engine.dispose()


def test_initialise_twice_changes_nothing(empty_url: str) -> None:
    engine = store.make_engine(empty_url)
    store.initialise(engine)
    with engine.connect() as conn:
        regions = store.count_rows(conn, "region")
    assert store.initialise(engine) == (store.HEAD, store.HEAD)
    with engine.connect() as conn:
        assert store.count_rows(conn, "region") == regions == len(store.builtin_regions())
    engine.dispose()


def test_missing_sqlite_file_names_the_fix(tmp_path) -> None:
    with pytest.raises(StoreError, match=r"no store at .*missing\.db; create it with `suijian init`"):
        store.open_store(f"sqlite:///{tmp_path / 'missing.db'}")


def test_migrations_build_exactly_the_models(store_url: str) -> None:
    """A model changed without a migration (or the reverse) shows up here, on both stores."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = store.open_store(store_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []
