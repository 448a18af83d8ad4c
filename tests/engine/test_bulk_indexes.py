"""The demo load builds PostgreSQL's indexes after writing the rows (store.indexes_built_after): the store ends
with the same indexes, keys and rows as when every index was kept up to date during the load, a failed load keeps
every index, and duplicate keys still fail the load. On SQLite the path is unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from engine.synth import TABLES, Generator, get_profile, load_demo
from entities import store

AS_OF = dt.date(2025, 12, 31)
NOW = dt.datetime(2026, 1, 2, 9, 30)


def _indexes(engine: sa.Engine) -> list[tuple[Any, ...]]:
    """Every index and primary key of the demo's tables, as the store defines them."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = conn.execute(
                sa.text("SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name")
            ).all()
        else:
            rows = conn.execute(
                sa.text(
                    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                    "ORDER BY indexname"
                )
            ).all()
    return [tuple(r) for r in rows if r[0] in TABLES]


def _rows(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
            for name in TABLES
            for t in [store.table(name)]
        }


def test_the_load_leaves_the_same_indexes_and_rows_as_the_path_before(engine: sa.Engine) -> None:
    before = _indexes(engine)
    assert any(name == "subject" for name, *_ in before)  # the comparison is not vacuous
    load_demo(engine, get_profile("jiedong", 700), 4, AS_OF, now=NOW, build_indexes_after=False)
    kept = _rows(engine)
    load_demo(engine, get_profile("jiedong", 700), 4, AS_OF, now=NOW)
    assert _indexes(engine) == before
    assert _rows(engine) == kept


@pytest.mark.postgres
def test_postgresql_tables_are_analysed_after_the_load(pg_url: str) -> None:
    engine = store.make_engine(pg_url)
    store.initialise(engine)
    try:
        load_demo(engine, get_profile("jiedong", 600), 1, AS_OF, now=NOW)
        with engine.connect() as conn:
            # reltuples is -1 until a table is first analysed (or vacuumed)
            tuples = conn.execute(
                sa.text("SELECT reltuples FROM pg_class WHERE oid = 'subject'::regclass")
            ).scalar_one()
        assert tuples == 600
    finally:
        engine.dispose()


def test_a_failed_load_keeps_every_index(engine: sa.Engine) -> None:
    load_demo(engine, get_profile("jiedong", 400), 1, AS_OF, now=NOW)
    before, rows = _indexes(engine), _rows(engine)

    def explode(table: str, written: int, expected: int) -> None:
        if table == "equipment":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        load_demo(engine, get_profile("jiedong", 2500), 2, AS_OF, now=NOW, on_progress=explode, batch_size=1000)
    assert _indexes(engine) == before
    assert _rows(engine) == rows


def test_duplicate_keys_still_fail_the_load(engine: sa.Engine) -> None:
    batches = Generator(get_profile("jiedong", 50), 1, AS_OF).batches()
    next(batches)  # inspectors
    subjects = next(batches)["subject"]
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn, store.indexes_built_after(conn, ["subject"]):
        store.bulk_insert(conn, "subject", subjects)
        store.bulk_insert(conn, "subject", subjects[:1])  # the same USCC again
    with engine.connect() as conn:
        assert store.count_rows(conn, "subject") == 0
