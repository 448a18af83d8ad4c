"""canonical.StreamedFrame writes a grade run's snapshot frame a partition at a time into one Parquet file: read
back it is the whole frame (rows, order and column types), it hashes as the whole frame, and parts it cannot hold
are refused when they come, not at the end."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ledger import canonical
from entities.errors import InputError

rows = st.lists(
    st.tuples(
        st.none() | st.integers(-(2**40), 2**40),
        st.none() | st.floats(allow_nan=False),
        st.none() | st.text(max_size=4),
        st.none() | st.booleans(),
        st.none() | st.integers(0, 3000),
        st.none() | st.sampled_from(["A", "B", "丙"]),
    ),
    max_size=40,
)


def _frame(data: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "uscc": [f"U{i:08d}" for i in range(len(data))],
            "n": [r[0] for r in data],
            "x": [r[1] for r in data],
            "s": [r[2] for r in data],
            "b": [r[3] for r in data],
            "d": [None if r[4] is None else dt.date(2020, 1, 1) + dt.timedelta(days=r[4]) for r in data],
            "c": [r[5] for r in data],
        },
        schema={
            "uscc": pl.String,
            "n": pl.Int64,
            "x": pl.Float64,
            "s": pl.String,
            "b": pl.Boolean,
            "d": pl.Date,
            "c": pl.Categorical,
        },
    )


def _streamed(frame: pl.DataFrame, cuts: list[int]) -> canonical.StreamedFrame:
    streamed = canonical.StreamedFrame()
    at = 0
    for cut in [*sorted(cuts), frame.height]:
        cut = min(cut, frame.height)
        streamed.add(frame.slice(at, max(cut - at, 0)))
        at = max(at, cut)
    return streamed


@settings(max_examples=80, deadline=None)
@given(data=rows, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_the_file_written_part_by_part_is_the_whole_frame(data: list[tuple], cuts: list[int]) -> None:
    frame = _frame(data)
    streamed = _streamed(frame, cuts)
    back = pl.read_parquet(io.BytesIO(streamed.parquet()))
    assert back.schema == frame.schema
    assert back.equals(frame)
    assert streamed.height == frame.height
    assert _streamed(frame, cuts).parquet() == streamed.parquet()  # the same parts, the same bytes
    whole = canonical.content_hash({"t": frame}, canonical.SNAPSHOT2)
    assert canonical.content_hash({"t": streamed}, canonical.SNAPSHOT2) == whole
    # The packed snapshot holds the same frame: what a plan and `audit verify` read back.
    tables = canonical.unpack_tables(canonical.pack_tables({"t": streamed}))
    assert isinstance(tables["t"], pl.DataFrame) and tables["t"].equals(frame)
    assert canonical.content_hash(tables, canonical.SNAPSHOT2) == whole


def test_the_bytes_are_written_once_and_kept() -> None:
    streamed = _streamed(_frame([(1, 1.5, "a", True, 3, "A")] * 5), [2])
    first = streamed.parquet()
    assert streamed.parquet() is first
    with pytest.raises(ValueError, match="written out already"):
        streamed.add(_frame([(1, 1.5, "a", True, 3, "A")]))


def test_no_part_is_an_empty_frame() -> None:
    data = canonical.StreamedFrame().parquet()
    assert pl.read_parquet(io.BytesIO(data)).shape == (0, 0)


def test_a_part_of_other_column_types_is_refused_when_it_comes() -> None:
    streamed = canonical.StreamedFrame()
    streamed.add(pl.DataFrame({"uscc": ["A", "B"], "n": pl.Series([1, 2], dtype=pl.Int32)}))
    with pytest.raises(ValueError, match="column types"):
        streamed.add(pl.DataFrame({"uscc": ["C"], "n": pl.Series([3], dtype=pl.Int64)}))
    # A column whose kind changes (text after numbers) is named by its hasher, as before.
    with pytest.raises(InputError, match="changes type between partitions"):
        streamed.add(pl.DataFrame({"uscc": ["D"], "n": ["x"]}))
