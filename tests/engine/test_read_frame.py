"""runs.read_frame on SQLite reads the driver's tuples and converts dates and booleans in polars: the frame must be
the one SQLAlchemy's rows gave (the path read_frame takes elsewhere), nulls and all."""

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
