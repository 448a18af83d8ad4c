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


FEATURE_INDEXES = {
    "subject": (
        "ix_subject_features",
        ["uscc", "registered_on", "kind", "status", "industry", "whitelist", "lenient", "region"],
    ),
    "annual_report": ("ix_annual_report_features", ["year", "uscc", "filed_on"]),
    "complaint": ("ix_complaint_features", ["uscc", "received_on", "verified", "domain"]),
}


def _indexes(engine: sa.Engine, table: str) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {i["name"]: list(i["column_names"]) for i in sa.inspect(conn).get_indexes(table) if i["name"]}


def test_0012_adds_the_feature_indexes_and_keeps_every_row(empty_url: str) -> None:
    # A store of 0011 holding a subject, a complaint and an annual report (users upgrade city stores in place).
    engine = store.make_engine(empty_url)
    store.upgrade(engine, "0011")
    with engine.begin() as conn:
        store.bulk_insert(conn, "region", [{"code": "445203", "name": "揭东区", "parent": None, "level": "county"}])
        subject = {
            "uscc": "91445203MA4UJ0KX7Q", "name": "揭阳市某某有限公司", "kind": "enterprise", "industry": "5211",
            "region": "445203", "address": "", "registered_on": dt.date(2020, 5, 6), "status": "active",
            "whitelist": False, "lenient": True,
        }  # fmt: skip
        store.bulk_insert(conn, "subject", [subject])
        store.bulk_insert(
            conn,
            "complaint",
            [{"ticket_no": "T1", "uscc": subject["uscc"], "received_on": dt.date(2025, 3, 1), "verified": True,
              "domain": None}],
        )  # fmt: skip
        store.bulk_insert(conn, "annual_report", [{"uscc": subject["uscc"], "year": 2024, "filed_on": None}])
    assert "ix_complaint_uscc" in _indexes(engine, "complaint")

    assert store.upgrade(engine, "0012") == ("0011", "0012")

    for table, (name, columns) in FEATURE_INDEXES.items():
        assert _indexes(engine, table)[name] == columns, table
    assert "ix_complaint_uscc" not in _indexes(engine, "complaint")  # the covering index serves its lookups
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name, lenient FROM subject")).one() == (subject["name"], True)
        assert conn.execute(sa.text("SELECT uscc, verified FROM complaint")).one() == (subject["uscc"], True)
        assert conn.execute(sa.text("SELECT year, filed_on FROM annual_report")).one() == (2024, None)

    from alembic import command
    from alembic.config import Config

    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(store.MIGRATIONS))
        config.attributes["connection"] = conn
        command.downgrade(config, "0011")
    assert "ix_complaint_uscc" in _indexes(engine, "complaint")
    assert not any(name in _indexes(engine, table) for table, (name, _) in FEATURE_INDEXES.items())
    engine.dispose()
