"""Rows read straight into Arrow (engine/features/arrow_read.py) give the frames the tuple path gives, and the
Arrow path is taken only where it sees what the caller's connection sees."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine import grading
from engine.features import arrow_read, read
from engine.features.partition import INPUTS
from engine.ledger import outputs
from engine.rules import load_pack
from engine.synth import get_profile, load_demo
from entities import store
from tests.helpers import TESTER

AS_OF = dt.date(2025, 12, 31)
PACK = Path(__file__).resolve().parents[1] / "packs" / "base"


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('arrow') / 'demo.db'}"
    engine = store.make_engine(url)
    store.initialise(engine)
    load_demo(engine, get_profile("jiedong", 1500), 3, AS_OF, now=dt.datetime(2026, 1, 1))
    with engine.begin() as conn:
        grading.grade_store(conn, load_pack(PACK), AS_OF, created_at=dt.datetime(2026, 1, 1), actor=TESTER)
    engine.dispose()
    return url


def _both(conn: sa.Connection, monkeypatch: pytest.MonkeyPatch, *args: Any, **kw: Any) -> tuple[dict, dict]:
    assert arrow_read.database_file(conn) is not None, "the Arrow path must be the one tested"
    arrow = read.read_partition(conn, *args, **kw)
    with monkeypatch.context() as m:
        m.setenv("SUIJIAN_ARROW_READ", "0")
        assert arrow_read.database_file(conn) is None
        tuples = read.read_partition(conn, *args, **kw)
    return arrow, tuples


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    as_of=st.sampled_from([None, AS_OF, dt.date(2024, 2, 29), dt.date(2025, 7, 1)]),
)
def test_arrow_and_tuples_read_the_same_frames(
    demo_url: str, monkeypatch: pytest.MonkeyPatch, cut: tuple[float, float], as_of: dt.date | None
) -> None:
    engine = store.make_engine(demo_url)
    with engine.connect() as conn:
        keys = sorted(conn.execute(sa.text("SELECT uscc FROM subject")).scalars())
        lo, hi = sorted(keys[int(c * (len(keys) - 1))] for c in cut)
        arrow, tuples = _both(conn, monkeypatch, lo, hi, as_of=as_of)
    engine.dispose()
    assert list(arrow) == list(tuples) == list(INPUTS)
    for name in INPUTS:
        assert arrow[name].schema == tuples[name].schema, name
        assert_frame_equal(arrow[name], tuples[name])
    if as_of is None:  # (with an as-of, subjects registered after it are left in the store)
        assert arrow["subject"].height == sum(lo <= k <= hi for k in keys)


def test_a_column_null_in_its_first_rows_is_typed_by_all_of_them(tmp_path: Path) -> None:
    # The driver types a column by its first batch of rows; a partition whose first few thousand rows have no
    # removal date must still read the dates after them (one batch for the whole result).
    path = tmp_path / "nulls.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (a TEXT, b INTEGER, f REAL)")
        db.executemany("INSERT INTO t VALUES (?, ?, ?)", [(None, None, None)] * 5000 + [("2024-01-02", 2**40, 1.5)])
    engine = store.make_engine(f"sqlite:///{path}")
    schema = {"a": pl.String, "b": pl.Int64, "f": pl.Float64}
    with engine.connect() as conn:
        got = arrow_read.frame(conn, "SELECT a, b, f FROM t WHERE b IS NULL OR b > ?", (0,), schema)
        empty = arrow_read.frame(conn, "SELECT a, b, f FROM t WHERE 0", (), schema)
    engine.dispose()
    assert got is not None and got.schema == pl.Schema(schema)
    assert got.height == 5001 and got.row(-1) == ("2024-01-02", 2**40, 1.5) and got.get_column("a").null_count() == 5000
    assert empty is not None and empty.schema == pl.Schema(schema) and empty.height == 0


def test_values_of_another_type_fall_back_to_the_tuple_path(tmp_path: Path) -> None:
    path = tmp_path / "typed.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (a TEXT)")
        db.execute("INSERT INTO t VALUES ('not a number')")
    engine = store.make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert arrow_read.frame(conn, "SELECT a FROM t", (), {"a": pl.Int64}) is None
        assert arrow_read.frame(conn, "SELECT nothing FROM nowhere", (), {"a": pl.Int64}) is None
    engine.dispose()


def test_uncommitted_rows_are_read_through_the_callers_connection(demo_url: str, tmp_path: Path) -> None:
    # A second connection would not see rows this one has written and not committed: the tuple path reads them.
    copy = tmp_path / "copy.db"
    src = sqlite3.connect(demo_url.removeprefix("sqlite:///"))
    with sqlite3.connect(copy) as dst:
        src.backup(dst)
    src.close()
    engine = store.make_engine(f"sqlite:///{copy}")
    with engine.connect() as conn:
        before = read.read_partition(conn)["penalty"].height
        conn.execute(sa.text("UPDATE penalty SET severity = severity"))  # a write: pysqlite opens a transaction
        assert arrow_read.database_file(conn) is None
        conn.execute(sa.text("DELETE FROM penalty"))
        assert before > 0 and read.read_partition(conn)["penalty"].height == 0
        conn.rollback()
        assert arrow_read.database_file(conn) is not None
        assert read.read_partition(conn)["penalty"].height == before
    engine.dispose()


def test_without_the_driver_or_a_file_the_tuple_path_reads(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = store.make_engine(demo_url)
    with engine.connect() as conn:
        arrow = read.read_partition(conn, as_of=AS_OF)
        monkeypatch.setattr(arrow_read, "_driver", lambda: None)
        assert arrow_read.frame(conn, "SELECT 1", (), {"x": pl.Int64}) is None
        without = read.read_partition(conn, as_of=AS_OF)
    engine.dispose()
    for name in INPUTS:
        assert_frame_equal(arrow[name], without[name])
    memory = store.make_engine("sqlite://")
    with memory.connect() as conn:
        assert arrow_read.database_file(conn) is None
    memory.dispose()


def test_grade_outputs_read_either_way_are_the_same(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = store.make_engine(demo_url)
    with engine.connect() as conn:
        run_id = conn.execute(sa.text("SELECT id FROM grade_run ORDER BY id LIMIT 1")).scalar_one()
        assert arrow_read.database_file(conn) is not None
        arrow = outputs.stored_grade_outputs(conn, run_id)
        monkeypatch.setenv("SUIJIAN_ARROW_READ", "0")
        tuples = outputs.stored_grade_outputs(conn, run_id)
    engine.dispose()
    assert arrow[0].height > 0
    assert_frame_equal(arrow[0], tuples[0])
    assert arrow[1:] == tuples[1:]
