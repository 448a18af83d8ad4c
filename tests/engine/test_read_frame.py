"""runs.read_frame: rows straight into columns, in chunks, on both stores, without changing the connection; on SQLite
from the driver's tuples, dates and booleans converted in polars: the frame SQLAlchemy's rows gave, nulls and all."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from engine.ledger import runs
from entities import store


def test_read_frame_reads_every_chunk_in_order_and_leaves_the_connection_as_it_was(
    engine: sa.Engine, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(runs, "READ_CHUNK", 7)  # several chunks, the last one short
    rows = [{"code": f"99{i:04d}", "name": f"测试区{i}", "parent": None, "level": "county"} for i in range(23)]
    r = store.table("region")
    with engine.begin() as conn:
        store.bulk_insert(conn, "region", rows)
        frame = runs.read_frame(
            conn,
            sa.select(r.c.code, r.c.name).where(r.c.code.startswith("99")).order_by(r.c.code),
            {"code": pl.String, "name": pl.String},
        )
        assert frame.to_dicts() == [{"code": x["code"], "name": x["name"]} for x in rows]
        # A server-side cursor on the connection itself would break the next statement (LOCK TABLE on PostgreSQL).
        assert "yield_per" not in conn.get_execution_options()
        empty = runs.read_frame(conn, sa.select(r.c.code).where(r.c.code == "none"), {"code": pl.String})
        assert empty.height == 0 and empty.schema == pl.Schema({"code": pl.String})


META = sa.MetaData()
T = sa.Table(
    "t",
    META,
    sa.Column("k", sa.String, primary_key=True),
    sa.Column("n", sa.Integer),
    sa.Column("day", sa.Date),
    sa.Column("flag", sa.Boolean),
    sa.Column("at", sa.DateTime),
)
ROWS = [
    {"k": "a", "n": 1, "day": dt.date(2025, 12, 31), "flag": True, "at": dt.datetime(2025, 1, 2, 3, 4, 5)},
    {"k": "b", "n": None, "day": None, "flag": None, "at": None},
    {"k": "c", "n": -7, "day": dt.date(1999, 1, 1), "flag": False, "at": dt.datetime(2026, 6, 1)},
]
SCHEMA = {"k": pl.String, "n": pl.Int64, "day": pl.Date, "flag": pl.Boolean}


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sa.Connection]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    META.create_all(engine)
    with engine.begin() as c:
        c.execute(T.insert(), ROWS)
    with engine.connect() as c:
        yield c
    engine.dispose()


def _both(
    conn: sa.Connection, stmt: sa.Select[Any], schema: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[pl.DataFrame, pl.DataFrame, list[Any]]:
    taken: list[Any] = []
    real = runs._raw_sqlite

    def spy(*args: Any) -> Any:
        out = real(*args)
        taken.append(out)
        return out

    monkeypatch.setattr(runs, "_raw_sqlite", spy)
    fast = runs.read_frame(conn, stmt, schema)
    monkeypatch.setattr(runs, "_raw_sqlite", lambda *a: None)  # SQLAlchemy's rows, as on PostgreSQL
    rows = runs.read_frame(conn, stmt, schema)
    return fast, rows, taken


def test_raw_tuples_give_the_frame_of_sqlalchemys_rows(conn: sa.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    stmt = sa.select(T.c.k, T.c.n, T.c.day, T.c.flag).order_by(T.c.k)
    fast, rows, taken = _both(conn, stmt, SCHEMA, monkeypatch)
    assert taken and taken[0] is not None  # the driver's tuples were read
    assert_frame_equal(fast, rows)
    assert fast.row(0) == ("a", 1, dt.date(2025, 12, 31), True) and fast.row(1) == ("b", None, None, None)
    assert fast.row(2) == ("c", -7, dt.date(1999, 1, 1), False)
    empty, none, _ = _both(conn, stmt.where(T.c.k == "z"), SCHEMA, monkeypatch)
    assert_frame_equal(empty, none)
    assert empty.schema == pl.Schema(SCHEMA)


def test_a_column_sqlalchemy_converts_otherwise_is_read_as_rows(
    conn: sa.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A datetime (SQLAlchemy parses its text in Python): not the raw path's business."""
    stmt = sa.select(T.c.k, T.c.at).order_by(T.c.k)
    fast, rows, taken = _both(conn, stmt, {"k": pl.String, "at": pl.Datetime("us")}, monkeypatch)
    assert taken == [None]
    assert_frame_equal(fast, rows)
    assert fast.get_column("at").to_list()[0] == dt.datetime(2025, 1, 2, 3, 4, 5)
