"""snapshot-2 hashes a large frame's columns in two threads: the same hash as one column after another, for frames
held whole, read back from Parquet or given a partition at a time; a column that cannot be hashed still fails."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.ledger import canonical
from entities.errors import InputError


def _frame(rows: list[tuple[int | None, float | None, str | None, bool | None, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "uscc": [f"U{i:08d}" for i in range(len(rows))],
            "n": [r[0] for r in rows],
            "x": [r[1] for r in rows],
            "s": [r[2] for r in rows],
            "b": [r[3] for r in rows],
            "d": [None if r[4] is None else dt.date(2020, 1, 1) + dt.timedelta(days=r[4]) for r in rows],
            "l": [[r[2] or "", "丙"] if r[0] else [] for r in rows],
        },
        schema={
            "uscc": pl.String,
            "n": pl.Int64,
            "x": pl.Float64,
            "s": pl.String,
            "b": pl.Boolean,
            "d": pl.Date,
            "l": pl.List(pl.String),
        },
    )


rows = st.lists(
    st.tuples(
        st.none() | st.integers(-(2**40), 2**40),
        st.none() | st.floats(allow_nan=True),
        st.none() | st.text(max_size=4),
        st.none() | st.booleans(),
        st.none() | st.integers(0, 3000),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows)
def test_threads_hash_as_one_column_after_another(rows: list, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _frame(rows)
    shuffled = frame.reverse()  # rows out of canonical order: gathered in it by each thread
    buf = io.BytesIO()
    frame.write_parquet(buf)
    streamed = canonical.StreamedFrame()
    streamed.add(frame)
    with monkeypatch.context() as m:
        m.setattr(canonical, "_PARALLEL_ROWS", 10**9)
        serial = [canonical.content_hash({"t": f}, canonical.SNAPSHOT2) for f in (frame, shuffled)]
        serial.append(canonical.content_hash({"t": canonical.ParquetFrame(buf.getvalue())}, canonical.SNAPSHOT2))
    with monkeypatch.context() as m:
        m.setattr(canonical, "_PARALLEL_ROWS", 0)
        threaded = [canonical.content_hash({"t": f}, canonical.SNAPSHOT2) for f in (frame, shuffled)]
        threaded.append(canonical.content_hash({"t": canonical.ParquetFrame(buf.getvalue())}, canonical.SNAPSHOT2))
    assert threaded == serial
    assert len(set(serial)) == 1
    assert canonical.content_hash({"t": streamed}, canonical.SNAPSHOT2) == serial[0]


def test_a_column_that_cannot_be_hashed_still_fails_in_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(canonical, "_PARALLEL_ROWS", 0)
    frame = pl.DataFrame({"a": [1, 2], "uscc": ["U1", "U2"], "z": [{"k": 1}, {"k": 2}]})
    with pytest.raises(InputError, match="cannot put a column of type"):
        canonical.content_hash({"t": frame}, canonical.SNAPSHOT2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows, chunk=st.integers(1, 7))
def test_a_column_hashed_a_chunk_at_a_time_hashes_as_whole(
    rows: list, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each column is hashed _CHUNK rows at a time (bounded memory at a city's commit), gathered into canonical
    # order chunk by chunk when the rows are out of it: the same digest as the column hashed in one piece.
    frame = _frame(rows)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=len(rows))
    buf = io.BytesIO()
    frame.write_parquet(buf)
    tables = (frame, shuffled, canonical.ParquetFrame(buf.getvalue()))
    with monkeypatch.context() as m:
        m.setattr(canonical, "_CHUNK", 10**9)
        whole = [canonical.content_hash({"t": f}, canonical.SNAPSHOT2) for f in tables]
    with monkeypatch.context() as m:
        m.setattr(canonical, "_CHUNK", chunk)
        chunked = [canonical.content_hash({"t": f}, canonical.SNAPSHOT2) for f in tables]
    assert chunked == whole
    assert len(set(whole)) == 1
