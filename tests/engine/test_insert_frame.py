"""store.insert_frame (one INSERT … SELECT over json_each on SQLite, COPY on PostgreSQL) stores the very rows
bulk_insert_tuples stores; grading's background inserts (engine/grading.py _ResultInserts) wait and fail alike."""

from __future__ import annotations

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.grading import _ResultInserts
from entities import store

_ROWS = st.lists(
    st.tuples(st.text(min_size=1, max_size=18), st.integers(-(2**31), 2**31 - 1)),
    max_size=40,
    unique_by=lambda row: row[0],
)


def _stored(conn: sa.Connection, run_id: str) -> list[tuple[object, ...]]:
    rows = conn.exec_driver_sql(
        "SELECT uscc, outcome FROM grade_result WHERE run_id = %s ORDER BY uscc"
        if conn.dialect.name == "postgresql"
        else "SELECT uscc, typeof(uscc), outcome, typeof(outcome) FROM grade_result WHERE run_id = ? ORDER BY uscc",
        (run_id,),
    )
    return [tuple(row) for row in rows]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_ROWS)
def test_insert_frame_stores_what_tuples_store(engine: sa.Engine, rows: list[tuple[str, int]]) -> None:
    rows = [(u.replace("\x00", ""), o) for u, o in rows]  # NUL is no text either backend stores
    rows = list(dict(rows).items())
    frame = pl.DataFrame({"uscc": [u for u, _ in rows], "outcome": [o for _, o in rows]}, schema=store_schema())
    with engine.connect() as conn, conn.begin() as tx:
        assert store.insert_frame(conn, "grade_result", frame, {"run_id": "FRAME"}) == len(rows)
        store.bulk_insert_tuples(conn, "grade_result", ("run_id", "uscc", "outcome"), [("TUPLES", *r) for r in rows])
        assert _stored(conn, "FRAME") == _stored(conn, "TUPLES")
        assert len(_stored(conn, "FRAME")) == len(rows)
        tx.rollback()


def store_schema() -> dict[str, pl.DataType]:
    return {"uscc": pl.String(), "outcome": pl.Int64()}


def test_insert_frame_refuses_other_columns(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        with pytest.raises(TypeError):
            store.insert_frame(conn, "grade_result", pl.DataFrame({"uscc": ["a"], "outcome": [1.5]}), {"run_id": "X"})
        with pytest.raises(ValueError, match="identifier"):
            store.insert_frame(conn, "grade_result", pl.DataFrame({"a'b": ["a"]}), {"run_id": "X"})


@pytest.mark.parametrize("background", [False, True])
def test_result_inserts_in_order_and_failures_raised(sqlite_url: str, background: bool) -> None:
    eng = store.make_engine(sqlite_url)
    store.initialise(eng)
    parts = [pl.DataFrame({"uscc": [f"U{i}{j}" for j in range(3)], "outcome": [i, i, i]}) for i in range(4)]
    with eng.connect() as conn, conn.begin():
        with _ResultInserts(conn, "R", background=background) as inserts:
            for part in parts:
                inserts.add(part)
        # the block's end waited for the last insert
        assert conn.exec_driver_sql("SELECT count(*) FROM grade_result").scalar() == 12
        # a duplicate key fails the insert, in the thread or not, and the block raises it
        with pytest.raises(sa.exc.IntegrityError), _ResultInserts(conn, "R", background=background) as inserts:
            inserts.add(parts[0])
    eng.dispose()
