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

# Every kind of column a snapshot frame holds, each value possibly null.
_COLUMNS = {
    "n": (pl.Int64, st.integers(-(2**40), 2**40)),
    "x": (pl.Float64, st.floats(allow_nan=False)),
    "s": (pl.String, st.text(max_size=4)),
    "b": (pl.Boolean, st.booleans()),
    "d": (pl.Date, st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31))),
    "c": (pl.Categorical, st.sampled_from(["A", "B", "丙"])),
    "l": (pl.List(pl.String), st.lists(st.text(max_size=3), max_size=3)),
}
frames = st.integers(0, 40).flatmap(
    lambda height: st.fixed_dictionaries(
        {name: st.lists(st.none() | values, min_size=height, max_size=height) for name, (_, values) in _COLUMNS.items()}
    )
)


def _frame(columns: dict[str, list[object]]) -> pl.DataFrame:
    height = len(columns["n"])
    return pl.DataFrame(
        [pl.Series("uscc", [f"U{i:08d}" for i in range(height)], dtype=pl.String)]
        + [pl.Series(name, columns[name], dtype=dtype) for name, (dtype, _) in _COLUMNS.items()]
    )


def _rows(height: int) -> pl.DataFrame:
    return pl.DataFrame({"uscc": [f"U{i:08d}" for i in range(height)], "n": list(range(height))})


def _streamed(frame: pl.DataFrame, cuts: list[int]) -> canonical.StreamedFrame:
    streamed = canonical.StreamedFrame()
    at = 0
    for cut in [*sorted(cuts), frame.height]:
        cut = min(cut, frame.height)
        streamed.add(frame.slice(at, max(cut - at, 0)))
        at = max(at, cut)
    return streamed


@settings(max_examples=80, deadline=None)
@given(columns=frames, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_the_file_written_part_by_part_is_the_whole_frame(columns: dict[str, list[object]], cuts: list[int]) -> None:
    frame = _frame(columns)
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
    streamed = _streamed(_rows(5), [2])
    first = streamed.parquet()
    assert streamed.parquet() is first
    with pytest.raises(ValueError, match="written out already"):
        streamed.add(_rows(6).slice(5))


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
